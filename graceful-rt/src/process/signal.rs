//! The signals that start a shutdown, and the thread that receives them.
//!
//! Signals are received on an OS thread of their own (`graceful-signals`),
//! not by a task on the tokio runtime: a runtime whose workers are all
//! blocked by synchronous code still sees its SIGTERM, starts the deadline,
//! and is ended by it. On Unix the thread waits on signal-hook's pipe; on
//! Windows, on tokio's console-event streams, driven by a runtime of its
//! own.
//!
//! This module knows nothing of the shutdown: [`listen`] is given what to
//! call with each signal.

use std::fmt;
use std::io;
use std::thread;
use std::time::Duration;

/// A signal that can start a graceful shutdown.
///
/// `#[graceful_main]` listens for [`Signal::DEFAULT`] unless its `signals`
/// argument says otherwise (`signals = [SIGTERM, SIGINT, SIGHUP]`). On Unix
/// those are signals; on Windows, console control events. SIGKILL and
/// SIGSTOP cannot be caught by any process and are not listed. A shutdown
/// a signal started has the cause [`Cause::Signal`](crate::Cause::Signal).
///
/// # Examples
///
/// ```
/// use graceful_rt::Signal;
///
/// assert_eq!(Signal::Terminate.name(), "SIGTERM");
/// assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
///
/// // The defaults are always deliverable where they are the defaults.
/// assert!(Signal::DEFAULT.iter().all(|signal| signal.is_supported()));
///
/// let here: Vec<&str> = Signal::ALL
///     .iter()
///     .filter(|signal| signal.is_supported())
///     .map(|signal| signal.name())
///     .collect();
/// if cfg!(unix) {
///     assert_eq!(here, ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]);
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGTERM (Unix): what Docker, Kubernetes and systemd send to stop a
    /// process.
    Terminate,
    /// SIGINT: Ctrl-C at a terminal (on Windows, the `CTRL_C_EVENT`). A
    /// second one ends the process at once.
    Interrupt,
    /// SIGHUP (Unix): the controlling terminal went away.
    Hangup,
    /// SIGQUIT (Unix): Ctrl-\ at a terminal.
    Quit,
    /// SIGUSR1 (Unix).
    User1,
    /// SIGUSR2 (Unix).
    User2,
    /// Ctrl-Break at a Windows console (`CTRL_BREAK_EVENT`).
    CtrlBreak,
    /// The Windows console is being closed (`CTRL_CLOSE_EVENT`): Windows
    /// ends the process about 5 s later, whatever it is doing.
    CtrlClose,
    /// Windows is shutting down (`CTRL_SHUTDOWN_EVENT`): it ends the
    /// process about 5 s later.
    CtrlShutdown,
    /// The Windows Service Control Manager stops the service
    /// (`SERVICE_CONTROL_STOP`: `sc stop`, `Stop-Service`, the Services
    /// console). Received by a process the SCM started as a service, with
    /// the feature `windows-service`, whatever `signals` says.
    ServiceStop,
    /// Windows is shutting down and the SCM stops the service
    /// (`SERVICE_CONTROL_SHUTDOWN`): it ends the process about 5 s later.
    ServiceShutdown,
    /// Windows is about to shut down and the SCM stops the service first
    /// (`SERVICE_CONTROL_PRESHUTDOWN`): it ends the process after the
    /// service's preshutdown timeout (10 s by default).
    ServicePreshutdown,
}

/// How long Windows leaves a process after `CTRL_CLOSE_EVENT` or
/// `CTRL_SHUTDOWN_EVENT` (its default hung-app and wait-to-kill timeouts).
const WINDOWS_KILL_BUDGET: Duration = Duration::from_secs(5);

