// Mistake: main is `const`.
use graceful_rt::graceful_main;

#[graceful_main]
const async fn main() {}
