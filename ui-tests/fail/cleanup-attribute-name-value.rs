// Mistake: writes `#[cleanup = "..."]` instead of `#[cleanup(...)]`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup = "db"]
    db: Db,
}

fn main() {}
