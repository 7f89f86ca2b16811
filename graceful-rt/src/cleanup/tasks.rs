//! [`Tasks`]: named background tasks under the shutdown's supervision. One
//! that fails stops the service; closing waits for every one of them, and
//! the report names each and how it ended.

use std::fmt;
use std::future::Future;
use std::panic;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tokio::sync::Notify;

use crate::cleanup::{BoxError, CleanupPlan, PlanOptions, error_chain};
use crate::unwind::{CatchUnwind, panic_message};
use crate::{Close, Shutdown, log};

/// Named background tasks that the shutdown supervises: a mailer, a queue
/// consumer, a cache refresher.
///
/// - [`spawn`](Tasks::spawn) runs a task that returns `Result<(), E>`.
///   Tasks learn of the shutdown from a [`Shutdown`] they hold, and end.
/// - A task that returns an error or panics **starts the shutdown**: the
///   cause names the task, the log its error, and the exit code is 1. A
///   background worker that died is a service that no longer works.
/// - Tagged `#[cleanup]`, closing waits for every task, concurrently, and
///   the report lists each by name (`tasks.mailer`) with how it ended.
///   One still running at its timeout or the shutdown deadline is named
///   as cut. Order closes with `after` as for any field: the database
///   `#[cleanup(after = "tasks")]` closes once the tasks are done with it.
///
/// `Tasks` is cheap to clone: every clone spawns into, and closes, the same
/// set.
///
/// # Examples
///
/// ```no_run
/// use graceful_rt::{Cleanup, Shutdown, Tasks, graceful_main};
///
/// #[derive(Cleanup)]
/// struct App {
///     #[cleanup]
///     tasks: Tasks,
/// }
///
/// async fn mailer(shutdown: Shutdown) -> Result<(), std::io::Error> {
///     while !shutdown.is_requested() {
///         // send what is queued, then wait for more or for the shutdown
///         tokio::select! {
///             () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
///             _ = shutdown.requested() => {}
///         }
///     }
///     Ok(())
/// }
///
/// #[graceful_main(timeout = "5s")]
/// async fn main(shutdown: Shutdown) -> Result<App, graceful_rt::BoxError> {
///     let tasks = Tasks::new(shutdown.clone());
///     tasks.spawn("mailer", mailer(shutdown.clone()))?;
///     shutdown.requested().await;
///     Ok(App { tasks })
/// }
/// ```
#[derive(Clone)]
pub struct Tasks {
    inner: Arc<Inner>,
}

struct Inner {
    shutdown: Shutdown,
    /// The tasks still running, those that failed, and, once the shutdown
    /// has begun, every one: what the report lists.
    tasks: Mutex<Vec<Arc<Task>>>,
}

/// One task, as its supervisor sees it.
struct Task {
    name: &'static str,
    /// How it ended, once it has.
    ended: OnceLock<Ended>,
    /// Notified when it ends.
    done: Notify,
}

/// How a task ended.
#[derive(Clone, Debug)]
enum Ended {
    Finished,
    Failed(String),
    Panicked(String),
}

/// Why [`Tasks::spawn`] did not run a task: the shutdown had begun.
///
/// The task was dropped without being polled. Its `Display` says which
/// (`task NAME was not spawned: the shutdown has begun`); the same line is
/// logged as a warning. Where a task may be spawned during the shutdown
/// (from a request handler, say), treat it as the answer "too late".
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::{Shutdown, Tasks};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::new(Duration::from_secs(5));
/// let tasks = Tasks::new(shutdown.clone());
/// shutdown.trigger();
///
/// let error = tasks.spawn("reindex", async { Ok::<(), std::io::Error>(()) }).unwrap_err();
/// assert_eq!(error.name(), "reindex");
/// assert_eq!(error.to_string(), "task reindex was not spawned: the shutdown has begun");
/// # }
/// ```
#[derive(Debug)]
pub struct SpawnError {
    name: &'static str,
}

impl SpawnError {
    /// The name of the task that was not spawned.
    #[must_use]
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {} was not spawned: the shutdown has begun",
            self.name
        )
    }
}

impl std::error::Error for SpawnError {}

