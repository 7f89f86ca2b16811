// Mistake: a signal that does not exist.
use graceful_rt::graceful_main;

#[graceful_main(upgrade = SIGUSR3)]
async fn main() {}
