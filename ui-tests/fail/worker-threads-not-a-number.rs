// Mistake: `worker_threads` written as a string.
use graceful_rt::graceful_main;

#[graceful_main(worker_threads = "4")]
async fn main() {}
