// Mistake: the timeout is an empty string.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "")]
async fn main() {}
