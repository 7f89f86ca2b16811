// Mistake: `after` misspells the name of another field.
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
    server: Db,
    #[cleanup(after = "sever")]
    db: Db,
}

fn main() {}
