// Accepted: a generic struct with bounds and a where clause; tagged fields of a type parameter must be `Close`.
use std::fmt::Debug;

use graceful_rt::{BoxError, Cleanup, Close};

#[derive(Debug)]
struct Db;

impl Close for Db {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

#[derive(Cleanup)]
struct App<D: Debug, C, const N: usize>
where
    C: Send + Sync,
{
    #[cleanup]
    db: D,
    #[cleanup]
    caches: Vec<C>,
    #[cleanup]
    backup: Option<Box<D>>,
    sizes: [usize; N],
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app: App<Db, Db, 2> = App {
        db: Db,
        caches: vec![Db, Db],
        backup: None,
        sizes: [1, 2],
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["db", "caches.0", "caches.1"]);
    assert_eq!(app.sizes, [1, 2]);
    println!("{:?}", app.db);
}
