// Mistake: the `with` function takes another type than the field's.
use graceful_rt::Cleanup;

struct Metrics;
struct Pool;

async fn close_pool(_pool: &Pool) -> Result<(), std::io::Error> {
    Ok(())
}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = close_pool)]
    metrics: Metrics,
}

fn main() {}
