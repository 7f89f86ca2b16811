use std::fmt;
use std::time::Duration;

use super::BoxError;

/// How every close of a cleanup ended.
#[derive(Clone, Debug)]
pub struct CleanupReport {
    pub(crate) closes: Vec<CloseReport>,
    pub(crate) elapsed: Duration,
}

impl CleanupReport {
    /// One entry per close, in the order they were planned.
    #[must_use]
    pub fn closes(&self) -> &[CloseReport] {
        &self.closes
    }

    /// The entry of the close with this full name (`"db"`, `"outer.db"`).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&CloseReport> {
        self.closes.iter().find(|close| close.name == name)
    }

    /// Whether every close closed.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.closes.iter().all(|close| close.outcome.is_closed())
    }

    /// The time the whole cleanup took: that of the longest chain of
    /// closes, since they run concurrently.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// `Ok` if every close closed.
    ///
    /// # Errors
    ///
    /// One error naming each close that did not close and how it ended
    /// (failed, panicked, timed out), for `?` in a test or a hand-written
    /// shutdown.
    pub fn into_result(self) -> Result<(), BoxError> {
        let failures: Vec<String> = self
            .closes
            .iter()
            .filter(|close| !close.outcome.is_closed())
            .map(|close| match close.outcome.message() {
                Some(message) => format!("`{}` {}: {message}", close.name, close.outcome),
                None => format!(
                    "`{}` {}",
                    close.name,
                    close.outcome.as_str().replace('_', " ")
                ),
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; ").into())
        }
    }
}

/// How one close ended.
#[derive(Clone, Debug)]
pub struct CloseReport {
    pub(crate) name: String,
    pub(crate) outcome: CloseOutcome,
    pub(crate) started: Duration,
    pub(crate) duration: Duration,
    pub(crate) notes: Vec<String>,
}

impl CloseReport {
    /// The close's full name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it ended.
    #[must_use]
    pub fn outcome(&self) -> &CloseOutcome {
        &self.outcome
    }

    /// When it started, counted from the start of the cleanup.
    #[must_use]
    pub fn started(&self) -> Duration {
        self.started
    }

    /// How long it ran.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Remarks on how it ran, such as "started after `db`, which failed".
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// How one close ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseOutcome {
    /// It returned `Ok`.
    Closed,
    /// It returned an error; the message, with its sources.
    Failed(String),
    /// It panicked; the panic message.
    Panicked(String),
    /// It was cut at its timeout or at the shutdown deadline.
    TimedOut,
}

impl CloseOutcome {
    /// Whether the close succeeded.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, CloseOutcome::Closed)
    }

    /// A one-word name: `closed`, `failed`, `panicked` or `timed_out`.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseOutcome::Closed => "closed",
            CloseOutcome::Failed(_) => "failed",
            CloseOutcome::Panicked(_) => "panicked",
            CloseOutcome::TimedOut => "timed_out",
        }
    }

    /// The error or panic message, if any.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        match self {
            CloseOutcome::Failed(message) | CloseOutcome::Panicked(message) => Some(message),
            CloseOutcome::Closed | CloseOutcome::TimedOut => None,
        }
    }
}

impl fmt::Display for CloseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
