// Mistake: the signals are not separated by commas.
use graceful_rt::graceful_main;

#[graceful_main(signals = [SIGTERM SIGINT])]
async fn main() {}
