//! HTTP draining that drops nothing, for axum and any tower service over
//! hyper (as a make-service: see [`MakeService`]), on any listener axum
//! takes (feature `axum`: HTTP/1.1; feature `http2`: HTTP/2 too).
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
//!    refused, not left hanging. Closing a listener resets the connections
//!    whose handshake is under way, with the request their client may have
//!    sent behind its ACK; so, for a `TcpListener` on Linux, new SYNs are
//!    dropped first (their clients try again a second later and are
//!    refused), and the handshakes under way complete and are served,
//!    with every connection the kernel has queued (tokio's accept sees
//!    one only once its reactor has), within 250 ms, before the listener
//!    closes. The lame duck is the cure
//!    behind a load balancer (one that has stopped routing here sends
//!    nothing to race); for a single instance, the upgrade by hand-off
//!    ([`Shutdown::upgrade`](crate::Shutdown::upgrade)), which never closes
//!    the listener.
//! 3. **Every connection is asked to close**, by its own protocol:
//!    - **HTTP/2** (known by its preface) gets GOAWAY at once, whatever its
//!      traffic (a multiplexed connection is never quiet). hyper sends it
//!      in two steps: first with the highest stream id and a PING, then,
//!      once the PING is answered, with the id of the last stream it
//!      accepted. Streams up to that id finish; later ones are refused,
//!      never processed, so the client retries them elsewhere. The
//!      connection closes after its last stream: a FIN after the last
//!      frame, then what the client still sends (the answer to the PING,
//!      WINDOW_UPDATEs) is read until it closes its side, for at most
//!      [`Serve::client_bound`]. Closed with those bytes unread, the socket
//!      would be reset and its unsent answers thrown away (9 of 50 lost
//!      across a path of 10 ms each way, `tests/network_path.rs`). Over a
//!      plain TCP socket; a TLS connection closes at once.
//!    - **HTTP/1.1** idle keep-alive connections, and connections that have
//!      sent nothing yet, are held for their client's next request for
//!      [`Serve::keep_alive_hold`] (500 ms by default): a request that
//!      arrives is answered, with `Connection: close`. Then they close
//!      cleanly: their reads end, and hyper shuts them down as it would
//!      for a client that left (a FIN; over TLS, a close_notify first). A
//!      connection accepted, or whose last response was sent, within the
//!      last [`Serve::idle_grace`] (100 ms by default) may have a request
//!      on the wire: it gets at least the rest of the grace to deliver it.
//!      One with part of a request head received waits for the rest (see
//!      6). A connection with a request in flight closes after its
//!      response, which says `Connection: close`.
//! 4. **In-flight requests finish.** A request is in flight from the
//!    arrival of its head until its response body yields its last frame
//!    (the trailers, a frame after which the body is at its end, or the end
//!    itself; at once for a response without a body): never a response its
//!    client already has. What hyper still has to write out then is bounded
//!    like any client that does not read (6); bytes going out count as the
//!    client reading.
//! 5. **A request that arrives on an open connection after draining began**
//!    was on the wire when it began: it is served like an in-flight one, and
//!    its connection closes after it (`Connection: close`; on HTTP/2, a
//!    stream opened before the client saw the final GOAWAY). Never a hang,
//!    never a reset, and never an error a load balancer might pass on to
//!    its client: behind nginx with its default `proxy_next_upstream`, an
//!    answered 503 reaches the client, where a served request or a refused
//!    connection does not. (A [`DrainLayer`] used on its own cannot close
//!    connections, so it answers such requests `503 Service Unavailable`
//!    with `Connection: close`, `Retry-After: 1` and
//!    `{"error":"server is shutting down"}`.)
//! 6. **Clients that do not cooperate are bounded.** While a connection
//!    has no request in flight it waits on its client: for the rest of a
//!    request head, the answer to the GOAWAY PING, a read. That wait lasts
//!    at most [`Serve::client_bound`] (1 s by default), then the
//!    connection is closed without a response (a `408` would race the rest
//!    of the client's request and be lost to the reset that follows; a
//!    request whose head never arrived was never processed, and a client
//!    retries it). Such closes are counted in [`Drained::unresponsive`].
//! 7. **The drain deadline** (the shutdown deadline minus the cleanup
//!    reserve) closes whatever is still open, upgraded connections
//!    (WebSocket) included, so the cleanup always runs inside the timeout;
//!    every request whose head had arrived and whose response had not
//!    ended is counted as cut, and the exit code is then 3.
//!    [`Serve::call_end_lead`] (50 ms by default) before it, the **gRPC
//!    calls** still running are ended by the server
//!    with `grpc-status: 14` (UNAVAILABLE, "server is shutting down"): a
//!    trailers-only answer when the handler has not answered, trailers
//!    after the message in progress when the response streams. Their
//!    clients see a status they retry instead of a broken stream (which
//!    tonic's client reports as UNKNOWN); they count as cut
//!    ([`Drained::calls_ended`]). A streaming call whose client has stopped
//!    reading cannot take its trailers, and is cut with its connection.
//!
//! Every TCP connection gets `TCP_NODELAY` ([`Serve::tcp_nodelay`]), as Go's
//! and nginx's servers set it: the drain's small writes (a GOAWAY, a
//! PING's answer) go out at once, not after the client's delayed ACK. An
//! HTTP/2 connection can also be closed at an age
//! ([`Serve::max_connection_age`]), the drain's way, so that long-lived
//! clients move to the instances that exist now.
//!
//! **Pipelined HTTP/1.1 requests** (several sent before the first response)
//! are not all answered when draining begins: the request in flight is
//! answered with `Connection: close`, and hyper closes the connection after
//! it without reading the ones queued behind it. hyper gives no way to know
//! that more requests are buffered, and keeping the connection open for
//! them would race the next request of every non-pipelining client. RFC
//! 9112 (section 9.3.2) has the client retry requests left unanswered when
//! the connection closes; browsers and common clients do not pipeline.
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
//!
//! **Python clients over HTTP/2**: do not share one
//! `httpx.Client(http2=True)` between threads. httpcore hands out stream
//! ids without a lock, so threads open streams out of order, and the
//! server must close the connection with GOAWAY `PROTOCOL_ERROR` (RFC
//! 9113, 5.1.1): httpx raises `RemoteProtocolError` (encode/httpx#3002).
//! It happens against plain hyper too, never with a client per thread or
//! an `AsyncClient`, and has nothing to do with the shutdown (the drain's
//! GOAWAY says `NO_ERROR`). With `tracing` at `debug`, target
//! `graceful::http` logs how each such connection ended.

mod accept;
mod connection;
mod grpc;
mod in_flight;
mod layer;
mod linger;
mod make;
mod readiness;
mod serve;
mod service;
mod state;
mod stats;
mod stop_accepting;

pub use crate::drained::Drained;
pub use in_flight::DrainBody;
pub use layer::{DrainLayer, DrainService, ResponseFuture};
pub use make::{IncomingStream, MakeService};
pub use readiness::{Readiness, ReadinessBody};
pub use serve::{Serve, serve};
pub use stats::DrainStats;

use std::time::Duration;

/// The default of [`Serve::idle_grace`].
const IDLE_GRACE: Duration = Duration::from_millis(100);

/// The default of [`Serve::keep_alive_hold`].
const KEEP_ALIVE_HOLD: Duration = Duration::from_millis(500);

/// The default of [`Serve::client_bound`].
const CLIENT_BOUND: Duration = Duration::from_secs(1);

/// The default of [`Serve::call_end_lead`].
const CALL_END_LEAD: Duration = Duration::from_millis(50);
