// Accepted: `after` names an `Option` field that is `None`; the close starts at once.
use graceful_rt::{BoxError, Cleanup, Close, CloseOutcome};

struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App {
    #[cleanup]
    replica: Option<Db>,
    #[cleanup(after = "replica")]
    db: Db,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let report = App {
        replica: None,
        db: Db,
    }
    .cleanup()
    .await;
    assert!(report.is_ok(), "{report:?}");
    let db = report.get("db").unwrap();
    assert!(matches!(db.outcome(), CloseOutcome::Closed));
    println!("notes of db: {:?}", db.notes());
}
