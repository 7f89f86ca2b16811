// Accepted: every argument at once.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main(
    timeout = "15s",
    signals = [SIGTERM, SIGINT, SIGHUP],
    flavor = "multi_thread",
    worker_threads = 2,
)]
async fn main(shutdown: Shutdown) {
    assert!(!shutdown.is_requested());
}
