//! The entry point `#[graceful_main]` expands to: configure, install the
//! signal handlers, build the runtime, run main, clean up what it returned,
//! exit with the code the phase machine decides.

use std::fmt::Debug;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use crate::cleanup::{self, Cleanup, CleanupPlan};
use crate::config::{Flavor, MainConfig, Settings};
use crate::duration;
use crate::exit::code as exit_code;
use crate::log;
use crate::process::signal;
use crate::shutdown::Shutdown;
use crate::shutdown::cause::Cause;
use crate::shutdown::phase::{Main, PhaseMachine};
use crate::unwind::CatchUnwind;

/// What a `#[graceful_main]` function may return: `()`, `Result<(), E>`, a
/// state to clean up (`S: Cleanup`), or `Result<S, E>`, where `E: Debug`.
///
/// An `Err` is printed as Rust prints the error of `main`
/// (`Error: <Debug>`) and the process exits with code 1; there is then no
/// state to clean up.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a return type `#[graceful_main]` accepts",
    label = "main returns `{Self}` here",
    note = "main may return `()`, `Result<(), E>`, a state that implements `graceful_rt::Cleanup` \
            (`#[derive(Cleanup)]`), or `Result<State, E>`, where `E: Debug`"
)]
pub trait MainOutput: sealed::Sealed {
    /// The state cleaned up after main returns.
    type State: Cleanup + 'static;
}

/// `MainOutput` is implemented here only: the forms `main` may return are
/// the macro's contract, not an extension point. How a form becomes the
/// state to clean up is this private supertrait's, so that it is no part
/// of the public API.
mod sealed {
    use super::{Cleanup, Debug, MainResult};

    pub trait Sealed {
        /// The state, boxed for the cleanup, or the `Debug` text of main's
        /// error.
        fn into_state(self) -> MainResult;
    }

    impl<S: Cleanup + 'static> Sealed for S {
        fn into_state(self) -> MainResult {
            Ok(Box::new(self))
        }
    }

    impl<S: Cleanup + 'static, E: Debug> Sealed for Result<S, E> {
        fn into_state(self) -> MainResult {
            match self {
                Ok(state) => Ok(Box::new(state)),
                Err(error) => Err(format!("{error:?}")),
            }
        }
    }
}

impl<S: Cleanup + 'static> MainOutput for S {
    type State = S;
}

#[diagnostic::do_not_recommend]
impl<S: Cleanup + 'static, E: Debug> MainOutput for Result<S, E> {
    type State = S;
}

/// What main returned, ready for the cleanup: its state, or the `Debug` text
/// of its error.
pub type MainResult = Result<Box<dyn Cleanup>, String>;

/// Converts what main returned. The expansion calls it with the span of
/// main's return type, so an unsupported type is reported there.
///
/// # Errors
///
/// The `Debug` text of the error `main` returned.
pub fn into_state<T: MainOutput>(output: T) -> MainResult {
    sealed::Sealed::into_state(output)
}

/// [`into_state`] for a return type written `Result<S, E>`: a state that is
/// not `Cleanup` and an error that is not `Debug` are each reported as such.
///
/// # Errors
///
/// The `Debug` text of the error `main` returned.
pub fn result_into_state<S: Cleanup + 'static, E: Debug>(output: Result<S, E>) -> MainResult {
    into_state(output)
}

