//! Figure 12: gRPC across SIGTERM, `examples/grpc.rs` (`#[graceful_main]`
//! and `http::serve`) against the same service on tonic's own server and
//! its graceful shutdown (`serve_with_incoming_shutdown`,
//! `tests/fixtures/grpc_tonic.rs`), release builds, interleaved runs
//! (ours, tonic's, ours, ...). The tests assert our side alone
//! (tests/grpc.rs, tests/grpc_python.rs); this prints both.
//!
//! 1. unary calls from 4 callers on one tonic channel across SIGTERM:
//!    answered, lost (accepted by the server, then failed), failed without
//!    being processed (by status), exit latency;
//! 2. a server stream that ignores the shutdown: how its client saw the
//!    end, and how the process ended (tonic's is killed 6 s after SIGTERM
//!    if it still runs), and a new client's call 500 ms into the drain;
//! 3. a rolling restart of two instances (3 rounds) under Python grpcio's
//!    round_robin (unary calls and a server stream): failed calls, calls
//!    accepted and unanswered, streams moved by UNAVAILABLE.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::support::nginx::reserve_port;
use super::support::python::{GRPC, Script};
use super::support::{Exit, Process, Signal};
use super::worker::worker_client::WorkerClient;
use super::worker::{TicksRequest, WorkRequest};
use tonic::Code;
use tonic::transport::Channel;

/// The two servers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Server {
    Ours,
    Tonic,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Server::Ours => "`examples/grpc` (`http::serve`)",
            Server::Tonic => "tonic `serve_with_incoming_shutdown`",
        }
    }
}

/// The release executables of both servers.
pub(crate) struct Binaries {
    pub(crate) ours: PathBuf,
    pub(crate) tonic: PathBuf,
}

impl Binaries {
    fn of(&self, server: Server) -> &Path {
        match server {
            Server::Ours => &self.ours,
            Server::Tonic => &self.tonic,
        }
    }

    fn start(&self, server: Server, port: &str) -> (Process, SocketAddr) {
        let mut process = Process::start_command(
            Command::new(self.of(server)),
            &[("PORT", port), ("GRACEFUL_TIMEOUT", "3s")],
        );
        let line = process.wait_for_stderr_line("listening on ", Duration::from_secs(30));
        let address = line
            .rsplit(' ')
            .next()
            .and_then(|address| address.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        (process, address)
    }
}

fn on_a_thread<F>(future: F) -> thread::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    })
}

fn accepted(exit: &Exit) -> BTreeSet<u64> {
    exit.stdout
        .iter()
        .filter_map(|line| line.strip_prefix("accepted ")?.parse().ok())
        .collect()
}

/// Waits for `process` to exit, at most `bound` after `sent`; kills it
/// past that. Returns how it ended and after how long (`None`: killed).
fn exit_within(process: Process, sent: Instant, bound: Duration) -> (Exit, Option<Duration>) {
    let stat = PathBuf::from(format!("/proc/{}/stat", process.pid()));
    let exited = |stat: &Path| {
        std::fs::read_to_string(stat).map_or(true, |text| {
            text.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                .is_some_and(|state| matches!(state, 'Z' | 'X'))
        })
    };
    let after = loop {
        if exited(&stat) {
            break Some(sent.elapsed());
        }
        if sent.elapsed() >= bound {
            process.signal(Signal::SIGKILL);
            break None;
        }
        thread::sleep(Duration::from_millis(1));
    };
    (process.wait_exit(Duration::from_secs(10)), after)
}

fn describe_exit(exit: &Exit, after: Option<Duration>) -> String {
    match (after, exit.code()) {
        (Some(after), Some(code)) => format!("exit {code} after {} ms", after.as_millis()),
        (Some(after), None) => format!("killed by a signal after {} ms", after.as_millis()),
        (None, _) => "still running, killed".to_owned(),
    }
}

/// Tallies of the unary figure, summed over runs.
#[derive(Default)]
struct Unary {
    answered: usize,
    lost: usize,
    unprocessed: BTreeMap<String, usize>,
    exits: Vec<f64>,
    codes: BTreeMap<Option<i32>, usize>,
}

