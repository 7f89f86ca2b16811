//! What a server is doing: its phase (serving, lame duck, draining) and
//! its counts (open connections, late requests, requests in flight through
//! a lone layer), shared by the accept loop, the connections and the layer.
//! A leaf of the `http` module: the connections refer to it, not the other
//! way round.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use tokio::sync::Notify;

use crate::Shutdown;

/// The phase of a server, as its requests see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    Serving = 0,
    /// The shutdown was requested: serve, but tell HTTP/1.1 clients to
    /// reconnect (through the load balancer, which is routing elsewhere).
    LameDuck = 1,
    /// The listener is closed: new requests get 503.
    Draining = 2,
}

#[derive(Debug, Default)]
pub(crate) struct ServerState {
    /// For a [`DrainLayer`](super::DrainLayer) on its own: the phase is read
    /// off the shutdown's timeline. For [`serve`](super::serve): `None`, the
    /// accept loop sets the phase, once the listener is closed.
    timeline_of: Option<Shutdown>,
    phase: AtomicU8,
    /// Requests in flight through a [`DrainLayer`](super::DrainLayer) on
    /// its own. Under [`serve`](super::serve), each connection counts its
    /// own, so the request path touches nothing shared between workers.
    pub(crate) in_flight: AtomicUsize,
    /// Connections of [`serve`](super::serve) open now (their list is
    /// [`Connections`](super::connection::Connections)).
    pub(crate) connections: AtomicUsize,
    pub(crate) late: AtomicUsize,
    /// Connections closed during the drain because their client held them
    /// for the [`client_bound`](super::Serve::client_bound) without a
    /// request.
    pub(crate) unresponsive: AtomicUsize,
    /// gRPC calls ended with `UNAVAILABLE` shortly before the drain
    /// deadline, or at the end of a connection's age grace.
    pub(crate) calls_ended: AtomicUsize,
    /// Notified when the last connection closes.
    all_closed: Notify,
    /// Notified when a connection closes, once someone asked to be
    /// ([`ServerState::want_close_news`]).
    closed_one: Notify,
    close_news_wanted: AtomicBool,
}

impl ServerState {
    /// The state of a server whose phase follows `shutdown`'s timeline.
    pub(crate) fn following(shutdown: Shutdown) -> ServerState {
        ServerState {
            timeline_of: Some(shutdown),
            ..ServerState::default()
        }
    }

    #[inline]
    pub(crate) fn phase(&self) -> Phase {
        if let Some(shutdown) = &self.timeline_of {
            return if !shutdown.is_requested() {
                Phase::Serving
            } else if shutdown.is_draining() {
                Phase::Draining
            } else {
                Phase::LameDuck
            };
        }
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Serving,
            1 => Phase::LameDuck,
            _ => Phase::Draining,
        }
    }

    /// Enters `phase`. (Each connection of `serve` is told that draining
    /// has started by [`Connections`](super::connection::Connections).)
    pub(crate) fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
    }

    pub(crate) fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::AcqRel);
    }

    pub(crate) fn connection_closed(&self) {
        if self.connections.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_closed.notify_waiters();
        }
        if self.close_news_wanted.load(Ordering::Acquire)
            && self.close_news_wanted.swap(false, Ordering::AcqRel)
        {
            self.closed_one.notify_waiters();
        }
    }

    /// The next connection close notifies the
    /// [`connection_closes`](Self::connection_closes) futures; later ones,
    /// until this is called again, do not.
    pub(crate) fn want_close_news(&self) {
        self.close_news_wanted.store(true, Ordering::Release);
    }

    /// A future that resolves when a connection closes; it counts closes
    /// from its creation on.
    pub(crate) fn connection_closes(&self) -> tokio::sync::futures::Notified<'_> {
        self.closed_one.notified()
    }

    /// Resolves once no connection is open.
    pub(crate) async fn all_closed(&self) {
        crate::notify::until(&self.all_closed, || {
            self.connections.load(Ordering::Acquire) == 0
        })
        .await;
    }
}
