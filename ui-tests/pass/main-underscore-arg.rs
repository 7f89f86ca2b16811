// Accepted: the `Shutdown` argument ignored with `_`.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main]
async fn main(_: Shutdown) {}
