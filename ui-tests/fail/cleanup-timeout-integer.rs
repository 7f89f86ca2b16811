// Mistake: the timeout is a bare integer, not a duration string.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(timeout = 2)]
    db: Db,
}

fn main() {}
