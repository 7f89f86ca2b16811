// Mistakes: a misspelled option, a timeout without a unit, an empty name and an unknown `after`, all reported in one build.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(timout = "2s")]
    db: Db,
    #[cleanup(timeout = "2", name = "")]
    cache: Db,
    #[cleanup(after = "dbb")]
    jobs: Db,
}

fn main() {}
