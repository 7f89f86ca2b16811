// Mistake: the lame duck is as long as the whole shutdown budget.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "10s", drain_delay = "10s")]
async fn main() {}
