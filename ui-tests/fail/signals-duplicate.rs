// Mistake: a signal is listed twice.
use graceful_rt::graceful_main;

#[graceful_main(signals = [SIGTERM, SIGINT, SIGTERM])]
async fn main() {}
