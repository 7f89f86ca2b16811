// Mistake: `after` names a field that is not tagged `#[cleanup]`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    server: Db,
    #[cleanup(after = "server")]
    db: Db,
}

fn main() {}
