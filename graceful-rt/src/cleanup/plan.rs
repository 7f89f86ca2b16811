use std::fmt;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::time::Duration;

use super::{BoxError, Cleanup};

pub(super) type CloseFuture<'a> = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + 'a>>;

/// The closes a [`Cleanup`] value asks for: built by
/// [`Cleanup::plan_cleanup`], run by the cleanup engine.
///
/// Every close starts at once, concurrently with the others, unless it was
/// given [`after`](PlanOptions::after): then it starts when the closes it
/// names have ended (however they ended).
///
/// A plan only holds the closes: nothing runs until the cleanup polls
/// them. Building one by hand and reading its [`names`](CleanupPlan::names)
/// tests what a `Cleanup` value plans, without closing anything.
///
/// # Examples
///
/// ```
/// use graceful_rt::{BoxError, Cleanup, CleanupPlan, Close};
///
/// #[derive(Cleanup)]
/// struct App {
///     #[cleanup]
///     db: Db,
///     #[cleanup(after = "db")]
///     cache: Db,
///     config: String,
/// }
/// # struct Db;
/// # impl Close for Db {
/// #     async fn close(&self) -> Result<(), BoxError> { Ok(()) }
/// # }
///
/// let app = App { db: Db, cache: Db, config: String::new() };
/// let mut plan = CleanupPlan::new();
/// assert!(plan.is_empty());
/// app.plan_cleanup(&mut plan);
/// assert_eq!(plan.len(), 2);
/// assert_eq!(plan.names().collect::<Vec<_>>(), ["db", "cache"]);
/// ```
pub struct CleanupPlan<'a> {
    pub(super) closes: Vec<PlannedClose<'a>>,
    /// Name prefix of the group being planned ("outer." inside `outer`).
    prefix: String,
}

pub(super) struct PlannedClose<'a> {
    pub(super) name: String,
    pub(super) timeout: Option<Duration>,
    /// Full names of closes or groups this one starts after.
    pub(super) after: Vec<String>,
    pub(super) future: CloseFuture<'a>,
}

