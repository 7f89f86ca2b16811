//! Feature `tokio-util`: `Close` for tokio-util's `CancellationToken` and
//! `TaskTracker`.

use std::future::Future;

use crate::{BoxError, Close};

/// Cancels the token: whatever waits on it stops.
#[diagnostic::do_not_recommend]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-util")))]
impl Close for tokio_util::sync::CancellationToken {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        self.cancel();
        std::future::ready(Ok(()))
    }
}

/// Closes the tracker, so it takes no new tasks, and waits until every task
/// it tracks has finished: a scheduler finishes its current tick.
#[diagnostic::do_not_recommend]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-util")))]
impl Close for tokio_util::task::TaskTracker {
    fn close(&self) -> impl Future<Output = Result<(), BoxError>> + Send {
        tokio_util::task::TaskTracker::close(self);
        let wait = self.wait();
        async move {
            wait.await;
            Ok(())
        }
    }
}
