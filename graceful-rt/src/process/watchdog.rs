//! The deadline's enforcer: an OS thread that sleeps until the hard
//! deadline and then ends the process, writing what was still pending.
//!
//! It depends on nothing but the OS clock: not on tokio's timer, not on a
//! runtime worker. A runtime whose every worker is blocked in synchronous
//! code is still ended on time. When the process finishes first, it exits
//! and the sleeping thread goes with it.

use std::thread;
use std::time::Instant;

use crate::log;

/// Starts the thread that calls `passed` at `deadline`: the phase machine
/// gives what ends the process, so this module knows nothing of it.
pub(crate) fn arm(deadline: Instant, passed: impl FnOnce() + Send + 'static) {
    let spawned = thread::Builder::new()
        .name("graceful-deadline".into())
        .spawn(move || {
            // `thread::sleep` sleeps at least this long, resuming after
            // interruptions, so the deadline is never enforced early.
            thread::sleep(deadline.saturating_duration_since(Instant::now()));
            passed();
        });
    if let Err(error) = spawned {
        log::error!(
            "cannot start the deadline thread, the shutdown deadline will not be enforced: {error}"
        );
    }
}
