// Mistake: signal names in quotes.
use graceful_rt::graceful_main;

#[graceful_main(signals = ["SIGTERM"])]
async fn main() {}
