//! The shutdown report: one summary log line at the end of every shutdown
//! and, with `GRACEFUL_REPORT=<path>`, the same facts as JSON.
//!
//! # JSON schema (version 1)
//!
//! The file is written when the process ends (cleanly, with errors, or
//! forced), replacing the file atomically (written beside it, then renamed).
//! Durations are milliseconds as numbers with fractions.
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `schema_version` | number | `1` |
//! | `outcome` | string | `clean`, `main_error`, `main_panicked`, `cleanup_failed`, `task_failed` (a task of [`Tasks`](crate::Tasks) failed, which started the shutdown), `drain_cut` (the drain deadline cut requests), `deadline` (forced at the deadline) or `interrupted` (forced by a second SIGINT) |
//! | `exit_code` | number | the process exit code (see [`exit_code`]) |
//! | `cause` | string or null | what started the shutdown: a signal name (`SIGTERM`), `trigger` ([`Shutdown::trigger`](crate::Shutdown::trigger)), `main_returned` (main returned on its own), `upgrade` (an upgrade's new process is ready, see [`Shutdown::upgrade`](crate::Shutdown::upgrade)), `task NAME failed`; null if main panicked before any shutdown |
//! | `timeout_ms` | number | the shutdown budget |
//! | `main` | string | how main ended: `returned`, `error`, `panicked`, `cancelled` (main takes no `Shutdown` and was stopped at the signal) or `running` (still running when forced) |
//! | `main_error` | string or null | the `Debug` text of the error main returned |
//! | `drain_ms` | number or null | from the cause to main's return: the time the server took to drain |
//! | `cleanup_ms` | number or null | from the start of the cleanup to its end (or to the forced exit) |
//! | `total_ms` | number or null | from the cause to the exit |
//! | `drain` | object or null | what [`http::serve`](crate#http) counted while draining, summed over servers; null without one: `in_flight` and `connections` when draining began, `late` (requests that arrived after draining began, served with `Connection: close`), `requests_cut` (requests whose head had arrived and whose response's last frame had not been produced, the gRPC calls of `calls_ended` included) and `connections_cut` (at the drain deadline), `calls_ended` (gRPC calls still running just before the drain deadline, ended with `grpc-status: 14`, UNAVAILABLE, which clients retry), `unresponsive` (connections closed earlier because their client held them without a request for [`http::Serve::client_bound`](crate::http::Serve::client_bound)) |
//! | `closes` | array | one object per close, in plan order (below) |
//! | `pending` | array of strings | what was still running at a forced exit: `main` and/or close names; empty otherwise |
//!
//! Each element of `closes`:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `name` | string | the close's name (`db`, `outer.db` for a nested group) |
//! | `outcome` | string | `closed`, `failed`, `panicked`, `timed_out`, or `pending` (not finished at a forced exit) |
//! | `started_ms` | number or null | when it started, from the start of the cleanup; null if it never started |
//! | `duration_ms` | number or null | how long it ran (so far, if pending) |
//! | `error` | string or null | the error or panic message |
//! | `notes` | array of strings | remarks such as `cut at its timeout of 2s` or ``started after `db`, which failed`` |

use std::fmt::{self, Write as _};
use std::io;
use std::path::Path;
use std::time::Duration;

use crate::drained::Drained;
use crate::duration;
use crate::exit::code as exit_code;

/// Version of the JSON schema above.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// How a shutdown ended: the report's `outcome`, which decides the exit
/// code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Clean,
    MainError,
    MainPanicked,
    CleanupFailed,
    /// A task of `Tasks` failed, which started the shutdown.
    TaskFailed,
    /// The drain deadline cut requests or connections.
    DrainCut,
    /// Forced at the deadline.
    Deadline,
    /// Forced by a second SIGINT.
    Interrupted,
}

