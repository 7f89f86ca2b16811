// Mistake: signal names without the `SIG` prefix.
use graceful_rt::graceful_main;

#[graceful_main(signals = [TERM, INT])]
async fn main() {}
