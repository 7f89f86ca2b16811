// Mistake: main returns `Result<App<Pool>, E>`, a generic state whose field type does not implement `graceful_rt::Close`.
use graceful_rt::{graceful_main, Cleanup};

struct Pool;

#[derive(Cleanup)]
struct App<D> {
    #[cleanup]
    db: D,
}

#[graceful_main]
async fn main() -> Result<App<Pool>, std::io::Error> {
    Ok(App { db: Pool })
}
