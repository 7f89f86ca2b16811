// Mistake: the value is written in parentheses, `timeout("15s")`, instead of `timeout = "15s"`.
use graceful_rt::graceful_main;

#[graceful_main(timeout("15s"))]
async fn main() {}
