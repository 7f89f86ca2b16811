// Mistake: derives `Cleanup` on a union.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
union App {
    db: std::mem::ManuallyDrop<Db>,
    raw: u64,
}

fn main() {}
