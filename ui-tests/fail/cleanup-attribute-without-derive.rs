// Mistake: tags a field `#[cleanup]` but forgets `#[derive(Cleanup)]` on the struct.
use graceful_rt::{BoxError, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

struct App {
    #[cleanup]
    db: Db,
}

fn main() {
    let _ = App { db: Db }.db;
}
