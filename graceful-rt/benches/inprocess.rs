//! In-process figures of the benchmark table (`cargo bench -p graceful-rt`):
//!
//! - **parallel cleanup**: 8 closes of 200 ms each, run by the cleanup
//!   engine; the total over 200 ms (1.00 would be perfect concurrency);
//! - **drain layer cost**: nanoseconds the `DrainService` adds to one
//!   request, calling a trivial service directly (no sockets), against the
//!   same service bare.
//!
//! Each figure is measured several times and reported as min / median /
//! max, printed and written as JSON to
//! `target/graceful-bench/inprocess.json` for the process-level harness
//! (tests/bench/process.rs) to merge into the table of docs/performance.md.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use graceful_rt::{BoxError, Cleanup, Close, Shutdown};

struct Sleeps(Duration);

impl Close for Sleeps {
    async fn close(&self) -> Result<(), BoxError> {
        tokio::time::sleep(self.0).await;
        Ok(())
    }
}

#[derive(Cleanup)]
struct Eight {
    #[cleanup]
    a: Sleeps,
    #[cleanup]
    b: Sleeps,
    #[cleanup]
    c: Sleeps,
    #[cleanup]
    d: Sleeps,
    #[cleanup]
    e: Sleeps,
    #[cleanup]
    f: Sleeps,
    #[cleanup]
    g: Sleeps,
    #[cleanup]
    h: Sleeps,
}

/// A trivial service: answers every request with an empty 200.
#[derive(Clone)]
struct Hello;

impl tower_service::Service<http::Request<()>> for Hello {
    type Response = http::Response<http_body_util::Empty<bytes::Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(http_body_util::Empty::new())))
    }
}

/// Calls `service` `count` times, consuming each response body to its end
/// (as hyper does), and returns the nanoseconds per call.
fn per_call<S, B>(mut service: S, count: u32) -> f64
where
    S: tower_service::Service<http::Request<()>, Response = http::Response<B>, Error = Infallible>,
    B: http_body::Body + Unpin,
{
    let waker = std::task::Waker::noop();
    let mut cx = Context::from_waker(waker);
    let started = Instant::now();
    for _ in 0..count {
        let mut future = std::pin::pin!(service.call(http::Request::new(())));
        let Poll::Ready(Ok(response)) = future.as_mut().poll(&mut cx) else {
            panic!("the service answers at once");
        };
        let mut body = response.into_body();
        while let Poll::Ready(Some(_)) = Pin::new(&mut body).poll_frame(&mut cx) {}
        std::hint::black_box(&body);
    }
    started.elapsed().as_nanos() as f64 / f64::from(count)
}

fn summary(mut values: Vec<f64>) -> [f64; 3] {
    values.sort_by(f64::total_cmp);
    [
        values[0],
        values[values.len() / 2],
        values[values.len() - 1],
    ]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut ratios = Vec::new();
    for _ in 0..5 {
        let close = Duration::from_millis(200);
        let eight = Eight {
            a: Sleeps(close),
            b: Sleeps(close),
            c: Sleeps(close),
            d: Sleeps(close),
            e: Sleeps(close),
            f: Sleeps(close),
            g: Sleeps(close),
            h: Sleeps(close),
        };
        let report = runtime.block_on(eight.cleanup());
        assert!(report.is_ok());
        ratios.push(report.elapsed().as_secs_f64() / close.as_secs_f64());
    }
    let cleanup = summary(ratios);

    let shutdown = Shutdown::new(Duration::from_secs(10));
    let layer = graceful_rt::http::DrainLayer::new(shutdown);
    let (mut bare, mut drained) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        bare.push(per_call(Hello, 1_000_000));
        drained.push(per_call(
            tower_layer::Layer::layer(&layer, Hello),
            1_000_000,
        ));
    }
    let (bare, drained) = (summary(bare), summary(drained));
    let added: Vec<f64> = vec![
        drained[0] - bare[0],
        drained[1] - bare[1],
        drained[2] - bare[2],
    ];

    println!(
        "parallel cleanup, 8 x 200 ms, total / 200 ms: min {:.3} median {:.3} max {:.3}",
        cleanup[0], cleanup[1], cleanup[2]
    );
    println!(
        "drain layer, ns per request: bare {:.1} / with the layer {:.1} (median); added {:.1} ns",
        bare[1], drained[1], added[1]
    );
    let json = format!(
        "{{\"cleanup_ratio\":{{\"min\":{:.4},\"median\":{:.4},\"max\":{:.4}}},\
         \"layer_ns\":{{\"bare\":{:.2},\"drained\":{:.2},\"added\":{:.2}}}}}\n",
        cleanup[0], cleanup[1], cleanup[2], bare[1], drained[1], added[1]
    );
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/graceful-bench");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("inprocess.json"), json).unwrap();
}
