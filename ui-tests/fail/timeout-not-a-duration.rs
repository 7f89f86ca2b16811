// Mistake: the timeout is not a duration at all.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "banana")]
async fn main() {}
