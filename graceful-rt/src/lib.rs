//! Graceful shutdown for tokio services: one attribute, one derive, one
//! deadline.
//!
//! When a service is redeployed, its old process gets SIGTERM (Docker,
//! Kubernetes, systemd) or SIGINT (Ctrl-C). `#[graceful_main]` turns that
//! into an orderly stop:
//!
//! 1. the signal handlers are installed before the first line of `main` runs;
//! 2. the first signal starts the shutdown, once: every clone of the
//!    [`Shutdown`] handle sees it, repeats are logged and ignored;
//! 3. `main` stops its server (draining in-flight work) and returns its state;
//! 4. the state's resources are closed concurrently ([`Cleanup`]), none able
//!    to block the others;
//! 5. the process exits 0, or with a code that says what went wrong
//!    ([`exit_code`]); and if anything is still running at the deadline, a
//!    thread of its own ends the process then, saying what was pending.
//!
//! ```no_run
//! use graceful_rt::{graceful_main, BoxError, Cleanup, Close, Shutdown};
//!
//! #[derive(Cleanup)]
//! struct App {
//!     #[cleanup]
//!     db: Db,
//!     #[cleanup(timeout = "2s", after = "db")]
//!     cache: Db,
//!     config: String, // untagged: never touched
//! }
//!
//! #[graceful_main(timeout = "15s")]
//! async fn main(shutdown: Shutdown) -> Result<App, std::io::Error> {
//!     let app = App { db: Db::connect().await?, cache: Db::connect().await?, config: String::new() };
//!     // Serve until the shutdown is requested, then drain.
//!     shutdown.requested().await;
//!     Ok(app) // closed after main returns
//! }
//! # struct Db;
//! # impl Db {
//! #     async fn connect() -> std::io::Result<Db> { Ok(Db) }
//! # }
//! # impl Close for Db {
//! #     async fn close(&self) -> Result<(), BoxError> { Ok(()) }
//! # }
//! ```
//!
//! # `#[graceful_main]`
//!
//! `main` takes no argument or one [`Shutdown`], and returns anything
//! [`MainOutput`] accepts: `()`, `Result<(), E>`, a state `S: Cleanup`, or
//! `Result<S, E>`. A `main` without a `Shutdown` argument cannot know when
//! to stop, so it is dropped at the signal.
//!
//! | argument | default | meaning |
//! |---|---|---|
//! | `timeout = "15s"` | `"9s"` | the budget from the first signal to the exit (`"500ms"`, `"1m30s"`, `"1.5s"`); `GRACEFUL_TIMEOUT` overrides it |
//! | `drain_delay = "5s"` | `"0s"` | the lame duck: servers keep serving while readiness fails, before draining; shorter than `timeout`; `GRACEFUL_DRAIN_DELAY` overrides it |
//! | `signals = [SIGTERM, SIGINT, SIGHUP]` | `[SIGTERM, SIGINT]`; on Windows `[CTRL_C, CTRL_BREAK, CTRL_CLOSE, CTRL_SHUTDOWN]` | the signals that start the shutdown ([`Signal`]) |
//! | `flavor = "current_thread"` | `"multi_thread"` | the tokio runtime, as in `#[tokio::main]` |
//! | `worker_threads = 4` | one per core | worker threads of the `multi_thread` runtime |
//! | `crate = "shutdown_kit"` | `"::graceful_rt"` | the path of this crate, when the dependency is renamed in Cargo.toml (`shutdown_kit = { package = "graceful-rt", .. }`) or re-exported |
//!
//! The default timeout, 9 s, fits with a second to spare in the 10 s
//! Docker gives a container between SIGTERM and SIGKILL; Kubernetes gives
//! 30 s, systemd 90 s. `GRACEFUL_SUPERVISOR_BUDGET` tells the process its
//! supervisor's budget, and a timeout that does not fit is warned about at
//! startup.
//!
//! # `#[derive(Cleanup)]`
//!
//! On the state `main` returns: every field tagged `#[cleanup]` is closed
//! through its [`Close`] implementation, concurrently with the others;
//! untagged fields are never touched. The derive works on structs with
//! named or tuple fields, with generics.
//!
//! | field option | meaning |
//! |---|---|
//! | `#[cleanup]` | close this field, starting at once |
//! | `timeout = "2s"` | cut the close after this long (default: whatever remains of the shutdown budget) |
//! | `name = "jobs"` | the name in logs and the report (default: the field's name, or its index) |
//! | `with = path::to::close_fn` | close with `async fn close_fn(&FieldType) -> Result<(), E>` instead of `Close` |
//! | `after = "db"`, `after = ["db", "cache"]` | start only once those have ended, however they ended |
//!
//! On the struct itself, `#[cleanup(crate = "shutdown_kit")]` gives the
//! path of this crate when the dependency is renamed or re-exported, as for
//! `#[graceful_main]`.
//!
//! A field whose type itself derives `Cleanup` is closed as a group: its
//! closes are named `field.inner`, and `after = "field"` waits for all of
//! them. A close that fails, panics or hangs never stops the others: it is
//! recorded (`closed db in 12ms`, `cache timed out after 2s`) and makes the
//! exit code 1. Names, `after` targets and cycles are checked at compile
//! time. [`Cleanup::cleanup`] runs the same cleanup in a test and returns
//! its [`CleanupReport`].
//!
//! [`Close`] is implemented for `&T`, `Arc<T>`, `Box<T>`, `Option<T>`
//! (`None` is skipped), `Vec<T>` (every element, concurrently), a writer
//! behind a `tokio::sync::Mutex` (flushed and shut down, such as a
//! `BufWriter<File>`), and, one crate feature each: tokio-util's
//! `CancellationToken` (cancelled) and `TaskTracker` (closed, then waited
//! for) with `tokio-util`; `sqlx`, `deadpool-postgres`, `redis`,
//! `async-nats` and `lapin` for their clients; `opentelemetry` for the
//! OpenTelemetry SDK's tracer, meter and logger providers (flushed, then
//! shut down, on a thread of their own: tag them `after` everything else,
//! so the spans of the drain and of the other closes are exported).
//!
//! With the `tonic-health` feature, `grpc::health_reporter` serves
//! tonic-health's `grpc.health.v1` so that it answers `NOT_SERVING` from
//! the first signal and ends its `Watch` streams when draining begins.
//!
//! [`Tasks`] runs named background tasks under the shutdown: one that fails
//! or panics starts it (exit code 1), and, tagged `#[cleanup]`, closing
//! waits for every one and reports each by name.
//!
//! # Signals
//!
//! - The first signal logs `received SIGTERM, shutting down (timeout 15s)`
//!   and starts the deadline.
//! - A repeated signal never starts a second shutdown: it is logged, with
//!   the time left.
//! - Except a second SIGINT: someone at a terminal pressed Ctrl-C twice,
//!   and the process exits at once with code 130. A SIGTERM followed by a
//!   SIGINT (as some restart scripts send) does not force the exit.
//! - Signals are received on a thread of their own and the deadline is
//!   enforced by another, so the process stops on time even when every
//!   runtime worker is blocked by synchronous code.
//! - **Windows** has console control events instead: Ctrl-C (SIGINT's
//!   twin, `CTRL_C`; twice forces the exit, as on Unix), Ctrl-Break,
//!   Ctrl-Close (the console window is closed) and Ctrl-Shutdown, all four
//!   by default. Windows ends the process about 5 s after Ctrl-Close or
//!   Ctrl-Shutdown, so after those the deadline is capped at 4.5 s, with a
//!   warning when the timeout is longer. A Unix-only signal in `signals`
//!   (SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) is a compile error for a
//!   Windows target, and a Windows event one for a Unix target; for both,
//!   use `#[cfg_attr(unix, graceful_main(signals = [...]))]`. The
//!   `systemd` feature compiles to nothing off Unix.
//!
//! # Upgrades
//!
//! A single instance (a VM under systemd, an edge box) has no load
//! balancer to hide a restart: between the old process closing its
//! listener and the new one binding it, connections are refused. An
//! upgrade by hand-off has none of that gap. On SIGUSR2 (`upgrade =
//! SIGHUP` chooses another signal, `upgrade = none` none), or
//! [`Shutdown::upgrade`], the process starts the executable now at its
//! path, with the listening sockets taken through `listen` (feature
//! `axum`) inherited. The new process takes them with the same `listen`
//! calls and calls [`Shutdown::ready`]; the old one then drains and exits
//! 0 ([`Cause::Upgraded`]). Both accept from the same queue meanwhile, so
//! no connection is refused or reset. A new process that exits, or is not
//! ready within `GRACEFUL_UPGRADE_TIMEOUT` (30 s), is sent SIGTERM, and the
//! old one goes on serving; the log says why. With the `systemd` feature,
//! `MAINPID=` tells systemd to follow the new process (use
//! `NotifyAccess=all`; `examples/systemd` reloads this way).
//!
//! # Logs and the report
//!
//! Log lines go through `tracing` (target `graceful`) when the application
//! has installed a subscriber, and straight to stderr when it has not. The
//! shutdown ends with one summary line, and with `GRACEFUL_REPORT=<path>`
//! the same report is written as JSON: the schema is in [`report`].
//!
//! # Environment
//!
//! - `GRACEFUL_TIMEOUT`: overrides `timeout`. An invalid value refuses to
//!   start, before main runs, with exit code 2.
//! - `GRACEFUL_DRAIN_DELAY`: overrides `drain_delay`.
//! - `GRACEFUL_REPORT`: where to write the JSON report.
//! - `GRACEFUL_PID_FILE`: a file that always holds the PID of the process
//!   in charge, rewritten by an upgrade's new process once it is ready.
//! - `GRACEFUL_UPGRADE_TIMEOUT`: how long an upgrade's new process has to
//!   be ready (default 30 s).
//! - `GRACEFUL_SUPERVISOR_BUDGET`: how long the supervisor waits between
//!   SIGTERM and SIGKILL; a timeout that does not fit in it (with a second
//!   to spare) is warned about at startup, with the fix.
//!
//! # Supervisors
//!
//! With the `systemd` feature, under a `Type=notify` unit, systemd hears
//! `READY=1` from [`Shutdown::ready`], `STOPPING=1` at the first signal,
//! `STATUS=` lines while the servers drain and the cleanup runs, and
//! `EXTEND_TIMEOUT_USEC` covering the shutdown's own deadline, so
//! `TimeoutStopSec` never cuts a shutdown short.

