//! Process-level figures of the benchmark table, side by side with the
//! alternatives, in one run: `cargo bench --bench process` (or
//! `cargo bench --workspace` for every figure).
//!
//! The contenders are the release builds of `examples/service` (ours),
//! `tests/fixtures/baseline_axum.rs` (plain `axum::serve` with
//! `with_graceful_shutdown` and a forced exit timer: what most Rust
//! services do) and the Express server of `../shared/drainbench` (the
//! Node.js article's approach). Figures:
//!
//! 1. exit latency after SIGTERM, idle and with 100 idle keep-alive
//!    connections (20 runs each);
//! 2. overhang: process exit minus the last of 50 in-flight responses;
//! 3. parallel cleanup (from `cargo bench -p graceful-rt`, run first);
//! 4. hot path: requests per second and p99 of `GET /` under `wrk`, ours
//!    against plain `axum::serve`, alternating rounds;
//! 5. memory per idle connection (RSS growth over 2,000 connections);
//! 6. compile cost: clean release build of a hello service with
//!    `#[graceful_main]` against the same with `#[tokio::main]`, and the
//!    proc-macro crates each pulls in; and of a service (tokio `full` and
//!    axum) both ways, clean and after an edit of `main.rs` (incremental
//!    debug build);
//! 7. macro expansion: `cargo check` of 50 `#[derive(Cleanup)]` structs
//!    against 50 plain ones;
//! 8. HTTP/2 load across SIGTERM: streams lost, streams refused, GOAWAY
//!    and exit latency, ours against plain axum, alternating runs;
//! 9. exit latency and code with a client that does not cooperate (half a
//!    request head; a silent HTTP/2 client), ours against plain axum;
//! 10. the same app served both ways: `tests/fixtures/same_app_*.rs`
//!     (three routes, no database) on `#[graceful_main]` + `http::serve`
//!     and on `axum::serve`: throughput and p99 under `wrk`, and idle exit
//!     latency, in interleaved pairs (A B A B …);
//! 11. a restart of a single instance under load (8 closed-loop clients,
//!     half keep-alive: `tests/support/load.rs`, as tests/upgrade.rs):
//!     failed requests, refused connects and the longest time with no
//!     successful response (beside the same under load with no restart),
//!     per restart, for (A) plain axum stopped then started again, (B)
//!     ours stopped then started again, (C) ours upgraded by hand-off
//!     (SIGUSR2), interleaved (A B C A B C …); each failed request is
//!     printed to stderr.
//! 12. gRPC across SIGTERM, `examples/grpc.rs` against the same service on
//!     tonic's own server (`tests/bench/grpc.rs`): unary calls lost and
//!     failed, a stream that ignores the shutdown, and a rolling restart of
//!     two instances under Python grpcio's round_robin.
//! 13. `TCP_NODELAY`, on the same app with it and without it
//!     (`tests/bench/nodelay.rs`): the GOAWAY's latency right after a
//!     PING's answer, and HTTP/2 latency of small responses.
//! 14. queue consumers stopped half-way, then restarted, ours against the
//!     same written with plain tokio and `ctrl_c` (`tests/bench/consumers.rs`):
//!     missing and duplicated messages, RabbitMQ, NATS JetStream and Kafka.
//! 15. kept-alive clients that reuse a connection without checking it
//!     (`tests/bench/keepalive.rs`): requests lost and the exit, with the
//!     keep-alive hold and without, with a lame duck and without, against
//!     plain axum, on loopback and across a path with latency (root).
//! 16. drainbench (`../shared/drainbench`, or `BENCH_DRAINBENCH=<path>`),
//!     every scenario on ours and on plain axum; skipped, saying so, where
//!     the harness is absent.
//! 17. instructions a request under callgrind (`tests/bench/instructions.rs`);
//! 18. as connections grow: exit and memory with 100 to 10,000 idle
//!     connections or busy HTTP/2 streams (`tests/bench/growth.rs`), with
//!     the curves in `docs/performance-growth.svg`;
//! 19. as cores grow: 4,096 server-sent event streams at 1, 2 and 4
//!     runtime workers (`tests/bench/sse.rs`).
//!
//! Every figure is min / median / max over repeated runs, and every
//! comparison is a ratio measured in the same run, because this machine is
//! shared and noisy. Results: `docs/performance.md` (the table, with the
//! command, date, commit and machine) and
//! `target/graceful-bench/results.json`. `BENCH_RUNS=N` overrides every
//! repetition count, and `BENCH_FIGURES=hot,compile` measures only those
//! figures and prints them, without writing the table (`exit`, `overhang`,
//! `hot`, `memory`, `compile`, `expansion`, `h2`, `uncooperative`, `same`,
//! `restart`, `grpc`, `nodelay`, `consumers`, `keepalive`, `drainbench`,
//! `instructions`, `growth`, `sse`, `compile-service`).
//! `BENCH_FIGURES=keepalive-against` with `BENCH_AGAINST=<binary>` sets
//! this build of `examples/service` against another one (built from
//! another commit, say) in figure 15's lame-duck setups across the path,
//! interleaved, 9 rounds; it is not part of the full table. It installs
//! what it needs (wrk from Debian's packages, Express from npm) if it is
//! missing.

// The tests' support: clients (h2, http, load), processes, the Python
// clients and free ports. (Its own `allow` covers the parts a crate does
// not use.)
#[path = "../support/mod.rs"]
mod support;
// The gRPC client of figure 12.
#[allow(dead_code)]
#[path = "../../examples/grpc/worker.rs"]
mod worker;

mod consumers;
mod growth;
mod grpc;
mod instructions;
mod keepalive;
mod nodelay;
mod sse;

use support::{h2, http, load};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// min / median / max of some measurements.
#[derive(Clone, Copy, Debug)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    fn of(mut values: Vec<f64>) -> Spread {
        assert!(!values.is_empty(), "no measurement");
        values.sort_by(f64::total_cmp);
        Spread {
            min: values[0],
            median: values[values.len() / 2],
            max: values[values.len() - 1],
        }
    }

    fn json(&self) -> String {
        format!(
            "{{\"min\":{:.4},\"median\":{:.4},\"max\":{:.4}}}",
            self.min, self.median, self.max
        )
    }

    fn text(&self, digits: usize) -> String {
        format!(
            "{:.digits$} ({:.digits$}–{:.digits$})",
            self.median, self.min, self.max
        )
    }
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bench_dir() -> PathBuf {
    let dir = workspace().join("target/graceful-bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn runs(default: usize) -> usize {
    std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(default)
}

/// Builds release examples with cargo and returns their executables.
fn release_examples(names: &[&str]) -> BTreeMap<String, PathBuf> {
    let mut command = Command::new(env!("CARGO"));
    command.args(["build", "--release", "--quiet", "--message-format=json"]);
    for name in names {
        command.args(["--example", name]);
    }
    let output = command
        .current_dir(workspace())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo build --release failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| message["reason"] == "compiler-artifact")
        .filter_map(|message| {
            let name = message["target"]["name"].as_str()?.to_owned();
            let path = message["executable"].as_str()?;
            names
                .contains(&name.as_str())
                .then(|| (name, PathBuf::from(path)))
        })
        .collect()
}

/// Runs a setup command, failing the benchmark with its output if it fails.
fn setup(what: &str, command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn ensure_wrk() {
    ensure_package("wrk", "--version", "wrk");
}

/// Installs Debian's `package` when `program` does not run.
fn ensure_package(program: &str, version_flag: &str, package: &str) {
    if Command::new(program).arg(version_flag).output().is_ok() {
        return;
    }
    eprintln!("installing {package} from Debian's packages");
    let installed = Command::new("apt-get")
        .args(["install", "-y", package])
        .output();
    if !installed.is_ok_and(|output| output.status.success()) {
        setup("apt-get update", Command::new("apt-get").arg("update"));
        setup(
            &format!("apt-get install -y {package}"),
            Command::new("apt-get").args(["install", "-y", package]),
        );
    }
}

/// A copy of drainbench's Express server with its dependencies installed.
fn express_server() -> PathBuf {
    let source = workspace().join("../shared/drainbench/ref/node-seed");
    let dir = bench_dir().join("node-seed");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["package.json", "package-lock.json", "server.js"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap_or_else(|error| {
            panic!("cannot copy {file} from {}: {error}", source.display())
        });
    }
    if !dir.join("node_modules/express").exists() {
        eprintln!("installing Express with npm");
        setup(
            "npm ci",
            Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--silent"])
                .current_dir(&dir),
        );
    }
    dir
}

/// How to start one contender.
#[derive(Clone)]
struct Contender {
    label: &'static str,
    program: PathBuf,
    args: Vec<String>,
    dir: Option<PathBuf>,
    env: Vec<(String, String)>,
}

struct Running {
    child: Child,
    address: SocketAddr,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Where the server and the load generator of a wrk figure run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cores {
    /// Anywhere: they share both cores, as in production on a small box.
    Shared,
    /// Apart: the server on core 1, wrk on core 0 (`taskset`), so neither
    /// steals the other's cycles and a difference between servers is not
    /// drowned in the scheduler's noise. Each server then runs one runtime
    /// worker (tokio sizes its pool from the CPUs it may use).
    Apart,
}

impl Cores {
    /// The `taskset -c` CPU list of the server and of wrk.
    fn cpus(self) -> (Option<&'static str>, Option<&'static str>) {
        match self {
            Cores::Shared => (None, None),
            Cores::Apart => (Some("1"), Some("0")),
        }
    }
}

/// `program`, run on `cpus` when given (`taskset` execs it: same pid, so
/// signals reach it).
fn command_on(program: impl AsRef<std::ffi::OsStr>, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["-c", cpus]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

impl Contender {
    fn start(&self) -> Running {
        self.start_on(None)
    }

    /// Starts the server, on `cpus` when given.
    fn start_on(&self, cpus: Option<&str>) -> Running {
        let port = free_port();
        let database = bench_dir().join(format!("db-{port}"));
        let _ = std::fs::remove_dir_all(&database);
        let mut command = command_on(&self.program, cpus);
        command
            .args(&self.args)
            .env("PORT", port.to_string())
            .env("DATABASE_PATH", database.join("items.db"))
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("{}: {error}", self.label));
        let stderr = child.stderr.take().unwrap();
        thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
        let address: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let until = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(address).is_err() {
            assert!(
                Instant::now() < until,
                "{} did not start listening",
                self.label
            );
            thread::sleep(Duration::from_millis(5));
        }
        Running { child, address }
    }
}

impl Running {
    /// Sends SIGTERM, and returns when, without waiting for the exit.
    fn sigterm(&self) -> Instant {
        let at = Instant::now();
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        at
    }

    /// Sends SIGTERM and returns how long the process took to exit, and when.
    fn terminate(self) -> (Duration, Instant) {
        let (after, at, _) = self.terminate_with_code();
        (after, at)
    }

    /// Sends SIGTERM and returns how long the process took to exit, when,
    /// and its exit code.
    fn terminate_with_code(self) -> (Duration, Instant, Option<i32>) {
        let Running { mut child, .. } = self;
        let pid = Pid::from_raw(child.id() as i32);
        let (done_tx, done) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let status = child.wait();
            let _ = done_tx.send((Instant::now(), status));
        });
        let sent = Instant::now();
        // ESRCH: it had exited already, and the waiter reaped it (a
        // repeated SIGTERM, after a first one that ended it).
        if let Err(error) = kill(pid, Signal::SIGTERM) {
            assert_eq!(error, nix::errno::Errno::ESRCH, "SIGTERM to {pid}");
        }
        let (exited, status) = done
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| {
                let _ = kill(pid, Signal::SIGKILL);
                panic!("no exit within 30 s of SIGTERM")
            });
        waiter.join().unwrap();
        (
            exited - sent,
            exited,
            status.ok().and_then(|status| status.code()),
        )
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// Figure 1: exit latency after SIGTERM, idle and with 100 idle
/// keep-alive connections.
fn exit_latency(contender: &Contender, keep_alive: usize) -> Spread {
    let values = (0..runs(20))
        .map(|_| {
            let running = contender.start();
            let mut connections = Vec::new();
            for _ in 0..keep_alive {
                let mut stream = http::connect(running.address).unwrap();
                let outcome = http::request(&mut stream, "GET", "/", Duration::from_secs(5));
                assert!(
                    outcome
                        .response()
                        .is_some_and(|response| response.status == 200)
                );
                connections.push(stream);
            }
            if keep_alive > 0 {
                // Idle: longer than any grace given to recently used connections.
                thread::sleep(Duration::from_millis(250));
            }
            ms(running.terminate().0)
        })
        .collect();
    Spread::of(values)
}

/// Figure 2: exit minus the last of 50 in-flight responses.
fn overhang(contender: &Contender) -> Spread {
    let values = (0..runs(5))
        .map(|_| {
            let running = contender.start();
            let address = running.address;
            let clients: Vec<_> = (0..50)
                .map(|_| http::in_flight(address, "/slow?ms=1000", Duration::from_secs(10)))
                .collect();
            thread::sleep(Duration::from_millis(300));
            let (_, exited) = running.terminate();
            let last = clients
                .into_iter()
                .map(|client| client.join().unwrap())
                .map(|outcome| {
                    outcome
                        .response()
                        .expect("an in-flight request was lost")
                        .at
                })
                .max()
                .unwrap();
            ms(exited.saturating_duration_since(last))
        })
        .collect();
    Spread::of(values)
}

/// One wrk round, on `cpus` when given: (requests per second, p99 in ms).
fn wrk(address: SocketAddr, cpus: Option<&str>) -> (f64, f64) {
    let output = command_on("wrk", cpus)
        .args([
            "-t1",
            "-c32",
            "-d5s",
            "--latency",
            &format!("http://{address}/"),
        ])
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    let rps = text
        .lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk's output:\n{text}"));
    let p99 = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("99%"))
        .map(|value| {
            let value = value.trim();
            if let Some(us) = value.strip_suffix("us") {
                us.parse::<f64>().unwrap() / 1e3
            } else if let Some(ms) = value.strip_suffix("ms") {
                ms.parse().unwrap()
            } else {
                value.trim_end_matches('s').parse::<f64>().unwrap() * 1e3
            }
        })
        .unwrap();
    (rps, p99)
}

