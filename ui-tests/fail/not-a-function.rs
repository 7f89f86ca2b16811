// Mistake: `#[graceful_main]` is on a struct, not on `async fn main`.
use graceful_rt::graceful_main;

#[graceful_main]
struct App;

fn main() {}