#![cfg_attr(docsrs, feature(doc_cfg))]
// The public API documents its errors and panics, and marks what is
// pointless to call without using the result, as tokio-util does.
#![warn(
    clippy::missing_errors_doc,
    clippy::missing_panics_doc,
    clippy::must_use_candidate,
    clippy::return_self_not_must_use
)]

mod cleanup;
mod config;
mod drained;
mod duration;
mod entry;
mod exit;
#[cfg(feature = "tonic-health")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic-health")))]
pub mod grpc;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;
#[cfg(all(unix, feature = "listen"))]
#[cfg_attr(docsrs, doc(cfg(all(unix, feature = "listen"))))]
pub mod listen;
mod log;
mod notify;
mod process;
mod shutdown;
mod unwind;

pub use exit::code as exit_code;
pub use exit::report;

pub use cleanup::close::Close;
pub use cleanup::tasks::{SpawnError, Tasks};
pub use cleanup::{
    BoxError, Cleanup, CleanupPlan, CleanupReport, CloseError, CloseOutcome, ClosePanic,
    CloseReport, PlanOptions,
};
pub use entry::MainOutput;
/// Derives [`Cleanup`](trait@Cleanup) for a struct: every field tagged
/// `#[cleanup]` is closed, concurrently, when the application stops.
///
/// See the [crate documentation](crate#derivecleanup) for the field options.
pub use graceful_macros::Cleanup;
/// Turns `async fn main` into a process that shuts down gracefully.
///
/// See the [crate documentation](crate#graceful_main) for its arguments and
/// behaviour.
pub use graceful_macros::graceful_main;
pub use process::signal::Signal;
pub use shutdown::{Cause, Draining, Requested, Shutdown};

/// What the macros expand to. Not public API: no semver guarantees.
#[doc(hidden)]
pub mod __private {
    pub use crate::cleanup::close::{CloseWith, close_cleanup};
    pub use crate::cleanup::{CleanupPlan, PlanOptions};
    pub use crate::config::{DEFAULT_UPGRADE, Flavor, MainConfig};
    pub use crate::entry::{MainResult, into_state, result_into_state, run};
    pub use crate::process::signal::Signal;
    pub use crate::shutdown::Shutdown;
    pub use crate::{BoxError, Cleanup, Close};
}
