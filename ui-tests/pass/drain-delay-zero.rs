// A drain delay of zero: no lame duck.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main(drain_delay = "0s")]
async fn main(shutdown: Shutdown) {
    assert!(shutdown.drain_delay().is_zero());
}
