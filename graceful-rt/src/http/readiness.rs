//! [`Readiness`]: the endpoint load balancers poll to know whether to route
//! traffic here.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body::Frame;

use crate::Shutdown;

/// A readiness endpoint: `200 {"status":"ready"}` until the shutdown is
/// requested, then `503 {"status":"shutting down"}`, through the lame duck
/// and the drain, so load balancers stop routing here before the server
/// stops accepting.
///
/// A tower service.
///
/// # Examples
///
/// ```
/// use axum::{Router, routing::get};
/// use graceful_rt::{Shutdown, http::Readiness};
///
/// fn router(shutdown: &Shutdown) -> Router {
///     Router::new()
///         .route("/", get(|| async { "hello" }))
///         .route_service("/readyz", Readiness::new(shutdown.clone()))
/// }
/// # let _ = router(&Shutdown::new(std::time::Duration::from_secs(5)));
/// ```
///
/// What it answers, called directly:
///
/// ```
/// use std::time::Duration;
/// use axum::http::{Request, StatusCode};
/// use graceful_rt::{Shutdown, http::Readiness};
/// use http_body_util::BodyExt as _;
/// use tower_service::Service as _;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::with_drain_delay(Duration::from_secs(15), Duration::from_secs(5));
/// let mut readiness = Readiness::new(shutdown.clone());
///
/// let ready = readiness.call(Request::new(())).await.unwrap();
/// assert_eq!(ready.status(), StatusCode::OK);
///
/// shutdown.trigger();
/// // From the start of the lame duck, while requests are still served.
/// let stopping = readiness.call(Request::new(())).await.unwrap();
/// assert_eq!(stopping.status(), StatusCode::SERVICE_UNAVAILABLE);
/// let body = stopping.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(body, r#"{"status":"shutting down"}"#);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Readiness {
    shutdown: Shutdown,
}

impl Readiness {
    /// Readiness that fails once `shutdown` is requested, for every request
    /// whatever its method or path; `Content-Type: application/json`.
    #[must_use]
    pub fn new(shutdown: Shutdown) -> Readiness {
        Readiness { shutdown }
    }
}

impl<B> tower_service::Service<Request<B>> for Readiness {
    type Response = Response<ReadinessBody>;
    type Error = Infallible;
    type Future = Ready<Result<Response<ReadinessBody>, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _request: Request<B>) -> Self::Future {
        let (status, body) = if self.shutdown.is_requested() {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"status":"shutting down"}"#,
            )
        } else {
            (StatusCode::OK, r#"{"status":"ready"}"#)
        };
        let mut response = Response::new(ReadinessBody(Some(Bytes::from_static(body.as_bytes()))));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        ready(Ok(response))
    }
}

/// The body of a [`Readiness`] response: its JSON, in one frame.
#[derive(Debug)]
pub struct ReadinessBody(Option<Bytes>);

impl http_body::Body for ReadinessBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.take().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.0.as_ref().map_or(0, |bytes| bytes.len() as u64))
    }
}
