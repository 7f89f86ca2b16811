//! The deadline's enforcer: an OS thread that sleeps until the hard
//! deadline and then ends the process, writing what was still pending.
//!
//! It depends on nothing but the OS clock: not on tokio's timer, not on a
//! runtime worker. A runtime whose every worker is blocked in synchronous
//! code is still ended on time. When the process finishes first, it exits
//! and the sleeping thread goes with it.

use std::sync::Arc;
use std::thread;
use std::time::Instant;

use crate::log;
use crate::phase::PhaseMachine;

/// Starts the thread that ends the process at `deadline`.
pub(crate) fn arm(machine: Arc<PhaseMachine>, deadline: Instant) {
    let spawned = thread::Builder::new()
        .name("graceful-deadline".into())
        .spawn(move || {
            // `thread::sleep` sleeps at least this long, resuming after
            // interruptions, so the deadline is never enforced early.
            thread::sleep(deadline.saturating_duration_since(Instant::now()));
            machine.deadline_passed();
        });
    if let Err(error) = spawned {
        log::error!(
            "cannot start the deadline thread, the shutdown deadline will not be enforced: {error}"
        );
    }
}