impl<'a> CleanupPlan<'a> {
    /// An empty plan, for [`Cleanup::plan_cleanup`] to fill: the cleanup
    /// makes its own, and a test makes one to read what a value plans (see
    /// the example of [`CleanupPlan`]).
    #[must_use]
    pub fn new() -> CleanupPlan<'a> {
        CleanupPlan {
            closes: Vec::new(),
            prefix: String::new(),
        }
    }

    /// Adds a close named `name` (used in logs and in the report), run by
    /// awaiting `future`. Returns the options of the new close.
    ///
    /// The close succeeds when `future` returns `Ok`; an `Err` is kept
    /// whole ([`CloseError`](crate::CloseError)). Inside a group its full
    /// name is `group.name`. Names are not checked for uniqueness: give
    /// each close its own ([`CleanupReport::get`](crate::CleanupReport::get)
    /// finds the first close of a name; `after` waits for all of them).
    ///
    /// # Examples
    ///
    /// ```
    /// use graceful_rt::{Cleanup, CleanupPlan};
    ///
    /// struct Queue;
    /// impl Queue {
    ///     async fn ack_pending(&self) -> Result<(), std::io::Error> { Ok(()) }
    ///     async fn disconnect(&self) -> Result<(), std::io::Error> { Ok(()) }
    /// }
    ///
    /// struct App {
    ///     queue: Queue,
    /// }
    ///
    /// impl Cleanup for App {
    ///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
    ///         // Any future of `Result<(), E>` can be a close, an `async`
    ///         // block of several steps too.
    ///         plan.close("queue", async {
    ///             self.queue.ack_pending().await?;
    ///             self.queue.disconnect().await
    ///         });
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = App { queue: Queue }.cleanup().await;
    /// assert!(report.get("queue").unwrap().outcome().is_closed());
    /// # }
    /// ```
    pub fn close<F, E>(&mut self, name: &str, future: F) -> PlanOptions<'_, 'a>
    where
        F: Future<Output = Result<(), E>> + Send + 'a,
        E: Into<BoxError>,
    {
        let start = self.closes.len();
        self.closes.push(PlannedClose {
            name: format!("{}{name}", self.prefix),
            timeout: None,
            after: Vec::new(),
            future: Box::pin(async move { future.await.map_err(Into::into) }),
        });
        PlanOptions {
            plan: self,
            closes: start..start + 1,
        }
    }

    /// Adds the closes of `value` as a group named `name`: each is named
    /// `name.inner`, and the returned options apply to all of them. Other
    /// closes can start after the whole group with `after(["name"])`.
    ///
    /// Inside the group, closes order themselves with the names of their
    /// own level (`after(["primary"])`, not `storage.primary`). A group
    /// that plans nothing adds nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::{Cleanup, CleanupPlan};
    ///
    /// struct Store;
    /// impl Store {
    ///     async fn close(&self) -> Result<(), std::io::Error> { Ok(()) }
    /// }
    ///
    /// /// Two stores; the replica closes after the primary.
    /// struct Storage {
    ///     primary: Store,
    ///     replica: Store,
    /// }
    ///
    /// impl Cleanup for Storage {
    ///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
    ///         plan.close("primary", self.primary.close());
    ///         plan.close("replica", self.replica.close()).after(["primary"]);
    ///     }
    /// }
    ///
    /// struct App {
    ///     storage: Storage,
    ///     audit: Store,
    /// }
    ///
    /// impl Cleanup for App {
    ///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
    ///         plan.group("storage", &self.storage).timeout(Duration::from_secs(2));
    ///         // Once both stores have closed.
    ///         plan.close("audit", self.audit.close()).after(["storage"]);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let app = App { storage: Storage { primary: Store, replica: Store }, audit: Store };
    /// let report = app.cleanup().await;
    /// let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    /// assert_eq!(names, ["storage.primary", "storage.replica", "audit"]);
    /// assert!(report.is_ok());
    /// # }
    /// ```
    pub fn group<C: Cleanup + ?Sized>(&mut self, name: &str, value: &'a C) -> PlanOptions<'_, 'a> {
        self.group_with(name, |plan| value.plan_cleanup(plan))
    }

    /// Adds the closes that `add` plans as a group named `name`, like
    /// [`group`](CleanupPlan::group) without a `Cleanup` value.
    ///
    /// What [`Close::plan_close`](crate::Close::plan_close) of a collection
    /// uses, so that each element is in the report under its own name.
    ///
    /// # Examples
    ///
    /// A set of shards, each closed concurrently and reported as
    /// `shards.NAME`:
    ///
    /// ```
    /// use graceful_rt::{BoxError, CleanupPlan, Close, PlanOptions};
    ///
    /// struct Shard {
    ///     name: String,
    /// }
    ///
    /// impl Close for Shard {
    ///     async fn close(&self) -> Result<(), BoxError> { Ok(()) }
    /// }
    ///
    /// struct Shards(Vec<Shard>);
    ///
    /// impl Close for Shards {
    ///     async fn close(&self) -> Result<(), BoxError> {
    ///         for shard in &self.0 {
    ///             shard.close().await?;
    ///         }
    ///         Ok(())
    ///     }
    ///
    ///     fn plan_close<'p, 'a>(&'a self, name: &str, plan: &'p mut CleanupPlan<'a>) -> PlanOptions<'p, 'a> {
    ///         plan.group_with(name, |plan| {
    ///             for shard in &self.0 {
    ///                 plan.close(&shard.name, shard.close());
    ///             }
    ///         })
    ///     }
    /// }
    ///
    /// let shards = Shards(vec![Shard { name: "eu".into() }, Shard { name: "us".into() }]);
    /// let mut plan = CleanupPlan::new();
    /// shards.plan_close("shards", &mut plan);
    /// assert_eq!(plan.names().collect::<Vec<_>>(), ["shards.eu", "shards.us"]);
    /// ```
    pub fn group_with(
        &mut self,
        name: &str,
        add: impl FnOnce(&mut CleanupPlan<'a>),
    ) -> PlanOptions<'_, 'a> {
        let start = self.closes.len();
        let outer = std::mem::take(&mut self.prefix);
        self.prefix = format!("{outer}{name}.");
        add(self);
        self.prefix = outer;
        let end = self.closes.len();
        PlanOptions {
            plan: self,
            closes: start..end,
        }
    }

    /// Options that apply to no close: what a skipped value (`None`) plans.
    pub(crate) fn nothing(&mut self) -> PlanOptions<'_, 'a> {
        let end = self.closes.len();
        PlanOptions {
            plan: self,
            closes: end..end,
        }
    }

    /// The number of closes planned, those of groups included. See the
    /// example of [`CleanupPlan`].
    #[must_use]
    pub fn len(&self) -> usize {
        self.closes.len()
    }

    /// Whether nothing is planned: the cleanup of an empty plan ends at
    /// once.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.closes.is_empty()
    }

    /// The full names of the planned closes (`db`, `storage.primary`), in
    /// the order they were added: the order of the report's closes.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.closes.iter().map(|close| close.name.as_str())
    }
}

