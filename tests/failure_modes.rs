//! The ways a shutdown goes wrong in the field, as users of other stacks
//! reported them, each reproduced with a real process, a real signal and
//! real sockets, and each test named for the report it answers:
//!
//! - hyper #2294: out of file descriptors, the shutdown never finished;
//! - tokio #5338 (tokio-graceful-shutdown #50): blocking tasks kept the
//!   process alive after a clean shutdown;
//! - hyper-util #101: a half-sent HTTP/2 preface hung the shutdown;
//! - ctrlc #97 (stratum-mining/sv2-apps #688): a dependency's own signal
//!   handler took the signals, and the shutdown never started;
//! - deno #36809: a body still arriving at the shutdown could not be read;
//! - hyper #3078 (Rocket #3004): a response sent before the request's body
//!   had arrived was destroyed by the reset of a close with bytes unread.
//!
//! (TLS handshakes stalled or in progress at SIGTERM are in tests/tls.rs.)
//! Every wait is for an event (a log line, an answer, an exit), bounded.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::http::{self, Outcome};
use support::{Process, Service, Signal, upload};

/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// graceful-rt's default `Serve::client_bound`, which the example serves
/// with.
const CLIENT_BOUND: Duration = Duration::from_secs(1);
/// How long a client waits for any answer before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);
/// How long a process may take to exit after SIGTERM before the test
/// calls it hung.
const EXIT_BOUND: Duration = Duration::from_secs(10);

/// The descriptors a process has open now.
fn open_descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count())
        .unwrap_or_else(|error| panic!("cannot list /proc/{pid}/fd: {error}"))
}

/// Sends `GET /` on `stream` and waits at most `bound` for the answer.
fn get(stream: &mut TcpStream, bound: Duration) -> Outcome {
    http::request(stream, "GET", "/", bound)
}

