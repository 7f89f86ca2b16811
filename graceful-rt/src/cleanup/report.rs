use std::any::Any;
use std::error::Error;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::BoxError;
use super::engine::error_chain;
use crate::unwind::{NO_MESSAGE, panic_text};

/// How every close of a cleanup ended: what [`Cleanup::cleanup`](crate::Cleanup::cleanup)
/// returns, one [`CloseReport`] per close.
///
/// Under `#[graceful_main]` the same is logged and written to the JSON
/// report ([`report::Report::closes`](crate::report::Report::closes)); this
/// type is for a test, or a shutdown of your own, that runs the cleanup
/// itself.
///
/// # Examples
///
/// ```
/// use std::io;
/// use graceful_rt::{Cleanup, CleanupPlan};
///
/// struct App;
///
/// impl Cleanup for App {
///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
///         plan.close("db", async { Ok::<(), io::Error>(()) });
///         plan.close("cache", async { Err::<(), _>(io::Error::other("connection reset")) });
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = App.cleanup().await;
/// assert_eq!(report.closes().len(), 2);
/// assert!(report.get("db").unwrap().outcome().is_closed());
/// assert!(report.get("queue").is_none(), "nothing planned under that name");
/// assert!(!report.is_ok());
/// assert!(report.elapsed() >= report.get("cache").unwrap().duration());
///
/// let error = report.into_result().unwrap_err();
/// assert_eq!(error.to_string(), "`cache` failed: connection reset");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CleanupReport {
    pub(crate) closes: Vec<CloseReport>,
    pub(crate) elapsed: Duration,
}

impl CleanupReport {
    /// One entry per close, in the order they were planned.
    #[must_use]
    pub fn closes(&self) -> &[CloseReport] {
        &self.closes
    }

    /// The entry of the close with this full name (`"db"`, `"outer.db"`);
    /// `None` when no close has it (the first, when several have). See the
    /// example of [`CleanupReport`].
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&CloseReport> {
        self.closes.iter().find(|close| close.name == name)
    }

    /// Whether every close closed: none failed, panicked or timed out.
    /// True for a cleanup with nothing to close.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.closes.iter().all(|close| close.outcome.is_closed())
    }

    /// The time the whole cleanup took: that of the longest chain of
    /// closes, since they run concurrently.
    #[must_use]
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// `Ok` if every close closed.
    ///
    /// # Errors
    ///
    /// One error naming each close that did not close and how it ended
    /// (failed, panicked, timed out), for `?` in a test or a hand-written
    /// shutdown: `` `cache` failed: connection reset; `queue` timed out ``,
    /// in the order of the plan. It is a message only: the closes' own
    /// errors are in [`CloseOutcome::Failed`], before this is called.
    ///
    /// # Examples
    ///
    /// ```
    /// use graceful_rt::{BoxError, Cleanup, CleanupPlan};
    ///
    /// struct App;
    /// impl Cleanup for App {
    ///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
    ///         plan.close("db", async { Ok::<(), std::io::Error>(()) });
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// App.cleanup().await.into_result()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_result(self) -> Result<(), BoxError> {
        let failures: Vec<String> = self
            .closes
            .iter()
            .filter(|close| !close.outcome.is_closed())
            .map(|close| match close.outcome.message() {
                Some(message) => format!("`{}` {}: {message}", close.name, close.outcome),
                None => format!(
                    "`{}` {}",
                    close.name,
                    close.outcome.as_str().replace('_', " ")
                ),
            })
            .collect();
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; ").into())
        }
    }
}

/// How one close ended: an entry of [`CleanupReport::closes`], and of the
/// JSON report's `closes` ([`report::CloseEntry`](crate::report::CloseEntry)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::{Cleanup, CleanupPlan};
///
/// struct App;
/// impl Cleanup for App {
///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
///         plan.group_with("db", |plan| {
///             plan.close("pool", async {
///                 tokio::time::sleep(Duration::from_millis(2)).await;
///                 Ok::<(), std::io::Error>(())
///             });
///         });
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = App.cleanup().await;
/// let pool = &report.closes()[0];
/// assert_eq!(pool.name(), "db.pool");
/// assert!(pool.outcome().is_closed());
/// assert!(pool.duration() >= Duration::from_millis(2));
/// // Counted from the start of the cleanup.
/// assert!(pool.started() + pool.duration() <= report.elapsed());
/// assert!(pool.notes().is_empty());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct CloseReport {
    pub(crate) name: String,
    pub(crate) outcome: CloseOutcome,
    pub(crate) started: Duration,
    pub(crate) duration: Duration,
    pub(crate) notes: Vec<String>,
}

