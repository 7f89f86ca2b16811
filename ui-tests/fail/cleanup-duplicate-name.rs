// Mistake: two fields are given the same `name`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(name = "store")]
    primary: Db,
    #[cleanup(name = "store")]
    replica: Db,
}

fn main() {}