impl Outcome {
    /// The name in the JSON report.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Outcome::Clean => "clean",
            Outcome::MainError => "main_error",
            Outcome::MainPanicked => "main_panicked",
            Outcome::CleanupFailed => "cleanup_failed",
            Outcome::TaskFailed => "task_failed",
            Outcome::DrainCut => "drain_cut",
            Outcome::Deadline => "deadline",
            Outcome::Interrupted => "interrupted",
        }
    }

    /// The process's exit code.
    pub(crate) const fn exit_code(self) -> i32 {
        match self {
            Outcome::Clean => exit_code::CLEAN,
            Outcome::MainError | Outcome::CleanupFailed | Outcome::TaskFailed => exit_code::FAILED,
            Outcome::MainPanicked => exit_code::PANICKED,
            Outcome::DrainCut => exit_code::DRAIN_CUT,
            Outcome::Deadline => exit_code::DEADLINE,
            Outcome::Interrupted => exit_code::INTERRUPTED,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Report {
    pub(crate) schema_version: u32,
    pub(crate) outcome: Outcome,
    pub(crate) cause: Option<String>,
    pub(crate) timeout_ms: f64,
    pub(crate) main: &'static str,
    pub(crate) main_error: Option<String>,
    pub(crate) drain_ms: Option<f64>,
    pub(crate) cleanup_ms: Option<f64>,
    pub(crate) total_ms: Option<f64>,
    /// What the HTTP servers' drains counted (feature `axum`), summed.
    pub(crate) drain: Option<Drained>,
    pub(crate) closes: Vec<CloseEntry>,
    pub(crate) pending: Vec<String>,
    /// For the summary line; not in the JSON.
    pub(crate) timeout: Duration,
}

#[derive(Debug)]
pub(crate) struct CloseEntry {
    pub(crate) name: String,
    pub(crate) outcome: &'static str,
    pub(crate) started_ms: Option<f64>,
    pub(crate) duration_ms: Option<f64>,
    pub(crate) error: Option<String>,
    pub(crate) notes: Vec<String>,
}

pub(crate) fn millis(duration: Duration) -> f64 {
    // Rounded to the microsecond: more is noise.
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

fn display_ms(ms: f64) -> duration::Display {
    duration::display(Duration::from_secs_f64(ms.max(0.0) / 1e3))
}

impl Report {
    /// The one summary line, e.g. `shutdown complete: cause SIGTERM, drained
    /// in 312ms, cleanup 15ms [db closed 12ms], total 330ms, exit code 0`.
    pub(crate) fn summary(&self) -> String {
        let verdict = match self.outcome {
            Outcome::Clean => "complete".to_owned(),
            Outcome::Deadline => format!(
                "forced at the deadline of {}",
                duration::display(self.timeout)
            ),
            Outcome::Interrupted => "interrupted by a second SIGINT".to_owned(),
            Outcome::MainError
            | Outcome::MainPanicked
            | Outcome::CleanupFailed
            | Outcome::TaskFailed
            | Outcome::DrainCut => "finished with errors".to_owned(),
        };
        let mut line = format!(
            "shutdown {verdict}: cause {}",
            self.cause.as_deref().unwrap_or("none")
        );
        let main = match (self.main, self.drain_ms) {
            ("returned", Some(ms)) if self.cause.as_deref() != Some("main_returned") => {
                format!("drained in {}", display_ms(ms))
            }
            ("returned", _) => "main returned".to_owned(),
            ("error", _) => "main returned an error".to_owned(),
            ("panicked", _) => "main panicked".to_owned(),
            ("cancelled", _) => "main stopped at the signal".to_owned(),
            _ => "main still running".to_owned(),
        };
        let _ = write!(line, ", {main}");
        match self.cleanup_ms {
            None if self.closes.is_empty() && self.main == "running" => {
                line.push_str(", cleanup not started")
            }
            None => line.push_str(", nothing to clean up"),
            Some(ms) => {
                let _ = write!(line, ", cleanup {} [", display_ms(ms));
                for (index, close) in self.closes.iter().enumerate() {
                    let separator = if index == 0 { "" } else { ", " };
                    let _ = write!(
                        line,
                        "{separator}{} {}",
                        close.name,
                        close.outcome.replace('_', " ")
                    );
                    if let Some(ms) = close.duration_ms {
                        let _ = write!(line, " {}", display_ms(ms));
                    }
                }
                line.push(']');
            }
        }
        if let Some(drain) = &self.drain {
            if drain.requests_cut > 0 || drain.connections_cut > 0 {
                let _ = write!(
                    line,
                    ", drain deadline cut {} requests on {} connections",
                    drain.requests_cut, drain.connections_cut
                );
                if drain.calls_ended > 0 {
                    let _ = write!(
                        line,
                        " ({} gRPC calls ended with UNAVAILABLE)",
                        drain.calls_ended
                    );
                }
            }
            if drain.late > 0 {
                let _ = write!(line, ", {} late requests served", drain.late);
            }
            if drain.unresponsive > 0 {
                let _ = write!(line, ", {} unresponsive clients closed", drain.unresponsive);
            }
        }
        if let Some(ms) = self.total_ms {
            let _ = write!(line, ", total {}", display_ms(ms));
        }
        if !self.pending.is_empty() {
            let _ = write!(line, "; still pending: {}", self.pending.join(", "));
        }
        let _ = write!(line, "; exit code {}", self.outcome.exit_code());
        line
    }

    /// Writes the report as JSON to `path`, atomically: to a file beside it,
    /// then renamed over it.
    pub(crate) fn write_json(&self, path: &Path) -> io::Result<()> {
        let json = self.to_json();
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, path)
    }
}

impl Report {
    /// The report as JSON, one field a line (the schema above).
    pub(crate) fn to_json(&self) -> String {
        let mut json = Json::default();
        json.open('{');
        json.field("schema_version").number(self.schema_version);
        json.field("outcome").string(self.outcome.name());
        json.field("exit_code").number(self.outcome.exit_code());
        json.field("cause").optional_string(self.cause.as_deref());
        json.field("timeout_ms").float(Some(self.timeout_ms));
        json.field("main").string(self.main);
        json.field("main_error")
            .optional_string(self.main_error.as_deref());
        json.field("drain_ms").float(self.drain_ms);
        json.field("cleanup_ms").float(self.cleanup_ms);
        json.field("total_ms").float(self.total_ms);
        json.field("drain");
        match &self.drain {
            None => json.null(),
            Some(drain) => {
                json.open('{');
                json.field("in_flight").number(drain.in_flight);
                json.field("connections").number(drain.connections);
                json.field("late").number(drain.late);
                json.field("requests_cut").number(drain.requests_cut);
                json.field("connections_cut").number(drain.connections_cut);
                json.field("calls_ended").number(drain.calls_ended);
                json.field("unresponsive").number(drain.unresponsive);
                json.close('}');
            }
        }
        json.field("closes").open('[');
        for close in &self.closes {
            json.item().open('{');
            json.field("name").string(&close.name);
            json.field("outcome").string(close.outcome);
            json.field("started_ms").float(close.started_ms);
            json.field("duration_ms").float(close.duration_ms);
            json.field("error").optional_string(close.error.as_deref());
            json.field("notes").strings(&close.notes);
            json.close('}');
        }
        json.close(']');
        json.field("pending").strings(&self.pending);
        json.close('}');
        json.text.push('\n');
        json.text
    }
}

/// A small pretty JSON writer: enough for the report, no dependency.
#[derive(Default)]
struct Json {
    text: String,
    /// Per open object or array: whether it has an element yet.
    open: Vec<bool>,
}

impl Json {
    fn indent(&mut self) {
        self.text.push('\n');
        for _ in 0..self.open.len() {
            self.text.push_str("  ");
        }
    }

    /// Starts an element of the innermost object or array.
    fn item(&mut self) -> &mut Self {
        if let Some(has_items) = self.open.last_mut() {
            if *has_items {
                self.text.push(',');
            }
            *has_items = true;
        }
        self.indent();
        self
    }

    fn field(&mut self, name: &str) -> &mut Self {
        self.item().quoted(name);
        self.text.push_str(": ");
        self
    }

    fn open(&mut self, bracket: char) -> &mut Self {
        self.text.push(bracket);
        self.open.push(false);
        self
    }

    fn close(&mut self, bracket: char) {
        let had_items = self.open.pop().unwrap_or(false);
        if had_items {
            self.indent();
        }
        self.text.push(bracket);
    }

    fn null(&mut self) {
        self.text.push_str("null");
    }

    fn number(&mut self, value: impl fmt::Display) {
        let _ = write!(self.text, "{value}");
    }

    /// A float, always with a fraction or an exponent (`700.0`).
    fn float(&mut self, value: Option<f64>) {
        match value {
            Some(value) if value.is_finite() => {
                let _ = write!(self.text, "{value:?}");
            }
            _ => self.null(),
        }
    }

    fn string(&mut self, value: &str) {
        self.quoted(value);
    }

    fn optional_string(&mut self, value: Option<&str>) {
        match value {
            Some(value) => self.quoted(value),
            None => self.null(),
        }
    }

    fn strings(&mut self, values: &[String]) {
        if values.is_empty() {
            self.text.push_str("[]");
            return;
        }
        self.open('[');
        for value in values {
            self.item().quoted(value);
        }
        self.close(']');
    }

    fn quoted(&mut self, value: &str) {
        self.text.push('"');
        for character in value.chars() {
            match character {
                '"' => self.text.push_str("\\\""),
                '\\' => self.text.push_str("\\\\"),
                '\n' => self.text.push_str("\\n"),
                '\r' => self.text.push_str("\\r"),
                '\t' => self.text.push_str("\\t"),
                control if u32::from(control) < 0x20 => {
                    let _ = write!(self.text, "\\u{:04x}", u32::from(control));
                }
                other => self.text.push(other),
            }
        }
        self.text.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every outcome; the match in [`every_outcome_is_listed`] fails to
    /// compile when a variant is added and not listed here.
    const ALL: [Outcome; 8] = [
        Outcome::Clean,
        Outcome::MainError,
        Outcome::MainPanicked,
        Outcome::CleanupFailed,
        Outcome::TaskFailed,
        Outcome::DrainCut,
        Outcome::Deadline,
        Outcome::Interrupted,
    ];

    #[test]
    fn every_outcome_is_listed() {
        for outcome in ALL {
            match outcome {
                Outcome::Clean
                | Outcome::MainError
                | Outcome::MainPanicked
                | Outcome::CleanupFailed
                | Outcome::TaskFailed
                | Outcome::DrainCut
                | Outcome::Deadline
                | Outcome::Interrupted => {}
            }
        }
    }

    /// The reference is the rustdoc: the schema's `outcome` row names every
    /// outcome the code writes, and the exit codes' table every code those
    /// outcomes exit with (issue 23 found `task_failed` written by the code
    /// and missing from the schema).
    #[test]
    fn the_reference_names_every_outcome_and_its_exit_code() {
        let schema = include_str!("report.rs")
            .lines()
            .find(|line| line.starts_with("//! | `outcome` |"))
            .expect("the schema's outcome row");
        let codes = include_str!("code.rs");
        for outcome in ALL {
            let name = format!("`{}`", outcome.name());
            assert!(
                schema.contains(&name),
                "{name} is missing from the schema: {schema}"
            );
            let row = format!("//! | {} |", outcome.exit_code());
            assert!(
                codes.lines().any(|line| line.starts_with(&row)),
                "exit code {} (of {name}) is missing from exit_code's table",
                outcome.exit_code()
            );
        }
    }

    fn report() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            outcome: Outcome::CleanupFailed,
            cause: Some("SIGTERM".into()),
            timeout_ms: 15000.0,
            main: "returned",
            main_error: None,
            drain_ms: Some(312.0),
            cleanup_ms: Some(2001.5),
            total_ms: Some(2330.0),
            closes: vec![
                CloseEntry {
                    name: "db".into(),
                    outcome: "closed",
                    started_ms: Some(0.0),
                    duration_ms: Some(12.0),
                    error: None,
                    notes: vec![],
                },
                CloseEntry {
                    name: "cache".into(),
                    outcome: "timed_out",
                    started_ms: Some(0.0),
                    duration_ms: Some(2000.0),
                    error: None,
                    notes: vec!["cut at its timeout of 2s".into()],
                },
            ],
            drain: None,
            pending: vec![],
            timeout: Duration::from_secs(15),
        }
    }

    #[test]
    fn summary_names_every_close() {
        assert_eq!(
            report().summary(),
            "shutdown finished with errors: cause SIGTERM, drained in 312ms, \
             cleanup 2.002s [db closed 12ms, cache timed out 2s], total 2.33s; exit code 1"
        );
    }

    #[test]
    fn json_is_valid_and_escapes_what_it_must() {
        let mut report = report();
        report.main_error = Some("Io(\"disk \\ full\"\n\tat\u{1}\")".into());
        report.drain = Some(Drained {
            in_flight: 3,
            connections: 40,
            late: 1,
            ..Drained::default()
        });
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(value["main_error"], "Io(\"disk \\ full\"\n\tat\u{1}\")");
        assert_eq!(value["timeout_ms"], 15000.0);
        assert_eq!(value["drain"]["connections"], 40);
        assert_eq!(value["closes"][1]["notes"][0], "cut at its timeout of 2s");
        assert_eq!(value["pending"], serde_json::json!([]));
        assert!(value["cause"].is_string() && value["closes"][0]["error"].is_null());
    }

    #[test]
    fn json_is_written_atomically() {
        let dir = std::env::temp_dir().join(format!("graceful-report-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("report.json");
        report().write_json(&path).unwrap();
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["closes"][1]["outcome"], "timed_out");
        assert!(value.get("timeout").is_none());
        assert!(!dir.join("report.json.partial").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
