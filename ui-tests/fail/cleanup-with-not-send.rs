// Mistake: the `with` function's future is not `Send`: it holds an `Rc` across an `.await`.
use std::rc::Rc;

use graceful_rt::Cleanup;

struct Metrics;

async fn flush(_metrics: &Metrics) -> Result<(), std::io::Error> {
    let buffer = Rc::new(Vec::<u8>::new());
    std::future::ready(()).await;
    drop(buffer);
    Ok(())
}

#[derive(Cleanup)]
struct App {
    #[cleanup(with = flush)]
    metrics: Metrics,
}

fn main() {}
