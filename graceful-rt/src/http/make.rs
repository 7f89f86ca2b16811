//! What [`serve`](super::serve) serves, and how it makes a service for each
//! connection: [`MakeService`], implemented for what `axum::serve` takes,
//! and [`IncomingStream`], what a make-service knows of a connection.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::connect_info::{Connected, IntoMakeServiceWithConnectInfo};
use axum::routing::{IntoMakeService, MethodRouter};
use axum::serve::Listener;
use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::body::Incoming;
use tower_service::Service;

use crate::BoxError;

/// What a make-service knows of a connection it makes a service for: its
/// IO and its peer's address. The counterpart of
/// [`axum::serve::IncomingStream`], for [`serve`](super::serve).
///
/// `into_make_service_with_connect_info::<C>()` gives handlers
/// [`ConnectInfo<C>`](axum::extract::ConnectInfo) when `C` implements
/// `Connected<IncomingStream<'_, L>>`. [`SocketAddr`](std::net::SocketAddr)
/// does for every listener whose address it is (TCP, and TLS over TCP),
/// and `tokio::net::unix::SocketAddr` for every Unix one. A connect info of
/// your own implements it as it would for axum's `IncomingStream`, here
/// for this type:
///
/// ```
/// use axum::extract::connect_info::Connected;
/// use graceful_rt::http::IncomingStream;
/// use tokio::net::UnixListener;
///
/// #[derive(Clone, Debug)]
/// struct Peer {
///     uid: Option<u32>,
/// }
///
/// impl Connected<IncomingStream<'_, UnixListener>> for Peer {
///     fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Peer {
///         Peer { uid: stream.io().peer_cred().ok().map(|cred| cred.uid()) }
///     }
/// }
/// ```
///
/// (axum's own type cannot be used: only `axum::serve` can make one.)
pub struct IncomingStream<'a, L: Listener> {
    io: &'a L::Io,
    remote_addr: L::Addr,
}

impl<L: Listener> IncomingStream<'_, L> {
    /// The connection's IO, as the listener accepted it.
    pub fn io(&self) -> &L::Io {
        self.io
    }

    /// The address of the connection's peer.
    pub fn remote_addr(&self) -> &L::Addr {
        &self.remote_addr
    }
}

impl<L: Listener> fmt::Debug for IncomingStream<'_, L>
where
    L::Addr: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingStream")
            .field("remote_addr", &self.remote_addr)
            .finish_non_exhaustive()
    }
}

impl<L> Connected<IncomingStream<'_, L>> for std::net::SocketAddr
where
    L: Listener<Addr = std::net::SocketAddr>,
{
    fn connect_info(stream: IncomingStream<'_, L>) -> Self {
        stream.remote_addr
    }
}

#[cfg(unix)]
impl<L> Connected<IncomingStream<'_, L>> for tokio::net::unix::SocketAddr
where
    L: Listener<Addr = tokio::net::unix::SocketAddr>,
{
    fn connect_info(stream: IncomingStream<'_, L>) -> Self {
        stream.remote_addr
    }
}

/// What [`serve`](super::serve) serves: what `axum::serve` takes, so that
/// moving to it changes one line.
///
/// - an axum [`Router`] or [`MethodRouter`], cloned for each connection;
/// - `router.into_make_service()`, and `into_make_service()` of
///   [`axum::ServiceExt`] for any other tower service of
///   `Request<hyper::body::Incoming>` (a `tower::ServiceBuilder` stack, say);
/// - `router.into_make_service_with_connect_info::<C>()`, which gives
///   handlers [`ConnectInfo<C>`](axum::extract::ConnectInfo) (see
///   [`IncomingStream`]).
///
/// The trait is sealed: `serve` counts on what these do (one service per
/// connection, made at once).
#[diagnostic::on_unimplemented(
    message = "`graceful_rt::http::serve` cannot serve a `{Self}`",
    label = "not a Router or a make-service",
    note = "pass an axum `Router` or `MethodRouter`, `router.into_make_service()`, `router.into_make_service_with_connect_info::<SocketAddr>()`, or `axum::ServiceExt::into_make_service(service)` for another tower service",
    note = "a `Router<S>` with state is served once it has it: `router.with_state(state)`"
)]
pub trait MakeService<L: Listener>: private::Sealed + Send + 'static {
    /// The service that serves one connection.
    type Service: private::RequestService<Self::Body>;
    /// The body of its responses.
    type Body: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static;

    /// Readies the make-service for serving, once, before the first
    /// connection: a `Router` resolves its routes here rather than for
    /// every request.
    #[must_use]
    fn prepare(self) -> Self;

    /// Whether it can make a service now; `serve` waits until it can.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()>;

    /// Makes the service for the connection `incoming`.
    fn make_service(
        &mut self,
        incoming: IncomingStream<'_, L>,
    ) -> impl Future<Output = Self::Service> + Send;
}