impl Tasks {
    /// An empty set of tasks, supervised by `shutdown`: a task that
    /// fails starts it, and no task is spawned once it has begun.
    ///
    /// It takes the handle by value, as `Readiness::new`, `DrainLayer::new`
    /// and `http::serve` do: pass `shutdown.clone()` to keep one.
    ///
    /// # Examples
    ///
    /// A task that fails stops the service:
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::{Cause, Shutdown, Tasks};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(5));
    /// let tasks = Tasks::new(shutdown.clone());
    /// tasks.spawn("indexer", async { Err::<(), _>("index directory is gone") }).unwrap();
    ///
    /// shutdown.requested().await;
    /// assert_eq!(shutdown.cause(), Some(Cause::TaskFailed("indexer")));
    /// # }
    /// ```
    #[must_use]
    pub fn new(shutdown: Shutdown) -> Tasks {
        Tasks {
            inner: Arc::new(Inner {
                shutdown,
                tasks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Runs `task` on the runtime, under `name` (in logs and the report).
    ///
    /// If it returns an error or panics, the shutdown starts, its cause
    /// naming the task. If it finishes before the shutdown began, it is
    /// forgotten; after, the report lists it.
    ///
    /// # Errors
    ///
    /// Once the shutdown has begun, no task is spawned: a task started
    /// then would race the cleanup. The error (also logged) names it.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, as `tokio::spawn` does.
    ///
    /// # Examples
    ///
    /// A worker that runs until the shutdown, then finishes what it holds:
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::{Close, Shutdown, Tasks};
    ///
    /// async fn consume(shutdown: Shutdown) -> Result<(), std::io::Error> {
    ///     shutdown.requested().await;
    ///     // ack what was received, then return
    ///     Ok(())
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), graceful_rt::BoxError> {
    /// let shutdown = Shutdown::new(Duration::from_secs(5));
    /// let tasks = Tasks::new(shutdown.clone());
    /// tasks.spawn("consumer", consume(shutdown.clone()))?;
    ///
    /// shutdown.trigger();
    /// // What `#[cleanup]` on a `Tasks` field does: wait for every task.
    /// tasks.close().await?;
    /// assert!(tasks.running().is_empty());
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn<F, E>(&self, name: &'static str, task: F) -> Result<(), SpawnError>
    where
        F: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let record = Arc::new(Task {
            name,
            ended: OnceLock::new(),
            done: Notify::new(),
        });
        {
            // Checked under the lock the close takes its list under: a task
            // is either refused or in the list the close waits for.
            let mut tasks = self.inner.lock();
            if self.inner.shutdown.is_requested() {
                drop(tasks);
                let error = SpawnError { name };
                log::warning!("{error}");
                return Err(error);
            }
            tasks.push(Arc::clone(&record));
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let ended = match CatchUnwind(Box::pin(task)).await {
                Ok(Ok(())) => Ended::Finished,
                Ok(Err(error)) => Ended::Failed(error_chain(&*error.into())),
                Err(payload) => Ended::Panicked(panic_message(&*payload)),
            };
            inner.ended(&record, ended);
        });
        Ok(())
    }

    /// The names of the tasks running now, in the order they were spawned,
    /// a name once for each task that has it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use graceful_rt::{Shutdown, Tasks};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let shutdown = Shutdown::new(Duration::from_secs(5));
    /// let tasks = Tasks::new(shutdown.clone());
    /// for name in ["mailer", "indexer"] {
    ///     let shutdown = shutdown.clone();
    ///     tasks
    ///         .spawn(name, async move {
    ///             shutdown.requested().await;
    ///             Ok::<(), std::io::Error>(())
    ///         })
    ///         .unwrap();
    /// }
    /// assert_eq!(tasks.running(), ["mailer", "indexer"]);
    /// # }
    /// ```
    #[must_use]
    pub fn running(&self) -> Vec<&'static str> {
        self.inner
            .lock()
            .iter()
            .filter(|task| task.ended.get().is_none())
            .map(|task| task.name)
            .collect()
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Task>>> {
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records how `task` ended; a failure starts the shutdown.
    fn ended(&self, task: &Arc<Task>, ended: Ended) {
        let name = task.name;
        match &ended {
            Ended::Finished => log::info!("task {name} finished"),
            Ended::Failed(error) => log::warning!("task {name} failed: {error}"),
            Ended::Panicked(message) => log::warning!("task {name} panicked: {message}"),
        }
        let failed = !matches!(ended, Ended::Finished);
        let _ = task.ended.set(ended);
        task.done.notify_waiters();
        if failed {
            self.shutdown.task_failed(name);
        } else if !self.shutdown.is_requested() {
            // Done with nothing to report: not kept, so a service that
            // spawns many short tasks does not grow the list.
            self.lock().retain(|kept| !Arc::ptr_eq(kept, task));
        }
    }
}

impl Task {
    /// Waits until the task has ended, and says how.
    async fn ended(&self) -> &Ended {
        crate::notify::until(&self.done, || self.ended.get().is_some()).await;
        self.ended.get().expect("waited until it ended")
    }

    /// Waits until the task has ended: an error for a task that failed, and
    /// for one that panicked, that panic again (without the panic hook,
    /// which has already reported it), so that the report says `panicked`.
    async fn join(&self) -> Result<(), BoxError> {
        match self.ended().await {
            Ended::Finished => Ok(()),
            Ended::Failed(error) => Err(error.clone().into()),
            Ended::Panicked(message) => panic::resume_unwind(Box::new(message.clone())),
        }
    }
}

/// Waits for every task; fails if one failed, naming it.
impl Close for Tasks {
    async fn close(&self) -> Result<(), BoxError> {
        let tasks = self.inner.lock().clone();
        let mut failed = Vec::new();
        for task in &tasks {
            match task.ended().await {
                Ended::Finished => {}
                Ended::Failed(error) => failed.push(format!("{}: {error}", task.name)),
                Ended::Panicked(message) => {
                    failed.push(format!("{}: panicked: {message}", task.name));
                }
            }
        }
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed.join("; ").into())
        }
    }

    /// One close for each task, named after it (`tasks.mailer`, and
    /// `tasks.worker#2` for a second task named `worker`): each waits for
    /// its task, so the report tells which ended how, and which were still
    /// running when they were cut.
    fn plan_close<'p, 'a>(
        &'a self,
        name: &str,
        plan: &'p mut CleanupPlan<'a>,
    ) -> PlanOptions<'p, 'a> {
        let tasks = self.inner.lock().clone();
        plan.group_with(name, |plan| {
            let mut seen: Vec<&str> = Vec::new();
            for task in tasks {
                let count = seen.iter().filter(|seen| **seen == task.name).count();
                seen.push(task.name);
                let close_name = match count {
                    0 => task.name.to_owned(),
                    n => format!("{}#{}", task.name, n + 1),
                };
                plan.close(&close_name, async move { task.join().await });
            }
        })
    }
}

impl fmt::Debug for Tasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tasks")
            .field("running", &self.running())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Cause;

    fn shutdown() -> Shutdown {
        Shutdown::new(Duration::from_secs(5))
    }

    #[tokio::test]
    async fn a_failing_task_starts_the_shutdown_naming_it() {
        let shutdown = shutdown();
        let tasks = Tasks::new(shutdown.clone());
        tasks
            .spawn("ok", async { Ok::<(), std::io::Error>(()) })
            .unwrap();
        tasks
            .spawn("broken", async { Err::<(), _>("disk full") })
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), shutdown.requested())
            .await
            .expect("the failure starts the shutdown");
        assert_eq!(shutdown.cause(), Some(Cause::TaskFailed("broken")));
        let error = tasks.close().await.expect_err("one task failed");
        assert_eq!(error.to_string(), "broken: disk full");
        assert!(tasks.running().is_empty());
    }

    #[tokio::test]
    async fn a_spawn_after_the_shutdown_began_is_refused() {
        let shutdown = shutdown();
        let tasks = Tasks::new(shutdown.clone());
        shutdown.trigger();
        let error = tasks
            .spawn("late", async { Ok::<(), std::io::Error>(()) })
            .expect_err("refused");
        assert_eq!(error.name(), "late");
        assert!(tasks.running().is_empty());
        tasks.close().await.expect("nothing to wait for");
    }

    #[tokio::test]
    async fn closing_waits_for_every_task_and_keeps_their_names() {
        let shutdown = shutdown();
        let tasks = Tasks::new(shutdown.clone());
        for name in ["worker", "worker", "indexer"] {
            let shutdown = shutdown.clone();
            tasks
                .spawn(name, async move {
                    shutdown.requested().await;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<(), std::io::Error>(())
                })
                .unwrap();
        }
        assert_eq!(tasks.running(), ["worker", "worker", "indexer"]);
        shutdown.trigger();
        let mut plan = CleanupPlan::new();
        tasks.plan_close("tasks", &mut plan);
        let names: Vec<&str> = plan.names().collect();
        assert_eq!(names, ["tasks.worker", "tasks.worker#2", "tasks.indexer"]);
        tasks.close().await.unwrap();
        assert!(tasks.running().is_empty());
    }
}
