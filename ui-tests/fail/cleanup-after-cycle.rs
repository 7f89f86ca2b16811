// Mistake: two fields each start `after` the other.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(after = "cache")]
    db: Db,
    #[cleanup(after = "db")]
    cache: Db,
}

fn main() {}
