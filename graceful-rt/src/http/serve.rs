//! [`serve`]: accept connections and serve them until the shutdown, then
//! drain along the shutdown's timeline.

use std::convert::Infallible;
use std::future::{Future, IntoFuture, poll_fn};
use std::io;
use std::pin::{Pin, pin};

use std::sync::Arc;
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

use super::IDLE_GRACE;
use super::connection::{Activity, TrackedIo};
use super::layer::DrainService;
use super::state::DrainStats;
use super::state::{Phase, ServerState};
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
        elapsed: started.elapsed(),
    };
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
        });
    }
    Ok(drained)
}

/// Serves one connection until it closes: normally until draining begins,
/// then until it may close without losing a request, then until the server
/// cuts it at the drain deadline at the latest.
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
    let serving = async {
        let mut connection = pin!(connection);
        tokio::select! {
            _ = connection.as_mut() => return,
            () = state.draining() => {}
        }
        // A connection in the middle of a request closes after its response
        // (hyper sends `Connection: close`, or GOAWAY); an idle one closes at
        // once, unless it carried bytes so recently that a request may be on
        // the wire: that one waits out the grace, and a request that arrives
        // is served, and the connection closed after it.
        activity.watch();
        loop {
            let changed = activity.changed();
            let mut changed = pin!(changed);
            changed.as_mut().enable();
            let idle_for = activity.idle_for();
            if activity.in_flight() > 0 || idle_for >= IDLE_GRACE {
                connection.as_mut().graceful_shutdown();
                break;
            }
            tokio::select! {
                _ = connection.as_mut() => return,
                () = tokio::time::sleep(IDLE_GRACE - idle_for) => {}
                () = changed => {}
            }
        }
        let _ = connection.await;
    };
    // Dropping the connection at the cut closes its socket.
    tokio::select! {
        () = serving => {}
        () = activity.cut_requested() => {}
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
