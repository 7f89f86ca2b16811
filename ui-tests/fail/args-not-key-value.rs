// Mistake: the timeout is written alone, without `timeout =`.
use graceful_rt::graceful_main;

#[graceful_main(15s)]
async fn main() {}
