// Accepted: the `Shutdown` argument bound with `mut`.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main]
async fn main(mut shutdown: Shutdown) {
    let other = shutdown.clone();
    shutdown = other;
    assert!(!shutdown.is_requested());
}
