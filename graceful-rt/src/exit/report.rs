//! The shutdown report: how the shutdown went, as one summary log line at
//! the end of every shutdown and, with `GRACEFUL_REPORT=<path>`, as JSON.
//!
//! The types below are the JSON schema: [`Report`] is the document, each
//! field is a key of the same name, and each enum is written as the
//! `snake_case` name of its variant. With the `serde` feature they derive
//! `Deserialize` (and `Serialize`), so a deploy check or a test can read
//! the file back as a [`Report`]; without it, the file is the same.
//!
//! The file is written when the process ends, cleanly, with errors or
//! forced (at the deadline, or by a second Ctrl-C), and replaced
//! atomically: written beside its path, then renamed over it. Durations
//! are milliseconds, numbers with fractions. A later version of the crate
//! may add keys without changing [`SCHEMA_VERSION`]; a reader ignores the
//! keys it does not know (serde's default).
//!
//! ```json
//! {
//!   "schema_version": 1,
//!   "outcome": "deadline",
//!   "exit_code": 124,
//!   "cause": "SIGTERM",
//!   "timeout_ms": 700.0,
//!   "main": "returned",
//!   "main_error": null,
//!   "drain_ms": 100.6,
//!   "cleanup_ms": 599.6,
//!   "total_ms": 700.2,
//!   "drain": null,
//!   "closes": [
//!     { "name": "db", "outcome": "pending", "started_ms": 0.018, "duration_ms": 599.6,
//!       "error": null, "notes": [] },
//!     { "name": "cache", "outcome": "closed", "started_ms": 0.014, "duration_ms": 0.035,
//!       "error": null, "notes": [] }
//!   ],
//!   "pending": ["db"]
//! }
//! ```
//!
//! # Examples
//!
//! A deploy check that reads the report of the process it stopped (feature
//! `serde`, with `serde_json`):
//!
//! ```
//! # #[cfg(feature = "serde")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use graceful_rt::report::{CloseStatus, Outcome, Report};
//!
//! # let dir = std::env::temp_dir().join(format!("graceful-report-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir)?;
//! # let path = dir.join("report.json");
//! # std::fs::write(&path, r#"{"schema_version":1,"outcome":"cleanup_failed","exit_code":1,
//! #   "cause":"SIGTERM","timeout_ms":15000.0,"main":"returned","main_error":null,
//! #   "drain_ms":312.0,"cleanup_ms":2001.5,"total_ms":2330.0,"drain":null,
//! #   "closes":[{"name":"cache","outcome":"timed_out","started_ms":0.0,
//! #   "duration_ms":2000.0,"error":null,"notes":["cut at its timeout of 2s"]}],
//! #   "pending":[]}"#)?;
//! let report: Report = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
//! if report.outcome != Outcome::Clean {
//!     for close in report.closes.iter().filter(|close| close.outcome != CloseStatus::Closed) {
//!         eprintln!("{} {}: {:?}", close.name, close.outcome.as_str(), close.notes);
//!     }
//! }
//! assert_eq!(report.exit_code, 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "serde"))]
//! # fn main() {}
//! ```

use std::fmt::{self, Write as _};
use std::io;
use std::path::Path;
use std::time::Duration;

pub use crate::drained::Drained;
use crate::duration::{self, millis};
use crate::exit::code as exit_code;

/// The version of the schema, the report's `schema_version`. It changes
/// when a key is removed or changes meaning, not when one is added.
pub const SCHEMA_VERSION: u32 = 1;

