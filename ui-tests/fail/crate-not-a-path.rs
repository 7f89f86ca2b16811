// Mistake: `crate = "..."` holds something that is not a path.
use graceful_rt::graceful_main;

#[graceful_main(crate = "graceful-rt")]
async fn main() {}
