//! Feature `redis`: `Close` for redis's async connections.

use std::future::Future;

use crate::{BoxError, Close};

/// One round trip (`PING`) on the connection. The connection executes
/// commands in the order they were sent, so when the reply arrives, every
/// command sent before it (a pipeline written just before the shutdown, say)
/// has been executed by the server. The connection itself closes when its
/// last handle is dropped.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
impl Close for redis::aio::MultiplexedConnection {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        round_trip(self.clone())
    }
}

/// As for [`MultiplexedConnection`](redis::aio::MultiplexedConnection): a
/// round trip behind every command already sent.
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
impl Close for redis::aio::ConnectionManager {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        round_trip(self.clone())
    }
}

async fn round_trip<C: redis::aio::ConnectionLike + Send>(
    mut connection: C,
) -> Result<(), BoxError> {
    let _: String = redis::cmd("PING").query_async(&mut connection).await?;
    Ok(())
}
