// Mistake: `with` is a closure, not the path of an async fn.
use graceful_rt::Cleanup;

struct Metrics;

#[derive(Cleanup)]
struct App {
    #[cleanup(with = |_m: &Metrics| async { Ok::<(), std::io::Error>(()) })]
    metrics: Metrics,
}

fn main() {}
