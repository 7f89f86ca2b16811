// Mistake: the signals are in parentheses instead of brackets.
use graceful_rt::graceful_main;

#[graceful_main(signals = (SIGTERM, SIGINT))]
async fn main() {}
