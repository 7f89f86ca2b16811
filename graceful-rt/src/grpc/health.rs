//! tonic-health's `grpc.health.v1.Health`, wired to the shutdown.
//!
//! Load balancers that health-check over gRPC (Envoy, client-side
//! balancing with gRFC A17, Kubernetes' `grpc` probes) learn from it that
//! an instance is going away. What it answers follows the shutdown itself,
//! not a status someone must remember to flip:
//!
//! - from the first signal (the start of the lame duck, `drain_delay`),
//!   `Check` answers `NOT_SERVING` for the server (`""`) and for every
//!   service registered, on every connection, old or new;
//! - an open `Watch` stream is sent `NOT_SERVING` at once, and is ended by
//!   the server when draining begins, with `UNAVAILABLE` ("server is
//!   shutting down"), so it never holds the drain (a stream that never
//!   ends would hold it to the deadline, and the exit code would be 3);
//! - [`HealthReporter`]'s updates are ignored from the first signal on: a
//!   `set_serving` racing the shutdown (a dependency check that runs
//!   every few seconds, say) cannot flip it back to `SERVING` (grpc-go
//!   #2513). The answers do not depend on that ordering anyway: they are
//!   read off the shutdown first.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tonic::codegen::tokio_stream::Stream;
use tonic::server::NamedService;
use tonic::{Request, Response, Status};
use tonic_health::ServingStatus;
use tonic_health::pb::health_check_response::ServingStatus as WireStatus;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use crate::Shutdown;
use crate::shutdown::{Draining, Requested};

/// A [`HealthReporter`] and the health service it reports to, both wired to
/// `shutdown`: see the [module documentation](super). Serve the service
/// beside your own (`Routes::new(..).add_service(health_service)`), and
/// report each service's status through the reporter as you would through
/// tonic-health's. The server itself (`""`) starts `SERVING`.
///
/// It takes the handle by value, as every other constructor does: pass
/// `shutdown.clone()` to keep one.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::Shutdown;
/// use graceful_rt::grpc::{ServingStatus, health_reporter};
/// # use tonic::server::NamedService;
/// # #[derive(Clone)]
/// # struct OrdersServer;
/// # impl NamedService for OrdersServer {
/// #     const NAME: &'static str = "shop.Orders";
/// # }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::new(Duration::from_secs(15));
/// let (health, health_service) = health_reporter(shutdown.clone());
/// // Beside your own services, in the router `http::serve` (feature
/// // `axum`) serves.
/// let router = tonic::service::Routes::new(health_service)
///     // .add_service(OrdersServer::new(orders))
///     .into_axum_router();
///
/// // Each service, as it becomes ready (`OrdersServer` is tonic's
/// // generated server), or by name.
/// health.set_serving::<OrdersServer>().await;
/// health.set_service_status("shop.Payments", ServingStatus::NotServing).await;
///
/// shutdown.trigger();
/// // From the first signal on, every check answers NOT_SERVING, and
/// // updates are ignored.
/// health.set_serving::<OrdersServer>().await;
/// # drop(router);
/// # }
/// ```
#[must_use]
pub fn health_reporter(shutdown: Shutdown) -> (HealthReporter, HealthServer<HealthService>) {
    let (inner, _) = tonic_health::server::health_reporter();
    let service = HealthService {
        inner: tonic_health::server::HealthService::from_health_reporter(inner.clone()),
        shutdown: shutdown.clone(),
    };
    let reporter = HealthReporter { inner, shutdown };
    (reporter, HealthServer::new(service))
}

/// Updates the statuses the [`HealthService`] answers, until the shutdown
/// begins; from then on every update is ignored (logged at `debug`,
/// target `graceful::grpc`). Cheap to clone. Made by [`health_reporter`].
///
/// # Examples
///
/// A dependency check that reports a service's health as its database
/// comes and goes, and stops with the shutdown:
///
/// ```
/// use std::time::Duration;
/// use graceful_rt::Shutdown;
/// use graceful_rt::grpc::{HealthReporter, ServingStatus, health_reporter};
///
/// async fn watch_database(health: HealthReporter, shutdown: Shutdown) {
///     let mut tick = tokio::time::interval(Duration::from_secs(5));
///     loop {
///         tokio::select! {
///             _ = tick.tick() => {}
///             () = shutdown.requested() => return,
///         }
///         let status = if database_answers().await {
///             ServingStatus::Serving
///         } else {
///             ServingStatus::NotServing
///         };
///         // Ignored once the shutdown has begun: a check that races it
///         // cannot report SERVING again.
///         health.set_service_status("shop.Orders", status).await;
///     }
/// }
/// # async fn database_answers() -> bool { true }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let shutdown = Shutdown::new(Duration::from_secs(15));
/// let (health, _health_service) = health_reporter(shutdown.clone());
/// let watcher = tokio::spawn(watch_database(health, shutdown.clone()));
/// shutdown.trigger();
/// watcher.await.unwrap();
/// # }
/// ```
#[derive(Clone)]
pub struct HealthReporter {
    inner: tonic_health::server::HealthReporter,
    shutdown: Shutdown,
}

