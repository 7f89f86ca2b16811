// No upgrade signal: SIGUSR2 keeps its default action.
use graceful_rt::graceful_main;

#[graceful_main(upgrade = none)]
async fn main() {}
