//! [`Close`]: what a resource does when the application stops, and the
//! implementations for the standard and tokio types a state holds.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;

use crate::cleanup::{self, BoxError, Cleanup, CleanupPlan, PlanOptions};

/// A resource that can be closed: a pool, a client, a task tracker.
///
/// Fields tagged `#[cleanup]` in a `#[derive(Cleanup)]` struct are closed
/// through this trait, concurrently with the other fields. Implement it
/// with an `async fn`.
///
/// # Examples
///
/// ```
/// use graceful_rt::{BoxError, Close};
///
/// struct Metrics;
///
/// impl Close for Metrics {
///     async fn close(&self) -> Result<(), BoxError> {
///         // flush what is buffered, say goodbye to the server, ...
///         Ok(())
///     }
/// }
/// ```
///
/// A close should finish what its resource holds (pending writes, in-flight
/// transactions) and then release it. It does not need a timeout of its
/// own: the cleanup cuts it at the `#[cleanup(timeout = "...")]` of its field
/// or at the shutdown deadline. It runs on the runtime beside the other
/// closes: for blocking work, use `tokio::task::spawn_blocking`, or, for
/// a call that may never return, a thread of its own (a runtime waits for
/// its blocking tasks when it is dropped; see the `opentelemetry` closes).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be closed: it does not implement `graceful_rt::Close`",
    label = "`#[cleanup]` closes a value through `graceful_rt::Close`",
    note = "ways out: implement `graceful_rt::Close` for `{Self}`; \
            or write `#[cleanup(with = path::to::close_fn)]` with an `async fn close_fn(&{Self}) -> Result<(), E>`; \
            or enable the graceful-rt feature named after its crate, if there is one \
            (`sqlx`, `redis`, `async-nats`, `lapin`, `deadpool-postgres`, `tokio-util`, `opentelemetry`, `rdkafka`); \
            or, if `{Self}` groups resources of its own, `#[derive(Cleanup)]` on it so it closes as a nested group"
)]
pub trait Close {
    /// Closes the resource. Errors are recorded in the shutdown report and
    /// make the exit code 1; they never stop the other closes.
    ///
    /// # Errors
    ///
    /// Whatever kept the resource from closing cleanly (a flush that
    /// failed, a server that went away); the report names it.
    ///
    /// # Cancel safety
    ///
    /// The cleanup drops the future at the close's timeout or at the
    /// shutdown deadline: what it had not finished by then is not done.
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Adds this value's close to `plan`, under `name`: how a field tagged
    /// `#[cleanup]` joins the cleanup.
    ///
    /// The default adds one close that runs [`close`](Close::close), and
    /// fits every single resource. A value that holds several overrides it
    /// to add them as a group, each in the report under its own name:
    /// `Vec` (`name.0`, `name.1`, ...), `Option` (nothing for `None`), and
    /// a struct that derives `Cleanup` (`name.field`). Override it for a
    /// collection of your own with [`CleanupPlan::group_with`] (its example
    /// is such an override).
    ///
    /// The returned options are the close's (or the group's): the field's
    /// `timeout` and `after` are set on them.
    fn plan_close<'p, 'a>(
        &'a self,
        name: &str,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        plan.close(name, self.close())
    }
}

/// Closes the borrowed value.
impl<T: Close + ?Sized> Close for &T {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        (**self).close()
    }

    fn plan_close<'p, 'a>(
        &'a self,
        name: &str,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        (**self).plan_close(name, plan)
    }
}

/// Closes the shared value. Clones held elsewhere (a router's state, say)
/// see it closed.
impl<T: Close + ?Sized> Close for Arc<T> {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        (**self).close()
    }

    fn plan_close<'p, 'a>(
        &'a self,
        name: &str,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        (**self).plan_close(name, plan)
    }
}

impl<T: Close + ?Sized> Close for Box<T> {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        (**self).close()
    }

    fn plan_close<'p, 'a>(
        &'a self,
        name: &str,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        (**self).plan_close(name, plan)
    }
}

