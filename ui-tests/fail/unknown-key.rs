// Mistake: `timeout` is misspelled `timout`.
use graceful_rt::graceful_main;

#[graceful_main(timout = "15s")]
async fn main() {}
