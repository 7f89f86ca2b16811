// Mistake: the timeout is a bare integer, not a duration string.
use graceful_rt::graceful_main;

#[graceful_main(timeout = 15)]
async fn main() {}
