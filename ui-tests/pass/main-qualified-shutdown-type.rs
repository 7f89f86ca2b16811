// Accepted: the `Shutdown` type written with its full path.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main(shutdown: graceful_rt::Shutdown) {
    assert!(!shutdown.is_requested());
}
