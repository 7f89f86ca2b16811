//! Runs a [`CleanupPlan`]: every close whose `after` is satisfied runs
//! concurrently with the others; each is caught if it panics and cut if it
//! outlives its timeout or the deadline, so no close can stop the rest.

use std::any::Any;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::plan::PlannedClose;
use super::{
    BoxError, CleanupPlan, CleanupReport, CloseError, CloseOutcome, ClosePanic, CloseReport,
};
use crate::duration;
use crate::log;
use crate::unwind::CatchUnwind;

/// Told when each close starts and ends (the phase machine, so the deadline
/// can say what was still pending).
pub(crate) trait Observer: Sync {
    fn close_started(&self, _name: &str) {}
    fn close_ended(&self, _report: &CloseReport) {}
}

/// No one to tell.
impl Observer for () {}

type Guarded<'a> = Pin<Box<dyn Future<Output = CloseOutcome> + Send + 'a>>;

enum Slot<'a> {
    Waiting(PlannedClose<'a>),
    Running(Running<'a>),
    Ended(CloseReport),
    /// Only while moving from one state to the next.
    Moving,
}

struct Running<'a> {
    name: String,
    started: Instant,
    /// What cuts it: its own timeout or the shutdown deadline.
    cut_by: Option<Limit>,
    notes: Vec<String>,
    future: Guarded<'a>,
}

#[derive(Clone, Copy)]
enum Limit {
    Own(Duration),
    Deadline,
}

/// Runs every close of `plan` and reports how each ended. `deadline`, when
/// given, cuts whatever is still running at that instant.
pub(crate) async fn run<'a>(
    plan: CleanupPlan<'a>,
    deadline: Option<Instant>,
    observer: &'a dyn Observer,
) -> CleanupReport {
    let start = Instant::now();
    let (dependencies, mut notes) = resolve(&plan.closes);
    let mut slots: Vec<Slot<'a>> = plan.closes.into_iter().map(Slot::Waiting).collect();
    poll_fn(|cx| {
        loop {
            start_ready(&mut slots, &dependencies, &mut notes, deadline, observer);
            let mut ended = false;
            for slot in &mut slots {
                if let Some(report) = poll_running(slot, cx, start) {
                    log_end(&report);
                    observer.close_ended(&report);
                    *slot = Slot::Ended(report);
                    ended = true;
                }
            }
            if slots.iter().all(|slot| matches!(slot, Slot::Ended(_))) {
                return Poll::Ready(());
            }
            if !ended {
                return Poll::Pending;
            }
            // Something ended: closes waiting on it may start now.
        }
    })
    .await;
    CleanupReport {
        closes: slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Ended(report) => report,
                _ => unreachable!("the cleanup ends when every close has ended"),
            })
            .collect(),
        elapsed: start.elapsed(),
    }
}

