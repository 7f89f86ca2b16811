// Accepted: a tuple struct; its fields are named by index unless given a `name`.
use std::time::Duration;

use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok(())
    }
}

#[derive(Cleanup)]
struct App(
    #[cleanup] Db,
    #[cleanup(name = "cache", after = "0")] Db,
    &'static str,
);

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = App(Db, Db, "untagged");
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["0", "cache"]);
    assert!(report.get("cache").unwrap().started() >= Duration::from_millis(10));
    assert_eq!(app.2, "untagged");
}