/// Runs a `#[graceful_main]` function. Never returns: the process exits with
/// the code described in [`exit_code`](crate::exit::code).
pub fn run<B, F>(config: MainConfig, body: B) -> !
where
    B: FnOnce(Shutdown) -> F,
    F: Future<Output = MainResult>,
{
    // The one generic step: the rest is compiled once, in this crate, not
    // again in every service's crate at each of its builds.
    run_main(
        config,
        Box::new(move |shutdown| Box::pin(body(shutdown)) as MainFuture<'_>),
    )
}

/// `main`'s future, boxed: see [`run`].
type MainFuture<'a> = std::pin::Pin<Box<dyn Future<Output = MainResult> + 'a>>;

/// [`run`], for a boxed `main`.
fn run_main<'a>(config: MainConfig, body: Box<dyn FnOnce(Shutdown) -> MainFuture<'a> + 'a>) -> ! {
    let settings = match Settings::resolve(&config, |var| std::env::var_os(var)) {
        Ok(settings) => settings,
        Err(error) => {
            log::error!("{error}");
            std::process::exit(exit_code::INVALID_CONFIG);
        }
    };
    if !settings.overrides.is_empty() {
        log::info!(
            "{} overrides the attribute (timeout {}, drain delay {})",
            settings.overrides.join(", "),
            duration::display(config.timeout),
            duration::display(config.drain_delay)
        );
    }
    if let Some(warning) = settings.budget_warning() {
        log::warning!("{warning}");
    }
    #[cfg(unix)]
    crate::process::upgrade::prepare(settings.upgrade_timeout);
    let machine = Arc::new(PhaseMachine::new(
        settings.timeout,
        settings.report_path,
        settings.pid_file,
    ));
    let shutdown = Shutdown::with_process(
        settings.timeout,
        settings.drain_delay,
        Some(Arc::clone(&machine)),
    );
    // Before the runtime and before main: from here on a signal is ours.
    let listener = shutdown.clone();
    let upgrade = config.upgrade;
    let signals: Vec<_> = config.signals.iter().copied().chain(upgrade).collect();
    let received = move |signal| {
        if Some(signal) == upgrade {
            listener.upgrade();
        } else {
            listener.on_signal(signal);
        }
    };
    if let Err(error) = signal::listen(&signals, received) {
        log::error!("cannot install the signal handlers: {error}. Refusing to start.");
        std::process::exit(exit_code::FAILED);
    }
    let runtime = match config.flavor {
        Flavor::CurrentThread => tokio::runtime::Builder::new_current_thread(),
        Flavor::MultiThread => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            if let Some(threads) = config.worker_threads {
                builder.worker_threads(threads);
            }
            builder
        }
    }
    .enable_all()
    .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            log::error!("cannot build the tokio runtime: {error}");
            std::process::exit(exit_code::FAILED);
        }
    };
    let lifetime = runtime.block_on(async {
        // The service manager's watchdog hears from a task on the runtime,
        // not from a thread of its own: a runtime whose workers are all
        // blocked goes quiet, and is restarted. It goes on through the
        // shutdown, until the process exits.
        if let Some(interval) = machine.watchdog_interval() {
            tokio::spawn(watchdog(Arc::clone(&machine), interval));
        }
        // Main is polled inside `catch_unwind` so a panic still ends with a
        // report and the documented code rather than tearing the runtime down.
        let main = main_then_cleanup(body, config.main_takes_shutdown, &shutdown, &machine);
        CatchUnwind(pin!(main)).await
    });
    if lifetime.is_err() {
        // The panic hook has printed the message.
        machine.main_ended(Main::Panicked);
    }
    machine.finish()
}

/// `WATCHDOG=1` every `interval`, for as long as the runtime runs tasks.
async fn watchdog(machine: Arc<PhaseMachine>, interval: std::time::Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        machine.watchdog();
    }
}

async fn main_then_cleanup<'a>(
    body: Box<dyn FnOnce(Shutdown) -> MainFuture<'a> + 'a>,
    takes_shutdown: bool,
    shutdown: &Shutdown,
    machine: &PhaseMachine,
) {
    let output = if takes_shutdown {
        Some(body(shutdown.clone()).await)
    } else {
        until_requested(body(shutdown.clone()), shutdown).await
    };
    // If main returned on its own, the clock starts now, for the cleanup.
    shutdown.begin(Cause::MainReturned, |_| {});
    let Some(output) = output else {
        machine.main_ended(Main::Cancelled);
        return;
    };
    let state = match output {
        Ok(state) => state,
        Err(error) => {
            eprintln!("Error: {error}");
            machine.main_ended(Main::Error(error));
            return;
        }
    };
    machine.main_ended(Main::Returned);
    let mut plan = CleanupPlan::new();
    state.plan_cleanup(&mut plan);
    if plan.is_empty() {
        return;
    }
    machine.cleanup_started(plan.names());
    let deadline = shutdown
        .timeline()
        .map(|timeline| timeline.cleanup_deadline);
    cleanup::run(plan, deadline, machine).await;
}

/// Runs `main` until it returns or the shutdown is requested, whichever is first.
async fn until_requested<F: Future>(main: F, shutdown: &Shutdown) -> Option<F::Output> {
    let mut main = pin!(main);
    let mut requested = pin!(shutdown.requested());
    poll_fn(|cx| {
        if requested.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        main.as_mut().poll(cx).map(Some)
    })
    .await
}
