//! A request in flight, from the arrival of its head to the last frame of
//! its response's body (trailers, a data frame after which the body is at
//! its end, or the end itself): [`InFlight`] counts it (on its connection under
//! [`serve`](super::serve), on the layer's state for a lone
//! [`DrainLayer`](super::DrainLayer)), and [`DrainBody`] carries the count
//! to the body's end. Shared by the layer and `serve`'s own service.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use tokio::sync::futures::OwnedNotified;

use super::connection::Activity;
use super::grpc;
use super::state::{Phase, ServerState};

/// The body of the 503 answered to a request that arrives while draining.
const SHUTTING_DOWN: &str = r#"{"error":"server is shutting down"}"#;

/// The response to a request counted by `guard`, readied for the drain:
/// its body carries the count to its end, and from the shutdown on an
/// HTTP/1.1 response says `Connection: close`. A `101 Switching Protocols`
/// tells the connection it is being upgraded.
pub(crate) fn respond<B: Body>(
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
    // A body already at its end (no body, or a gRPC trailers-only answer)
    // yields no frame to mark the end: the request is answered now.
    if body.is_end_stream() {
        return Response::from_parts(parts, DrainBody::inner(body, None, None));
    }
    // A gRPC response under `serve` can be ended by the server.
    let ending = match &guard.owner {
        Owner::Connection(activity) if !http1 && grpc::is_grpc(&parts.headers) => {
            Some(Box::pin(activity.calls_end()))
        }
        _ => None,
    };
    Response::from_parts(parts, DrainBody::inner(body, Some(guard), ending))
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
/// yielded its last frame (or is dropped, when the connection dies). Under
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
    #[inline]
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

    /// Whether the server ends this call now: its connection's calls are
    /// ending (`ending` resolves, or has been told already). Registers
    /// `cx` to be woken when they do.
    pub(crate) fn call_ends(&self, ending: Pin<&mut OwnedNotified>, cx: &mut Context<'_>) -> bool {
        let Owner::Connection(activity) = &self.owner else {
            return false;
        };
        ending.poll(cx).is_ready() || activity.calls_ending()
    }

    /// The server ended this call with UNAVAILABLE: counted, and no
    /// longer in flight.
    pub(crate) fn call_ended(self) {
        self.state().calls_ended.fetch_add(1, Ordering::AcqRel);
    }
}

impl Drop for InFlight {
    #[inline]
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
            // A gRPC response under `serve`: resolves when its connection
            // ends its calls (see `Activity::end_calls`). Boxed, so that
            // the body stays `Unpin` when `B` is.
            ending: Option<Pin<Box<OwnedNotified>>>,
        },
        Rejected {
            bytes: Option<Bytes>,
        },
        // Ended by the server: the trailers still to send, if any.
        Ended {
            trailers: Option<HeaderMap>,
        },
    }
}

impl<B> DrainBody<B> {
    fn inner(
        body: B,
        guard: Option<InFlight>,
        ending: Option<Pin<Box<OwnedNotified>>>,
    ) -> DrainBody<B> {
        DrainBody {
            kind: BodyKind::Inner {
                body,
                guard,
                ending,
            },
        }
    }

    fn rejected() -> DrainBody<B> {
        DrainBody {
            kind: BodyKind::Rejected {
                bytes: Some(Bytes::from_static(SHUTTING_DOWN.as_bytes())),
            },
        }
    }

    /// An empty body, at its end.
    pub(crate) fn empty() -> DrainBody<B> {
        DrainBody {
            kind: BodyKind::Ended { trailers: None },
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
        let mut kind = self.project().kind;
        match kind.as_mut().project() {
            BodyKindProj::Inner {
                mut body,
                guard,
                ending,
            } => {
                if let (Some(ending), Some(counted)) = (ending.as_mut(), guard.as_ref()) {
                    if counted.call_ends(ending.as_mut(), cx) {
                        // The server ends the call: after the frame it was
                        // on, with trailers that say UNAVAILABLE. The inner
                        // body is dropped, and the count with it.
                        guard.take().expect("counted").call_ended();
                        kind.set(BodyKind::Ended { trailers: None });
                        let trailers = Frame::trailers(grpc::unavailable_trailers());
                        return Poll::Ready(Some(Ok(trailers)));
                    }
                }
                let frame = std::task::ready!(body.as_mut().poll_frame(cx));
                if guard.is_some() && is_last(frame.as_ref(), &*body) {
                    // The response is complete: no longer in flight. hyper
                    // polls no further once the body is at its end (h2
                    // sends the frame with END_STREAM), so this is the
                    // last look the count gets.
                    guard.take();
                }
                Poll::Ready(frame)
            }
            BodyKindProj::Rejected { bytes } => {
                Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes))))
            }
            BodyKindProj::Ended { trailers } => Poll::Ready(
                trailers
                    .take()
                    .map(|trailers| Ok(Frame::trailers(trailers))),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Inner { body, .. } => body.is_end_stream(),
            BodyKind::Rejected { bytes } => bytes.is_none(),
            BodyKind::Ended { trailers } => trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            BodyKind::Inner { body, .. } => body.size_hint(),
            BodyKind::Rejected { bytes } => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            BodyKind::Ended { .. } => SizeHint::with_exact(0),
        }
    }
}

