//! [`DrainStats`]: the live counts of a server, for the application to
//! read while it runs and drains.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::connection::Connections;
use super::state::ServerState;

/// Live counts of a server's requests and connections, readable while it
/// runs and drains. Cheap to clone.
///
/// Made by a server: [`Serve::stats`](super::Serve::stats) and
/// [`DrainLayer::stats`](super::DrainLayer::stats). There is no other way
/// to make one (no `Default`): a `DrainStats` that no server counts into
/// would read 0 forever.
#[derive(Clone, Debug)]
pub struct DrainStats {
    pub(crate) state: Arc<ServerState>,
    /// The connections of a [`serve`](super::serve); empty for a
    /// [`DrainLayer`](super::DrainLayer) on its own.
    pub(crate) connections: Arc<Connections>,
}

impl DrainStats {
    /// Requests whose response has not ended yet (its body has not
    /// yielded its last frame).
    #[must_use]
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::Acquire) + self.connections.in_flight()
    }

    /// Open connections, upgraded ones (WebSocket) included.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::Acquire)
    }

    /// Requests that arrived after draining began: [`serve`](super::serve)
    /// serves them and closes their connection (they were on the wire when
    /// draining began); a [`DrainLayer`](super::DrainLayer) on its own
    /// answers them 503.
    #[must_use]
    pub fn late(&self) -> usize {
        self.state.late.load(Ordering::Acquire)
    }
}
