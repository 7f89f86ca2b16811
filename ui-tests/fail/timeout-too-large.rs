// Mistake: the timeout overflows.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "99999999999999999999h")]
async fn main() {}
