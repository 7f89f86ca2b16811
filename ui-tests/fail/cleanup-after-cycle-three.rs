// Mistake: three fields start `after` one another in a circle.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(after = "jobs")]
    db: Db,
    #[cleanup(after = "db")]
    cache: Db,
    #[cleanup(after = "cache")]
    jobs: Db,
}

fn main() {}
