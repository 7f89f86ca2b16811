// Mistake: the timeout is written without quotes, `15s` instead of `"15s"`.
use graceful_rt::graceful_main;

#[graceful_main(timeout = 15s)]
async fn main() {}
