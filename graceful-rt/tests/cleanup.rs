//! `#[derive(Cleanup)]` end to end, in process: concurrency, isolation of
//! failures, `after`, nesting, generics, and the provided `Close` impls.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use graceful_rt::{BoxError, Cleanup, Close, CloseOutcome};

/// A resource whose close sleeps, then records that it closed.
#[derive(Default)]
struct Sleepy {
    ms: u64,
    closed: AtomicUsize,
}

impl Sleepy {
    fn new(ms: u64) -> Sleepy {
        Sleepy {
            ms,
            closed: AtomicUsize::new(0),
        }
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Close for Sleepy {
    async fn close(&self) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        self.closed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Cleanup)]
struct Eight {
    #[cleanup]
    a: Sleepy,
    #[cleanup]
    b: Sleepy,
    #[cleanup]
    c: Sleepy,
    #[cleanup]
    d: Sleepy,
    #[cleanup]
    e: Sleepy,
    #[cleanup]
    f: Sleepy,
    #[cleanup]
    g: Sleepy,
    #[cleanup]
    h: Sleepy,
}

#[tokio::test]
async fn eight_200ms_closes_finish_together() {
    let eight = Eight {
        a: Sleepy::new(200),
        b: Sleepy::new(200),
        c: Sleepy::new(200),
        d: Sleepy::new(200),
        e: Sleepy::new(200),
        f: Sleepy::new(200),
        g: Sleepy::new(200),
        h: Sleepy::new(200),
    };
    let started = Instant::now();
    let report = eight.cleanup().await;
    let took = started.elapsed();
    eprintln!("8 × 200 ms closes: {took:?}");
    assert!(report.is_ok(), "{report:?}");
    assert!(
        took < Duration::from_millis(400),
        "took {took:?}: the closes did not run concurrently"
    );
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["a", "b", "c", "d", "e", "f", "g", "h"]);
    for close in [
        &eight.a, &eight.b, &eight.c, &eight.d, &eight.e, &eight.f, &eight.g, &eight.h,
    ] {
        assert_eq!(close.closed(), 1);
    }
}

struct Failing;
impl Close for Failing {
    async fn close(&self) -> Result<(), BoxError> {
        Err(io::Error::new(io::ErrorKind::BrokenPipe, "server went away").into())
    }
}

struct Panicking;
impl Close for Panicking {
    async fn close(&self) -> Result<(), BoxError> {
        tokio::task::yield_now().await;
        panic!("pool poisoned")
    }
}

struct Hanging;
impl Close for Hanging {
    async fn close(&self) -> Result<(), BoxError> {
        std::future::pending().await
    }
}

#[derive(Cleanup)]
struct Troubled {
    #[cleanup]
    before: Sleepy,
    #[cleanup]
    failing: Failing,
    #[cleanup]
    panicking: Panicking,
    #[cleanup(timeout = "150ms")]
    hanging: Hanging,
    #[cleanup(after = "failing")]
    after_failing: Sleepy,
    #[cleanup]
    after: Sleepy,
}

