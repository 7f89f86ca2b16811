//! The [`Shutdown`] handle: the one shared view of "are we stopping, why,
//! and by when".

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::duration;
use crate::log;
use crate::phase::PhaseMachine;
use crate::signal::Signal;

/// A handle on the process's shutdown: cheap to clone, shared by every part
/// of the application that has to stop.
///
/// `#[graceful_main]` creates it, connects it to the signals it listens for,
/// and passes it to `main`. From then on:
///
/// - [`requested`](Shutdown::requested) resolves when the shutdown starts,
///   for every clone, including clones made after it started;
/// - [`trigger`](Shutdown::trigger) starts the same shutdown a signal starts;
/// - [`deadline`](Shutdown::deadline) and [`remaining`](Shutdown::remaining)
///   tell how long is left, so a server can plan its drain.
///
/// The shutdown starts exactly once. A second signal or a second `trigger`
/// is logged and changes nothing (with one exception, a second Ctrl-C: see
/// the crate documentation).
///
/// # Examples
///
/// Stop a background loop when the shutdown starts:
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::Shutdown;
///
/// async fn flush_metrics_every_second(shutdown: Shutdown) {
///     let mut tick = tokio::time::interval(Duration::from_secs(1));
///     loop {
///         tokio::select! {
///             _ = tick.tick() => { /* flush */ }
///             _ = shutdown.requested() => break,
///         }
///     }
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// # let shutdown = Shutdown::new(Duration::from_secs(5));
/// # let task = tokio::spawn(flush_metrics_every_second(shutdown.clone()));
/// # shutdown.trigger();
/// # task.await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

struct Inner {
    timeout: Duration,
    token: CancellationToken,
    begun: OnceLock<Begun>,
    /// Whether a SIGINT has been received: a second one forces the exit.
    interrupted: AtomicBool,
    /// The process this handle stops; `None` for a [`Shutdown::new`] handle.
    process: Option<Arc<PhaseMachine>>,
}

/// When and why the shutdown started, and its deadline.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Begun {
    pub(crate) cause: Cause,
    pub(crate) at: Instant,
    pub(crate) deadline: Instant,
}

impl Begun {
    /// When the cleanup cuts what is still running: a moment before the
    /// hard deadline, so the cut is recorded, the report written and the
    /// process ended by its own hand, on time. The reserve is 2% of the
    /// budget, at most 100 ms.
    pub(crate) fn cleanup_deadline(&self) -> Instant {
        let budget = self.deadline - self.at;
        self.deadline - (budget / 50).min(Duration::from_millis(100))
    }
}

/// What started the shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// A signal arrived.
    Signal(Signal),
    /// The application called [`Shutdown::trigger`].
    Triggered,
    /// `main` returned on its own; what it returned is being cleaned up.
    MainReturned,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Signal(signal) => f.write_str(signal.name()),
            Cause::Triggered => f.write_str("trigger"),
            Cause::MainReturned => f.write_str("main_returned"),
        }
    }
}

impl Shutdown {
    /// Creates a handle that is not connected to any signal or process: its
    /// shutdown starts only when [`trigger`](Shutdown::trigger) is called,
    /// and nothing ends the process at its deadline.
    ///
    /// Use it to test code that takes a `Shutdown`, or to drive a shutdown
    /// of your own outside `#[graceful_main]`. `timeout` is the budget the
    /// deadline is computed from.
    pub fn new(timeout: Duration) -> Shutdown {
        Shutdown::with_process(timeout, None)
    }

    pub(crate) fn with_process(timeout: Duration, process: Option<Arc<PhaseMachine>>) -> Shutdown {
        Shutdown {
            inner: Arc::new(Inner {
                timeout,
                token: CancellationToken::new(),
                begun: OnceLock::new(),
                interrupted: AtomicBool::new(false),
                process,
            }),
        }
    }

    /// Resolves when the shutdown has been requested, at once if it already
    /// has been.
    ///
    /// The future owns a reference to the handle, so it is `'static` and can
    /// be passed to APIs such as axum's `with_graceful_shutdown`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing, and a new one created later
    /// still resolves, at once, after the shutdown was requested. Use it
    /// freely in `tokio::select!` loops.
    pub fn requested(&self) -> Requested {
        Requested {
            inner: Box::pin(self.inner.token.clone().cancelled_owned()),
        }
    }

    /// Whether the shutdown has been requested.
    pub fn is_requested(&self) -> bool {
        self.inner.token.is_cancelled()
    }

    /// Starts the shutdown, as if a signal had arrived.
    ///
    /// Use it when part of the application learns that the process must
    /// stop, for example a background task that lost something it cannot
    /// run without. The deadline starts now. Calling it after the shutdown
    /// has started is logged and changes nothing.
    pub fn trigger(&self) {
        if self.begin(Cause::Triggered) {
            log::info!(
                "shutdown triggered by the application, shutting down (timeout {})",
                duration::display(self.inner.timeout)
            );
        } else {
            log::info!(
                "shutdown triggered again, already shutting down ({})",
                self.left()
            );
        }
    }

