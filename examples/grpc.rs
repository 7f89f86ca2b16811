//! A gRPC service (tonic) served by `graceful_rt::http::serve`, shut down
//! without failing an RPC the server accepted.
//!
//! ```sh
//! cargo run --example grpc             # then press Ctrl-C, or: kill -TERM <pid>
//! ```
//!
//! tonic's routes become an axum `Router` (`Routes::into_axum_router`),
//! which `serve` runs over HTTP/2 (h2c, prior knowledge, as gRPC clients
//! speak it) and drains at SIGTERM:
//!
//! - every connection gets GOAWAY at once, and the listener closes: a
//!   client's new RPCs go to another instance (here, where there is none,
//!   they fail with UNAVAILABLE, which gRPC clients retry);
//! - RPCs in flight finish, their trailers (`grpc-status`) included;
//! - `Ticks`, a server-streaming RPC, learns of the shutdown from
//!   [`Shutdown::requested`] and ends its stream with UNAVAILABLE ("server
//!   is shutting down"), so its client resubscribes elsewhere at once;
//! - a stream that ignores the shutdown (`ignore_shutdown: true`) is ended
//!   by the server just before the drain deadline, with UNAVAILABLE too;
//!   it is counted as cut, and the exit code is then 3;
//! - `grpc.health.v1.Health` (tonic-health, through
//!   `graceful_rt::grpc::health_reporter`) answers `NOT_SERVING` from the
//!   first signal, to `Check` and to open `Watch` streams, which it ends
//!   when draining begins. The example re-reports `SERVING` every
//!   `HEALTH_EVERY` (default `1s`), as a dependency check would; from the
//!   signal on, those reports are ignored.
//!
//! The service (`Work`, unary; `Ticks`, server streaming) is in
//! `grpc/worker.rs`; tonic-build generates its stubs without protoc
//! (`build.rs`). `PORT` sets the port (default 50051; `0` picks a free
//! one), `HOST` the address to bind (default 127.0.0.1; 0.0.0.0 in a
//! container), `GRACEFUL_TIMEOUT` the shutdown budget, `GRACEFUL_DRAIN_DELAY`
//! the lame duck. `MAX_CONNECTION_AGE` (`30s`, say; off by default) closes
//! each HTTP/2 connection at that age, so clients reconnect through their
//! load balancer to the instances there are now; `MAX_CONNECTION_AGE_GRACE`
//! bounds the streams of an aged connection. It prints
//! `listening on HOST:PORT` when it accepts.

// A module of its own: the fixture with tonic's own server serves it too.
#[path = "grpc/worker.rs"]
mod worker;

use std::time::Duration;

use graceful_rt::grpc::HealthReporter;
use graceful_rt::{Shutdown, graceful_main};
use worker::WorkerService;
use worker::worker_server::WorkerServer;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<(), BoxError> {
    let service = WorkerServer::new(WorkerService::new(shutdown.clone()));
    // NOT_SERVING from the first signal; Watch streams end when draining.
    let (health, health_service) = graceful_rt::grpc::health_reporter(shutdown.clone());
    health.set_serving::<WorkerServer<WorkerService>>().await;
    let router = tonic::service::Routes::new(service)
        .add_service(health_service)
        .into_axum_router();
    tokio::spawn(check_health(
        health,
        duration("HEALTH_EVERY")?.unwrap_or(Duration::from_secs(1)),
    ));

    let port: u16 = std::env::var("PORT").map_or(Ok(50051), |port| port.parse())?;
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    let mut server = graceful_rt::http::serve(listener, router, shutdown.clone());
    if let Some(age) = duration("MAX_CONNECTION_AGE")? {
        server = server.max_connection_age(age);
    }
    if let Some(grace) = duration("MAX_CONNECTION_AGE_GRACE")? {
        server = server.max_connection_age_grace(grace);
    }
    // Under systemd (Type=notify), this is READY=1.
    shutdown.ready();
    server.await?;
    Ok(())
}

/// What a service's dependency check does: every `every`, it finds the
/// worker's dependencies well (here, always) and says so. Once the
/// shutdown has begun, the reporter ignores it: nothing flips the
/// status back to SERVING.
async fn check_health(health: HealthReporter, every: Duration) {
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        health.set_serving::<WorkerServer<WorkerService>>().await;
    }
}

/// The duration in the environment variable `name` (`"30s"`, `"1m"`).
fn duration(name: &str) -> Result<Option<Duration>, BoxError> {
    match std::env::var(name) {
        Ok(value) => humantime::parse_duration(&value)
            .map(Some)
            .map_err(|error| format!("{name}={value:?}: {error}").into()),
        Err(_) => Ok(None),
    }
}
