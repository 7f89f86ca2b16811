// Mistake: a field is given the name another field already has.
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
    #[cleanup(name = "db")]
    replica: Db,
}

fn main() {}
