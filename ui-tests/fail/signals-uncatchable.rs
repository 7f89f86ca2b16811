// Mistake: SIGKILL cannot be caught, so it cannot start a graceful shutdown.
use graceful_rt::graceful_main;

#[graceful_main(signals = [SIGTERM, SIGKILL])]
async fn main() {}
