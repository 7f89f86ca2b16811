// Mistake: `current-thread` with a hyphen instead of `current_thread`.
use graceful_rt::graceful_main;

#[graceful_main(flavor = "current-thread")]
async fn main() {}
