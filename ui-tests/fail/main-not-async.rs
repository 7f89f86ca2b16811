// Mistake: main is not `async`.
use graceful_rt::graceful_main;

#[graceful_main]
fn main() {}
