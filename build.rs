//! Generates the Rust code of the gRPC service of `examples/grpc.rs` (its
//! client and server stubs), which the example and the fixture with tonic's
//! own server (`tests/fixtures/grpc_tonic.rs`) share.
//!
//! No `protoc`: tonic-build's manual builder describes the service in Rust,
//! and the messages are plain structs with prost's derives
//! (`examples/grpc/worker.rs`). That builds on a fresh machine with only
//! crates.io reachable, and it is the cheapest way there: tonic-build needs
//! only `syn` 2, `quote` and `prettyplease` (`syn` 2 is in the build
//! already), and the script runs in milliseconds, once. The alternative, a
//! `.proto` file compiled by a vendored protoc (`protoc-bin-vendored` with
//! `tonic-prost-build`), downloads a prebuilt protoc for every platform and
//! compiles prost-build's code generator (petgraph, regex, prost-types,
//! tempfile, ...) and runs protoc in a subprocess: a dearer build, for
//! four messages.
//!
//! The API, in `.proto` terms, is documented in `examples/grpc/worker.rs`.

use tonic_build::manual::{Builder, Method, Service};

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let method = |name: &str, route: &str, input: &str, output: &str| {
        Method::builder()
            .name(name)
            .route_name(route)
            .input_type(format!("super::{input}"))
            .output_type(format!("super::{output}"))
            .codec_path("tonic_prost::ProstCodec")
    };
    let worker = Service::builder()
        .name("Worker")
        .package("graceful.worker")
        .comment("A unary RPC and a server-streaming one, to show how each drains.")
        .method(
            method("work", "Work", "WorkRequest", "WorkReply")
                .comment("Answers the request's sequence number, after `work_ms` of work.")
                .build(),
        )
        .method(
            method("ticks", "Ticks", "TicksRequest", "Tick")
                .comment("One tick every `every_ms`, until the shutdown (or forever).")
                .server_streaming()
                .build(),
        )
        .build();
    // The file is `$OUT_DIR/graceful.worker.Worker.rs`.
    Builder::new().compile(&[worker]);
}