/// Figure 4: throughput and p99 of ours against plain axum, alternating.
fn hot_path(
    ours: &Contender,
    plain: &Contender,
    pairs: usize,
    cores: Cores,
) -> BTreeMap<&'static str, Spread> {
    let (server_cpus, wrk_cpus) = cores.cpus();
    let (mut rps_ratio, mut p99_ratio) = (Vec::new(), Vec::new());
    let (mut rps_floor, mut p99_floor) = (Vec::new(), Vec::new());
    let (mut our_rps, mut plain_rps, mut our_p99, mut plain_p99) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let measure = |contender: &Contender| {
        let running = contender.start_on(server_cpus);
        let figures = wrk(running.address, wrk_cpus);
        running.terminate();
        figures
    };
    // A B A: ours against the plain server before it, and the plain
    // server against itself, the noise floor.
    for _ in 0..pairs {
        let (prps, pp99) = measure(plain);
        let (orps, op99) = measure(ours);
        let (prps2, pp992) = measure(plain);
        rps_ratio.push(orps / prps);
        p99_ratio.push(op99 / pp99);
        rps_floor.push(prps2 / prps);
        p99_floor.push(pp992 / pp99);
        our_rps.push(orps);
        plain_rps.push(prps);
        our_p99.push(op99);
        plain_p99.push(pp99);
    }
    BTreeMap::from([
        ("rps_ratio", Spread::of(rps_ratio)),
        ("p99_ratio", Spread::of(p99_ratio)),
        ("rps_floor", Spread::of(rps_floor)),
        ("p99_floor", Spread::of(p99_floor)),
        ("ours_rps", Spread::of(our_rps)),
        ("plain_rps", Spread::of(plain_rps)),
        ("ours_p99_ms", Spread::of(our_p99)),
        ("plain_p99_ms", Spread::of(plain_p99)),
    ])
}

/// Figure 10: the same app served by ours and by plain `axum::serve`: the
/// hot path's interleaved wrk pairs, with the server and wrk on cores
/// apart, then three times as many interleaved pairs of idle stops.
fn same_app(ours: &Contender, plain: &Contender) -> BTreeMap<String, Spread> {
    let pairs = runs(9);
    let mut figures: BTreeMap<String, Spread> = hot_path(ours, plain, pairs, Cores::Shared)
        .into_iter()
        .map(|(key, spread)| (key.to_owned(), spread))
        .collect();
    figures.extend(
        hot_path(ours, plain, pairs, Cores::Apart)
            .into_iter()
            .map(|(key, spread)| (format!("pinned_{key}"), spread)),
    );
    let mut exits: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    for _ in 0..pairs * 3 {
        let plain_exit = ms(plain.start().terminate().0);
        let ours_exit = ms(ours.start().terminate().0);
        exits.entry("plain_exit_ms").or_default().push(plain_exit);
        exits.entry("ours_exit_ms").or_default().push(ours_exit);
        exits
            .entry("exit_difference_ms")
            .or_default()
            .push(ours_exit - plain_exit);
    }
    figures.extend(
        exits
            .into_iter()
            .map(|(key, values)| (key.to_owned(), Spread::of(values))),
    );
    figures
}

/// Figure 5: RSS growth per idle keep-alive connection, over 2,000.
fn memory_per_connection(contender: &Contender) -> Spread {
    const CONNECTIONS: usize = 2000;
    let values = (0..runs(3))
        .map(|_| {
            let running = contender.start();
            // Warm the allocator and the runtime with a first wave.
            let warm: Vec<TcpStream> = (0..100).map(|_| keep_alive(running.address)).collect();
            let before = running.rss_kib();
            let held: Vec<TcpStream> = (0..CONNECTIONS)
                .map(|_| keep_alive(running.address))
                .collect();
            thread::sleep(Duration::from_millis(100));
            let after = running.rss_kib();
            drop((warm, held));
            running.terminate();
            (after.saturating_sub(before) * 1024) as f64 / CONNECTIONS as f64
        })
        .collect();
    Spread::of(values)
}

fn keep_alive(address: SocketAddr) -> TcpStream {
    let mut stream = http::connect(address).unwrap();
    let outcome = http::request(&mut stream, "GET", "/", Duration::from_secs(5));
    assert!(
        outcome
            .response()
            .is_some_and(|response| response.status == 200)
    );
    stream
}

/// Figure 8, one contender's runs: what HTTP/2 clients saw.
struct H2Load {
    /// Streams the server had accepted (at or below the final GOAWAY's
    /// last-stream-id, or every stream when no GOAWAY came) and never
    /// answered, summed over the runs.
    lost: usize,
    /// Streams above the last-stream-id: refused, never processed, safe to
    /// retry. Summed over the runs.
    refused: usize,
    /// Streams answered, summed over the runs.
    answered: usize,
    /// From SIGTERM to the last connection's first GOAWAY (ms), per run
    /// where every connection got one.
    goaway_ms: Vec<f64>,
    /// From SIGTERM to the exit (ms), per run.
    exit_ms: Vec<f64>,
}

/// Connections of the HTTP/2 load, and the streams each keeps open.
const H2_CONNECTIONS: usize = 8;
const H2_STREAMS: usize = 8;

/// Figure 8, one run: 8 connections (the frame-level client of the tests),
/// each keeping 8 `GET /` streams open and opening a new one as each ends,
/// until its first GOAWAY (after which an HTTP/2 client opens no stream
/// on the connection); SIGTERM after 1 s.
fn h2_load_run(contender: &Contender, load: &mut H2Load) {
    let running = contender.start();
    let address = running.address;
    let started = Arc::new(Barrier::new(H2_CONNECTIONS + 1));
    let clients: Vec<_> = (0..H2_CONNECTIONS)
        .map(|_| {
            let started = Arc::clone(&started);
            thread::spawn(move || {
                let mut client = h2::Connection::open(address, h2::Pings::Answer).unwrap();
                started.wait();
                loop {
                    let (open, finished, stop) = client.look(|seen| {
                        let stop = seen.closed.is_some() || !seen.goaways.is_empty();
                        (seen.open(), seen.finished, stop)
                    });
                    if stop {
                        break;
                    }
                    if (open..H2_STREAMS).any(|_| client.request("GET", "/").is_err()) {
                        break;
                    }
                    client.wait(Duration::from_millis(20), |seen| {
                        seen.finished > finished || !seen.goaways.is_empty()
                    });
                }
                client.wait(Duration::from_secs(10), |seen| seen.closed.is_some());
                client.snapshot()
            })
        })
        .collect();
    started.wait();
    thread::sleep(Duration::from_secs(1));
    let (exit_after, exited) = running.terminate();
    let sent = exited - exit_after;
    let mut first_goaways = Vec::new();
    for client in clients {
        let seen = client.join().unwrap();
        let last = seen.last_stream().unwrap_or(u32::MAX);
        first_goaways.push(seen.goaways.first().map(|goaway| goaway.at));
        for (&id, stream) in &seen.streams {
            match (stream.answered(), id <= last) {
                (true, _) => load.answered += 1,
                (false, true) => load.lost += 1,
                (false, false) => load.refused += 1,
            }
        }
    }
    if let Some(slowest) = first_goaways.into_iter().collect::<Option<Vec<_>>>() {
        let slowest = slowest.into_iter().max().unwrap();
        load.goaway_ms
            .push(ms(slowest.saturating_duration_since(sent)));
    }
    load.exit_ms.push(ms(exit_after));
}

