// Accepted: main awaits on the runtime the attribute builds (timer enabled).
use std::time::Duration;

use graceful_rt::{graceful_main, Shutdown};

#[graceful_main(flavor = "current_thread")]
async fn main(shutdown: Shutdown) {
    tokio::time::sleep(Duration::from_millis(1)).await;
    tokio::task::yield_now().await;
    assert!(!shutdown.is_requested());
}
