//! The process's phase machine: running, shutting down (draining), cleaning
//! up, exited. It records what has happened and what is still pending, and
//! it is the one place the report (and so the exit code) is made, whichever
//! way the process ends: cleanly, at the deadline, or at a second Ctrl-C.
//! [`exit::leave`] then ends the process with it.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::cleanup::{CloseOutcome, CloseReport, Observer};
use crate::drained::Drained;
use crate::duration;
use crate::duration::millis;
use crate::exit;
use crate::exit::report::{self, CloseEntry, CloseStatus, MainStatus, Outcome, Report};
use crate::process::pid_file;
use crate::process::supervisor::Supervisor;
use crate::process::watchdog;
use crate::shutdown::cause::Cause;
use crate::shutdown::timeline::Timeline;

/// How long a second path to the exit (the deadline's thread, a second
/// Ctrl-C) waits for the first to finish writing the report before it
/// exits without it.
const REPORT_GRACE: Duration = Duration::from_millis(100);

pub(crate) struct PhaseMachine {
    timeout: Duration,
    report_path: Option<PathBuf>,
    /// `GRACEFUL_PID_FILE`: see [`pid_file`](crate::process::pid_file).
    pid_file: Option<PathBuf>,
    state: Mutex<State>,
    /// The service manager, told of each phase (systemd, the Windows SCM).
    supervisor: Supervisor,
}

#[derive(Default)]
struct State {
    begun: Option<Timeline>,
    main: Main,
    main_ended: Option<Instant>,
    cleanup_started: Option<Instant>,
    closes: Vec<Close>,
    /// What the HTTP servers' drains counted, summed.
    drain: Option<Drained>,
    /// Set once a path to the exit has computed its code.
    exiting: Option<i32>,
}

/// How main ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Main {
    #[default]
    Running,
    Returned,
    Error(String),
    Panicked,
    /// Main takes no `Shutdown`, so it was dropped at the signal.
    Cancelled,
}

struct Close {
    name: String,
    started: Option<Instant>,
    ended: Option<CloseReport>,
}

/// Why an exit is forced.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Forced {
    Deadline,
    Interrupt,
}

impl PhaseMachine {
    /// The machine of a process that has just started. The PID file names
    /// it from now on, unless it is an upgrade's new process: that one
    /// takes the file over once it is ready.
    pub(crate) fn new(
        timeout: Duration,
        report_path: Option<PathBuf>,
        pid_file: Option<PathBuf>,
    ) -> PhaseMachine {
        #[cfg(unix)]
        let taking_over = crate::process::passed::predecessor().is_some();
        #[cfg(not(unix))]
        let taking_over = false;
        if let Some(path) = pid_file.as_deref().filter(|_| !taking_over) {
            pid_file::write(path);
        }
        PhaseMachine {
            timeout,
            report_path,
            pid_file,
            state: Mutex::new(State::default()),
            supervisor: Supervisor::connect(timeout),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic: every update is a
        // single assignment.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The shutdown has started: every effect it has on the process is
    /// here. The upgrade ends, the deadline is armed, and the service
    /// manager is told.
    pub(crate) fn shutdown_begun(self: &Arc<Self>, timeline: Timeline) {
        // The kept listeners close now: a plain shutdown refuses new
        // connections once its servers stop accepting, and a new process
        // that took over has its own copies. A new process an upgrade still
        // waits for is sent SIGTERM.
        #[cfg(unix)]
        crate::process::upgrade::shutdown_begun();
        // A second Ctrl-C, or the signal a shutdown by another cause still
        // needs, must reach us.
        #[cfg(unix)]
        crate::process::disposition::check();
        self.state().begun = Some(timeline);
        let machine = Arc::clone(self);
        watchdog::arm(timeline.deadline, move || machine.deadline_passed());
        if let Cause::Upgraded(new_process) = timeline.cause {
            // The service goes on, in the new process: systemd follows it,
            // and hears no more from this one.
            self.supervisor.systemd.hand_over(new_process);
            return;
        }
        self.supervisor.stopping(
            &format!(
                "shutting down ({}), timeout {}",
                timeline.cause,
                duration::display(timeline.budget())
            ),
            timeline.deadline.saturating_duration_since(Instant::now()),
        );
    }

    /// An upgrade starts: the service manager hears of a reload.
    #[cfg(unix)]
    pub(crate) fn reloading(&self) {
        self.supervisor.systemd.reloading();
    }

    /// An upgrade failed, and this process goes on serving.
    #[cfg(unix)]
    pub(crate) fn upgrade_failed(&self, why: &str) {
        self.supervisor.systemd.upgrade_failed(why);
    }

    /// How often the service manager's watchdog wants to hear from this
    /// process, if it does.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.supervisor.systemd.watchdog_interval()
    }

    /// The runtime still runs tasks: tells the watchdog.
    pub(crate) fn watchdog(&self) {
        self.supervisor.systemd.watchdog();
    }

    /// The application is ready to serve.
    pub(crate) fn ready(&self) {
        // Dependencies set up by now may have replaced a handler of ours.
        #[cfg(unix)]
        crate::process::disposition::check();
        #[cfg(unix)]
        let taking_over = crate::process::passed::predecessor().is_some();
        #[cfg(not(unix))]
        let taking_over = false;
        self.supervisor.systemd.ready(taking_over);
        #[cfg(unix)]
        crate::process::upgrade::announce_ready(|| {
            if let Some(path) = &self.pid_file {
                pid_file::write(path);
            }
        });
    }

    /// How a drain is going, for the service manager.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn draining(&self, in_flight: usize, connections: usize) {
        self.progress(&format!(
            "draining {in_flight} requests on {connections} connections"
        ));
    }

