// Accepted: `Option<T>`, `Vec<T>`, `Arc<T>` and `Box<T>` of a `Close` type; `None` is skipped, elements are `name.0`, `name.1`.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use graceful_rt::{BoxError, Cleanup, Close};

#[derive(Default)]
struct Db {
    closed: AtomicUsize,
}

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        self.closed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    primary: Option<Db>,
    #[cleanup]
    replica: Option<Db>,
    #[cleanup]
    shards: Vec<Db>,
    #[cleanup]
    shared: Arc<Db>,
    #[cleanup]
    boxed: Box<Db>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let shared = Arc::new(Db::default());
    let app = App {
        primary: Some(Db::default()),
        replica: None,
        shards: vec![Db::default(), Db::default()],
        shared: Arc::clone(&shared),
        boxed: Box::default(),
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(
        names,
        ["primary", "shards.0", "shards.1", "shared", "boxed"]
    );
    assert_eq!(shared.closed.load(Ordering::SeqCst), 1);
    assert_eq!(app.shards[1].closed.load(Ordering::SeqCst), 1);
}
