//! The `axum` feature in process, over real loopback sockets: HTTP/2
//! draining with GOAWAY (feature `http2`; without it, HTTP/2 clients are
//! closed and the log says why), the drain deadline cutting an upgraded connection
//! and a slow request, `DrainLayer` in a hand-written hyper loop,
//! `Readiness`, and the live counts of `serve`. The process-level scenarios
//! (signals, exit codes, the report) are in the workspace's tests/http_drain.rs.
//!
//! Every wait is bounded; the bounds are loose enough for a loaded 2-core
//! machine.

use std::future::{Future, IntoFuture};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request};
use axum::http::{self, HeaderMap, StatusCode, Version, header};
use axum::response::Response;
use axum::routing::get;
use graceful_rt::Shutdown;
use graceful_rt::http::{DrainLayer, DrainStats, Drained, Readiness, serve};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// graceful-rt's defaults, which these tests measure against:
/// `Serve::idle_grace` and `Serve::keep_alive_hold`.
const IDLE_GRACE: Duration = Duration::from_millis(100);
const KEEP_ALIVE_HOLD: Duration = Duration::from_millis(500);
/// How long to wait for anything that should happen, before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);

/// `GET /` answers "hello"; `GET /sleep/{ms}` answers "slept" after `ms`.
fn app() -> Router {
    Router::new().route("/", get(|| async { "hello" })).route(
        "/sleep/{ms}",
        get(|Path(ms): Path<u64>| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            "slept"
        }),
    )
}

/// Awaits `future`, failing the test if it takes longer than `within`.
async fn bounded<F: Future>(what: &str, within: Duration, future: F) -> F::Output {
    tokio::time::timeout(within, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {within:?}"))
}

/// Polls `condition` until it holds, failing the test after `within`.
async fn wait_until(what: &str, within: Duration, mut condition: impl FnMut() -> bool) {
    let give_up = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < give_up, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A running [`serve`], and when it resolved.
struct Server {
    address: SocketAddr,
    stats: DrainStats,
    task: JoinHandle<(io::Result<Drained>, Instant)>,
}

async fn start(router: Router, shutdown: &Shutdown) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = serve(listener, router, shutdown.clone());
    let stats = serving.stats();
    let serving = serving.into_future();
    let task = tokio::spawn(async move {
        let drained = serving.await;
        (drained, Instant::now())
    });
    Server {
        address,
        stats,
        task,
    }
}

impl Server {
    /// What `serve` resolved with, and when.
    async fn drained(self, within: Duration) -> (Drained, Instant) {
        let (drained, at) = bounded("serve to resolve", within, self.task)
            .await
            .expect("serve panicked");
        (drained.expect("serve failed"), at)
    }
}

/// A response, read in full.
#[derive(Debug)]
struct Reply {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn closes(&self) -> bool {
        self.headers
            .get_all(header::CONNECTION)
            .iter()
            .any(|value| value.as_bytes().eq_ignore_ascii_case(b"close"))
    }

    fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("a text header"))
    }
}

async fn read_reply(response: http::Response<hyper::body::Incoming>) -> hyper::Result<Reply> {
    let (parts, body) = response.into_parts();
    let body = body.collect().await?.to_bytes();
    Ok(Reply {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: String::from_utf8(body.to_vec()).expect("a text body"),
    })
}

/// One HTTP/1.1 client connection (hyper's), kept alive while the value lives.
struct Http1 {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Http1 {
    async fn connect(address: SocketAddr) -> Http1 {
        let stream = bounded("connect", ANSWER, TcpStream::connect(address))
            .await
            .expect("connect");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        Http1 { sender }
    }

    async fn get(&mut self, path: &str) -> Reply {
        self.try_get(path)
            .await
            .unwrap_or_else(|error| panic!("GET {path}: {error}"))
    }

    /// `GET path`, or the error of a connection that is gone.
    async fn try_get(&mut self, path: &str) -> hyper::Result<Reply> {
        let request = http::Request::get(path)
            .header(header::HOST, "127.0.0.1")
            .body(Empty::new())
            .unwrap();
        let exchange = async {
            self.sender.ready().await?;
            read_reply(self.sender.send_request(request).await?).await
        };
        bounded(&format!("GET {path}"), ANSWER, exchange).await
    }
}

/// A one-request HTTP/1.1 exchange on a fresh connection.
async fn get_once(address: SocketAddr, path: &str) -> Reply {
    Http1::connect(address).await.get(path).await
}

/// Reads a response head from a raw socket, up to the blank line.
async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 8192, "an endless response head");
        let byte = stream.read_u8().await.expect("a response head");
        head.push(byte);
    }
    String::from_utf8(head).expect("a text head")
}

