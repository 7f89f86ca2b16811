// Mistake: `:` instead of `=` between the key and its value.
use graceful_rt::graceful_main;

#[graceful_main(timeout: "15s")]
async fn main() {}