#[test]
fn hyper_2294_out_of_file_descriptors_serving_goes_on_and_the_shutdown_finishes() {
    // The example service, first without a limit to count what it holds
    // open at rest, then with room for only a few connections more.
    let probe = Service::start("fd-probe", &[]);
    let at_rest = open_descriptors(probe.process.pid());
    probe.process.signal(Signal::SIGTERM);
    assert_eq!(probe.process.wait_exit(EXIT_BOUND).code(), Some(0));
    let room = 8;
    let limit = at_rest + room;
    let report = support::report_path("fd-limit");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fd-limit-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let database = dir.join("items.db");
    let mut command = std::process::Command::new("prlimit");
    command
        .arg(format!("--nofile={limit}:{limit}"))
        .arg(support::binary("service"));
    let mut process = Process::start_command(
        command,
        &[
            ("PORT", "0"),
            ("DATABASE_PATH", database.to_str().unwrap()),
            ("GRACEFUL_TIMEOUT", "3s"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    let line = process.wait_for_stderr_line("listening on ", ANSWER);
    let address = line.rsplit(' ').next().unwrap().parse().unwrap();

    // Three times as many clients as there is room for: the first few are
    // served, the others wait in the listener's queue while accept fails.
    let mut clients: Vec<TcpStream> = (0..room * 3)
        .map(|_| http::connect(address).expect("connect"))
        .collect();
    process.wait_for_stderr("accept failed: Too many open files", ANSWER);
    let answered: Vec<bool> = clients
        .iter_mut()
        .map(|client| get(client, Duration::from_millis(300)).status() == Some(200))
        .collect();
    let served_first = answered.iter().filter(|&&ok| ok).count();
    eprintln!(
        "{at_rest} descriptors at rest, limit {limit}: {served_first} of {} clients served while out of descriptors",
        clients.len()
    );
    assert!(
        served_first > 0 && served_first < clients.len(),
        "{served_first} served"
    );
    // Serving goes on: the connections accepted are served again.
    for (client, _) in clients.iter_mut().zip(&answered).filter(|(_, ok)| **ok) {
        assert_eq!(get(client, ANSWER).status(), Some(200));
    }
    // Room again: the served clients leave, and those that waited in the
    // queue are accepted and answered (their requests were sent above).
    let mut waiting: Vec<TcpStream> = clients
        .drain(..)
        .zip(answered)
        .filter_map(|(client, ok)| (!ok).then_some(client))
        .collect();
    let freed = Instant::now();
    let mut later = 0;
    for client in waiting.iter_mut().take(room / 2) {
        let outcome = http::receive(client, ANSWER);
        assert_eq!(outcome.status(), Some(200), "a queued client: {outcome:?}");
        later += 1;
    }
    eprintln!(
        "{later} queued clients served within {:?} of the room freed",
        freed.elapsed()
    );
    process.wait_for_stderr("accepting again after ", ANSWER);

    // Some are still queued, accept still failing: SIGTERM drains anyway.
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(EXIT_BOUND);
    let latency = exit.at - sent;
    let stderr = exit.stderr_text();
    eprintln!(
        "out of descriptors: exit {:?} after {latency:?}",
        exit.code()
    );
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(
        latency < Duration::from_millis(1500),
        "exit took {latency:?}"
    );
    // Logged once a burst, with how many attempts failed in it.
    let failed_lines = exit.stderr_lines("accept failed: ").len();
    let failed_attempts: usize = exit
        .stderr_lines("accepting again after ")
        .iter()
        .filter_map(|line| {
            line.split("accepting again after ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .sum();
    eprintln!("{failed_lines} 'accept failed' lines for {failed_attempts}+ failed accepts");
    assert!(
        failed_lines <= exit.stderr_lines("accepting again after ").len() + 1,
        "more than one line a burst: {stderr}"
    );
    assert!(
        failed_attempts > failed_lines,
        "every failed accept was logged: {stderr}"
    );
    drop(waiting);
    let report = support::read_report(&report);
    assert_eq!(report["exit_code"], 0, "{report}");
}

#[test]
fn tokio_5338_blocking_tasks_do_not_hold_the_exit_after_the_cleanup() {
    let report = support::report_path("blocking");
    let mut process = Process::start_with_stdin_open(
        "fixture-blocking",
        &[("GRACEFUL_REPORT", report.to_str().unwrap())],
    );
    process.wait_for_stdout("ready", ANSWER);
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(EXIT_BOUND);
    let latency = exit.at - sent;
    let report = support::read_report(&report);
    let total = Duration::from_secs_f64(report["total_ms"].as_f64().expect("total_ms") / 1000.0);
    let after_report = latency.saturating_sub(total);
    eprintln!(
        "blocking tasks: the shutdown took {total:?}, the exit came {after_report:?} after it ({latency:?} after SIGTERM)"
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        after_report < Duration::from_millis(50),
        "the process lingered {after_report:?} after its shutdown completed"
    );
    assert!(latency < PROMPT, "exit took {latency:?}");
}

/// The connection preface of HTTP/2 (RFC 9113, section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[test]
fn hyper_util_101_a_half_sent_http2_preface_is_closed_within_the_client_bound() {
    // Too short to be told from an HTTP/1.1 request head: waited for like
    // one, until the client bound. Long enough to be HTTP/2's: asked to
    // close, and with no stream opened yet, hyper-util closes it at once.
    for (what, part, waited) in [
        ("the first 8 bytes", &PREFACE[..8], true),
        (
            "all but its last 4 bytes",
            &PREFACE[..PREFACE.len() - 4],
            false,
        ),
    ] {
        let report = support::report_path("half-preface");
        let mut service = Service::start(
            "half-preface",
            &[
                ("GRACEFUL_TIMEOUT", "3s"),
                ("GRACEFUL_REPORT", report.to_str().unwrap()),
            ],
        );
        let mut stream = http::connect(service.address).expect("connect");
        stream.write_all(part).unwrap();
        // The server has read them once a request beside it is answered
        // (same listener, accepted after it).
        let mut beside = http::connect(service.address).expect("connect");
        assert_eq!(get(&mut beside, ANSWER).status(), Some(200));
        drop(beside);
        let sent = service.process.signal(Signal::SIGTERM);
        service
            .process
            .wait_for_stderr("draining: stopped accepting", ANSWER);
        stream.set_read_timeout(Some(ANSWER)).unwrap();
        let mut rest = Vec::new();
        let closed = stream.read_to_end(&mut rest);
        let closed_after = sent.elapsed();
        // Closed on the server's end, as clients do: an HTTP/2 connection
        // the server ended waits for that (see graceful-rt's
        // `http::linger`), for the client bound at most.
        drop(stream);
        let exit = service.process.wait_exit(EXIT_BOUND);
        let latency = exit.at - sent;
        eprintln!(
            "half a preface ({what}): closed {closed:?} ({} bytes) {closed_after:?} after SIGTERM, exit {:?} after {latency:?}",
            rest.len(),
            exit.code()
        );
        assert!(
            matches!(closed, Ok(0)),
            "{what}: a clean close, nothing sent: {closed:?}"
        );
        assert_eq!(exit.code(), Some(0), "{what}: {}", exit.stderr_text());
        let (bound, unresponsive) = if waited {
            (CLIENT_BOUND + PROMPT, 1)
        } else {
            (PROMPT, 0)
        };
        assert!(latency < bound, "{what}: exit took {latency:?}");
        if waited {
            assert!(
                closed_after >= CLIENT_BOUND - Duration::from_millis(50),
                "{what}: closed {closed_after:?} after SIGTERM, before the client bound"
            );
        }
        let report = support::read_report(&report);
        assert_eq!(
            report["drain"]["unresponsive"], unresponsive,
            "{what}: {report}"
        );
        assert_eq!(report["drain"]["connections_cut"], 0, "{what}: {report}");
    }
}

/// What the fixture with a foreign handler prints when its dependency's
/// handler ran.
const DEPENDENCY_SAW: &str = "dependency saw Ctrl-C";
/// The start of the line that says a handler of ours was replaced.
const REPLACED: &str = "was replaced by another handler";

fn foreign(kind: &str, drain_ms: &str) -> Process {
    let mut process = Process::start(
        "fixture-foreign-handler",
        &[("FOREIGN", kind), ("FIXTURE_DRAIN_MS", drain_ms)],
    );
    process.wait_for_stdout("ready", ANSWER);
    process
}

#[test]
fn ctrlc_97_a_dependency_that_replaces_our_handlers_does_not_disable_the_shutdown() {
    // Installed before `ready()`: found and undone there, for every signal
    // it took, each named.
    let process = foreign("ctrlc", "0");
    let sent = process.signal(Signal::SIGINT);
    let exit = process.wait_exit(EXIT_BOUND);
    let stderr = exit.stderr_text();
    eprintln!(
        "ctrlc, then SIGINT: exit {:?} after {:?}",
        exit.code(),
        exit.at - sent
    );
    for signal in ["SIGINT", "SIGTERM"] {
        assert_eq!(
            exit.stderr_lines(&format!("the handler of {signal} {REPLACED}"))
                .len(),
            1,
            "{signal}: {stderr}"
        );
    }
    assert_eq!(
        exit.stderr_lines("received SIGINT, shutting down").len(),
        1,
        "{stderr}"
    );
    assert_eq!(exit.code(), Some(0), "{stderr}");
    assert!(exit.at - sent < PROMPT);
    assert!(exit.stdout.iter().all(|line| line != DEPENDENCY_SAW));

    // A second SIGINT still forces the exit.
    let mut process = foreign("ctrlc", "3000");
    process.signal(Signal::SIGINT);
    process.wait_for_stderr("received SIGINT, shutting down", ANSWER);
    let sent = process.signal(Signal::SIGINT);
    let exit = process.wait_exit(EXIT_BOUND);
    eprintln!(
        "ctrlc, then SIGINT twice: exit {:?} after {:?}",
        exit.code(),
        exit.at - sent
    );
    assert_eq!(exit.code(), Some(130), "{}", exit.stderr_text());
    assert!(exit.at - sent < PROMPT);

    // Installed after `ready()`, as a dependency set up lazily does: found
    // by the periodic check, then SIGTERM works.
    let mut process = foreign("ctrlc-late", "0");
    let found = Instant::now();
    process.wait_for_stderr(&format!("the handler of SIGTERM {REPLACED}"), ANSWER);
    eprintln!(
        "ctrlc installed after ready: undone {:?} after",
        found.elapsed()
    );
    assert!(found.elapsed() < graceful_check_period() + PROMPT);
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(EXIT_BOUND);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(exit.at - sent < PROMPT);
}

/// How often graceful checks its handlers (`disposition::EVERY`).
fn graceful_check_period() -> Duration {
    Duration::from_secs(1)
}

#[test]
fn ctrlc_97_a_dependency_waiting_on_tokio_ctrl_c_shares_sigint_with_the_shutdown() {
    let mut process = foreign("tokio", "3000");
    process.signal(Signal::SIGINT);
    process.wait_for_stderr("received SIGINT, shutting down", ANSWER);
    process.wait_for_stdout(DEPENDENCY_SAW, ANSWER);
    let sent = process.signal(Signal::SIGINT);
    let exit = process.wait_exit(EXIT_BOUND);
    eprintln!(
        "tokio::signal::ctrl_c, SIGINT twice: exit {:?} after {:?}",
        exit.code(),
        exit.at - sent
    );
    assert_eq!(exit.code(), Some(130), "{}", exit.stderr_text());
    assert!(
        exit.stderr_lines(REPLACED).is_empty(),
        "{}",
        exit.stderr_text()
    );
}

#[test]
fn deno_36809_an_upload_still_arriving_at_sigterm_is_read_to_its_end_and_answered() {
    const LENGTH: usize = 1 << 20;
    const PIECE: usize = 64 << 10;
    let report = support::report_path("upload-across");
    let mut service = Service::start(
        "upload-across",
        &[
            ("GRACEFUL_TIMEOUT", "5s"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    let mut stream = http::connect(service.address).expect("connect");
    stream
        .write_all(upload::head("", LENGTH).as_bytes())
        .unwrap();
    let body = vec![b'x'; LENGTH];
    stream.write_all(&body[..LENGTH / 4]).unwrap();
    // The handler has begun: the request is in flight, its body arriving.
    service
        .process
        .wait_for_stderr("upload: reading the body", ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    service
        .process
        .wait_for_stderr("draining: stopped accepting; 1 request in flight", ANSWER);
    // The rest, slowly: a piece every 20 ms, as from a slow client.
    for piece in body[LENGTH / 4..].chunks(PIECE) {
        std::thread::sleep(Duration::from_millis(20));
        stream.write_all(piece).unwrap();
    }
    let outcome = http::receive(&mut stream, ANSWER);
    let exit = service.process.wait_exit(EXIT_BOUND);
    eprintln!(
        "an upload across SIGTERM: {:?} {:?} after SIGTERM; exit {:?}",
        outcome.status(),
        upload::uploaded(&outcome),
        exit.code()
    );
    assert_eq!(
        upload::uploaded(&outcome),
        Some(serde_json::json!(LENGTH)),
        "{outcome:?}"
    );
    assert!(outcome.response().unwrap().closes());
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(exit.at - sent < Duration::from_secs(3));
    let report = support::read_report(&report);
    assert_eq!(report["drain"]["requests_cut"], 0, "{report}");
}

#[test]
fn deno_36809_an_http2_upload_still_arriving_at_sigterm_is_read_to_its_end_and_answered() {
    use http_body_util::BodyExt as _;
    use http_body_util::channel::Channel;
    use hyper::body::{Bytes, Frame};

    const LENGTH: usize = 1 << 20;
    const PIECE: usize = 64 << 10;
    let mut service = Service::start("h2-upload-across", &[("GRACEFUL_TIMEOUT", "5s")]);
    let address = service.address;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut body, channel) = Channel::<Bytes>::new(4);
    let (quarter_sent, sent_quarter) = std::sync::mpsc::channel();
    let (go_on, carry_on) = std::sync::mpsc::channel::<()>();
    let client = std::thread::spawn(move || {
        runtime.block_on(async move {
            let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
            let io = hyper_util::rt::TokioIo::new(tcp);
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .expect("HTTP/2 handshake");
            tokio::spawn(connection);
            let request = hyper::Request::post(format!("http://{address}/upload"))
                .body(channel)
                .unwrap();
            let answer = tokio::spawn(async move {
                let response = sender.send_request(request).await?;
                let status = response.status();
                let bytes = response.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>((status, bytes))
            });
            let piece = Bytes::from(vec![b'x'; PIECE]);
            let mut carry_on = Some(carry_on);
            for index in 0..LENGTH / PIECE {
                if let Some(carry_on) = carry_on.take_if(|_| index == LENGTH / PIECE / 4) {
                    quarter_sent.send(()).unwrap();
                    tokio::task::spawn_blocking(move || carry_on.recv())
                        .await
                        .unwrap()
                        .unwrap();
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                body.send(Frame::data(piece.clone())).await.unwrap();
            }
            drop(body);
            tokio::time::timeout(ANSWER, answer).await
        })
    });
    sent_quarter.recv_timeout(ANSWER).unwrap();
    service
        .process
        .wait_for_stderr("upload: reading the body", ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    service
        .process
        .wait_for_stderr("draining: stopped accepting; 1 request in flight", ANSWER);
    go_on.send(()).unwrap();
    let answer = client.join().unwrap();
    let exit = service.process.wait_exit(EXIT_BOUND);
    eprintln!(
        "an HTTP/2 upload across SIGTERM: {answer:?}; exit {:?} after {:?}",
        exit.code(),
        exit.at - sent
    );
    let (status, bytes) = answer
        .expect("answered in time")
        .expect("the client task")
        .expect("answered");
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(json["bytes"], LENGTH);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

#[test]
fn hyper_3078_an_answer_before_the_body_reaches_a_client_that_sends_it_all_first() {
    // The lame duck: responses say `Connection: close`, so the server
    // closes each connection after its answer, with what the client still
    // sends unread.
    let report = support::report_path("early-answer");
    let service = Service::start(
        "early-answer",
        &[
            ("GRACEFUL_TIMEOUT", "9s"),
            ("GRACEFUL_DRAIN_DELAY", "6s"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    let sent = service.process.signal(Signal::SIGTERM);
    let lost = upload::early_answers(service.address, [64 << 10, 1 << 20, 16 << 20], ANSWER);
    assert!(
        sent.elapsed() < Duration::from_secs(6),
        "the lame duck ended first"
    );
    let exit = service.process.wait_exit(EXIT_BOUND);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(lost.is_empty(), "answers lost: {lost:?}");
}
