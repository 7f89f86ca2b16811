//! Feature `sqlx`: `Close` for `sqlx::Pool`.

use std::future::Future;

use sqlx::Connection as _;

use crate::{BoxError, Close};

/// Closes the pool: new acquires fail at once, idle connections close,
/// then the close waits until every checked-out connection has been
/// returned (a request finishing its transaction) and closes it too. Every
/// clone of the pool (a router's, a task's) sees it closed.
///
/// Before closing, one idle connection (if there is one) pings the server,
/// so a database that went away is reported (the close fails, fast, with
/// the driver's error) instead of its connections being dropped silently.
///
/// For SQLite in WAL mode, closing the last connection checkpoints the
/// write-ahead log into the database file and removes the `-wal` and `-shm`
/// files. For PostgreSQL and MySQL, each connection ends with a protocol
/// goodbye, so the server releases its session at once.
#[cfg_attr(docsrs, doc(cfg(feature = "sqlx")))]
impl<DB: sqlx::Database> Close for sqlx::Pool<DB> {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        let idle = self.try_acquire();
        async move {
            let answered = match idle {
                Some(mut connection) => connection.ping().await,
                None => Ok(()),
            };
            sqlx::Pool::close(self).await;
            answered.map_err(|error| {
                format!(
                    "the database did not answer at shutdown ({error}); its connections were dropped, not closed"
                )
                .into()
            })
        }
    }
}