impl Signal {
    /// The signals listened for by default: SIGTERM and SIGINT on Unix;
    /// Ctrl-C, Ctrl-Break, Ctrl-Close and Ctrl-Shutdown on Windows.
    pub const DEFAULT: &'static [Signal] = if cfg!(windows) {
        &[
            Signal::Interrupt,
            Signal::CtrlBreak,
            Signal::CtrlClose,
            Signal::CtrlShutdown,
        ]
    } else {
        &[Signal::Terminate, Signal::Interrupt]
    };

    /// Every signal that can start a shutdown, on one platform or another.
    pub const ALL: &'static [Signal] = &[
        Signal::Terminate,
        Signal::Interrupt,
        Signal::Hangup,
        Signal::Quit,
        Signal::User1,
        Signal::User2,
        Signal::CtrlBreak,
        Signal::CtrlClose,
        Signal::CtrlShutdown,
        Signal::ServiceStop,
        Signal::ServiceShutdown,
        Signal::ServicePreshutdown,
    ];

    /// The conventional name, such as `"SIGTERM"` or `"Ctrl-Break"`: what
    /// the log and the report's `cause` say. [`Interrupt`](Signal::Interrupt)
    /// is `"SIGINT"` on Unix and `"Ctrl-C"` on Windows. Its `Display` writes
    /// the same.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt if cfg!(windows) => "Ctrl-C",
            Signal::Interrupt => "SIGINT",
            Signal::Hangup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
            Signal::CtrlBreak => "Ctrl-Break",
            Signal::CtrlClose => "Ctrl-Close",
            Signal::CtrlShutdown => "Ctrl-Shutdown",
            Signal::ServiceStop => "SERVICE_CONTROL_STOP",
            Signal::ServiceShutdown => "SERVICE_CONTROL_SHUTDOWN",
            Signal::ServicePreshutdown => "SERVICE_CONTROL_PRESHUTDOWN",
        }
    }

    /// Whether this platform can deliver the signal: the Unix signals on
    /// Unix, the console events on Windows, [`Interrupt`](Signal::Interrupt)
    /// on both. `#[graceful_main]` refuses, at compile time, a `signals`
    /// entry the target cannot deliver.
    #[must_use]
    pub const fn is_supported(self) -> bool {
        match self {
            Signal::Interrupt => cfg!(any(unix, windows)),
            Signal::Terminate | Signal::Hangup | Signal::Quit | Signal::User1 | Signal::User2 => {
                cfg!(unix)
            }
            Signal::CtrlBreak | Signal::CtrlClose | Signal::CtrlShutdown => cfg!(windows),
            Signal::ServiceStop | Signal::ServiceShutdown | Signal::ServicePreshutdown => {
                cfg!(all(windows, feature = "windows-service"))
            }
        }
    }

    /// How long the system leaves the process after this signal before it
    /// ends it regardless, if it does: the shutdown's deadline is capped
    /// under it.
    pub(crate) fn kill_budget(self) -> Option<Duration> {
        match self {
            Signal::CtrlClose | Signal::CtrlShutdown | Signal::ServiceShutdown => {
                Some(WINDOWS_KILL_BUDGET)
            }
            Signal::ServicePreshutdown => Some(preshutdown_timeout()),
            _ => None,
        }
    }
}

/// The preshutdown timeout of this process's service, as the SCM has it.
fn preshutdown_timeout() -> Duration {
    #[cfg(all(windows, feature = "windows-service"))]
    if let Some(timeout) = crate::process::windows_service::preshutdown_timeout() {
        return timeout;
    }
    DEFAULT_PRESHUTDOWN_TIMEOUT
}

/// Windows' preshutdown timeout when the SCM cannot be asked: its default
/// since Windows 10 1703.
pub(crate) const DEFAULT_PRESHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Installs the handlers for `signals` now, on the calling thread, and
/// starts the thread that calls `received` with each signal received.
///
/// When this returns, the default action of those signals (ending the
/// process) is replaced: a signal that arrives from here on is delivered.
///
/// # Errors
///
/// A signal this platform cannot deliver, or the OS refusing a handler or
/// a thread.
pub(crate) fn listen(
    signals: &[Signal],
    received: impl Fn(Signal) + Send + Sync + 'static,
) -> io::Result<()> {
    if let Some(signal) = signals.iter().find(|signal| !signal.is_supported()) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{signal} cannot be received on this platform"),
        ));
    }
    os::listen(signals, received)
}

