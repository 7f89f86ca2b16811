// Mistake: `name` contains a `.`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(name = "db.primary")]
    db: Db,
}

fn main() {}
