//! Feature `deadpool-postgres`: `Close` for `deadpool_postgres::Pool`.

use std::future::Future;

use crate::{BoxError, Close};

/// Closes the pool: waiting and future `get`s fail at once, idle
/// connections are dropped now, and a connection checked out by a request
/// is dropped when the request returns it. Each dropped client ends its
/// session with the server (a protocol `Terminate`) from its connection
/// task. deadpool offers no way to wait for checked-out connections
/// without polling, so the close returns at once; when the requests must
/// finish first, drain them before (the cleanup runs after the server has
/// drained).
#[cfg_attr(docsrs, doc(cfg(feature = "deadpool-postgres")))]
impl Close for deadpool_postgres::Pool {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        deadpool_postgres::Pool::close(self);
        std::future::ready(Ok(()))
    }
}
