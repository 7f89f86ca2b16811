//! HTTPS with rustls, drained like plain HTTP: a TLS listener of your own
//! for `graceful_rt::http::serve`.
//!
//! ```sh
//! cargo run --example tls              # then press Ctrl-C, or: kill -TERM <pid>
//! curl -k https://localhost:3443/
//! curl -k 'https://localhost:3443/slow?ms=3000' &   # finishes during the drain
//! ```
//!
//! | route | |
//! |---|---|
//! | `GET /` | 200 |
//! | `GET /slow?ms=N` | 200 after N ms (default 1000) |
//!
//! `PORT` sets the port (default 3443, on 127.0.0.1). `CERT_PATH` and
//! `KEY_PATH` name PEM files: the certificate chain and its private key;
//! without them, a self-signed certificate for `localhost` and `127.0.0.1`
//! is made at start (hence `curl -k`). ALPN offers `h2` and `http/1.1`.
//! `GRACEFUL_TIMEOUT` sets the shutdown budget. It prints
//! `listening on ADDR` when it accepts.
//!
//! # The handshake runs on the connection's task, not in `accept`
//!
//! [`TlsListener::accept`] returns as soon as TCP has accepted a
//! connection; the TLS handshake runs on the first read or write of its IO
//! ([`TlsConnection`]), on the task `serve` gives each connection.
//! Handshaking inside `accept` would look simpler, but:
//!
//! - `serve` accepts one connection at a time: a client that sends its
//!   ClientHello slowly, or never, would hold up every other client for as
//!   long as the handshake timeout.
//! - When draining begins, `serve` stops accepting by dropping the pending
//!   `accept`, then takes the connections already queued in the backlog
//!   with accepts that must complete at once: a handshake in progress would
//!   be dropped with its connection, and queued connections would be reset
//!   rather than served.
//!
//! On the connection's task, a handshake in progress when draining begins
//! is drained like a client that has sent nothing yet: a connection
//! accepted within the idle grace (`Serve::idle_grace`) gets the rest of
//! that grace, an older one is closed at once (with a FIN), and none is
//! held past the client bound (`Serve::client_bound`). Its client had not
//! sent a request yet, so it loses none, as long as it does not send one
//! in the instant of the close; behind a load balancer, the lame duck
//! (`drain_delay`) keeps new connections away before draining begins. Once the
//! handshake is done, hyper closes a connection gracefully (after its last
//! response, or at once when it is an idle keep-alive) through
//! `poll_shutdown`, which sends TLS `close_notify` before the TCP FIN: the
//! client can tell a clean close from a truncated one.

use std::error::Error;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::Router;
use axum::extract::Query;
use axum::routing::get;
use graceful_rt::{Shutdown, graceful_main};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::server::TlsStream;
use tokio_rustls::{Accept, TlsAcceptor};

/// How long a client has to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Deserialize)]
struct SlowParams {
    ms: Option<u64>,
}

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<(), Box<dyn Error + Send + Sync>> {
    let app = Router::new()
        .route("/", get(|| async { "hello from graceful over TLS\n" }))
        .route(
            "/slow",
            get(|Query(params): Query<SlowParams>| async move {
                let ms = params.ms.unwrap_or(1000);
                tokio::time::sleep(Duration::from_millis(ms)).await;
                format!("slept {ms} ms\n")
            }),
        );

    let acceptor = TlsAcceptor::from(Arc::new(tls_config()?));
    let port: u16 = std::env::var("PORT").map_or(Ok(3443), |port| port.parse())?;
    let tcp = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on {}", tcp.local_addr()?);
    shutdown.ready();
    graceful_rt::http::serve(TlsListener { tcp, acceptor }, app, shutdown).await?;
    Ok(())
}

