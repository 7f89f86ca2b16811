// Mistake: `#[tokio::main]` written below `#[graceful_main]` (graceful's expands first).
use graceful_rt::graceful_main;

#[graceful_main]
#[tokio::main]
async fn main() {}
