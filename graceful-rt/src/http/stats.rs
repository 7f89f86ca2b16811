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
///
/// # Examples
///
/// A request is in flight until its response body has yielded its last
/// frame, not only until the handler returns:
///
/// ```
/// use std::future::poll_fn;
/// use std::time::Duration;
/// use axum::{Router, body::Body, http::Request, routing::get};
/// use graceful_rt::{Shutdown, http::DrainLayer};
/// use http_body_util::BodyExt as _;
/// use tower_layer::Layer as _;
/// use tower_service::Service;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let layer = DrainLayer::new(Shutdown::new(Duration::from_secs(10)));
/// let stats = layer.stats();
/// let mut app = layer.layer(Router::new().route("/", get(|| async { "hello" })));
///
/// poll_fn(|cx| Service::<Request<Body>>::poll_ready(&mut app, cx)).await.unwrap();
/// let response = app.call(Request::new(Body::empty())).await.unwrap();
/// assert_eq!(stats.in_flight(), 1, "the body is not sent yet");
///
/// let body = response.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(body, "hello");
/// assert_eq!(stats.in_flight(), 0);
/// assert_eq!(stats.connections(), 0, "a layer on its own sees no connection");
/// # }
/// ```
///
/// [`Serve`](super::Serve)'s example reads them from a server.
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

    /// Open connections, upgraded ones (WebSocket) included. Always 0 for
    /// a [`DrainLayer`](super::DrainLayer) on its own, which sees requests,
    /// not connections.
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
