// Mistake: the timeout is a `Duration` expression instead of a string.
use graceful_rt::graceful_main;

#[graceful_main(timeout = std::time::Duration::from_secs(15))]
async fn main() {}
