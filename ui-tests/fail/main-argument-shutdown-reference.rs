// Mistake: main takes `&Shutdown` instead of `Shutdown` by value.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main]
async fn main(shutdown: &Shutdown) {
    let _ = shutdown.is_requested();
}
