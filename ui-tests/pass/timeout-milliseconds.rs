// Accepted: a timeout in milliseconds.
use graceful_rt::graceful_main;

#[graceful_main(timeout = "500ms")]
async fn main() {}