impl HealthReporter {
    /// Sets the status of the service `S` (a tonic server, by its
    /// [`NamedService::NAME`]) to `SERVING`; ignored once the shutdown has
    /// begun. See the example of [`health_reporter`].
    pub async fn set_serving<S: NamedService>(&self) {
        self.set_service_status(S::NAME, ServingStatus::Serving)
            .await;
    }

    /// Sets the status of the service `S` (a tonic server, by its
    /// [`NamedService::NAME`]) to `NOT_SERVING`; ignored once the shutdown
    /// has begun, when it is `NOT_SERVING` anyway.
    pub async fn set_not_serving<S: NamedService>(&self) {
        self.set_service_status(S::NAME, ServingStatus::NotServing)
            .await;
    }

    /// Sets the status of the service named `service_name` (`""` for the
    /// server as a whole); ignored once the shutdown has begun. See the
    /// example of [`HealthReporter`].
    pub async fn set_service_status(&self, service_name: impl AsRef<str>, status: ServingStatus) {
        let name = service_name.as_ref();
        if self.shutdown.is_requested() {
            tracing::debug!(
                target: "graceful::grpc",
                "health of {name:?} not set to {status}: the shutdown has begun"
            );
            return;
        }
        self.inner.set_service_status(name, status).await;
    }
}

impl fmt::Debug for HealthReporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthReporter").finish_non_exhaustive()
    }
}

/// `grpc.health.v1.Health`, answering from the shutdown first, then from
/// its [`HealthReporter`]. Made by [`health_reporter`], which wraps it in
/// tonic's `HealthServer` to serve.
pub struct HealthService {
    inner: tonic_health::server::HealthService,
    shutdown: Shutdown,
}

impl fmt::Debug for HealthService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthService").finish_non_exhaustive()
    }
}

fn not_serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: WireStatus::NotServing as i32,
    }
}

#[tonic::async_trait]
impl Health for HealthService {
    /// The status of a registered service (`NOT_FOUND` for any other),
    /// `NOT_SERVING` once the shutdown has begun.
    ///
    /// # Errors
    ///
    /// `NOT_FOUND` for a service never registered, as tonic-health answers.
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        let answer = self.inner.check(request).await?;
        if self.shutdown.is_requested() {
            return Ok(Response::new(not_serving()));
        }
        Ok(answer)
    }

    type WatchStream = WatchStream;

    /// The status of a registered service, then every change of it, until
    /// the shutdown: then `NOT_SERVING`, and the stream ends with
    /// `UNAVAILABLE` once draining begins.
    ///
    /// # Errors
    ///
    /// `NOT_FOUND` for a service never registered, as tonic-health
    /// answers. Once open, the stream ends with the error `UNAVAILABLE`
    /// ("server is shutting down") when draining begins.
    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let statuses = self.inner.watch(request).await?.into_inner();
        Ok(Response::new(WatchStream::new(statuses, &self.shutdown)))
    }
}

/// The stream of a `Watch` call: the service's status and its changes,
/// `NOT_SERVING` from the first signal, then the error `UNAVAILABLE` when
/// draining begins, and the end. See [`HealthService`].
pub struct WatchStream {
    statuses: tonic_health::server::WatchStream,
    shutdown: Shutdown,
    stage: Stage,
}

/// Where a [`WatchStream`] is along the shutdown.
enum Stage {
    /// Passing the reporter's statuses on, until the shutdown begins.
    Serving(Requested),
    /// `NOT_SERVING` sent; ends when draining begins.
    Stopping(Draining),
    Ended,
}

impl WatchStream {
    fn new(statuses: tonic_health::server::WatchStream, shutdown: &Shutdown) -> WatchStream {
        WatchStream {
            statuses,
            shutdown: shutdown.clone(),
            stage: Stage::Serving(shutdown.requested()),
        }
    }
}

impl Stream for WatchStream {
    type Item = Result<HealthCheckResponse, Status>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        match &mut this.stage {
            Stage::Serving(requested) => {
                // The shutdown first: a watch opened during the lame duck
                // starts with NOT_SERVING, whatever the reporter last said.
                if Pin::new(requested).poll(cx).is_ready() {
                    this.stage = Stage::Stopping(this.shutdown.draining());
                    return Poll::Ready(Some(Ok(not_serving())));
                }
                let status = ready!(Pin::new(&mut this.statuses).poll_next(cx));
                if status.is_none() {
                    this.stage = Stage::Ended;
                }
                Poll::Ready(status)
            }
            // The reporter is no longer read: nothing it says now is true.
            Stage::Stopping(draining) => {
                ready!(Pin::new(draining).poll(cx));
                this.stage = Stage::Ended;
                Poll::Ready(Some(Err(Status::unavailable("server is shutting down"))))
            }
            Stage::Ended => Poll::Ready(None),
        }
    }
}

impl fmt::Debug for WatchStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream").finish_non_exhaustive()
    }
}
