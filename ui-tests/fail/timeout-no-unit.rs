// Mistake: the timeout has no unit.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "15")]
async fn main() {}
