// Accepted: several tagged fields and an untagged one; only the tagged fields are closed.
use std::sync::atomic::{AtomicBool, Ordering};

use graceful_rt::{BoxError, Cleanup, Close};

#[derive(Default)]
struct Db {
    closed: AtomicBool,
}

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    db: Db,
    #[cleanup]
    cache: Db,
    config: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App {
        db: Db::default(),
        cache: Db::default(),
        config: "prod".to_owned(),
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["db", "cache"]);
    assert!(app.db.closed.load(Ordering::SeqCst));
    assert!(app.cache.closed.load(Ordering::SeqCst));
    assert_eq!(app.config, "prod");
}
