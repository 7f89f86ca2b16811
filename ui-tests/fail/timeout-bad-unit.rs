// Mistake: `x` is not a unit of time.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "15x")]
async fn main() {}
