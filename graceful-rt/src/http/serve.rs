//! [`serve`]: accept connections and serve them until the shutdown, then
//! drain along the shutdown's timeline.

use std::convert::Infallible;
use std::future::{Future, IntoFuture, poll_fn};
use std::io;
use std::pin::{Pin, pin};

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

use super::connection::{Activity, TrackedIo};
use super::layer::DrainService;
use super::state::DrainStats;
use super::state::{Phase, ServerState};
use super::{CLIENT_BOUND, IDLE_GRACE};
use crate::duration;
use crate::log;
use crate::report::DrainCounts;
use crate::{BoxError, Shutdown};

/// Serves `service` on `listener` until the shutdown, then drains (see the
/// [module documentation](super)). The returned [`Serve`] resolves once
/// every connection has closed, or was cut at the drain deadline: then
/// `main` can return its state for cleanup.
///
/// `service` is an axum `Router`, or any tower service over hyper's
/// requests.
///
/// ```no_run
/// use axum::{Router, routing::get};
/// use graceful_rt::{Shutdown, graceful_main};
///
/// #[graceful_main(timeout = "15s", drain_delay = "5s")]
/// async fn main(shutdown: Shutdown) -> std::io::Result<()> {
///     let readiness = graceful_rt::http::Readiness::new(shutdown.clone());
///     let app = Router::new()
///         .route("/", get(|| async { "hello" }))
///         .route_service("/readyz", readiness);
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
///     let drained = graceful_rt::http::serve(listener, app, shutdown).await?;
///     eprintln!("{} requests arrived while draining", drained.late);
///     Ok(())
/// }
/// ```
pub fn serve<S>(listener: TcpListener, service: S, shutdown: Shutdown) -> Serve<S> {
    Serve {
        listener,
        service,
        shutdown,
        stats: DrainStats::default(),
    }
}

/// A server that drains on shutdown: `.await` it. See [`serve`].
#[must_use = "a server does nothing unless `.await`ed"]
pub struct Serve<S> {
    listener: TcpListener,
    service: S,
    shutdown: Shutdown,
    stats: DrainStats,
}

impl<S> Serve<S> {
    /// Live counts of the server's requests and connections.
    pub fn stats(&self) -> DrainStats {
        self.stats.clone()
    }
}

impl<S> std::fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// How often, at most, the drain's progress goes to the service manager.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// How a server drained.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drained {
    /// Requests in flight when draining began.
    pub in_flight: usize,
    /// Connections open when draining began.
    pub connections: usize,
    /// Requests that arrived on open connections after draining began;
    /// each was served, and its connection closed after it.
    pub late: usize,
    /// Requests still in flight at the drain deadline, cut there.
    pub requests_cut: usize,
    /// Connections still open at the drain deadline, closed there.
    pub connections_cut: usize,
    /// Connections closed before the drain deadline because their client
    /// held them for [`CLIENT_BOUND`] without a request in flight: it did
    /// not finish a request head, answer HTTP/2's GOAWAY PING, or read.
    /// No request was lost with them.
    pub unresponsive: usize,
    /// From the start of draining to the last connection closed (or cut).
    pub elapsed: Duration,
}

impl<S, B> IntoFuture for Serve<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = io::Result<Drained>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<Drained>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self))
    }
}

