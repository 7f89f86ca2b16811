// Mistake: the timeout is zero.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "0s")]
async fn main() {}
