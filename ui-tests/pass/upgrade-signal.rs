// The upgrade by hand-off on SIGHUP instead of SIGUSR2.
use graceful_rt::graceful_main;

#[graceful_main(upgrade = SIGHUP)]
async fn main() {}
