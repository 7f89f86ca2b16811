// Accepted: `with` closes a field whose type is not `Close` with an async fn.
use std::sync::atomic::{AtomicUsize, Ordering};

use graceful_rt::Cleanup;

struct Metrics {
    flushed: AtomicUsize,
}

async fn flush(metrics: &Metrics) -> Result<(), std::io::Error> {
    metrics.flushed.fetch_add(1, Ordering::SeqCst);
    Ok(())
}

mod telemetry {
    pub(crate) struct Tracer;

    pub(crate) async fn shutdown(_tracer: &Tracer) -> Result<(), std::io::Error> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = flush)]
    metrics: Metrics,
    #[cleanup(with = telemetry::shutdown, timeout = "1s")]
    tracer: telemetry::Tracer,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App {
        metrics: Metrics {
            flushed: AtomicUsize::new(0),
        },
        tracer: telemetry::Tracer,
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    assert!(report.get("tracer").is_some());
    assert_eq!(app.metrics.flushed.load(Ordering::SeqCst), 1);
}
