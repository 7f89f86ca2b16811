// Mistake: `SIGFOO` is not a signal.
use graceful_rt::graceful_main;

#[graceful_main(signals = [SIGTERM, SIGFOO])]
async fn main() {}
