// Mistake: the timeout is negative.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "-1s")]
async fn main() {}