impl Default for CleanupPlan<'_> {
    fn default() -> Self {
        CleanupPlan::new()
    }
}

impl fmt::Debug for CleanupPlan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// Options of a close (or of every close of a group) just added to a
/// [`CleanupPlan`]. Each option takes effect when called; it returns the
/// options for the next one, which may be dropped.
///
/// Returned by [`CleanupPlan::close`], [`group`](CleanupPlan::group) and
/// [`group_with`](CleanupPlan::group_with), and by
/// [`Close::plan_close`](crate::Close::plan_close): the options
/// `#[cleanup(timeout = "2s", after = "db")]` sets. See
/// [`timeout`](PlanOptions::timeout) and [`after`](PlanOptions::after).
pub struct PlanOptions<'p, 'a> {
    plan: &'p mut CleanupPlan<'a>,
    closes: Range<usize>,
}

impl PlanOptions<'_, '_> {
    /// Cuts the close after `timeout`, counted from its own start. Without
    /// one, a close may use whatever remains of the shutdown budget. The
    /// shutdown deadline applies either way.
    ///
    /// A close that is cut is dropped where it stands, and reported as
    /// [`TimedOut`](crate::CloseOutcome::TimedOut) with the note
    /// `cut at its timeout of ...`. Given twice, or on a group whose closes
    /// have timeouts of their own, the shorter applies.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::{Cleanup, CleanupPlan, CloseOutcome};
    ///
    /// struct App;
    ///
    /// impl Cleanup for App {
    ///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
    ///         // A broker that never answers.
    ///         let goodbye = std::future::pending::<Result<(), std::io::Error>>();
    ///         plan.close("broker", goodbye).timeout(Duration::from_millis(5));
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = App.cleanup().await;
    /// let broker = report.get("broker").unwrap();
    /// assert!(matches!(broker.outcome(), CloseOutcome::TimedOut));
    /// assert_eq!(broker.notes(), ["cut at its timeout of 5ms"]);
    /// # }
    /// ```
    #[allow(clippy::return_self_not_must_use, clippy::must_use_candidate)] // It takes effect at once.
    pub fn timeout(self, timeout: Duration) -> Self {
        for close in &mut self.plan.closes[self.closes.clone()] {
            close.timeout = Some(close.timeout.map_or(timeout, |own| own.min(timeout)));
        }
        self
    }

    /// Starts the close only once the named closes or groups have ended,
    /// whether they closed or failed. Names are those given to
    /// [`CleanupPlan::close`] and [`CleanupPlan::group`] at the same level.
    ///
    /// Nothing is checked when the plan is built (`#[derive(Cleanup)]`
    /// checks its own names at compile time). When the cleanup runs, a
    /// name that matches nothing is ignored, with the note
    /// `` `after` names `x`, which planned nothing to close ``; closes that
    /// wait on each other in a cycle are started anyway once nothing else
    /// runs, with the note `` started despite a cycle in `after` ``. A close
    /// that starts after one that did not close is noted too
    /// (``started after `db`, which failed``).
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
    ///         plan.close("workers", async { Err::<(), _>(io::Error::other("one worker failed")) });
    ///         // The database stays open until the workers are done with it.
    ///         plan.close("db", async { Ok::<(), io::Error>(()) }).after(["workers"]);
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = App.cleanup().await;
    /// let (workers, db) = (report.get("workers").unwrap(), report.get("db").unwrap());
    /// assert!(db.started() >= workers.started() + workers.duration());
    /// assert!(db.outcome().is_closed());
    /// assert_eq!(db.notes(), ["started after `workers`, which failed"]);
    /// # }
    /// ```
    #[allow(clippy::return_self_not_must_use, clippy::must_use_candidate)] // It takes effect at once.
    pub fn after<I>(self, names: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let names: Vec<String> = names
            .into_iter()
            .map(|name| format!("{}{}", self.plan.prefix, name.as_ref()))
            .collect();
        for close in &mut self.plan.closes[self.closes.clone()] {
            close.after.extend(names.iter().cloned());
        }
        self
    }
}
