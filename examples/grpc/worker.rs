//! The `Worker` gRPC service of `examples/grpc.rs`: its messages, the stubs
//! tonic-build generates for it (`build.rs`), and its implementation.
//!
//! A module of its own so that the fixture with tonic's own server
//! (`tests/fixtures/grpc_tonic.rs`) serves the very same code, and the
//! tests (`tests/grpc.rs`) call it with the same client. In `.proto` terms:
//!
//! ```text
//! syntax = "proto3";
//! package graceful.worker;
//!
//! service Worker {
//!   // Answers the request's sequence number, after `work_ms` of work.
//!   rpc Work(WorkRequest) returns (WorkReply);
//!   // One tick every `every_ms`, until the shutdown (or forever).
//!   rpc Ticks(TicksRequest) returns (stream Tick);
//! }
//!
//! message WorkRequest { uint64 seq = 1; uint64 work_ms = 2; }
//! message WorkReply { uint64 seq = 1; }
//! message TicksRequest { uint64 every_ms = 1; bool ignore_shutdown = 2; }
//! message Tick { uint64 n = 1; }
//! ```

// The generated stubs are `pub`, in a module private to each program.
#![allow(unreachable_pub)]

use std::pin::pin;
use std::time::Duration;

use graceful_rt::Shutdown;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

// `worker_client::WorkerClient`, `worker_server::{Worker, WorkerServer}`.
include!(concat!(env!("OUT_DIR"), "/graceful.worker.Worker.rs"));

/// A unit of work: `seq` is answered back after `work_ms` milliseconds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkRequest {
    /// The caller's sequence number.
    #[prost(uint64, tag = "1")]
    pub seq: u64,
    /// How long the work takes, in milliseconds.
    #[prost(uint64, tag = "2")]
    pub work_ms: u64,
}

/// The answer to a [`WorkRequest`].
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkReply {
    /// The request's sequence number.
    #[prost(uint64, tag = "1")]
    pub seq: u64,
}

/// Asks for a stream of ticks.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TicksRequest {
    /// Milliseconds between two ticks.
    #[prost(uint64, tag = "1")]
    pub every_ms: u64,
    /// Tick on through the shutdown: a stream that never ends, as a
    /// subscription that forgets the shutdown would be.
    #[prost(bool, tag = "2")]
    pub ignore_shutdown: bool,
}

/// One tick of a [`TicksRequest`] stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Tick {
    /// 0, 1, 2, ...
    #[prost(uint64, tag = "1")]
    pub n: u64,
}

/// The implementation of the service. `shutdown` is how streams learn
/// that the process stops.
#[derive(Clone)]
pub struct WorkerService {
    shutdown: Shutdown,
}

impl WorkerService {
    /// The service; its streams end when `shutdown` is requested.
    pub fn new(shutdown: Shutdown) -> WorkerService {
        WorkerService { shutdown }
    }
}

#[tonic::async_trait]
impl worker_server::Worker for WorkerService {
    async fn work(&self, request: Request<WorkRequest>) -> Result<Response<WorkReply>, Status> {
        let WorkRequest { seq, work_ms } = request.into_inner();
        // The server's own record of what it accepted, which the tests
        // compare with what their client was answered.
        println!("accepted {seq}");
        tokio::time::sleep(Duration::from_millis(work_ms)).await;
        Ok(Response::new(WorkReply { seq }))
    }

    type TicksStream = ReceiverStream<Result<Tick, Status>>;

    async fn ticks(
        &self,
        request: Request<TicksRequest>,
    ) -> Result<Response<Self::TicksStream>, Status> {
        let TicksRequest {
            every_ms,
            ignore_shutdown,
        } = request.into_inner();
        let shutdown = self.shutdown.clone();
        let (ticks, stream) = mpsc::channel(4);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(every_ms.max(1)));
            let mut requested = pin!(shutdown.requested());
            for n in 0.. {
                tokio::select! {
                    biased;
                    // UNAVAILABLE is the status gRPC clients retry on: the
                    // client resubscribes, to another instance.
                    () = &mut requested, if !ignore_shutdown => {
                        let _ = ticks.send(Err(Status::unavailable("server is shutting down"))).await;
                        return;
                    }
                    _ = every.tick() => {
                        if ticks.send(Ok(Tick { n })).await.is_err() {
                            return; // The client went away.
                        }
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(stream)))
    }
}
