// Mistake: `signals` is one signal, not a list.
use graceful_rt::graceful_main;

#[graceful_main(signals = SIGTERM)]
async fn main() {}
