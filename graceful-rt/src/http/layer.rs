//! [`DrainLayer`]: the request-level half of draining, as a tower layer.
//! It counts requests in flight until their response body is fully sent,
//! marks HTTP/1.1 responses `Connection: close` once the shutdown has
//! started, and (on its own, without [`serve`](super::serve)) answers
//! requests that arrive after draining began with 503.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, Version};
use http_body::Body;

use super::in_flight::{DrainBody, InFlight, Owner, respond, shutting_down};
use super::state::{Phase, ServerState};
use super::stats::DrainStats;
use crate::Shutdown;

/// A tower layer that drains requests: add it to a hand-written hyper
/// server to get the request-level behaviour of [`serve`](super::serve).
///
/// Once the shutdown is requested, HTTP/1.1 responses carry
/// `Connection: close`. Once draining begins (after the lame duck), new
/// requests are answered `503` with `Connection: close`, `Retry-After: 1`
/// and `{"error":"server is shutting down"}`. [`DrainLayer::stats`] counts
/// what is in flight, so the server loop knows when it has drained.
/// ([`serve`](super::serve) serves such late requests instead: it knows
/// they were on the wire, and closes their connection after them.)
///
/// Closing the listener, closing idle connections and cutting at the drain
/// deadline are the server loop's part; [`serve`](super::serve) does all of
/// it, and tells clients to reconnect only once its listener is closed, so
/// they are refused rather than queued and reset. Use the layer where the
/// server loop is not yours to replace (a framework's, or a hand-written
/// hyper loop), and [`serve`](super::serve) everywhere else: it takes any
/// `axum::serve::Listener`, TLS included (see its documentation).
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use graceful_rt::{Shutdown, http::DrainLayer};
///
/// let shutdown = Shutdown::new(std::time::Duration::from_secs(10));
/// let layer = DrainLayer::new(shutdown.clone());
/// let stats = layer.stats();
/// let app: Router = Router::new().route("/", get(|| async { "hello" })).layer(layer);
/// // Serve `app` with your own hyper loop; once `stats.in_flight()` is 0
/// // after `shutdown.draining()`, close the remaining connections.
/// assert_eq!(stats.in_flight(), 0);
/// # let _ = app;
/// ```
///
/// A tower service of your own, in a hand-written hyper loop:
///
/// ```
/// use std::convert::Infallible;
/// use std::future::{Ready, ready};
/// use std::task::{Context, Poll};
/// use std::time::Duration;
///
/// use graceful_rt::{Shutdown, http::DrainLayer};
/// use http_body_util::Full;
/// use hyper::body::{Bytes, Incoming};
/// use hyper::{Request, Response};
/// use hyper_util::rt::TokioIo;
/// use hyper_util::service::TowerToHyperService;
/// use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
/// use tokio::net::{TcpListener, TcpStream};
/// use tower_layer::Layer as _; // the trait `tower::Layer` re-exports
///
/// #[derive(Clone)]
/// struct Hello;
///
/// impl tower_service::Service<Request<Incoming>> for Hello {
///     type Response = Response<Full<Bytes>>;
///     type Error = Infallible;
///     type Future = Ready<Result<Self::Response, Infallible>>;
///
///     fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
///         Poll::Ready(Ok(()))
///     }
///
///     fn call(&mut self, _request: Request<Incoming>) -> Self::Future {
///         ready(Ok(Response::new(Full::new(Bytes::from_static(b"hello")))))
///     }
/// }
///
/// async fn get(address: std::net::SocketAddr) -> std::io::Result<String> {
///     let mut client = TcpStream::connect(address).await?;
///     client.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").await?;
///     let mut response = String::new();
///     client.read_to_string(&mut response).await?;
///     Ok(response)
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let shutdown = Shutdown::new(Duration::from_secs(10));
/// let layer = DrainLayer::new(shutdown.clone());
/// let stats = layer.stats();
/// let service = layer.layer(Hello);
///
/// let listener = TcpListener::bind("127.0.0.1:0").await?;
/// let address = listener.local_addr()?;
/// tokio::spawn(async move {
///     while let Ok((stream, _)) = listener.accept().await {
///         let service = TowerToHyperService::new(service.clone());
///         tokio::spawn(
///             hyper::server::conn::http1::Builder::new()
///                 .serve_connection(TokioIo::new(stream), service),
///         );
///     }
/// });
///
/// assert!(get(address).await?.starts_with("HTTP/1.1 200 OK"));
///
/// shutdown.trigger();
/// shutdown.draining().await;
/// // This loop still accepts: the layer turns the request away, to be
/// // retried elsewhere.
/// let response = get(address).await?;
/// assert!(response.starts_with("HTTP/1.1 503 Service Unavailable"));
/// assert!(response.contains("retry-after: 1"));
/// assert_eq!((stats.late(), stats.in_flight()), (1, 0));
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct DrainLayer {
    state: Arc<ServerState>,
}

impl DrainLayer {
    /// A layer that drains on `shutdown`: its lame duck marks responses
    /// `Connection: close`, its drain answers 503. Every service it wraps
    /// counts into the same [`stats`](DrainLayer::stats).
    #[must_use]
    pub fn new(shutdown: Shutdown) -> DrainLayer {
        DrainLayer {
            state: Arc::new(ServerState::following(shutdown)),
        }
    }

    /// The counts of every service this layer wraps, live: requests in
    /// flight and late requests; no connections (a layer sees none). See
    /// the example of [`DrainStats`].
    #[must_use]
    pub fn stats(&self) -> DrainStats {
        DrainStats {
            state: Arc::clone(&self.state),
            connections: Arc::default(),
        }
    }
}

impl<S> tower_layer::Layer<S> for DrainLayer {
    type Service = DrainService<S>;

    fn layer(&self, inner: S) -> DrainService<S> {
        DrainService {
            inner,
            state: Arc::clone(&self.state),
        }
    }
}

/// The service of [`DrainLayer`]: the wrapped service, its requests
/// counted in flight until their response body's last frame, and turned
/// away with 503 once draining begins. See [`DrainLayer`]'s examples.
#[derive(Clone, Debug)]
pub struct DrainService<S> {
    inner: S,
    state: Arc<ServerState>,
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for DrainService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body<Data = Bytes>,
{
    type Response = Response<DrainBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let http1 = request.version() < Version::HTTP_2;
        if self.state.phase() == Phase::Draining {
            // Nothing closes the connection it arrived on, as `serve`
            // would after serving it: turn it away.
            self.state.late.fetch_add(1, Ordering::AcqRel);
            return ResponseFuture {
                kind: Kind::Rejected { http1 },
            };
        }
        let guard = InFlight::new(Owner::Layer(Arc::clone(&self.state)), http1);
        ResponseFuture {
            kind: Kind::Inner {
                future: self.inner.call(request),
                guard: Some(guard),
                http1,
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`DrainService`]: the inner service's
    /// response, its body wrapped in a [`DrainBody`], or the 503 of a
    /// request that arrived while draining.
    ///
    /// # Panics
    ///
    /// Polled again after it has returned its response, as futures may.
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        Inner {
            #[pin]
            future: F,
            guard: Option<InFlight>,
            http1: bool,
        },
        Rejected {
            http1: bool,
        },
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: Body<Data = Bytes>,
{
    type Output = Result<Response<DrainBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner {
                future,
                guard,
                http1,
            } => {
                let response = std::task::ready!(future.poll(cx))?;
                let guard = guard.take().expect("polled after completion");
                Poll::Ready(Ok(respond(response, guard, *http1)))
            }
            KindProj::Rejected { http1 } => Poll::Ready(Ok(shutting_down(*http1))),
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
