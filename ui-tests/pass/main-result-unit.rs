// Accepted: returns `Result<(), std::io::Error>`.
use graceful_rt::graceful_main;

#[graceful_main]
async fn main() -> Result<(), std::io::Error> {
    Ok(())
}