    /// A `STATUS=` line, with the time the shutdown has left.
    fn progress(&self, status: &str) {
        let deadline = self.state().begun.map(|timeline| timeline.deadline);
        if let Some(deadline) = deadline {
            self.supervisor
                .progress(status, deadline.saturating_duration_since(Instant::now()));
        }
    }

    pub(crate) fn main_ended(&self, main: Main) {
        let mut state = self.state();
        state.main = main;
        state.main_ended = Some(Instant::now());
    }

    /// A server has drained (or was cut at the drain deadline).
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn drained(&self, drained: &Drained) {
        let mut state = self.state();
        state
            .drain
            .get_or_insert_with(Drained::default)
            .add(drained);
    }

    pub(crate) fn cleanup_started<'n>(&self, names: impl Iterator<Item = &'n str>) {
        let listed = {
            let mut state = self.state();
            state.cleanup_started = Some(Instant::now());
            state.closes = names
                .map(|name| Close {
                    name: name.to_owned(),
                    started: None,
                    ended: None,
                })
                .collect();
            state
                .closes
                .iter()
                .map(|close| close.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        self.progress(&format!("cleaning up: {listed}"));
    }

    /// Main and the cleanup are done: exit with the code they earned.
    pub(crate) fn finish(&self) -> ! {
        self.exit(None)
    }

    /// The deadline passed.
    pub(crate) fn deadline_passed(&self) -> ! {
        self.exit(Some(Forced::Deadline))
    }

    /// A second SIGINT: stop now.
    pub(crate) fn interrupt(&self) -> ! {
        self.exit(Some(Forced::Interrupt))
    }

    fn exit(&self, forced: Option<Forced>) -> ! {
        let report = {
            let mut state = self.state();
            if let Some(code) = state.exiting {
                // Another path is writing the report and exiting: the
                // cleanup that ended just before the deadline, say, when
                // this is the deadline's thread. Give it a moment to finish
                // (its own exit ends this wait), but no more: it may be
                // stuck on a slow disk.
                drop(state);
                std::thread::sleep(REPORT_GRACE);
                std::process::exit(code);
            }
            let report = self.report(&state, forced, Instant::now());
            state.exiting = Some(report.outcome.exit_code());
            report
        };
        exit::leave(
            &report,
            self.report_path.as_deref(),
            self.pid_file.as_deref(),
            &self.supervisor,
        )
    }

    /// The report of the process as it stands at `now`, with its verdict.
    fn report(&self, state: &State, forced: Option<Forced>, now: Instant) -> Report {
        let begun_at = state.begun.map(|timeline| timeline.start);
        // The budget the shutdown had: the timeout, or less (Ctrl-Close).
        let budget = state
            .begun
            .map_or(self.timeout, |timeline| timeline.budget());
        let since = |from: Option<Instant>, to: Option<Instant>| {
            from.zip(to)
                .map(|(from, to)| millis(to.saturating_duration_since(from)))
        };
        let outcome = state.verdict(forced);
        Report {
            schema_version: report::SCHEMA_VERSION,
            outcome,
            exit_code: outcome.exit_code(),
            cause: state.begun.map(|begun| begun.cause.to_string()),
            timeout_ms: millis(budget),
            main: match state.main {
                Main::Running => MainStatus::Running,
                Main::Returned => MainStatus::Returned,
                Main::Error(_) => MainStatus::Error,
                Main::Panicked => MainStatus::Panicked,
                Main::Cancelled => MainStatus::Cancelled,
            },
            main_error: match &state.main {
                Main::Error(error) => Some(error.clone()),
                _ => None,
            },
            drain_ms: since(begun_at, state.main_ended),
            cleanup_ms: since(state.cleanup_started, Some(now)),
            total_ms: since(begun_at, Some(now)),
            drain: state.drain.clone(),
            closes: state.close_entries(now),
            pending: state.pending(forced),
        }
    }
}

impl State {
    /// How the process ends: the first that holds of a forced exit, main's
    /// failure, a failed task, a failed close, a cut drain; else clean.
    fn verdict(&self, forced: Option<Forced>) -> Outcome {
        let drain_cut = self
            .drain
            .as_ref()
            .is_some_and(|drain| drain.requests_cut > 0 || drain.connections_cut > 0);
        let closes_failed = self.closes.iter().any(|close| {
            close
                .ended
                .as_ref()
                .is_some_and(|ended| !ended.outcome().is_closed())
        });
        let task_failed = self
            .begun
            .is_some_and(|begun| matches!(begun.cause, Cause::TaskFailed(_)));
        match (forced, &self.main) {
            (Some(Forced::Deadline), _) => Outcome::Deadline,
            (Some(Forced::Interrupt), _) => Outcome::Interrupted,
            (None, Main::Panicked) => Outcome::MainPanicked,
            (None, Main::Error(_)) => Outcome::MainError,
            (None, _) if task_failed => Outcome::TaskFailed,
            (None, _) if closes_failed => Outcome::CleanupFailed,
            (None, _) if drain_cut => Outcome::DrainCut,
            (None, _) => Outcome::Clean,
        }
    }

    /// Each close as it stands at `now`: ended with its outcome, or pending
    /// for as long as it has run.
    fn close_entries(&self, now: Instant) -> Vec<CloseEntry> {
        self.closes
            .iter()
            .map(|close| match &close.ended {
                Some(ended) => CloseEntry {
                    name: close.name.clone(),
                    outcome: close_status(ended.outcome()),
                    started_ms: Some(millis(ended.started())),
                    duration_ms: Some(millis(ended.duration())),
                    error: ended.outcome().message().map(str::to_owned),
                    notes: ended.notes().to_vec(),
                },
                None => CloseEntry {
                    name: close.name.clone(),
                    outcome: CloseStatus::Pending,
                    started_ms: close
                        .started
                        .zip(self.cleanup_started)
                        .map(|(started, cleanup)| millis(started.duration_since(cleanup))),
                    duration_ms: close
                        .started
                        .map(|started| millis(now.duration_since(started))),
                    error: None,
                    notes: Vec::new(),
                },
            })
            .collect()
    }

    /// What a forced exit left unfinished: main, and the closes still
    /// running. Nothing when the exit was not forced.
    fn pending(&self, forced: Option<Forced>) -> Vec<String> {
        if forced.is_none() {
            return Vec::new();
        }
        let main = (self.main == Main::Running).then(|| "main".to_owned());
        let closes = self
            .closes
            .iter()
            .filter(|close| close.ended.is_none())
            .map(|close| close.name.clone());
        main.into_iter().chain(closes).collect()
    }
}

/// A close's outcome as the report names it.
fn close_status(outcome: &CloseOutcome) -> CloseStatus {
    match outcome {
        CloseOutcome::Closed => CloseStatus::Closed,
        CloseOutcome::Failed(_) => CloseStatus::Failed,
        CloseOutcome::Panicked(_) => CloseStatus::Panicked,
        CloseOutcome::TimedOut => CloseStatus::TimedOut,
    }
}

impl Observer for PhaseMachine {
    fn close_started(&self, name: &str) {
        let mut state = self.state();
        if let Some(close) = state
            .closes
            .iter_mut()
            .find(|close| close.name == name && close.started.is_none())
        {
            close.started = Some(Instant::now());
        }
    }

    fn close_ended(&self, report: &CloseReport) {
        let mut state = self.state();
        if let Some(close) = state
            .closes
            .iter_mut()
            .find(|close| close.name == report.name() && close.ended.is_none())
        {
            close.ended = Some(report.clone());
        }
    }
}
