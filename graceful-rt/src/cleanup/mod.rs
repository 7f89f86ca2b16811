//! Cleanup: closing what the application holds once its server has drained.
//!
//! A value that implements [`Cleanup`] describes its closes in a
//! [`CleanupPlan`]; the engine runs them concurrently, each isolated from
//! the others: a close that fails, panics or hangs is recorded and cut, and
//! never stops the rest.
//!
//! What is closed: a resource that implements [`Close`](close::Close)
//! ([`close`], with the clients services use in `integrations`), and the
//! background tasks of [`Tasks`](tasks::Tasks) ([`tasks`]).

pub(crate) mod close;
#[cfg(any(feature = "opentelemetry", feature = "rdkafka"))]
mod detached;
mod engine;
mod integrations;
mod plan;
mod report;
pub(crate) mod tasks;

use std::future::Future;
use std::sync::Arc;

pub use plan::{CleanupPlan, PlanOptions};
pub use report::{CleanupReport, CloseError, CloseOutcome, ClosePanic, CloseReport};

pub(crate) use engine::{Observer, error_chain, run};

/// The error a close returns: any error, boxed. A failed close keeps it
/// whole in its report ([`CloseError`]).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A value holding resources that must be closed when the process stops:
/// the application state `main` returns.
///
/// `#[graceful_main]` cleans up what `main` returns once `main` has returned
/// (that is, once the server has drained), within what is left of the
/// shutdown budget. `#[derive(Cleanup)]` writes the implementation; by hand
/// it is one call per resource, on the [`CleanupPlan`]: see
/// [`close`](CleanupPlan::close), [`group`](CleanupPlan::group),
/// [`group_with`](CleanupPlan::group_with) and the options of each close,
/// [`timeout`](PlanOptions::timeout) and [`after`](PlanOptions::after).
///
/// Every close runs concurrently with the others, unless ordered with
/// `after`; one that fails, panics or is cut at its timeout is recorded in
/// the [`CleanupReport`] and never stops the others.
///
/// # Examples
///
/// ```
/// use graceful_rt::{Cleanup, CleanupPlan};
///
/// struct Db;
/// impl Db {
///     async fn close(&self) -> Result<(), std::io::Error> { Ok(()) }
/// }
///
/// struct App {
///     db: Db,
///     cache: Db,
/// }
///
/// impl Cleanup for App {
///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
///         plan.close("db", self.db.close());
///         plan.close("cache", self.cache.close()).after(["db"]);
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = App { db: Db, cache: Db }.cleanup().await;
/// assert!(report.is_ok());
/// assert_eq!(report.closes().len(), 2);
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be cleaned up: it does not implement `graceful_rt::Cleanup`",
    label = "`{Self}` does not implement `Cleanup`",
    note = "derive it, `#[derive(Cleanup)]`, and tag the fields to close with `#[cleanup]`; or implement it by hand"
)]
pub trait Cleanup {
    /// Adds this value's closes to `plan`, without running any of them: the
    /// futures it adds are polled only when the cleanup runs. See the
    /// trait's example.
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>);

    /// Runs every close now, concurrently, and reports how each ended.
    ///
    /// This is what `#[graceful_main]` runs after `main` returns, without the
    /// shutdown deadline: only the closes' own timeouts apply. Call it to
    /// test your own shutdown.
    ///
    /// Closes with a timeout need tokio's timer (a runtime built with
    /// `enable_time`, as `#[tokio::main]` and `#[tokio::test]` do).
    ///
    /// # Panics
    ///
    /// When a close has a timeout and the cleanup runs outside a tokio
    /// runtime with the timer enabled, as `tokio::time::timeout` does; and
    /// when [`plan_cleanup`](Cleanup::plan_cleanup) panics. A close that
    /// panics does not: it is caught, and reported as
    /// [`CloseOutcome::Panicked`](crate::CloseOutcome::Panicked).
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops every close still running where it
    /// stands (what it had not finished is not done), and those not yet
    /// started are never run; there is no report. To bound a cleanup, give
    /// its closes a [`timeout`](PlanOptions::timeout) instead: they are
    /// then reported as timed out.
    ///
    /// # Examples
    ///
    /// A test of the application's own shutdown, with a close that hangs:
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::{Cleanup, CleanupPlan, CloseOutcome};
    ///
    /// struct App;
    ///
    /// impl Cleanup for App {
    ///     fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
    ///         plan.close("db", async { Ok::<(), std::io::Error>(()) });
    ///         plan.close("stuck", std::future::pending::<Result<(), std::io::Error>>())
    ///             .timeout(Duration::from_millis(5));
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let report = App.cleanup().await;
    /// assert!(report.get("db").unwrap().outcome().is_closed());
    /// assert!(matches!(report.get("stuck").unwrap().outcome(), CloseOutcome::TimedOut));
    /// assert!(!report.is_ok());
    /// # }
    /// ```
    fn cleanup(&self) -> impl Future<Output = CleanupReport> + Send + '_
    where
        Self: Sized,
    {
        let mut plan = CleanupPlan::new();
        self.plan_cleanup(&mut plan);
        run(plan, None, &())
    }
}

/// Nothing to close.
#[diagnostic::do_not_recommend]
impl Cleanup for () {
    fn plan_cleanup<'a>(&'a self, _plan: &mut CleanupPlan<'a>) {}
}

/// State shared with handlers is cleaned up through its `Arc`.
#[diagnostic::do_not_recommend]
impl<T: Cleanup + ?Sized> Cleanup for Arc<T> {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        (**self).plan_cleanup(plan);
    }
}

#[diagnostic::do_not_recommend]
impl<T: Cleanup + ?Sized> Cleanup for Box<T> {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        (**self).plan_cleanup(plan);
    }
}

/// `None` has nothing to close.
#[diagnostic::do_not_recommend]
impl<T: Cleanup> Cleanup for Option<T> {
    fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
        if let Some(value) = self {
            value.plan_cleanup(plan);
        }
    }
}
