//! What `#[graceful_main]` was configured with, and the environment
//! variables that override it at run time.
//!
//! | variable | effect |
//! |---|---|
//! | `GRACEFUL_TIMEOUT` | replaces the attribute's `timeout` (same forms: `"500ms"`, `"15s"`, `"1m30s"`); an invalid value refuses to start with exit code 2 |
//! | `GRACEFUL_REPORT` | a file path: the shutdown report is written there as JSON |

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::duration::{self, DurationError};
use crate::signal::Signal;

/// The variable that overrides the timeout.
pub(crate) const TIMEOUT_VAR: &str = "GRACEFUL_TIMEOUT";
/// The variable naming the JSON report's path.
pub(crate) const REPORT_VAR: &str = "GRACEFUL_REPORT";

/// The configuration `#[graceful_main]` compiles into `main`.
#[derive(Clone, Copy, Debug)]
pub struct MainConfig {
    /// The shutdown budget, from the first signal to the exit.
    pub timeout: Duration,
    /// The signals that start the shutdown.
    pub signals: &'static [Signal],
    /// The tokio runtime to build.
    pub flavor: Flavor,
    /// Worker threads of the multi-threaded runtime (`None`: one per core).
    pub worker_threads: Option<usize>,
    /// Whether main takes the `Shutdown`. If it does not, it cannot stop by
    /// itself, so it is dropped when the shutdown starts.
    pub main_takes_shutdown: bool,
}

/// The tokio runtime flavor, as in `#[tokio::main]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// Everything on the main thread.
    CurrentThread,
    /// A pool of worker threads (the default).
    MultiThread,
}

/// The configuration in effect: the attribute's, overridden by the environment.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) timeout: Duration,
    /// The `GRACEFUL_TIMEOUT` text when it replaced the attribute's timeout.
    pub(crate) timeout_override: Option<String>,
    pub(crate) report_path: Option<PathBuf>,
}

/// An environment variable that cannot be used.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ConfigError {
    InvalidDuration {
        var: &'static str,
        value: String,
        reason: DurationError,
    },
    NotUnicode {
        var: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::InvalidDuration { var, value, reason } => write!(
                f,
                "invalid {var}={value:?}: {reason}; expected {}. Refusing to start.",
                duration::ACCEPTED_FORMS
            ),
            ConfigError::NotUnicode { var } => write!(
                f,
                "invalid {var}: it is not valid UTF-8; expected {}. Refusing to start.",
                duration::ACCEPTED_FORMS
            ),
        }
    }
}

impl Settings {
    /// Applies the environment (read through `env`) to `config`.
    pub(crate) fn resolve(
        config: &MainConfig,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Settings, ConfigError> {
        let (timeout, timeout_override) = match env(TIMEOUT_VAR) {
            None => (config.timeout, None),
            Some(raw) => {
                let text = raw
                    .into_string()
                    .map_err(|_| ConfigError::NotUnicode { var: TIMEOUT_VAR })?;
                let timeout =
                    duration::parse(&text).map_err(|reason| ConfigError::InvalidDuration {
                        var: TIMEOUT_VAR,
                        value: text.clone(),
                        reason,
                    })?;
                (timeout, Some(text))
            }
        };
        let report_path = env(REPORT_VAR)
            .filter(|path| !path.is_empty())
            .map(PathBuf::from);
        Ok(Settings {
            timeout,
            timeout_override,
            report_path,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: MainConfig = MainConfig {
        timeout: Duration::from_secs(15),
        signals: Signal::DEFAULT,
        flavor: Flavor::MultiThread,
        worker_threads: None,
        main_takes_shutdown: true,
    };

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| OsString::from(value))
        }
    }

    #[test]
    fn the_attribute_applies_without_environment() {
        let settings = Settings::resolve(&CONFIG, env(&[])).unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(15));
        assert_eq!(settings.timeout_override, None);
        assert_eq!(settings.report_path, None);
    }

    #[test]
    fn the_environment_overrides() {
        let vars = [
            ("GRACEFUL_TIMEOUT", "1m30s"),
            ("GRACEFUL_REPORT", "/tmp/r.json"),
        ];
        let settings = Settings::resolve(&CONFIG, env(&vars)).unwrap();
        assert_eq!(settings.timeout, Duration::from_secs(90));
        assert_eq!(settings.timeout_override.as_deref(), Some("1m30s"));
        assert_eq!(settings.report_path, Some(PathBuf::from("/tmp/r.json")));
    }

    #[test]
    fn an_invalid_timeout_names_the_variable_and_the_forms() {
        let error = Settings::resolve(&CONFIG, env(&[("GRACEFUL_TIMEOUT", "banana")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid GRACEFUL_TIMEOUT=\"banana\": it is not a duration; expected a positive duration \
             with a unit, such as \"500ms\", \"15s\", \"1m30s\" or \"1.5s\" (units: ms, s, m, h). \
             Refusing to start."
        );
        for bad in ["0s", "-1s", "15", ""] {
            assert!(
                Settings::resolve(&CONFIG, env(&[("GRACEFUL_TIMEOUT", bad)])).is_err(),
                "{bad:?}"
            );
        }
    }
}
