//! HTTPS draining, through the TLS example (examples/tls.rs) with a real
//! SIGTERM and a client that trusts the test's own certificate: requests in
//! flight finish on HTTP/1.1 and HTTP/2; an idle keep-alive connection is
//! closed with TLS `close_notify`, then FIN, at once; a handshake in
//! progress neither holds up other clients nor the drain. Bounds are loose
//! enough for a loaded 2-core machine.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::{TokioExecutor, TokioIo};
use support::{Process, Signal};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, ClientConnection, RootCertStore};

/// graceful-rt's defaults, which the example serves with:
/// `Serve::client_bound`, `Serve::idle_grace` and `Serve::keep_alive_hold`.
const CLIENT_BOUND: Duration = Duration::from_secs(1);
const IDLE_GRACE: Duration = Duration::from_millis(100);
const KEEP_ALIVE_HOLD: Duration = Duration::from_millis(500);
/// "At once", on a loaded machine: well under [`CLIENT_BOUND`], so a
/// connection held until the bound shows.
const PROMPT: Duration = Duration::from_millis(500);
/// How long a client waits for any answer before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);
/// How long the process may take to exit before the test calls it hung.
const EXIT_BOUND: Duration = Duration::from_secs(15);
/// The shutdown budget: far beyond what any test expects, so that a
/// connection held until the drain deadline shows.
const TIMEOUT: &str = "10s";

/// The example, serving the test's certificate.
struct Server {
    process: Process,
    address: SocketAddr,
    /// The certificate, the client's only root.
    root: CertificateDer<'static>,
    report: PathBuf,
}

