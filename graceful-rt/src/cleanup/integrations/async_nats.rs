//! Feature `async-nats`: `Close` for `async_nats::Client`.

use crate::{BoxError, Close};

/// Flushes, then drains. The flush returns once every buffered publish has
/// been written to the connection, which delivers it before it closes. The
/// drain then unsubscribes every subscription, refuses new publishes, and
/// closes the connection once the server has answered; it returns as soon
/// as it is queued, and a process that exits before the answer loses
/// nothing already written.
///
/// Messages the server had already delivered stay in each core
/// subscription for its consumer to finish: run such consumers on a
/// `TaskTracker` tagged `after` this client, so the cleanup waits for
/// them. Run publishers on a tracker this client is tagged `after`, so
/// their messages are buffered before the flush; so too a JetStream
/// consumer's work, since it acks by publishing, and the drain refuses
/// publishes (`examples/nats_consumer.rs`).
#[cfg_attr(docsrs, doc(cfg(feature = "async-nats")))]
impl Close for async_nats::Client {
    async fn close(&self) -> Result<(), BoxError> {
        self.flush().await?;
        self.drain().await?;
        Ok(())
    }
}
