//! [`serve`]: accept connections and serve them until the shutdown, then
//! drain along the shutdown's timeline.

use std::future::{Future, IntoFuture, poll_fn};
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use axum::serve::Listener;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use super::accept::{Burst, accept};
use super::connection::{Activity, Connections, TrackedIo};
use super::make::private::RequestService;
use super::make::{IncomingStream, MakeService};
use super::service::ConnectionService;
use super::state::{Phase, ServerState};
use super::stats::DrainStats;
use super::stop_accepting;
use super::{CALL_END_LEAD, CLIENT_BOUND, IDLE_GRACE, KEEP_ALIVE_HOLD};
use crate::drained::Drained;
use crate::duration;
use crate::log;
use crate::{BoxError, Shutdown};

/// Serves `app` on `listener` until the shutdown, then drains (see the
/// [module documentation](super)). The returned [`Serve`] resolves once
/// every connection has closed, or was cut at the drain deadline: then
/// `main` can return its state for cleanup.
///
/// It takes what `axum::serve` takes, so moving to it changes one line:
/// `axum::serve(listener, app).with_graceful_shutdown(signal)` becomes
/// `graceful_rt::http::serve(listener, app, shutdown)`.
///
/// - `listener` is any [`axum::serve::Listener`]: a
///   [`tokio::net::TcpListener`] (its connections get `TCP_NODELAY`: see
///   [`Serve::tcp_nodelay`]), a [`tokio::net::UnixListener`], either with
///   `tap_io` (of [`axum::serve::ListenerExt`]) to set what else you need,
///   or one of your own, such as a TLS listener
///   (`examples/tls.rs`: accept hands over the TCP stream and the handshake
///   runs on the connection's task, so one slow client never holds up the
///   others, and a handshake in progress when draining begins is bounded
///   like any client that has not sent its request).
/// - `app` is an axum `Router`, or a make-service: see [`MakeService`].
///
/// The drain's settings are methods of [`Serve`], whose example runs a
/// server through a shutdown; [`Serve::stats`] reads its counts while it
/// runs.
///
/// # Examples
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
///
/// With the client's address for the handlers:
///
/// ```no_run
/// use std::net::SocketAddr;
///
/// use axum::{Router, extract::ConnectInfo, routing::get};
/// use graceful_rt::{Shutdown, graceful_main};
///
/// #[graceful_main(timeout = "15s")]
/// async fn main(shutdown: Shutdown) -> std::io::Result<()> {
///     let app = Router::new().route(
///         "/",
///         get(|ConnectInfo(client): ConnectInfo<SocketAddr>| async move { format!("hello, {client}") }),
///     );
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
///     let app = app.into_make_service_with_connect_info::<SocketAddr>();
///     graceful_rt::http::serve(listener, app, shutdown).await?;
///     Ok(())
/// }
/// ```
pub fn serve<L, M>(listener: L, app: M, shutdown: Shutdown) -> Serve<L, M>
where
    L: Listener,
    M: MakeService<L>,
{
    Serve {
        listener,
        app: app.prepare(),
        shutdown,
        stats: DrainStats {
            state: Arc::default(),
            connections: Arc::default(),
        },
        settings: Settings::default(),
    }
}

/// A server that drains on shutdown: `.await` it. See [`serve`].
///
/// Awaited, it serves until draining begins, drains, and resolves to what
/// the drain counted ([`Drained`]) once every connection has closed, or
/// was cut at the drain deadline. Its methods set how it treats
/// connections; they take effect when it is awaited, in any order.
///
/// # Examples
///
/// Every setting, and the live counts, through a whole shutdown:
///
/// ```
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use graceful_rt::{Shutdown, http};
/// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
/// use tokio::net::{TcpListener, TcpStream};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let shutdown = Shutdown::new(Duration::from_secs(10));
/// let app = Router::new().route("/", get(|| async { "hello" }));
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
///
/// let server = http::serve(listener, app, shutdown.clone())
///     // An idle keep-alive connection waits this long for a last request.
///     .keep_alive_hold(Duration::from_millis(300))
///     // A connection used this recently may have a request on the wire.
///     .idle_grace(Duration::from_millis(50))
///     // How long a silent client can hold the drain up.
///     .client_bound(Duration::from_millis(500))
///     // gRPC calls still running this long before the drain deadline end
///     // with UNAVAILABLE.
///     .call_end_lead(Duration::from_millis(100))
///     .tcp_nodelay(true)
///     // HTTP/2 connections move to new instances every 5 minutes or so.
///     .max_connection_age(Duration::from_secs(300))
///     .max_connection_age_grace(Duration::from_secs(30));
/// let stats = server.stats();
/// let server = tokio::spawn(server.into_future());
///
/// let mut client = TcpStream::connect(address).await?;
/// client.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
/// let mut response = String::new();
/// client.read_to_string(&mut response).await?;
/// assert!(response.starts_with("HTTP/1.1 200 OK"));
/// assert!(response.ends_with("hello"));
///
/// shutdown.trigger();
/// let drained = server.await.expect("the server did not panic")?;
/// assert_eq!((drained.requests_cut, drained.connections_cut), (0, 0));
/// assert_eq!((stats.in_flight(), stats.connections()), (0, 0));
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// None today: accept errors (out of file descriptors, say) are retried,
/// with a backoff, and logged once per burst for a `TcpListener` (other
/// listeners retry in their own way), and a connection's error ends that
/// connection only (logged at `debug`, target `graceful::http`). The `io::Result` is
/// `axum::serve`'s shape, kept for listeners that can fail.
///
/// # Cancel safety
///
/// Dropping the future closes the listener and stops the drain's
/// bookkeeping; connections already accepted go on being served by their
/// own tasks until they end. Await it to the end to drain.
#[must_use = "a server does nothing unless `.await`ed"]
pub struct Serve<L, M> {
    listener: L,
    app: M,
    shutdown: Shutdown,
    stats: DrainStats,
    settings: Settings,
}

