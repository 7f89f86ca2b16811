// Mistake: `#[tokio::main]` written above `#[graceful_main]` (tokio's expands first).
use graceful_rt::graceful_main;

#[tokio::main]
#[graceful_main]
async fn main() {}
