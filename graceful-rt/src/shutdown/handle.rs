//! The [`Shutdown`] handle: the one shared view of "are we stopping, why,
//! and by when".

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::duration;
use crate::log;
use crate::process::signal::Signal;
use crate::shutdown::cause::Cause;
use crate::shutdown::phase::PhaseMachine;
use crate::shutdown::timeline::Timeline;

/// How far under the system's kill budget (Windows' Ctrl-Close) the
/// shutdown's deadline is put: the process must have exited by then.
const KILL_MARGIN: Duration = Duration::from_millis(500);

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
    drain_delay: Duration,
    /// Set once the shutdown is requested; `requested` waiters are notified.
    requested: AtomicBool,
    notify: Notify,
    begun: OnceLock<Timeline>,
    /// Whether a SIGINT has been received: a second one forces the exit.
    interrupted: AtomicBool,
    /// The process this handle stops; `None` for a [`Shutdown::new`] handle.
    process: Option<Arc<PhaseMachine>>,
}

impl Shutdown {
    /// Creates a handle that is not connected to any signal or process: its
    /// shutdown starts only when [`trigger`](Shutdown::trigger) is called,
    /// and nothing ends the process at its deadline.
    ///
    /// Use it to test code that takes a `Shutdown`, or to drive a shutdown
    /// of your own outside `#[graceful_main]`. `timeout` is the budget the
    /// deadline is computed from. It has no lame duck: draining starts as
    /// soon as the shutdown is requested (see
    /// [`with_drain_delay`](Shutdown::with_drain_delay) for one).
    ///
    /// [`upgrade`](Shutdown::upgrade) and [`ready`](Shutdown::ready) have
    /// no process to act on, and do nothing.
    ///
    /// # Examples
    ///
    /// A test of a worker that must stop when the shutdown starts:
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    ///
    /// async fn worker(shutdown: Shutdown) {
    ///     while !shutdown.is_requested() {
    ///         // one unit of work
    ///         tokio::task::yield_now().await;
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(5));
    /// assert!(!shutdown.is_requested());
    /// assert_eq!(shutdown.deadline(), None, "no deadline before the shutdown");
    ///
    /// let running = tokio::spawn(worker(shutdown.clone()));
    /// shutdown.trigger();
    /// running.await.unwrap(); // the worker saw the shutdown and returned
    /// assert!(shutdown.is_draining(), "no lame duck: draining at once");
    /// # }
    /// ```
    #[must_use]
    pub fn new(timeout: Duration) -> Shutdown {
        Shutdown::with_process(timeout, Duration::ZERO, None)
    }

    /// Like [`new`](Shutdown::new), with a lame duck: for `drain_delay`
    /// after the shutdown is requested, servers keep serving while
    /// readiness checks fail, so load balancers stop routing here first.
    ///
    /// [`requested`](Shutdown::requested) resolves when the shutdown
    /// starts, [`draining`](Shutdown::draining) once the lame duck is over.
    /// The lame duck never outlasts the drain: a `drain_delay` that would
    /// end after the [`drain_deadline`](Shutdown::drain_deadline) ends
    /// there. (`#[graceful_main]` refuses a `drain_delay` that is not
    /// shorter than the timeout; this constructor does not check it.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::with_drain_delay(Duration::from_secs(5), Duration::from_millis(20));
    /// assert_eq!(shutdown.drain_delay(), Duration::from_millis(20));
    ///
    /// shutdown.trigger();
    /// shutdown.requested().await; // at once: readiness fails from here on
    /// shutdown.draining().await; // 20 ms later: servers stop accepting
    /// assert!(shutdown.is_draining());
    /// # }
    /// ```
    #[must_use]
    pub fn with_drain_delay(timeout: Duration, drain_delay: Duration) -> Shutdown {
        Shutdown::with_process(timeout, drain_delay, None)
    }

    pub(crate) fn with_process(
        timeout: Duration,
        drain_delay: Duration,
        process: Option<Arc<PhaseMachine>>,
    ) -> Shutdown {
        Shutdown {
            inner: Arc::new(Inner {
                timeout,
                drain_delay,
                requested: AtomicBool::new(false),
                notify: Notify::new(),
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
    /// be passed to APIs such as axum's `with_graceful_shutdown`. It needs
    /// no timer, and no tokio runtime: any executor can poll it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping it loses nothing, and a new one created later
    /// still resolves, at once, after the shutdown was requested. Use it
    /// freely in `tokio::select!` loops.
    ///
    /// # Examples
    ///
    /// Hand it to a server that takes a future to stop on (here a task
    /// stands in for one):
    ///
    /// ```
    /// use std::future::Future;
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    ///
    /// async fn run_until(stop: impl Future<Output = ()> + Send + 'static) -> &'static str {
    ///     stop.await;
    ///     "stopped"
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(5));
    /// let server = tokio::spawn(run_until(shutdown.requested()));
    /// shutdown.trigger();
    /// assert_eq!(server.await.unwrap(), "stopped");
    /// // Later ones resolve at once.
    /// shutdown.requested().await;
    /// # }
    /// ```
    pub fn requested(&self) -> Requested {
        Requested {
            inner: {
                let inner = Arc::clone(&self.inner);
                Box::pin(async move { inner.wait_requested().await })
            },
        }
    }

    /// Whether the shutdown has been requested: true from the first signal
    /// or [`trigger`](Shutdown::trigger) on, for every clone, lame duck
    /// included. One atomic load: cheap enough for every request. See the
    /// example of [`new`](Shutdown::new).
    #[must_use]
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::Acquire)
    }

    /// Starts the shutdown, as if a signal had arrived.
    ///
    /// Use it when part of the application learns that the process must
    /// stop, for example a background task that lost something it cannot
    /// run without. The deadline starts now. Calling it after the shutdown
    /// has started is logged and changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::{Cause, Shutdown};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(5));
    /// let watcher = shutdown.clone();
    /// tokio::spawn(async move {
    ///     // The queue this process consumes was deleted: nothing left to do.
    ///     watcher.trigger();
    /// });
    /// shutdown.requested().await;
    /// assert_eq!(shutdown.cause(), Some(Cause::Triggered));
    /// assert!(shutdown.remaining().unwrap() <= Duration::from_secs(5));
    /// # }
    /// ```
    pub fn trigger(&self) {
        let started = self.begin(Cause::Triggered, |_| {
            log::info!(
                "shutdown triggered by the application, shutting down (timeout {})",
                duration::display(self.inner.timeout)
            );
        });
        if !started {
            log::info!(
                "shutdown triggered again, already shutting down ({})",
                self.left()
            );
        }
    }

    /// A task of [`Tasks`](crate::Tasks) failed (its error is logged):
    /// the service no longer does all its work, so it stops.
    pub(crate) fn task_failed(&self, task: &'static str) {
        self.begin(Cause::TaskFailed(task), |_| {
            log::info!(
                "task {task} failed, shutting down (timeout {})",
                duration::display(self.inner.timeout)
            );
        });
    }

    /// Upgrades the process by hand-off (Unix): starts the executable at the
    /// path this process was started from, with the same arguments and
    /// environment and with the listening sockets taken through
    /// `listen` (feature `listen`) inherited; once the new process calls
    /// [`ready`](Shutdown::ready), this one drains and exits as on SIGTERM
    /// ([`Cause::Upgraded`], exit code 0). The upgrade signal (SIGUSR2 by
    /// default) calls it.
    ///
    /// It returns at once; the upgrade runs on a thread of its own and logs
    /// how it goes. The listening sockets are never closed meanwhile:
    /// connections that arrive wait in their queue, which both processes
    /// accept from until this one drains. If the new process exits, or is
    /// not ready within `GRACEFUL_UPGRADE_TIMEOUT` (default 30 s), it is
    /// sent SIGTERM and this process goes on serving. An upgrade asked for
    /// during one, or once the shutdown has begun, is logged and ignored; a
    /// shutdown that begins during an upgrade ends it.
    ///
    /// Off Unix, and on a handle made by [`Shutdown::new`], it logs that it
    /// cannot upgrade and does nothing.
    ///
    /// # Examples
    ///
    /// Upgrade when a deploy has copied a new build over the executable
    /// (the upgrade signal, SIGUSR2, does the same from outside):
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use graceful_rt::{Shutdown, graceful_main};
    ///
    /// async fn upgrade_on_new_build(shutdown: Shutdown) -> std::io::Result<()> {
    ///     let executable = std::env::current_exe()?;
    ///     let mut built = std::fs::metadata(&executable)?.modified()?;
    ///     let mut tick = tokio::time::interval(Duration::from_secs(5));
    ///     loop {
    ///         tokio::select! {
    ///             _ = tick.tick() => {}
    ///             () = shutdown.requested() => return Ok(()),
    ///         }
    ///         let modified = std::fs::metadata(&executable)?.modified()?;
    ///         if modified != built {
    ///             built = modified;
    ///             // If the new build fails to start, this process goes on
    ///             // serving, and the next copy is tried in its turn.
    ///             shutdown.upgrade();
    ///         }
    ///     }
    /// }
    ///
    /// #[graceful_main(timeout = "15s")]
    /// async fn main(shutdown: Shutdown) -> std::io::Result<()> {
    ///     tokio::spawn(upgrade_on_new_build(shutdown.clone()));
    ///     // Take the listeners through `graceful_rt::listen`, so that they
    ///     // are handed over, then serve.
    ///     shutdown.ready();
    ///     shutdown.requested().await;
    ///     Ok(())
    /// }
    /// ```
    pub fn upgrade(&self) {
        if self.inner.process.is_none() {
            log::warning!(
                "upgrade asked for on a handle not made by #[graceful_main]: nothing to upgrade"
            );
            return;
        }
        #[cfg(unix)]
        crate::process::upgrade::start(self.clone());
        #[cfg(not(unix))]
        log::warning!("upgrade asked for, but upgrades by hand-off need Unix: not upgrading");
    }

    /// The new process of an upgrade is ready: start the shutdown. Returns
    /// false when it had already started.
    #[cfg(unix)]
    pub(crate) fn upgraded(&self, new_process: u32) -> bool {
        self.begin(Cause::Upgraded(new_process), |_| {
            log::info!("upgraded: pid {new_process} is ready, draining");
        })
    }

    /// Tells the service manager that the service is ready: with the
    /// `systemd` feature, under a `Type=notify` unit, systemd gets
    /// `READY=1`. Call it once the service accepts work (after binding its
    /// listener). Without a service manager listening, it does nothing.
    ///
    /// In the new process of an [`upgrade`](Shutdown::upgrade), it also
    /// tells the process it takes over from, which then drains: call it
    /// once this process serves (its listeners are taken, its database
    /// connected, its caches warm). The `GRACEFUL_PID_FILE` is rewritten
    /// with this process's PID.
    ///
    /// On a handle made by [`Shutdown::new`] it does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    /// use tokio::net::TcpListener;
    ///
    /// async fn run(shutdown: Shutdown) -> std::io::Result<()> {
    ///     // Bind (or take) the listener and connect what requests need first ...
    ///     let listener = TcpListener::bind("127.0.0.1:0").await?;
    ///     // ... then say so: from here on, connections are served.
    ///     shutdown.ready();
    ///     loop {
    ///         tokio::select! {
    ///             accepted = listener.accept() => {
    ///                 let (_stream, _peer) = accepted?;
    ///                 // serve it
    ///             }
    ///             () = shutdown.draining() => return Ok(()),
    ///         }
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// # let shutdown = Shutdown::new(Duration::from_secs(5));
    /// # shutdown.trigger();
    /// # run(shutdown).await
    /// # }
    /// ```
    pub fn ready(&self) {
        if let Some(process) = &self.inner.process {
            process.ready();
        }
    }

    /// What started the shutdown, or `None` while it has not started. It
    /// never changes once set: the first cause wins. See [`Cause`] for an
    /// example.
    #[must_use]
    pub fn cause(&self) -> Option<Cause> {
        self.inner.begun.get().map(|timeline| timeline.cause)
    }

    /// The total shutdown budget: the `timeout` of `#[graceful_main]`, or the
    /// `GRACEFUL_TIMEOUT` that overrides it; for a handle made by
    /// [`Shutdown::new`], its `timeout`. The same before and after the
    /// shutdown starts; what is left is [`remaining`](Shutdown::remaining).
    #[must_use]
    pub fn timeout(&self) -> Duration {
        self.inner.timeout
    }

    /// The instant by which the process ends, or `None` while the shutdown
    /// has not started. It is the start of the shutdown plus
    /// [`timeout`](Shutdown::timeout), capped after Windows' Ctrl-Close and
    /// Ctrl-Shutdown under the 5 s Windows leaves the process. Set once, it
    /// never moves: a repeated signal or trigger does not extend it.
    ///
    /// Under `#[graceful_main]`, a thread ends the process at this instant
    /// (exit code 124); a handle made by [`Shutdown::new`] only reports it.
    ///
    /// # Examples
    ///
    /// Bound work that has to finish before the process ends:
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use graceful_rt::Shutdown;
    ///
    /// # async fn upload_last_batch() {}
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(10));
    /// assert_eq!(shutdown.deadline(), None);
    /// shutdown.trigger();
    ///
    /// let deadline = shutdown.deadline().expect("the shutdown has started");
    /// assert!(deadline > Instant::now());
    /// let uploaded = tokio::time::timeout_at(deadline.into(), upload_last_batch()).await;
    /// assert!(uploaded.is_ok());
    /// # }
    /// ```
    #[must_use]
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.begun.get().map(|timeline| timeline.deadline)
    }

    /// The lame duck: how long servers keep serving after the shutdown is
    /// requested, while readiness checks already fail. The `drain_delay` of
    /// `#[graceful_main]`, or the `GRACEFUL_DRAIN_DELAY` that overrides it;
    /// zero for none, and for a handle made by [`Shutdown::new`]. A
    /// shutdown started by an upgrade has no lame duck, whatever this says.
    /// See [`with_drain_delay`](Shutdown::with_drain_delay) for an example.
    #[must_use]
    pub fn drain_delay(&self) -> Duration {
        self.inner.drain_delay
    }

    /// Whether the lame duck is over and servers are draining: they accept
    /// no new connections, and close the ones they have as their requests
    /// end. False while the shutdown has not been requested, and during
    /// the lame duck; true from then on. To wait for it, use
    /// [`draining`](Shutdown::draining).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    ///
    /// let at_once = Shutdown::new(Duration::from_secs(5));
    /// let lame_duck = Shutdown::with_drain_delay(Duration::from_secs(60), Duration::from_secs(30));
    /// assert!(!at_once.is_draining() && !lame_duck.is_draining());
    ///
    /// at_once.trigger();
    /// lame_duck.trigger();
    /// assert!(at_once.is_draining(), "no lame duck: draining from the start");
    /// assert!(lame_duck.is_requested() && !lame_duck.is_draining(), "30 s of lame duck first");
    /// ```
    #[must_use]
    pub fn is_draining(&self) -> bool {
        // The flag first: one atomic load on the request path until a
        // shutdown starts.
        self.is_requested()
            && self
                .inner
                .begun
                .get()
                .is_some_and(|timeline| Instant::now() >= timeline.drain_start)
    }

    /// Resolves when draining starts: once the shutdown is requested and
    /// the lame duck is over; at once if draining has started already.
    ///
    /// The future owns a reference to the handle, like
    /// [`requested`](Shutdown::requested)'s, so it is `'static`: move it
    /// into a task, or keep it in a struct.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, like [`requested`](Shutdown::requested): dropping it
    /// loses nothing, and a new one created after draining started
    /// resolves at once.
    ///
    /// # Panics
    ///
    /// The future sleeps through the lame duck on tokio's timer: polled
    /// during a lame duck outside a tokio runtime with the timer enabled
    /// (`#[tokio::main]` and `#[graceful_main]` enable it), it panics.
    /// Without a lame duck, or once it is over, it needs no timer.
    ///
    /// # Examples
    ///
    /// Stop a background job when servers stop accepting, not at the first
    /// signal:
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::with_drain_delay(Duration::from_secs(5), Duration::from_millis(20));
    /// let job = tokio::spawn(shutdown.draining());
    /// shutdown.trigger();
    /// // Readiness fails during the lame duck; then draining begins.
    /// job.await.unwrap();
    /// assert!(shutdown.is_draining());
    /// # }
    /// ```
    pub fn draining(&self) -> Draining {
        let inner = Arc::clone(&self.inner);
        Draining {
            inner: Box::pin(async move {
                inner.wait_requested().await;
                if let Some(timeline) = inner.begun.get() {
                    // Without a lame duck the drain starts now: no timer,
                    // whose millisecond ticks would hold every server up
                    // for one. Nor once the lame duck is over.
                    if timeline.drain_start > Instant::now() {
                        tokio::time::sleep_until(timeline.drain_start.into()).await;
                    }
                }
            }),
        }
    }

    /// The instant by which servers must have drained: connections still
    /// open then are closed, so the cleanup keeps its reserve (3% of the
    /// timeout, at most 1 s) before the deadline. `None` while the shutdown
    /// has not started.
    ///
    /// [`http::serve`](crate#http) cuts what is still open there (exit code
    /// 3); a server of your own should do the same.
    ///
    /// # Examples
    ///
    /// A server loop of your own waits for its connections until the drain
    /// deadline, no longer:
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    /// use tokio::task::JoinSet;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(10));
    /// let mut connections = JoinSet::new();
    /// connections.spawn(async { /* a connection finishing its request */ });
    ///
    /// shutdown.trigger();
    /// shutdown.draining().await;
    /// let drain_deadline = shutdown.drain_deadline().expect("the shutdown has started");
    /// // 3% of 10 s is kept for the cleanup.
    /// assert_eq!(shutdown.deadline().unwrap() - drain_deadline, Duration::from_millis(300));
    ///
    /// let drained = tokio::time::timeout_at(drain_deadline.into(), async {
    ///     while connections.join_next().await.is_some() {}
    /// })
    /// .await;
    /// if drained.is_err() {
    ///     connections.abort_all(); // cut at the drain deadline
    /// }
    /// # assert!(drained.is_ok());
    /// # }
    /// ```
    #[must_use]
    pub fn drain_deadline(&self) -> Option<Instant> {
        self.inner
            .begun
            .get()
            .map(|timeline| timeline.drain_deadline)
    }

    /// The time left until the [`deadline`](Shutdown::deadline) (zero once it
    /// has passed), or `None` while the shutdown has not started.
    ///
    /// # Examples
    ///
    /// Give a last flush what is left of the budget, never more:
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::Shutdown;
    ///
    /// # async fn flush() -> std::io::Result<()> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(10));
    /// assert_eq!(shutdown.remaining(), None);
    /// shutdown.trigger();
    ///
    /// let left = shutdown.remaining().expect("the shutdown has started");
    /// assert!(left <= Duration::from_secs(10));
    /// match tokio::time::timeout(left, flush()).await {
    ///     Ok(Ok(())) => {}
    ///     Ok(Err(error)) => eprintln!("flush failed: {error}"),
    ///     Err(_) => eprintln!("flush cut at the deadline"),
    /// }
    /// # }
    /// ```
    #[must_use]
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline()
            .map(|deadline| deadline.saturating_duration_since(Instant::now()))
    }

    /// The shutdown's [`Timeline`]: its cause, its start and the instants
    /// of its phases (drain start, drain deadline, cleanup deadline,
    /// deadline), copied; `None` while the shutdown has not begun. It is
    /// set once, by [`begin`](Shutdown::begin), so every caller reads the
    /// same instants.
    pub(crate) fn timeline(&self) -> Option<Timeline> {
        self.inner.begun.get().copied()
    }

    /// The process this handle stops, if `#[graceful_main]` made it.
    #[cfg_attr(not(feature = "axum"), allow(dead_code))]
    pub(crate) fn process(&self) -> Option<&PhaseMachine> {
        self.inner.process.as_deref()
    }

    /// Starts the shutdown with `cause`, unless it has started already.
    /// Only the first call does, and only it calls `announce`, with the
    /// timeline, before anything else learns of the shutdown: its log line
    /// is the shutdown's first, even when the rest runs to the exit before
    /// this thread is scheduled again. The lame duck's line comes after
    /// [`is_requested`](Shutdown::is_requested) turns true, and before
    /// the waiters are woken. Returns whether this call did it.
    pub(crate) fn begin(&self, cause: Cause, announce: impl FnOnce(&Timeline)) -> bool {
        let mut first = false;
        let timeline = *self.inner.begun.get_or_init(|| {
            first = true;
            // After an upgrade the new process serves from the same
            // sockets: no load balancer has to learn anything first.
            let lame_duck = match cause {
                Cause::Upgraded(_) => Duration::ZERO,
                _ => self.inner.drain_delay,
            };
            Timeline::new(cause, Instant::now(), self.budget(cause), lame_duck)
        });
        if first {
            announce(&timeline);
            if let Some(process) = &self.inner.process {
                process.shutdown_begun(timeline);
            }
            self.inner.requested.store(true, Ordering::Release);
            // After the store: readiness checks fail from here, so the line
            // that says so is true when it is read.
            self.log_lame_duck(&timeline);
            self.inner.notify.notify_waiters();
        }
        first
    }

    /// The budget of a shutdown started by `cause`: the timeout, capped
    /// under the time the system leaves the process after the signal
    /// (Windows' Ctrl-Close and Ctrl-Shutdown), so the cleanup and the
    /// report still happen.
    fn budget(&self, cause: Cause) -> Duration {
        match cause {
            Cause::Signal(signal) => signal.kill_budget().map_or(self.inner.timeout, |kill| {
                self.inner.timeout.min(kill.saturating_sub(KILL_MARGIN))
            }),
            Cause::Triggered | Cause::MainReturned | Cause::TaskFailed(_) | Cause::Upgraded(_) => {
                self.inner.timeout
            }
        }
    }

    /// Called by the signal thread for every signal it receives.
    pub(crate) fn on_signal(&self, signal: Signal) {
        let interrupted_before =
            signal == Signal::Interrupt && self.inner.interrupted.swap(true, Ordering::SeqCst);
        let force = self.inner.process.as_ref().filter(|_| interrupted_before);
        let started = self.begin(Cause::Signal(signal), |timeline| {
            let budget = timeline.budget();
            log::info!(
                "received {signal}, shutting down (timeout {})",
                duration::display(budget)
            );
            if budget < self.inner.timeout {
                log::warning!(
                    "the system ends the process about {} after {signal}: the shutdown's deadline is \
                     {} instead of the timeout of {}",
                    duration::display(signal.kill_budget().unwrap_or_default()),
                    duration::display(budget),
                    duration::display(self.inner.timeout)
                );
            }
        });
        if started {
            return;
        }
        if let Some(process) = force {
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

    /// Logs the lame duck, if this shutdown has one: not after an upgrade
    /// (the new process serves from the same sockets), nor once `main`
    /// has returned (nothing serves any more).
    fn log_lame_duck(&self, timeline: &Timeline) {
        let lame_duck = timeline.drain_start.duration_since(timeline.start);
        if !lame_duck.is_zero() && timeline.cause != Cause::MainReturned {
            log::info!(
                "lame duck for {}: readiness checks fail, requests are still served",
                duration::display(lame_duck)
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
            .field("drain_delay", &self.inner.drain_delay)
            .field("remaining", &self.remaining())
            .finish()
    }
}

impl Inner {
    /// Resolves once the shutdown is requested.
    async fn wait_requested(&self) {
        crate::notify::until(&self.notify, || self.requested.load(Ordering::Acquire)).await;
    }
}

/// The future returned by [`Shutdown::requested`]: resolves when the
/// shutdown has been requested, at once if it already has been.
///
/// `'static`, `Send` and `Unpin`; cancel-safe (see
/// [`Shutdown::requested`]). Being `Unpin`, one future can be kept and
/// polled by reference, loop after loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::new(Duration::from_secs(5));
/// let mut stop = shutdown.requested();
/// let mut batches = 0;
/// loop {
///     tokio::select! {
///         biased;
///         () = &mut stop => break,
///         () = tokio::task::yield_now() => {
///             batches += 1; // one batch of work
///             if batches == 3 {
///                 shutdown.trigger();
///             }
///         }
///     }
/// }
/// assert_eq!(batches, 3);
/// # }
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Requested {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
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

/// The future returned by [`Shutdown::draining`]: resolves when draining
/// starts, at once if it has started already.
///
/// `'static`, `Send` and `Unpin`; cancel-safe (see [`Shutdown::draining`]).
/// Polled during a lame duck, it needs tokio's timer (see the panics of
/// [`Shutdown::draining`]).
///
/// # Examples
///
/// One made before the shutdown resolves once the lame duck is over:
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::Shutdown;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::with_drain_delay(Duration::from_secs(5), Duration::from_millis(10));
/// let draining = shutdown.draining();
/// shutdown.trigger();
/// draining.await;
/// assert!(shutdown.is_draining());
/// # }
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Draining {
    inner: Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Future for Draining {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl fmt::Debug for Draining {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Draining").finish_non_exhaustive()
    }
}

#[cfg(unix)]
impl crate::process::upgrade::Handover for Shutdown {
    fn is_requested(&self) -> bool {
        Shutdown::is_requested(self)
    }

    fn upgraded(&self, new_process: u32) -> bool {
        Shutdown::upgraded(self, new_process)
    }

    fn reloading(&self) {
        if let Some(process) = &self.inner.process {
            process.reloading();
        }
    }

    fn upgrade_failed(&self, why: &str) {
        if let Some(process) = &self.inner.process {
            process.upgrade_failed(why);
        }
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
        assert_future::<Draining>();
    }

    /// Polls `future` once, outside any runtime: a future that made a
    /// tokio timer would panic here.
    fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        Pin::new(future).poll(&mut cx)
    }

    /// The first line comes before anything can learn of the shutdown;
    /// the lame duck's, which says readiness checks fail, once they do (a
    /// test that asked for readiness after reading it was once told 200).
    #[test]
    fn each_line_of_the_start_is_true_when_it_is_written() {
        let shutdown = Shutdown::with_drain_delay(Duration::from_secs(5), Duration::from_secs(1));
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = {
            let (shutdown, lines) = (shutdown.clone(), Arc::clone(&lines));
            move || {
                lines.lock().unwrap().push(shutdown.is_requested());
                std::io::sink()
            }
        };
        let subscriber = tracing_subscriber::fmt().with_writer(writer).finish();
        tracing::subscriber::with_default(subscriber, || shutdown.trigger());
        assert_eq!(
            *lines.lock().unwrap(),
            [false, true],
            "is_requested when each line was written: the cause's, the lame duck's"
        );
    }

    #[tokio::test]
    async fn draining_resolves_after_the_lame_duck_then_at_once() {
        let lame_duck = Duration::from_millis(200);
        let shutdown = Shutdown::with_drain_delay(Duration::from_secs(5), lame_duck);
        // 'static: moved into a task before the shutdown starts.
        let early = tokio::spawn(shutdown.draining());
        let mut during = shutdown.draining();
        tokio::task::yield_now().await;
        assert!(poll_once(&mut during).is_pending(), "not requested yet");
        assert!(!early.is_finished());

        let triggered = Instant::now();
        shutdown.trigger();
        assert!(
            poll_once(&mut during).is_pending(),
            "the lame duck is not over"
        );
        tokio::time::timeout(Duration::from_secs(5), early)
            .await
            .expect("draining starts after the lame duck")
            .unwrap();
        assert!(
            triggered.elapsed() >= lame_duck,
            "{:?}",
            triggered.elapsed()
        );
        assert!(shutdown.is_draining());
        tokio::time::timeout(Duration::from_secs(5), during)
            .await
            .expect("the one polled during the lame duck resolves too");
        // Once draining has started, a new one is ready on its first poll.
        assert!(poll_once(&mut shutdown.draining()).is_ready());
    }

    #[test]
    fn without_a_lame_duck_draining_needs_no_timer() {
        // No runtime here: a timer would panic.
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let mut draining = shutdown.draining();
        assert!(poll_once(&mut draining).is_pending());
        shutdown.trigger();
        assert!(poll_once(&mut draining).is_ready());
        assert!(poll_once(&mut shutdown.draining()).is_ready());
    }

    #[tokio::test]
    async fn draining_is_cancel_safe() {
        let shutdown =
            Shutdown::with_drain_delay(Duration::from_secs(5), Duration::from_millis(50));
        for _ in 0..3 {
            tokio::select! {
                biased;
                () = shutdown.draining() => panic!("not draining yet"),
                () = std::future::ready(()) => {}
            }
        }
        shutdown.trigger();
        tokio::select! {
            biased;
            () = shutdown.draining() => panic!("the lame duck is not over"),
            () = std::future::ready(()) => {}
        }
        tokio::time::timeout(Duration::from_secs(5), shutdown.draining())
            .await
            .expect("a new future resolves once the lame duck is over");
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

    #[test]
    fn windows_close_events_cap_the_deadline_under_the_systems_kill() {
        for signal in [Signal::CtrlClose, Signal::CtrlShutdown] {
            let shutdown = Shutdown::new(Duration::from_secs(15));
            let before = Instant::now();
            shutdown.on_signal(signal);
            let budget = shutdown.deadline().unwrap() - before;
            assert!(
                budget < Duration::from_millis(4600) && budget >= Duration::from_millis(4500),
                "{signal}: {budget:?}"
            );
        }
        let short = Shutdown::new(Duration::from_secs(2));
        let before = Instant::now();
        short.on_signal(Signal::CtrlClose);
        assert!(short.deadline().unwrap() - before < Duration::from_millis(2100));
        let unix = Shutdown::new(Duration::from_secs(15));
        let before = Instant::now();
        unix.on_signal(Signal::Terminate);
        assert!(unix.deadline().unwrap() - before >= Duration::from_secs(15));
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