/// How [`serve`] treats each connection: see the methods of [`Serve`].
#[derive(Clone, Copy, Debug)]
struct Settings {
    nodelay: bool,
    age: Option<Duration>,
    age_grace: Option<Duration>,
    keep_alive_hold: Duration,
    idle_grace: Duration,
    /// Never zero: [`Serve::client_bound`] refuses it.
    client_bound: Duration,
    call_end_lead: Duration,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            nodelay: true,
            age: None,
            age_grace: None,
            keep_alive_hold: KEEP_ALIVE_HOLD,
            idle_grace: IDLE_GRACE,
            client_bound: CLIENT_BOUND,
            call_end_lead: CALL_END_LEAD,
        }
    }
}

impl Settings {
    /// The drain's settings with their bounds applied, whatever order they
    /// were given in: the grace at most the client bound, the hold at most
    /// the client bound less the grace.
    fn drain(&self) -> DrainSettings {
        let idle_grace = self.idle_grace.min(self.client_bound);
        DrainSettings {
            idle_grace,
            client_bound: self.client_bound,
            keep_alive_hold: self
                .keep_alive_hold
                .min(self.client_bound.saturating_sub(idle_grace)),
            call_end_lead: self.call_end_lead,
        }
    }
}

/// What each connection's drain goes by: [`Settings::drain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DrainSettings {
    idle_grace: Duration,
    client_bound: Duration,
    keep_alive_hold: Duration,
    call_end_lead: Duration,
}

impl<L, M> Serve<L, M> {
    /// Live counts of the server's requests and connections, as it serves
    /// and drains: take them before awaiting the server (which consumes
    /// it), and read them as often as you like. See the example of
    /// [`Serve`].
    #[must_use]
    pub fn stats(&self) -> DrainStats {
        self.stats.clone()
    }

    /// Whether every TCP connection accepted gets `TCP_NODELAY` (default:
    /// yes, as Go's and nginx's servers do). Without it, Nagle's algorithm
    /// holds a small write back while an earlier one is unacknowledged:
    /// an HTTP/2 GOAWAY written right after a PING's answer waited for the
    /// client's delayed ACK, about 40 ms. Applies to connections whose IO
    /// is a [`tokio::net::TcpStream`] (a `TcpListener`, with or without
    /// `tap_io`); a listener of your own (TLS, say) sets it on the stream
    /// it wraps.
    pub fn tcp_nodelay(mut self, nodelay: bool) -> Self {
        self.settings.nodelay = nodelay;
        self
    }

    /// Closes each HTTP/2 connection once it is `age` old (give or take
    /// 10%, so that connections opened together do not all go at once),
    /// the way the drain does: GOAWAY, the streams it accepted finish,
    /// then it closes. Clients reconnect, through their load balancer or
    /// resolver, which spreads long-lived connections (gRPC's) over the
    /// instances that exist now: after a rolling restart, or a scale-up,
    /// they would otherwise stay pinned where they were (gRFC A9's
    /// `MAX_CONNECTION_AGE`). Default: no limit.
    ///
    /// HTTP/1.1 connections are left alone: closing an idle one races
    /// the client's next request, and a client opens one per request it
    /// has in flight anyway.
    ///
    pub fn max_connection_age(mut self, age: Duration) -> Self {
        self.settings.age = Some(age);
        self
    }

    /// How long a connection closed for its age has to finish its streams
    /// after the GOAWAY (default: as long as they take). Past it, its gRPC
    /// calls end with `UNAVAILABLE` (so their clients retry them), and the
    /// connection is closed [`call_end_lead`](Serve::call_end_lead) later
    /// (at once, its calls cut with it, when the lead is zero). gRFC A9's
    /// `MAX_CONNECTION_AGE_GRACE`. Without a
    /// [`max_connection_age`](Serve::max_connection_age) it does nothing.
    ///
    pub fn max_connection_age_grace(mut self, grace: Duration) -> Self {
        self.settings.age_grace = Some(grace);
        self
    }

