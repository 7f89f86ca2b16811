//! The signals that start a shutdown, and the thread that receives them.
//!
//! Signals are received on an OS thread of their own (`graceful-signals`),
//! not by a task on the tokio runtime: a runtime whose workers are all
//! blocked by synchronous code still sees its SIGTERM, starts the deadline,
//! and is ended by it.

use std::fmt;
use std::io;
use std::thread;

use crate::shutdown::Shutdown;

/// A signal that can start a graceful shutdown.
///
/// `#[graceful_main]` listens for [`Signal::Terminate`] and
/// [`Signal::Interrupt`] unless its `signals` argument says otherwise
/// (`signals = [SIGTERM, SIGINT, SIGHUP]`). SIGKILL and SIGSTOP cannot be
/// caught by any process and are not listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// SIGTERM: what Docker, Kubernetes and systemd send to stop a process.
    Terminate,
    /// SIGINT: Ctrl-C at a terminal. A second one ends the process at once.
    Interrupt,
    /// SIGHUP: the controlling terminal went away.
    Hangup,
    /// SIGQUIT: Ctrl-\ at a terminal.
    Quit,
    /// SIGUSR1.
    User1,
    /// SIGUSR2.
    User2,
}

impl Signal {
    /// The signals listened for by default: SIGTERM and SIGINT.
    pub const DEFAULT: &'static [Signal] = &[Signal::Terminate, Signal::Interrupt];

    /// Every signal that can start a shutdown.
    pub const ALL: &'static [Signal] = &[
        Signal::Terminate,
        Signal::Interrupt,
        Signal::Hangup,
        Signal::Quit,
        Signal::User1,
        Signal::User2,
    ];

    /// The conventional name, such as `"SIGTERM"`.
    pub const fn name(self) -> &'static str {
        match self {
            Signal::Terminate => "SIGTERM",
            Signal::Interrupt => "SIGINT",
            Signal::Hangup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
        }
    }

    fn number(self) -> i32 {
        use signal_hook::consts::signal;
        match self {
            Signal::Terminate => signal::SIGTERM,
            Signal::Interrupt => signal::SIGINT,
            Signal::Hangup => signal::SIGHUP,
            Signal::Quit => signal::SIGQUIT,
            Signal::User1 => signal::SIGUSR1,
            Signal::User2 => signal::SIGUSR2,
        }
    }

    fn from_number(number: i32) -> Option<Signal> {
        Signal::ALL
            .iter()
            .copied()
            .find(|signal| signal.number() == number)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Installs the handlers for `signals` now, on the calling thread, and
/// starts the thread that passes each received signal to `shutdown`.
///
/// When this returns, the default action of those signals (ending the
/// process) is replaced: a signal that arrives from here on is delivered.
pub(crate) fn listen(signals: &[Signal], shutdown: Shutdown) -> io::Result<()> {
    let mut received = signal_hook::iterator::Signals::new(signals.iter().map(|s| s.number()))?;
    thread::Builder::new()
        .name("graceful-signals".into())
        .spawn(move || {
            for number in received.forever() {
                if let Some(signal) = Signal::from_number(number) {
                    shutdown.on_signal(signal);
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip() {
        for &signal in Signal::ALL {
            assert_eq!(Signal::from_number(signal.number()), Some(signal));
        }
        assert_eq!(Signal::from_number(signal_hook::consts::SIGKILL), None);
    }
}