/// Reads a raw socket until the peer closes it: what it received, how it
/// ended (EOF, or the error), and when.
async fn read_until_closed(mut stream: TcpStream) -> (Vec<u8>, io::Result<()>, Instant) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 1024];
    let end = loop {
        match stream.read(&mut buffer).await {
            Ok(0) => break Ok(()),
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) => break Err(error),
        }
    };
    (received, end, Instant::now())
}

fn closed_by_peer(end: &io::Result<()>) -> bool {
    match end {
        Ok(()) => true,
        Err(error) => error.kind() == io::ErrorKind::ConnectionReset,
    }
}

#[cfg(feature = "http2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_in_flight_request_completes_without_connection_header_then_goaway_closes() {
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let server = start(app(), &shutdown).await;
    let stream = TcpStream::connect(server.address).await.unwrap();
    // HTTP/2 with prior knowledge.
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("HTTP/2 handshake");
    let connection = tokio::spawn(connection);
    let request = http::Request::get(format!("http://{}/sleep/500", server.address))
        .body(Empty::<Bytes>::new())
        .unwrap();
    // The sender stays alive: only the server can end this connection.
    let response = sender.send_request(request);
    let response = tokio::spawn(async move { read_reply(response.await?).await });
    wait_until("the request to be in flight", ANSWER, || {
        server.stats.in_flight() == 1
    })
    .await;

    shutdown.trigger();
    let reply = bounded("the in-flight response", ANSWER, response)
        .await
        .unwrap()
        .expect("the in-flight request completes");
    let answered = Instant::now();
    assert_eq!(reply.version, Version::HTTP_2);
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "slept");
    assert_eq!(
        reply.headers.get(header::CONNECTION),
        None,
        "`connection` is illegal in HTTP/2: {:?}",
        reply.headers
    );

    let closed = bounded(
        "the server to close the HTTP/2 connection (GOAWAY)",
        ANSWER,
        connection,
    )
    .await
    .unwrap();
    let close_after = answered.elapsed();
    eprintln!("http2: connection closed {close_after:?} after the response");
    closed.expect("a graceful close, not an error");
    assert!(
        close_after < PROMPT,
        "closed {close_after:?} after the response"
    );
    assert!(
        sender.is_closed(),
        "the client knows the connection is gone"
    );

    let (drained, _) = server.drained(ANSWER).await;
    assert_eq!(drained.in_flight, 1, "{drained:?}");
    assert_eq!(drained.connections, 1, "{drained:?}");
    assert_eq!(drained.late, 0, "{drained:?}");
    assert_eq!(drained.requests_cut, 0, "{drained:?}");
    assert_eq!(drained.connections_cut, 0, "{drained:?}");
}

/// How the server side of an upgraded connection went.
#[derive(Debug)]
enum Upgrade {
    /// The upgrade completed; the task now reads until the IO fails.
    Started,
    /// The read loop ended: bytes read before, and the EOF or the error.
    Ended(usize, io::Result<()>),
}

