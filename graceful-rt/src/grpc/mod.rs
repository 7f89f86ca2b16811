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
//!     let (health, health_service) = graceful_rt::grpc::health_reporter(shutdown.clone());
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
//!
//! # The drain, seen from a gRPC client
//!
//! - A new client is refused at once once the listener closes
//!   (UNAVAILABLE, which gRPC clients retry); every connection gets GOAWAY,
//!   and calls in flight finish, their trailers included.
//! - A server stream should watch
//!   [`Shutdown::requested`](crate::Shutdown::requested) and end with
//!   `Status::unavailable`, so its client resubscribes elsewhere at once.
//! - A call still running just before the drain deadline is ended by the
//!   server with `grpc-status: 14` (UNAVAILABLE, "server is shutting
//!   down"): a status retry policies retry, never UNKNOWN. A stream whose
//!   client has stopped reading cannot take trailers; its connection is
//!   cut at the drain deadline.
//! - [`Serve::max_connection_age`](crate::http::Serve::max_connection_age)
//!   closes each HTTP/2 connection the drain's way at an age, so clients
//!   pinned to an old instance reconnect through their load balancer
//!   (gRFC A9).
//!
//! Two things clients do, not the server: **tonic's client** fails a call
//! it had queued on a connection as that connection closes, unsent
//! (CANCELLED, "operation was canceled"); it was never processed, so
//! retrying it is safe. **grpcio** given several addresses (`ipv4:a,b`)
//! sends them all as its `:authority`, which is not a valid one: set
//! `grpc.default_authority`. Tested with tonic's client (`tests/grpc.rs`)
//! and with Python's grpcio, gRPC's C core (`tests/grpc_python.rs`),
//! including a rolling restart of two instances under `round_robin`.

mod health;

pub use health::{HealthReporter, HealthService, WatchStream, health_reporter};
pub use tonic_health::ServingStatus;
