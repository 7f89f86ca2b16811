// Mistake: `timeout` is set twice.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "15s", timeout = "30s")]
async fn main() {}
