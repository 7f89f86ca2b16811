// Mistake: `start_paused` is an argument of `#[tokio::main]`, not of `#[graceful_main]`.
use graceful_rt::graceful_main;

#[graceful_main(start_paused = true)]
async fn main() {}