    /// How long draining keeps an idle HTTP/1.1 keep-alive connection
    /// open, counted from the start of the drain, for its client's next
    /// request: that request is answered, with `Connection: close`, and
    /// the connection then closes. Default: half a second (500 ms).
    ///
    /// A client that takes a pooled connection without checking it first
    /// (Python's `http.client` and `requests`, and most clients on a
    /// network with latency, where the server's FIN is still on its way)
    /// writes its next request onto whatever the server did with the
    /// connection: closed, the request is lost; held, it is answered. The
    /// price is the exit: idle pools hold it for up to the hold.
    /// `Duration::ZERO` closes each idle connection once it has been quiet
    /// for the [`idle_grace`](Serve::idle_grace).
    ///
    /// The hold is part of the drain's wait on clients, which the
    /// [`client_bound`](Serve::client_bound) bounds: it is capped at the
    /// client bound less the idle grace (900 ms with the defaults), so
    /// that a client then still has a moment to see the close. A longer
    /// hold is capped there, whatever order the settings are given in.
    pub fn keep_alive_hold(mut self, hold: Duration) -> Self {
        self.settings.keep_alive_hold = hold;
        self
    }

    /// How long an HTTP/1.1 connection must have been quiet (since it was
    /// accepted, or since its last response was sent) for draining to
    /// close it as idle. Default: a tenth of a second (100 ms).
    ///
    /// A connection used more recently may have its client's next request
    /// on the wire, and closing it would lose that request: it gets the
    /// rest of the grace to deliver it, and a request that arrives is
    /// answered, with `Connection: close`. A longer grace covers a slower
    /// path to the clients, at the price of the exit: every connection
    /// used within the grace holds the drain up for the rest of it.
    /// `Duration::ZERO` closes idle connections at once, racing whatever
    /// request is on its way. (HTTP/2 has no such grace: GOAWAY tells the
    /// client which of its streams were accepted, so it is sent at once.)
    ///
    /// The grace is a wait on the client, which the
    /// [`client_bound`](Serve::client_bound) bounds: a longer grace is
    /// capped at the client bound, whatever order the settings are given
    /// in. The [`keep_alive_hold`](Serve::keep_alive_hold) gets what the
    /// grace leaves of the bound.
    pub fn idle_grace(mut self, grace: Duration) -> Self {
        self.settings.idle_grace = grace;
        self
    }

    /// How long draining waits on a client while its connection has no
    /// request in flight: for the rest of a request head it started to
    /// send (or of a TLS handshake), for its answer to the PING of
    /// HTTP/2's two-step GOAWAY, for it to read what the server wrote.
    /// Counted from the start of the drain, or from the end of the
    /// connection's last request; past it, the connection is closed
    /// without a response, and counted in
    /// [`Drained::unresponsive`](crate::http::Drained::unresponsive).
    /// Default: one second (1 s).
    ///
    /// It also bounds the wait for a client to close its side of an
    /// HTTP/2 connection the server ended (counted from that end, and not
    /// counted as unresponsive: see the [module's docs](crate::http),
    /// step 3).
    ///
    /// A cooperative client needs a round trip: a second is far more than
    /// that on any network a server is deployed to, and a small part of
    /// any shutdown budget. A longer bound waits out slower clients, at
    /// the price of the exit, which a client that never answers holds up
    /// for the whole bound; a shorter one closes on clients that are slow
    /// but would have answered. Requests in flight are not bounded by it:
    /// they have until the drain deadline.
    ///
    /// It bounds the drain's other waits on clients too: the
    /// [`idle_grace`](Serve::idle_grace) is capped at it, and the
    /// [`keep_alive_hold`](Serve::keep_alive_hold) at it less the grace.
    ///
    /// # Panics
    ///
    /// If `bound` is zero: no client answers in no time, so every
    /// connection would be closed as unresponsive the moment the drain
    /// began, HTTP/2's included (its GOAWAY waits for a PING's answer),
    /// with the requests on their way. (`Duration::MAX` is no bound:
    /// clients are then waited for until the drain deadline.)
    pub fn client_bound(mut self, bound: Duration) -> Self {
        assert!(
            !bound.is_zero(),
            "Serve::client_bound must be more than zero: no client answers in no time"
        );
        self.settings.client_bound = bound;
        self
    }

    /// How long before the drain deadline the gRPC calls still running
    /// are ended with `grpc-status: 14` (UNAVAILABLE, "server is shutting
    /// down"), which their clients retry; and how long a connection closed
    /// for its age has, once its grace is over and its calls are ended,
    /// before it is closed (see
    /// [`max_connection_age_grace`](Serve::max_connection_age_grace)).
    /// Default: a twentieth of a second (50 ms).
    ///
    /// The lead is time for the calls' trailers to reach their clients,
    /// and for the connection, with no stream left, to close by its
    /// protocol before it is cut: a few round trips on any network a
    /// server is deployed to. A longer lead suits a slower path, at the
    /// price of ending calls earlier, when some would still have finished
    /// in time; a lead longer than the whole drain ends them as soon as
    /// draining begins.
    ///
    /// `Duration::ZERO` ends no call: a call still running at the drain
    /// deadline (or at the end of an aged connection's grace) is cut with
    /// its connection, like any other request, and its client sees a
    /// broken stream (which tonic's client reports as UNKNOWN, and no
    /// retry policy retries).
    pub fn call_end_lead(mut self, lead: Duration) -> Self {
        self.settings.call_end_lead = lead;
        self
    }
}

