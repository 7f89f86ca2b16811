//! Figure 19: as cores grow. axum #3867 measured 1.9× end to end from a
//! waiter every connection shared: 4,096 persistent connections, each
//! holding a server-sent event stream. Here the same app both ways
//! (`tests/fixtures/same_app_*.rs`) serves 4,096 connections at once, each
//! a `GET /events?frames=32` read to its end, with the runtime at 1, 2 and
//! 4 worker threads (`TOKIO_WORKER_THREADS`; this machine has 2 cores):
//! the time from the first request to the last frame, ours against axum's,
//! rounds interleaved (A B A B …), and axum against itself in the same run
//! as the noise floor.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};

use super::{Contender, Spread, ms, runs};

const CONNECTIONS: usize = 4_096;
const FRAMES: usize = 32;
pub(crate) const WORKERS: [usize; 3] = [1, 2, 4];

/// One worker count's figures.
pub(crate) struct Row {
    workers: usize,
    ours_ms: Spread,
    plain_ms: Spread,
    /// ours / axum, pair by pair.
    ratio: Spread,
    /// axum / axum, pair by pair: the noise floor.
    floor: Spread,
}

/// Every worker count: rounds of ours, axum, axum again.
pub(crate) fn figure(ours: &Contender, plain: &Contender) -> Vec<Row> {
    WORKERS
        .iter()
        .map(|&workers| {
            let (mut a, mut b, mut b2) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs(9) {
                a.push(once(ours, workers));
                b.push(once(plain, workers));
                b2.push(once(plain, workers));
            }
            let ratio = a.iter().zip(&b).map(|(a, b)| a / b).collect();
            let floor = b2.iter().zip(&b).map(|(b2, b)| b2 / b).collect();
            let row = Row {
                workers,
                ours_ms: Spread::of(a),
                plain_ms: Spread::of(b),
                ratio: Spread::of(ratio),
                floor: Spread::of(floor),
            };
            eprintln!(
                "sse {workers} workers: ours {} ms, axum {} ms, ratio {}, floor {}",
                row.ours_ms.text(1),
                row.plain_ms.text(1),
                row.ratio.text(3),
                row.floor.text(3)
            );
            row
        })
        .collect()
}

/// Milliseconds from the first request to the last frame of every stream.
fn once(contender: &Contender, workers: usize) -> f64 {
    let contender = Contender {
        label: contender.label,
        program: contender.program.clone(),
        args: contender.args.clone(),
        dir: contender.dir.clone(),
        env: contender
            .env
            .iter()
            .cloned()
            .chain([("TOKIO_WORKER_THREADS".to_owned(), workers.to_string())])
            .collect(),
    };
    let running = contender.start();
    let address = running.address;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let elapsed = runtime.block_on(async move {
        // Connected first, so that the figure is the streams, not the
        // accepts.
        let mut senders = Vec::with_capacity(CONNECTIONS);
        for _ in 0..CONNECTIONS {
            senders.push(connect(address).await);
        }
        let start = Instant::now();
        let tasks: Vec<_> = senders
            .into_iter()
            .map(|mut sender| {
                tokio::spawn(async move {
                    let request = axum::http::Request::get(format!(
                        "http://{address}/events?frames={FRAMES}"
                    ))
                    .body(Empty::<Bytes>::new())
                    .unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    assert_eq!(response.status(), 200);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    let frames = body.windows(6).filter(|window| window == b"data: ").count();
                    assert_eq!(frames, FRAMES, "a stream ended early");
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    });
    running.terminate();
    ms(elapsed)
}

async fn connect(address: SocketAddr) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    sender
}

/// Rows of the benchmark's main table, one a worker count.
pub(crate) fn summary_rows(rows: &[Row]) -> String {
    let mut md = String::new();
    for row in rows {
        let _ = writeln!(
            md,
            "| {CONNECTIONS} server-sent event streams, {} runtime workers: time, ours / `axum::serve` (figure 19) | within the floor | {}: {} ms | {} ms; floor {} | – |",
            row.workers,
            row.ratio.text(3),
            row.ours_ms.text(1),
            row.plain_ms.text(1),
            row.floor.text(3)
        );
    }
    md
}

/// The figure's table.
pub(crate) fn table(rows: &[Row]) -> String {
    let mut md = String::from(
        "| runtime workers | graceful (ms) | `axum::serve` (ms) | ours / axum | axum / axum (noise floor) |\n|---|---|---|---|---|\n",
    );
    for row in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            row.workers,
            row.ours_ms.text(1),
            row.plain_ms.text(1),
            row.ratio.text(3),
            row.floor.text(3)
        );
    }
    let _ = write!(
        md,
        "\n{CONNECTIONS} connections at once, each `GET /events?frames={FRAMES}` read to its end; \
         median (min–max) of {} rounds; the time runs from the first request to the last frame. \
         The bench's client has 2 threads of its own on the same 2 cores.",
        runs(9)
    );
    md
}