#[tokio::test]
async fn a_failing_a_panicking_and_a_hanging_close_leave_the_healthy_ones_closed() {
    let troubled = Troubled {
        before: Sleepy::new(50),
        failing: Failing,
        panicking: Panicking,
        hanging: Hanging,
        after_failing: Sleepy::new(10),
        after: Sleepy::new(100),
    };
    let report = troubled.cleanup().await;
    assert_eq!(troubled.before.closed(), 1);
    assert_eq!(troubled.after_failing.closed(), 1);
    assert_eq!(troubled.after.closed(), 1);
    let outcome = |name: &str| report.get(name).unwrap().outcome().clone();
    assert!(outcome("before").is_closed());
    let failing = outcome("failing");
    assert!(
        matches!(&failing, CloseOutcome::Failed(error)
            if error.downcast_ref::<io::Error>().unwrap().kind() == io::ErrorKind::BrokenPipe),
        "{failing:?}"
    );
    assert_eq!(failing.message(), Some("server went away"));
    let panicking = outcome("panicking");
    assert!(
        matches!(&panicking, CloseOutcome::Panicked(panic) if panic.message() == Some("pool poisoned")),
        "{panicking:?}"
    );
    assert!(matches!(outcome("hanging"), CloseOutcome::TimedOut));
    assert!(outcome("after_failing").is_closed());
    assert!(outcome("after").is_closed());
    assert_eq!(
        report.get("after_failing").unwrap().notes(),
        ["started after `failing`, which failed"]
    );
    let hanging = report.get("hanging").unwrap();
    assert!(hanging.duration() >= Duration::from_millis(150));
    assert!(hanging.duration() < Duration::from_secs(2));
    assert!(!report.is_ok());
    let error = report.into_result().unwrap_err().to_string();
    assert_eq!(
        error,
        "`failing` failed: server went away; `panicking` panicked: pool poisoned; `hanging` timed out"
    );
}

/// Records the order closes finish in.
#[derive(Clone, Default)]
struct Order(Arc<Mutex<Vec<&'static str>>>);

struct Step {
    name: &'static str,
    ms: u64,
    order: Order,
}

impl Close for Step {
    async fn close(&self) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(self.ms)).await;
        self.order.0.lock().unwrap().push(self.name);
        Ok(())
    }
}

#[derive(Cleanup)]
struct Chained {
    #[cleanup(name = "http")]
    server: Step,
    #[cleanup(name = "jobs", after = "http")]
    scheduler: Step,
    #[cleanup(after = ["jobs", "http"])]
    db: Step,
    #[cleanup]
    metrics: Step,
}

#[tokio::test]
async fn after_chains_run_in_order_and_the_rest_concurrently() {
    let order = Order::default();
    let step = |name, ms| Step {
        name,
        ms,
        order: order.clone(),
    };
    let chained = Chained {
        server: step("http", 80),
        scheduler: step("jobs", 40),
        db: step("db", 40),
        metrics: step("metrics", 120),
    };
    let report = chained.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    // The chain in its order; metrics, beside it, ends anywhere (after
    // http, unless the timer is coarse or the machine busy).
    let ended = order.0.lock().unwrap().clone();
    let chain: Vec<_> = ended.iter().filter(|&&name| name != "metrics").collect();
    assert_eq!(chain, [&"http", &"jobs", &"db"], "{ended:?}");
    let started = |name: &str| report.get(name).unwrap().started();
    assert!(
        started("metrics") < Duration::from_millis(30),
        "metrics waited"
    );
    assert!(started("jobs") >= Duration::from_millis(80));
    assert!(started("db") >= Duration::from_millis(120));
    // The chain is 80 + 40 + 40 ms, metrics 120 ms beside it; one after
    // the other they would take 280 ms. (Windows' timer rounds each sleep
    // up to 15.6 ms steps: the chain can take 190 ms there.)
    assert!(
        report.elapsed() < Duration::from_millis(240),
        "{:?}",
        report.elapsed()
    );
}

#[derive(Cleanup)]
struct Storage {
    #[cleanup]
    db: Step,
    #[cleanup(after = "db")]
    files: Step,
}

#[derive(Cleanup)]
struct Nested {
    #[cleanup]
    http: Step,
    #[cleanup(after = "http")]
    storage: Storage,
    #[cleanup(after = "storage")]
    audit: Step,
}

#[tokio::test]
async fn a_nested_cleanup_struct_is_a_group() {
    let order = Order::default();
    let step = |name, ms| Step {
        name,
        ms,
        order: order.clone(),
    };
    let nested = Nested {
        http: step("http", 20),
        storage: Storage {
            db: step("db", 20),
            files: step("files", 20),
        },
        audit: step("audit", 1),
    };
    let report = nested.cleanup().await;
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["http", "storage.db", "storage.files", "audit"]);
    assert_eq!(*order.0.lock().unwrap(), ["http", "db", "files", "audit"]);
    assert!(report.is_ok());
}

