// Mistake: `with` calls the function instead of naming it.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

struct Metrics;

async fn flush(_metrics: &Metrics) -> Result<(), std::io::Error> {
    Ok(())
}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = flush())]
    metrics: Metrics,
}

fn main() {}
