// Mistake: writes an option with a capital letter.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(Timeout = "2s")]
    db: Db,
}

fn main() {}
