// Mistake: a Windows console event as the upgrade signal.
use graceful_rt::graceful_main;

#[graceful_main(upgrade = CTRL_BREAK)]
async fn main() {}
