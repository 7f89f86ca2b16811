// Mistake: the timeout has a unit that is not a unit of time.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(timeout = "2x")]
    db: Db,
}

fn main() {}
