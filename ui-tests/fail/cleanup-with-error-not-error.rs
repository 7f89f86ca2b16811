// Mistake: the `with` function returns `Result<(), E>` where `E` is not an error type.
use graceful_rt::Cleanup;

struct Metrics;

async fn flush(_metrics: &Metrics) -> Result<(), u32> {
    Ok(())
}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = flush)]
    metrics: Metrics,
}

fn main() {}
