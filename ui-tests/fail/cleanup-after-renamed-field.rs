// Mistake: `after` uses the field's identifier, but that field was renamed with `name`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(name = "jobs")]
    scheduler: Db,
    #[cleanup(after = "scheduler")]
    db: Db,
}

fn main() {}