impl CloseReport {
    /// The close's full name: `db`, or `group.db` inside a group.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it ended.
    #[must_use]
    pub fn outcome(&self) -> &CloseOutcome {
        &self.outcome
    }

    /// When it started, counted from the start of the cleanup.
    #[must_use]
    pub fn started(&self) -> Duration {
        self.started
    }

    /// How long it ran, from its start to its end (or to its cut).
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Remarks on how it ran, such as "started after `db`, which failed"
    /// or "cut at its timeout of 2s"; empty for a close that started when
    /// it should and ended by itself.
    #[must_use]
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// How one close ended: [`CloseReport::outcome`]. Its `Display` is
/// [`as_str`](CloseOutcome::as_str).
///
/// Not `PartialEq`: a failed close keeps its error ([`CloseError`]), which
/// has no equality. Match on the variant, or use
/// [`is_closed`](CloseOutcome::is_closed) and [`as_str`](CloseOutcome::as_str).
///
/// # Examples
///
/// ```
/// use graceful_rt::{Cleanup, CleanupPlan, CloseOutcome};
///
/// #[derive(Debug)]
/// struct Refused;
/// impl std::fmt::Display for Refused {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("connection refused")
///     }
/// }
/// impl std::error::Error for Refused {}
///
/// struct App;
/// impl Cleanup for App {
///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
///         plan.close("db", async { Err::<(), _>(Refused) });
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = App.cleanup().await;
/// let outcome = report.get("db").unwrap().outcome();
/// assert!(matches!(outcome, CloseOutcome::Failed(error) if error.downcast_ref::<Refused>().is_some()));
/// assert_eq!(outcome.message(), Some("connection refused"));
/// # }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CloseOutcome {
    /// It returned `Ok`.
    Closed,
    /// It returned an error, kept whole.
    Failed(CloseError),
    /// It panicked; what is kept of the panic is its message.
    Panicked(ClosePanic),
    /// It was cut at its timeout or at the shutdown deadline.
    TimedOut,
}

impl CloseOutcome {
    /// Whether the close succeeded: [`Closed`](CloseOutcome::Closed).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(self, CloseOutcome::Closed)
    }

    /// A one-word name: `closed`, `failed`, `panicked` or `timed_out`, as
    /// the JSON report writes it ([`report::CloseStatus`](crate::report::CloseStatus)).
    /// `Display` writes the same.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseOutcome::Closed => "closed",
            CloseOutcome::Failed(_) => "failed",
            CloseOutcome::Panicked(_) => "panicked",
            CloseOutcome::TimedOut => "timed_out",
        }
    }

    /// The error's message with its sources (`closing the pool: broken
    /// pipe`, a source the message already quotes left out), or the panic's
    /// message; `None` for a close that closed or timed out.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        match self {
            CloseOutcome::Failed(error) => Some(&error.chain),
            CloseOutcome::Panicked(panic) => Some(panic.text()),
            CloseOutcome::Closed | CloseOutcome::TimedOut => None,
        }
    }
}

impl fmt::Display for CloseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error a close returned, kept whole, so that a test can tell which
/// error it was.
///
/// It stands for that error: `Display` writes the error's own message,
/// [`source`](Error::source) is the error's source, and
/// [`downcast_ref`](CloseError::downcast_ref) gives the error back as the
/// type the close returned. [`CloseOutcome::message`] has the message with
/// its sources, as the log and the report print it.
///
/// The error is shared (an `Arc`), so that a [`CloseReport`] is `Clone`
/// and its clones hold the same error.
///
/// # Examples
///
/// ```
/// use std::io;
/// use graceful_rt::{Cleanup, CleanupPlan, CloseOutcome};
///
/// struct Pool;
/// impl Cleanup for Pool {
///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
///         plan.close("pool", async { Err::<(), _>(io::Error::from(io::ErrorKind::BrokenPipe)) });
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = Pool.cleanup().await;
/// let CloseOutcome::Failed(error) = report.get("pool").unwrap().outcome() else {
///     panic!("the close failed");
/// };
/// let io_error = error.downcast_ref::<io::Error>().expect("the error the close returned");
/// assert_eq!(io_error.kind(), io::ErrorKind::BrokenPipe);
/// # }
/// ```
#[derive(Clone)]
pub struct CloseError {
    error: Arc<dyn Error + Send + Sync + 'static>,
    /// The message with its sources, for [`CloseOutcome::message`].
    chain: Arc<str>,
}

