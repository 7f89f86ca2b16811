//! gRPC under the shutdown (feature `tonic-health`): a `grpc.health.v1`
//! service that tells load balancers the truth while the process stops.
//!
//! tonic's routes are an axum `Router`, so [`http::serve`](crate::http::serve)
//! (feature `axum`) serves and drains them like any other: every
//! connection gets GOAWAY, calls in flight finish, and a call still
//! running just before the drain deadline ends with `grpc-status: 14`
//! (UNAVAILABLE), which clients retry. What `serve` cannot know is the
//! application's health service: [`health_reporter`] is tonic-health's,
//! wired to the [`Shutdown`](crate::Shutdown).
//!
//! ```no_run
//! use graceful_rt::grpc::ServingStatus;
//! use graceful_rt::{Shutdown, graceful_main};
//!
//! #[graceful_main(timeout = "15s", drain_delay = "5s")]
//! async fn main(shutdown: Shutdown) -> std::io::Result<()> {
//!     let (health, health_service) = graceful_rt::grpc::health_reporter(&shutdown);
//!     // Your services, as each becomes ready: `set_serving::<FooServer<Foo>>()`,
//!     // or by name.
//!     health.set_service_status("shop.Orders", ServingStatus::Serving).await;
//!     let router = tonic::service::Routes::new(health_service)
//!         // .add_service(FooServer::new(foo))
//!         .into_axum_router();
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:50051").await?;
//!     graceful_rt::http::serve(listener, router, shutdown).await?;
//!     Ok(())
//! }
//! ```

mod health;

pub use health::{HealthReporter, HealthService, WatchStream, health_reporter};
pub use tonic_health::ServingStatus;
