// Accepted: no argument, returns `()`.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main() {}
