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
use http::{HeaderValue, Request, Response, StatusCode, Version, header};
use http_body::{Body, Frame, SizeHint};

use super::connection::Activity;
use super::state::{Phase, ServerState};
use super::stats::DrainStats;
use crate::Shutdown;

/// The body of the 503 answered to a request that arrives while draining.
const SHUTTING_DOWN: &str = r#"{"error":"server is shutting down"}"#;

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
/// server loop is not yours to replace (a framework's, or one with its own
/// TLS or connection handling), and [`serve`](super::serve) everywhere else.
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
#[derive(Clone, Debug)]
pub struct DrainLayer {
    state: Arc<ServerState>,
}

impl DrainLayer {
    /// A layer that drains on `shutdown`.
    #[must_use]
    pub fn new(shutdown: Shutdown) -> DrainLayer {
        DrainLayer {
            state: Arc::new(ServerState::following(shutdown)),
        }
    }

    /// The counts of every service this layer wraps.
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
            activity: None,
        }
    }
}

/// The service of [`DrainLayer`].
#[derive(Clone, Debug)]
pub struct DrainService<S> {
    inner: S,
    state: Arc<ServerState>,
    /// The connection this service serves, when [`serve`](super::serve)
    /// made it for one.
    activity: Option<Arc<Activity>>,
}

impl<S> DrainService<S> {
    pub(crate) fn for_connection(
        inner: S,
        state: Arc<ServerState>,
        activity: Arc<Activity>,
    ) -> DrainService<S> {
        DrainService {
            inner,
            state,
            activity: Some(activity),
        }
    }
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
            self.state.late.fetch_add(1, Ordering::AcqRel);
            // A server loop of `serve` answers it: it arrived on a
            // connection that carried bytes a moment ago, so it was on the
            // wire when draining began; the connection closes after it.
            // Without `serve`, nothing closes the connection: turn it away.
            if self.activity.is_none() {
                return ResponseFuture {
                    kind: Kind::Rejected { http1 },
                };
            }
        }
        let guard = match &self.activity {
            Some(activity) => {
                if !http1 {
                    activity.saw_http2();
                }
                InFlight::on_connection(Arc::clone(activity))
            }
            None => InFlight::through_layer(Arc::clone(&self.state)),
        };
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
    /// The response future of [`DrainService`].
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
                let close = *http1
                    && guard
                        .as_ref()
                        .is_some_and(|guard| guard.state().phase() != Phase::Serving);
                let (mut parts, body) = response.into_parts();
                if close {
                    parts
                        .headers
                        .insert(header::CONNECTION, HeaderValue::from_static("close"));
                }
                let body = DrainBody::inner(body, guard.take());
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            KindProj::Rejected { http1 } => Poll::Ready(Ok(shutting_down(*http1))),
        }
    }
}

/// The 503 answered to a request that arrives while draining.
fn shutting_down<B>(http1: bool) -> Response<DrainBody<B>> {
    let mut response = Response::new(DrainBody::rejected());
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    if http1 {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// A request in flight: counted from `call` until its response body has
/// been produced in full (or dropped, when the connection dies); under
/// `serve`, until its connection has then flushed it to the socket. Under
/// `serve` it is counted by its connection alone: nothing shared between
/// workers is written on the request path.
pub(crate) struct InFlight {
    owner: Owner,
}

enum Owner {
    Connection(Arc<Activity>),
    Layer(Arc<ServerState>),
}

impl InFlight {
    fn on_connection(activity: Arc<Activity>) -> InFlight {
        activity.request_started();
        InFlight {
            owner: Owner::Connection(activity),
        }
    }

    fn through_layer(state: Arc<ServerState>) -> InFlight {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight {
            owner: Owner::Layer(state),
        }
    }

    fn state(&self) -> &ServerState {
        match &self.owner {
            Owner::Connection(activity) => activity.server(),
            Owner::Layer(state) => state,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        match &self.owner {
            Owner::Connection(activity) => activity.request_answered(),
            Owner::Layer(state) => {
                state.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The response body of [`DrainService`]: the inner body, counted in
    /// flight until its last frame, or the 503 of a request that arrived
    /// while draining.
    pub struct DrainBody<B> {
        #[pin]
        kind: BodyKind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = BodyKindProj]
    enum BodyKind<B> {
        Inner {
            #[pin]
            body: B,
            guard: Option<InFlight>,
        },
        Rejected {
            bytes: Option<Bytes>,
        },
    }
}

impl<B> DrainBody<B> {
    fn inner(body: B, guard: Option<InFlight>) -> DrainBody<B> {
        DrainBody {
            kind: BodyKind::Inner { body, guard },
        }
    }

    fn rejected() -> DrainBody<B> {
        DrainBody {
            kind: BodyKind::Rejected {
                bytes: Some(Bytes::from_static(SHUTTING_DOWN.as_bytes())),
            },
        }
    }
}

impl<B> Body for DrainBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        match self.project().kind.project() {
            BodyKindProj::Inner { body, guard } => {
                let frame = std::task::ready!(body.poll_frame(cx));
                if frame.is_none() {
                    // The response is complete: no longer in flight.
                    guard.take();
                }
                Poll::Ready(frame)
            }
            BodyKindProj::Rejected { bytes } => {
                Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Inner { body, .. } => body.is_end_stream(),
            BodyKind::Rejected { bytes } => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Inner { body, .. } => body.size_hint(),
            BodyKind::Rejected { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
        }
    }
}

impl<B> std::fmt::Debug for DrainBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            BodyKind::Inner { .. } => f.write_str("DrainBody::Inner"),
            BodyKind::Rejected { .. } => f.write_str("DrainBody::Rejected"),
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
