// Accepted: a timeout with a fraction of a second.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "1.5s")]
async fn main() {}
