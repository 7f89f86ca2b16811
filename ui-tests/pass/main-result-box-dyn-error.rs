// Accepted: returns `Result<(), Box<dyn std::error::Error>>`.
use graceful_rt::{graceful_main, Shutdown};

#[graceful_main]
async fn main(shutdown: Shutdown) -> Result<(), Box<dyn std::error::Error>> {
    assert!(!shutdown.is_requested());
    Ok(())
}