/// How a shutdown went: the JSON report's document.
///
/// Written by `#[graceful_main]` when `GRACEFUL_REPORT` names a file, and
/// read back with the `serde` feature: see the [module example](self).
/// `#[non_exhaustive]`: a later version may add fields, as the JSON may
/// gain keys.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct Report {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// How the shutdown ended, which decides the exit code.
    pub outcome: Outcome,
    /// The code the process exited with: [`Outcome::exit_code`].
    pub exit_code: i32,
    /// What started the shutdown: a signal's name (`SIGTERM`), `trigger`
    /// ([`Shutdown::trigger`](crate::Shutdown::trigger)), `main_returned`
    /// (main returned on its own), `upgrade` (an upgrade's new process is
    /// ready: [`Shutdown::upgrade`](crate::Shutdown::upgrade)) or
    /// `task NAME failed` (a task of [`Tasks`](crate::Tasks)); `None` (null)
    /// when main panicked before any shutdown began. The text of
    /// [`Cause`](crate::Cause)'s `Display`.
    pub cause: Option<String>,
    /// The shutdown's budget: the timeout, or less after Windows'
    /// Ctrl-Close and Ctrl-Shutdown.
    pub timeout_ms: f64,
    /// How main ended.
    pub main: MainStatus,
    /// The `Debug` text of the error main returned, if it returned one.
    pub main_error: Option<String>,
    /// From the cause to main's return: the time the servers took to drain.
    pub drain_ms: Option<f64>,
    /// From the start of the cleanup to its end, or to the forced exit;
    /// `None` when there was nothing to clean up.
    pub cleanup_ms: Option<f64>,
    /// From the cause to the exit.
    pub total_ms: Option<f64>,
    /// What the HTTP servers of [`http::serve`](crate#http) counted while
    /// draining, summed over servers; `None` (null) without one.
    pub drain: Option<Drained>,
    /// One entry per close, in the order of the cleanup's plan: the fields
    /// tagged `#[cleanup]`, depth first.
    pub closes: Vec<CloseEntry>,
    /// What was still running at a forced exit: `main` and the names of
    /// the closes; empty otherwise.
    pub pending: Vec<String>,
}

/// How a shutdown ended: the report's `outcome`. Each has one exit code
/// ([`exit_code`](Outcome::exit_code)); the first that holds, in this
/// order, is the outcome.
///
/// # Examples
///
/// ```
/// use graceful_rt::exit_code;
/// use graceful_rt::report::Outcome;
///
/// assert_eq!(Outcome::Clean.exit_code(), exit_code::CLEAN);
/// assert_eq!(Outcome::DrainCut.as_str(), "drain_cut");
/// assert_eq!(Outcome::DrainCut.to_string(), "drain_cut");
/// // The outcomes that mean the process was forced, with work pending.
/// let forced: Vec<Outcome> = Outcome::ALL
///     .iter()
///     .copied()
///     .filter(|outcome| matches!(outcome, Outcome::Deadline | Outcome::Interrupted))
///     .collect();
/// assert_eq!(forced, [Outcome::Deadline, Outcome::Interrupted]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Outcome {
    /// `deadline`: forced at the deadline, with work still pending
    /// (exit code 124).
    Deadline,
    /// `interrupted`: forced by a second Ctrl-C (SIGINT) (exit code 130).
    Interrupted,
    /// `main_panicked`: main panicked (exit code 101).
    MainPanicked,
    /// `main_error`: main returned `Err` (exit code 1).
    MainError,
    /// `task_failed`: a task of [`Tasks`](crate::Tasks) failed or
    /// panicked, which started the shutdown (exit code 1).
    TaskFailed,
    /// `cleanup_failed`: a close failed, panicked or timed out (exit code 1).
    CleanupFailed,
    /// `drain_cut`: the drain deadline cut requests or connections still
    /// open; the cleanup ran (exit code 3).
    DrainCut,
    /// `clean`: main returned, every close closed (exit code 0).
    Clean,
}

/// How main ended: the report's `main`. See the [module example](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum MainStatus {
    /// `returned`: main returned its state (or `Ok`).
    Returned,
    /// `error`: main returned `Err` (its text is in `main_error`).
    Error,
    /// `panicked`: main panicked.
    Panicked,
    /// `cancelled`: main takes no `Shutdown`, so it was dropped at the
    /// signal.
    Cancelled,
    /// `running`: main was still running when the process was forced to
    /// exit.
    Running,
}

/// One close of the cleanup: an element of the report's `closes`, what
/// [`CloseReport`](crate::CloseReport) is in a test. See the
/// [module example](self).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub struct CloseEntry {
    /// The close's name: `db`, or `outer.db` in a nested group.
    pub name: String,
    /// How it ended, or `pending`.
    pub outcome: CloseStatus,
    /// When it started, from the start of the cleanup; `None` (null) if it
    /// never started.
    pub started_ms: Option<f64>,
    /// How long it ran (so far, if pending).
    pub duration_ms: Option<f64>,
    /// The error's text, or the panic's message.
    pub error: Option<String>,
    /// Remarks such as `cut at its timeout of 2s`, or ``started after
    /// `db`, which failed``.
    pub notes: Vec<String>,
}