// Sealed: public traits in a module users cannot name, used in the public
// bounds of `MakeService` (older compilers call them unreachable).
#[allow(unreachable_pub)]
pub(crate) mod private {
    use super::*;

    /// Only the make-services of this module: see [`MakeService`].
    pub trait Sealed {}

    /// What serves one connection: a tower service of hyper's requests
    /// that cannot fail, cloned for each request on HTTP/2.
    pub trait RequestService<B>:
        Service<Request<Incoming>, Response = Response<B>, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static
    {
    }

    impl<S, B> RequestService<B> for S where
        S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible, Future: Send>
            + Clone
            + Send
            + 'static
    {
    }

    impl Sealed for Router {}
    impl Sealed for MethodRouter {}
    impl<S> Sealed for IntoMakeService<S> {}
    impl<S, C> Sealed for IntoMakeServiceWithConnectInfo<S, C> {}
}

impl<L: Listener> MakeService<L> for Router {
    type Service = Router;
    type Body = axum::body::Body;

    /// As `axum::serve` does for each connection: `with_state(())` turns
    /// every handler into a route, which a `Router` made without it would
    /// do again (boxed, cloned) on every request.
    fn prepare(self) -> Router {
        self.with_state(())
    }

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }

    fn make_service(&mut self, _: IncomingStream<'_, L>) -> impl Future<Output = Router> + Send {
        std::future::ready(self.clone())
    }
}

impl<L: Listener> MakeService<L> for MethodRouter {
    type Service = MethodRouter;
    type Body = axum::body::Body;

    /// As `axum::serve` does for each connection: `with_state(())` turns
    /// every handler into a route, which a `MethodRouter` made without it would
    /// do again (boxed, cloned) on every request.
    fn prepare(self) -> MethodRouter {
        self.with_state(())
    }

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }

    fn make_service(
        &mut self,
        _: IncomingStream<'_, L>,
    ) -> impl Future<Output = MethodRouter> + Send {
        std::future::ready(self.clone())
    }
}

/// Calls a make-service that is ready with `target`. The call takes the
/// target at once: the future never holds it (nor the IO it refers to).
fn make<M, T>(make_service: &mut M, target: T) -> impl Future<Output = M::Response> + Send
where
    M: Service<T, Error = Infallible, Future: Send>,
{
    let made = make_service.call(target);
    async move {
        let Ok(service) = made.await;
        service
    }
}

/// Polls a make-service ready; axum's cannot fail.
fn poll_ready<M, T>(make_service: &mut M, cx: &mut Context<'_>) -> Poll<()>
where
    M: Service<T, Error = Infallible>,
{
    make_service.poll_ready(cx).map(|Ok(())| ())
}

impl<L, S, B> MakeService<L> for IntoMakeService<S>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static,
    B: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
{
    type Service = S;
    type Body = B;

    fn prepare(self) -> Self {
        self
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        poll_ready::<_, IncomingStream<'_, L>>(self, cx)
    }

    fn make_service(&mut self, incoming: IncomingStream<'_, L>) -> impl Future<Output = S> + Send {
        make(self, incoming)
    }
}

impl<L, S, B, C> MakeService<L> for IntoMakeServiceWithConnectInfo<S, C>
where
    L: Listener,
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible, Future: Send>
        + Clone
        + Send
        + 'static,
    B: Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static,
    C: for<'a> Connected<IncomingStream<'a, L>> + Clone + Send + Sync + 'static,
{
    type Service = axum::middleware::AddExtension<S, axum::extract::ConnectInfo<C>>;
    type Body = B;

    fn prepare(self) -> Self {
        self
    }

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        poll_ready::<_, IncomingStream<'_, L>>(self, cx)
    }

    fn make_service(
        &mut self,
        incoming: IncomingStream<'_, L>,
    ) -> impl Future<Output = Self::Service> + Send {
        make(self, incoming)
    }
}

impl<'a, L: Listener> IncomingStream<'a, L> {
    pub(crate) fn new(io: &'a L::Io, remote_addr: L::Addr) -> IncomingStream<'a, L> {
        IncomingStream { io, remote_addr }
    }
}