/// `GET /upgrade` switches to protocol "test"; the upgraded IO is then read
/// until it ends, without a look at the shutdown.
fn upgrade_route(events: mpsc::UnboundedSender<Upgrade>) -> Router {
    Router::new().route(
        "/upgrade",
        get(move |mut request: Request| async move {
            let on_upgrade = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                let upgraded = match on_upgrade.await {
                    Ok(upgraded) => upgraded,
                    Err(error) => {
                        let _ = events.send(Upgrade::Ended(0, Err(io::Error::other(error))));
                        return;
                    }
                };
                let _ = events.send(Upgrade::Started);
                let mut io = TokioIo::new(upgraded);
                let mut buffer = [0u8; 1024];
                let mut total = 0;
                let end = loop {
                    match io.read(&mut buffer).await {
                        Ok(0) => break Ok(()),
                        Ok(read) => total += read,
                        Err(error) => break Err(error),
                    }
                };
                let _ = events.send(Upgrade::Ended(total, end));
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(header::CONNECTION, "upgrade")
                .header(header::UPGRADE, "test")
                .body(Body::empty())
                .unwrap()
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_connection_that_ignores_the_shutdown_is_cut_at_the_drain_deadline() {
    let (events, mut upgrade) = mpsc::unbounded_channel();
    let shutdown = Shutdown::new(Duration::from_millis(1000));
    let server = start(app().merge(upgrade_route(events)), &shutdown).await;
    let mut client = TcpStream::connect(server.address).await.unwrap();
    client
        .write_all(
            b"GET /upgrade HTTP/1.1\r\nhost: 127.0.0.1\r\n\
              connection: upgrade\r\nupgrade: test\r\n\r\n",
        )
        .await
        .unwrap();
    let head = bounded("the 101", ANSWER, read_head(&mut client)).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    match bounded("the upgrade", ANSWER, upgrade.recv()).await {
        Some(Upgrade::Started) => {}
        other => panic!("the upgrade failed: {other:?}"),
    }
    assert_eq!(server.stats.connections(), 1);
    assert_eq!(server.stats.in_flight(), 0);

    let triggered = Instant::now();
    shutdown.trigger();
    let drain_deadline = shutdown.drain_deadline().unwrap();
    let client = tokio::spawn(read_until_closed(client));

    let (drained, resolved) = server.drained(ANSWER).await;
    let late = resolved.saturating_duration_since(drain_deadline);
    eprintln!(
        "upgrade: drain deadline {:?} after the trigger; serve resolved {late:?} after it; {drained:?}",
        drain_deadline - triggered
    );
    assert!(
        resolved >= drain_deadline,
        "serve resolved {:?} before the drain deadline",
        drain_deadline - resolved
    );
    assert!(
        late < PROMPT,
        "serve resolved {late:?} after the drain deadline"
    );
    assert_eq!(drained.connections, 1, "{drained:?}");
    assert_eq!(drained.in_flight, 0, "{drained:?}");
    assert_eq!(drained.connections_cut, 1, "{drained:?}");
    assert_eq!(drained.requests_cut, 0, "{drained:?}");

    let (received, end, closed) = bounded("the client to see the cut", ANSWER, client)
        .await
        .unwrap();
    let closed_late = closed.saturating_duration_since(drain_deadline);
    eprintln!("upgrade: client saw {end:?} {closed_late:?} after the drain deadline");
    assert!(received.is_empty(), "received {received:?}");
    assert!(closed_by_peer(&end), "{end:?}");
    assert!(closed >= drain_deadline, "closed before the drain deadline");
    assert!(
        closed_late < PROMPT,
        "closed {closed_late:?} after the drain deadline"
    );

    match bounded("the upgraded task's read to end", ANSWER, upgrade.recv()).await {
        Some(Upgrade::Ended(0, Err(error))) => {
            eprintln!("upgrade: the server-side read ended with {error:?}");
        }
        other => panic!("the server-side read should fail at the cut: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_request_that_outlives_the_drain_deadline_is_cut_without_a_response() {
    let shutdown = Shutdown::new(Duration::from_millis(1000));
    let server = start(app(), &shutdown).await;
    let mut client = TcpStream::connect(server.address).await.unwrap();
    client
        .write_all(b"GET /sleep/60000 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    wait_until("the request to be in flight", ANSWER, || {
        server.stats.in_flight() == 1
    })
    .await;

    let stats = server.stats.clone();
    shutdown.trigger();
    let drain_deadline = shutdown.drain_deadline().unwrap();
    let client = tokio::spawn(read_until_closed(client));
    let (drained, resolved) = server.drained(ANSWER).await;
    let late = resolved.saturating_duration_since(drain_deadline);
    eprintln!("slow request: serve resolved {late:?} after the drain deadline; {drained:?}");
    assert!(
        resolved >= drain_deadline,
        "resolved before the drain deadline"
    );
    assert!(
        late < PROMPT,
        "serve resolved {late:?} after the drain deadline"
    );
    assert_eq!(drained.in_flight, 1, "{drained:?}");
    assert_eq!(drained.connections, 1, "{drained:?}");
    assert_eq!(drained.requests_cut, 1, "{drained:?}");
    assert_eq!(drained.connections_cut, 1, "{drained:?}");

    let (received, end, closed) = bounded("the client to see the cut", ANSWER, client)
        .await
        .unwrap();
    eprintln!(
        "slow request: client saw {end:?} {:?} after the drain deadline",
        closed.saturating_duration_since(drain_deadline)
    );
    assert!(
        received.is_empty(),
        "a cut request gets no response: {:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(closed_by_peer(&end), "{end:?}");
    assert!(closed >= drain_deadline, "closed before the drain deadline");
    wait_until("the cut request to be counted out", PROMPT, || {
        stats.in_flight() == 0 && stats.connections() == 0
    })
    .await;
}

/// A hand-written hyper HTTP/1.1 server for `router`: no draining of its
/// own, only what the router's layers do. Abort the handle to stop it.
async fn hand_written_server(router: Router) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(router.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (address, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_layer_alone_marks_the_lame_duck_then_answers_503_and_counts() {
    let drain_delay = Duration::from_millis(300);
    let shutdown = Shutdown::with_drain_delay(Duration::from_secs(10), drain_delay);
    let layer = DrainLayer::new(shutdown.clone());
    let stats = layer.stats();
    let (address, server) = hand_written_server(app().layer(layer)).await;

    // Before the shutdown: kept alive.
    let mut client = Http1::connect(address).await;
    for _ in 0..2 {
        let reply = client.get("/").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "hello");
        assert!(!reply.closes(), "{:?}", reply.headers);
    }

    // In flight while the slow request runs, not after.
    let slow = tokio::spawn(get_once(address, "/sleep/1000"));
    wait_until("the slow request to be counted", ANSWER, || {
        stats.in_flight() == 1
    })
    .await;
    let reply = bounded("the slow response", ANSWER, slow).await.unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(stats.in_flight(), 0);
    assert_eq!(stats.late(), 0);

    // The lame duck: still served, but told to reconnect.
    let triggered = Instant::now();
    shutdown.trigger();
    let reply = client.get("/").await;
    let answered = triggered.elapsed();
    assert!(
        answered < drain_delay,
        "the lame-duck check took {answered:?}, longer than the lame duck"
    );
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "hello");
    assert!(reply.closes(), "lame duck: {:?}", reply.headers);
    assert_eq!(stats.late(), 0);

    // Draining: 503.
    bounded("draining to begin", ANSWER, shutdown.draining()).await;
    assert!(triggered.elapsed() >= drain_delay);
    let reply = get_once(address, "/").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.closes(), "{:?}", reply.headers);
    assert_eq!(reply.header(header::RETRY_AFTER), Some("1"));
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/json"));
    assert_eq!(reply.body, r#"{"error":"server is shutting down"}"#);
    assert_eq!(stats.late(), 1);
    assert_eq!(stats.in_flight(), 0);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_answers_200_until_the_shutdown_then_503() {
    let shutdown = Shutdown::with_drain_delay(Duration::from_secs(10), Duration::from_secs(1));
    let router = app().route_service("/readyz", Readiness::new(shutdown.clone()));
    let server = start(router, &shutdown).await;
    let mut client = Http1::connect(server.address).await;

    let ready = client.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.header(header::CONTENT_TYPE), Some("application/json"));
    assert_eq!(ready.body, r#"{"status":"ready"}"#);

    let triggered = Instant::now();
    shutdown.trigger();
    // Within the lame duck: the server still serves, readiness fails.
    let not_ready = client.get("/readyz").await;
    let answered = triggered.elapsed();
    assert!(
        answered < shutdown.drain_delay(),
        "the check took {answered:?}, longer than the lame duck"
    );
    assert_eq!(not_ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        not_ready.header(header::CONTENT_TYPE),
        Some("application/json")
    );
    assert_eq!(not_ready.body, r#"{"status":"shutting down"}"#);

    let (drained, _) = server.drained(ANSWER).await;
    assert_eq!(drained.late, 0, "{drained:?}");
    assert_eq!(drained.connections_cut, 0, "{drained:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stats_count_requests_in_flight_and_open_connections() {
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let server = start(app(), &shutdown).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(Http1::connect(server.address).await);
    }
    wait_until("3 connections to be accepted", ANSWER, || {
        server.stats.connections() == 3
    })
    .await;
    assert_eq!(server.stats.in_flight(), 0);

    let requests: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let reply = client.get("/sleep/1500").await;
                (client, reply)
            })
        })
        .collect();
    wait_until("3 requests in flight", ANSWER, || {
        server.stats.in_flight() == 3
    })
    .await;
    assert_eq!(server.stats.connections(), 3);

    let mut clients = Vec::new();
    for request in requests {
        let (client, reply) = bounded("a slow response", ANSWER, request).await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "slept");
        assert!(!reply.closes(), "no shutdown yet: {:?}", reply.headers);
        clients.push(client);
    }
    // Counted until the response was sent: done by the time it was received.
    assert_eq!(server.stats.in_flight(), 0);
    assert_eq!(server.stats.connections(), 3, "kept alive");
    assert_eq!(server.stats.late(), 0);

    shutdown.trigger();
    let (drained, _) = server.drained(ANSWER).await;
    assert_eq!(drained.in_flight, 0, "{drained:?}");
    assert_eq!(drained.connections, 3, "{drained:?}");
    assert_eq!(drained.requests_cut, 0, "{drained:?}");
    assert_eq!(drained.connections_cut, 0, "{drained:?}");
    drop(clients);
}

/// The messages of the `debug` events of target `graceful::http` (and of
/// the warnings of target `graceful`), from
/// every thread: `tracing-subscriber`'s fmt subscriber, installed once for
/// this test binary, writing each event's message as a line.
fn http_debug_events() -> &'static std::sync::Mutex<Vec<String>> {
    use std::sync::{Mutex, OnceLock};

    /// Each write is one event: fmt formats an event, then writes it once.
    struct Lines(&'static Mutex<Vec<String>>);
    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let line = String::from_utf8_lossy(bytes);
            self.0.lock().unwrap().push(line.trim_end().to_owned());
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    static EVENTS: OnceLock<&'static Mutex<Vec<String>>> = OnceLock::new();
    EVENTS.get_or_init(|| {
        let events: &'static Mutex<Vec<String>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || Lines(events))
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .without_time()
            .with_level(false)
            .with_target(false)
            .finish();
        let subscriber = tracing_subscriber::layer::SubscriberExt::with(
            subscriber,
            tracing_subscriber::filter::Targets::new()
                .with_target("graceful::http", tracing::Level::DEBUG)
                .with_target("graceful", tracing::Level::WARN),
        );
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
        events
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_ends_with_a_protocol_error_is_logged_at_debug() {
    let events = http_debug_events();
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let server = start(app(), &shutdown).await;
    let mut client = TcpStream::connect(server.address).await.unwrap();
    client.write_all(b"NOT HTTP AT ALL\r\n\r\n").await.unwrap();
    let (received, _, _) = bounded(
        "the server to end the connection",
        ANSWER,
        read_until_closed(client),
    )
    .await;
    eprintln!(
        "a malformed request got {:?}",
        String::from_utf8_lossy(&received)
    );
    wait_until("the debug event", ANSWER, || {
        events
            .lock()
            .unwrap()
            .iter()
            .any(|event| event.starts_with("connection ended with an error: "))
    })
    .await;
    eprintln!("debug events: {:?}", events.lock().unwrap());
    shutdown.trigger();
    server.drained(ANSWER).await;
}

/// Built without the `http2` feature, the server closes an HTTP/2
/// client's connection at its preface (hyper's HTTP/1.1 parser refuses
/// it), and the log says, once, which feature serves it; HTTP/1.1 clients
/// are served as before.
#[cfg(not(feature = "http2"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_http2_feature_an_http2_client_is_closed_and_the_log_says_what_to_enable() {
    let events = http_debug_events();
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let server = start(app(), &shutdown).await;
    let warned = |events: &[String]| {
        events
            .iter()
            .filter(|event| event.contains("enable the `http2` feature of graceful-rt"))
            .count()
    };
    for _ in 0..2 {
        let failed = bounded("the HTTP/2 request to fail", ANSWER, async {
            let stream = TcpStream::connect(server.address).await.unwrap();
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                    .await
                    .expect("the client's side of the handshake needs no answer");
            tokio::spawn(connection);
            let request = http::Request::get(format!("http://{}/", server.address))
                .body(Empty::<Bytes>::new())
                .unwrap();
            sender.send_request(request).await
        })
        .await;
        assert!(
            failed.is_err(),
            "an HTTP/2 request was answered: {failed:?}"
        );
    }
    wait_until("the warning", ANSWER, || {
        warned(&events.lock().unwrap()) > 0
    })
    .await;
    let reply = get_once(server.address, "/").await;
    assert_eq!(
        (reply.status, reply.version),
        (StatusCode::OK, Version::HTTP_11)
    );
    assert_eq!(
        warned(&events.lock().unwrap()),
        1,
        "said once, not for each client"
    );
    shutdown.trigger();
    server.drained(ANSWER).await;
}

/// What `axum::serve` takes, `serve` takes: here a make-service with the
/// client's address, on a listener with `tap_io`. Handlers see the address
/// of the client's socket, and a request in flight at the shutdown is
/// drained as with a plain `Router`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_info_reaches_handlers_and_the_drain_is_the_same() {
    use axum::extract::ConnectInfo;
    use axum::serve::{Listener as _, ListenerExt as _};

    let shutdown = Shutdown::new(Duration::from_secs(10));
    let (tapped_tx, mut tapped) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .tap_io(move |stream| {
            stream.set_nodelay(true).expect("TCP_NODELAY");
            let _ = tapped_tx.send(stream.nodelay().expect("TCP_NODELAY"));
        });
    let address = listener.local_addr().unwrap();
    let router = app().route(
        "/client",
        get(|ConnectInfo(client): ConnectInfo<SocketAddr>| async move { client.to_string() }),
    );
    let serving = serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
        shutdown.clone(),
    );
    let stats = serving.stats();
    let task = tokio::spawn(serving.into_future());

    let stream = TcpStream::connect(address).await.unwrap();
    let client = stream.local_addr().unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut http = Http1 { sender };
    let reply = http.get("/client").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, client.to_string(), "the client's own address");
    assert_eq!(tapped.recv().await, Some(true), "tap_io ran on the stream");

    let slow = tokio::spawn(async move { http.get("/sleep/300").await });
    wait_until("the slow request to be in flight", ANSWER, || {
        stats.in_flight() == 1
    })
    .await;
    shutdown.trigger();
    let reply = bounded("the in-flight response", ANSWER, slow)
        .await
        .unwrap();
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body, "slept");
    assert!(reply.closes(), "told to reconnect: {:?}", reply.headers);
    let drained = bounded("serve to resolve", ANSWER, task)
        .await
        .unwrap()
        .expect("serve failed");
    assert_eq!(drained.in_flight, 1, "{drained:?}");
    assert_eq!(drained.requests_cut, 0, "{drained:?}");
}

/// A `MethodRouter` and `into_make_service()` of any tower service are
/// served as they are by `axum::serve`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_method_router_and_a_make_service_are_served() {
    use axum::ServiceExt as _;

    let shutdown = Shutdown::new(Duration::from_secs(10));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let first = listener.local_addr().unwrap();
    let method_router = tokio::spawn(
        serve(
            listener,
            get(|| async { "method router" }),
            shutdown.clone(),
        )
        .into_future(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let second = listener.local_addr().unwrap();
    // A tower service that is not a `Router`.
    let service = app().into_service::<hyper::body::Incoming>();
    let made =
        tokio::spawn(serve(listener, service.into_make_service(), shutdown.clone()).into_future());

    assert_eq!(get_once(first, "/").await.body, "method router");
    assert_eq!(get_once(second, "/").await.body, "hello");
    shutdown.trigger();
    for task in [method_router, made] {
        let drained = bounded("serve to resolve", ANSWER, task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(drained.connections_cut, 0, "{drained:?}");
    }
}

/// The keep-alive hold: an idle connection's next request, sent well into
/// the drain (past `IDLE_GRACE`, within the hold), is answered with
/// `Connection: close`; without a hold, the connection is closed by then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_connection_is_held_for_its_next_request_during_the_drain() {
    for hold in [KEEP_ALIVE_HOLD, Duration::ZERO] {
        let shutdown = Shutdown::new(Duration::from_secs(10));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let serving = serve(listener, app(), shutdown.clone()).keep_alive_hold(hold);
        let stats = serving.stats();
        let task = tokio::spawn(serving.into_future());
        let mut client = Http1::connect(address).await;
        let first = client.get("/").await;
        assert!(!first.closes(), "kept alive before the shutdown");
        wait_until("the connection to be idle", ANSWER, || {
            stats.in_flight() == 0
        })
        .await;
        tokio::time::sleep(IDLE_GRACE * 2).await;

        let began = Instant::now();
        shutdown.trigger();
        // Well into the drain: past the grace of a recently used
        // connection, within the hold.
        tokio::time::sleep(KEEP_ALIVE_HOLD / 2).await;
        let next = client.try_get("/").await;
        if hold.is_zero() {
            assert!(
                next.is_err(),
                "no hold: the connection was closed: {next:?}"
            );
        } else {
            let reply = next.expect("held: the next request is answered");
            assert_eq!(reply.status, StatusCode::OK);
            assert!(reply.closes(), "{:?}", reply.headers);
        }
        let drained = bounded("serve to resolve", ANSWER, task)
            .await
            .unwrap()
            .expect("serve failed");
        let took = began.elapsed();
        assert_eq!(drained.late, usize::from(!hold.is_zero()), "{drained:?}");
        assert!(
            took < KEEP_ALIVE_HOLD + PROMPT,
            "hold {hold:?}: drained in {took:?}"
        );
    }
}

/// `Serve::idle_grace`: a connection used just before the drain, whose
/// next request comes well past the default grace (100 ms), is closed by
/// then with the default and answered with a longer grace (no hold either
/// way).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_idle_grace_answers_the_next_request_of_a_recently_used_connection() {
    let longer = Duration::from_millis(800);
    for grace in [None, Some(longer)] {
        let shutdown = Shutdown::new(Duration::from_secs(10));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut serving = serve(listener, app(), shutdown.clone()).keep_alive_hold(Duration::ZERO);
        if let Some(grace) = grace {
            serving = serving.idle_grace(grace);
        }
        let stats = serving.stats();
        let task = tokio::spawn(serving.into_future());
        let mut client = Http1::connect(address).await;
        let first = client.get("/").await;
        assert!(!first.closes(), "kept alive before the shutdown");
        wait_until("the connection to be idle", ANSWER, || {
            stats.in_flight() == 0
        })
        .await;

        // Used just now: within any grace.
        let began = Instant::now();
        shutdown.trigger();
        tokio::time::sleep(IDLE_GRACE * 3).await;
        let next = client.try_get("/").await;
        match grace {
            None => assert!(
                next.is_err(),
                "closed once quiet for the default grace: {next:?}"
            ),
            Some(_) => {
                let reply = next.expect("within the grace: the next request is answered");
                assert_eq!(reply.status, StatusCode::OK);
                assert!(reply.closes(), "{:?}", reply.headers);
            }
        }
        let drained = bounded("serve to resolve", ANSWER, task)
            .await
            .unwrap()
            .expect("serve failed");
        let took = began.elapsed();
        eprintln!("idle grace {grace:?}: drained in {took:?}, {drained:?}");
        assert_eq!(drained.late, usize::from(grace.is_some()), "{drained:?}");
        assert_eq!(drained.unresponsive, 0, "{drained:?}");
        assert!(
            took < grace.unwrap_or(IDLE_GRACE) + PROMPT,
            "grace {grace:?}: drained in {took:?}"
        );
    }
}

/// `Serve::client_bound`: half a request head, sent before the shutdown,
/// is closed without a response once the bound has passed, well before
/// the default bound (1 s), and counted as unresponsive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_client_bound_closes_a_half_sent_request_head_sooner() {
    let bound = Duration::from_millis(200);
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = serve(listener, app(), shutdown.clone()).client_bound(bound);
    let stats = serving.stats();
    let task = tokio::spawn(serving.into_future());
    let mut client = TcpStream::connect(address).await.unwrap();
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nx-slow: ")
        .await
        .unwrap();
    wait_until("the connection to be accepted", ANSWER, || {
        stats.connections() == 1
    })
    .await;
    // The server has read the half head.
    tokio::time::sleep(IDLE_GRACE * 2).await;

    let began = Instant::now();
    shutdown.trigger();
    let (received, end, closed) = bounded(
        "the half head to be closed",
        ANSWER,
        read_until_closed(client),
    )
    .await;
    let after = closed.saturating_duration_since(began);
    eprintln!("client bound {bound:?}: closed {after:?} after the shutdown, {end:?}");
    assert!(
        received.is_empty(),
        "no response to half a head: {:?}",
        String::from_utf8_lossy(&received)
    );
    assert!(closed_by_peer(&end), "{end:?}");
    assert!(after >= bound, "closed {after:?} after the shutdown");
    assert!(
        after < bound + PROMPT,
        "closed {after:?} after the shutdown, the bound is {bound:?}"
    );
    let drained = bounded("serve to resolve", ANSWER, task)
        .await
        .unwrap()
        .expect("serve failed");
    assert_eq!(drained.unresponsive, 1, "{drained:?}");
    assert_eq!(drained.connections_cut, 0, "{drained:?}");
}

