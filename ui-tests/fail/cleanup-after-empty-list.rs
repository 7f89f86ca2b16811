// Mistake: `after` is an empty list.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    db: Db,
    #[cleanup(after = [])]
    cache: Db,
}

fn main() {}
