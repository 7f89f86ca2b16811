// Accepted: a field whose type derives `Cleanup` is closed as a group, named `outer.inner`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct Storage {
    #[cleanup]
    db: Db,
    #[cleanup(after = "db")]
    files: Db,
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    http: Db,
    #[cleanup(after = "http", timeout = "5s")]
    storage: Storage,
    #[cleanup(after = "storage")]
    audit: Db,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App {
        http: Db,
        storage: Storage { db: Db, files: Db },
        audit: Db,
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["http", "storage.db", "storage.files", "audit"]);
}
