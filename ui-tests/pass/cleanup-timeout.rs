// Accepted: `timeout` cuts a close that hangs; a close that finishes in time is unaffected.
use graceful_rt::{BoxError, Cleanup, Close, CloseOutcome};

struct Fast;

impl Close for Fast {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

struct Hanging;

impl Close for Hanging {
    async fn close(&self) -> Result<(), BoxError> {
        std::future::pending().await
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(timeout = "1s")]
    db: Fast,
    #[cleanup(timeout = "50ms")]
    broker: Hanging,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let report = App {
        db: Fast,
        broker: Hanging,
    }
    .cleanup()
    .await;
    assert!(report.get("db").unwrap().outcome().is_closed());
    assert!(matches!(
        report.get("broker").unwrap().outcome(),
        CloseOutcome::TimedOut
    ));
    assert!(report.elapsed() < std::time::Duration::from_secs(1));
    assert!(!report.is_ok());
}
