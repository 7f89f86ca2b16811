//! Feature `sqlx`: `Close` for `sqlx::Pool`.

use std::future::Future;

use crate::{BoxError, Close};

/// Closes the pool: new acquires fail at once, idle connections close,
/// then the close waits until every checked-out connection has been
/// returned (a request finishing its transaction) and closes it too. Every
/// clone of the pool (a router's, a task's) sees it closed.
///
/// For SQLite in WAL mode, closing the last connection checkpoints the
/// write-ahead log into the database file and removes the `-wal` and `-shm`
/// files. For PostgreSQL and MySQL, each connection ends with a protocol
/// goodbye, so the server releases its session at once.
impl<DB: sqlx::Database> Close for sqlx::Pool<DB> {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        let closing = sqlx::Pool::close(self);
        async move {
            closing.await;
            Ok(())
        }
    }
}
