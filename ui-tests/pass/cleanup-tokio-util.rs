// tokio-util's CancellationToken (cancelled) and TaskTracker (closed, then waited for).
use graceful_rt::Cleanup;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Cleanup)]
struct App {
    #[cleanup]
    stop: CancellationToken,
    #[cleanup(after = "stop")]
    tasks: TaskTracker,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App { stop: CancellationToken::new(), tasks: TaskTracker::new() };
    let stop = app.stop.clone();
    app.tasks.spawn(async move { stop.cancelled().await });
    let report = app.cleanup().await;
    assert!(report.is_ok());
    assert!(app.stop.is_cancelled());
    assert!(app.tasks.is_closed() && app.tasks.is_empty());
}