impl<L, M> std::fmt::Debug for Serve<L, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// How often, at most, the drain's progress goes to the service manager.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

impl<L, M> IntoFuture for Serve<L, M>
where
    L: Listener,
    M: MakeService<L>,
{
    type Output = io::Result<Drained>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<Drained>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(run(self))
    }
}

/// `serve`, step by step.
async fn run<L, M>(serve: Serve<L, M>) -> io::Result<Drained>
where
    L: Listener,
    M: MakeService<L>,
{
    let Serve {
        mut listener,
        app,
        shutdown,
        stats,
        settings,
    } = serve;
    // Borrowed mutably across the awaits below, so that the future is
    // `Send` without asking the make-service to be `Sync`.
    let mut acceptor = Acceptor::new(app, &stats, settings);
    let mut burst = Burst::default();
    accept_until_draining(&mut listener, &mut acceptor, &mut burst, &shutdown).await;
    // After an upgrade, the listening socket lives on in the new process:
    // closing this process's descriptor resets nothing, and a filter would
    // stop the new process's connections too.
    let refusing = match shutdown.cause() {
        Some(crate::Cause::Upgraded(_)) => None,
        _ => stop_accepting::refuse_new(&listener),
    };
    take_the_backlog(&mut listener, &mut acceptor, &mut burst).await;
    if let Some(refusing) = refusing {
        // The handshakes under way complete (their clients may already
        // have sent a request behind their ACK), and they and the queue
        // the kernel holds (which tokio sees only once its reactor has)
        // are accepted.
        let until = Instant::now() + stop_accepting::HANDSHAKE_BOUND;
        let mut pending = refusing.not_yet_accepted();
        while pending && Instant::now() < until {
            tokio::time::sleep(stop_accepting::HANDSHAKE_POLL).await;
            take_the_backlog(&mut listener, &mut acceptor, &mut burst).await;
            pending = refusing.not_yet_accepted();
        }
        if pending {
            take_the_backlog(&mut listener, &mut acceptor, &mut burst).await;
            log::info!(
                "stopped accepting with a connection still not accepted after {}: closing the \
                 listener resets it (a client that never completes its handshake, or a runtime \
                 too busy to accept)",
                duration::display(stop_accepting::HANDSHAKE_BOUND)
            );
        }
        // Under socket activation, the socket systemd also holds must go
        // on taking connections once this one is gone.
        refusing.before_close(&listener);
    }
    drop(listener);
    // Only now do responses say `Connection: close`: a client told to
    // reconnect finds the port closed and is refused at once, rather than
    // queued in a backlog that is about to be reset.
    stats.state.enter(Phase::Draining);
    stats.connections.start_draining();
    let start = DrainStart::now(&stats, &shutdown);
    let drain = settings.drain();
    let cut = wait_or_cut(&stats, &shutdown, start.deadline, drain.call_end_lead).await;
    let drained = Drained {
        in_flight: start.in_flight,
        connections: start.connections,
        late: stats.late(),
        requests_cut: cut.calls_ended + cut.requests,
        connections_cut: cut.connections,
        calls_ended: cut.calls_ended,
        unresponsive: stats.state.unresponsive.load(Ordering::Acquire),
        elapsed: start.at.elapsed(),
    };
    log_drained(&drained, drain.client_bound);
    if let Some(process) = shutdown.process() {
        process.drained(&drained);
    }
    Ok(drained)
}

/// What accepting a connection takes: the make-service, the hyper
/// builder, and the server's state and list of connections.
struct Acceptor<M> {
    builder: auto::Builder<TokioExecutor>,
    app: M,
    state: Arc<ServerState>,
    connections: Arc<Connections>,
    settings: Settings,
    drain: DrainSettings,
}

impl<M> Acceptor<M> {
    fn new(app: M, stats: &DrainStats, settings: Settings) -> Acceptor<M> {
        #[cfg_attr(not(feature = "http2"), allow(unused_mut))]
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // CONNECT, for WebSockets over HTTP/2.
        #[cfg(feature = "http2")]
        builder.http2().enable_connect_protocol();
        Acceptor {
            builder,
            app,
            state: Arc::clone(&stats.state),
            connections: Arc::clone(&stats.connections),
            settings,
            drain: settings.drain(),
        }
    }

