//! gRPC (tonic) served by `graceful_rt::http::serve` (examples/grpc.rs),
//! with real processes and a real SIGTERM, beside tonic's own graceful
//! shutdown (`serve_with_incoming_shutdown`, tests/fixtures/grpc_tonic.rs)
//! serving the same service (examples/grpc/worker.rs), in interleaved runs:
//!
//! - a steady stream of unary RPCs across SIGTERM, from several callers on
//!   one channel: every RPC the server accepted (it prints `accepted N`) is
//!   answered OK; those sent after GOAWAY fail without being processed,
//!   and are counted apart: UNAVAILABLE (the listener is closed), or
//!   CANCELLED, which tonic's client gives a call it had queued on the
//!   connection that closed before sending it;
//! - a server-streaming RPC in progress at SIGTERM ends promptly with
//!   UNAVAILABLE, and the process exits 0;
//! - a stream that ignores the shutdown: ours is cut at the drain deadline
//!   (exit code 3, counted in the report), and a new client is refused
//!   meanwhile; tonic's own shutdown, which has no deadline, still holds it
//!   long after, and leaves a new client hanging in its listener's backlog.
//!
//! Only our server is asserted on; tonic's figures are printed beside ours
//! (`cargo test --test grpc -- --nocapture`). The client is tonic's own,
//! over h2c, on loopback. Bounds are loose enough for a loaded 2-core
//! machine.

mod support;

// The client and the messages; the server side is the programs'.
#[allow(dead_code)]
#[path = "../examples/grpc/worker.rs"]
mod worker;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::{Exit, Process, Signal};
use tonic::Code;
use tonic::transport::Channel;
use worker::worker_client::WorkerClient;
use worker::{TicksRequest, WorkRequest};

/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// How long a client waits for any answer before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);
/// The shutdown budget of our server in these tests.
const TIMEOUT: &str = "3s";
/// Its drain deadline: the budget minus the cleanup reserve (3 %).
const DRAIN_DEADLINE: Duration = Duration::from_millis(2910);
/// How long a server may take to exit after SIGTERM when it must not wait
/// for the drain deadline.
const FAST_EXIT: Duration = Duration::from_millis(1500);
/// How long a process is waited for after SIGTERM before it is killed.
const EXIT_BOUND: Duration = Duration::from_secs(10);
/// How long tonic's own server is watched holding a stream that ignores
/// the shutdown, from SIGTERM on, before it is killed: twice our budget.
const HOLD: Duration = Duration::from_secs(6);
/// Runs of each server in the unary test.
const RUNS: usize = 10;
/// Runs of each server in the streaming test.
const STREAM_RUNS: usize = 3;
/// Concurrent callers on the client's one channel.
const CALLERS: u64 = 4;
/// A caller's pause between two calls.
const PAUSE: Duration = Duration::from_millis(3);
/// Milliseconds between two ticks of a stream.
const TICK_MS: u64 = 20;

/// The two servers compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// `graceful_rt::http::serve` (examples/grpc.rs).
    Ours,
    /// tonic's `serve_with_incoming_shutdown` (the fixture).
    Tonic,
}

impl Server {
    fn label(self) -> &'static str {
        match self {
            Server::Ours => "ours",
            Server::Tonic => "tonic's own",
        }
    }

    fn start(self, test: &str) -> Running {
        let example = match self {
            Server::Ours => "grpc",
            Server::Tonic => "fixture-grpc-tonic",
        };
        let report = support::report_path(&format!("{test}-{example}"));
        let (process, address) = support::start_listening(
            example,
            &[
                ("GRACEFUL_TIMEOUT", TIMEOUT),
                ("GRACEFUL_REPORT", report.to_str().unwrap()),
            ],
        );
        Running {
            process,
            address,
            report,
        }
    }
}

/// A server process, listening.
struct Running {
    process: Process,
    address: SocketAddr,
    /// Where our server writes its JSON report (tonic's writes none).
    report: PathBuf,
}

/// How a process ended after SIGTERM.
struct Ended {
    exit: Exit,
    /// How long after SIGTERM it exited; `None` when it was still running
    /// at the bound, and was killed there.
    after: Option<Duration>,
}

