// Accepted: the single-threaded runtime.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main(flavor = "current_thread")]
async fn main(shutdown: Shutdown) {
    assert!(!shutdown.is_requested());
}
