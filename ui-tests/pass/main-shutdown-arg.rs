// Accepted: main takes the `Shutdown` handle.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main]
async fn main(shutdown: Shutdown) {
    assert!(!shutdown.is_requested());
}
