// Mistake: the drain delay has no unit.
use graceful_rt::graceful_main;

#[graceful_main(drain_delay = "5")]
async fn main() {}
