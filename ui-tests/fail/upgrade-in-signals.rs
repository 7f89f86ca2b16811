// Mistake: the upgrade signal also listed as a signal that stops the service.
use graceful_rt::graceful_main;

#[graceful_main(signals = [SIGTERM, SIGUSR2], upgrade = SIGUSR2)]
async fn main() {}
