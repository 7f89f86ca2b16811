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
//! - a stream that ignores the shutdown (`ignore_shutdown: true`) is cut at
//!   the drain deadline, counted, and the exit code is then 3.
//!
//! The service (`Work`, unary; `Ticks`, server streaming) is in
//! `grpc/worker.rs`; tonic-build generates its stubs without protoc
//! (`build.rs`). `PORT` sets the port (default 50051; `0` picks a free
//! one), `HOST` the address to bind (default 127.0.0.1; 0.0.0.0 in a
//! container), `GRACEFUL_TIMEOUT` the shutdown budget. It prints
//! `listening on HOST:PORT` when it accepts.

// A module of its own: the fixture with tonic's own server serves it too.
#[path = "grpc/worker.rs"]
mod worker;

use graceful_rt::{Shutdown, graceful_main};
use worker::WorkerService;
use worker::worker_server::WorkerServer;

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let service = WorkerServer::new(WorkerService::new(shutdown.clone()));
    let router = tonic::service::Routes::new(service).into_axum_router();

    let port: u16 = std::env::var("PORT").map_or(Ok(50051), |port| port.parse())?;
    let host = std::env::var("HOST").unwrap_or_else(|_| "127.0.0.1".to_owned());
    let listener = tokio::net::TcpListener::bind((host.as_str(), port)).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    // Under systemd (Type=notify), this is READY=1.
    shutdown.ready();
    graceful_rt::http::serve(listener, router, shutdown).await?;
    Ok(())
}