fn unary_run(binaries: &Binaries, server: Server, tally: &mut Unary) {
    let (process, address) = binaries.start(server, "0");
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicU64::new(0));
    let client = on_a_thread({
        let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
        async move {
            let channel = Channel::from_shared(format!("http://{address}"))
                .unwrap()
                .connect()
                .await
                .expect("cannot connect");
            let client = WorkerClient::new(channel);
            let next = Arc::new(AtomicU64::new(1));
            let mut callers = Vec::new();
            for _ in 0..4 {
                let (mut client, next, stop, answered) = (
                    client.clone(),
                    Arc::clone(&next),
                    Arc::clone(&stop),
                    Arc::clone(&answered),
                );
                callers.push(tokio::spawn(async move {
                    let mut calls = Vec::new();
                    while !stop.load(Ordering::Acquire) {
                        let seq = next.fetch_add(1, Ordering::AcqRel);
                        let request = WorkRequest {
                            seq,
                            work_ms: if seq % 4 == 0 { 5 } else { 0 },
                        };
                        let outcome =
                            tokio::time::timeout(Duration::from_secs(5), client.work(request))
                                .await;
                        let outcome = match outcome {
                            Ok(Ok(_)) => {
                                answered.fetch_add(1, Ordering::AcqRel);
                                Ok(())
                            }
                            Ok(Err(status)) => Err(format!("{:?}", status.code())),
                            Err(_) => Err("no answer".to_owned()),
                        };
                        calls.push((seq, outcome));
                        tokio::time::sleep(Duration::from_millis(3)).await;
                    }
                    calls
                }));
            }
            let mut calls = Vec::new();
            for caller in callers {
                calls.extend(caller.await.unwrap());
            }
            calls
        }
    });
    while answered.load(Ordering::Acquire) < 50 {
        thread::sleep(Duration::from_millis(5));
    }
    thread::sleep(Duration::from_millis(300));
    let sent = process.signal(Signal::SIGTERM);
    let (exit, after) = exit_within(process, sent, Duration::from_secs(10));
    stop.store(true, Ordering::Release);
    let calls = client.join().unwrap();
    let accepted = accepted(&exit);
    for (seq, outcome) in calls {
        match outcome {
            Ok(()) => tally.answered += 1,
            Err(_) if accepted.contains(&seq) => tally.lost += 1,
            Err(code) => *tally.unprocessed.entry(code).or_default() += 1,
        }
    }
    if let Some(after) = after {
        tally.exits.push(after.as_secs_f64() * 1000.0);
    }
    *tally.codes.entry(exit.code()).or_default() += 1;
}

fn median(mut values: Vec<f64>) -> String {
    if values.is_empty() {
        return "–".to_owned();
    }
    values.sort_by(f64::total_cmp);
    format!(
        "{:.0} ms ({:.0}–{:.0})",
        values[values.len() / 2],
        values[0],
        values[values.len() - 1]
    )
}

/// How an ignored stream went on one server.
struct Ignored {
    end: String,
    exit: String,
    probe: String,
}

fn ignored_run(binaries: &Binaries, server: Server) -> Ignored {
    let (process, address) = binaries.start(server, "0");
    let (started, ready) = std::sync::mpsc::channel();
    let watch = on_a_thread(async move {
        let channel = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect()
            .await
            .expect("cannot connect");
        let mut client = WorkerClient::new(channel);
        let request = TicksRequest {
            every_ms: 20,
            ignore_shutdown: true,
        };
        let mut stream = client.ticks(request).await.expect("Ticks").into_inner();
        let mut ticks = 0;
        let until = tokio::time::Instant::now() + Duration::from_secs(9);
        loop {
            match tokio::time::timeout_at(until, stream.message()).await {
                Err(_) => return "still streaming".to_owned(),
                Ok(Ok(Some(_))) => {
                    ticks += 1;
                    if ticks == 3 {
                        let _ = started.send(Instant::now());
                    }
                }
                Ok(Ok(None)) => return "ended OK".to_owned(),
                Ok(Err(status)) => {
                    return format!("{:?} ({:?})", status.code(), status.message());
                }
            }
        }
    });
    ready
        .recv_timeout(Duration::from_secs(10))
        .expect("no ticks");
    let sent = process.signal(Signal::SIGTERM);
    let probe = on_a_thread(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let channel = Channel::from_shared(format!("http://{address}"))
            .unwrap()
            .connect_lazy();
        let mut client = WorkerClient::new(channel);
        let began = Instant::now();
        let request = WorkRequest { seq: 0, work_ms: 0 };
        let outcome = tokio::time::timeout(Duration::from_secs(2), client.work(request)).await;
        let took = began.elapsed().as_millis();
        match outcome {
            Ok(Ok(_)) => format!("answered in {took} ms"),
            Ok(Err(status)) if status.code() == Code::Unavailable => {
                format!("UNAVAILABLE in {took} ms")
            }
            Ok(Err(status)) => format!("{:?} in {took} ms", status.code()),
            Err(_) => "no answer in 2 s".to_owned(),
        }
    });
    let (exit, after) = exit_within(process, sent, Duration::from_secs(6));
    let end = watch.join().unwrap();
    Ignored {
        end,
        exit: describe_exit(&exit, after),
        probe: probe.join().unwrap(),
    }
}

/// What the rolling restart counted on one server.
struct Rolling {
    ok: u64,
    failed: u64,
    unanswered: usize,
    moved: u64,
    failures: BTreeMap<String, usize>,
}

