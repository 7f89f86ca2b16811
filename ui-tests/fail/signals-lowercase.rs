// Mistake: signal names in lower case.
use graceful_rt::graceful_main;

#[graceful_main(signals = [sigterm, SIGINT])]
async fn main() {}