/// `None` is skipped: it does not appear in the report.
impl<T: Close> Close for Option<T> {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        let close = self.as_ref().map(Close::close);
        async move {
            match close {
                Some(close) => close.await,
                None => Ok(()),
            }
        }
    }

    fn plan_close<'p, 'a>(
        &'a self,
        name: &str,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        match self {
            Some(value) => value.plan_close(name, plan),
            None => plan.nothing(),
        }
    }
}

/// Every element, concurrently; each is reported as `name.0`, `name.1`, ...
impl<T: Close> Close for Vec<T> {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        close_plan(elements(self))
    }

    fn plan_close<'p, 'a>(
        &'a self,
        name: &str,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        plan.group_with(name, |plan| add_elements(self, plan))
    }
}

fn elements<T: Close>(slice: &[T]) -> CleanupPlan<'_> {
    let mut plan = CleanupPlan::new();
    add_elements(slice, &mut plan);
    plan
}

fn add_elements<'a, T: Close>(slice: &'a [T], plan: &mut CleanupPlan<'a>) {
    for (index, element) in slice.iter().enumerate() {
        element.plan_close(&index.to_string(), plan);
    }
}

/// Flushes and shuts down the writer behind the lock: a buffered file
/// writer (`tokio::io::BufWriter<tokio::fs::File>`) writes out what it holds
/// and the file is synced to the OS.
#[diagnostic::do_not_recommend]
impl<W> Close for tokio::sync::Mutex<W>
where
    W: tokio::io::AsyncWrite + Unpin + Send,
{
    async fn close(&self) -> Result<(), BoxError> {
        let mut writer = self.lock().await;
        let mut writer = Pin::new(&mut *writer);
        poll_fn(|cx| writer.as_mut().poll_flush(cx)).await?;
        poll_fn(|cx| writer.as_mut().poll_shutdown(cx)).await?;
        Ok(())
    }
}

/// How `#[cleanup(with = path)]` calls `path`: any function that takes the
/// field by reference and returns a `Send` future of `Result<(), E>`.
#[diagnostic::on_unimplemented(
    message = "`with` needs an async fn that takes `&{T}` and returns `Result<(), E>`",
    label = "this is not an `async fn(&{T}) -> Result<(), E>` (with `E` an error type, `Send + Sync`, and a `Send` future)",
    note = "write `async fn close_fn(field: &{T}) -> Result<(), E>`, and `#[cleanup(with = close_fn)]`"
)]
pub trait CloseWith<'a, T: ?Sized> {
    /// Plans `self(field)` as the close named `name`.
    fn plan<'p>(
        self,
        name: &str,
        field: &'a T,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a>;
}

#[diagnostic::do_not_recommend]
impl<'a, T, F, Fut, E> CloseWith<'a, T> for F
where
    T: ?Sized + 'a,
    F: FnOnce(&'a T) -> Fut,
    Fut: Future<Output = Result<(), E>> + Send + 'a,
    E: Into<BoxError>,
{
    fn plan<'p>(
        self,
        name: &str,
        field: &'a T,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        plan.close(name, self(field))
    }
}

/// Runs a plan as one close: `Ok` if every close in it closed, otherwise an
/// error naming each one that did not.
pub(crate) fn close_plan(
    plan: CleanupPlan<'_>,
) -> impl Future<Output = Result<(), BoxError>> + Send + '_ {
    let run = cleanup::run(plan, None, &());
    async move { run.await.into_result() }
}

/// The `Close` of a type that derives `Cleanup`: all its closes, as one.
pub fn close_cleanup<C: Cleanup + ?Sized>(
    value: &C,
) -> impl Future<Output = Result<(), BoxError>> + Send + '_ {
    let mut plan = CleanupPlan::new();
    value.plan_cleanup(&mut plan);
    close_plan(plan)
}
