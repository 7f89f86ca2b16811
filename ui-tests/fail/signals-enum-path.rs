// Mistake: signals written as `Signal` variants instead of their names.
use graceful_rt::graceful_main;

#[graceful_main(signals = [Signal::Terminate])]
async fn main() {}
