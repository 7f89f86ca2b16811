// Mistake: zero worker threads.
use graceful_rt::graceful_main;

#[graceful_main(worker_threads = 0)]
async fn main() {}
