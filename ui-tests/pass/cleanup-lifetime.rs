// Accepted: a struct with a lifetime parameter: borrowed pools (directly, and through `with`), and a `Close` type that borrows.
use graceful_rt::{BoxError, Cleanup, Close};

struct Pool;

impl Close for Pool {
    async fn close(&self) -> Result<(), BoxError> {
        Ok(())
    }
}

/// A connection borrowed from a pool.
struct Conn<'a> {
    pool: &'a Pool,
}

impl Close for Conn<'_> {
    async fn close(&self) -> Result<(), BoxError> {
        let _ = self.pool;
        Ok(())
    }
}

async fn close_borrowed(pool: &&Pool) -> Result<(), BoxError> {
    pool.close().await
}

#[derive(Cleanup)]
struct App<'a> {
    #[cleanup(with = close_borrowed)]
    pool: &'a Pool,
    #[cleanup]
    replica: &'a Pool,
    #[cleanup]
    conn: Conn<'a>,
    label: &'a str,
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = Pool;
    let label = String::from("borrowed");
    let app = App {
        pool: &pool,
        replica: &pool,
        conn: Conn { pool: &pool },
        label: &label,
    };
    let report = app.cleanup().await;
    assert!(report.is_ok(), "{report:?}");
    let names: Vec<&str> = report.closes().iter().map(|close| close.name()).collect();
    assert_eq!(names, ["pool", "replica", "conn"]);
    assert_eq!(app.label, "borrowed");
}