async fn run<S, B>(serve: Serve<S>) -> io::Result<Drained>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let Serve {
        listener,
        service,
        shutdown,
        stats,
    } = serve;
    let state = Arc::clone(&stats.inner);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // CONNECT, for WebSockets over HTTP/2.
    builder.http2().enable_connect_protocol();
    let accept = {
        let state = Arc::clone(&state);
        move |stream: TcpStream| {
            let activity = Arc::new(Activity::new(Arc::clone(&state)));
            state.add(&activity);
            let io = TrackedIo::new(stream, Arc::clone(&activity), Arc::clone(&state));
            let service = DrainService::for_connection(
                service.clone(),
                Arc::clone(&state),
                Arc::clone(&activity),
            );
            tokio::spawn(connection(
                builder.clone(),
                io,
                service,
                activity,
                Arc::clone(&state),
            ));
        }
    };

    // Serve until draining begins; from the shutdown on (the lame duck),
    // HTTP/1.1 responses tell clients to reconnect elsewhere.
    {
        let mut draining = pin!(shutdown.draining());
        let mut requested = pin!(shutdown.requested());
        let mut lame_duck = shutdown.drain_delay().is_zero();
        loop {
            tokio::select! {
                biased;
                () = &mut draining => break,
                () = &mut requested, if !lame_duck => {
                    lame_duck = true;
                    state.enter(Phase::LameDuck);
                }
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => accept(stream),
                    Err(error) if is_per_connection(&error) => {}
                    Err(error) => {
                        // Out of file descriptors, say: wait a moment rather
                        // than spin, and keep draining possible.
                        log::warning!("cannot accept a connection: {error}");
                        tokio::select! {
                            () = &mut draining => break,
                            () = tokio::time::sleep(Duration::from_millis(100)) => {}
                        }
                    }
                },
            }
        }
    }

    // Stop accepting. What is already in the backlog was accepted by the
    // kernel and may carry a request: serve it rather
    // than reset it by closing the listener on it.
    while let Some(accepted) = poll_fn(|cx| {
        Poll::Ready(match listener.poll_accept(cx) {
            Poll::Ready(accepted) => Some(accepted),
            Poll::Pending => None,
        })
    })
    .await
    {
        if let Ok((stream, _)) = accepted {
            accept(stream);
        }
    }
    drop(listener);
    // Only now do responses say `Connection: close`: a client told to
    // reconnect finds the port closed and is refused
    // at once, rather than queued in a backlog that is about to be reset.
    state.enter(Phase::Draining);
    let started = Instant::now();
    let in_flight = stats.in_flight();
    let connections = stats.connections();
    let deadline = shutdown
        .drain_deadline()
        .unwrap_or_else(|| started + shutdown.timeout());
    log::info!(
        "draining: stopped accepting; {in_flight} {} in flight on {connections} {} (drain deadline in {})",
        plural(in_flight, "request", "requests"),
        plural(connections, "connection", "connections"),
        duration::display(deadline.saturating_duration_since(started))
    );

    // Until every connection has closed, or the drain deadline; each close
    // is progress, reported to the service manager now and then.
    let mut requests_cut = 0;
    let mut connections_cut = 0;
    let mut reported: Option<Instant> = None;
    loop {
        let closed_one = state.connection_closes();
        let mut closed_one = pin!(closed_one);
        closed_one.as_mut().enable();
        if let Some(process) = shutdown.process() {
            if reported.is_none_or(|at| at.elapsed() >= PROGRESS_INTERVAL) {
                process.draining(stats.in_flight(), stats.connections());
                reported = Some(Instant::now());
            }
        }
        tokio::select! {
            () = state.all_closed() => break,
            () = tokio::time::sleep_until(deadline.into()) => {
                requests_cut = stats.in_flight();
                connections_cut = stats.connections();
                state.cut_all();
                break;
            }
            () = closed_one => {}
        }
    }
    let drained = Drained {
        in_flight,
        connections,
        late: stats.late(),
        requests_cut,
        connections_cut,
        unresponsive: state.unresponsive.load(Ordering::Acquire),
        elapsed: started.elapsed(),
    };
    if drained.unresponsive > 0 {
        log::info!(
            "closed {} {} whose {} held {} for {} without a request",
            drained.unresponsive,
            plural(drained.unresponsive, "connection", "connections"),
            plural(drained.unresponsive, "client", "clients"),
            plural(drained.unresponsive, "it", "them"),
            duration::display(CLIENT_BOUND),
        );
    }
    if connections_cut > 0 {
        log::warning!(
            "drain deadline passed: cut {requests_cut} {} on {connections_cut} {}",
            plural(requests_cut, "request", "requests"),
            plural(connections_cut, "connection", "connections"),
        );
    } else {
        log::info!(
            "drained {connections} {} in {}{}",
            plural(connections, "connection", "connections"),
            duration::display(drained.elapsed),
            match drained.late {
                0 => String::new(),
                late => format!(
                    "; {late} late {} served",
                    plural(late, "request", "requests")
                ),
            }
        );
    }
    if let Some(process) = shutdown.process() {
        process.drained(DrainCounts {
            in_flight,
            connections,
            late: drained.late,
            requests_cut,
            connections_cut,
            unresponsive: drained.unresponsive,
        });
    }
    Ok(drained)
}