/// Figure 8: HTTP/2 load across SIGTERM, ours and plain axum alternating.
fn h2_load(ours: &Contender, plain: &Contender) -> [H2Load; 2] {
    let mut loads = [(); 2].map(|()| H2Load {
        lost: 0,
        refused: 0,
        answered: 0,
        goaway_ms: Vec::new(),
        exit_ms: Vec::new(),
    });
    for _ in 0..runs(10) {
        for (contender, load) in [ours, plain].into_iter().zip(loads.iter_mut()) {
            h2_load_run(contender, load);
        }
    }
    loads
}

impl H2Load {
    fn text(&self, runs: usize) -> String {
        format!(
            "{} lost, {} refused, {} answered in {runs} runs; GOAWAY {} ms{}; exit {} ms",
            self.lost,
            self.refused,
            self.answered,
            if self.goaway_ms.is_empty() {
                "never".to_owned()
            } else {
                Spread::of(self.goaway_ms.clone()).text(1)
            },
            if self.goaway_ms.len() < runs {
                format!(" ({} runs without)", runs - self.goaway_ms.len())
            } else {
                String::new()
            },
            Spread::of(self.exit_ms.clone()).text(1)
        )
    }

    fn json(&self) -> String {
        format!(
            "{{\"lost\":{},\"refused\":{},\"answered\":{},\"goaway_ms\":{},\"exit_ms\":{}}}",
            self.lost,
            self.refused,
            self.answered,
            if self.goaway_ms.is_empty() {
                "null".to_owned()
            } else {
                Spread::of(self.goaway_ms.clone()).json()
            },
            Spread::of(self.exit_ms.clone()).json()
        )
    }
}

/// A client that does not cooperate, for figure 9.
#[derive(Clone, Copy, Debug)]
enum Uncooperative {
    /// An HTTP/1.1 connection with half a request head, sent 300 ms before
    /// SIGTERM.
    HalfHead,
    /// An HTTP/2 connection that had one request answered, then reads
    /// nothing (so answers no PING).
    SilentH2,
}

/// Figure 9: exit latency (ms) and exit codes with one client that does
/// not cooperate, per contender, alternating.
fn uncooperative(
    contenders: [&Contender; 2],
    client: Uncooperative,
) -> [(Spread, BTreeMap<Option<i32>, usize>); 2] {
    let mut latencies = [Vec::new(), Vec::new()];
    let mut codes = [BTreeMap::new(), BTreeMap::new()];
    for _ in 0..runs(5) {
        for (index, contender) in contenders.into_iter().enumerate() {
            let running = contender.start();
            let held: Box<dyn std::any::Any> = match client {
                Uncooperative::HalfHead => {
                    let mut stream = http::connect(running.address).unwrap();
                    std::io::Write::write_all(
                        &mut stream,
                        b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ",
                    )
                    .unwrap();
                    Box::new(stream)
                }
                Uncooperative::SilentH2 => {
                    let mut connection =
                        h2::Connection::open(running.address, h2::Pings::Answer).unwrap();
                    connection.request("GET", "/").unwrap();
                    assert!(connection.wait(Duration::from_secs(5), |seen| seen.finished == 1));
                    connection.stop_reading();
                    Box::new(connection)
                }
            };
            thread::sleep(Duration::from_millis(300));
            let (after, _, code) = running.terminate_with_code();
            drop(held);
            latencies[index].push(ms(after));
            *codes[index].entry(code).or_insert(0) += 1;
        }
    }
    let [ours, plain] = latencies;
    let [ours_codes, plain_codes] = codes;
    [
        (Spread::of(ours), ours_codes),
        (Spread::of(plain), plain_codes),
    ]
}

fn exit_text((latency, codes): &(Spread, BTreeMap<Option<i32>, usize>)) -> String {
    let codes = codes
        .iter()
        .map(|(code, count)| match code {
            Some(code) => format!("{count}× code {code}"),
            None => format!("{count}× killed by a signal"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    format!("exit after {} ms ({codes})", latency.text(0))
}

/// Figure 11: the ways of restarting a single instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Restart {
    /// Plain axum: SIGTERM, wait for the exit, start a new process on the
    /// same port.
    PlainStopStart,
    /// Ours, the same way.
    OursStopStart,
    /// Ours upgraded by hand-off: SIGUSR2; the new process inherits the
    /// listening socket, and the old one drains once the new one is ready.
    OursHandOff,
}

/// Figure 11's variants, in the order each run measures them.
const RESTARTS_COMPARED: [Restart; 3] = [
    Restart::PlainStopStart,
    Restart::OursStopStart,
    Restart::OursHandOff,
];
/// Restarts in one run of figure 11.
const RESTARTS: usize = 3;
/// Figure 11's closed-loop clients (half on keep-alive connections).
const RESTART_CLIENTS: usize = 8;
/// Load before the first restart, between the end of one restart and the
/// next, and after the last.
const RESTART_SPACING: Duration = Duration::from_secs(1);
/// How long a start, a hand-off or an exit may take.
const RESTART_BOUND: Duration = Duration::from_secs(30);

impl Restart {
    fn label(self) -> &'static str {
        match self {
            Restart::PlainStopStart => {
                "A: plain axum (`with_graceful_shutdown`), stopped (SIGTERM) then started"
            }
            Restart::OursStopStart => "B: graceful, stopped (SIGTERM) then started",
            Restart::OursHandOff => "C: graceful, upgraded by hand-off (SIGUSR2)",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Restart::PlainStopStart => "plain_stop_start",
            Restart::OursStopStart => "ours_stop_start",
            Restart::OursHandOff => "ours_hand_off",
        }
    }
}

/// Figure 11, one variant: a value per restart, over every run.
#[derive(Default)]
struct RestartFigures {
    /// Requests written and not answered with a 2xx (lost, reset, another
    /// status).
    failed: Vec<f64>,
    /// Connects refused (a client tries again 5 ms after a refusal).
    refused: Vec<f64>,
    /// The longest time with no successful response, among the holes
    /// between consecutive 2xx responses that overlap the restart's window
    /// (from its signal to the next restart's, or the end of the load).
    gap_ms: Vec<f64>,
    /// The same, under the same load with no restart: over the half
    /// second before the first restart, once per run (the noise floor of
    /// the gap on this machine).
    steady_gap_ms: Vec<f64>,
    /// From the signal to a new process accepting on the port (stop then
    /// start: seen by a connect every millisecond, so it includes this
    /// benchmark's own waits on a loaded machine), or to its pid in the PID
    /// file (hand-off).
    serving_ms: Vec<f64>,
}

impl RestartFigures {
    fn row(&self, restart: Restart) -> String {
        format!(
            "| {} | {} | {} | {} | {} | {} |",
            restart.label(),
            Spread::of(self.failed.clone()).text(0),
            Spread::of(self.refused.clone()).text(0),
            Spread::of(self.gap_ms.clone()).text(1),
            Spread::of(self.steady_gap_ms.clone()).text(1),
            Spread::of(self.serving_ms.clone()).text(1)
        )
    }

    fn json(&self) -> String {
        format!(
            "{{\"failed\":{},\"refused\":{},\"gap_ms\":{},\"steady_gap_ms\":{},\"serving_ms\":{}}}",
            Spread::of(self.failed.clone()).json(),
            Spread::of(self.refused.clone()).json(),
            Spread::of(self.gap_ms.clone()).json(),
            Spread::of(self.steady_gap_ms.clone()).json(),
            Spread::of(self.serving_ms.clone()).json()
        )
    }
}

/// Figure 11's table heading.
fn restart_heading(runs: usize) -> String {
    format!(
        "| restart of one instance under load ({RESTART_CLIENTS} closed-loop clients, half \
         keep-alive; {RESTARTS} restarts × {runs} runs, interleaved) | failed requests per \
         restart | refused connects per restart | longest gap without a 2xx (ms) | the same \
         with no restart (ms) | signal → new process accepting (stop then start) or ready \
         (hand-off) (ms) |\n|---|---|---|---|---|---|"
    )
}

/// A free port below the kernel's ephemeral range, for an instance that is
/// restarted on it: while no instance listens, a port inside the range
/// could be given to a client's own connection, which would then connect
/// to itself and hold the port.
fn restart_port() -> u16 {
    use std::hash::BuildHasher as _;
    let ephemeral_low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<u16>().ok())
        .unwrap_or(32768);
    let low = ephemeral_low.saturating_sub(20_000).max(10_000);
    let random = std::collections::hash_map::RandomState::new();
    (0u64..200)
        .map(|attempt| low + (random.hash_one(attempt) % u64::from(ephemeral_low - low)) as u16)
        .find(|&port| TcpListener::bind(("127.0.0.1", port)).is_ok())
        .unwrap_or_else(|| panic!("no free port in 127.0.0.1:{low}..{ephemeral_low}"))
}

/// The processes of one run of figure 11, known by pid (this benchmark is
/// a child subreaper: a process an upgrade started becomes its child when
/// its parent exits, and is waited for like the first), sharing a
/// directory (database, PID file) and a port; their stderr, for failures.
struct RestartInstances {
    contender: Contender,
    dir: PathBuf,
    address: SocketAddr,
    stderr: Arc<std::sync::Mutex<Vec<String>>>,
}

