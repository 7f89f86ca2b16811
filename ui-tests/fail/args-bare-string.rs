// Mistake: the timeout is written as a bare string, without `timeout =`.
use graceful_rt::graceful_main;

#[graceful_main("15s")]
async fn main() {}