/// Whether `frame`, just yielded by `body`, ends the response: trailers,
/// a frame after which the body is at its end, an error, or the end.
fn is_last<B: Body>(frame: Option<&Result<Frame<B::Data>, B::Error>>, body: &B) -> bool {
    match frame {
        Some(Ok(frame)) => frame.is_trailers() || body.is_end_stream(),
        Some(Err(_)) | None => true,
    }
}

impl<B> std::fmt::Debug for DrainBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            BodyKind::Inner { .. } => f.write_str("DrainBody::Inner"),
            BodyKind::Rejected { .. } => f.write_str("DrainBody::Rejected"),
            BodyKind::Ended { .. } => f.write_str("DrainBody::Ended"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::convert::Infallible;
    use std::task::Waker;

    use http_body_util::{Empty, Full};

    use super::*;

    fn counted() -> (InFlight, Arc<Activity>) {
        let activity = Arc::new(Activity::new(Arc::new(ServerState::default()), true));
        let guard = InFlight::new(Owner::Connection(Arc::clone(&activity)), false);
        assert_eq!(activity.in_flight(), 1);
        (guard, activity)
    }

    fn poll<B: Body<Data = Bytes> + Unpin>(body: &mut B) -> Option<Frame<Bytes>> {
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(body).poll_frame(&mut cx) {
            Poll::Ready(frame) => frame.map(|frame| frame.ok().expect("a frame")),
            Poll::Pending => panic!("the body is ready"),
        }
    }

    /// A body of these frames, always ready, that does not know its end
    /// in advance (as a stream's does not).
    struct Frames(VecDeque<Frame<Bytes>>);

    impl Frames {
        fn of(frames: impl IntoIterator<Item = Frame<Bytes>>) -> Frames {
            Frames(frames.into_iter().collect())
        }
    }

    impl Body for Frames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready(self.0.pop_front().map(Ok))
        }
    }

    #[test]
    fn a_response_is_answered_at_its_last_frame_before_any_flush_or_drop() {
        // hyper hands the frame to h2, whose connection task may write and
        // flush it before the body is dropped: the count waits for neither.
        let (guard, activity) = counted();
        let response = respond(Response::new(Full::new(Bytes::from("hi"))), guard, false);
        let mut body = response.into_body();
        assert_eq!(activity.in_flight(), 1, "not a frame yet");
        assert!(poll(&mut body).is_some_and(|frame| frame.is_data()));
        assert!(body.is_end_stream());
        assert_eq!(activity.in_flight(), 0, "its last frame was yielded");
    }

    #[test]
    fn trailers_end_a_response() {
        let (guard, activity) = counted();
        let frames = Frames::of([
            Frame::data(Bytes::from("message")),
            Frame::trailers(HeaderMap::new()),
        ]);
        let mut body = respond(Response::new(frames), guard, false).into_body();
        assert!(poll(&mut body).is_some_and(|frame| frame.is_data()));
        assert_eq!(activity.in_flight(), 1, "a message, and more to come");
        assert!(poll(&mut body).is_some_and(|frame| frame.is_trailers()));
        assert_eq!(activity.in_flight(), 0, "the trailers end it");
    }

    #[test]
    fn a_body_already_at_its_end_is_answered_at_once() {
        let (guard, activity) = counted();
        let response = respond(Response::new(Empty::<Bytes>::new()), guard, false);
        assert_eq!(activity.in_flight(), 0);
        drop(response);
        assert_eq!(activity.in_flight(), 0, "counted once");
    }

    #[test]
    fn a_grpc_response_ends_with_unavailable_trailers_when_its_connection_ends_its_calls() {
        let (guard, activity) = counted();
        let frames = Frames::of([
            Frame::data(Bytes::from("tick")),
            Frame::data(Bytes::from("tick")),
        ]);
        let response = Response::builder()
            .header(header::CONTENT_TYPE, "application/grpc")
            .body(frames)
            .unwrap();
        let mut body = respond(response, guard, false).into_body();
        assert!(poll(&mut body).is_some_and(|frame| frame.is_data()));
        activity.end_calls();
        let trailers = poll(&mut body)
            .and_then(|frame| frame.into_trailers().ok())
            .expect("trailers");
        assert_eq!(trailers["grpc-status"], "14");
        assert_eq!(trailers["grpc-message"], "server is shutting down");
        assert!(body.is_end_stream());
        assert_eq!(activity.in_flight(), 0);
        assert_eq!(activity.server().calls_ended.load(Ordering::Acquire), 1);
        assert!(poll(&mut body).is_none());
    }

    #[test]
    fn an_http1_response_is_not_ended_as_a_grpc_call() {
        let (guard, activity) = counted();
        let frames = Frames::of([Frame::data(Bytes::from("a")), Frame::data(Bytes::from("b"))]);
        let response = Response::builder()
            .header(header::CONTENT_TYPE, "application/grpc")
            .body(frames)
            .unwrap();
        let mut body = respond(response, guard, true).into_body();
        activity.end_calls();
        assert!(poll(&mut body).is_some_and(|frame| frame.is_data()));
        assert!(poll(&mut body).is_some_and(|frame| frame.is_data()));
        assert!(poll(&mut body).is_none());
        assert_eq!(activity.in_flight(), 0);
    }
}
