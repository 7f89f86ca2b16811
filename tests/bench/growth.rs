//! Figure 18: as connections grow. The same app both ways
//! (`tests/fixtures/same_app_*.rs`), with N = 100, 1,000 and 10,000:
//!
//! - **idle keep-alive**: N connections each answer one `GET /`, then stay
//!   open and quiet; the exit after SIGTERM, and the memory each
//!   connection holds (RSS growth over the N, after a warm-up of 100);
//!   ours with its default keep-alive hold (500 ms: each idle connection
//!   is held for a next request), ours with a hold of 0, and plain axum;
//! - **busy HTTP/2**: N streams in flight (`GET /slow?ms=1000`, 100 on each
//!   of N/100 connections), SIGTERM once all were sent: streams answered,
//!   the overhang (the exit after the last answer), and memory a stream.
//!
//! The contenders alternate within each size (A B C A B C …). The curves
//! (log axes) are written as `docs/performance-growth.svg`.

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use http_body_util::{BodyExt, Empty};

use super::{Contender, Spread, keep_alive, ms, runs};

pub(crate) const SIZES: [usize; 3] = [100, 1_000, 10_000];

/// What one contender measured at one size.
pub(crate) struct Point {
    pub(crate) exit_ms: Spread,
    pub(crate) bytes_each: Spread,
}

/// One curve: a contender's points, by size.
pub(crate) struct Curve {
    pub(crate) label: &'static str,
    pub(crate) points: Vec<Point>,
}

/// Idle keep-alive connections: exit and memory, every contender.
pub(crate) fn idle(contenders: &[&Contender]) -> Vec<Curve> {
    curves(contenders, "idle", "exit", "a connection", idle_once)
}

/// Curves of `contenders` at every size: `once` measures one run (a time
/// in ms, bytes each), rounds interleaved (A B C A B C …).
fn curves(
    contenders: &[&Contender],
    what: &str,
    time: &str,
    each: &str,
    once: fn(&Contender, usize) -> (f64, f64),
) -> Vec<Curve> {
    let mut curves: Vec<Curve> = contenders
        .iter()
        .map(|contender| Curve {
            label: contender.label,
            points: Vec::new(),
        })
        .collect();
    for size in SIZES {
        let mut times = vec![Vec::new(); contenders.len()];
        let mut bytes = vec![Vec::new(); contenders.len()];
        for _ in 0..runs(3) {
            for (index, contender) in contenders.iter().enumerate() {
                let (ms, each) = once(contender, size);
                times[index].push(ms);
                bytes[index].push(each);
            }
        }
        for (index, curve) in curves.iter_mut().enumerate() {
            let point = Point {
                exit_ms: Spread::of(times[index].clone()),
                bytes_each: Spread::of(bytes[index].clone()),
            };
            eprintln!(
                "growth {what} {size} {}: {time} {} ms, {} B {each}",
                curve.label,
                point.exit_ms.text(1),
                point.bytes_each.text(0)
            );
            curve.points.push(point);
        }
    }
    curves
}

fn idle_once(contender: &Contender, size: usize) -> (f64, f64) {
    let running = contender.start();
    let warm: Vec<TcpStream> = (0..100).map(|_| keep_alive(running.address)).collect();
    let before = running.rss_kib();
    let held: Vec<TcpStream> = (0..size).map(|_| keep_alive(running.address)).collect();
    let after = running.rss_kib();
    // Quiet: longer than the idle grace, so none was used a moment ago.
    thread::sleep(Duration::from_millis(250));
    let exit = ms(running.terminate().0);
    drop((warm, held));
    let each = (after.saturating_sub(before) * 1024) as f64 / size as f64;
    (exit, each)
}

/// Busy HTTP/2 streams: overhang and memory, ours and axum's.
pub(crate) fn busy_http2(contenders: &[&Contender]) -> Vec<Curve> {
    curves(contenders, "busy h2", "overhang", "a stream", busy_once)
}

const STREAMS_A_CONNECTION: usize = 100;

fn busy_once(contender: &Contender, size: usize) -> (f64, f64) {
    let running = contender.start();
    let address = running.address;
    let before = running.rss_kib();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let last_answer = Arc::new(std::sync::Mutex::new(None::<Instant>));
    let connections = size.div_ceil(STREAMS_A_CONNECTION);
    let tasks = runtime.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let stream = tokio::net::TcpStream::connect(address).await.unwrap();
            let (sender, connection) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                hyper_util::rt::TokioIo::new(stream),
            )
            .await
            .unwrap();
            tokio::spawn(connection);
            for _ in 0..STREAMS_A_CONNECTION.min(size) {
                let mut sender = sender.clone();
                let (sent, answered, last_answer) =
                    (sent.clone(), answered.clone(), last_answer.clone());
                tasks.push(tokio::spawn(async move {
                    let request =
                        axum::http::Request::get(format!("http://{address}/slow?ms=1000"))
                            .body(Empty::<Bytes>::new())
                            .unwrap();
                    sender.ready().await.unwrap();
                    let response = sender.send_request(request);
                    sent.fetch_add(1, Ordering::SeqCst);
                    let response = response.await.unwrap();
                    assert_eq!(response.status(), 200);
                    response.into_body().collect().await.unwrap();
                    answered.fetch_add(1, Ordering::SeqCst);
                    *last_answer.lock().unwrap() = Some(Instant::now());
                }));
            }
        }
        tasks
    });
    // Every stream handed to its connection, and a moment for the frames
    // to reach the server and its handlers to begin.
    let until = Instant::now() + Duration::from_secs(30);
    while sent.load(Ordering::SeqCst) < size {
        assert!(Instant::now() < until, "streams were not sent");
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(200));
    let after = running.rss_kib();
    let (_, exited) = running.terminate();
    runtime.block_on(async {
        for task in tasks {
            let _ = task.await;
        }
    });
    let answered = answered.load(Ordering::SeqCst);
    assert_eq!(
        answered, size,
        "{}: streams in flight lost",
        contender.label
    );
    let last = last_answer.lock().unwrap().expect("an answer");
    let overhang = ms(exited.saturating_duration_since(last));
    let each = (after.saturating_sub(before) * 1024) as f64 / size as f64;
    (overhang, each)
}