impl Ended {
    fn describe(&self) -> String {
        match (self.after, self.exit.code()) {
            (Some(after), Some(code)) => format!("exit {code} after {}", ms(after)),
            (Some(after), None) => format!("killed by a signal after {}", ms(after)),
            (None, _) => "still running, killed".to_owned(),
        }
    }
}

/// Waits until `process` exits, at most `bound` from `sent` (the SIGTERM),
/// and kills it past that. Polls its state, so that the exit is timed
/// within a millisecond, and a process that does not exit fails no
/// assertion by itself (tonic's may hold).
fn wait_exit(process: Process, sent: Instant, bound: Duration) -> Ended {
    let stat = PathBuf::from(format!("/proc/{}/stat", process.pid()));
    let after = loop {
        if has_exited(&stat) {
            break Some(sent.elapsed());
        }
        if sent.elapsed() >= bound {
            process.signal(Signal::SIGKILL);
            break None;
        }
        thread::sleep(Duration::from_millis(1));
    };
    Ended {
        exit: process.wait_exit(ANSWER),
        after,
    }
}

/// Whether the process whose `/proc/PID/stat` this is has exited: it is a
/// zombie until `Process::wait_exit` reaps it.
fn has_exited(stat: &Path) -> bool {
    std::fs::read_to_string(stat).map_or(true, |text| {
        text.rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next())
            .is_some_and(|state| matches!(state, 'Z' | 'X'))
    })
}

fn ms(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// Runs `future` on a runtime of its own, on a thread of its own: the
/// client goes on while the test's thread signals and times the server.
fn on_a_thread<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(future)
    })
}

/// A client on one channel (one HTTP/2 connection, h2c).
async fn connect(address: SocketAddr) -> WorkerClient<Channel> {
    tokio::time::timeout(ANSWER, WorkerClient::connect(format!("http://{address}")))
        .await
        .expect("connecting took too long")
        .expect("cannot connect")
}

/// Why a call failed.
#[derive(Clone, Debug)]
enum Failure {
    Status(Code, String),
    NoAnswer,
    WrongAnswer(u64),
}

impl Failure {
    /// The failure, for counting like ones together.
    fn kind(&self) -> String {
        match self {
            Failure::Status(code, message) => format!("{code:?}: {message}"),
            Failure::NoAnswer => "no answer".to_owned(),
            Failure::WrongAnswer(seq) => format!("answered {seq}"),
        }
    }
}

/// One unary call and how it ended.
struct Call {
    seq: u64,
    sent: Instant,
    outcome: Result<(), Failure>,
}

/// A steady stream of unary RPCs: [`CALLERS`] tasks on one channel, each
/// calling every [`PAUSE`], one call in four with 5 ms of work.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    calls: JoinHandle<Vec<Call>>,
}

impl Load {
    fn start(address: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let calls = on_a_thread({
            let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
            async move {
                let client = connect(address).await;
                let next = Arc::new(AtomicU64::new(1));
                let callers: Vec<_> = (0..CALLERS)
                    .map(|_| {
                        tokio::spawn(caller(
                            client.clone(),
                            Arc::clone(&next),
                            Arc::clone(&stop),
                            Arc::clone(&answered),
                        ))
                    })
                    .collect();
                let mut calls = Vec::new();
                for caller in callers {
                    calls.extend(caller.await.expect("a caller panicked"));
                }
                calls
            }
        });
        Load {
            stop,
            answered,
            calls,
        }
    }

