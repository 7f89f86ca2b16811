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
//! | `outcome` | string | `clean`, `main_error`, `main_panicked`, `cleanup_failed`, `drain_cut` (the drain deadline cut requests), `deadline` (forced at the deadline) or `interrupted` (forced by a second SIGINT) |
//! | `exit_code` | number | the process exit code (see [`exit_code`](crate::exit_code)) |
//! | `cause` | string or null | what started the shutdown: a signal name (`SIGTERM`), `trigger` ([`Shutdown::trigger`](crate::Shutdown::trigger)), `main_returned` (main returned on its own); null if main panicked before any shutdown |
//! | `timeout_ms` | number | the shutdown budget |
//! | `main` | string | how main ended: `returned`, `error`, `panicked`, `cancelled` (main takes no `Shutdown` and was stopped at the signal) or `running` (still running when forced) |
//! | `main_error` | string or null | the `Debug` text of the error main returned |
//! | `drain_ms` | number or null | from the cause to main's return: the time the server took to drain |
//! | `cleanup_ms` | number or null | from the start of the cleanup to its end (or to the forced exit) |
//! | `total_ms` | number or null | from the cause to the exit |
//! | `drain` | object or null | what [`http::serve`](crate#http) counted while draining, summed over servers; null without one: `in_flight` and `connections` when draining began, `rejected` (late requests answered 503), `requests_cut` and `connections_cut` (at the drain deadline) |
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

use std::fmt::Write as _;
use std::io;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::duration;

/// Version of the JSON schema above.
pub(crate) const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) schema_version: u32,
    pub(crate) outcome: &'static str,
    pub(crate) exit_code: i32,
    pub(crate) cause: Option<String>,
    pub(crate) timeout_ms: f64,
    pub(crate) main: &'static str,
    pub(crate) main_error: Option<String>,
    pub(crate) drain_ms: Option<f64>,
    pub(crate) cleanup_ms: Option<f64>,
    pub(crate) total_ms: Option<f64>,
    pub(crate) drain: Option<DrainEntry>,
    pub(crate) closes: Vec<CloseEntry>,
    pub(crate) pending: Vec<String>,
    #[serde(skip)]
    pub(crate) timeout: Duration,
}

/// What the HTTP servers' drains counted (feature `axum`).
#[derive(Debug, Serialize)]
pub(crate) struct DrainEntry {
    pub(crate) in_flight: usize,
    pub(crate) connections: usize,
    pub(crate) rejected: usize,
    pub(crate) requests_cut: usize,
    pub(crate) connections_cut: usize,
}

#[derive(Debug, Serialize)]
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
            "clean" => "complete".to_owned(),
            "deadline" => format!(
                "forced at the deadline of {}",
                duration::display(self.timeout)
            ),
            "interrupted" => "interrupted by a second SIGINT".to_owned(),
            _ => "finished with errors".to_owned(),
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
            if drain.connections_cut > 0 {
                let _ = write!(
                    line,
                    ", drain deadline cut {} requests on {} connections",
                    drain.requests_cut, drain.connections_cut
                );
            }
            if drain.rejected > 0 {
                let _ = write!(line, ", {} late requests answered 503", drain.rejected);
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
        let mut json = serde_json::to_vec_pretty(self).map_err(io::Error::other)?;
        json.push(b'\n');
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            outcome: "cleanup_failed",
            exit_code: 1,
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