/// For each close, the indices of the closes it starts after, and the notes
/// about names in `after` that match nothing.
fn resolve(closes: &[PlannedClose<'_>]) -> (Vec<Vec<usize>>, Vec<Vec<String>>) {
    let mut dependencies = Vec::with_capacity(closes.len());
    let mut notes = Vec::with_capacity(closes.len());
    for (index, close) in closes.iter().enumerate() {
        let mut mine = Vec::new();
        let mut my_notes = Vec::new();
        for name in &close.after {
            let group = format!("{name}.");
            let before: Vec<usize> = closes
                .iter()
                .enumerate()
                .filter(|&(other, candidate)| {
                    other != index
                        && (candidate.name == *name || candidate.name.starts_with(&group))
                })
                .map(|(other, _)| other)
                .collect();
            if before.is_empty() {
                my_notes.push(format!(
                    "`after` names `{name}`, which planned nothing to close"
                ));
            }
            mine.extend(before);
        }
        dependencies.push(mine);
        notes.push(my_notes);
    }
    (dependencies, notes)
}

fn start_ready<'a>(
    slots: &mut [Slot<'a>],
    dependencies: &[Vec<usize>],
    notes: &mut [Vec<String>],
    deadline: Option<Instant>,
    observer: &dyn Observer,
) {
    let ready: Vec<usize> = (0..slots.len())
        .filter(|&index| {
            matches!(slots[index], Slot::Waiting(_))
                && dependencies[index]
                    .iter()
                    .all(|&before| matches!(slots[before], Slot::Ended(_)))
        })
        .collect();
    let mut ready_or_stuck = ready;
    let running = slots.iter().any(|slot| matches!(slot, Slot::Running(_)));
    if ready_or_stuck.is_empty() && !running {
        // Whatever still waits, waits on a cycle: start it anyway.
        ready_or_stuck = (0..slots.len())
            .filter(|&index| matches!(slots[index], Slot::Waiting(_)))
            .collect();
        for &index in &ready_or_stuck {
            notes[index].push("started despite a cycle in `after`".to_owned());
        }
    }
    for index in ready_or_stuck {
        let mut my_notes = std::mem::take(&mut notes[index]);
        for &before in &dependencies[index] {
            if let Slot::Ended(report) = &slots[before] {
                if !report.outcome.is_closed() {
                    my_notes.push(format!(
                        "started after `{}`, which {}",
                        report.name,
                        match report.outcome {
                            CloseOutcome::Failed(_) => "failed",
                            CloseOutcome::Panicked(_) => "panicked",
                            _ => "timed out",
                        }
                    ));
                }
            }
        }
        let Slot::Waiting(planned) = std::mem::replace(&mut slots[index], Slot::Moving) else {
            unreachable!("only waiting closes are started");
        };
        observer.close_started(&planned.name);
        slots[index] = Slot::Running(launch(planned, my_notes, deadline));
    }
}

fn launch<'a>(
    planned: PlannedClose<'a>,
    notes: Vec<String>,
    deadline: Option<Instant>,
) -> Running<'a> {
    let started = Instant::now();
    let own = planned
        .timeout
        .map(|timeout| (duration::after(started, timeout), Limit::Own(timeout)));
    let shutdown = deadline.map(|deadline| (deadline, Limit::Deadline));
    let limit = match (own, shutdown) {
        (Some(own), Some(shutdown)) => Some(if own.0 <= shutdown.0 { own } else { shutdown }),
        (own, shutdown) => own.or(shutdown),
    };
    let caught = async move { outcome(CatchUnwind(planned.future).await) };
    let future: Guarded<'a> = match limit {
        None => Box::pin(caught),
        Some((at, _)) => Box::pin(async move {
            tokio::time::timeout_at(at.into(), caught)
                .await
                .unwrap_or(CloseOutcome::TimedOut)
        }),
    };
    Running {
        name: planned.name,
        started,
        cut_by: limit.map(|(_, why)| why),
        notes,
        future,
    }
}

fn poll_running(slot: &mut Slot<'_>, cx: &mut Context<'_>, start: Instant) -> Option<CloseReport> {
    let Slot::Running(running) = slot else {
        return None;
    };
    let Poll::Ready(outcome) = running.future.as_mut().poll(cx) else {
        return None;
    };
    let mut notes = std::mem::take(&mut running.notes);
    if matches!(outcome, CloseOutcome::TimedOut) {
        notes.push(match running.cut_by {
            Some(Limit::Own(timeout)) => {
                format!("cut at its timeout of {}", duration::display(timeout))
            }
            _ => "cut at the shutdown deadline".to_owned(),
        });
    }
    Some(CloseReport {
        name: std::mem::take(&mut running.name),
        outcome,
        started: running.started.duration_since(start),
        duration: running.started.elapsed(),
        notes,
    })
}

fn log_end(report: &CloseReport) {
    let took = duration::display(report.duration);
    let name = &report.name;
    match &report.outcome {
        CloseOutcome::Closed => log::info!("closed {name} in {took}"),
        CloseOutcome::Failed(_) | CloseOutcome::Panicked(_) => log::warning!(
            "{name} {} after {took}: {}",
            report.outcome,
            report.outcome.message().unwrap_or_default()
        ),
        CloseOutcome::TimedOut => log::warning!(
            "{name} timed out after {took} ({})",
            report.notes.last().map_or("cut", String::as_str)
        ),
    }
}

/// How a close ended, from its result or the payload of its panic.
fn outcome(caught: Result<Result<(), BoxError>, Box<dyn Any + Send>>) -> CloseOutcome {
    match caught {
        Ok(Ok(())) => CloseOutcome::Closed,
        Ok(Err(error)) => CloseOutcome::Failed(CloseError::new(error)),
        Err(payload) => CloseOutcome::Panicked(ClosePanic::new(&*payload)),
    }
}

