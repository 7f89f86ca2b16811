//! HTTP draining that drops nothing, for axum and any tower service over
//! hyper (feature `axum`).
//!
//! [`serve`] runs a server until the shutdown, then drains it along the
//! shutdown's timeline:
//!
//! 1. **Lame duck** (`drain_delay`): requests are served as usual, but
//!    [`Readiness`] answers 503 so load balancers stop routing here, and
//!    HTTP/1.1 responses carry `Connection: close` so clients reconnect
//!    through the load balancer.
//! 2. **Stop accepting**: connections already queued in the listener's
//!    backlog are taken, then the listener is closed: new connections are
//!    refused, not left hanging. One race is left to TCP itself: a
//!    connection whose handshake the kernel completes in the microseconds
//!    between the last accept and the close is reset with the listener; its
//!    request never reached the application. The lame duck is the cure: a
//!    load balancer that has stopped routing here sends nothing to race.
//! 3. **Idle keep-alive connections close at once**, with a clean FIN. A
//!    connection that carried bytes within the last [`IDLE_GRACE`] may have
//!    a request on the wire: it is given that long to deliver it.
//! 4. **In-flight requests finish**; HTTP/1.1 responses carry
//!    `Connection: close`, HTTP/2 connections get GOAWAY.
//! 5. **A request that arrives on an open connection after draining began**
//!    was on the wire when it began: it is served like an in-flight one, and
//!    its connection closes after it (`Connection: close`). Never a hang,
//!    never a reset, and never an error a load balancer might pass on to
//!    its client: behind nginx with its default `proxy_next_upstream`, an
//!    answered 503 reaches the client, where a served request or a refused
//!    connection does not. (A [`DrainLayer`] used on its own cannot close
//!    connections, so it answers such requests `503 Service Unavailable`
//!    with `Connection: close`, `Retry-After: 1` and
//!    `{"error":"server is shutting down"}`.)
//! 6. **The drain deadline** (the shutdown deadline minus the cleanup
//!    reserve) closes whatever is still open, upgraded connections
//!    (WebSocket) included, so the cleanup always runs inside the timeout;
//!    the cut is counted, and the exit code is then 3.
//!
//! Long-lived responses (SSE, WebSocket) learn of the shutdown from
//! [`Shutdown::requested`](crate::Shutdown::requested) and should end
//! themselves (a WebSocket with close code 1001, "going away"); the drain
//! deadline is the backstop. An SSE stream is a response like any other and
//! is closed with its connection. An upgraded connection (WebSocket) has
//! left hyper, so the cut reaches it through its socket: its next read or
//! write fails, and a task waiting to read or write is woken to see that.
//! A task that holds the socket without using it keeps it until the task
//! ends or the process exits, after the cleanup.

mod connection;
mod layer;
mod readiness;
mod serve;
mod state;

pub use layer::{DrainBody, DrainLayer, DrainService};
pub use readiness::Readiness;
pub use serve::{Drained, Serve, serve};
pub use state::DrainStats;

/// How long a connection that carried bytes must then stay quiet before
/// draining closes it at once. A connection used more recently may have a
/// request on the wire; closing it would lose that request.
pub const IDLE_GRACE: std::time::Duration = std::time::Duration::from_millis(100);
