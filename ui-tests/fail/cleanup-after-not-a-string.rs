// Mistake: `after` names a field without quotes.
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
    #[cleanup(after = db)]
    cache: Db,
}

fn main() {}
