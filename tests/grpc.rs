//! gRPC (tonic) served by `graceful_rt::http::serve` (examples/grpc.rs),
//! with real processes, a real SIGTERM and tonic's own client, over h2c on
//! loopback:
//!
//! - a steady stream of unary RPCs across SIGTERM, from several callers on
//!   one channel: every RPC the server accepted (it prints `accepted N`) is
//!   answered OK; those sent after GOAWAY fail without being processed;
//! - a server-streaming RPC in progress at SIGTERM ends promptly with
//!   UNAVAILABLE, and the process exits 0;
//! - a stream that ignores the shutdown, and a unary call whose handler
//!   outlives the drain, are ended by the server just before the drain
//!   deadline with UNAVAILABLE, which the client retries (not UNKNOWN, as
//!   a cut connection gives); a new client is refused meanwhile;
//! - `grpc.health.v1`: a `Watch` across SIGTERM sees SERVING, then
//!   NOT_SERVING at once, then its stream ends when draining begins;
//!   `Check` answers NOT_SERVING through the lame duck on a connection
//!   opened before the signal, and the example's own `set_serving`, every
//!   few milliseconds, never flips it back;
//! - `max_connection_age`: a client whose load balancer (a proxy of the
//!   test's) now points at a second instance moves there when its
//!   connection ages, and no RPC the server accepted fails (tonic's client
//!   may fail one it had queued, unsent, as the old connection closed).
//!
//! tests/grpc_python.rs does the same with Python's grpcio (gRPC's C core);
//! tonic's own `serve_with_shutdown`, in the same scenarios, is measured by
//! the benchmark (`BENCH_FIGURES=grpc cargo bench --bench process`). Bounds
//! are loose enough for a loaded 2-core machine.

mod support;

// The client and the messages; the server side is the programs'.
#[allow(dead_code)]
#[path = "../examples/grpc/worker.rs"]
mod worker;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::proxy::Proxy;
use support::{Exit, Process, Signal};
use tonic::Code;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use worker::worker_client::WorkerClient;
use worker::{TicksRequest, WorkRequest};

/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// How long a client waits for any answer before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);
/// The shutdown budget of the server in these tests.
const TIMEOUT: &str = "3s";
/// Its drain deadline: the budget minus the cleanup reserve (3 %).
const DRAIN_DEADLINE: Duration = Duration::from_millis(2910);
/// When calls still running are ended: graceful-rt's default
/// `Serve::call_end_lead` (50 ms) before it.
const CALLS_END: Duration = Duration::from_millis(2860);
/// How long the server may take to exit after SIGTERM when it must not
/// wait for the drain deadline.
const FAST_EXIT: Duration = Duration::from_millis(1500);
/// How long a process is waited for after SIGTERM before it is killed.
const EXIT_BOUND: Duration = Duration::from_secs(10);
/// Runs of the unary test.
const RUNS: usize = 5;
/// Runs of the streaming test.
const STREAM_RUNS: usize = 3;
/// Concurrent callers on the client's one channel.
const CALLERS: u64 = 4;
/// A caller's pause between two calls.
const PAUSE: Duration = Duration::from_millis(3);
/// Milliseconds between two ticks of a stream.
const TICK_MS: u64 = 20;
/// The lame duck of the health tests.
const DRAIN_DELAY: Duration = Duration::from_secs(1);

/// The example, listening.
struct Running {
    process: Process,
    address: SocketAddr,
    report: PathBuf,
}

impl Running {
    fn start(test: &str, env: &[(&str, &str)]) -> Running {
        let report = support::report_path(&format!("grpc-{test}"));
        let mut all = vec![
            ("GRACEFUL_TIMEOUT", TIMEOUT),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ];
        all.extend_from_slice(env);
        let (process, address) = support::start_listening("grpc", &all);
        Running {
            process,
            address,
            report,
        }
    }
}

