//! What started a shutdown. A leaf: the timeline, the shutdown handle and
//! the report all name it.

use std::fmt;

use crate::process::signal::Signal;

/// What started the shutdown: [`Shutdown::cause`](crate::Shutdown::cause).
///
/// The first cause wins: a signal after a trigger, or a task failing during
/// a shutdown, changes nothing. Its `Display` is the report's `cause`
/// ([`Report::cause`](crate::report::Report::cause)): the signal's name
/// (`SIGTERM`), `trigger`, `main_returned`, `task NAME failed` or
/// `upgrade`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::{Cause, Shutdown, Signal};
///
/// fn why(cause: Cause) -> String {
///     match cause {
///         Cause::Signal(Signal::Terminate) => "stopped by the supervisor".to_owned(),
///         Cause::Upgraded(pid) => format!("replaced by pid {pid}"),
///         // Non-exhaustive: later versions may add causes.
///         other => format!("stopped: {other}"),
///     }
/// }
///
/// let shutdown = Shutdown::new(Duration::from_secs(5));
/// assert_eq!(shutdown.cause(), None);
/// shutdown.trigger();
/// assert_eq!(shutdown.cause(), Some(Cause::Triggered));
/// assert_eq!(why(Cause::Triggered), "stopped: trigger");
/// assert_eq!(why(Cause::Signal(Signal::Terminate)), "stopped by the supervisor");
/// assert_eq!(Cause::TaskFailed("mailer").to_string(), "task mailer failed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A signal arrived.
    Signal(Signal),
    /// The application called [`Shutdown::trigger`](crate::Shutdown::trigger).
    Triggered,
    /// `main` returned on its own; what it returned is being cleaned up.
    MainReturned,
    /// A task of [`Tasks`](crate::Tasks) returned an error or panicked:
    /// its name. The log says what went wrong, and the exit code is 1.
    TaskFailed(&'static str),
    /// An upgrade by hand-off: the new process (its PID) said it is ready
    /// and serves from the listening sockets this one handed over; this one
    /// drains and exits, with no lame duck. See
    /// [`Shutdown::upgrade`](crate::Shutdown::upgrade).
    Upgraded(u32),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Signal(signal) => f.write_str(signal.name()),
            Cause::Triggered => f.write_str("trigger"),
            Cause::MainReturned => f.write_str("main_returned"),
            Cause::TaskFailed(name) => write!(f, "task {name} failed"),
            Cause::Upgraded(_) => f.write_str("upgrade"),
        }
    }
}