fn start(test: &str) -> Server {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tls-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, signing_key.serialize_pem()).unwrap();
    let report = support::report_path(&format!("tls-{test}"));
    let (process, address) = support::start_listening(
        "tls",
        &[
            ("CERT_PATH", cert_path.to_str().unwrap()),
            ("KEY_PATH", key_path.to_str().unwrap()),
            ("GRACEFUL_TIMEOUT", TIMEOUT),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    Server {
        process,
        address,
        root: cert.der().clone(),
        report,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A client configuration that trusts only `root` and offers `alpn`.
fn client_config(root: &CertificateDer<'static>, alpn: &[u8]) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(config)
}

fn localhost() -> ServerName<'static> {
    ServerName::try_from("localhost").unwrap()
}

/// Connects and completes the handshake, offering `alpn` only; checks the
/// server chose it.
async fn connect(server: &Server, alpn: &[u8]) -> TlsStream<TcpStream> {
    let connector = TlsConnector::from(client_config(&server.root, alpn));
    let handshake = async {
        let tcp = TcpStream::connect(server.address).await?;
        connector.connect(localhost(), tcp).await
    };
    let tls = tokio::time::timeout(ANSWER, handshake)
        .await
        .unwrap_or_else(|_| panic!("no TLS handshake within {ANSWER:?}"))
        .unwrap_or_else(|error| panic!("TLS handshake failed: {error}"));
    assert_eq!(
        tls.get_ref().1.alpn_protocol(),
        Some(alpn),
        "the server did not choose the only protocol offered"
    );
    tls
}

/// An HTTP client connection of either protocol (hyper's), its connection
/// driven by a task of its own.
enum Client {
    Http1(hyper::client::conn::http1::SendRequest<Empty<Bytes>>),
    Http2(hyper::client::conn::http2::SendRequest<Empty<Bytes>>),
}

/// A response, read in full.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    version: Version,
    /// The values of its `Connection` headers.
    connection: Vec<String>,
    body: String,
}

impl Client {
    async fn http1(server: &Server) -> Client {
        let io = TokioIo::new(connect(server, b"http/1.1").await);
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("HTTP/1.1 handshake");
        tokio::spawn(connection);
        Client::Http1(sender)
    }

    async fn http2(server: &Server) -> Client {
        let io = TokioIo::new(connect(server, b"h2").await);
        let (sender, connection) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
            .await
            .expect("HTTP/2 handshake");
        tokio::spawn(connection);
        Client::Http2(sender)
    }

    /// `GET path`, answered in full within [`ANSWER`], or why not.
    async fn get(mut self, path: &str) -> Result<Answer, String> {
        let request = Request::get(format!("https://localhost{path}"))
            .header("host", "localhost")
            .body(Empty::new())
            .unwrap();
        let exchange = async {
            let response = match &mut self {
                Client::Http1(sender) => {
                    // The origin form, as HTTP/1.1 clients send it.
                    let (mut parts, body) = request.into_parts();
                    parts.uri = path.parse().unwrap();
                    sender.send_request(Request::from_parts(parts, body)).await
                }
                Client::Http2(sender) => {
                    // HTTP/2 takes the scheme and authority from the URI.
                    let (mut parts, body) = request.into_parts();
                    parts.headers.remove("host");
                    sender.send_request(Request::from_parts(parts, body)).await
                }
            }
            .map_err(|error| format!("no response: {error}"))?;
            let status = response.status();
            let version = response.version();
            let connection = response
                .headers()
                .get_all("connection")
                .iter()
                .map(|value| value.to_str().unwrap_or("?").to_owned())
                .collect();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|error| format!("the body was cut: {error}"))?
                .to_bytes();
            Ok(Answer {
                status,
                version,
                connection,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        };
        tokio::time::timeout(ANSWER, exchange)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {ANSWER:?}")))
    }
}

#[test]
fn in_flight_https_requests_finish_across_sigterm_on_http1_and_http2() {
    let server = start("inflight");
    let (http1, http2, sent) = runtime().block_on(async {
        let http1 = Client::http1(&server).await;
        let http2 = Client::http2(&server).await;
        let http1 = tokio::spawn(http1.get("/slow?ms=800"));
        let http2 = tokio::spawn(http2.get("/slow?ms=800"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = server.process.signal(Signal::SIGTERM);
        (http1.await.unwrap(), http2.await.unwrap(), sent)
    });
    let exit = server.process.wait_exit(EXIT_BOUND);
    eprintln!(
        "inflight: HTTP/1.1 {http1:?}, HTTP/2 {http2:?}, exit {:?} after {:?}",
        exit.code(),
        exit.at - sent
    );
    let http1 = http1.unwrap_or_else(|error| panic!("the HTTP/1.1 request was lost: {error}"));
    let http2 = http2.unwrap_or_else(|error| panic!("the HTTP/2 request was lost: {error}"));
    for (answer, version) in [(&http1, Version::HTTP_11), (&http2, Version::HTTP_2)] {
        assert_eq!(answer.version, version, "{answer:?}");
        assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
        assert_eq!(answer.body, "slept 800 ms\n", "{answer:?}");
    }
    assert_eq!(http1.connection, ["close"], "{http1:?}");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert_eq!(
        exit.stderr_lines("draining: stopped accepting; 2 requests in flight on 2 connections")
            .len(),
        1,
        "both requests were not in flight when draining began:\n{}",
        exit.stderr_text()
    );
    let report = support::read_report(&server.report);
    assert_eq!(report["drain"]["requests_cut"], 0, "{report}");
}

/// Reads one HTTP/1.1 response whose body has a `content-length`; returns
/// its head and body.
async fn read_response(tls: &mut TlsStream<TcpStream>) -> (String, String) {
    let mut buffer = Vec::new();
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&buffer).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length = head
                    .lines()
                    .filter_map(|line| line.split_once(':'))
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
                    .and_then(|(_, value)| value.trim().parse::<usize>().ok())
                    .unwrap_or_else(|| panic!("no content-length in {head:?}"));
                if body.len() >= length {
                    return (head.to_owned(), body.to_owned());
                }
            }
            let mut chunk = [0u8; 4096];
            match tls.read(&mut chunk).await {
                Ok(0) => panic!("closed before the response was complete: {text:?}"),
                Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                Err(error) => panic!("reading the response: {error}"),
            }
        }
    };
    tokio::time::timeout(ANSWER, read)
        .await
        .unwrap_or_else(|_| panic!("no response within {ANSWER:?}"))
}

