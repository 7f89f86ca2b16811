// Accepted: a field named with a raw identifier, `r#type`, is named `type` in the report and in `after`.
use graceful_rt::{BoxError, Cleanup, Close};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    r#type: Db,
    #[cleanup(after = "type")]
    r#match: Db,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let report = App {
        r#type: Db,
        r#match: Db,
    }
    .cleanup()
    .await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["type", "match"]);
}