    /// Makes the connection's service, then serves `io` on a task of its
    /// own.
    async fn accept<L>(&mut self, io: L::Io, remote_addr: L::Addr)
    where
        L: Listener,
        M: MakeService<L>,
    {
        if self.settings.nodelay {
            set_nodelay(&io);
        }
        poll_fn(|cx| self.app.poll_ready(cx)).await;
        let service = self
            .app
            .make_service(IncomingStream::<L>::new(&io, remote_addr))
            .await;
        // The drain needs to know how long a connection has been quiet only
        // when the hold does not outlast the grace.
        let quiet_time = self.drain.keep_alive_hold < self.drain.idle_grace;
        let activity = Arc::new(Activity::new(Arc::clone(&self.state), quiet_time));
        self.connections.add(&activity);
        let io = TrackedIo::new(io, Arc::clone(&activity), Arc::clone(&self.state));
        let service = ConnectionService::new(service, Arc::clone(&activity));
        let age = self.settings.age.map(|age| Age {
            at: duration::after(Instant::now(), jittered(age)),
            grace: self.settings.age_grace,
        });
        tokio::spawn(connection(
            self.builder.clone(),
            io,
            service,
            activity,
            Arc::clone(&self.state),
            age,
            self.drain,
        ));
    }
}

/// Sets `TCP_NODELAY` on `io` if it is a TCP stream (see
/// [`Serve::tcp_nodelay`]). A failure leaves the connection as it was.
fn set_nodelay<Io: 'static>(io: &Io) {
    if let Some(tcp) = (io as &dyn std::any::Any).downcast_ref::<tokio::net::TcpStream>() {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(target: "graceful::http", "cannot set TCP_NODELAY: {error}");
        }
    }
}

/// When a connection is old enough to close, and how long it then has.
#[derive(Clone, Copy, Debug)]
struct Age {
    at: Instant,
    grace: Option<Duration>,
}

/// `age`, give or take 10%, at random.
fn jittered(age: Duration) -> Duration {
    static CONNECTIONS: AtomicU64 = AtomicU64::new(0);
    let nth = CONNECTIONS.fetch_add(1, Ordering::Relaxed);
    // A random fraction in [0, 1), from the standard library's hasher
    // keys (random per process) and a counter.
    let random = (RandomState::new().hash_one(nth) >> 11) as f64 / (1u64 << 53) as f64;
    // Saturating: an age too large for a `Duration` is no limit.
    Duration::try_from_secs_f64(age.as_secs_f64() * (0.9 + 0.2 * random)).unwrap_or(Duration::MAX)
}

/// Accepts until draining begins. From the shutdown on (the lame duck),
/// HTTP/1.1 responses tell clients to reconnect elsewhere.
async fn accept_until_draining<L, M>(
    listener: &mut L,
    acceptor: &mut Acceptor<M>,
    burst: &mut Burst,
    shutdown: &Shutdown,
) where
    L: Listener,
    M: MakeService<L>,
{
    let mut draining = pin!(shutdown.draining());
    let mut requested = pin!(shutdown.requested());
    let mut lame_duck = shutdown.drain_delay().is_zero();
    loop {
        tokio::select! {
            biased;
            () = &mut draining => return,
            () = &mut requested, if !lame_duck => {
                lame_duck = true;
                acceptor.state.enter(Phase::LameDuck);
            }
            // Accept errors are retried with a backoff (see `accept`);
            // draining goes on meanwhile.
            (io, remote_addr) = accept(listener, burst) => acceptor.accept::<L>(io, remote_addr).await,
        }
    }
}

/// Stops accepting. What is already in the backlog was accepted by the
/// kernel and may carry a request: it is served rather than reset by
/// closing the listener on it. (The caller then closes the listener.)
async fn take_the_backlog<L, M>(listener: &mut L, acceptor: &mut Acceptor<M>, burst: &mut Burst)
where
    L: Listener,
    M: MakeService<L>,
{
    loop {
        let queued = {
            let mut accept = pin!(accept(listener, burst));
            poll_fn(|cx| Poll::Ready(accept.as_mut().poll(cx))).await
        };
        match queued {
            Poll::Ready((io, remote_addr)) => acceptor.accept::<L>(io, remote_addr).await,
            Poll::Pending => return,
        }
    }
}

/// The start of a drain: when, what was open, and the deadline; logged.
struct DrainStart {
    at: Instant,
    in_flight: usize,
    connections: usize,
    deadline: Instant,
}

impl DrainStart {
    fn now(stats: &DrainStats, shutdown: &Shutdown) -> DrainStart {
        let at = Instant::now();
        let in_flight = stats.in_flight();
        let connections = stats.connections();
        let deadline = shutdown
            .drain_deadline()
            .unwrap_or_else(|| duration::after(at, shutdown.timeout()));
        log::info!(
            "draining: stopped accepting; {in_flight} {} in flight on {connections} {} (drain deadline in {})",
            plural(in_flight, "request", "requests"),
            plural(connections, "connection", "connections"),
            duration::display(deadline.saturating_duration_since(at))
        );
        DrainStart {
            at,
            in_flight,
            connections,
            deadline,
        }
    }
}

