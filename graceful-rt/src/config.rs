//! What `#[graceful_main]` was configured with, and the environment
//! variables that override it at run time. The variables are documented
//! once, in the crate docs' Environment table.

use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::duration::{self, DurationError};
use crate::process::signal::Signal;

/// The variable that overrides the timeout.
pub(crate) const TIMEOUT_VAR: &str = "GRACEFUL_TIMEOUT";
/// The variable that overrides the lame duck.
pub(crate) const DRAIN_DELAY_VAR: &str = "GRACEFUL_DRAIN_DELAY";
/// The variable telling the supervisor's kill budget.
pub(crate) const SUPERVISOR_BUDGET_VAR: &str = "GRACEFUL_SUPERVISOR_BUDGET";
/// The variable naming the JSON report's path.
pub(crate) const REPORT_VAR: &str = "GRACEFUL_REPORT";
/// The variable bounding the wait for an upgrade's new process.
pub(crate) const UPGRADE_TIMEOUT_VAR: &str = "GRACEFUL_UPGRADE_TIMEOUT";
/// How long an upgrade's new process has to be ready, unless
/// [`UPGRADE_TIMEOUT_VAR`] says otherwise.
pub(crate) const DEFAULT_UPGRADE_TIMEOUT: Duration = Duration::from_secs(30);

/// The configuration `#[graceful_main]` compiles into `main`.
#[derive(Clone, Copy, Debug)]
pub struct MainConfig {
    /// The shutdown budget, from the first signal to the exit.
    pub timeout: Duration,
    /// The lame duck: how long servers keep serving after the signal while
    /// readiness checks fail.
    pub drain_delay: Duration,
    /// The signals that start the shutdown.
    pub signals: &'static [Signal],
    /// The tokio runtime to build.
    pub flavor: Flavor,
    /// Worker threads of the multi-threaded runtime (`None`: one per core).
    pub worker_threads: Option<usize>,
    /// Whether main takes the `Shutdown`. If it does not, it cannot stop by
    /// itself, so it is dropped when the shutdown starts.
    pub main_takes_shutdown: bool,
    /// The signal that starts an upgrade by hand-off, if any.
    pub upgrade: Option<Signal>,
}

/// The upgrade signal when the attribute names none: SIGUSR2 on Unix, none
/// elsewhere.
pub const DEFAULT_UPGRADE: Option<Signal> = if cfg!(unix) {
    Some(Signal::User2)
} else {
    None
};

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
    pub(crate) drain_delay: Duration,
    /// The variables that replaced the attribute's values, as `VAR=value`.
    pub(crate) overrides: Vec<String>,
    /// How long the supervisor waits between SIGTERM and SIGKILL, if told.
    pub(crate) supervisor_budget: Option<Duration>,
    pub(crate) report_path: Option<PathBuf>,
    pub(crate) pid_file: Option<PathBuf>,
    /// How long an upgrade's new process has to be ready (Unix).
    #[cfg_attr(not(unix), allow(dead_code))]
    pub(crate) upgrade_timeout: Duration,
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
    DelayTooLong {
        drain_delay: Duration,
        timeout: Duration,
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
            ConfigError::DelayTooLong {
                drain_delay,
                timeout,
            } => write!(
                f,
                "the drain delay ({}) must be shorter than the timeout ({}), or nothing is left to drain \
                 in; shorten {DRAIN_DELAY_VAR} or lengthen {TIMEOUT_VAR}. Refusing to start.",
                duration::display(*drain_delay),
                duration::display(*timeout)
            ),
        }
    }
}

impl Settings {
    /// When the supervisor's kill budget is known and the timeout does not
    /// fit in it with a second to spare, what to tell the user.
    pub(crate) fn budget_warning(&self) -> Option<String> {
        let budget = self.supervisor_budget?;
        let spare = Duration::from_secs(1).min(budget / 10);
        if self.timeout + spare <= budget {
            return None;
        }
        Some(format!(
            "the shutdown timeout ({}) does not fit in the supervisor's kill budget ({}, {SUPERVISOR_BUDGET_VAR}): \
             the process would be killed (SIGKILL) before its own deadline, without its cleanup or report. \
             Lower the timeout to {} at most (`timeout` or {TIMEOUT_VAR}), or give the supervisor more time \
             (`docker run --stop-timeout`, Kubernetes terminationGracePeriodSeconds, systemd TimeoutStopSec)",
            duration::display(self.timeout),
            duration::display(budget),
            duration::display(budget.saturating_sub(spare)),
        ))
    }