/// How a close ended: a [`CloseEntry`]'s `outcome`, what
/// [`CloseOutcome`](crate::CloseOutcome) is in a test, with `pending` for
/// a close still running at a forced exit. See the [module example](self).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum CloseStatus {
    /// `closed`: it returned `Ok`.
    Closed,
    /// `failed`: it returned an error (in `error`).
    Failed,
    /// `panicked`: it panicked (the message is in `error`).
    Panicked,
    /// `timed_out`: cut at its timeout, or at the end of the cleanup's
    /// budget.
    TimedOut,
    /// `pending`: still running at a forced exit.
    Pending,
}

impl Outcome {
    /// Every outcome, in the order they are decided: the first that holds
    /// is the shutdown's.
    pub const ALL: &'static [Outcome] = &[
        Outcome::Deadline,
        Outcome::Interrupted,
        Outcome::MainPanicked,
        Outcome::MainError,
        Outcome::TaskFailed,
        Outcome::CleanupFailed,
        Outcome::DrainCut,
        Outcome::Clean,
    ];

    /// The name in the JSON report: `clean`, `drain_cut`, ...
    #[must_use]
    pub const fn as_str(self) -> &'static str {
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

    /// The code the process exits with ([`exit_code`](crate::exit_code)).
    #[must_use]
    pub const fn exit_code(self) -> i32 {
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

impl MainStatus {
    /// The name in the JSON report: `returned`, `error`, ...
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            MainStatus::Returned => "returned",
            MainStatus::Error => "error",
            MainStatus::Panicked => "panicked",
            MainStatus::Cancelled => "cancelled",
            MainStatus::Running => "running",
        }
    }
}

