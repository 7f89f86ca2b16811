// Mistake: `worker_threads` with the single-threaded runtime.
use graceful_rt::graceful_main;

#[graceful_main(flavor = "current_thread", worker_threads = 2)]
async fn main() {}
