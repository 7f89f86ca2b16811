// Mistake: `.cleanup()` is called on a generic state whose field type does not implement `graceful_rt::Close`.
use graceful_rt::Cleanup;

struct Pool;

#[derive(Cleanup)]
struct App<D> {
    #[cleanup]
    db: D,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App { db: Pool };
    let _report = app.cleanup().await;
}