#[derive(Cleanup)]
struct Generic<D, C: Send> {
    #[cleanup]
    db: D,
    #[cleanup]
    caches: Vec<C>,
    #[cleanup]
    optional: Option<Arc<D>>,
    #[allow(dead_code)]
    config: &'static str,
}

#[tokio::test]
async fn generics_option_vec_and_arc() {
    let value: Generic<Sleepy, Sleepy> = Generic {
        db: Sleepy::new(1),
        caches: vec![Sleepy::new(1), Sleepy::new(2)],
        optional: None,
        config: "untouched",
    };
    let report = value.cleanup().await;
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["db", "caches.0", "caches.1"], "None is skipped");
    assert!(report.is_ok());
    assert_eq!(value.caches[1].closed(), 1);

    let shared = Arc::new(Sleepy::new(1));
    let value = Generic {
        db: Sleepy::new(1),
        caches: Vec::<Sleepy>::new(),
        optional: Some(Arc::clone(&shared)),
        config: "",
    };
    let report = value.cleanup().await;
    assert!(report.get("optional").is_some());
    assert_eq!(shared.closed(), 1);
}

#[derive(Cleanup)]
struct Tuple(
    #[cleanup] Sleepy,
    #[cleanup(name = "second", after = "0")] Sleepy,
);

#[tokio::test]
async fn tuple_structs_name_fields_by_index() {
    let tuple = Tuple(Sleepy::new(20), Sleepy::new(1));
    let report = tuple.cleanup().await;
    assert_eq!(report.closes()[0].name(), "0");
    assert!(report.get("second").unwrap().started() >= Duration::from_millis(20));
}

struct Metrics {
    flushed: AtomicUsize,
}

async fn flush_metrics(metrics: &Metrics) -> Result<(), io::Error> {
    metrics.flushed.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

#[derive(Cleanup)]
struct WithPath {
    #[cleanup(with = flush_metrics)]
    metrics: Metrics,
}

#[tokio::test]
async fn with_calls_the_given_function() {
    let value = WithPath {
        metrics: Metrics {
            flushed: AtomicUsize::new(0),
        },
    };
    assert!(value.cleanup().await.is_ok());
    assert_eq!(value.metrics.flushed.load(Ordering::SeqCst), 1);
}

#[derive(Cleanup)]
struct Tokio {
    #[cleanup]
    token: tokio_util::sync::CancellationToken,
    #[cleanup(after = "token")]
    tasks: tokio_util::task::TaskTracker,
    #[cleanup]
    log: tokio::sync::Mutex<tokio::io::BufWriter<tokio::fs::File>>,
}

#[tokio::test]
async fn tokio_util_types_and_a_buffered_file_close() {
    use tokio::io::AsyncWriteExt as _;

    let token = tokio_util::sync::CancellationToken::new();
    let tasks = tokio_util::task::TaskTracker::new();
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..3 {
        let token = token.clone();
        let finished = Arc::clone(&finished);
        tasks.spawn(async move {
            token.cancelled().await;
            // Finishing the current tick takes a moment.
            tokio::time::sleep(Duration::from_millis(30)).await;
            finished.fetch_add(1, Ordering::SeqCst);
        });
    }
    let path = std::env::temp_dir().join(format!("graceful-close-{}.log", std::process::id()));
    let mut writer = tokio::io::BufWriter::new(tokio::fs::File::create(&path).await.unwrap());
    writer
        .write_all(b"buffered, not yet written\n")
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap().len(),
        0,
        "the line is still in the buffer"
    );
    let state = Tokio {
        token,
        tasks,
        log: tokio::sync::Mutex::new(writer),
    };
    let report = state.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        3,
        "the tracker waited for its tasks"
    );
    assert!(state.tasks.is_closed());
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "buffered, not yet written\n"
    );
    std::fs::remove_file(&path).unwrap();
}