    /// Applies the environment (read through `env`) to `config`.
    pub(crate) fn resolve(
        config: &MainConfig,
        env: impl Fn(&str) -> Option<OsString>,
    ) -> Result<Settings, ConfigError> {
        let duration_var =
            |var: &'static str, parse: fn(&str) -> Result<Duration, DurationError>| {
                let Some(raw) = env(var) else {
                    return Ok(None);
                };
                let text = raw
                    .into_string()
                    .map_err(|_| ConfigError::NotUnicode { var })?;
                match parse(&text) {
                    Ok(value) => Ok(Some((value, format!("{var}={text}")))),
                    Err(reason) => Err(ConfigError::InvalidDuration {
                        var,
                        value: text,
                        reason,
                    }),
                }
            };
        let mut overrides = Vec::new();
        let mut overridden =
            |attribute: Duration, variable: Option<(Duration, String)>| match variable {
                Some((value, text)) => {
                    overrides.push(text);
                    value
                }
                None => attribute,
            };
        let timeout = overridden(config.timeout, duration_var(TIMEOUT_VAR, duration::parse)?);
        let drain_delay = overridden(
            config.drain_delay,
            duration_var(DRAIN_DELAY_VAR, duration::parse_delay)?,
        );
        let supervisor_budget =
            duration_var(SUPERVISOR_BUDGET_VAR, duration::parse)?.map(|(budget, _)| budget);
        if drain_delay >= timeout {
            return Err(ConfigError::DelayTooLong {
                drain_delay,
                timeout,
            });
        }
        let upgrade_timeout = duration_var(UPGRADE_TIMEOUT_VAR, duration::parse)?
            .map_or(DEFAULT_UPGRADE_TIMEOUT, |(bound, _)| bound);
        let path = |var| env(var).filter(|path| !path.is_empty()).map(PathBuf::from);
        Ok(Settings {
            timeout,
            drain_delay,
            overrides,
            supervisor_budget,
            report_path: path(REPORT_VAR),
            pid_file: path(crate::process::pid_file::PID_FILE_VAR),
            upgrade_timeout,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: MainConfig = MainConfig {
        timeout: Duration::from_secs(15),
        drain_delay: Duration::ZERO,
        signals: Signal::DEFAULT,
        flavor: Flavor::MultiThread,
        worker_threads: None,
        main_takes_shutdown: true,
        upgrade: DEFAULT_UPGRADE,
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
        assert_eq!(settings.drain_delay, Duration::ZERO);
        assert!(settings.overrides.is_empty());
        assert_eq!(settings.report_path, None);
        assert_eq!(settings.pid_file, None);
        assert_eq!(settings.upgrade_timeout, DEFAULT_UPGRADE_TIMEOUT);
    }

    #[test]
    fn the_environment_overrides() {
        let vars = [
            ("GRACEFUL_TIMEOUT", "1m30s"),
            ("GRACEFUL_DRAIN_DELAY", "5s"),
            ("GRACEFUL_REPORT", "/tmp/r.json"),
            ("GRACEFUL_PID_FILE", "/run/service.pid"),
            ("GRACEFUL_UPGRADE_TIMEOUT", "2m"),
        ];
        let settings = Settings::resolve(&CONFIG, env(&vars)).unwrap();
        assert_eq!(settings.pid_file, Some(PathBuf::from("/run/service.pid")));
        assert_eq!(settings.upgrade_timeout, Duration::from_secs(120));
        assert_eq!(settings.timeout, Duration::from_secs(90));
        assert_eq!(settings.drain_delay, Duration::from_secs(5));
        assert_eq!(
            settings.overrides,
            ["GRACEFUL_TIMEOUT=1m30s", "GRACEFUL_DRAIN_DELAY=5s"]
        );
        assert_eq!(settings.report_path, Some(PathBuf::from("/tmp/r.json")));
    }

    #[test]
    fn a_timeout_longer_than_the_supervisor_budget_is_warned_about() {
        let fits =
            Settings::resolve(&CONFIG, env(&[("GRACEFUL_SUPERVISOR_BUDGET", "30s")])).unwrap();
        assert_eq!(fits.budget_warning(), None);
        assert!(fits.overrides.is_empty(), "the budget overrides nothing");
        let docker =
            Settings::resolve(&CONFIG, env(&[("GRACEFUL_SUPERVISOR_BUDGET", "10s")])).unwrap();
        let warning = docker.budget_warning().expect("15s does not fit in 10s");
        assert!(
            warning.starts_with(
                "the shutdown timeout (15s) does not fit in the supervisor's kill budget (10s"
            ),
            "{warning}"
        );
        assert!(
            warning.contains("Lower the timeout to 9s at most"),
            "{warning}"
        );
        let tight =
            Settings::resolve(&CONFIG, env(&[("GRACEFUL_SUPERVISOR_BUDGET", "15s")])).unwrap();
        assert!(tight.budget_warning().is_some(), "no second to spare");
        assert!(Settings::resolve(&CONFIG, env(&[("GRACEFUL_SUPERVISOR_BUDGET", "ten")])).is_err());
    }

    #[test]
    fn the_drain_delay_must_leave_time_to_drain() {
        let error =
            Settings::resolve(&CONFIG, env(&[("GRACEFUL_DRAIN_DELAY", "15s")])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the drain delay (15s) must be shorter than the timeout (15s), or nothing is left to drain in; \
             shorten GRACEFUL_DRAIN_DELAY or lengthen GRACEFUL_TIMEOUT. Refusing to start."
        );
        let zero = Settings::resolve(&CONFIG, env(&[("GRACEFUL_DRAIN_DELAY", "0")])).unwrap();
        assert_eq!(zero.drain_delay, Duration::ZERO);
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
