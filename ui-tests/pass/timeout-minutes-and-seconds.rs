// Accepted: a timeout in minutes and seconds.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "1m30s")]
async fn main() {}
