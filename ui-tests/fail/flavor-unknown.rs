// Mistake: `single` is not a runtime flavor.
use graceful_rt::graceful_main;

#[graceful_main(flavor = "single")]
async fn main() {}
