// Mistake: the attribute is on a function not named `main`, and there is no other main.
use graceful_rt::graceful_main;

#[graceful_main]
async fn run() {}
