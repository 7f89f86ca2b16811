// Mistake: the timeout is a `Duration` expression, not a duration string.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(timeout = std::time::Duration::from_secs(2))]
    db: Db,
}

fn main() {}
