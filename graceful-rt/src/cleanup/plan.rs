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
    /// An empty plan.
    #[must_use]
    pub fn new() -> CleanupPlan<'a> {
        CleanupPlan {
            closes: Vec::new(),
            prefix: String::new(),
        }
    }

    /// Adds a close named `name` (used in logs and in the report), run by
    /// awaiting `future`. Returns the options of the new close.
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
    pub fn group<C: Cleanup + ?Sized>(&mut self, name: &str, value: &'a C) -> PlanOptions<'_, 'a> {
        self.group_with(name, |plan| value.plan_cleanup(plan))
    }

    /// Adds the closes that `add` plans as a group named `name`, like
    /// [`group`](CleanupPlan::group) without a `Cleanup` value.
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

    /// The number of closes planned.
    #[must_use]
    pub fn len(&self) -> usize {
        self.closes.len()
    }

    /// Whether nothing is planned.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.closes.is_empty()
    }

    /// The full names of the planned closes, in the order they were added.
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
pub struct PlanOptions<'p, 'a> {
    plan: &'p mut CleanupPlan<'a>,
    closes: Range<usize>,
}

impl PlanOptions<'_, '_> {
    /// Cuts the close after `timeout`, counted from its own start. Without
    /// one, a close may use whatever remains of the shutdown budget. The
    /// shutdown deadline applies either way.
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
