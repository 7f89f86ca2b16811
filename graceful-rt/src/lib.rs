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
//! 3. `main` stops its server (draining in-flight work: [`http`]) and
//!    returns its state;
//! 4. the state's resources are closed concurrently ([`Cleanup`]), none able
//!    to block the others;
//! 5. the process exits 0, or with a code that says what went wrong
//!    ([`exit_code`]), after one summary line and, if asked, a JSON
//!    [`report`]; and if anything is still running at the deadline, a
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
//! This page is the reference: the attribute's arguments, the derive's
//! options, the environment variables and the features are listed here and
//! nowhere else; the exit codes in [`exit_code`], the report's schema in
//! [`report`], the drain's steps in [`http`]. Tests fail when the code and
//! these tables disagree.
//!
//! # `#[graceful_main]`
//!
//! `main` takes no argument or one [`Shutdown`], and returns anything
//! [`MainOutput`] accepts: `()`, `Result<(), E>`, a state `S: Cleanup`, or
//! `Result<S, E>` (`E: Debug`; an `Err` is printed as Rust prints main's
//! error, and the exit code is 1). A `main` without a `Shutdown` argument
//! cannot know when to stop, so it is dropped at the signal.
//!
//! | argument | default | meaning |
//! |---|---|---|
//! | `timeout = "15s"` | `"9s"` | the budget from the first signal to the exit: `"500ms"`, `"1m30s"`, `"1.5s"`; `GRACEFUL_TIMEOUT` overrides it |
//! | `drain_delay = "5s"` | `"0s"` | the lame duck: servers keep serving while readiness fails, before draining; shorter than `timeout`; `GRACEFUL_DRAIN_DELAY` overrides it |
//! | `signals = [SIGTERM, SIGINT, SIGHUP]` | `[SIGTERM, SIGINT]`; on Windows `[CTRL_C, CTRL_BREAK, CTRL_CLOSE, CTRL_SHUTDOWN]` | the signals that start the shutdown ([`Signal`]): `SIGTERM`, `SIGINT`, `SIGHUP`, `SIGQUIT`, `SIGUSR1`, `SIGUSR2` on Unix; `CTRL_C` (SIGINT's twin), `CTRL_BREAK`, `CTRL_CLOSE`, `CTRL_SHUTDOWN` on Windows |
//! | `upgrade = SIGHUP` | `SIGUSR2` on Unix, none elsewhere | the signal that starts an [upgrade by hand-off](#upgrades); `upgrade = none` for none. It cannot also be in `signals`, nor be SIGTERM or SIGINT |
//! | `flavor = "current_thread"` | `"multi_thread"` | the tokio runtime, as in `#[tokio::main]` |
//! | `worker_threads = 4` | one per core | worker threads of the `multi_thread` runtime |
//! | `crate = "shutdown_kit"` | `"::graceful_rt"` | the path of this crate, when the dependency is renamed in Cargo.toml (`shutdown_kit = { package = "graceful-rt", .. }`) or re-exported |
//!
//! The default timeout, 9 s, fits with a second to spare in the 10 s
//! Docker gives a container between SIGTERM and SIGKILL; Kubernetes gives
//! 30 s, systemd 90 s. `GRACEFUL_SUPERVISOR_BUDGET` tells the process its
//! supervisor's budget, and a timeout that does not fit is warned about at
//! startup. Every misuse (a missing unit, a zero timeout, an unknown or
//! repeated argument, SIGKILL, a `main` that is not `async`, a return type
//! it cannot accept) is a compile error that says what to write instead.
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
//! | `crate = "shutdown_kit"` | on the struct, not a field: the path of this crate, as for `#[graceful_main]` |
//!
//! A field whose type itself derives `Cleanup` is closed as a group: its
//! closes are named `field.inner`, and `after = "field"` waits for all of
//! them. A close that fails, panics or hangs never stops the others: it is
//! recorded (`closed db in 12ms`, `cache timed out after 2s`) and makes the
//! exit code 1. The total is the longest `after` chain, not the sum. Names,
//! `after` targets and cycles are checked at compile time.
//! [`Cleanup::cleanup`] runs the same cleanup in a test and returns its
//! [`CleanupReport`].
//!
//! [`Close`] is implemented for `&T`, `Arc<T>`, `Box<T>`, `Option<T>`
//! (`None` is skipped), `Vec<T>` (every element, concurrently), a writer
//! behind a `tokio::sync::Mutex` (flushed and shut down, such as a
//! `BufWriter<File>`), [`Tasks`], and, one feature each (below), the
//! clients services use; each implementation's docs say what its close
//! guarantees.
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
//! - A dependency's own handler (the `ctrlc` crate's, say) that replaces
//!   ours is found when the service calls [`Shutdown::ready`], when the
//!   shutdown begins, and within a second otherwise; it is logged as an
//!   error naming the signal, and undone.
//! - **Windows** has console control events instead: Ctrl-C (SIGINT's
//!   twin, `CTRL_C`; twice forces the exit, as on Unix), Ctrl-Break,
//!   Ctrl-Close (the console window is closed) and Ctrl-Shutdown, all four
//!   by default. Windows ends the process about 5 s after Ctrl-Close or
//!   Ctrl-Shutdown, so after those the deadline is capped at 4.5 s, with a
//!   warning when the timeout is longer. A Unix-only signal in `signals`
//!   is a compile error for a Windows target, and a Windows event one for
//!   a Unix target; for both, use
//!   `#[cfg_attr(unix, graceful_main(signals = [...]))]`.
//!
//! # The deadline
//!
//! One deadline runs from the first signal: `timeout` later, a thread that
//! depends on nothing but the OS clock ends the process (exit code 124),
//! writing what was still pending. Servers drain until the drain deadline,
//! the deadline less a cleanup reserve (3% of the timeout, at most 1 s);
//! the cleanup is cut a moment before the deadline (1% of the budget, at
//! most 50 ms), so a hanging close is normally recorded as timed out and
//! the process ends on its own terms (exit code 1).
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
//! `listen`) inherited. The new process takes them with the same `listen`
//! calls and calls [`Shutdown::ready`]; the old one then drains and exits
//! 0 ([`Cause::Upgraded`]). Both accept from the same queue meanwhile, so
//! no connection is refused or reset. A new process that exits, or is not
//! ready within `GRACEFUL_UPGRADE_TIMEOUT` (30 s), is sent SIGTERM, and the
//! old one goes on serving; the log says why. With the `systemd` feature,
//! `MAINPID=` tells systemd to follow the new process (use
//! `NotifyAccess=all`).
//!
//! # Logs
//!
//! Log lines go through `tracing` (target `graceful`) when the application
//! has installed a subscriber, and straight to stderr when it has not. The
//! shutdown ends with one summary line (`shutdown complete: cause SIGTERM,
//! drained in 312ms, cleanup 15ms [db closed 12ms], total 327ms; exit code
//! 0`); with `GRACEFUL_REPORT=<path>` the same is written as JSON
//! ([`report`]).
//!
//! # Environment
//!
//! Read once, before `main` runs. A variable given here wins over the
//! attribute's argument of the same meaning.
//!
//! | variable | effect |
//! |---|---|
//! | `GRACEFUL_TIMEOUT` | replaces `timeout`, in the same forms. An invalid value refuses to start, before `main` runs, with exit code 2 and a message naming the variable and the accepted forms |
//! | `GRACEFUL_DRAIN_DELAY` | replaces `drain_delay` (`"0s"` for none); it must stay shorter than the timeout, or the process refuses to start (exit code 2) |
//! | `GRACEFUL_REPORT` | a file path: the shutdown report is written there as JSON ([`report`]), also on a forced exit |
//! | `GRACEFUL_PID_FILE` | a file path that always holds the PID of the process in charge: written at start, rewritten by an upgrade's new process once it is ready (by rename), removed at the exit by the process it names |
//! | `GRACEFUL_UPGRADE_TIMEOUT` | how long an upgrade's new process has to call [`Shutdown::ready`] (default `30s`); after that it is sent SIGTERM and the old process goes on serving. Invalid: exit code 2 |
//! | `GRACEFUL_SUPERVISOR_BUDGET` | how long the supervisor waits between SIGTERM and SIGKILL (Docker's `--stop-timeout`, Kubernetes' `terminationGracePeriodSeconds` less any preStop hook, systemd's `TimeoutStopSec`); a timeout that does not fit with a second to spare is warned about at startup, with the fix |
//! | `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES` | set by systemd for socket activation: `listen::tcp` and `listen::unix` take the sockets they pass |
//! | `NOTIFY_SOCKET` | set by systemd for a `Type=notify` or `Type=notify-reload` unit: with the `systemd` feature, the process reports `READY=1`, `RELOADING=1`, `STOPPING=1`, `STATUS=`, `MAINPID=` and `EXTEND_TIMEOUT_USEC=` there |
//! | `WATCHDOG_USEC`, `WATCHDOG_PID` | set by systemd for a unit with `WatchdogSec=`: with the `systemd` feature, a task on the runtime sends `WATCHDOG=1` every half period (when `WATCHDOG_PID`, if set, is this process), through the shutdown, so a runtime whose workers are all blocked goes quiet and is restarted |
//! | `GRACEFUL_UPGRADE_FROM`, `GRACEFUL_LISTEN_FDS`, `GRACEFUL_UPGRADE_READY_FD` | set by an upgrading process for its new process (the old PID, the handed-over sockets, the readiness pipe); never set them by hand |
//!
//! # Features
//!
//! None is on by default. Each integration is named after the crate it
//! integrates.
//!
//! | feature | what it adds |
//! |---|---|
//! | `axum` | [`http::serve`](crate#http), the drain for axum and any tower service over hyper; `http::DrainLayer` and `http::Readiness`; HTTP/1.1, as axum's default features; enables `listen` |
//! | `http2` | HTTP/2 beside HTTP/1.1 for `http::serve` (h2c with prior knowledge, h2 over TLS), as axum's `http2` feature: hyper's HTTP/2 server and the h2 crate; enables `axum`. gRPC needs it. Without it, an HTTP/2 client's connection is closed and the log says, once, to enable it |
//! | `listen` | `listen::tcp` and `listen::unix` (Unix): the socket systemd passed (socket activation), or the one an upgrade handed over, or a new one; sockets taken this way are handed over by an [upgrade](#upgrades) |
//! | `tonic-health` | `grpc::health_reporter`: `grpc.health.v1` that answers `NOT_SERVING` from the first signal and ends its `Watch` streams when draining begins; enables `http2` |
//! | `systemd` | the notify protocol (no dependency: a datagram to `NOTIFY_SOCKET`) |
//! | `windows-service` | the Windows Service Control Manager (Windows; elsewhere nothing): a process the SCM started stops at `Stop`, `Shutdown` and `Preshutdown`, and reports its progress and exit code ([Supervisors](#supervisors)) |
//! | `serde` | `Serialize` and `Deserialize` for the [`report`]'s types, to read the JSON back |
//! | `tokio-util` | [`Close`] for `CancellationToken` (cancelled) and `TaskTracker` (closed, then waited for) |
//! | `sqlx` | [`Close`] for `sqlx::Pool` (SQLite, PostgreSQL, MySQL): waits for checked-out connections, then closes them all |
//! | `deadpool-postgres` | [`Close`] for `deadpool_postgres::Pool` |
//! | `redis` | [`Close`] for redis's `MultiplexedConnection` and `ConnectionManager`: a round trip after every command sent before it |
//! | `async-nats` | [`Close`] for `async_nats::Client`: flush, then drain |
//! | `lapin` | [`Close`] for lapin's `Channel` (after its publisher confirms) and `Connection` |
//! | `rdkafka` | [`Close`] for rdkafka's `Arc<StreamConsumer>` and `Arc<BaseConsumer>`: the stored offsets committed synchronously, then the consumer closed (leaving its group), on a thread of its own, so a broker that is gone costs the close's timeout, never the exit. rdkafka-sys compiles librdkafka from C (a C compiler and `make`) |
//! | `opentelemetry` | [`Close`] for the OpenTelemetry SDK's tracer, meter and logger providers: flushed, then shut down, on a thread of their own (tag them `after` everything else, so the spans of the drain and of the other closes are exported) |
//!
//! # Supervisors
//!
//! With the `systemd` feature, under a `Type=notify` unit, systemd hears
//! `READY=1` from [`Shutdown::ready`], `STOPPING=1` at the first signal,
//! `STATUS=` lines while the servers drain and the cleanup runs, and
//! `EXTEND_TIMEOUT_USEC` covering the shutdown's own deadline, so
//! `TimeoutStopSec` never cuts a shutdown short. With `WatchdogSec=`, it
//! hears `WATCHDOG=1` from a task on the runtime. Under
//! `Type=notify-reload` (systemd 253 and later), `systemctl reload` is an
//! upgrade by hand-off that reports its outcome: `RELOADING=1` when it
//! starts, then `READY=1` from the new process once it is ready, or from
//! the old one, with `STATUS=upgrade failed: ...`, when it fails.
//!
//! With the `windows-service` feature, a process the Windows Service
//! Control Manager started (`sc create NAME binPath= C:\path\service.exe`)
//! is the service: it reports `SERVICE_RUNNING` at start, and the SCM's
//! `Stop`, `Shutdown` and `Preshutdown` controls start the shutdown (the
//! cause is [`Signal::ServiceStop`] and its twins), whatever `signals`
//! says. Until the exit it reports `SERVICE_STOP_PENDING`, its checkpoint
//! rising at each step and its wait hint covering the time the shutdown
//! has left; the last word is `SERVICE_STOPPED` with the exit code
//! (`ERROR_SERVICE_SPECIFIC_ERROR` and the code, when it is not 0). At the
//! machine's shutdown Windows waits only for the service's preshutdown
//! timeout (10 s by default): a longer timeout is warned about at start,
//! and the deadline after `Preshutdown` is capped under it. The same binary
//! started from a console is a console program. The deployment guide
//! (Docker, Kubernetes, systemd, the upgrade) is `docs/deploying.md` in the
//! repository.

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
#[cfg(test)]
mod layering;
#[cfg(all(unix, feature = "listen"))]
#[cfg_attr(docsrs, doc(cfg(all(unix, feature = "listen"))))]
pub mod listen;
mod log;
mod notify;
mod process;
#[cfg(test)]
mod reference;
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
/// See the [crate documentation](crate#derivecleanup) for the field options,
/// and the example of [`CleanupPlan`] for a test of what a derived
/// implementation plans.
pub use graceful_macros::Cleanup;
/// See the [crate documentation](crate#graceful_main) for its arguments and
/// behaviour, and its opening example; the examples of [`Shutdown`] show
/// what `main` does with the handle it is given.
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
