// Mistake: `with` names the close function as a string.
use graceful_rt::Cleanup;

struct Metrics;

async fn flush(_metrics: &Metrics) -> Result<(), std::io::Error> {
    Ok(())
}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = "flush")]
    metrics: Metrics,
}

fn main() {}
