// Accepted: `#[graceful_main]` returns `Result<App, E>` where `App` derives `Cleanup`; it is cleaned up after main returns.
use graceful_rt::{graceful_main, BoxError, Cleanup, Close, Shutdown};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(timeout = "1s")]
    db: Db,
    #[cleanup(after = "db")]
    cache: Db,
}

#[graceful_main(timeout = "5s")]
async fn main(shutdown: Shutdown) -> Result<App, std::io::Error> {
    assert!(!shutdown.is_requested());
    Ok(App { db: Db, cache: Db })
}