impl CloseError {
    pub(crate) fn new(error: BoxError) -> CloseError {
        let chain = error_chain(&*error).into();
        CloseError {
            error: Arc::from(error),
            chain,
        }
    }

    /// The error the close returned, as a trait object: its `Display`, its
    /// `source`, or a [`downcast_ref`](CloseError::downcast_ref) of your own.
    #[must_use]
    pub fn get_ref(&self) -> &(dyn Error + Send + Sync + 'static) {
        &*self.error
    }

    /// The error the close returned, if it is a `T`; `None` if it is of
    /// another type.
    ///
    /// A close that returned its error boxed (a `BoxError`) is the error
    /// in the box: `downcast_ref` sees through it. A `String` or `&str`
    /// turned into a `BoxError` (with `into()`) is of a private type of
    /// the standard library, which no `T` names: downcast to a type of
    /// your own.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::fmt;
    /// use graceful_rt::{BoxError, Cleanup, CleanupPlan, CloseOutcome};
    ///
    /// #[derive(Debug)]
    /// struct Unacked(usize);
    /// impl fmt::Display for Unacked {
    ///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    ///         write!(f, "{} messages not acknowledged", self.0)
    ///     }
    /// }
    /// impl std::error::Error for Unacked {}
    ///
    /// struct App;
    /// impl Cleanup for App {
    ///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
    ///         // Returned boxed: `downcast_ref` sees the error in the box.
    ///         plan.close("queue", async { Err::<(), BoxError>(Box::new(Unacked(3))) });
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = App.cleanup().await;
    /// let CloseOutcome::Failed(error) = report.get("queue").unwrap().outcome() else {
    ///     panic!("the close failed");
    /// };
    /// assert_eq!(error.downcast_ref::<Unacked>().map(|unacked| unacked.0), Some(3));
    /// assert!(error.downcast_ref::<std::io::Error>().is_none(), "not an io::Error");
    /// assert_eq!(error.to_string(), "3 messages not acknowledged");
    /// # }
    /// ```
    #[must_use]
    pub fn downcast_ref<T: Error + 'static>(&self) -> Option<&T> {
        self.error.downcast_ref::<T>()
    }
}

impl fmt::Display for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.error, f)
    }
}

impl fmt::Debug for CloseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CloseError").field(&self.error).finish()
    }
}

impl Error for CloseError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.error.source()
    }
}

/// What is kept of a close's panic: its message.
///
/// The panic's payload itself is not kept. A payload is a
/// `Box<dyn Any + Send>`, neither `Sync` nor `Clone`, while a
/// [`CleanupReport`] is both (a test clones it, the shutdown shares it
/// with the log and the report); keeping the payload would cost the
/// report those, or keep it for one clone only. What `panic!` raises, a
/// `&str` or a `String`, is its message, and that is kept. A payload of
/// another type (from `std::panic::panic_any`) has no message:
/// [`message`](ClosePanic::message) is then `None`.
///
/// The panic hook printed the panic when it happened, with its location
/// (and a backtrace, with `RUST_BACKTRACE=1`).
///
/// # Examples
///
/// ```
/// use graceful_rt::{Cleanup, CleanupPlan, CloseOutcome};
///
/// struct App;
/// impl Cleanup for App {
///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
///         plan.close("pool", async {
///             panic!("pool poisoned");
///             #[allow(unreachable_code)]
///             Ok::<(), std::io::Error>(())
///         });
///         plan.close("cache", async { Ok::<(), std::io::Error>(()) });
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = App.cleanup().await;
/// let CloseOutcome::Panicked(panic) = report.get("pool").unwrap().outcome() else {
///     panic!("the close panicked");
/// };
/// assert_eq!(panic.message(), Some("pool poisoned"));
/// assert_eq!(panic.to_string(), "pool poisoned");
/// // The panic stopped only its own close.
/// assert!(report.get("cache").unwrap().outcome().is_closed());
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct ClosePanic {
    /// `None` for a payload other than a `&str` or a `String`.
    message: Option<Arc<str>>,
}

impl ClosePanic {
    pub(crate) fn new(payload: &(dyn Any + Send)) -> ClosePanic {
        ClosePanic {
            message: panic_text(payload).map(Arc::from),
        }
    }

    /// The message the close panicked with (`panic!("pool poisoned")`
    /// gives `"pool poisoned"`); `None` when its payload was not a string
    /// (`std::panic::panic_any(42)`).
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The message, or what a panic without one is called.
    fn text(&self) -> &str {
        self.message().unwrap_or(NO_MESSAGE)
    }
}

impl fmt::Display for ClosePanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

impl Error for ClosePanic {}