/// Serves one connection until it closes: normally until draining begins,
/// then until it may close without losing a request (see [`drain`]), then
/// until the server cuts it at the drain deadline at the latest.
async fn connection<S, B>(
    builder: auto::Builder<TokioExecutor>,
    io: TrackedIo<TcpStream>,
    service: DrainService<S>,
    activity: Arc<Activity>,
    state: Arc<ServerState>,
) where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let connection =
        builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
    let mut connection = pin!(connection);
    tokio::select! {
        ended = connection.as_mut() => return ended_with(ended),
        () = state.draining() => {}
    }
    // Dropping the connection (unresponsive, or cut) closes its socket.
    tokio::select! {
        closed = drain(connection, &activity, |c| c.graceful_shutdown()) => if closed == Closed::Unresponsive {
            state.unresponsive.fetch_add(1, Ordering::AcqRel);
        },
        () = activity.cut_requested() => {}
    }
}

/// How a connection's drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closed {
    /// By its protocol: after its last response, or idle.
    ByProtocol,
    /// By the server: its client held it for [`CLIENT_BOUND`] without a
    /// request in flight.
    Unresponsive,
}

/// Drains one connection: asks it to close, then waits until it has.
///
/// - **HTTP/2** is asked at once (GOAWAY), whatever its traffic: streams
///   the server has accepted finish, later ones are refused, and hyper
///   closes the connection after its last stream.
/// - **HTTP/1.1** is asked at once when a request is in flight (its
///   response says `Connection: close`) or when it has carried nothing for
///   [`IDLE_GRACE`] (closed at once); one used more recently may have a
///   request on the wire, and gets the rest of the grace to deliver it.
///
/// While no request is in flight, the connection waits on its client: for
/// the rest of a request head, the answer to the GOAWAY PING, or a read.
/// That wait is bounded by [`CLIENT_BOUND`], counted from the start of the
/// drain or the end of its last request; past it, the connection is
/// dropped. A request in flight is waited for until the drain deadline.
async fn drain<C: Future<Output = Result<(), BoxError>>>(
    mut connection: Pin<&mut C>,
    activity: &Activity,
    ask_to_close: impl Fn(Pin<&mut C>),
) -> Closed {
    activity.watch();
    let mut asked = false;
    let mut quiet_since = Instant::now();
    loop {
        let changed = activity.changed();
        let mut changed = pin!(changed);
        changed.as_mut().enable();
        let in_flight = activity.in_flight();
        let idle_for = activity.idle_for();
        if !asked && (activity.is_http2() || in_flight > 0 || idle_for >= IDLE_GRACE) {
            ask_to_close(connection.as_mut());
            asked = true;
        }
        let client_bound = quiet_since + CLIENT_BOUND;
        let wake = match (in_flight, asked) {
            (0, true) => Some(client_bound),
            (0, false) => Some(client_bound.min(Instant::now() + (IDLE_GRACE - idle_for))),
            _ => None,
        };
        tokio::select! {
            ended = connection.as_mut() => {
                ended_with(ended);
                return Closed::ByProtocol;
            }
            () = changed => quiet_since = Instant::now(),
            () = tokio::time::sleep_until(wake.unwrap_or(client_bound).into()), if wake.is_some() => {
                if activity.in_flight() == 0 && quiet_since.elapsed() >= CLIENT_BOUND {
                    return Closed::Unresponsive;
                }
            }
        }
    }
}

/// Notes how a connection ended, for whoever debugs a client: at `debug`,
/// through `tracing` only (a client that goes away is no news), such as
/// the GOAWAY with PROTOCOL_ERROR that hyper sends a client which opened
/// HTTP/2 streams out of order.
fn ended_with(ended: Result<(), BoxError>) {
    if let Err(error) = ended {
        tracing::debug!(target: "graceful::http", "connection ended with an error: {error}");
    }
}

/// Accept errors that concern one connection only, not the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}
