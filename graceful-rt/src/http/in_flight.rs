//! A request in flight, from the arrival of its head to the last frame of
//! its response's body: [`InFlight`] counts it (on its connection under
//! [`serve`](super::serve), on the layer's state for a lone
//! [`DrainLayer`](super::DrainLayer)), and [`DrainBody`] carries the count
//! to the body's end. Shared by the layer and `serve`'s own service.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};

use super::connection::Activity;
use super::state::{Phase, ServerState};

/// The body of the 503 answered to a request that arrives while draining.
const SHUTTING_DOWN: &str = r#"{"error":"server is shutting down"}"#;

/// The response to a request counted by `guard`, readied for the drain:
/// its body carries the count to its end, and from the shutdown on an
/// HTTP/1.1 response says `Connection: close`. A `101 Switching Protocols`
/// tells the connection it is being upgraded.
pub(crate) fn respond<B>(
    response: Response<B>,
    guard: InFlight,
    http1: bool,
) -> Response<DrainBody<B>> {
    if let Owner::Connection(activity) = &guard.owner {
        if response.status() == StatusCode::SWITCHING_PROTOCOLS {
            activity.upgrading();
        }
    }
    let close = http1 && guard.state().phase() != Phase::Serving;
    let (mut parts, body) = response.into_parts();
    if close {
        parts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Response::from_parts(parts, DrainBody::inner(body, Some(guard)))
}

/// The 503 answered to a request that arrives while draining.
pub(crate) fn shutting_down<B>(http1: bool) -> Response<DrainBody<B>> {
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

/// Who counts a request in flight.
#[derive(Clone, Debug)]
pub(crate) enum Owner {
    /// Its connection, under [`serve`](super::serve).
    Connection(Arc<Activity>),
    /// A [`DrainLayer`](super::DrainLayer) on its own.
    Layer(Arc<ServerState>),
}

impl Owner {
    fn state(&self) -> &ServerState {
        match self {
            Owner::Connection(activity) => activity.server(),
            Owner::Layer(state) => state,
        }
    }
}

impl InFlight {
    pub(crate) fn new(owner: Owner, http1: bool) -> InFlight {
        match &owner {
            Owner::Connection(activity) => {
                if !http1 {
                    activity.saw_http2();
                }
                activity.request_started();
            }
            Owner::Layer(state) => {
                state.in_flight.fetch_add(1, Ordering::AcqRel);
            }
        }
        InFlight { owner }
    }

    fn state(&self) -> &ServerState {
        self.owner.state()
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
    /// The response body of [`DrainService`](super::DrainService) (and of
    /// [`serve`](super::serve)): the inner body, counted in
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
