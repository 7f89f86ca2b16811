// Accepted: `name` sets the name a field has in logs and the report.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup(name = "postgres")]
    db: Db,
    #[cleanup(name = "read-replica")]
    replica: Db,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let report = App {
        db: Db,
        replica: Db,
    }
    .cleanup()
    .await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["postgres", "read-replica"]);
    assert!(report.get("db").is_none());
}
