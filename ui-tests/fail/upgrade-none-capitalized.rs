// Mistake: `None`, as in Rust, for no upgrade signal.
use graceful_rt::graceful_main;

#[graceful_main(upgrade = None)]
async fn main() {}