/// A gRPC method that answers after a minute: `POST /worker.Worker/Slow`.
#[cfg(feature = "http2")]
fn slow_call() -> Router {
    Router::new().route(
        "/worker.Worker/Slow",
        axum::routing::post(|| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            "never"
        }),
    )
}

/// `Serve::call_end_lead`: a gRPC call still running is ended with
/// `grpc-status: 14` the lead before the drain deadline, not the default
/// 50 ms; with no lead, it is not ended but cut at the deadline.
#[cfg(feature = "http2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_end_lead_sets_when_grpc_calls_are_ended_and_zero_ends_none() {
    let lead = Duration::from_millis(700);
    for lead in [lead, Duration::ZERO] {
        let shutdown = Shutdown::new(Duration::from_secs(2));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let serving = serve(listener, slow_call(), shutdown.clone()).call_end_lead(lead);
        let stats = serving.stats();
        let task = tokio::spawn(serving.into_future());
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
                .await
                .expect("HTTP/2 handshake");
        tokio::spawn(connection);
        let request = http::Request::post(format!("http://{address}/worker.Worker/Slow"))
            .header(header::CONTENT_TYPE, "application/grpc")
            .header("te", "trailers")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request);
        let response = tokio::spawn(async move {
            let reply = match response.await {
                Ok(response) => read_reply(response).await,
                Err(error) => Err(error),
            };
            (reply, Instant::now())
        });
        wait_until("the call to be in flight", ANSWER, || {
            stats.in_flight() == 1
        })
        .await;

        shutdown.trigger();
        let drain_deadline = shutdown.drain_deadline().unwrap();
        let (reply, at) = bounded("the call to end", ANSWER, response).await.unwrap();
        let drained = bounded("serve to resolve", ANSWER, task)
            .await
            .unwrap()
            .expect("serve failed");
        eprintln!(
            "lead {lead:?}: the call ended {:?} before the drain deadline ({reply:?}); {drained:?}",
            drain_deadline.saturating_duration_since(at)
        );
        assert_eq!(drained.requests_cut, 1, "{drained:?}");
        if lead.is_zero() {
            assert!(reply.is_err(), "cut, not answered: {reply:?}");
            assert!(at >= drain_deadline, "cut before the drain deadline");
            assert_eq!(drained.calls_ended, 0, "{drained:?}");
            assert_eq!(drained.connections_cut, 1, "{drained:?}");
        } else {
            let reply = reply.expect("a trailers-only answer");
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(
                reply.header(header::HeaderName::from_static("grpc-status")),
                Some("14")
            );
            let ended_at = drain_deadline - lead;
            assert!(at >= ended_at, "ended before the lead");
            assert!(
                at < ended_at + PROMPT,
                "ended {:?} after the lead began",
                at - ended_at
            );
            assert_eq!(drained.calls_ended, 1, "{drained:?}");
            assert_eq!(drained.connections_cut, 0, "{drained:?}");
        }
    }
}