fn spawn(body: impl FnOnce() + Send + 'static) -> io::Result<()> {
    thread::Builder::new()
        .name("graceful-signals".into())
        .spawn(body)
        .map(drop)
}

#[cfg(unix)]
mod os {
    use std::io;

    use signal_hook::consts::signal;

    use super::Signal;

    fn number(signal: Signal) -> Option<i32> {
        Some(match signal {
            Signal::Terminate => signal::SIGTERM,
            Signal::Interrupt => signal::SIGINT,
            Signal::Hangup => signal::SIGHUP,
            Signal::Quit => signal::SIGQUIT,
            Signal::User1 => signal::SIGUSR1,
            Signal::User2 => signal::SIGUSR2,
            Signal::CtrlBreak
            | Signal::CtrlClose
            | Signal::CtrlShutdown
            | Signal::ServiceStop
            | Signal::ServiceShutdown
            | Signal::ServicePreshutdown => return None,
        })
    }

    fn from_number(received: i32) -> Option<Signal> {
        Signal::ALL
            .iter()
            .copied()
            .find(|&signal| number(signal) == Some(received))
    }

    pub(super) fn listen(
        signals: &[Signal],
        received: impl Fn(Signal) + Send + Sync + 'static,
    ) -> io::Result<()> {
        let mut incoming =
            signal_hook::iterator::Signals::new(signals.iter().filter_map(|&s| number(s)))?;
        // Installed now: record them, so that a handler that replaces one
        // of ours is found and undone (see `disposition`).
        let installed: Vec<_> = signals
            .iter()
            .filter_map(|&signal| Some((number(signal)?, signal.name())))
            .collect();
        crate::process::disposition::guard(&installed);
        super::spawn(move || {
            for number in incoming.forever() {
                if let Some(signal) = from_number(number) {
                    received(signal);
                }
            }
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn numbers_round_trip() {
            for &signal in Signal::ALL.iter().filter(|signal| signal.is_supported()) {
                assert_eq!(from_number(number(signal).unwrap()), Some(signal));
            }
            assert_eq!(from_number(signal_hook::consts::SIGKILL), None);
        }
    }
}

#[cfg(windows)]
mod os {
    use std::io;
    use std::sync::Arc;

    use tokio::signal::windows;

    use super::Signal;

    /// tokio's console-event streams, created now (so the handler is
    /// installed when this returns) on a current-thread runtime that the
    /// signal thread then drives.
    pub(super) fn listen(
        signals: &[Signal],
        received: impl Fn(Signal) + Send + Sync + 'static,
    ) -> io::Result<()> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let received = Arc::new(received);
        // The SCM's stop controls, for a process that is a service.
        #[cfg(feature = "windows-service")]
        crate::process::windows_service::route(received.clone());
        {
            let _entered = runtime.enter();
            for &signal in signals {
                let received = Arc::clone(&received);
                macro_rules! forward {
                    ($events:expr) => {{
                        let mut events = $events?;
                        runtime.spawn(async move {
                            while events.recv().await.is_some() {
                                received(signal);
                            }
                        });
                    }};
                }
                match signal {
                    Signal::Interrupt => forward!(windows::ctrl_c()),
                    Signal::CtrlBreak => forward!(windows::ctrl_break()),
                    Signal::CtrlClose => forward!(windows::ctrl_close()),
                    Signal::CtrlShutdown => forward!(windows::ctrl_shutdown()),
                    // `listen` refused the others.
                    _ => {}
                }
            }
        }
        super::spawn(move || runtime.block_on(std::future::pending::<()>()))
    }
}

#[cfg(not(any(unix, windows)))]
mod os {
    use std::io;

    use super::Signal;

    pub(super) fn listen(
        _signals: &[Signal],
        _received: impl Fn(Signal) + Send + Sync + 'static,
    ) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this platform has no signals graceful-rt can receive",
        ))
    }
}
