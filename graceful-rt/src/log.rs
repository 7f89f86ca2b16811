//! Where the crate's log lines go.
//!
//! Every line goes through `tracing` (target `graceful`) when the
//! application has installed a subscriber. Without one, the line is written
//! to stderr in the shape `tracing-subscriber`'s default format uses, so the
//! shutdown is visible with zero setup and no extra dependency.

use std::fmt;
use std::io::Write as _;
use std::time::SystemTime;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Info,
    Warn,
    Error,
}

/// Emits one log line.
pub(crate) fn emit(level: Level, message: fmt::Arguments<'_>) {
    if subscriber_installed() {
        match level {
            Level::Info => tracing::info!(target: "graceful", "{message}"),
            Level::Warn => tracing::warn!(target: "graceful", "{message}"),
            Level::Error => tracing::error!(target: "graceful", "{message}"),
        }
        return;
    }
    let label = match level {
        Level::Info => " INFO",
        Level::Warn => " WARN",
        Level::Error => "ERROR",
    };
    let stamp = humantime::format_rfc3339_millis(SystemTime::now());
    // One write of one formatted line, so lines from the signal thread, the
    // deadline thread and the runtime never interleave.
    let line = format!("{stamp} {label} graceful: {message}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Whether a `tracing` subscriber is in effect on this thread (scoped or global).
fn subscriber_installed() -> bool {
    tracing::dispatcher::get_default(|dispatch| !dispatch.is::<tracing::subscriber::NoSubscriber>())
}

macro_rules! info {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Info, ::std::format_args!($($arg)*)) };
}
macro_rules! warning {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Warn, ::std::format_args!($($arg)*)) };
}
macro_rules! error {
    ($($arg:tt)*) => { $crate::log::emit($crate::log::Level::Error, ::std::format_args!($($arg)*)) };
}
pub(crate) use {error, info, warning};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_subscriber_is_detected() {
        assert!(!subscriber_installed());
    }

    #[test]
    fn a_scoped_subscriber_is_detected() {
        tracing::subscriber::with_default(tracing_subscriber::fmt().finish(), || {
            assert!(subscriber_installed());
        });
    }
}