/// Settings as large as a `Duration` goes mean "no limit", as everywhere
/// in the crate: a connection is served and drained, on HTTP/1.1 and
/// (feature `http2`) HTTP/2, without an overflow panic in the accept loop or a connection's
/// task (`Instant + Duration::MAX` panics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_as_large_as_a_duration_goes_are_no_limit() {
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let serving = serve(listener, app(), shutdown.clone())
        .max_connection_age(Duration::MAX)
        .max_connection_age_grace(Duration::MAX)
        .client_bound(Duration::MAX)
        .keep_alive_hold(Duration::MAX)
        .idle_grace(Duration::MAX);
    let stats = serving.stats();
    let task = tokio::spawn(serving.into_future());
    assert_eq!(get_once(address, "/").await.status, 200);
    #[cfg(feature = "http2")]
    let http2 = bounded("an HTTP/2 request", ANSWER, async {
        let stream = TcpStream::connect(address).await.unwrap();
        let (mut sender, connection) = hyper::client::conn::http2::handshake(
            hyper_util::rt::TokioExecutor::new(),
            hyper_util::rt::TokioIo::new(stream),
        )
        .await
        .unwrap();
        tokio::spawn(connection);
        let request = http::Request::get(format!("http://{address}/"))
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .unwrap();
        sender.send_request(request).await.unwrap().status()
    })
    .await;
    #[cfg(feature = "http2")]
    assert_eq!(http2, 200);
    shutdown.trigger();
    let drained = bounded("serve to resolve", ANSWER + Duration::from_secs(2), task)
        .await
        .expect("the serve task did not panic")
        .expect("serve failed");
    assert_eq!(stats.connections(), 0, "{drained:?}");
    assert_eq!(drained.connections_cut, 0, "{drained:?}");
}

