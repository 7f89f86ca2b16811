// Accepted: `?` inside a main that returns `Result`.
use graceful_rt::{graceful_main, Shutdown};

fn port() -> Result<u16, std::num::ParseIntError> {
    "3000".parse()
}

#[graceful_main]
async fn main(shutdown: Shutdown) -> Result<(), std::num::ParseIntError> {
    let port = port()?;
    assert_eq!(port, 3000);
    assert!(!shutdown.is_requested());
    Ok(())
}
