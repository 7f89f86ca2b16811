//! What started a shutdown. A leaf: the timeline, the shutdown handle and
//! the report all name it.

use std::fmt;

use crate::process::signal::Signal;

/// What started the shutdown.
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
