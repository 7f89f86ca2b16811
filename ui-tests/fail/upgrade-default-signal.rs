// Mistake: upgrading on SIGTERM, which stops the service by default.
use graceful_rt::graceful_main;

#[graceful_main(upgrade = SIGTERM)]
async fn main() {}
