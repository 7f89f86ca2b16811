//! The exit codes a `#[graceful_main]` process ends with.
//!
//! They come from one place, the end of the shutdown, so a supervisor, a
//! deploy script or an on-call engineer can tell from the code alone what
//! happened:
//!
//! | code | constant | meaning |
//! |---:|---|---|
//! | 0 | [`CLEAN`] | main returned, every cleanup closed |
//! | 1 | [`FAILED`] | main returned `Err`, a cleanup failed, panicked or timed out, or a task of [`Tasks`](crate::Tasks) failed |
//! | 2 | [`INVALID_CONFIG`] | refused to start: an invalid `GRACEFUL_*` variable (nothing ran) |
//! | 3 | [`DRAIN_CUT`] | the drain deadline cut requests or connections still open; the cleanup ran |
//! | 101 | [`PANICKED`] | main panicked (the code Rust itself uses) |
//! | 124 | [`DEADLINE`] | forced: the shutdown deadline passed with work still pending |
//! | 130 | [`INTERRUPTED`] | forced: a second Ctrl-C (SIGINT) asked to stop at once |
//!
//! A shutdown started by SIGTERM that finishes in time exits 0, not 143:
//! systemd and Kubernetes count the stop as clean. The JSON report gives
//! the same code with its outcome
//! ([`report::Outcome::exit_code`](crate::report::Outcome::exit_code)).
//!
//! # Examples
//!
//! A deploy tool that tells, from the code of the process it stopped, what
//! to do next:
//!
//! ```
//! use graceful_rt::exit_code;
//! use graceful_rt::report::Outcome;
//!
//! /// `code` is `ExitStatus::code()` of the stopped process.
//! fn verdict(code: Option<i32>) -> &'static str {
//!     match code {
//!         Some(exit_code::CLEAN) => "stopped cleanly",
//!         Some(exit_code::DRAIN_CUT) => "requests were cut: lengthen the timeout or the drain",
//!         Some(exit_code::DEADLINE) => "forced at the deadline: read the report's pending",
//!         Some(exit_code::INVALID_CONFIG) => "refused to start: fix its environment",
//!         Some(exit_code::INTERRUPTED) => "interrupted by hand",
//!         Some(_) => "failed: read its log",
//!         None => "killed by a signal it did not handle",
//!     }
//! }
//!
//! assert_eq!(verdict(Some(0)), "stopped cleanly");
//! assert_eq!(verdict(Some(Outcome::Deadline.exit_code())), "forced at the deadline: read the report's pending");
//! assert_eq!(exit_code::DRAIN_CUT, Outcome::DrainCut.exit_code());
//! ```

/// Main returned and every cleanup closed.
pub const CLEAN: i32 = 0;
/// Main returned `Err`, or at least one cleanup failed, panicked or timed out.
pub const FAILED: i32 = 1;
/// The process refused to start: a `GRACEFUL_*` environment variable is invalid.
pub const INVALID_CONFIG: i32 = 2;
/// The HTTP drain reached its deadline and cut requests or connections
/// that were still open. Everything else (main, the cleanup) went well.
pub const DRAIN_CUT: i32 = 3;
/// Main panicked. The panic message was printed by the panic hook.
pub const PANICKED: i32 = 101;
/// The shutdown deadline passed with work still pending; the process was
/// ended without waiting for it. The same code as `timeout(1)`.
pub const DEADLINE: i32 = 124;
/// A second SIGINT (Ctrl-C pressed twice) ended the process at once,
/// skipping whatever was still pending. 128 + SIGINT, as shells report it.
pub const INTERRUPTED: i32 = 130;
