// Mistake: a timeout below 1ms, which leaves no time for any shutdown.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "1ns")]
async fn main() {}
