//! Our signal handlers stay ours (Unix). A dependency that installs its
//! own handler for SIGINT or SIGTERM with `sigaction(2)`, as the `ctrlc`
//! crate does (ctrlc #97), replaces ours without chaining to it: the
//! signal never reaches the shutdown, the deadline never runs, and the
//! process hangs until SIGKILL. (Handlers registered through
//! signal-hook, as tokio's `signal` module and `tokio::signal::ctrl_c` do,
//! add to ours and are not affected.)
//!
//! Right after installing them, [`guard`] records each signal's
//! disposition. [`check`] compares it with the one in force: where another
//! handler has replaced ours, it says so, naming the signal and what it
//! costs, and installs ours again. The other handler then no longer runs
//! for that signal: chaining to it would mean calling a foreign handler
//! from ours, whose safety nothing here can know. It runs when the
//! application says it is ready, when the shutdown begins, and every
//! [`EVERY`] on a thread of its own, for a dependency that installs its
//! handler late. A signal that arrives between the replacement and the
//! next check goes to the other handler: at most [`EVERY`] after the
//! replacement.

use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use crate::log;

/// How often the dispositions are checked.
pub(crate) const EVERY: Duration = Duration::from_secs(1);

/// A signal, its name for the logs, and the disposition we installed.
struct Installed {
    number: libc::c_int,
    signal: &'static str,
    ours: libc::sigaction,
}

// SAFETY (of sending it between threads): a `sigaction` holds a function
// address, flags and a signal mask: plain data, no pointer into memory
// that could be freed or aliased.
#[allow(unsafe_code)]
unsafe impl Send for Installed {}

static INSTALLED: OnceLock<Mutex<Vec<Installed>>> = OnceLock::new();

/// Reads the disposition of signal `number`, or `None` if it cannot be
/// read (not a signal this platform has).
fn current(number: libc::c_int) -> Option<libc::sigaction> {
    // SAFETY: a zeroed `sigaction` is a valid value of that plain C
    // struct, and sigaction(2) with a null new action only writes the
    // current one into `old`, which lives across the call.
    #[allow(unsafe_code)]
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        (libc::sigaction(number, std::ptr::null(), &raw mut old) == 0).then_some(old)
    }
}

/// Records the dispositions of `signals` (their numbers and names; their
/// handlers just installed) and starts the thread that checks them every
/// [`EVERY`].
pub(crate) fn guard(signals: &[(libc::c_int, &'static str)]) {
    let installed: Vec<Installed> = signals
        .iter()
        .filter_map(|&(number, signal)| {
            current(number).map(|ours| Installed {
                number,
                signal,
                ours,
            })
        })
        .collect();
    if INSTALLED.set(Mutex::new(installed)).is_err() {
        return; // Guarded already.
    }
    let spawned = thread::Builder::new()
        .name("graceful-signal-guard".into())
        .spawn(|| {
            loop {
                thread::sleep(EVERY);
                check();
            }
        });
    if let Err(error) = spawned {
        log::warning!(
            "cannot start the thread that checks the signal handlers ({error}); they are checked when the service is ready and when the shutdown begins"
        );
    }
}

/// Checks that every guarded signal still has our handler, and installs it
/// again where another has replaced it, saying so.
pub(crate) fn check() {
    let Some(installed) = INSTALLED.get() else {
        return;
    };
    let installed = installed.lock().unwrap_or_else(PoisonError::into_inner);
    for entry in installed.iter() {
        let Some(now) = current(entry.number) else {
            continue;
        };
        if now.sa_sigaction == entry.ours.sa_sigaction {
            continue;
        }
        // SAFETY: `entry.ours` is the disposition the process had right
        // after signal-hook installed its handler: a handler function that
        // signal-hook never uninstalls (it lives as long as the process),
        // with the flags and mask it chose. Installing it again changes
        // only which function the kernel calls for this signal; the
        // handler it replaces is left alone, never called.
        #[allow(unsafe_code)]
        let restored =
            unsafe { libc::sigaction(entry.number, &raw const entry.ours, std::ptr::null_mut()) }
                == 0;
        let by = match now.sa_sigaction {
            libc::SIG_DFL => "the default action".to_owned(),
            libc::SIG_IGN => "ignoring it".to_owned(),
            other => format!(
                "another handler (at {other:#x}) installed by something else in this process"
            ),
        };
        if restored {
            log::error!(
                "the handler of {signal} was replaced by {by} (the ctrlc crate does this): without ours, {signal} would never start the shutdown. Installed ours again; the other no longer runs for {signal}. To learn of the shutdown, use `Shutdown::requested()` instead of a handler of your own",
                signal = entry.signal
            );
        } else {
            log::error!(
                "the handler of {signal} was replaced by {by}, and ours could not be installed again ({}): {signal} will not start the shutdown",
                std::io::Error::last_os_error(),
                signal = entry.signal
            );
        }
    }
}