/// Waits for `tls` to end with a TLS close_notify, then a TCP FIN; returns
/// when the close_notify arrived.
async fn close_notify_then_fin(what: &str, mut tls: TlsStream<TcpStream>) -> Instant {
    // rustls reads Ok(0) only after close_notify; a bare FIN is an
    // UnexpectedEof error.
    let mut byte = [0u8; 1];
    match tokio::time::timeout(ANSWER, tls.read(&mut byte)).await {
        Ok(Ok(0)) => {}
        Ok(Ok(_)) => panic!("{what}: unexpected bytes on the idle connection: {byte:?}"),
        Ok(Err(error)) => panic!(
            "{what}: the connection did not end with close_notify ({:?}): {error}",
            error.kind()
        ),
        Err(_) => panic!("{what}: the idle connection was not closed within {ANSWER:?}"),
    }
    let notified = Instant::now();
    let (mut tcp, _) = tls.into_inner();
    match tokio::time::timeout(ANSWER, tcp.read(&mut byte)).await {
        Ok(Ok(0)) => {}
        other => panic!("{what}: no FIN after close_notify: {other:?}"),
    }
    notified
}

/// Idle TLS connections, the one kept alive after a request and the one
/// that never sent any, are closed once the keep-alive hold ends (they are
/// held for a next request until then), each with a close_notify and then
/// a FIN: a clean close for the client, never an unexpected EOF.
#[test]
fn idle_tls_connections_get_close_notify_then_fin_when_the_hold_ends() {
    let server = start("idle");
    let sent = runtime().block_on(async {
        let mut used = connect(&server, b"http/1.1").await;
        used.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = read_response(&mut used).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            !head.to_ascii_lowercase().contains("connection: close"),
            "closed before the shutdown: {head}"
        );
        assert_eq!(body, "hello from graceful over TLS\n");
        let fresh = connect(&server, b"http/1.1").await;
        let sent = server.process.signal(Signal::SIGTERM);
        let (used, fresh) = tokio::join!(
            close_notify_then_fin("kept alive", used),
            close_notify_then_fin("never used", fresh)
        );
        for (what, closed) in [("kept alive", used), ("never used", fresh)] {
            let after = closed - sent;
            eprintln!("{what}: close_notify {after:?} after SIGTERM");
            assert!(
                (KEEP_ALIVE_HOLD..KEEP_ALIVE_HOLD + PROMPT).contains(&after),
                "{what}: closed {after:?} after SIGTERM, not when the hold ({KEEP_ALIVE_HOLD:?}) ended"
            );
        }
        sent
    });
    let exit = server.process.wait_exit(EXIT_BOUND);
    let latency = exit.at - sent;
    eprintln!("idle: exit {:?} after {latency:?}", exit.code());
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(latency < KEEP_ALIVE_HOLD + PROMPT, "exit took {latency:?}");
    let report = support::read_report(&server.report);
    assert_eq!(report["drain"]["unresponsive"], 0, "{report}");
    assert_eq!(report["drain"]["connections_cut"], 0, "{report}");
}

/// The first flight of a real TLS client: its ClientHello.
fn client_hello(root: &CertificateDer<'static>) -> Vec<u8> {
    let mut client = ClientConnection::new(client_config(root, b"h2"), localhost()).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    hello
}

/// Waits until the server closes `stream`: how it closed it, or `Err` when
/// it did not within `bound`.
fn wait_closed(stream: &mut std::net::TcpStream, bound: Duration) -> Result<&'static str, String> {
    stream.set_read_timeout(Some(bound)).unwrap();
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok("FIN"),
            Ok(read) => return Err(format!("{read} unexpected bytes")),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => return Ok("reset"),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Err(format!("not closed within {bound:?}"));
            }
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) => return Err(error.to_string()),
        }
    }
}

