// Mistake: `#[cleanup]` is on the struct instead of its fields.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
#[cleanup]
struct App {
    #[cleanup]
    db: Db,
}

fn main() {}