/// What the drain deadline ended: see [`wait_or_cut`].
#[derive(Clone, Copy, Debug, Default)]
struct Cut {
    /// gRPC calls ended with UNAVAILABLE, [`Serve::call_end_lead`] before it.
    calls_ended: usize,
    /// Requests still in flight at the deadline.
    requests: usize,
    /// Connections still open at the deadline.
    connections: usize,
}

/// Waits until every connection has closed, or cuts what is open at the
/// drain `deadline`; each close is progress, reported to the service
/// manager now and then. `call_end_lead` before the deadline, the gRPC
/// calls still running are ended with UNAVAILABLE, so that their trailers
/// reach their clients before the cut; with no lead, none is.
async fn wait_or_cut(
    stats: &DrainStats,
    shutdown: &Shutdown,
    deadline: Instant,
    call_end_lead: Duration,
) -> Cut {
    let state = &stats.state;
    let ended_before = state.calls_ended.load(Ordering::Acquire);
    let calls_ended = || state.calls_ended.load(Ordering::Acquire) - ended_before;
    let end_calls_at = deadline
        .checked_sub(call_end_lead)
        .unwrap_or(deadline)
        .max(Instant::now());
    let mut calls_told = call_end_lead.is_zero();
    let process = shutdown.process();
    if let Some(process) = process {
        process.draining(stats.in_flight(), stats.connections());
    }
    let mut next_report = Instant::now() + PROGRESS_INTERVAL;
    loop {
        tokio::select! {
            () = state.all_closed() => return Cut { calls_ended: calls_ended(), ..Cut::default() },
            () = tokio::time::sleep_until(end_calls_at.into()), if !calls_told => {
                calls_told = true;
                stats.connections.end_calls();
            }
            () = tokio::time::sleep_until(deadline.into()) => {
                let cut = Cut {
                    calls_ended: calls_ended(),
                    requests: stats.in_flight(),
                    connections: stats.connections(),
                };
                stats.connections.cut_all();
                return cut;
            }
            () = next_close_after(state, next_report), if process.is_some() => {
                if let Some(process) = process {
                    process.draining(stats.in_flight(), stats.connections());
                }
                next_report = Instant::now() + PROGRESS_INTERVAL;
            }
        }
    }
}

/// Resolves at the first connection close after `after`: the drain's next
/// progress report. Until `after`, closes tell nobody (the request path
/// of a close then touches no shared waiter list).
async fn next_close_after(state: &ServerState, after: Instant) {
    tokio::time::sleep_until(after.into()).await;
    let closed = state.connection_closes();
    let mut closed = pin!(closed);
    closed.as_mut().enable();
    state.want_close_news();
    closed.await;
}

