// Mistake: the path of graceful-rt written without quotes.
use graceful_rt::graceful_main;

#[graceful_main(crate = graceful_rt)]
async fn main() {}
