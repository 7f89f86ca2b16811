// Mistake: `#[graceful_main]` is applied twice.
use graceful_rt::graceful_main;

#[graceful_main]
#[graceful_main]
async fn main() {}
