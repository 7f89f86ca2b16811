// Mistake: the flavor is written without quotes.
use graceful_rt::graceful_main;

#[graceful_main(flavor = current_thread)]
async fn main() {}
