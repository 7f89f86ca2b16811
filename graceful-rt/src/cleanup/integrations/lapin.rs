//! Feature `lapin`: `Close` for lapin's `Channel` and `Connection`.

use crate::{BoxError, Close};

/// The normal AMQP reply code.
const REPLY_SUCCESS: u16 = 200;

/// Waits until the broker has confirmed (or returned) every message
/// published on the channel (with publisher confirms enabled), then closes
/// the channel with reply code 200. Without confirms, it closes at once.
///
/// Close the channel only once its publishers have stopped: tag it `after`
/// the `TaskTracker` that runs them. A publisher still running keeps adding
/// confirms to wait for, and the close may then wait until it is cut. The
/// same for consumers that ack on it: closing the channel returns the
/// messages not yet acked to the queue, so tag it `after` their tracker
/// (`examples/rabbitmq_consumer.rs`).
#[cfg_attr(docsrs, doc(cfg(feature = "lapin")))]
impl Close for lapin::Channel {
    async fn close(&self) -> Result<(), BoxError> {
        self.wait_for_confirms().await?;
        lapin::Channel::close(self, REPLY_SUCCESS, "OK".into()).await?;
        Ok(())
    }
}

/// Closes the connection with reply code 200 and waits for the broker's
/// `Close-Ok`. Close the channels first (`#[cleanup(after = "channel")]`
/// on the connection), so their confirms arrive before the connection goes.
#[cfg_attr(docsrs, doc(cfg(feature = "lapin")))]
impl Close for lapin::Connection {
    async fn close(&self) -> Result<(), BoxError> {
        lapin::Connection::close(self, REPLY_SUCCESS, "OK".into()).await?;
        Ok(())
    }
}
