// Mistake: `#[cleanup]` is written twice on one field.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(timeout = "2s")]
    #[cleanup(name = "primary")]
    db: Db,
}

fn main() {}
