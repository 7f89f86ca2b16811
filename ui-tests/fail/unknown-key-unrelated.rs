// Mistake: `port` is not an argument of `#[graceful_main]`.
use graceful_rt::graceful_main;

#[graceful_main(port = 3000)]
async fn main() {}
