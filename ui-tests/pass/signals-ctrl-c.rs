// CTRL_C is SIGINT under its Windows name: accepted everywhere.
use graceful_rt::graceful_main;

#[graceful_main(signals = [CTRL_C])]
async fn main() {}