impl RestartInstances {
    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }

    /// Starts a process and waits until it accepts on the port.
    fn start(&self) -> Pid {
        // Waited for by pid (`waitpid`), as the processes an upgrade starts
        // are.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(&self.contender.program)
            .args(&self.contender.args)
            .env("PORT", self.address.port().to_string())
            .env("DATABASE_PATH", self.dir.join("items.db"))
            .env("GRACEFUL_PID_FILE", self.dir.join("service.pid"))
            .envs(self.contender.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("{}: {error}", self.contender.label));
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::clone(&self.stderr);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        });
        let pid = Pid::from_raw(child.id() as i32);
        let until = Instant::now() + RESTART_BOUND;
        while TcpStream::connect(self.address).is_err() {
            if let Some(code) = self.ended(pid) {
                panic!(
                    "{} exited ({code:?}) before listening on {}:\n{}",
                    self.contender.label,
                    self.address,
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < until,
                "{} did not listen on {} within {RESTART_BOUND:?}:\n{}",
                self.contender.label,
                self.address,
                self.stderr()
            );
            thread::sleep(Duration::from_millis(1));
        }
        pid
    }

    /// `Some(exit code)` (`None` inside for a death by signal) once the
    /// process `pid`, a child, has ended.
    fn ended(&self, pid: Pid) -> Option<Option<i32>> {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => None,
            Ok(WaitStatus::Exited(_, code)) => Some(Some(code)),
            Ok(_) => Some(None),
            Err(error) => panic!("waitpid({pid}): {error}"),
        }
    }

    /// Waits for the process `pid` to end; its exit code.
    fn wait(&self, pid: Pid) -> Option<i32> {
        let until = Instant::now() + RESTART_BOUND;
        loop {
            if let Some(code) = self.ended(pid) {
                return code;
            }
            if Instant::now() >= until {
                let _ = kill(pid, Signal::SIGKILL);
                panic!(
                    "pid {pid} ({}) did not exit within {RESTART_BOUND:?}:\n{}",
                    self.contender.label,
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// The pid in the PID file, if there is one.
    fn pid_in_file(&self) -> Option<Pid> {
        std::fs::read_to_string(self.dir.join("service.pid"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .map(Pid::from_raw)
    }

    /// SIGUSR2 to `old`; waits until the PID file holds another pid, then
    /// for `old`'s exit. The new pid, and when it was ready.
    fn hand_off(&self, old: Pid) -> (Pid, Instant) {
        kill(old, Signal::SIGUSR2).unwrap();
        let until = Instant::now() + RESTART_BOUND;
        let (new, ready) = loop {
            if let Some(new) = self.pid_in_file().filter(|&pid| pid != old) {
                break (new, Instant::now());
            }
            if let Some(code) = self.ended(old) {
                panic!(
                    "pid {old} exited ({code:?}) before another pid was in the PID file:\n{}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < until,
                "no hand-off within {RESTART_BOUND:?} of SIGUSR2:\n{}",
                self.stderr()
            );
            thread::sleep(Duration::from_millis(1));
        };
        let code = self.wait(old);
        assert_eq!(
            code,
            Some(0),
            "pid {old} after handing over:\n{}",
            self.stderr()
        );
        (new, ready)
    }
}

/// Figure 11, one run of one variant: the load, [`RESTARTS`] restarts
/// [`RESTART_SPACING`] apart, and what each one's window saw.
fn restart_run(restart: Restart, contender: &Contender, figures: &mut RestartFigures) {
    let dir = bench_dir().join(format!("restart-{}", restart.key()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let instances = RestartInstances {
        contender: contender.clone(),
        dir,
        address: SocketAddr::from(([127, 0, 0, 1], restart_port())),
        stderr: Arc::default(),
    };
    let mut pid = instances.start();
    let load = load::Load::start(instances.address, RESTART_CLIENTS);
    thread::sleep(RESTART_SPACING);
    let mut signals = Vec::new();
    for _ in 0..RESTARTS {
        let sent = Instant::now();
        let serving = match restart {
            Restart::PlainStopStart | Restart::OursStopStart => {
                kill(pid, Signal::SIGTERM).unwrap();
                instances.wait(pid);
                pid = instances.start();
                Instant::now()
            }
            Restart::OursHandOff => {
                let (new, ready) = instances.hand_off(pid);
                pid = new;
                ready
            }
        };
        signals.push(sent);
        figures.serving_ms.push(ms(serving - sent));
        thread::sleep(RESTART_SPACING);
    }
    let tally = load.finish();
    let end = Instant::now();
    kill(pid, Signal::SIGTERM).unwrap();
    instances.wait(pid);
    // What the failures were: the table has only their counts.
    for event in tally.failed.iter().chain(&tally.reset) {
        let after = signals
            .iter()
            .rev()
            .find(|&&sent| sent <= event.at)
            .map_or_else(
                || "before the first restart".to_owned(),
                |&sent| format!("{:.1} ms after a restart's signal", ms(event.at - sent)),
            );
        eprintln!(
            "{}: failed {after}, {}: {}",
            restart.label(),
            event.client(),
            event.what
        );
    }

    let mut answered = tally.answered.clone();
    answered.push(end);
    let longest_gap = |from: Instant, until: Instant| {
        answered
            .windows(2)
            .filter(|pair| pair[1] > from && pair[0] < until)
            .map(|pair| pair[1] - pair[0])
            .max()
            .unwrap_or_default()
    };
    figures.steady_gap_ms.push(ms(longest_gap(
        signals[0] - RESTART_SPACING / 2,
        signals[0],
    )));
    for (index, &from) in signals.iter().enumerate() {
        let until = signals.get(index + 1).copied().unwrap_or(end);
        let within = |events: &[load::Event]| {
            events
                .iter()
                .filter(|event| event.at >= from && event.at < until)
                .count() as f64
        };
        figures
            .failed
            .push(within(&tally.failed) + within(&tally.reset));
        figures.refused.push(within(&tally.refused));
        figures.gap_ms.push(ms(longest_gap(from, until)));
    }
}

/// Figure 11: each variant's runs, interleaved (A B C A B C …).
fn restart_figure(ours: &Contender, plain: &Contender) -> [RestartFigures; 3] {
    nix::sys::prctl::set_child_subreaper(true).expect("prctl(PR_SET_CHILD_SUBREAPER)");
    let mut figures = [(); 3].map(|()| RestartFigures::default());
    for _ in 0..runs(5) {
        for (restart, figures) in RESTARTS_COMPARED.into_iter().zip(figures.iter_mut()) {
            let contender = match restart {
                Restart::PlainStopStart => plain,
                Restart::OursStopStart | Restart::OursHandOff => ours,
            };
            restart_run(restart, contender, figures);
        }
    }
    figures
}

/// A scratch crate for the compile-cost figures.
fn scratch_crate(name: &str, dependencies: &str, main: &str) -> PathBuf {
    let dir = bench_dir().join("compile").join(name);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dependencies]\n{dependencies}\n\n[workspace]\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.join("src/main.rs"), main).unwrap();
    dir
}

fn timed_cargo(dir: &Path, args: &[&str], target: &Path) -> f64 {
    timed_cargo_with(dir, args, target, false)
}

/// `cargo args` in `dir`, timed; with incremental compilation when asked
/// (a developer's debug builds have it), and then through the wrappers of
/// [`StepTimes`], which time the compiler and the linker.
fn timed_cargo_with(dir: &Path, args: &[&str], target: &Path, incremental: bool) -> f64 {
    let mut command = Command::new(env!("CARGO"));
    command
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env("CARGO_INCREMENTAL", if incremental { "1" } else { "0" });
    if incremental {
        StepTimes::wrap(&mut command);
    }
    let started = Instant::now();
    setup(
        &format!("cargo {} in {}", args.join(" "), dir.display()),
        &mut command,
    );
    started.elapsed().as_secs_f64()
}

/// Where an incremental debug build spends its time: rustc's wall time,
/// from a wrapper cargo runs in its place (`RUSTC_WRAPPER`: a bash script
/// that reads `EPOCHREALTIME`, no fork, and appends a line to a log, a
/// few milliseconds a build on both sides), and the linker's own, from
/// its trace (`-C link-arg=-Wl,--time-trace=...`: rustc's default linker
/// on x86_64 Linux, its own lld, is kept; a linker of one's own, `cc`
/// through a wrapper, made GNU ld link instead: `axum::serve`'s link took
/// 0.70 s that way, and 0.15 s with lld in the next run).
/// Whatever the build takes beyond rustc is cargo's own (its
/// fingerprints, its locks, its processes).
struct StepTimes;

impl StepTimes {
    fn dir() -> PathBuf {
        bench_dir().join("compile/step-times")
    }

    fn log() -> PathBuf {
        Self::dir().join("rustc.log")
    }

    fn trace() -> PathBuf {
        Self::dir().join("link-trace.json")
    }

    /// Sets `command`'s cargo to run rustc through the wrapper, and the
    /// linker with its trace, writing the wrapper first.
    fn wrap(command: &mut Command) {
        let dir = Self::dir();
        std::fs::create_dir_all(&dir).unwrap();
        let script = format!(
            "#!/bin/bash\nstart=$EPOCHREALTIME\n\"$@\"\nstatus=$?\n\
             echo \"$start $EPOCHREALTIME\" >> {:?}\nexit $status\n",
            Self::log()
        );
        let wrapper = dir.join("timed-rustc");
        if std::fs::read_to_string(&wrapper).ok().as_deref() != Some(script.as_str()) {
            std::fs::write(&wrapper, &script).unwrap();
            let mut permissions = std::fs::metadata(&wrapper).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
            std::fs::set_permissions(&wrapper, permissions).unwrap();
        }
        command
            .env("RUSTC_WRAPPER", wrapper)
            .env(
                "RUSTFLAGS",
                format!("-C link-arg=-Wl,--time-trace={}", Self::trace().display()),
            )
            .env_remove("CARGO_ENCODED_RUSTFLAGS");
    }

    /// Empties the log and the trace.
    fn reset() {
        let _ = std::fs::remove_file(Self::log());
        let _ = std::fs::remove_file(Self::trace());
    }

    /// Seconds in rustc (the link included) and in the linker since the
    /// last [`reset`](Self::reset).
    fn read() -> (f64, f64) {
        let text = std::fs::read_to_string(Self::log()).unwrap_or_default();
        let rustc: f64 = text
            .lines()
            .map(|line| {
                let (start, end) = line
                    .split_once(' ')
                    .unwrap_or_else(|| panic!("a line of the rustc log: {line:?}"));
                end.parse::<f64>().unwrap() - start.parse::<f64>().unwrap()
            })
            .sum();
        let link = std::fs::read(Self::trace()).map_or(0.0, |trace| {
            let trace: serde_json::Value = serde_json::from_slice(&trace).unwrap();
            trace["traceEvents"]
                .as_array()
                .unwrap()
                .iter()
                .find(|event| event["name"] == "Total ExecuteLinker")
                .and_then(|event| event["dur"].as_f64())
                .expect("the linker's total in its trace")
                / 1e6
        });
        (rustc, link)
    }
}

/// The proc-macro crates in a crate's build, and the syn versions.
fn proc_macros(dir: &Path) -> (Vec<String>, Vec<String>) {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(dir)
        .output()
        .unwrap();
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let used: Vec<&str> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|node| node["id"].as_str())
        .collect();
    let mut macros = Vec::new();
    let mut syns = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        if !used.contains(&package["id"].as_str().unwrap()) {
            continue;
        }
        let name = package["name"].as_str().unwrap();
        let version = package["version"].as_str().unwrap();
        let is_macro = package["targets"].as_array().unwrap().iter().any(|target| {
            target["kind"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind == "proc-macro")
        });
        if is_macro {
            macros.push(format!("{name} {version}"));
        }
        if name == "syn" {
            syns.push(version.to_owned());
        }
    }
    macros.sort();
    (macros, syns)
}

/// What figure 6 measured.
struct CompileCost {
    ours: Spread,
    tokio: Spread,
    ratio: Spread,
    /// graceful-rt rebuilt alone (see [`own_rebuild`]).
    own: Spread,
    /// Proc-macro crates and syn versions, ours then `#[tokio::main]`'s.
    ours_macros: (Vec<String>, Vec<String>),
    tokio_macros: (Vec<String>, Vec<String>),
}

/// Figure 6b: what a real service starts from (tokio with `full`, and
/// axum), both ways: `axum::serve` with a signal future written by hand,
/// and `#[graceful_main]` with `http::serve`. A clean release build, and
/// the build a developer waits for all day: a debug build, incremental,
/// after an edit of `main.rs`. Once on HTTP/1.1 (axum's default features,
/// graceful-rt's `axum`), once with HTTP/2 too (axum's `http2`,
/// graceful-rt's `http2`): the same protocols both ways.
struct ServiceCompileCost {
    http2: bool,
    clean_ours: Spread,
    clean_theirs: Spread,
    clean_ratio: Spread,
    /// graceful-rt rebuilt alone in the clean build's target (see
    /// [`own_rebuild`]).
    own: Spread,
    edit_ours: Spread,
    edit_theirs: Spread,
    edit_ratio: Spread,
    edit_steps: EditSteps,
}

fn service_compile_cost(http2: bool) -> ServiceCompileCost {
    let graceful_rt = workspace().join("graceful-rt");
    let (suffix, axum, feature) = if http2 {
        (
            "-h2",
            "axum = { version = \"0.8\", features = [\"http2\"] }",
            "http2",
        )
    } else {
        ("", "axum = \"0.8\"", "axum")
    };
    let common = format!("tokio = {{ version = \"1\", features = [\"full\"] }}\n{axum}\n");
    let ours = scratch_crate(
        &format!("service-graceful{suffix}"),
        &format!("{common}graceful-rt = {{ path = {graceful_rt:?}, features = [\"{feature}\"] }}"),
        "use axum::{Router, routing::get};\n\n\
         #[graceful_rt::graceful_main(timeout = \"9s\")]\n\
         async fn main(shutdown: graceful_rt::Shutdown) -> std::io::Result<()> {\n    \
         let app = Router::new().route(\"/\", get(|| async { \"hello\" }));\n    \
         let listener = tokio::net::TcpListener::bind(\"127.0.0.1:3000\").await?;\n    \
         graceful_rt::http::serve(listener, app, shutdown).await?;\n    Ok(())\n}\n",
    );
    let theirs = scratch_crate(
        &format!("service-axum{suffix}"),
        &common,
        "use axum::{Router, routing::get};\n\n\
         #[tokio::main]\n\
         async fn main() -> std::io::Result<()> {\n    \
         let app = Router::new().route(\"/\", get(|| async { \"hello\" }));\n    \
         let listener = tokio::net::TcpListener::bind(\"127.0.0.1:3000\").await?;\n    \
         axum::serve(listener, app)\n        .with_graceful_shutdown(async {\n            \
         let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();\n            \
         tokio::select! { _ = term.recv() => {} _ = tokio::signal::ctrl_c() => {} }\n        })\n        .await\n}\n",
    );
    for dir in [&ours, &theirs] {
        setup(
            "cargo fetch",
            Command::new(env!("CARGO")).arg("fetch").current_dir(dir),
        );
    }
    let mut clean = (Vec::new(), Vec::new(), Vec::new());
    let mut own = Vec::new();
    let mut edit = (Vec::new(), Vec::new(), Vec::new());
    let mut steps = Vec::new();
    // graceful-rt's and axum's debug libraries, measured in the first run.
    let mut rlibs = None;
    for run in 0..runs(3) {
        let target = bench_dir().join(format!("compile/service{suffix}-target-{run}"));
        let _ = std::fs::remove_dir_all(&target);
        let targets = [target.join("0"), target.join("1")];
        let mut times = [0.0; 2];
        for (index, dir) in [&theirs, &ours].into_iter().enumerate() {
            times[index] = timed_cargo(dir, &["build", "--release", "--quiet"], &targets[index]);
            if index == 1 {
                own.push(own_rebuild(dir, &targets[index]));
            }
            // A debug build to start from, and a first edit, whose rebuild
            // also fills the incremental cache (not counted).
            timed_cargo_with(dir, &["build", "--quiet"], &targets[index], true);
            if index == 1 {
                rlibs.get_or_insert_with(|| {
                    (
                        rlib_bytes(&targets[index], "graceful_rt"),
                        rlib_bytes(&targets[index], "axum"),
                    )
                });
            }
            edit_and_rebuild(dir, &targets[index], &format!("{run} warm-up"));
        }
        let [clean_theirs, clean_ours] = times;
        clean.0.push(clean_ours);
        clean.1.push(clean_theirs);
        clean.2.push(clean_ours / clean_theirs);
        // The rebuilds after an edit take under half a second: many
        // pairs, interleaved, each its own ratio.
        for pair in 0..EDIT_PAIRS {
            let theirs = edit_and_rebuild(&theirs, &targets[0], &format!("{run}.{pair}"));
            let ours = edit_and_rebuild(&ours, &targets[1], &format!("{run}.{pair}"));
            edit.0.push(ours.total);
            edit.1.push(theirs.total);
            edit.2.push(ours.total / theirs.total);
            steps.push((ours, theirs));
        }
        let _ = std::fs::remove_dir_all(&target);
    }
    ServiceCompileCost {
        http2,
        clean_ours: Spread::of(clean.0),
        clean_theirs: Spread::of(clean.1),
        clean_ratio: Spread::of(clean.2),
        own: Spread::of(own),
        edit_ours: Spread::of(edit.0),
        edit_theirs: Spread::of(edit.1),
        edit_ratio: Spread::of(edit.2),
        edit_steps: EditSteps::of(&steps, rlibs.expect("a run measured the libraries")),
    }
}

/// Bytes of the debug build's library of `krate` in `target`.
fn rlib_bytes(target: &Path, krate: &str) -> u64 {
    let prefix = format!("lib{krate}-");
    let sizes: Vec<u64> = std::fs::read_dir(target.join("debug/deps"))
        .unwrap()
        .flatten()
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix) && name.ends_with(".rlib")
        })
        .map(|entry| entry.metadata().unwrap().len())
        .collect();
    assert_eq!(sizes.len(), 1, "{krate}'s rlib in {}", target.display());
    sizes[0]
}

/// Where the rebuilds after an edit differ, ours less the baseline, pair
/// by pair, in milliseconds: the link, the rest of rustc, cargo's own.
struct EditSteps {
    link: Spread,
    compile: Spread,
    cargo: Spread,
    /// The baseline's own steps, for scale.
    theirs_link: Spread,
    theirs_compile: Spread,
    theirs_cargo: Spread,
    /// The debug build's libraries of graceful-rt and of axum, in bytes:
    /// what the linker reads of each.
    rlibs: (u64, u64),
}

impl EditSteps {
    fn of(pairs: &[(Rebuild, Rebuild)], rlibs: (u64, u64)) -> EditSteps {
        let spread = |step: fn(&Rebuild) -> f64, ours: bool| {
            Spread::of(
                pairs
                    .iter()
                    .map(|(o, t)| 1e3 * if ours { step(o) - step(t) } else { step(t) })
                    .collect(),
            )
        };
        EditSteps {
            link: spread(|r| r.link, true),
            compile: spread(Rebuild::compile, true),
            cargo: spread(Rebuild::cargo, true),
            theirs_link: spread(|r| r.link, false),
            theirs_compile: spread(Rebuild::compile, false),
            theirs_cargo: spread(Rebuild::cargo, false),
            rlibs,
        }
    }

    /// What the row says when its ratio misses `goal`.
    fn limit(&self, ratio: &Spread, goal: f64) -> String {
        if ratio.median <= goal {
            return String::new();
        }
        format!(
            "; where ours takes longer, pair by pair (ms, ours less `axum::serve`'s, whose own are \
             {:.0} / {:.0} / {:.0}): the link {}, the rest of rustc {}, cargo's own {}: the \
             limit is the code ours links in (graceful-rt's debug library: {:.1} MB, axum's \
             {:.1} MB)",
            self.theirs_link.median,
            self.theirs_compile.median,
            self.theirs_cargo.median,
            self.link.text(0),
            self.compile.text(0),
            self.cargo.text(0),
            self.rlibs.0 as f64 / 1e6,
            self.rlibs.1 as f64 / 1e6,
        )
    }

    fn json(&self) -> String {
        format!(
            "{{\"ms_more\":{{\"link\":{},\"rustc_without_link\":{},\"cargo\":{}}},\
             \"ms_axum\":{{\"link\":{},\"rustc_without_link\":{},\"cargo\":{}}},\
             \"rlib_bytes\":{{\"graceful_rt\":{},\"axum\":{}}}}}",
            self.link.json(),
            self.compile.json(),
            self.cargo.json(),
            self.theirs_link.json(),
            self.theirs_compile.json(),
            self.theirs_cargo.json(),
            self.rlibs.0,
            self.rlibs.1,
        )
    }
}

/// Interleaved edit-and-rebuild pairs in each run of figure 6b.
const EDIT_PAIRS: usize = 9;

/// The incremental debug rebuild of `dir` after an edit of its `main.rs`
/// (a comment appended; the file is restored afterwards): seconds in all,
/// and in its steps.
fn edit_and_rebuild(dir: &Path, target: &Path, edit: &str) -> Rebuild {
    let main = dir.join("src/main.rs");
    let text = std::fs::read_to_string(&main).unwrap();
    std::fs::write(&main, format!("{text}// edit {edit}\n")).unwrap();
    StepTimes::reset();
    let total = timed_cargo_with(dir, &["build", "--quiet"], target, true);
    let (rustc, link) = StepTimes::read();
    std::fs::write(&main, text).unwrap();
    Rebuild { total, rustc, link }
}

/// Seconds of a rebuild after an edit: in all, in rustc (the link
/// included), in the linker.
#[derive(Clone, Copy)]
struct Rebuild {
    total: f64,
    rustc: f64,
    link: f64,
}

impl Rebuild {
    /// rustc without the link.
    fn compile(&self) -> f64 {
        self.rustc - self.link
    }

    /// cargo's own: the rebuild beyond rustc.
    fn cargo(&self) -> f64 {
        self.total - self.rustc
    }
}

/// Seconds to build graceful-rt again, alone, in `target`, where the
/// release build of `dir` is complete: its fingerprint removed, then
/// `cargo build -p graceful-rt` (the same features, so the same artifact;
/// `cargo clean -p graceful-rt` would also remove hyper's and axum's).
/// The part of ours that no dependency shares and the baseline does not
/// build; it starts after tokio (and axum), on the critical path.
fn own_rebuild(dir: &Path, target: &Path) -> f64 {
    let fingerprints = target.join("release/.fingerprint");
    let mut removed = 0;
    for entry in std::fs::read_dir(&fingerprints).unwrap().flatten() {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("graceful-rt-")
        {
            std::fs::remove_dir_all(entry.path()).unwrap();
            removed += 1;
        }
    }
    assert_eq!(
        removed,
        1,
        "graceful-rt's fingerprint in {}",
        fingerprints.display()
    );
    timed_cargo(
        dir,
        &["build", "--release", "--quiet", "-p", "graceful-rt"],
        target,
    )
}

/// A row's goal for a ratio, ours / `axum::serve`.
#[derive(Clone, Copy)]
enum Goal {
    /// Throughput: at least this.
    AtLeast(f64),
    /// Latency: at most this.
    AtMost(f64),
}

/// What a same-app row says when its ratio misses its goal by less than
/// the noise moves the baseline against itself: the span of the floor,
/// and the count the noise cannot move.
fn within_noise(ratio: &Spread, goal: Goal, floor: &Spread) -> String {
    let missed_within_floor = match goal {
        Goal::AtLeast(goal) => ratio.median < goal && ratio.median >= floor.min,
        Goal::AtMost(goal) => ratio.median > goal && ratio.median <= floor.max,
    };
    if !missed_within_floor {
        return String::new();
    }
    format!(
        "; the limit: the noise, which moves `axum::serve` against itself from {:.3} to {:.3} \
         in this run, around this ratio; instructions a request (figure 17), which it \
         cannot move, are the measure",
        floor.min, floor.max
    )
}

/// What a clean-build row says when its ratio misses `goal`: the part of
/// ours no dependency shares, against what the goal leaves for it.
fn build_limit(ratio: &Spread, goal: f64, own: &Spread, theirs: &Spread) -> String {
    if ratio.median <= goal {
        return String::new();
    }
    format!(
        "; the limit: graceful-rt itself, built after tokio (and axum) on the critical path: \
         built alone, it takes {} s, where the goal leaves {:.1} s for all that \
         ours adds",
        own.text(1),
        (goal - 1.0) * theirs.median
    )
}

impl ServiceCompileCost {
    fn rows(&self) -> String {
        let what = if self.http2 {
            "HTTP/2 too (axum's `http2`, graceful-rt's `http2`)"
        } else {
            "HTTP/1.1 (axum's defaults, graceful-rt's `axum`)"
        };
        let theirs = "`axum::serve`";
        format!(
            "| a service (tokio `full` + axum), {what}: clean release build, ours / {theirs} | ≤ 1.10 | {}: {} s{} | {} s | – |\n\
             | the same: debug rebuild after an edit of `main.rs`, incremental, ours / {theirs} ({} interleaved pairs) | ≤ 1.05 | {}: {} s{} | {} s | – |\n",
            self.clean_ratio.text(3),
            self.clean_ours.text(1),
            build_limit(&self.clean_ratio, 1.10, &self.own, &self.clean_theirs),
            self.clean_theirs.text(1),
            runs(3) * EDIT_PAIRS,
            self.edit_ratio.text(3),
            self.edit_ours.text(2),
            self.edit_steps.limit(&self.edit_ratio, 1.05),
            self.edit_theirs.text(2),
        )
    }

    fn json(&self) -> String {
        format!(
            "{{\"clean\":{{\"graceful\":{},\"axum\":{},\"ratio\":{},\"graceful_rt_alone\":{}}},\
             \"edit\":{{\"graceful\":{},\"axum\":{},\"ratio\":{},\"steps\":{}}}}}",
            self.clean_ours.json(),
            self.clean_theirs.json(),
            self.clean_ratio.json(),
            self.own.json(),
            self.edit_ours.json(),
            self.edit_theirs.json(),
            self.edit_ratio.json(),
            self.edit_steps.json(),
        )
    }
}

/// Figure 6: clean release builds, ours against `#[tokio::main]`.
fn compile_cost() -> CompileCost {
    let graceful_rt = workspace().join("graceful-rt");
    // The same program both ways: wait for the signal, then say goodbye.
    let ours = scratch_crate(
        "hello-graceful",
        &format!("graceful-rt = {{ path = {:?} }}", graceful_rt),
        "#[graceful_rt::graceful_main(timeout = \"5s\")]\nasync fn main(shutdown: graceful_rt::Shutdown) {\n    \
         shutdown.requested().await;\n    println!(\"goodbye\");\n}\n",
    );
    let theirs = scratch_crate(
        "hello-tokio",
        "tokio = { version = \"1\", features = [\"rt-multi-thread\", \"macros\", \"signal\"] }",
        "#[tokio::main]\nasync fn main() {\n    tokio::signal::ctrl_c().await.unwrap();\n    println!(\"goodbye\");\n}\n",
    );
    // Fetch once, outside the timing.
    for dir in [&ours, &theirs] {
        setup(
            "cargo fetch",
            Command::new(env!("CARGO")).arg("fetch").current_dir(dir),
        );
    }
    let (mut ours_s, mut theirs_s, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    let mut own = Vec::new();
    for run in 0..runs(3) {
        let target = bench_dir().join(format!("compile/target-{run}"));
        let _ = std::fs::remove_dir_all(&target);
        let t = timed_cargo(
            &theirs,
            &["build", "--release", "--quiet"],
            &target.join("tokio"),
        );
        let o = timed_cargo(
            &ours,
            &["build", "--release", "--quiet"],
            &target.join("graceful"),
        );
        own.push(own_rebuild(&ours, &target.join("graceful")));
        let _ = std::fs::remove_dir_all(&target);
        ours_s.push(o);
        theirs_s.push(t);
        ratio.push(o / t);
    }
    CompileCost {
        ours: Spread::of(ours_s),
        tokio: Spread::of(theirs_s),
        ratio: Spread::of(ratio),
        own: Spread::of(own),
        ours_macros: proc_macros(&ours),
        tokio_macros: proc_macros(&theirs),
    }
}

/// Figure 7: `cargo check` of 50 derived structs against 50 plain ones.
fn expansion_cost() -> (Spread, Spread, Spread) {
    let graceful_rt = workspace().join("graceful-rt");
    let mut derived = String::from(
        "use graceful_rt::{BoxError, Cleanup, Close};\n\nstruct Pool;\nimpl Close for Pool {\n    async fn close(&self) -> Result<(), BoxError> { Ok(()) }\n}\n\n",
    );
    let mut plain = String::from("struct Pool;\n\n");
    for index in 0..50 {
        let _ = write!(
            derived,
            "#[derive(Cleanup)]\n#[allow(dead_code)]\nstruct State{index} {{\n    #[cleanup]\n    db: Pool,\n    #[cleanup(timeout = \"2s\", after = \"db\")]\n    cache: Pool,\n    #[cleanup(name = \"queue\")]\n    broker: Pool,\n    config: String,\n}}\n\n"
        );
        let _ = write!(
            plain,
            "#[allow(dead_code)]\nstruct State{index} {{\n    db: Pool,\n    cache: Pool,\n    broker: Pool,\n    config: String,\n}}\n\n"
        );
    }
    derived.push_str("fn main() {}\n");
    plain.push_str("fn main() {}\n");
    let dependency = format!("graceful-rt = {{ path = {:?} }}", graceful_rt);
    let with_derive = scratch_crate("expand-derive", &dependency, &derived);
    let without = scratch_crate("expand-plain", &dependency, &plain);
    let target = bench_dir().join("compile/expand-target");
    // Dependencies checked once, outside the timing.
    timed_cargo(&with_derive, &["check", "--quiet"], &target);
    timed_cargo(&without, &["check", "--quiet"], &target);
    let (mut d, mut p, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs(5) {
        for dir in [&with_derive, &without] {
            let main = dir.join("src/main.rs");
            let text = std::fs::read_to_string(&main).unwrap();
            std::fs::write(&main, text).unwrap();
        }
        let dt = timed_cargo(&with_derive, &["check", "--quiet"], &target);
        let pt = timed_cargo(&without, &["check", "--quiet"], &target);
        d.push(dt * 1e3);
        p.push(pt * 1e3);
        added.push((dt - pt) * 1e3 / 50.0);
    }
    (Spread::of(d), Spread::of(p), Spread::of(added))
}

/// The drainbench harness (`../shared/drainbench/drainbench.py` beside the
/// workspace, or `BENCH_DRAINBENCH=<path>`) on ours and on plain axum, every
/// scenario, 10 load runs each: its markdown comparison table, or a line
/// saying why it was not run. drainbench is not part of this repository;
/// the figure is skipped, and says so, where it is absent.
fn drainbench(ours: &Contender, axum: &Contender) -> String {
    let script = std::env::var_os("BENCH_DRAINBENCH")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("../shared/drainbench/drainbench.py"));
    if !script.is_file() {
        return format!(
            "drainbench: not run ({} not found; set BENCH_DRAINBENCH=<path to drainbench.py>)",
            script.display()
        );
    }
    let dir = bench_dir();
    let mut reports = Vec::new();
    for (contender, name) in [(ours, "graceful"), (axum, "axum")] {
        let json = dir.join(format!("drainbench-{name}.json"));
        let status = Command::new("python3")
            .arg(&script)
            .arg("--cmd")
            .arg(&contender.program)
            .args(["--label", contender.label, "--scenario", "all"])
            .args(["--load-runs", &runs(10).to_string()])
            .args(["--expected-timeout-ms", "3000", "--quiet", "--json"])
            .arg(&json)
            .status()
            .expect("python3 runs drainbench");
        assert!(status.success(), "drainbench failed on {}", contender.label);
        reports.push(json);
    }
    let md = dir.join("drainbench.md");
    let status = Command::new("python3")
        .arg(&script)
        .arg("--combine")
        .args(&reports)
        .arg("--md")
        .arg(&md)
        .arg("--quiet")
        .status()
        .expect("python3 runs drainbench --combine");
    assert!(status.success(), "drainbench --combine failed");
    // Its headings, one level under the figure's.
    std::fs::read_to_string(&md)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("# "))
        .map(|line| match line.strip_prefix("## ") {
            Some(heading) => format!("### {heading}\n"),
            None => format!("{line}\n"),
        })
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Figure 18: the growth table, and its curves in
/// `docs/performance-growth.svg`.
/// Returns the figure's section and its rows of the main table.
fn growth_figure(ours: &Contender, no_hold: &Contender, plain: &Contender) -> (String, String) {
    let idle = growth::idle(&[ours, no_hold, plain]);
    let busy = growth::busy_http2(&[ours, plain]);
    growth::svg(&idle, &workspace().join("docs/performance-growth.svg"));
    (
        format!(
            "{}\n![exit and memory against idle keep-alive connections, log axes](performance-growth.svg)",
            growth::table(&idle, &busy)
        ),
        growth::summary_rows(&idle),
    )
}

/// Figure 17 on its own: `instructions` prints it, `instructions-check`
/// fails (exit code 1) when ours moved past the recorded counts,
/// `instructions-record` records them.
fn instructions_figure(mode: &str) {
    ensure_package("valgrind", "--version", "valgrind");
    let binaries = release_examples(&["fixture-same-app-graceful", "fixture-same-app-axum"]);
    let servers = instructions::Servers {
        ours: &binaries["fixture-same-app-graceful"],
        axum: &binaries["fixture-same-app-axum"],
    };
    let counts = instructions::measure(&servers, &bench_dir());
    println!("{}", counts.table());
    match mode {
        "instructions-record" => {
            counts.record(&workspace());
            println!("recorded in tests/bench/instructions.txt");
        }
        "instructions-check" => {
            let problems = counts.check(&workspace());
            if !problems.is_empty() {
                eprintln!(
                    "instructions a request moved past 1% of tests/bench/instructions.txt:\n  {}\n\
                     If that is intended, record the new counts on purpose and say why in the commit:\n    \
                     BENCH_FIGURES=instructions-record cargo bench --bench process",
                    problems.join("\n  ")
                );
                std::process::exit(1);
            }
            println!("instructions a request: within 1% of tests/bench/instructions.txt");
        }
        _ => {}
    }
}

/// `docs/performance.md`: the table, under the command that made it, when
/// and where. Written by the bench only; edits by hand are overwritten.
fn write_performance(tables: &str) {
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(workspace())
        .output()
        .ok()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    let machine = Command::new("uname")
        .args(["-srm"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    let cores = thread::available_parallelism().map_or(0, usize::from);
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .unwrap_or_default();
    let text = format!(
        "# Performance\n\n\
         Written by `cargo bench --bench process` (after `cargo bench -p graceful-rt \
         --features axum` for the in-process rows), {date}, at commit {commit}, on \
         {machine} with {cores} cores; every figure is the median (min–max) of \
         repeated runs, every comparison is measured in the same run, and the \
         figures' methods are in tests/bench/process.rs. Do not edit: the next run \
         replaces this file.\n\n{tables}"
    );
    let path = workspace().join("docs/performance.md");
    std::fs::write(&path, text).unwrap();
    println!("written to {}", path.display());
}

fn main() {
    if std::env::args().any(|arg| arg == "--list" || arg.starts_with("--format")) {
        // `cargo bench -- --list`: nothing to list.
        return;
    }
    // Instructions a request (figure 17) need only the same app's two
    // builds and valgrind: the CI check runs this alone.
    if let Ok(mode @ ("instructions" | "instructions-check" | "instructions-record")) =
        std::env::var("BENCH_FIGURES").as_deref()
    {
        return instructions_figure(mode);
    }
    ensure_wrk();
    let binaries = release_examples(&[
        "service",
        "fixture-baseline-axum",
        "fixture-same-app-graceful",
        "fixture-same-app-axum",
        "grpc",
        "fixture-grpc-tonic",
    ]);
    let grpc_binaries = grpc::Binaries {
        ours: binaries["grpc"].clone(),
        tonic: binaries["fixture-grpc-tonic"].clone(),
    };
    let express = express_server();
    let timeout = [("GRACEFUL_TIMEOUT".to_owned(), "3s".to_owned())];
    let ours = Contender {
        label: "graceful",
        program: binaries["service"].clone(),
        args: vec![],
        dir: None,
        env: timeout.to_vec(),
    };
    let axum = Contender {
        label: "axum with_graceful_shutdown",
        program: binaries["fixture-baseline-axum"].clone(),
        args: vec![],
        dir: None,
        env: timeout.to_vec(),
    };
    let node = Contender {
        label: "Express (Node.js article)",
        program: PathBuf::from("node"),
        args: vec!["server.js".to_owned()],
        dir: Some(express),
        env: vec![("SHUTDOWN_TIMEOUT_MS".to_owned(), "3000".to_owned())],
    };
    let contenders = [&ours, &axum, &node];
    let same_ours = Contender {
        label: "same app: graceful_main + http::serve",
        program: binaries["fixture-same-app-graceful"].clone(),
        args: vec![],
        dir: None,
        env: vec![],
    };
    let same_plain = Contender {
        label: "same app: axum::serve",
        program: binaries["fixture-same-app-axum"].clone(),
        args: vec![],
        dir: None,
        env: vec![],
    };
    let same_no_hold = Contender {
        label: "same app: graceful_main + http::serve, hold 0",
        program: binaries["fixture-same-app-graceful"].clone(),
        args: vec![],
        dir: None,
        env: vec![("SAME_APP_HOLD".to_owned(), "0".to_owned())],
    };

    if let Ok(figures) = std::env::var("BENCH_FIGURES") {
        for figure in figures.split(',').map(str::trim) {
            match figure {
                "exit" => {
                    for contender in contenders {
                        let idle = exit_latency(contender, 0);
                        let keep = exit_latency(contender, 100);
                        println!(
                            "exit {}: idle {} ms, 100 keep-alive {} ms",
                            contender.label,
                            idle.text(1),
                            keep.text(1)
                        );
                    }
                }
                "overhang" => {
                    for contender in contenders {
                        println!(
                            "overhang {}: {} ms",
                            contender.label,
                            overhang(contender).text(1)
                        );
                    }
                }
                "hot" => {
                    for (key, spread) in hot_path(&ours, &axum, runs(5), Cores::Shared) {
                        println!("hot {key}: {}", spread.text(3));
                    }
                }
                "memory" => {
                    for contender in [&ours, &axum] {
                        println!(
                            "memory {}: {} bytes",
                            contender.label,
                            memory_per_connection(contender).text(0)
                        );
                    }
                }
                "compile" => {
                    let cost = compile_cost();
                    println!(
                        "compile: ours {} s, tokio::main {} s, ratio {}; graceful-rt alone {} s",
                        cost.ours.text(1),
                        cost.tokio.text(1),
                        cost.ratio.text(2),
                        cost.own.text(1)
                    );
                }
                "compile-service" => {
                    for http2 in [false, true] {
                        print!("{}", service_compile_cost(http2).rows());
                    }
                }
                "expansion" => {
                    let (derived, plain, added) = expansion_cost();
                    println!(
                        "expansion: {} vs {} ms; {} ms a struct",
                        derived.text(0),
                        plain.text(0),
                        added.text(2)
                    );
                }
                "h2" => {
                    let loads = h2_load(&ours, &axum);
                    for (contender, load) in [&ours, &axum].into_iter().zip(&loads) {
                        println!("h2 load {}: {}", contender.label, load.text(runs(10)));
                    }
                }
                "uncooperative" => {
                    for client in [Uncooperative::HalfHead, Uncooperative::SilentH2] {
                        let exits = uncooperative([&ours, &axum], client);
                        for (contender, exit) in [&ours, &axum].into_iter().zip(&exits) {
                            println!("{client:?} {}: {}", contender.label, exit_text(exit));
                        }
                    }
                }
                "same" => {
                    for (key, spread) in same_app(&same_ours, &same_plain) {
                        println!("same app {key}: {}", spread.text(3));
                    }
                }
                "restart" => {
                    let figures = restart_figure(&ours, &axum);
                    println!("{}", restart_heading(runs(5)));
                    for (restart, figures) in RESTARTS_COMPARED.into_iter().zip(&figures) {
                        println!("{}", figures.row(restart));
                    }
                }
                "grpc" => println!("{}", grpc::figure(&grpc_binaries, runs(5))),
                "nodelay" => println!("{}", nodelay::figure(&same_ours, runs(9))),
                "consumers" => println!("{}", consumers::figure(runs(10))),
                "keepalive" => println!(
                    "{}",
                    keepalive::figure(
                        &binaries["service"],
                        &binaries["fixture-baseline-axum"],
                        runs(3)
                    )
                ),
                "keepalive-against" => {
                    let other = std::env::var_os("BENCH_AGAINST").expect(
                        "keepalive-against needs BENCH_AGAINST=<another build of examples/service>",
                    );
                    println!(
                        "{}",
                        keepalive::against(&binaries["service"], Path::new(&other), runs(9))
                    );
                }
                "drainbench" => println!("{}", drainbench(&ours, &axum)),
                "growth" => {
                    let (section, rows) = growth_figure(&same_ours, &same_no_hold, &same_plain);
                    println!("{rows}\n{section}");
                }
                "sse" => println!("{}", sse::table(&sse::figure(&same_ours, &same_plain))),
                other => panic!("unknown figure {other:?}"),
            }
        }
        return;
    }

    eprintln!("1. exit latency (idle, then 100 idle keep-alive connections)");
    let idle: Vec<Spread> = contenders
        .iter()
        .map(|contender| exit_latency(contender, 0))
        .collect();
    let keep: Vec<Spread> = contenders
        .iter()
        .map(|contender| exit_latency(contender, 100))
        .collect();
    eprintln!("2. overhang (50 in-flight 1 s requests)");
    let over: Vec<Spread> = contenders
        .iter()
        .map(|contender| overhang(contender))
        .collect();
    eprintln!("4. hot path (wrk, alternating rounds)");
    let hot = hot_path(&ours, &axum, runs(5), Cores::Shared);
    eprintln!("5. memory per idle connection");
    let memory: Vec<Spread> = [&ours, &axum]
        .iter()
        .map(|contender| memory_per_connection(contender))
        .collect();
    eprintln!("6. compile cost (clean release builds)");
    let CompileCost {
        ours: ours_build,
        tokio: tokio_build,
        ratio: build_ratio,
        own: own_build,
        ours_macros,
        tokio_macros,
    } = compile_cost();
    eprintln!("6b. compile cost of a service (tokio full + axum): clean, and an edit");
    let service_compile = [service_compile_cost(false), service_compile_cost(true)];
    eprintln!("7. macro expansion cost (cargo check)");
    let (derived, plain, per_struct) = expansion_cost();
    eprintln!("8. HTTP/2 load across SIGTERM");
    let h2 = h2_load(&ours, &axum);
    eprintln!("9. clients that do not cooperate");
    let half_head = uncooperative([&ours, &axum], Uncooperative::HalfHead);
    let silent_h2 = uncooperative([&ours, &axum], Uncooperative::SilentH2);
    eprintln!("10. the same app, served both ways");
    let same = same_app(&same_ours, &same_plain);
    eprintln!("11. a restart of one instance under load");
    let restart = restart_figure(&ours, &axum);
    eprintln!("12. gRPC across SIGTERM");
    let grpc = grpc::figure(&grpc_binaries, runs(5));
    eprintln!("13. TCP_NODELAY");
    let nodelay = nodelay::figure(&same_ours, runs(9));
    eprintln!("14. queue consumers stopped half-way");
    let consumers = consumers::figure(runs(10));
    eprintln!("15. kept-alive clients that reuse without checking");
    let keepalive = keepalive::figure(
        &binaries["service"],
        &binaries["fixture-baseline-axum"],
        runs(3),
    );
    eprintln!("17. instructions a request (callgrind)");
    ensure_package("valgrind", "--version", "valgrind");
    let instructions = instructions::measure(
        &instructions::Servers {
            ours: &binaries["fixture-same-app-graceful"],
            axum: &binaries["fixture-same-app-axum"],
        },
        &bench_dir(),
    );
    eprintln!("18. as connections grow");
    let (growth, growth_rows) = growth_figure(&same_ours, &same_no_hold, &same_plain);
    eprintln!("19. as cores grow");
    let sse_rows = sse::figure(&same_ours, &same_plain);
    let sse = sse::table(&sse_rows);
    eprintln!("16. drainbench, every scenario");
    let drainbench = drainbench(&ours, &axum);
    let inprocess: Option<serde_json::Value> =
        std::fs::read_to_string(bench_dir().join("inprocess.json"))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok());

    let mut md = String::from(
        "| figure | goal | graceful | axum `with_graceful_shutdown` | Express (Node.js article) |\n|---|---|---|---|---|\n",
    );
    let row = |md: &mut String, figure: &str, goal: &str, values: &[String]| {
        let _ = writeln!(md, "| {figure} | {goal} | {} |", values.join(" | "));
    };
    row(
        &mut md,
        "exit after SIGTERM, idle (ms)",
        "≤ 5",
        &idle.iter().map(|s| s.text(1)).collect::<Vec<_>>(),
    );
    row(
        &mut md,
        "exit after SIGTERM, 100 idle keep-alive (ms)",
        "≤ 510: the keep-alive hold (500 ms by default; figure 15 for why), then ≤ 10",
        &keep.iter().map(|s| s.text(1)).collect::<Vec<_>>(),
    );
    row(
        &mut md,
        "overhang: exit − last of 50 in-flight responses (ms)",
        "≤ 5",
        &over.iter().map(|s| s.text(1)).collect::<Vec<_>>(),
    );
    match inprocess.as_ref().map(|value| &value["cleanup_ratio"]) {
        Some(ratio) => row(
            &mut md,
            "parallel cleanup, 8 × 200 ms: total / 200 ms",
            "≤ 1.05",
            &[
                format!(
                    "{:.3} ({:.3}–{:.3})",
                    ratio["median"].as_f64().unwrap(),
                    ratio["min"].as_f64().unwrap(),
                    ratio["max"].as_f64().unwrap()
                ),
                "–".into(),
                "–".into(),
            ],
        ),
        None => row(
            &mut md,
            "parallel cleanup",
            "≤ 1.05",
            &[
                "run `cargo bench -p graceful-rt` first".into(),
                "–".into(),
                "–".into(),
            ],
        ),
    }
    row(
        &mut md,
        "throughput of `GET /`, examples/service / plain `axum::serve` (two different apps, 5 rounds, no noise floor: the fair comparison is the same app's, below)",
        "–",
        &[
            hot["rps_ratio"].text(3),
            format!("{:.0} req/s", hot["plain_rps"].median),
            "–".into(),
        ],
    );
    row(
        &mut md,
        "p99 latency of `GET /`, examples/service / plain (as above; the same app's below)",
        "–",
        &[
            hot["p99_ratio"].text(3),
            format!("{:.2} ms", hot["plain_p99_ms"].median),
            "–".into(),
        ],
    );
    if let Some(layer) = inprocess.as_ref().map(|value| &value["layer_ns"]) {
        row(
            &mut md,
            "drain layer, added per request (ns, in process)",
            "–",
            &[
                format!("{:.1}", layer["added"].as_f64().unwrap()),
                "–".into(),
                "–".into(),
            ],
        );
    }
    row(
        &mut md,
        "memory per idle keep-alive connection (bytes of RSS)",
        "–",
        &[memory[0].text(0), memory[1].text(0), "–".into()],
    );
    row(
        &mut md,
        "clean release build of a hello service (s), ours / `#[tokio::main]`",
        "≤ 1.10",
        &[
            format!(
                "{} (ratio {}){}",
                ours_build.text(1),
                build_ratio.text(2),
                build_limit(&build_ratio, 1.10, &own_build, &tokio_build)
            ),
            format!("tokio::main: {}", tokio_build.text(1)),
            "–".into(),
        ],
    );
    for service in &service_compile {
        md.push_str(&service.rows());
    }
    row(
        &mut md,
        "proc-macro crates in that build (syn versions)",
        "one syn",
        &[
            format!(
                "{}: {} (syn {})",
                ours_macros.0.len(),
                ours_macros.0.join(", "),
                ours_macros.1.join(", ")
            ),
            format!(
                "tokio::main: {}: {} (syn {})",
                tokio_macros.0.len(),
                tokio_macros.0.join(", "),
                tokio_macros.1.join(", ")
            ),
            "–".into(),
        ],
    );
    row(
        &mut md,
        "`cargo check` of 50 `#[derive(Cleanup)]` structs vs 50 plain (ms); added per struct",
        "–",
        &[
            format!(
                "{} vs {}; {} ms",
                derived.text(0),
                plain.text(0),
                per_struct.text(2)
            ),
            "–".into(),
            "–".into(),
        ],
    );
    row(
        &mut md,
        &format!(
            "HTTP/2 load across SIGTERM ({H2_CONNECTIONS} connections × {H2_STREAMS} streams of `GET /`, {} runs)",
            runs(10)
        ),
        "0 lost",
        &[h2[0].text(runs(10)), h2[1].text(runs(10)), "–".into()],
    );
    for (figure, exits) in [
        (
            "half an HTTP/1.1 request head held across SIGTERM, 3 s budget",
            &half_head,
        ),
        (
            "a silent HTTP/2 client (reads nothing) across SIGTERM, 3 s budget",
            &silent_h2,
        ),
    ] {
        row(
            &mut md,
            figure,
            "exit 0 within 1.5 s",
            &[exit_text(&exits[0]), exit_text(&exits[1]), "–".into()],
        );
    }
    for (prefix, how) in [
        ("", "unpinned"),
        ("pinned_", "wrk and the server on cores apart"),
    ] {
        row(
            &mut md,
            &format!(
                "same app: throughput of `GET /`, ours / `axum::serve` (wrk, {how}, {} rounds A B A); `axum::serve` / itself: the noise floor",
                runs(9)
            ),
            "≥ 0.99",
            &[
                format!(
                    "{}: {} req/s{}",
                    same[&format!("{prefix}rps_ratio")].text(3),
                    same[&format!("{prefix}ours_rps")].text(0),
                    within_noise(
                        &same[&format!("{prefix}rps_ratio")],
                        Goal::AtLeast(0.99),
                        &same[&format!("{prefix}rps_floor")]
                    )
                ),
                format!(
                    "`axum::serve`: {} req/s; floor {}",
                    same[&format!("{prefix}plain_rps")].text(0),
                    same[&format!("{prefix}rps_floor")].text(3)
                ),
                "–".into(),
            ],
        );
        row(
            &mut md,
            &format!("same app: p99 latency of `GET /`, ours / `axum::serve` ({how})"),
            "≤ 1.05",
            &[
                format!(
                    "{}: {} ms{}",
                    same[&format!("{prefix}p99_ratio")].text(3),
                    same[&format!("{prefix}ours_p99_ms")].text(2),
                    within_noise(
                        &same[&format!("{prefix}p99_ratio")],
                        Goal::AtMost(1.05),
                        &same[&format!("{prefix}p99_floor")]
                    )
                ),
                format!(
                    "`axum::serve`: {} ms; floor {}",
                    same[&format!("{prefix}plain_p99_ms")].text(2),
                    same[&format!("{prefix}p99_floor")].text(3)
                ),
                "–".into(),
            ],
        );
    }
    row(
        &mut md,
        "same app: exit after SIGTERM, idle (ms); ours − `axum::serve` in each pair",
        "≤ +0.3",
        &[
            format!(
                "{}; {}{}",
                same["ours_exit_ms"].text(2),
                same["exit_difference_ms"].text(2),
                if same["exit_difference_ms"].median > 0.3 {
                    "; the limit: drain step 2 asks the kernel for the handshakes under way \
                     (netlink sock_diag), and the kernel walks its whole TCP hash to answer \
                     (1.4 ms of an idle exit under `strace -ttt` here, 262,144 buckets)"
                } else {
                    ""
                }
            ),
            format!("`axum::serve`: {}", same["plain_exit_ms"].text(2)),
            "–".into(),
        ],
    );
    md.push_str(&instructions.summary_rows());
    md.push_str(&growth_rows);
    md.push_str(&sse::summary_rows(&sse_rows));
    let _ = writeln!(md, "\n{}", restart_heading(runs(5)));
    for (kind, figures) in RESTARTS_COMPARED.into_iter().zip(&restart) {
        let _ = writeln!(md, "{}", figures.row(kind));
    }
    let _ = writeln!(md, "\n{grpc}");
    let _ = writeln!(md, "\n{nodelay}");
    let _ = writeln!(md, "\n```text\n{consumers}\n```");
    let _ = writeln!(md, "\n{keepalive}");
    let _ = writeln!(
        md,
        "\n## Instructions a request (figure 17)\n\n{}",
        instructions.table()
    );
    let _ = writeln!(md, "\n## As connections grow (figure 18)\n\n{growth}");
    let _ = writeln!(md, "\n## As cores grow (figure 19)\n\n{sse}");
    let _ = writeln!(md, "\n## drainbench\n\n{drainbench}");
    let json = format!(
        "{{\"exit_idle_ms\":{{\"graceful\":{},\"axum\":{},\"express\":{}}},\
         \"exit_keepalive_ms\":{{\"graceful\":{},\"axum\":{},\"express\":{}}},\
         \"overhang_ms\":{{\"graceful\":{},\"axum\":{},\"express\":{}}},\
         \"hot_path\":{{{}}},\
         \"memory_per_connection_bytes\":{{\"graceful\":{},\"axum\":{}}},\
         \"build_s\":{{\"graceful\":{},\"tokio\":{},\"ratio\":{},\"graceful_rt_alone\":{}}},\
         \"service_build_s\":{{\"http1\":{},\"http2\":{}}},\
         \"proc_macros\":{{\"graceful\":{:?},\"tokio\":{:?},\"syn\":{:?}}},\
         \"expansion_ms\":{{\"derived\":{},\"plain\":{},\"added_per_struct\":{}}},\
         \"h2_load\":{{\"graceful\":{},\"axum\":{}}},\
         \"uncooperative_exit_ms\":{{\"half_head\":{{\"graceful\":{},\"axum\":{}}},\"silent_h2\":{{\"graceful\":{},\"axum\":{}}}}},\
         \"same_app\":{{{}}},\
         \"restart\":{{{}}},\
         \"inprocess\":{}}}\n",
        idle[0].json(),
        idle[1].json(),
        idle[2].json(),
        keep[0].json(),
        keep[1].json(),
        keep[2].json(),
        over[0].json(),
        over[1].json(),
        over[2].json(),
        hot.iter()
            .map(|(key, spread)| format!("\"{key}\":{}", spread.json()))
            .collect::<Vec<_>>()
            .join(","),
        memory[0].json(),
        memory[1].json(),
        ours_build.json(),
        tokio_build.json(),
        build_ratio.json(),
        own_build.json(),
        service_compile[0].json(),
        service_compile[1].json(),
        ours_macros.0,
        tokio_macros.0,
        ours_macros.1,
        derived.json(),
        plain.json(),
        per_struct.json(),
        h2[0].json(),
        h2[1].json(),
        half_head[0].0.json(),
        half_head[1].0.json(),
        silent_h2[0].0.json(),
        silent_h2[1].0.json(),
        same.iter()
            .map(|(key, spread)| format!("\"{key}\":{}", spread.json()))
            .collect::<Vec<_>>()
            .join(","),
        RESTARTS_COMPARED
            .into_iter()
            .zip(&restart)
            .map(|(kind, figures)| format!("\"{}\":{}", kind.key(), figures.json()))
            .collect::<Vec<_>>()
            .join(","),
        inprocess.map_or_else(|| "null".to_owned(), |value| value.to_string()),
    );
    let dir = bench_dir();
    std::fs::write(dir.join("results.json"), json).unwrap();
    println!("{md}");
    write_performance(&md);
}
