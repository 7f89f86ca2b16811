//! The service hyper calls for every request on a connection
//! [`serve`](super::serve) accepted: the application's service, with each
//! request counted in flight on its connection and each response readied
//! for the drain. The [`DrainLayer`](super::DrainLayer)'s work, in one
//! future rather than a tower layer under hyper-util's adapter: this is
//! the path every request takes.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};

use http::{Request, Response, Version};
use http_body::Body;
use hyper::body::Incoming;
use tokio::sync::futures::OwnedNotified;

use super::connection::Activity;
use super::grpc;
use super::in_flight::{DrainBody, InFlight, Owner, respond};

/// The service of one connection: `inner` is the application's, made for
/// this connection.
pub(crate) struct ConnectionService<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> ConnectionService<S> {
    pub(crate) fn new(inner: S, activity: Arc<Activity>) -> ConnectionService<S> {
        ConnectionService { inner, activity }
    }
}

impl<S, B> hyper::service::Service<Request<Incoming>> for ConnectionService<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone,
    B: Body,
{
    type Response = Response<DrainBody<B>>;
    type Error = Infallible;
    type Future = Answer<S>;

    fn call(&self, request: Request<Incoming>) -> Answer<S> {
        let http1 = request.version() < Version::HTTP_2;
        if self.activity.is_draining() {
            // It arrived on a connection that was open when draining
            // began, so it was on the wire then: served, and its
            // connection closes after it.
            self.activity.server().late.fetch_add(1, Ordering::AcqRel);
        }
        // A gRPC call can be ended by the server before its handler answers.
        let ending = grpc::is_call(&request).then(|| Box::pin(self.activity.calls_end()));
        let guard = InFlight::new(Owner::Connection(Arc::clone(&self.activity)), http1);
        Answer {
            step: Step::Ready {
                // hyper calls with `&self`, tower with `&mut self`.
                service: self.inner.clone(),
                request: Some(request),
            },
            guard: Some(guard),
            ending,
            http1,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of [`ConnectionService`], to come: the application's
    /// service is polled ready, called, and its response readied.
    pub(crate) struct Answer<S>
    where
        S: tower_service::Service<Request<Incoming>>,
    {
        #[pin]
        step: Step<S>,
        guard: Option<InFlight>,
        // For a gRPC call: resolves when its connection ends its calls.
        // Boxed: only gRPC calls have one, and every request's future is
        // moved as a whole.
        ending: Option<Pin<Box<OwnedNotified>>>,
        http1: bool,
    }
}

pin_project_lite::pin_project! {
    #[project = StepProj]
    enum Step<S>
    where
        S: tower_service::Service<Request<Incoming>>,
    {
        Ready {
            service: S,
            request: Option<Request<Incoming>>,
        },
        Called {
            #[pin]
            future: S::Future,
        },
    }
}

impl<S, B> Future for Answer<S>
where
    S: tower_service::Service<Request<Incoming>, Response = Response<B>, Error = Infallible>,
    B: Body,
{
    type Output = Result<Response<DrainBody<B>>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let (Some(ending), Some(guard)) = (this.ending.as_mut(), this.guard.as_ref()) {
            if guard.call_ends(ending.as_mut(), cx) {
                // Answered UNAVAILABLE at once; the handler is dropped
                // with this future.
                this.guard.take().expect("counted").call_ended();
                return Poll::Ready(Ok(grpc::unavailable(DrainBody::empty())));
            }
        }
        loop {
            match this.step.as_mut().project() {
                StepProj::Ready { service, request } => {
                    let Ok(()) = ready!(service.poll_ready(cx));
                    let request = request.take().expect("called once");
                    let future = service.call(request);
                    this.step.set(Step::Called { future });
                }
                StepProj::Called { future } => {
                    let Ok(response) = ready!(future.poll(cx));
                    let guard = this.guard.take().expect("polled after completion");
                    return Poll::Ready(Ok(respond(response, guard, *this.http1)));
                }
            }
        }
    }
}
