// Accepted: every signal that can start a shutdown.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main(signals = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])]
async fn main(shutdown: Shutdown) {
    assert!(!shutdown.is_requested());
}