/// The server's TLS configuration: the certificate of `CERT_PATH` and
/// `KEY_PATH`, or a self-signed one; ALPN for HTTP/2 and HTTP/1.1.
fn tls_config() -> Result<ServerConfig, Box<dyn Error + Send + Sync>> {
    let (chain, key) = match (std::env::var_os("CERT_PATH"), std::env::var_os("KEY_PATH")) {
        (Some(cert_path), Some(key_path)) => (
            CertificateDer::pem_file_iter(cert_path)?.collect::<Result<Vec<_>, _>>()?,
            PrivateKeyDer::from_pem_file(key_path)?,
        ),
        (None, None) => {
            eprintln!("no CERT_PATH and KEY_PATH: using a self-signed certificate for localhost");
            self_signed()?
        }
        _ => return Err("set both CERT_PATH and KEY_PATH, or neither".into()),
    };
    // ring, explicitly: no process-wide default provider to install.
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A certificate for `localhost` and `127.0.0.1`, signed by its own key.
fn self_signed() -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), rcgen::Error> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names)?;
    let key = PrivatePkcs8KeyDer::from(signing_key.serialize_der());
    Ok((vec![cert.der().clone()], key.into()))
}

/// Accepts TCP connections and hands them over at once; the handshake
/// happens later, on the connection's own task (see [`TlsConnection`]).
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsConnection;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TlsConnection, SocketAddr) {
        // `TcpListener`'s own `Listener` impl retries accept errors.
        let (tcp, remote) = axum::serve::Listener::accept(&mut self.tcp).await;
        // `serve` sets it on the TCP streams it sees; this one it does not.
        let _ = tcp.set_nodelay(true);
        let connection = TlsConnection::Handshaking {
            accept: self.acceptor.accept(tcp),
            timeout: Box::pin(tokio::time::sleep(HANDSHAKE_TIMEOUT)),
        };
        (connection, remote)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

/// A server-side TLS connection whose handshake runs on its first read,
/// write or flush.
enum TlsConnection {
    Handshaking {
        accept: Accept<TcpStream>,
        timeout: Pin<Box<Sleep>>,
    },
    Established(TlsStream<TcpStream>),
    /// The handshake failed or timed out; the TCP connection is closed.
    Failed,
}

impl TlsConnection {
    /// Completes the handshake if it is still running, then lends the TLS
    /// stream.
    fn poll_established(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&mut TlsStream<TcpStream>>> {
        if let TlsConnection::Handshaking { accept, timeout } = self {
            let handshake = match Pin::new(accept).poll(cx) {
                Poll::Ready(handshake) => handshake,
                Poll::Pending => {
                    ready!(timeout.as_mut().poll(cx));
                    Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "TLS handshake timed out",
                    ))
                }
            };
            match handshake {
                Ok(stream) => *self = TlsConnection::Established(stream),
                Err(error) => {
                    // Drops the TCP stream: the connection is closed.
                    *self = TlsConnection::Failed;
                    return Poll::Ready(Err(error));
                }
            }
        }
        match self {
            TlsConnection::Established(stream) => Poll::Ready(Ok(stream)),
            // Failed: the handshake's own error was returned before.
            _ => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "TLS handshake failed",
            ))),
        }
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_established(cx))?;
        Pin::new(stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_established(cx))?;
        Pin::new(stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = ready!(self.get_mut().poll_established(cx))?;
        Pin::new(stream).poll_write_vectored(cx, data)
    }

    /// As the TLS stream's: hyper asks before the handshake is done.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let stream = ready!(self.get_mut().poll_established(cx))?;
        Pin::new(stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            // close_notify, then the TCP write half.
            TlsConnection::Established(stream) => Pin::new(stream).poll_shutdown(cx),
            // Nothing to say in TLS yet: close the TCP write half.
            TlsConnection::Handshaking { accept, .. } => match accept.get_mut() {
                Some(tcp) => Pin::new(tcp).poll_shutdown(cx),
                None => Poll::Ready(Ok(())),
            },
            TlsConnection::Failed => Poll::Ready(Ok(())),
        }
    }
}
