// Mistake: passes an option `#[cleanup]` does not have.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(retries = 3)]
    db: Db,
}

fn main() {}