/// Waits until `process` exits (at most [`EXIT_BOUND`] from `sent`, the
/// SIGTERM) and returns how it ended and how long after `sent`.
fn wait_exit(process: Process, sent: Instant) -> (Exit, Duration) {
    let exit = process.wait_exit(EXIT_BOUND);
    let after = exit.at - sent;
    (exit, after)
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

/// A channel (one HTTP/2 connection, h2c), connected now.
async fn channel(address: SocketAddr) -> Channel {
    let endpoint = Channel::from_shared(format!("http://{address}")).expect("a URI");
    tokio::time::timeout(ANSWER, endpoint.connect())
        .await
        .expect("connecting took too long")
        .expect("cannot connect")
}

/// Why a call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Failure {
    Status(Code, String),
    NoAnswer,
    WrongAnswer(u64),
}

/// One unary call and how it ended.
struct Call {
    seq: u64,
    sent: Instant,
    outcome: Result<(), Failure>,
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

/// A steady stream of unary RPCs: [`CALLERS`] tasks on one channel, each
/// calling every [`PAUSE`], one call in four with 5 ms of work.
struct Load {
    stop: Arc<AtomicBool>,
    answered: Arc<AtomicU64>,
    calls: JoinHandle<Vec<Call>>,
}

impl Load {
    /// On a channel to `address`, made lazily: it connects on the first
    /// call, and again whenever its connection closes.
    fn start(address: SocketAddr) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicU64::new(0));
        let calls = on_a_thread({
            let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
            async move {
                let client = WorkerClient::new(channel(address).await);
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

    /// Waits until more than `count` calls were answered.
    fn wait_answered(&self, count: u64) {
        let began = Instant::now();
        while self.answered.load(Ordering::Acquire) <= count {
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

/// The sequence numbers a server printed as `accepted N`.
fn accepted(exit: &Exit) -> BTreeSet<u64> {
    exit.stdout
        .iter()
        .filter_map(|line| line.strip_prefix("accepted ")?.parse().ok())
        .collect()
}

#[test]
fn unary_rpcs_across_sigterm_none_the_server_accepted_fails() {
    for run in 1..=RUNS {
        let running = Running::start(&format!("unary-{run}"), &[]);
        let load = Load::start(running.address);
        load.wait_answered(50);
        let sent = running.process.signal(Signal::SIGTERM);
        let report_path = running.report.clone();
        let (exit, after) = wait_exit(running.process, sent);
        let calls = load.stop();
        let accepted = accepted(&exit);
        let stderr = exit.stderr_text();
        let answered = calls.iter().filter(|call| call.outcome.is_ok()).count();
        eprintln!(
            "run {run}: {answered} answered, {} after SIGTERM; exit {:?} after {}",
            calls
                .iter()
                .filter(|call| call.outcome.is_ok() && call.sent >= sent)
                .count(),
            exit.code(),
            ms(after)
        );
        assert_eq!(exit.code(), Some(0), "run {run}: {stderr}");
        assert!(after < FAST_EXIT, "run {run}: exit took {after:?}");
        for call in &calls {
            match &call.outcome {
                Ok(()) => assert!(
                    accepted.contains(&call.seq),
                    "run {run}: {} answered, yet not recorded as accepted",
                    call.seq
                ),
                Err(failure) => {
                    assert!(
                        !accepted.contains(&call.seq),
                        "run {run}: call {} was accepted and failed: {failure:?}",
                        call.seq
                    );
                    assert_ne!(failure, &Failure::NoAnswer, "run {run}: a call hung");
                }
            }
        }
        let report = support::read_report(&report_path);
        assert_eq!(report["drain"]["requests_cut"], 0, "run {run}: {report}");
        assert_eq!(report["drain"]["connections_cut"], 0, "run {run}: {report}");
    }
}

/// How a stream ended, as its client saw it.
#[derive(Debug)]
enum StreamEnd {
    Completed,
    Status(Code, String),
}

/// What a client watching a stream of ticks saw.
struct Watched {
    ticks: Vec<Instant>,
    /// When and how the stream ended; `None` if it did not within the
    /// bound.
    end: Option<(Instant, StreamEnd)>,
}

impl Watched {
    fn ticks_after(&self, at: Instant) -> usize {
        self.ticks.iter().filter(|&&tick| tick > at).count()
    }
}

/// Opens a stream of ticks, says so on the returned channel once three
/// have arrived, and watches it until it ends, at most `bound`.
fn watch_ticks(
    address: SocketAddr,
    ignore_shutdown: bool,
    bound: Duration,
) -> (mpsc::Receiver<()>, JoinHandle<Watched>) {
    let (streaming, started) = mpsc::channel();
    let watched = on_a_thread(async move {
        let mut client = WorkerClient::new(channel(address).await);
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

#[test]
fn a_stream_in_progress_at_sigterm_ends_with_unavailable_at_once() {
    for run in 1..=STREAM_RUNS {
        let running = Running::start(&format!("stream-{run}"), &[]);
        let (started, watched) = watch_ticks(running.address, false, EXIT_BOUND);
        started
            .recv_timeout(ANSWER)
            .expect("the stream did not start");
        let sent = running.process.signal(Signal::SIGTERM);
        let report_path = running.report.clone();
        let (exit, after) = wait_exit(running.process, sent);
        let watched = watched.join().expect("the client panicked");
        let stderr = exit.stderr_text();
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
        assert_eq!(exit.code(), Some(0), "run {run}: {stderr}");
        assert!(after < FAST_EXIT, "run {run}: exit took {after:?}");
        let report = support::read_report(&report_path);
        assert_eq!(report["drain"]["requests_cut"], 0, "run {run}: {report}");
    }
}

/// A new client's call, made lazily (as clients usually connect), `delay`
/// from now: how it ended and how long it took.
async fn probe(address: SocketAddr, delay: Duration) -> (Result<(), Failure>, Duration) {
    tokio::time::sleep(delay).await;
    let channel = Channel::from_shared(format!("http://{address}"))
        .expect("a URI")
        .connect_lazy();
    let mut client = WorkerClient::new(channel);
    let began = Instant::now();
    let request = WorkRequest { seq: 0, work_ms: 0 };
    let outcome = work(&mut client, request, Duration::from_secs(2)).await;
    (outcome, began.elapsed())
}

/// Asserts that a call ended by the server ended the way clients retry:
/// UNAVAILABLE, "server is shutting down", at [`CALLS_END`] after `sent`.
fn assert_ended_for_a_retry(what: &str, end: Option<(Instant, StreamEnd)>, sent: Instant) {
    match end {
        Some((at, StreamEnd::Status(Code::Unavailable, message))) => {
            assert_eq!(message, "server is shutting down", "{what}");
            let after = at - sent;
            assert!(
                after >= CALLS_END - Duration::from_millis(20) && after < DRAIN_DEADLINE + PROMPT,
                "{what}: ended {after:?} after SIGTERM; calls end at {CALLS_END:?}"
            );
        }
        end => panic!("{what}: ended with {end:?}, not UNAVAILABLE"),
    }
}

/// The drain's counts of a run whose one call the server ended: one
/// request cut, and no connection left to cut (the client's closed once
/// its stream had ended); the exit code says the deadline cut it.
fn assert_one_call_ended(exit: &Exit, report: &serde_json::Value) {
    let stderr = exit.stderr_text();
    assert_eq!(exit.code(), Some(3), "{stderr}");
    assert_eq!(report["outcome"], "drain_cut", "{report}");
    assert_eq!(report["drain"]["calls_ended"], 1, "{report}");
    assert_eq!(report["drain"]["requests_cut"], 1, "{report}");
    assert_eq!(report["drain"]["connections_cut"], 0, "{report}");
    assert_eq!(
        exit.stderr_lines("ended 1 gRPC call still running with UNAVAILABLE")
            .len(),
        1,
        "{stderr}"
    );
}

#[test]
fn a_stream_that_ignores_the_shutdown_ends_with_unavailable_just_before_the_drain_deadline() {
    let running = Running::start("ignored", &[]);
    let (started, watched) = watch_ticks(running.address, true, EXIT_BOUND);
    started
        .recv_timeout(ANSWER)
        .expect("the stream did not start");
    let sent = running.process.signal(Signal::SIGTERM);
    let probe = on_a_thread(probe(running.address, PROMPT));
    let report_path = running.report.clone();
    let (exit, after) = wait_exit(running.process, sent);
    let watched = watched.join().expect("the client panicked");
    let (probed, took) = probe.join().expect("the probe panicked");
    eprintln!(
        "ignored stream: {} ticks after SIGTERM, ended {:?}; exit {:?} after {}; a new client's RPC {} into the drain: {probed:?} in {}",
        watched.ticks_after(sent),
        watched.end,
        exit.code(),
        ms(after),
        ms(PROMPT),
        ms(took)
    );
    assert!(
        watched.ticks_after(sent + CALLS_END - PROMPT) > 0,
        "the stream did not flow until the calls were ended"
    );
    assert_ended_for_a_retry("the stream", watched.end, sent);
    assert!(
        after < DRAIN_DEADLINE + PROMPT,
        "exit {after:?} after SIGTERM"
    );
    assert_one_call_ended(&exit, &support::read_report(&report_path));
    assert!(
        matches!(&probed, Err(Failure::Status(Code::Unavailable, _))) && took < PROMPT,
        "a new client's RPC during the drain: {probed:?} in {took:?}"
    );
}

#[test]
fn a_unary_call_still_running_at_the_drain_deadline_is_answered_unavailable() {
    let running = Running::start("slow-unary", &[]);
    let address = running.address;
    let call = on_a_thread(async move {
        let mut client = WorkerClient::new(channel(address).await);
        let request = WorkRequest {
            seq: 7,
            work_ms: 60_000,
        };
        let outcome = work(&mut client, request, EXIT_BOUND).await;
        (outcome, Instant::now())
    });
    let mut process = running.process;
    process.wait_for_stdout("accepted 7", ANSWER);
    let sent = process.signal(Signal::SIGTERM);
    let (exit, after) = wait_exit(process, sent);
    let (outcome, at) = call.join().expect("the client panicked");
    eprintln!(
        "a unary call of 60 s: {outcome:?} {} after SIGTERM; exit {:?} after {}",
        ms(at - sent),
        exit.code(),
        ms(after)
    );
    let end = match outcome {
        Err(Failure::Status(code, message)) => Some((at, StreamEnd::Status(code, message))),
        other => panic!("the call ended with {other:?}"),
    };
    assert_ended_for_a_retry("the unary call", end, sent);
    assert_one_call_ended(&exit, &support::read_report(&running.report));
}

/// What a health `Watch` saw: each status with when it arrived, and how
/// the stream ended.
struct HealthWatch {
    statuses: Vec<(Instant, ServingStatus)>,
    end: Option<(Instant, StreamEnd)>,
}

/// Opens a health `Watch` on the server as a whole (`""`); says so once
/// its first status has arrived.
fn watch_health(address: SocketAddr) -> (mpsc::Receiver<()>, JoinHandle<HealthWatch>) {
    let (first, got_first) = mpsc::channel();
    let watched = on_a_thread(async move {
        let mut client = HealthClient::new(channel(address).await);
        let request = HealthCheckRequest {
            service: String::new(),
        };
        let mut stream = tokio::time::timeout(ANSWER, client.watch(request))
            .await
            .expect("no answer to Watch")
            .expect("Watch failed")
            .into_inner();
        let until = tokio::time::Instant::now() + EXIT_BOUND;
        let mut statuses = Vec::new();
        let end = loop {
            match tokio::time::timeout_at(until, stream.message()).await {
                Err(_) => break None,
                Ok(Ok(Some(response))) => {
                    statuses.push((Instant::now(), response.status()));
                    let _ = first.send(());
                }
                Ok(Ok(None)) => break Some((Instant::now(), StreamEnd::Completed)),
                Ok(Err(status)) => {
                    let message = status.message().to_owned();
                    break Some((Instant::now(), StreamEnd::Status(status.code(), message)));
                }
            }
        };
        HealthWatch { statuses, end }
    });
    (got_first, watched)
}

#[test]
fn a_health_watch_sees_not_serving_at_the_signal_then_ends_when_draining_begins() {
    let delay = format!("{}ms", DRAIN_DELAY.as_millis());
    let running = Running::start(
        "health-watch",
        &[("GRACEFUL_DRAIN_DELAY", &delay), ("HEALTH_EVERY", "10ms")],
    );
    let (first, watched) = watch_health(running.address);
    first.recv_timeout(ANSWER).expect("no first status");
    let sent = running.process.signal(Signal::SIGTERM);
    let (exit, after) = wait_exit(running.process, sent);
    let watched = watched.join().expect("the client panicked");
    let seen: Vec<_> = watched
        .statuses
        .iter()
        .map(|(at, status)| format!("{status:?} at {}", ms(at.saturating_duration_since(sent))))
        .collect();
    eprintln!(
        "health Watch: {seen:?}, ended {:?}; exit {:?} after {}",
        watched.end,
        exit.code(),
        ms(after)
    );
    let stderr = exit.stderr_text();
    let statuses: Vec<_> = watched.statuses.iter().map(|(_, status)| *status).collect();
    assert_eq!(
        statuses,
        [ServingStatus::Serving, ServingStatus::NotServing],
        "{seen:?}"
    );
    let (told, _) = watched.statuses[1];
    assert!(
        told > sent && told - sent < Duration::from_millis(300),
        "NOT_SERVING {:?} after SIGTERM",
        told.saturating_duration_since(sent)
    );
    match &watched.end {
        Some((at, StreamEnd::Status(Code::Unavailable, message))) => {
            assert_eq!(message, "server is shutting down");
            let ended = *at - sent;
            assert!(
                ended >= DRAIN_DELAY - Duration::from_millis(20) && ended < DRAIN_DELAY + PROMPT,
                "the watch ended {ended:?} after SIGTERM; draining begins at {DRAIN_DELAY:?}"
            );
        }
        end => panic!("the watch ended with {end:?}; {stderr}"),
    }
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        after < DRAIN_DELAY + FAST_EXIT,
        "exit {after:?} after SIGTERM"
    );
}

#[test]
fn health_checks_answer_not_serving_through_the_lame_duck_and_late_updates_are_ignored() {
    let delay = format!("{}ms", DRAIN_DELAY.as_millis());
    // The example reports SERVING every 5 ms: many of its reports race the
    // signal, and every one after it must be ignored.
    let running = Running::start(
        "health-check",
        &[("GRACEFUL_DRAIN_DELAY", &delay), ("HEALTH_EVERY", "5ms")],
    );
    let address = running.address;
    let (connected, ready) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let checks = on_a_thread({
        let stop = Arc::clone(&stop);
        async move {
            // One connection, opened before the signal.
            let mut client = HealthClient::new(channel(address).await);
            let mut seen = Vec::new();
            while !stop.load(Ordering::Acquire) {
                let request = HealthCheckRequest {
                    service: String::new(),
                };
                let answer = tokio::time::timeout(ANSWER, client.check(request)).await;
                let at = Instant::now();
                match answer {
                    Ok(Ok(response)) => seen.push((at, Ok(response.into_inner().status()))),
                    Ok(Err(status)) => {
                        seen.push((at, Err(status.code())));
                        break;
                    }
                    Err(_) => panic!("a Check hung"),
                }
                let _ = connected.send(());
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            seen
        }
    });
    ready.recv_timeout(ANSWER).expect("no Check answered");
    let sent = running.process.signal(Signal::SIGTERM);
    let draining = sent + DRAIN_DELAY;
    // Until the lame duck is nearly over: draining closes the connection.
    thread::sleep(DRAIN_DELAY - Duration::from_millis(100));
    stop.store(true, Ordering::Release);
    let seen = checks.join().expect("the client panicked");
    let (exit, _) = wait_exit(running.process, sent);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());

    let before = seen.iter().filter(|(at, _)| *at < sent).count();
    let during: Vec<_> = seen
        .iter()
        .filter(|(at, _)| *at > sent + Duration::from_millis(50) && *at < draining)
        .map(|(_, status)| *status)
        .collect();
    eprintln!(
        "health Check: {before} answered before SIGTERM, {} during the lame duck",
        during.len()
    );
    assert!(
        seen.iter()
            .filter(|(at, _)| *at < sent)
            .all(|(_, status)| *status == Ok(ServingStatus::Serving)),
        "before the signal: {seen:?}"
    );
    assert!(
        during.len() >= 20,
        "too few checks in the lame duck: {during:?}"
    );
    assert!(
        during
            .iter()
            .all(|status| *status == Ok(ServingStatus::NotServing)),
        "during the lame duck, on a connection opened before the signal: {during:?}"
    );
    // Once NOT_SERVING, never SERVING again, however late the example's
    // reports came.
    let first_not = seen
        .iter()
        .position(|(_, status)| *status == Ok(ServingStatus::NotServing))
        .expect("NOT_SERVING was answered");
    assert!(
        seen[first_not..]
            .iter()
            .all(|(_, status)| *status != Ok(ServingStatus::Serving)),
        "flipped back to SERVING: {seen:?}"
    );
}

#[test]
fn max_connection_age_moves_a_client_to_a_second_instance_losing_nothing() {
    let age = [
        ("MAX_CONNECTION_AGE", "1s"),
        ("MAX_CONNECTION_AGE_GRACE", "2s"),
    ];
    let first = Running::start("age-first", &age);
    let mut second = Running::start("age-second", &age);
    // The load balancer: all connections to the first, for now.
    let proxy = Proxy::start(first.address);
    let load = Load::start(proxy.address);
    load.wait_answered(20);
    // The pool changes (a rolling restart, a scale-up): new connections
    // go to the second. The client's connection stays on the first until
    // it is 1 s old (±10 %): GOAWAY, and it reconnects.
    proxy.point_at(second.address);
    let moved = Instant::now();
    second
        .process
        .wait_for_stdout_prefix("accepted ", Duration::from_secs(5));
    let took = moved.elapsed();
    // A while on the second instance.
    let answered = load.answered.load(Ordering::Acquire);
    load.wait_answered(answered + 50);
    let calls = load.stop();

    let mut exits = Vec::new();
    for running in [first, second] {
        let sent = running.process.signal(Signal::SIGTERM);
        exits.push(wait_exit(running.process, sent).0);
    }
    let on_first = accepted(&exits[0]);
    let on_second = accepted(&exits[1]);
    let failed: Vec<_> = calls
        .iter()
        .filter_map(|call| {
            call.outcome
                .as_ref()
                .err()
                .map(|failure| (call.seq, failure))
        })
        .collect();
    eprintln!(
        "max_connection_age 1s: {} calls, {} on the first instance, {} on the second, which got its first {} after the proxy moved; connections made: {:?}; failed: {failed:?}",
        calls.len(),
        on_first.len(),
        on_second.len(),
        ms(took),
        proxy.made()
    );
    // Nothing the server accepted failed. tonic's client fails a call it
    // had queued on the connection as that connection closed, unsent
    // (CANCELLED, "operation was canceled": s2-sdk-rust #149 retries it
    // for that reason); gRPC's C core retries such calls itself, and
    // tests/grpc_python.rs asserts that none fails there.
    for (seq, failure) in &failed {
        assert!(
            !on_first.contains(seq) && !on_second.contains(seq),
            "call {seq} was accepted, then failed: {failure:?}"
        );
        assert!(
            matches!(failure, Failure::Status(Code::Cancelled, message) if message == "operation was canceled"),
            "call {seq} failed otherwise than unsent: {failure:?}"
        );
    }
    assert!(
        failed.len() <= CALLERS as usize,
        "more calls failed unsent than there are callers: {failed:?}"
    );
    assert!(!on_first.is_empty() && !on_second.is_empty());
    assert!(
        took < Duration::from_millis(1100) + PROMPT,
        "the client moved {took:?} after the proxy did; its connection ages at 1 s ± 10 %"
    );
    for exit in &exits {
        assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    }
}
