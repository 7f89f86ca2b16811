// Mistake: the upgrade signal in quotes.
use graceful_rt::graceful_main;

#[graceful_main(upgrade = "SIGHUP")]
async fn main() {}
