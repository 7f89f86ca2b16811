// Mistake: the `with` function is a plain fn returning `()`, not an async fn returning a `Result`.
use graceful_rt::Cleanup;

struct Metrics;

fn flush(_metrics: &Metrics) {}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = flush)]
    metrics: Metrics,
}

fn main() {}
