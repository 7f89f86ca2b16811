// Mistake: derives `Cleanup` but tags no field `#[cleanup]`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    db: Db,
}

fn main() {}
