// Accepted: `return` inside the body returns from main.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main]
async fn main(shutdown: Shutdown) -> Result<(), std::io::Error> {
    if !shutdown.is_requested() {
        return Ok(());
    }
    unreachable!("main returned above");
}