fn rolling_run(binaries: &Binaries, server: Server) -> Rolling {
    let ports = [reserve_port().to_string(), reserve_port().to_string()];
    let mut instances: Vec<Process> = ports
        .iter()
        .map(|port| binaries.start(server, port).0)
        .collect();
    let targets = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    let stop =
        std::env::temp_dir().join(format!("graceful-bench-grpc-stop-{}", std::process::id()));
    let _ = std::fs::remove_file(&stop);
    let mut load = Script::start(
        "grpc_client.py",
        GRPC,
        &["load", &targets, stop.to_str().unwrap(), "4"],
    );
    load.wait_for("started", Duration::from_secs(20));
    for instance in &mut instances {
        instance.wait_for_stdout_prefix("accepted ", Duration::from_secs(20));
    }
    let mut accepted_all = BTreeSet::new();
    for _round in 0..3 {
        for (index, port) in ports.iter().enumerate() {
            let old = instances.remove(index);
            old.signal(Signal::SIGTERM);
            // tonic's own has no deadline: a stream could hold it.
            let (exit, _) = exit_within(old, Instant::now(), Duration::from_secs(10));
            accepted_all.extend(accepted(&exit));
            instances.insert(index, binaries.start(server, port).0);
            instances[index].wait_for_stdout_prefix("accepted ", Duration::from_secs(20));
        }
    }
    std::fs::write(&stop, "stop").unwrap();
    let lines = load.finish();
    for instance in instances {
        instance.signal(Signal::SIGTERM);
        let (exit, _) = exit_within(instance, Instant::now(), Duration::from_secs(10));
        accepted_all.extend(accepted(&exit));
    }
    let summary = &lines
        .iter()
        .find(|line| line.json["event"] == "summary")
        .expect("no summary")
        .json;
    let mut failures = BTreeMap::new();
    let mut unanswered = 0;
    for line in lines.iter().filter(|line| line.json["event"] == "failed") {
        let code = line.json["code"].as_str().unwrap_or("?").to_owned();
        *failures.entry(code).or_default() += 1;
        if line.json["seq"]
            .as_u64()
            .is_some_and(|seq| accepted_all.contains(&seq))
        {
            unanswered += 1;
        }
    }
    Rolling {
        ok: summary["ok"].as_u64().unwrap_or_default(),
        failed: summary["failed"].as_u64().unwrap_or_default(),
        unanswered,
        moved: summary["moved"].as_u64().unwrap_or_default(),
        failures,
    }
}

/// Measures every part of the figure and returns its markdown table.
pub(crate) fn figure(binaries: &Binaries, runs: usize) -> String {
    let servers = [Server::Ours, Server::Tonic];
    let mut unary = [Unary::default(), Unary::default()];
    for run in 0..runs {
        for (server, tally) in servers.iter().zip(&mut unary) {
            eprintln!("grpc unary, run {}, {}", run + 1, server.label());
            unary_run(binaries, *server, tally);
        }
    }
    let ignored: Vec<Ignored> = servers
        .iter()
        .map(|&server| ignored_run(binaries, server))
        .collect();
    let rolling: Vec<Rolling> = servers
        .iter()
        .map(|&server| rolling_run(binaries, server))
        .collect();
    let mut md = format!(
        "| gRPC scenario | {} | {} |\n|---|---|---|\n",
        Server::Ours.label(),
        Server::Tonic.label()
    );
    let row = |md: &mut String, what: String, cells: [String; 2]| {
        md.push_str(&format!("| {what} | {} | {} |\n", cells[0], cells[1]));
    };
    row(
        &mut md,
        format!(
            "4 callers of a unary RPC on one channel across SIGTERM ({runs} runs): answered, lost"
        ),
        unary
            .each_ref()
            .map(|tally| format!("{} answered, **{} lost**", tally.answered, tally.lost)),
    );
    row(
        &mut md,
        "calls failed unprocessed (by status)".to_owned(),
        unary
            .each_ref()
            .map(|tally| format!("{:?}", tally.unprocessed)),
    );
    row(
        &mut md,
        "exit after SIGTERM (median, min–max); exit codes".to_owned(),
        unary
            .each_ref()
            .map(|tally| format!("{}; {:?}", median(tally.exits.clone()), tally.codes)),
    );
    row(
        &mut md,
        "a stream that ignores the shutdown: its client saw".to_owned(),
        [ignored[0].end.clone(), ignored[1].end.clone()],
    );
    row(
        &mut md,
        "the process".to_owned(),
        [ignored[0].exit.clone(), ignored[1].exit.clone()],
    );
    row(
        &mut md,
        "a new client's RPC 500 ms into that drain".to_owned(),
        [ignored[0].probe.clone(), ignored[1].probe.clone()],
    );
    row(
        &mut md,
        "rolling restart of 2 instances, 3 rounds, grpcio round_robin: OK, failed, accepted and unanswered".to_owned(),
        [0, 1].map(|index| {
            let rolling = &rolling[index];
            format!(
                "{} OK, **{} failed** {:?}, {} unanswered",
                rolling.ok, rolling.failed, rolling.failures, rolling.unanswered
            )
        }),
    );
    row(
        &mut md,
        "streams moved to the other instance by UNAVAILABLE".to_owned(),
        [0, 1].map(|index| rolling[index].moved.to_string()),
    );
    md
}
