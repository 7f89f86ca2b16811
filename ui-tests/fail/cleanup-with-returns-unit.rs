// Mistake: the `with` function is async but returns `()`, not a `Result`.
use graceful_rt::Cleanup;

struct Metrics;

async fn flush(_metrics: &Metrics) {}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = flush)]
    metrics: Metrics,
}

fn main() {}
