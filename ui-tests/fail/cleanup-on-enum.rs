// Mistake: derives `Cleanup` on an enum.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
enum App {
    Primary(#[cleanup] Db),
    Replica(#[cleanup] Db),
}

fn main() {}
