// Mistake: SIGINT and CTRL_C are the same signal, listed twice.
use graceful_rt::graceful_main;

#[graceful_main(signals = [SIGINT, CTRL_C])]
async fn main() {}
