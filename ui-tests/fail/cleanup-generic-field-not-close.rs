// Mistake: a generic state is instantiated with a field type that does not implement `graceful_rt::Close`.
use graceful_rt::{graceful_main, Cleanup};

struct Pool;

#[derive(Cleanup)]
struct App<D> {
    #[cleanup]
    db: D,
}

#[graceful_main]
async fn main() -> App<Pool> {
    App { db: Pool }
}
