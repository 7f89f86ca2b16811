// Mistake: `signals` is an empty list.
use graceful_rt::graceful_main;

#[graceful_main(signals = [])]
async fn main() {}
