// A lame duck of 2s inside a 15s budget; "0s" (or "0") means none.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main(timeout = "15s", drain_delay = "2s")]
async fn main(shutdown: Shutdown) {
    assert_eq!(shutdown.drain_delay(), std::time::Duration::from_secs(2));
}