/// "connect failed: connection refused", skipping a source already quoted
/// by the message before it.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Mutex;

    use super::*;
    use crate::Cleanup;

    async fn sleep_ok(ms: u64) -> Result<(), io::Error> {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(())
    }

    struct Eight;
    impl Cleanup for Eight {
        fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
            for index in 0..8 {
                plan.close(&format!("r{index}"), sleep_ok(200));
            }
        }
    }

    #[tokio::test]
    async fn closes_run_concurrently() {
        let report = Eight.cleanup().await;
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.closes().len(), 8);
        // Eight 200 ms closes in sequence would take 1.6 s.
        assert!(
            report.elapsed() < Duration::from_millis(400),
            "{:?}",
            report.elapsed()
        );
    }

    struct Troubled;
    impl Cleanup for Troubled {
        fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
            plan.close("healthy", sleep_ok(50));
            plan.close("failing", async {
                Err::<(), _>(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    "connection refused",
                ))
            });
            plan.close("panicking", async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                panic!("close exploded");
                #[allow(unreachable_code)]
                Ok::<(), io::Error>(())
            });
            plan.close("hanging", std::future::pending::<Result<(), io::Error>>())
                .timeout(Duration::from_millis(100));
            plan.close("after-failing", sleep_ok(1)).after(["failing"]);
        }
    }

    #[tokio::test]
    async fn no_close_stops_the_others() {
        let report = Troubled.cleanup().await;
        let outcome = |name: &str| report.get(name).unwrap().outcome().clone();
        assert!(outcome("healthy").is_closed());
        let failing = outcome("failing");
        assert!(
            matches!(&failing, CloseOutcome::Failed(error)
                if error.downcast_ref::<io::Error>().unwrap().kind() == io::ErrorKind::ConnectionRefused),
            "{failing:?}"
        );
        assert_eq!(failing.message(), Some("connection refused"));
        let panicking = outcome("panicking");
        assert!(
            matches!(&panicking, CloseOutcome::Panicked(panic) if panic.message() == Some("close exploded")),
            "{panicking:?}"
        );
        assert_eq!(panicking.message(), Some("close exploded"));
        assert!(matches!(outcome("hanging"), CloseOutcome::TimedOut));
        assert!(outcome("after-failing").is_closed());
        assert_eq!(
            report.get("after-failing").unwrap().notes(),
            ["started after `failing`, which failed"]
        );
        assert_eq!(
            report.get("hanging").unwrap().notes(),
            ["cut at its timeout of 100ms"]
        );
        assert!(!report.is_ok());
        assert!(
            report.elapsed() < Duration::from_secs(2),
            "{:?}",
            report.elapsed()
        );
    }

    /// An error type of the application's, with a source.
    #[derive(Debug)]
    struct PoolClosed {
        in_use: usize,
        cause: io::Error,
    }
    impl std::fmt::Display for PoolClosed {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "the pool closed with {} in use", self.in_use)
        }
    }
    impl std::error::Error for PoolClosed {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.cause)
        }
    }

    struct Failing;
    impl Cleanup for Failing {
        fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
            plan.close("pool", async {
                Err::<(), _>(PoolClosed {
                    in_use: 3,
                    cause: io::Error::other("broken pipe"),
                })
            });
            // Boxed by the close itself: the error in the box is kept.
            plan.close("boxed", async {
                Err::<(), BoxError>(Box::new(PoolClosed {
                    in_use: 1,
                    cause: io::Error::other("reset"),
                }))
            });
            plan.close("panic_any", async {
                std::panic::panic_any(42_u32);
                #[allow(unreachable_code)]
                Ok::<(), io::Error>(())
            });
        }
    }

    #[tokio::test]
    async fn a_failed_close_keeps_its_error_for_a_downcast() {
        let report = Failing.cleanup().await;
        let CloseOutcome::Failed(error) = report.get("pool").unwrap().outcome() else {
            panic!("{report:?}");
        };
        let pool = error
            .downcast_ref::<PoolClosed>()
            .expect("the error the close returned");
        assert_eq!(pool.in_use, 3);
        assert!(error.downcast_ref::<io::Error>().is_none());
        assert_eq!(error.to_string(), "the pool closed with 3 in use");
        let source = std::error::Error::source(error).expect("the error's own source");
        assert_eq!(source.to_string(), "broken pipe");
        assert!(error.get_ref().is::<PoolClosed>());
        assert_eq!(
            report.get("pool").unwrap().outcome().message(),
            Some("the pool closed with 3 in use: broken pipe")
        );
        // A clone of the report holds the same error.
        let cloned = report.clone();
        let CloseOutcome::Failed(again) = cloned.get("pool").unwrap().outcome() else {
            unreachable!()
        };
        assert!(std::ptr::eq(
            again.downcast_ref::<PoolClosed>().unwrap(),
            pool
        ));

        let CloseOutcome::Failed(boxed) = report.get("boxed").unwrap().outcome() else {
            panic!("{report:?}");
        };
        assert_eq!(boxed.downcast_ref::<PoolClosed>().unwrap().in_use, 1);

        let outcome = report.get("panic_any").unwrap().outcome();
        let CloseOutcome::Panicked(panic) = outcome else {
            panic!("{report:?}");
        };
        assert_eq!(panic.message(), None, "a payload that is not a string");
        assert_eq!(outcome.message(), Some("a panic with a non-string payload"));
        assert_eq!(panic.to_string(), "a panic with a non-string payload");
    }

    struct Chain(Mutex<Vec<&'static str>>);
    impl Chain {
        async fn close(&self, name: &'static str, ms: u64) -> Result<(), io::Error> {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            self.0.lock().unwrap().push(name);
            Ok(())
        }
    }
    impl Cleanup for Chain {
        fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
            plan.close("http", self.close("http", 60));
            plan.close("jobs", self.close("jobs", 10)).after(["http"]);
            plan.close("db", self.close("db", 10))
                .after(["jobs", "http"]);
            plan.close("metrics", self.close("metrics", 20));
        }
    }

    #[tokio::test]
    async fn after_orders_a_chain_and_leaves_the_rest_concurrent() {
        let chain = Chain(Mutex::new(Vec::new()));
        let report = chain.cleanup().await;
        assert!(report.is_ok());
        // The chain in its order; metrics, concurrent with it, anywhere
        // (first, unless the timer is coarse or the machine busy).
        let ended = chain.0.lock().unwrap().clone();
        let chained: Vec<_> = ended.iter().filter(|&&name| name != "metrics").collect();
        assert_eq!(chained, [&"http", &"jobs", &"db"], "{ended:?}");
        let started = |name: &str| report.get(name).unwrap().started();
        assert!(started("metrics") < Duration::from_millis(30));
        assert!(started("jobs") >= Duration::from_millis(60));
        assert!(started("db") >= started("jobs") + Duration::from_millis(10));
    }

    struct Outer {
        inner: Chain,
    }
    impl Cleanup for Outer {
        fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
            plan.close("first", sleep_ok(30));
            plan.group("inner", &self.inner).after(["first"]);
            plan.close("last", sleep_ok(1)).after(["inner"]);
        }
    }

    #[tokio::test]
    async fn groups_nest_names_and_order() {
        let outer = Outer {
            inner: Chain(Mutex::new(Vec::new())),
        };
        let report = outer.cleanup().await;
        let names: Vec<&str> = report.closes().iter().map(CloseReport::name).collect();
        assert_eq!(
            names,
            [
                "first",
                "inner.http",
                "inner.jobs",
                "inner.db",
                "inner.metrics",
                "last"
            ]
        );
        let started = |name: &str| report.get(name).unwrap().started();
        assert!(started("inner.metrics") >= Duration::from_millis(30));
        let inner_end = report
            .closes()
            .iter()
            .filter(|close| close.name().starts_with("inner."))
            .map(|close| close.started() + close.duration())
            .max()
            .unwrap();
        assert!(started("last") >= inner_end);
    }

    struct Cycle;
    impl Cleanup for Cycle {
        fn plan_cleanup<'a>(&'a self, plan: &mut CleanupPlan<'a>) {
            plan.close("a", sleep_ok(1)).after(["b"]);
            plan.close("b", sleep_ok(1)).after(["a"]);
            plan.close("c", sleep_ok(1)).after(["nowhere"]);
        }
    }

    #[tokio::test]
    async fn a_cycle_or_an_unknown_name_never_blocks() {
        let report = Cycle.cleanup().await;
        assert!(report.is_ok());
        assert_eq!(
            report.get("a").unwrap().notes(),
            ["started despite a cycle in `after`"]
        );
        assert_eq!(
            report.get("c").unwrap().notes(),
            ["`after` names `nowhere`, which planned nothing to close"]
        );
    }

    #[tokio::test]
    async fn the_deadline_cuts_what_is_left() {
        let mut plan = CleanupPlan::new();
        plan.close("quick", sleep_ok(1));
        plan.close("stuck", std::future::pending::<Result<(), io::Error>>());
        let deadline = Instant::now() + Duration::from_millis(100);
        let report = run(plan, Some(deadline), &()).await;
        assert!(report.get("quick").unwrap().outcome().is_closed());
        let stuck = report.get("stuck").unwrap();
        assert!(matches!(stuck.outcome(), CloseOutcome::TimedOut));
        assert_eq!(stuck.notes(), ["cut at the shutdown deadline"]);
        assert!(Instant::now() >= deadline);
    }

    #[test]
    fn error_chains_skip_repeated_sources() {
        #[derive(Debug)]
        struct Outer(io::Error);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("closing the pool")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = Outer(io::Error::other("broken pipe"));
        assert_eq!(error_chain(&error), "closing the pool: broken pipe");
    }
}