impl CloseStatus {
    /// The name in the JSON report: `closed`, `timed_out`, ...
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CloseStatus::Closed => "closed",
            CloseStatus::Failed => "failed",
            CloseStatus::Panicked => "panicked",
            CloseStatus::TimedOut => "timed_out",
            CloseStatus::Pending => "pending",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for MainStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for CloseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
            Outcome::Deadline => {
                format!("forced at the deadline of {}", display_ms(self.timeout_ms))
            }
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
            (MainStatus::Returned, Some(ms)) if self.cause.as_deref() != Some("main_returned") => {
                format!("drained in {}", display_ms(ms))
            }
            (MainStatus::Returned, _) => "main returned".to_owned(),
            (MainStatus::Error, _) => "main returned an error".to_owned(),
            (MainStatus::Panicked, _) => "main panicked".to_owned(),
            (MainStatus::Cancelled, _) => "main stopped at the signal".to_owned(),
            (MainStatus::Running, _) => "main still running".to_owned(),
        };
        let _ = write!(line, ", {main}");
        match self.cleanup_ms {
            None if self.closes.is_empty() && self.main == MainStatus::Running => {
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
                        close.outcome.as_str().replace('_', " ")
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
        let _ = write!(line, "; exit code {}", self.exit_code);
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
        json.field("outcome").string(self.outcome.as_str());
        json.field("exit_code").number(self.exit_code);
        json.field("cause").optional_string(self.cause.as_deref());
        json.field("timeout_ms").float(Some(self.timeout_ms));
        json.field("main").string(self.main.as_str());
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
                json.field("elapsed_ms").float(Some(millis(drain.elapsed)));
                json.close('}');
            }
        }
        json.field("closes").open('[');
        for close in &self.closes {
            json.item().open('{');
            json.field("name").string(&close.name);
            json.field("outcome").string(close.outcome.as_str());
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

    /// `Outcome::ALL` holds every outcome: the match fails to compile when
    /// a variant is added, and the count when it is not listed.
    #[test]
    fn every_outcome_is_listed() {
        let listed = Outcome::ALL
            .iter()
            .map(|outcome| match outcome {
                Outcome::Deadline
                | Outcome::Interrupted
                | Outcome::MainPanicked
                | Outcome::MainError
                | Outcome::TaskFailed
                | Outcome::CleanupFailed
                | Outcome::DrainCut
                | Outcome::Clean => outcome.as_str(),
            })
            .collect::<std::collections::BTreeSet<_>>();
        assert_eq!(listed.len(), 8);
    }

    /// The reference is the rustdoc: each outcome's doc names it as the
    /// JSON writes it and gives its exit code, and the exit codes' table
    /// lists every code (issue 23 found `task_failed` written by the code
    /// and missing from the schema).
    #[test]
    fn the_reference_names_every_outcome_and_its_exit_code() {
        let schema = include_str!("report.rs");
        let codes = include_str!("code.rs");
        for &outcome in Outcome::ALL {
            let doc = format!("    /// `{}`: ", outcome.as_str());
            let line = schema
                .lines()
                .position(|line| line.starts_with(&doc))
                .unwrap_or_else(|| panic!("no doc starts with {doc:?}"));
            let text = schema.lines().skip(line).take(3).collect::<String>();
            let code = format!("(exit code {})", outcome.exit_code());
            assert!(text.contains(&code), "{doc:?} does not say {code}");
            let row = format!("//! | {} |", outcome.exit_code());
            assert!(
                codes.lines().any(|line| line.starts_with(&row)),
                "exit code {} (of {}) is missing from exit_code's table",
                outcome.exit_code(),
                outcome.as_str()
            );
        }
        for (status, name) in [
            (CloseStatus::Closed, "closed"),
            (CloseStatus::Failed, "failed"),
            (CloseStatus::Panicked, "panicked"),
            (CloseStatus::TimedOut, "timed_out"),
            (CloseStatus::Pending, "pending"),
        ] {
            assert_eq!(status.as_str(), name);
            assert!(schema.contains(&format!("    /// `{name}`: ")), "{name}");
        }
    }

    /// Every exit code the crate defines is in the table of `exit_code`.
    #[test]
    fn the_exit_codes_table_lists_every_code() {
        let codes = include_str!("code.rs");
        let defined = codes
            .lines()
            .filter_map(|line| line.strip_prefix("pub const "))
            .map(|line| {
                let (name, value) = line
                    .split_once(": i32 = ")
                    .expect("pub const NAME: i32 = N;");
                (name, value.trim_end_matches(';'))
            })
            .collect::<Vec<_>>();
        assert_eq!(defined.len(), 7, "{defined:?}");
        for (name, value) in defined {
            let row = format!("//! | {value} | [`{name}`] |");
            assert!(
                codes.lines().any(|line| line.starts_with(&row)),
                "{name} = {value} is missing from the table: expected a row starting {row:?}"
            );
        }
    }

    fn report() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            outcome: Outcome::CleanupFailed,
            exit_code: Outcome::CleanupFailed.exit_code(),
            cause: Some("SIGTERM".into()),
            timeout_ms: 15000.0,
            main: MainStatus::Returned,
            main_error: None,
            drain_ms: Some(312.0),
            cleanup_ms: Some(2001.5),
            total_ms: Some(2330.0),
            closes: vec![
                CloseEntry {
                    name: "db".into(),
                    outcome: CloseStatus::Closed,
                    started_ms: Some(0.0),
                    duration_ms: Some(12.0),
                    error: None,
                    notes: vec![],
                },
                CloseEntry {
                    name: "cache".into(),
                    outcome: CloseStatus::TimedOut,
                    started_ms: Some(0.0),
                    duration_ms: Some(2000.0),
                    error: None,
                    notes: vec!["cut at its timeout of 2s".into()],
                },
            ],
            drain: None,
            pending: vec![],
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
            elapsed: Duration::from_micros(1_500),
            ..Drained::default()
        });
        let value: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(value["main_error"], "Io(\"disk \\ full\"\n\tat\u{1}\")");
        assert_eq!(value["timeout_ms"], 15000.0);
        assert_eq!(value["drain"]["connections"], 40);
        assert_eq!(value["drain"]["elapsed_ms"], 1.5);
        assert_eq!(value["closes"][1]["notes"][0], "cut at its timeout of 2s");
        assert_eq!(value["pending"], serde_json::json!([]));
        assert!(value["cause"].is_string() && value["closes"][0]["error"].is_null());
    }

    /// The JSON the crate writes is exactly what the types describe: read
    /// back into a `Report`, it is the report that was written, and written
    /// again by serde it is the same document, key for key.
    #[cfg(feature = "serde")]
    #[test]
    fn json_reads_back_as_the_typed_report() {
        let mut report = report();
        report.main_error = Some("Timeout(\"db\")".into());
        report.pending = vec!["main".into(), "cache".into()];
        report.drain = Some(Drained {
            in_flight: 3,
            connections: 40,
            late: 1,
            requests_cut: 2,
            connections_cut: 1,
            calls_ended: 1,
            unresponsive: 4,
            elapsed: Duration::from_micros(2_910_125),
        });
        let json = report.to_json();
        let read: Report = serde_json::from_str(&json).unwrap();
        assert_eq!(read, report);
        let written: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_value(&read).unwrap(), written);
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
