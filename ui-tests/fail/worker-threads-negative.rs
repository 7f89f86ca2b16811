// Mistake: a negative number of worker threads.
use graceful_rt::graceful_main;

#[graceful_main(worker_threads = -1)]
async fn main() {}
