//! The one timeline of a shutdown. Every phase reads the same clock, from
//! the same start:
//!
//! ```text
//! start ──► lame duck ──► drain ───────────────► cleanup ──────► exit
//!           (drain_delay)  │                      │              │
//!                          │        drain deadline┘              │
//!                          │        = deadline − cleanup reserve │
//!                          │                     cleanup deadline┘
//!                          │                     = deadline − exit reserve
//!                          └──────────── deadline = start + timeout ──┘
//! ```
//!
//! - The **cleanup reserve** is 3% of the timeout, at most 1 s: the share
//!   kept for closing resources when the drain runs to its deadline.
//! - The **exit reserve** is 1% of the timeout, at most 50 ms: the cleanup
//!   is cut that long before the deadline, so the report is written and the
//!   process ends by its own hand, on time. The deadline thread is only the
//!   backstop.

use std::time::{Duration, Instant};

use crate::duration;
use crate::shutdown::cause::Cause;

/// The cleanup reserve for a budget: see the module documentation.
pub(crate) fn cleanup_reserve(timeout: Duration) -> Duration {
    (timeout * 3 / 100).min(Duration::from_secs(1))
}

/// The exit reserve for a budget: see the module documentation.
pub(crate) fn exit_reserve(timeout: Duration) -> Duration {
    (timeout / 100).min(Duration::from_millis(50))
}

/// When and why the shutdown started, and the instants of its phases.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeline {
    pub(crate) cause: Cause,
    pub(crate) start: Instant,
    /// The end of the lame duck: draining starts here.
    pub(crate) drain_start: Instant,
    /// Connections still open here are closed.
    pub(crate) drain_deadline: Instant,
    /// Closes still running here are cut.
    pub(crate) cleanup_deadline: Instant,
    /// The deadline thread ends the process here.
    pub(crate) deadline: Instant,
}

impl Timeline {
    /// The budget this shutdown has: its timeout, or less when the system
    /// ends the process sooner after the signal that started it.
    pub(crate) fn budget(&self) -> Duration {
        self.deadline.saturating_duration_since(self.start)
    }

    pub(crate) fn new(
        cause: Cause,
        start: Instant,
        timeout: Duration,
        drain_delay: Duration,
    ) -> Timeline {
        let deadline = duration::after(start, timeout);
        let drain_deadline = deadline - cleanup_reserve(timeout);
        Timeline {
            cause,
            start,
            drain_start: duration::after(start, drain_delay).min(drain_deadline),
            drain_deadline,
            cleanup_deadline: deadline - exit_reserve(timeout),
            deadline,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_in_order_and_inside_the_budget() {
        let start = Instant::now();
        let ms = |instant: Instant| instant.duration_since(start).as_millis();
        let three = Timeline::new(
            Cause::Triggered,
            start,
            Duration::from_secs(3),
            Duration::ZERO,
        );
        assert_eq!(
            (
                ms(three.drain_start),
                ms(three.drain_deadline),
                ms(three.cleanup_deadline),
                ms(three.deadline)
            ),
            (0, 2910, 2970, 3000)
        );
        let fifteen = Timeline::new(
            Cause::Triggered,
            start,
            Duration::from_secs(15),
            Duration::from_secs(5),
        );
        assert_eq!(
            (
                ms(fifteen.drain_start),
                ms(fifteen.drain_deadline),
                ms(fifteen.cleanup_deadline)
            ),
            (5000, 14550, 14950)
        );
        let long = Timeline::new(
            Cause::Triggered,
            start,
            Duration::from_secs(90),
            Duration::from_secs(200),
        );
        assert_eq!(
            ms(long.drain_deadline),
            89_000,
            "the reserve is at most 1 s"
        );
        assert_eq!(
            long.drain_start, long.drain_deadline,
            "the lame duck never outlasts the drain"
        );
        assert_eq!(ms(long.cleanup_deadline), 89_950);
    }
}
