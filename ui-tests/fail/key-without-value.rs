// Mistake: `timeout` is given without a value.
use graceful_rt::graceful_main;

#[graceful_main(timeout)]
async fn main() {}