    /// Waits until some call was answered.
    fn wait_answered(&self) {
        let began = Instant::now();
        while self.answered.load(Ordering::Acquire) == 0 {
            assert!(
                began.elapsed() < ANSWER && !self.calls.is_finished(),
                "no call answered"
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops the callers and returns every call they made.
    fn stop(self) -> Vec<Call> {
        self.stop.store(true, Ordering::Release);
        self.calls.join().expect("the client panicked")
    }
}

/// Calls `Work`, waiting at most `bound`; `Ok` when answered with the
/// request's own sequence number.
async fn work(
    client: &mut WorkerClient<Channel>,
    request: WorkRequest,
    bound: Duration,
) -> Result<(), Failure> {
    let seq = request.seq;
    match tokio::time::timeout(bound, client.work(request)).await {
        Ok(Ok(reply)) if reply.get_ref().seq == seq => Ok(()),
        Ok(Ok(reply)) => Err(Failure::WrongAnswer(reply.get_ref().seq)),
        Ok(Err(status)) => Err(Failure::Status(status.code(), status.message().to_owned())),
        Err(_) => Err(Failure::NoAnswer),
    }
}

/// One caller: a call, a pause, and again, until told to stop.
async fn caller(
    mut client: WorkerClient<Channel>,
    next: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
) -> Vec<Call> {
    let mut calls = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let seq = next.fetch_add(1, Ordering::AcqRel);
        let work_ms = if seq % 4 == 0 { 5 } else { 0 };
        let sent = Instant::now();
        let outcome = work(&mut client, WorkRequest { seq, work_ms }, ANSWER).await;
        if outcome.is_ok() {
            answered.fetch_add(1, Ordering::AcqRel);
        }
        calls.push(Call { seq, sent, outcome });
        tokio::time::sleep(PAUSE).await;
    }
    calls
}

/// What one run of the unary test saw.
struct UnaryRun {
    server: Server,
    ended: Ended,
    /// Calls answered OK, and how many of them were sent after SIGTERM.
    answered: usize,
    answered_after: usize,
    /// Calls sent before the exit that failed and that the server never
    /// accepted, by failure.
    unprocessed: BTreeMap<String, usize>,
    /// Calls sent after the exit (all failed: nothing listens).
    after_exit: usize,
    /// Calls the server accepted that did not get their answer: lost.
    lost: Vec<(u64, Failure)>,
    /// Calls answered that the server has no record of accepting.
    unrecorded: Vec<u64>,
    report: Option<serde_json::Value>,
}

impl UnaryRun {
    fn summary(&self) -> String {
        let mut codes = BTreeMap::new();
        for (kind, count) in &self.unprocessed {
            let code = kind.split(':').next().unwrap_or(kind);
            *codes.entry(code).or_insert(0) += count;
        }
        let codes: Vec<_> = codes
            .iter()
            .map(|(code, count)| format!("{count} {code}"))
            .collect();
        format!(
            "{} OK ({} sent after SIGTERM), LOST {}, failed unprocessed before the exit: [{}], {} after it; {}",
            self.answered,
            self.answered_after,
            self.lost.len(),
            codes.join(", "),
            self.after_exit,
            self.ended.describe()
        )
    }
}

/// A steady load of unary RPCs on `server`, SIGTERM in its midst.
fn unary_run(server: Server, run: usize) -> UnaryRun {
    let running = server.start(&format!("grpc-unary-{run}"));
    let load = Load::start(running.address);
    load.wait_answered();
    thread::sleep(Duration::from_millis(300));
    let sent = running.process.signal(Signal::SIGTERM);
    let ended = wait_exit(running.process, sent, EXIT_BOUND);
    // A moment more of load: calls to a server that is gone.
    thread::sleep(Duration::from_millis(50));
    let calls = load.stop();

    let accepted: BTreeSet<u64> = ended
        .exit
        .stdout
        .iter()
        .filter_map(|line| line.strip_prefix("accepted ")?.parse().ok())
        .collect();
    let exited = sent + ended.after.unwrap_or(EXIT_BOUND);
    let mut tally = UnaryRun {
        server,
        answered: 0,
        answered_after: 0,
        unprocessed: BTreeMap::new(),
        after_exit: 0,
        lost: Vec::new(),
        unrecorded: Vec::new(),
        report: (server == Server::Ours && running.report.exists())
            .then(|| support::read_report(&running.report)),
        ended,
    };
    for call in calls {
        match call.outcome {
            Ok(()) => {
                tally.answered += 1;
                tally.answered_after += usize::from(call.sent >= sent);
                if !accepted.contains(&call.seq) {
                    tally.unrecorded.push(call.seq);
                }
            }
            Err(failure) if accepted.contains(&call.seq) => tally.lost.push((call.seq, failure)),
            Err(_) if call.sent >= exited => tally.after_exit += 1,
            Err(failure) => *tally.unprocessed.entry(failure.kind()).or_default() += 1,
        }
    }
    tally
}

#[test]
fn unary_rpcs_across_sigterm_none_the_server_accepted_fails() {
    let mut runs = Vec::new();
    for run in 1..=RUNS {
        for server in [Server::Ours, Server::Tonic] {
            let tally = unary_run(server, run);
            eprintln!("run {run}, {}: {}", server.label(), tally.summary());
            runs.push(tally);
        }
    }

    eprintln!(
        "\n{CALLERS} callers on one channel, a call every {} each, SIGTERM after 300 ms of load:\n",
        ms(PAUSE)
    );
    eprintln!("| run | ours | tonic's own |");
    eprintln!("|---|---|---|");
    for (run, pair) in runs.chunks(2).enumerate() {
        eprintln!(
            "| {} | {} | {} |",
            run + 1,
            pair[0].summary(),
            pair[1].summary()
        );
    }
    for server in [Server::Ours, Server::Tonic] {
        let mine: Vec<_> = runs.iter().filter(|run| run.server == server).collect();
        let mut unprocessed = BTreeMap::new();
        for run in &mine {
            for (kind, count) in &run.unprocessed {
                *unprocessed.entry(kind.as_str()).or_insert(0) += count;
            }
        }
        let mut exits: Vec<_> = mine.iter().filter_map(|run| run.ended.after).collect();
        exits.sort();
        eprintln!(
            "{}: {} OK, LOST {} in {} runs; exit after SIGTERM {} (median), {} (max); failed unprocessed before the exit: {unprocessed:?}",
            server.label(),
            mine.iter().map(|run| run.answered).sum::<usize>(),
            mine.iter().map(|run| run.lost.len()).sum::<usize>(),
            mine.len(),
            exits
                .get(exits.len() / 2)
                .map_or_else(String::new, |at| ms(*at)),
            exits.last().map_or_else(String::new, |at| ms(*at)),
        );
    }

    for (index, run) in runs.iter().enumerate() {
        if run.server != Server::Ours {
            continue;
        }
        let what = format!("run {}", index / 2 + 1);
        let stderr = run.ended.exit.stderr_text();
        assert_eq!(run.ended.exit.code(), Some(0), "{what}: {stderr}");
        let after = run.ended.after.expect("exited");
        assert!(
            after < FAST_EXIT,
            "{what}: exit took {after:?}; the drain deadline was {DRAIN_DEADLINE:?}"
        );
        assert!(
            run.lost.is_empty(),
            "{what}: RPCs the server accepted failed: {:?}",
            run.lost
        );
        assert!(
            run.unrecorded.is_empty(),
            "{what}: answered, yet not recorded as accepted: {:?}",
            run.unrecorded
        );
        assert!(
            !run.unprocessed.contains_key(&Failure::NoAnswer.kind()),
            "{what}: a call hung: {:?}",
            run.unprocessed
        );
        let report = run.report.as_ref().expect("our server wrote its report");
        assert_eq!(report["drain"]["requests_cut"], 0, "{what}: {report}");
        assert_eq!(report["drain"]["connections_cut"], 0, "{what}: {report}");
    }
}

/// How a stream of ticks ended, as its client saw it.
#[derive(Debug)]
enum StreamEnd {
    /// The server ended it with OK.
    Completed,
    /// The server ended it with a status, or the connection ended it.
    Status(Code, String),
}

/// What a client watching a stream of ticks saw.
struct Watched {
    /// When each tick arrived.
    ticks: Vec<Instant>,
    /// When and how the stream ended; `None` if it did not within the
    /// bound.
    end: Option<(Instant, StreamEnd)>,
}

impl Watched {
    fn ticks_after(&self, at: Instant) -> usize {
        self.ticks.iter().filter(|&&tick| tick > at).count()
    }

    fn describe(&self, sent: Instant) -> String {
        match &self.end {
            Some((at, StreamEnd::Completed)) => {
                format!("completed OK {} after SIGTERM", ms(*at - sent))
            }
            Some((at, StreamEnd::Status(code, message))) => {
                format!("{code:?} ({message:?}) {} after SIGTERM", ms(*at - sent))
            }
            None => "still streaming".to_owned(),
        }
    }
}

/// Opens a stream of ticks, says so on `streaming` once three have
/// arrived, and watches it until it ends, at most `bound`.
fn watch_ticks(
    address: SocketAddr,
    ignore_shutdown: bool,
    bound: Duration,
) -> (mpsc::Receiver<()>, JoinHandle<Watched>) {
    let (streaming, started) = mpsc::channel();
    let watched = on_a_thread(async move {
        let mut client = connect(address).await;
        let request = TicksRequest {
            every_ms: TICK_MS,
            ignore_shutdown,
        };
        let mut stream = tokio::time::timeout(ANSWER, client.ticks(request))
            .await
            .expect("no answer to Ticks")
            .expect("Ticks failed")
            .into_inner();
        let until = tokio::time::Instant::now() + bound;
        let mut ticks = Vec::new();
        let end = loop {
            match tokio::time::timeout_at(until, stream.message()).await {
                Err(_) => break None,
                Ok(Ok(Some(_))) => {
                    ticks.push(Instant::now());
                    if ticks.len() == 3 {
                        let _ = streaming.send(());
                    }
                }
                Ok(Ok(None)) => break Some((Instant::now(), StreamEnd::Completed)),
                Ok(Err(status)) => {
                    let message = status.message().to_owned();
                    break Some((Instant::now(), StreamEnd::Status(status.code(), message)));
                }
            }
        };
        Watched { ticks, end }
    });
    (started, watched)
}

/// How a new client's RPC ended, sent while a server drains.
struct Probe {
    outcome: Result<(), Failure>,
    took: Duration,
}

impl Probe {
    fn describe(&self) -> String {
        match &self.outcome {
            Ok(()) => format!("answered OK in {}", ms(self.took)),
            Err(failure) => format!("{} in {}", failure.kind(), ms(self.took)),
        }
    }
}

/// How long the probe waits for an answer.
const PROBE_BOUND: Duration = Duration::from_secs(2);

/// A new client (a lazy channel, as clients usually connect) calls `Work`
/// `delay` from now, and waits for the answer at most [`PROBE_BOUND`].
async fn probe(address: SocketAddr, delay: Duration) -> Probe {
    tokio::time::sleep(delay).await;
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("a URI")
        .connect_lazy();
    let mut client = WorkerClient::new(channel);
    let began = Instant::now();
    let request = WorkRequest { seq: 0, work_ms: 0 };
    let outcome = work(&mut client, request, PROBE_BOUND).await;
    Probe {
        outcome,
        took: began.elapsed(),
    }
}

/// What one streaming run saw.
struct StreamRun {
    /// When SIGTERM was sent.
    sent: Instant,
    watched: Watched,
    ended: Ended,
    report: Option<serde_json::Value>,
    /// A new client's RPC, 500 ms into the drain, when asked for.
    probe: Option<Probe>,
}

/// Starts `server`, opens a stream of ticks, sends SIGTERM once it flows,
/// and waits for the stream's end and the process's exit (`bound` each).
fn stream_run(
    server: Server,
    test: &str,
    ignore_shutdown: bool,
    bound: Duration,
    probe_the_drain: bool,
) -> StreamRun {
    let running = server.start(test);
    let (started, watched) = watch_ticks(running.address, ignore_shutdown, bound + ANSWER);
    started
        .recv_timeout(ANSWER)
        .expect("the stream did not start");
    let sent = running.process.signal(Signal::SIGTERM);
    let probe = probe_the_drain.then(|| on_a_thread(probe(running.address, PROMPT)));
    let ended = wait_exit(running.process, sent, bound);
    StreamRun {
        sent,
        watched: watched.join().expect("the client panicked"),
        ended,
        report: (server == Server::Ours && running.report.exists())
            .then(|| support::read_report(&running.report)),
        probe: probe.map(|probe| probe.join().expect("the probe panicked")),
    }
}

#[test]
fn a_stream_in_progress_at_sigterm_ends_with_unavailable_at_once() {
    for run in 1..=STREAM_RUNS {
        for server in [Server::Ours, Server::Tonic] {
            let test = format!("grpc-stream-{run}");
            let StreamRun {
                sent,
                watched,
                ended,
                report,
                ..
            } = stream_run(server, &test, false, EXIT_BOUND, false);
            eprintln!(
                "stream run {run}, {}: {}; {}",
                server.label(),
                watched.describe(sent),
                ended.describe()
            );
            if server != Server::Ours {
                continue;
            }
            let stderr = ended.exit.stderr_text();
            match &watched.end {
                Some((at, StreamEnd::Status(Code::Unavailable, message))) => {
                    assert_eq!(message, "server is shutting down");
                    assert!(
                        *at - sent < PROMPT,
                        "run {run}: the stream ended {:?} after SIGTERM",
                        *at - sent
                    );
                }
                end => panic!("run {run}: the stream ended with {end:?}; {stderr}"),
            }
            assert_eq!(ended.exit.code(), Some(0), "run {run}: {stderr}");
            let after = ended.after.expect("exited");
            assert!(after < FAST_EXIT, "run {run}: exit took {after:?}");
            let report = report.expect("our server wrote its report");
            assert_eq!(report["drain"]["requests_cut"], 0, "run {run}: {report}");
        }
    }
}

#[test]
fn a_stream_that_ignores_the_shutdown_is_cut_at_the_drain_deadline_tonics_own_holds() {
    // Ours: cut at the drain deadline, counted, exit code 3; meanwhile a
    // new client is refused at once.
    let StreamRun {
        sent,
        watched,
        ended,
        report,
        probe,
    } = stream_run(Server::Ours, "grpc-ignored", true, EXIT_BOUND, true);
    let probe = probe.expect("probed");
    eprintln!(
        "ignored stream, ours: {} ticks after SIGTERM, {}; {}; a new client's RPC {} into the drain: {}",
        watched.ticks_after(sent),
        watched.describe(sent),
        ended.describe(),
        ms(PROMPT),
        probe.describe()
    );
    let stderr = ended.exit.stderr_text();
    assert_eq!(ended.exit.code(), Some(3), "{stderr}");
    let after = ended.after.expect("exited");
    assert!(
        after >= DRAIN_DEADLINE - Duration::from_millis(20),
        "exit {after:?} after SIGTERM, before the drain deadline ({DRAIN_DEADLINE:?})"
    );
    let report = report.expect("our server wrote its report");
    assert_eq!(report["drain"]["requests_cut"], 1, "{report}");
    assert_eq!(report["drain"]["connections_cut"], 1, "{report}");
    assert!(
        watched.ticks_after(sent + DRAIN_DEADLINE - PROMPT) > 0,
        "the stream did not flow until the drain deadline"
    );
    let (cut_seen, _) = watched.end.as_ref().expect("the client saw the cut");
    assert!(
        *cut_seen - sent < after + PROMPT,
        "the client saw the cut {:?} after SIGTERM",
        *cut_seen - sent
    );
    assert!(
        matches!(&probe.outcome, Err(Failure::Status(Code::Unavailable, _))) && probe.took < PROMPT,
        "a new client's RPC during the drain: {}",
        probe.describe()
    );

    // tonic's own: no deadline; watched for `HOLD`, then killed.
    let StreamRun {
        sent,
        watched,
        ended,
        probe,
        ..
    } = stream_run(Server::Tonic, "grpc-ignored", true, HOLD, true);
    let last_tick = watched.ticks.last().map(|tick| ms(*tick - sent));
    eprintln!(
        "ignored stream, tonic's own: {} ticks after SIGTERM (the last {} after it), {}; {}; a new client's RPC {} into the drain: {}",
        watched.ticks_after(sent),
        last_tick.as_deref().unwrap_or("-"),
        watched.describe(sent),
        ended.describe(),
        ms(PROMPT),
        probe.expect("probed").describe()
    );
}