/// The drain's last log lines.
fn log_drained(drained: &Drained, client_bound: Duration) {
    if drained.unresponsive > 0 {
        log::info!(
            "closed {} {} whose {} held {} for {} without a request",
            drained.unresponsive,
            plural(drained.unresponsive, "connection", "connections"),
            plural(drained.unresponsive, "client", "clients"),
            plural(drained.unresponsive, "it", "them"),
            duration::display(client_bound),
        );
    }
    if drained.calls_ended > 0 {
        log::warning!(
            "drain deadline: ended {} gRPC {} still running with UNAVAILABLE",
            drained.calls_ended,
            plural(drained.calls_ended, "call", "calls"),
        );
    }
    if drained.connections_cut > 0 {
        log::warning!(
            "drain deadline passed: cut {} {} on {} {}",
            drained.requests_cut - drained.calls_ended,
            plural(
                drained.requests_cut - drained.calls_ended,
                "request",
                "requests"
            ),
            drained.connections_cut,
            plural(drained.connections_cut, "connection", "connections"),
        );
    } else {
        log::info!(
            "drained {} {} in {}{}",
            drained.connections,
            plural(drained.connections, "connection", "connections"),
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
}

/// Serves one connection until it closes: normally until draining begins,
/// then until it may close without losing a request (see [`drain`]), then
/// until the server cuts it at the drain deadline at the latest. An HTTP/2
/// connection with an [`Age`] closes once it reaches it.
async fn connection<Io, S, B>(
    builder: auto::Builder<TokioExecutor>,
    io: TrackedIo<Io>,
    service: ConnectionService<S>,
    activity: Arc<Activity>,
    state: Arc<ServerState>,
    age: Option<Age>,
    drain_settings: DrainSettings,
) where
    Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: RequestService<B>,
    B: http_body::Body<Data = bytes::Bytes, Error: Into<BoxError>> + Send + 'static,
{
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut connection = pin!(connection);
    tokio::select! {
        biased;
        ended = connection.as_mut() => return ended_with(ended),
        () = activity.draining() => {}
        grace = aged(age, &activity) => {
            // GOAWAY: the client opens its next streams elsewhere.
            connection.as_mut().graceful_shutdown();
            let grace_end = grace.map(|grace| duration::after(Instant::now(), grace));
            tokio::select! {
                biased;
                ended = connection.as_mut() => {
                    activity.linger_on_close(drain_settings.client_bound);
                    return ended_with(ended);
                }
                () = activity.draining() => {}
                () = sleep_until_some(grace_end) => {
                    let lead = drain_settings.call_end_lead;
                    if !lead.is_zero() {
                        activity.end_calls();
                        if let Ok(ended) = tokio::time::timeout(lead, connection.as_mut()).await {
                            ended_with(ended);
                        }
                    }
                    return; // Dropping the connection closes its socket.
                }
            }
        }
    }
    // Dropping the connection (unresponsive, or cut) closes its socket.
    tokio::select! {
        closed = drain(connection, &activity, drain_settings, |c| c.graceful_shutdown()) => match closed {
            Closed::ByProtocol if activity.is_http2() => activity.linger_on_close(drain_settings.client_bound),
            Closed::ByProtocol => {}
            Closed::Unresponsive => {
                state.unresponsive.fetch_add(1, Ordering::AcqRel);
            }
        },
        () = activity.cut_requested() => {}
    }
}

/// Resolves when an HTTP/2 connection reaches its `age`, with the grace it
/// then has; never for HTTP/1.1, or without an age.
async fn aged(age: Option<Age>, activity: &Activity) -> Option<Duration> {
    let Some(Age { at, grace }) = age else {
        return std::future::pending().await;
    };
    tokio::time::sleep_until(at.into()).await;
    if !activity.is_http2() {
        return std::future::pending().await;
    }
    grace
}

/// Sleeps until `until`; forever when it is `None`.
async fn sleep_until_some(until: Option<Instant>) {
    match until {
        Some(until) => tokio::time::sleep_until(until.into()).await,
        None => std::future::pending().await,
    }
}

/// How a connection's drain ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Closed {
    /// By its protocol: after its last response, or idle.
    ByProtocol,
    /// By the server: its client held it for the
    /// [`client_bound`](Serve::client_bound) without a request in flight.
    Unresponsive,
}

/// Drains one connection: asks it to close, then waits until it has.
///
/// - **HTTP/2** is asked at once (GOAWAY), whatever its traffic: streams
///   the server has accepted finish, later ones are refused, and hyper
///   closes the connection after its last stream.
/// - **HTTP/1.1** is asked at once when a request is in flight (its
///   response says `Connection: close`), or when it is idle: accepted, or
///   its last response sent, the idle grace ago or more, and held for its
///   client's next request for the keep-alive hold from the start of the
///   drain (closed then). One used more recently may have a request on the
///   wire, and gets the rest of the grace to deliver it; one with part of
///   a request head received waits for the rest (bounded, as below),
///   since hyper would close it on the spot and lose that request.
///
/// While no request is in flight, the connection waits on its client: for
/// the rest of a request head, the answer to the GOAWAY PING, or a read.
/// That wait is bounded by the client bound, counted from the start of the
/// drain or the end of its last request; past it, the connection is
/// dropped. A request in flight is waited for until the drain deadline.
/// (The settings are [`Serve`]'s, with their bounds applied.)
async fn drain<C: Future<Output = Result<(), BoxError>>>(
    mut connection: Pin<&mut C>,
    activity: &Activity,
    settings: DrainSettings,
    ask_to_close: impl Fn(Pin<&mut C>),
) -> Closed {
    let DrainSettings {
        idle_grace,
        client_bound,
        keep_alive_hold,
        call_end_lead: _,
    } = settings;
    activity.watch();
    let mut asked = false;
    let mut quiet_since = Instant::now();
    let held_until = duration::after(quiet_since, keep_alive_hold);
    loop {
        let changed = activity.changed();
        let mut changed = pin!(changed);
        changed.as_mut().enable();
        let in_flight = activity.in_flight();
        let head_pending = activity.head_pending();
        let idle_for = activity.idle_for();
        if !asked {
            if activity.is_http2() || in_flight > 0 {
                ask_to_close(connection.as_mut());
                asked = true;
            } else if !head_pending && idle_for >= idle_grace && Instant::now() >= held_until {
                // Idle HTTP/1.1, or a connection that has sent nothing yet.
                activity.end_reads();
                asked = true;
            }
        }
        let bound_at = duration::after(quiet_since, client_bound);
        let wake = match (in_flight, asked) {
            (0, true) => Some(bound_at),
            (0, false) if head_pending => Some(bound_at),
            // Idle: closed once quiet for the grace, and no longer held.
            (0, false) => Some(
                duration::after(Instant::now(), idle_grace.saturating_sub(idle_for))
                    .max(held_until),
            ),
            _ => None,
        };
        // The connection first: one asked to close usually has by its
        // next poll, and then no timer is armed for it.
        tokio::select! {
            biased;
            ended = connection.as_mut() => {
                ended_with(ended);
                return Closed::ByProtocol;
            }
            () = changed => quiet_since = Instant::now(),
            () = tokio::time::sleep_until(wake.unwrap_or(bound_at).into()), if wake.is_some() => {
                let waiting_on_client = asked || activity.head_pending();
                if activity.in_flight() == 0 && waiting_on_client && quiet_since.elapsed() >= client_bound {
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

fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Serve` on a loopback listener, for its settings.
    async fn server() -> Serve<tokio::net::TcpListener, axum::routing::IntoMakeService<axum::Router>>
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        serve(
            listener,
            axum::Router::new().into_make_service(),
            Shutdown::new(Duration::from_secs(1)),
        )
    }

    fn drain_settings<L, M>(serve: &Serve<L, M>) -> DrainSettings {
        serve.settings.drain()
    }

    #[tokio::test]
    async fn the_defaults_are_the_documented_ones() {
        assert_eq!(
            drain_settings(&server().await),
            DrainSettings {
                idle_grace: Duration::from_millis(100),
                client_bound: Duration::from_secs(1),
                keep_alive_hold: Duration::from_millis(500),
                call_end_lead: Duration::from_millis(50),
            }
        );
    }

    #[tokio::test]
    async fn the_hold_is_capped_at_the_client_bound_less_the_grace_in_any_order() {
        let long = Duration::from_secs(5);
        // The cap of the defaults: 1 s less 100 ms.
        let held = drain_settings(&server().await.keep_alive_hold(long));
        assert_eq!(held.keep_alive_hold, Duration::from_millis(900));
        // Computed from the settings, whichever comes first.
        let before = server()
            .await
            .keep_alive_hold(long)
            .client_bound(Duration::from_millis(300))
            .idle_grace(Duration::from_millis(50));
        let after = server()
            .await
            .idle_grace(Duration::from_millis(50))
            .client_bound(Duration::from_millis(300))
            .keep_alive_hold(long);
        for settings in [drain_settings(&before), drain_settings(&after)] {
            assert_eq!(settings.keep_alive_hold, Duration::from_millis(250));
            assert_eq!(settings.idle_grace, Duration::from_millis(50));
            assert_eq!(settings.client_bound, Duration::from_millis(300));
        }
        // A hold within the cap is kept as given.
        let short = drain_settings(&server().await.keep_alive_hold(Duration::from_millis(20)));
        assert_eq!(short.keep_alive_hold, Duration::from_millis(20));
    }

    #[tokio::test]
    async fn the_grace_is_capped_at_the_client_bound_leaving_no_hold() {
        let settings = drain_settings(
            &server()
                .await
                .idle_grace(Duration::from_secs(3))
                .client_bound(Duration::from_secs(2)),
        );
        assert_eq!(settings.idle_grace, Duration::from_secs(2));
        assert_eq!(settings.keep_alive_hold, Duration::ZERO);
        let zero = drain_settings(&server().await.idle_grace(Duration::ZERO));
        assert_eq!(zero.idle_grace, Duration::ZERO);
        assert_eq!(zero.keep_alive_hold, Duration::from_millis(500));
    }

    #[tokio::test]
    async fn the_lead_is_kept_as_given_zero_included() {
        for lead in [Duration::ZERO, Duration::from_secs(30)] {
            let settings = drain_settings(&server().await.call_end_lead(lead));
            assert_eq!(settings.call_end_lead, lead);
        }
    }

    #[tokio::test]
    #[should_panic(expected = "Serve::client_bound must be more than zero")]
    async fn a_zero_client_bound_panics() {
        let _ = server().await.client_bound(Duration::ZERO);
    }

    /// A connection the kernel completed and queued after tokio's reactor
    /// last looked at the listener (here: on a runtime that has not turned
    /// its reactor since) is accepted and answered when serving stops, not
    /// reset with the listener: tokio's accept does not see it yet, the
    /// kernel's queue does.
    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn a_connection_queued_unseen_by_the_reactor_when_accepting_stops_is_answered() {
        use std::io::{Read as _, Write as _};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let shutdown = Shutdown::new(Duration::from_secs(5));
        let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
        let server = tokio::spawn(serve(listener, app, shutdown.clone()).into_future());
        // The server starts accepting; then the reactor turns, once, with
        // nothing queued.
        tokio::task::yield_now().await;
        // Without yielding to the runtime: on loopback, `connect` returns
        // with the handshake complete and the connection queued; then the
        // request, and the shutdown.
        let mut client = std::net::TcpStream::connect(address).unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n")
            .unwrap();
        shutdown.trigger();
        let drained = server.await.unwrap().unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut response = Vec::new();
        let read = client.read_to_end(&mut response);
        let response = String::from_utf8_lossy(&response);
        assert!(
            read.is_ok() && response.starts_with("HTTP/1.1 200 OK") && response.ends_with("hello"),
            "the queued connection's answer: {read:?}, {response:?}; {drained:?}"
        );
    }
}