    /// What started the shutdown, or `None` while it has not started.
    pub fn cause(&self) -> Option<Cause> {
        self.inner.begun.get().map(|begun| begun.cause)
    }

    /// The total shutdown budget: the `timeout` of `#[graceful_main]`, or the
    /// `GRACEFUL_TIMEOUT` that overrides it.
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The instant by which the process ends, or `None` while the shutdown
    /// has not started. It is the start of the shutdown plus
    /// [`timeout`](Shutdown::timeout).
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.begun.get().map(|begun| begun.deadline)
    }

    /// The time left until the [`deadline`](Shutdown::deadline) (zero once it
    /// has passed), or `None` while the shutdown has not started.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// Moves the shutdown from running to stopping. Returns whether this call
    /// did it: only the first call does.
    pub(crate) fn begun(&self) -> Option<Begun> {
        self.inner.begun.get().copied()
    }

    pub(crate) fn begin(&self, cause: Cause) -> bool {
        let mut first = false;
        let begun = *self.inner.begun.get_or_init(|| {
            first = true;
            let at = Instant::now();
            Begun {
                cause,
                at,
                deadline: at + self.inner.timeout,
            }
        });
        if first {
            if let Some(process) = &self.inner.process {
                process.shutdown_begun(begun);
            }
            self.inner.token.cancel();
        }
        first
    }

    /// Called by the signal thread for every signal it receives.
    pub(crate) fn on_signal(&self, signal: Signal) {
        let interrupted_before =
            signal == Signal::Interrupt && self.inner.interrupted.swap(true, Ordering::SeqCst);
        let force = self.inner.process.as_ref().filter(|_| interrupted_before);
        if self.begin(Cause::Signal(signal)) {
            log::info!(
                "received {signal}, shutting down (timeout {})",
                duration::display(self.inner.timeout)
            );
        } else if let Some(process) = force {
            log::warning!(
                "received {signal} again, exiting now without waiting for what is pending"
            );
            process.interrupt();
        } else {
            log::info!(
                "received {signal} again, already shutting down ({})",
                self.left()
            );
        }
    }

    /// "3.2s left", for the repeated-signal log lines.
    fn left(&self) -> String {
        match self.remaining() {
            Some(left) => format!("{} left", duration::display(left)),
            None => "not started".to_owned(),
        }
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown")
            .field("requested", &self.is_requested())
            .field("cause", &self.cause())
            .field("timeout", &self.inner.timeout)
            .field("remaining", &self.remaining())
            .finish()
    }
}

/// The future returned by [`Shutdown::requested`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Requested {
    inner: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl Future for Requested {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Requested {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Requested").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_handle<T: Clone + Send + Sync + 'static>() {}
    fn assert_future<T: Future + Send + 'static>() {}

    #[test]
    fn handle_and_future_are_shareable() {
        assert_handle::<Shutdown>();
        assert_future::<Requested>();
    }

    #[tokio::test]
    async fn every_clone_sees_the_trigger_once() {
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let early = shutdown.clone();
        let waiting = tokio::spawn(async move { early.requested().await });
        assert!(!shutdown.is_requested());
        assert_eq!(shutdown.deadline(), None);
        assert_eq!(shutdown.remaining(), None);

        shutdown.trigger();
        waiting.await.unwrap();
        let deadline = shutdown.deadline().unwrap();
        shutdown.trigger();
        assert_eq!(
            shutdown.deadline(),
            Some(deadline),
            "a second trigger restarts nothing"
        );
        assert_eq!(shutdown.cause(), Some(Cause::Triggered));

        let late = shutdown.clone();
        late.requested().await;
        assert!(late.is_requested());
        let left = late.remaining().unwrap();
        assert!(left <= Duration::from_secs(5) && left > Duration::from_secs(4));
    }

    #[tokio::test]
    async fn requested_is_cancel_safe() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        for _ in 0..3 {
            tokio::select! {
                biased;
                _ = shutdown.requested() => panic!("not requested yet"),
                _ = std::future::ready(()) => {}
            }
        }
        shutdown.trigger();
        tokio::time::timeout(Duration::from_secs(5), shutdown.requested())
            .await
            .expect("a new future resolves at once after the trigger");
    }

    #[test]
    fn the_first_signal_wins() {
        let shutdown = Shutdown::new(Duration::from_secs(1));
        shutdown.on_signal(Signal::Terminate);
        shutdown.on_signal(Signal::Interrupt);
        shutdown.on_signal(Signal::Interrupt);
        assert_eq!(shutdown.cause(), Some(Cause::Signal(Signal::Terminate)));
    }
}