/// A 4 MB response to a client that reads slowly (a small receive
/// buffer) arrives whole across the drain, with a pipelined request sent
/// behind it that a draining connection does not read. Closing a TCP
/// socket with bytes unread resets it and throws away what it had still
/// to send: hyper reads those bytes before it closes, and this holds it
/// to that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_is_not_lost_to_the_reset_of_a_close_with_unread_bytes() {
    const SIZE: usize = 4 << 20;
    let router = Router::new().route("/big", get(|| async { vec![b'x'; SIZE] }));
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let server = start(router, &shutdown).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut client = socket.connect(server.address).await.unwrap();
    wait_until("the connection to be accepted", ANSWER, || {
        server.stats.connections() == 1
    })
    .await;
    // Draining: the response will say `Connection: close`, and the
    // connection reads nothing after its request.
    shutdown.trigger();
    client
        .write_all(b"GET /big HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut received = vec![0u8; 64 * 1024];
    let first = bounded("the response to begin", ANSWER, client.read(&mut received))
        .await
        .unwrap();
    assert!(first > 0, "no response");
    // Bytes the server will not read: the next request, pipelined.
    client
        .write_all(b"GET / HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    // hyper hands the rest of the body to the socket, and is done.
    wait_until("the response to be produced", ANSWER, || {
        server.stats.in_flight() == 0
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut total = first;
    let end = loop {
        match bounded(
            "the rest of the response",
            ANSWER,
            client.read(&mut received),
        )
        .await
        {
            Ok(0) => break Ok(()),
            Ok(read) => total += read,
            Err(error) => break Err(error),
        }
    };
    let head = total - SIZE.min(total);
    eprintln!("received {total} bytes, then {end:?}");
    assert!(
        end.is_ok(),
        "the connection was reset after {total} bytes: {end:?}"
    );
    assert!(
        total > SIZE && head < 1024,
        "received {total} bytes of a {SIZE}-byte body"
    );
    server.drained(ANSWER).await;
}

/// The same on HTTP/2, whose client keeps sending (WINDOW_UPDATE frames as
/// it reads) until it has the whole response, while the drain's GOAWAY
/// closes the connection after its last stream.
#[cfg(feature = "http2")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_response_is_not_lost_to_the_reset_of_a_close_with_unread_bytes() {
    const SIZE: usize = 4 << 20;
    let router = Router::new().route("/big", get(|| async { vec![b'x'; SIZE] }));
    let shutdown = Shutdown::new(Duration::from_secs(10));
    let server = start(router, &shutdown).await;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(server.address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(1 << 20)
        .initial_connection_window_size(1 << 20)
        .handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::get(format!("http://{}/big", server.address))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = bounded(
        "the response to begin",
        ANSWER,
        sender.send_request(request),
    )
    .await
    .unwrap();
    shutdown.trigger();
    let mut body = response.into_body();
    let mut total = 0;
    let end = loop {
        // A slow reader.
        tokio::time::sleep(Duration::from_millis(1)).await;
        match bounded("the next frame", ANSWER, body.frame()).await {
            None => break Ok(()),
            Some(Ok(frame)) => total += frame.data_ref().map_or(0, |data| data.len()),
            Some(Err(error)) => break Err(error),
        }
    };
    eprintln!("received {total} bytes, then {end:?}");
    assert!(
        end.is_ok(),
        "the stream failed after {total} bytes: {end:?}"
    );
    assert_eq!(total, SIZE);
    drop(sender);
    let _ = bounded("the client's connection to end", ANSWER, connection).await;
    server.drained(ANSWER).await;
}
