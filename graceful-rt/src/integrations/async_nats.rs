//! Feature `async-nats`: `Close` for `async_nats::Client`.

use crate::{BoxError, Close};

/// Flushes, then drains. The flush writes every buffered publish and waits
/// for the server's reply to a ping sent after them, so they have all
/// reached the server. The drain then unsubscribes every subscription (the
/// server sends nothing more; what it already sent stays in the
/// subscription for its consumer to finish: track those tasks with a
/// `TaskTracker` tagged `after` this client), refuses new publishes and
/// closes the connection.
impl Close for async_nats::Client {
    async fn close(&self) -> Result<(), BoxError> {
        self.flush().await?;
        self.drain().await?;
        Ok(())
    }
}