#[test]
fn a_handshake_in_progress_holds_up_neither_other_clients_nor_the_drain() {
    let mut server = start("handshake");
    // One client that connects and says nothing, one that stops halfway
    // through its ClientHello.
    let mut silent = std::net::TcpStream::connect(server.address).unwrap();
    let mut halfway = std::net::TcpStream::connect(server.address).unwrap();
    let hello = client_hello(&server.root);
    halfway.write_all(&hello[..hello.len() / 2]).unwrap();
    // Others are served meanwhile: the handshakes wait on their own tasks.
    let answer = runtime().block_on(async {
        let began = Instant::now();
        let answer = Client::http1(&server).await.get("/").await;
        (answer, began.elapsed())
    });
    eprintln!("handshake: a client served beside them: {answer:?}");
    let (answer, took) = (answer.0.expect("a request beside the handshakes"), answer.1);
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert!(
        took < Duration::from_secs(2),
        "a request beside the stalled handshakes took {took:?}"
    );
    let sent = server.process.signal(Signal::SIGTERM);
    server
        .process
        .wait_for_stderr("draining: stopped accepting", ANSWER);
    let bound = CLIENT_BOUND + PROMPT;
    for (what, stream) in [("silent", &mut silent), ("halfway", &mut halfway)] {
        let closed = wait_closed(stream, ANSWER)
            .unwrap_or_else(|error| panic!("the {what} handshake's connection: {error}"));
        let after = sent.elapsed();
        eprintln!("handshake: the {what} connection closed by {closed} {after:?} after SIGTERM");
        assert!(
            after < bound,
            "the {what} handshake's connection was closed {after:?} after SIGTERM"
        );
    }
    let exit = server.process.wait_exit(EXIT_BOUND);
    let latency = exit.at - sent;
    eprintln!("handshake: exit {:?} after {latency:?}", exit.code());
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        latency < bound,
        "exit took {latency:?} (CLIENT_BOUND is {CLIENT_BOUND:?}, the budget {TIMEOUT}): a handshake held the drain"
    );
    let report = support::read_report(&server.report);
    assert_eq!(report["drain"]["connections_cut"], 0, "{report}");
    assert_eq!(report["drain"]["requests_cut"], 0, "{report}");
}

/// A handshake that is progressing when draining begins is not an idle
/// connection: its bytes reach the server below TLS, where hyper sees
/// nothing, and they count as activity. Here the client's ClientHello
/// trickles in (a piece every 30 ms, as over a slow link) across SIGTERM,
/// long after the connection was accepted; the handshake then completes
/// and the request it carries is served. (Closed as idle 100 ms after its
/// accept, as a connection that has sent hyper nothing would be, its
/// request would be lost.)
#[test]
fn a_handshake_progressing_across_sigterm_is_completed_and_its_request_served() {
    const PIECES: usize = 10;
    const PACE: Duration = Duration::from_millis(30);
    let server = start("slow-handshake");
    let mut client =
        ClientConnection::new(client_config(&server.root, b"http/1.1"), localhost()).unwrap();
    let mut hello = Vec::new();
    client.write_tls(&mut hello).unwrap();
    let mut tcp = std::net::TcpStream::connect(server.address).unwrap();
    tcp.set_nodelay(true).unwrap();
    let accepted = Instant::now();
    let mut sent = None;
    for (index, piece) in hello.chunks(hello.len().div_ceil(PIECES)).enumerate() {
        std::thread::sleep(PACE);
        tcp.write_all(piece).unwrap();
        // Well past the grace of a fresh connection: the drain begins in
        // the midst of the handshake.
        if index == 4 {
            sent = Some(server.process.signal(Signal::SIGTERM));
        }
    }
    let sent = sent.expect("signalled");
    tcp.set_read_timeout(Some(ANSWER)).unwrap();
    let mut tls = tokio_rustls::rustls::Stream::new(&mut client, &mut tcp);
    tls.write_all(b"GET / HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .expect("the handshake completes");
    let mut response = Vec::new();
    let read = tls.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).into_owned();
    let exit = server.process.wait_exit(EXIT_BOUND);
    eprintln!(
        "slow handshake: SIGTERM {:?} after the accept; {read:?}, {:?}; exit {:?} after {:?}",
        sent - accepted,
        text.lines().next(),
        exit.code(),
        exit.at - sent
    );
    assert!(sent - accepted > IDLE_GRACE, "signalled too early to tell");
    assert!(text.starts_with("HTTP/1.1 200"), "{read:?}: {text:?}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let report = support::read_report(&server.report);
    assert_eq!(report["drain"]["requests_cut"], 0, "{report}");
    assert_eq!(report["drain"]["late"], 1, "{report}");
}