/// Rows of the benchmark's main table, at the largest size: `idle` holds
/// ours with the default hold, ours with a hold of 0, then axum.
pub(crate) fn summary_rows(idle: &[Curve]) -> String {
    let last = SIZES.len() - 1;
    let size = SIZES[last];
    let point = |index: usize| &idle[index].points[last];
    format!(
        "| exit after SIGTERM with {size} idle keep-alive connections (ms), hold 0 (figure 18) | ≤ 50 | {}; with the default hold (500 ms): {}{} | {} | – |\n\
         | memory a connection, {size} idle keep-alive (bytes of RSS) | – | {} | {} | – |\n",
        point(1).exit_ms.text(1),
        point(0).exit_ms.text(1),
        if point(1).exit_ms.median > 50.0 {
            format!(
                "; the limit: `axum::serve`, which closes the same connections with no drain of its own, takes {:.0} ms (closing {size} sockets, and the exit)",
                point(2).exit_ms.median
            )
        } else {
            String::new()
        },
        point(2).exit_ms.text(1),
        point(0).bytes_each.text(0),
        point(2).bytes_each.text(0),
    )
}

/// The figure's table: one row a size and curve.
pub(crate) fn table(idle: &[Curve], busy: &[Curve]) -> String {
    let mut md = String::from(
        "| N | server | idle keep-alive: exit after SIGTERM (ms) | memory a connection (B) | busy HTTP/2: overhang (ms) | memory a stream (B) |\n|---|---|---|---|---|---|\n",
    );
    for (index, size) in SIZES.iter().enumerate() {
        for curve in idle {
            let busy = busy.iter().find(|busy| busy.label == curve.label);
            let _ = writeln!(
                md,
                "| {size} | {} | {} | {} | {} | {} |",
                curve.label,
                curve.points[index].exit_ms.text(1),
                curve.points[index].bytes_each.text(0),
                busy.map_or("–".to_owned(), |busy| busy.points[index].exit_ms.text(1)),
                busy.map_or("–".to_owned(), |busy| busy.points[index]
                    .bytes_each
                    .text(0)),
            );
        }
    }
    md
}

/// Two plots side by side, log axes: the exit after SIGTERM with N idle
/// keep-alive connections, and the memory a connection holds.
pub(crate) fn svg(idle: &[Curve], path: &Path) {
    const COLOURS: [&str; 4] = ["#1b7837", "#7fbf7b", "#c51b7d", "#2166ac"];
    let (width, height) = (920.0, 380.0);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    type Value = fn(&Point) -> f64;
    let plots: [(&str, Value); 2] = [
        (
            "exit after SIGTERM (ms), N idle keep-alive connections",
            |point| point.exit_ms.median,
        ),
        ("memory a connection (bytes of RSS)", |point| {
            point.bytes_each.median
        }),
    ];
    for (plot, (title, value)) in plots.iter().enumerate() {
        let left = 70.0 + plot as f64 * 460.0;
        let (top, plot_width, plot_height) = (40.0, 360.0, 270.0);
        let values: Vec<f64> = idle
            .iter()
            .flat_map(|curve| curve.points.iter().map(value))
            .map(|value| value.max(0.1))
            .collect();
        let low = values
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .log10()
            .floor();
        let high = values
            .iter()
            .copied()
            .fold(0.0, f64::max)
            .log10()
            .ceil()
            .max(low + 1.0);
        let x = |size: usize| left + ((size as f64).log10() - 2.0) / 2.0 * plot_width;
        let y = |value: f64| {
            top + plot_height - (value.max(0.1).log10() - low) / (high - low) * plot_height
        };
        let _ = writeln!(
            svg,
            "<text x=\"{left}\" y=\"24\" font-weight=\"bold\">{title}</text>\n\
             <rect x=\"{left}\" y=\"{top}\" width=\"{plot_width}\" height=\"{plot_height}\" fill=\"none\" stroke=\"#999\"/>"
        );
        for size in SIZES {
            let _ = writeln!(
                svg,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{size}</text>",
                x(size),
                top + plot_height + 16.0
            );
        }
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">N (log)</text>",
            left + plot_width / 2.0,
            top + plot_height + 34.0
        );
        let mut decade = low;
        while decade <= high {
            let _ = writeln!(
                svg,
                "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#eee\"/>\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
                left + plot_width,
                left - 6.0,
                y(10f64.powf(decade)) + 4.0,
                10f64.powf(decade),
                y = y(10f64.powf(decade)),
            );
            decade += 1.0;
        }
        for (index, curve) in idle.iter().enumerate() {
            let colour = COLOURS[index % COLOURS.len()];
            let points: Vec<String> = SIZES
                .iter()
                .zip(&curve.points)
                .map(|(&size, point)| format!("{:.1},{:.1}", x(size), y(value(point))))
                .collect();
            let _ = writeln!(
                svg,
                "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                points.join(" ")
            );
            if plot == 0 {
                let _ = writeln!(
                    svg,
                    "<text x=\"{}\" y=\"{}\" fill=\"{colour}\">{}</text>",
                    left + 10.0,
                    top + 16.0 + index as f64 * 16.0,
                    curve.label
                );
            }
        }
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg).unwrap();
}
