//! The drain across a network path with latency (10 ms each way, see
//! `support::netpath`), where loopback hides races: a FIN, a GOAWAY or a
//! close frame takes a while to arrive, and a client may send its next
//! request in the meantime. Requests in flight, HTTP/2 streams, a
//! WebSocket and a slow request head behave as on loopback, and kept-alive
//! clients that reuse a connection without checking it (Python's
//! `http.client`, a client nobody here wrote) lose nothing, thanks to the
//! keep-alive hold, and under a lame duck, thanks to the listener closing
//! only once the handshakes under way are done. Runs as root (namespaces,
//! TUN devices).
#![cfg(target_os = "linux")]

mod support;

use std::io::Write as _;
use std::time::{Duration, Instant};

use support::h2::{self, Pings};
use support::http;
use support::netpath::NetPath;
use support::{Service, Signal, reuse, upload, ws};

/// Each way.
const DELAY: Duration = Duration::from_millis(10);
const ANSWER: Duration = Duration::from_secs(10);
const EXIT_BOUND: Duration = Duration::from_secs(10);
/// "At once", on a loaded machine, across the path.
const PROMPT: Duration = Duration::from_millis(500);
/// graceful-rt's default `Serve::client_bound`, which the example serves
/// with.
const CLIENT_BOUND: Duration = Duration::from_secs(1);

/// The example service in the path's namespace, on its address.
fn start(path: &NetPath, test: &str) -> Service {
    start_with(path, test, &[])
}

/// [`start`], with `env` added.
fn start_with(path: &NetPath, test: &str, env: &[(&str, &str)]) -> Service {
    let server = path.server.to_string();
    let mut all = vec![("HOST", server.as_str()), ("GRACEFUL_TIMEOUT", "5s")];
    all.extend_from_slice(env);
    Service::start_command(test, path.command(&support::binary("service")), &all)
}

#[test]
fn kept_alive_clients_that_reuse_without_checking_lose_nothing_across_the_path() {
    let path = NetPath::new(DELAY);
    let service = start(&path, "reuse-path");
    let tally = reuse::across_sigterm(service, 16);
    tally.assert_nothing_lost("http.client over 2 × 10 ms");
    assert!(
        tally.json["answered"].as_u64().unwrap() >= 48,
        "{}",
        tally.json
    );
}

/// Under a lame duck every response says `Connection: close`, so the
/// clients reconnect all the time: when the listener closes, some are
/// half-way through their handshake, with a request behind it. Closing the
/// listener then reset them (1 to 3 of 16 in 4 of 6 runs); new SYNs are
/// now dropped first and the handshakes under way completed and served.
/// One more was reset in 1 of about 20 runs (a CI run, 1 of 16 clients):
/// a connection complete and queued in the kernel, which tokio's reactor
/// had not yet seen; the kernel's queue is now waited for too. And one
/// more in 1 of 3 bench runs: a SYN that arrived as the filter came off,
/// just before the close (the listener now closes with it on). A failure
/// tells the server's log and the namespace's counters of resets.
#[test]
fn kept_alive_clients_under_a_lame_duck_lose_nothing_across_the_path() {
    let path = NetPath::new(DELAY);
    let service = start_with(&path, "lame-duck-path", &[("GRACEFUL_DRAIN_DELAY", "2s")]);
    let before = path.tcp_counters(RESET_COUNTERS);
    let tally = reuse::across_sigterm(service, 16);
    let after = path.tcp_counters(RESET_COUNTERS);
    let counted: Vec<String> = RESET_COUNTERS
        .iter()
        .zip(before.iter().zip(&after))
        .map(|(name, (before, after))| format!("{name} +{}", after - before))
        .collect();
    tally.assert_nothing_lost_or_tell(
        "http.client under a lame duck over 2 × 10 ms",
        &format!("the server namespace's counters: {}", counted.join(", ")),
    );
}

/// The counters of the server's namespace that tell why a connection was
/// reset: closed with bytes unread, a full accept queue, a SYN dropped.
const RESET_COUNTERS: &[&str] = &[
    "TCPAbortOnClose",
    "TCPAbortOnData",
    "ListenOverflows",
    "ListenDrops",
    "TCPReqQFullDrop",
];

#[test]
fn kept_alive_clients_that_reuse_without_checking_lose_nothing_on_loopback() {
    let service = Service::start("reuse-loopback", &[("GRACEFUL_TIMEOUT", "5s")]);
    reuse::across_sigterm(service, 16).assert_nothing_lost("http.client on loopback");
}

#[test]
fn requests_in_flight_across_the_path_are_answered_with_connection_close() {
    let path = NetPath::new(DELAY);
    let mut service = start(&path, "inflight-path");
    let slow: Vec<_> = (0..20)
        .map(|_| http::in_flight(service.address, "/slow?ms=500", ANSWER))
        .collect();
    service
        .process
        .wait_for_stderr_count("slow: sleeping", 20, ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    for slow in slow {
        let outcome = slow.join().unwrap();
        let response = outcome
            .response()
            .unwrap_or_else(|| panic!("lost: {outcome:?}"));
        assert_eq!(response.status, 200);
        assert!(response.closes(), "{:?}", response.headers);
    }
    let exit = service.process.wait_exit(EXIT_BOUND);
    eprintln!("in flight over the path: exit after {:?}", exit.at - sent);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

#[test]
fn http2_streams_in_flight_across_the_path_are_all_answered() {
    const STREAMS: usize = 50;
    let path = NetPath::new(DELAY);
    let mut service = start(&path, "h2-path");
    let mut client = h2::Connection::open(service.address, Pings::Answer).expect("HTTP/2");
    for _ in 0..STREAMS {
        client.request("GET", "/slow?ms=500").unwrap();
    }
    service
        .process
        .wait_for_stderr_count("slow: sleeping", STREAMS, ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    let answered = client.wait(ANSWER, |seen| {
        seen.streams
            .values()
            .filter(|stream| stream.answered())
            .count()
            == STREAMS
    });
    let seen = client.snapshot();
    assert!(answered, "not every stream was answered: {seen:?}");
    assert!(!seen.goaways.is_empty(), "no GOAWAY: {seen:?}");
    let exit = service.process.wait_exit(EXIT_BOUND);
    // Closed with the client's last frames unread, the socket would have
    // been reset, its unsent answers thrown away (9 of 50 lost in 1 run of
    // 6 on a loaded machine): the server lingers instead.
    let resets = path.tcp_counter("TCPAbortOnClose");
    assert_eq!(resets, 0, "connections reset at their close");
    eprintln!(
        "{STREAMS} HTTP/2 streams over the path: all answered; exit after {:?}",
        exit.at - sent
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

#[test]
fn a_websocket_across_the_path_is_told_going_away() {
    let path = NetPath::new(DELAY);
    let service = start(&path, "ws-path");
    let mut stream = ws::open(service.address, "/ws", ANSWER).expect("a WebSocket");
    let sent = service.process.signal(Signal::SIGTERM);
    let code = ws::close_code(&mut stream, ANSWER).expect("a close frame");
    let told = sent.elapsed();
    assert_eq!(code, 1001, "going away");
    let exit = service.process.wait_exit(EXIT_BOUND);
    eprintln!("WebSocket over the path: close 1001 after {told:?}");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(told < PROMPT, "told {told:?} after SIGTERM");
}

#[test]
fn a_request_head_never_finished_across_the_path_is_closed_within_the_client_bound() {
    let path = NetPath::new(DELAY);
    let service = start(&path, "slow-head-path");
    let mut stream = http::connect(service.address).expect("connect");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    http::wait_accepted(service.address, ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    let closed = http::wait_closed(&mut stream, ANSWER);
    let after = sent.elapsed();
    let exit = service.process.wait_exit(EXIT_BOUND);
    eprintln!("half a head over the path: {closed:?} after {after:?}");
    assert!(closed.is_ok(), "a clean close: {closed:?}");
    let bound = CLIENT_BOUND;
    assert!(
        (bound..bound + PROMPT).contains(&after),
        "closed {after:?} after SIGTERM, CLIENT_BOUND is {bound:?}"
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

/// hyper #3078 (Rocket #3004) across the path: during the lame duck an
/// early answer (`?early=1`, before the body is read) says `Connection:
/// close`, and the server closes with the client's body still arriving.
/// Across latency more of the body is still on the wire when it closes, so
/// a reset is likelier to destroy the answer than on loopback
/// (`tests/failure_modes.rs`). Measured first, as the issue asked: none is
/// lost, so no lingering close is added.
#[test]
fn hyper_3078_an_answer_before_the_body_reaches_a_client_that_sends_it_all_first_across_the_path() {
    let path = NetPath::new(DELAY);
    let service = start_with(
        &path,
        "early-answer-path",
        &[("GRACEFUL_TIMEOUT", "20s"), ("GRACEFUL_DRAIN_DELAY", "15s")],
    );
    let sent = service.process.signal(Signal::SIGTERM);
    let lost = upload::early_answers(service.address, [64 << 10, 1 << 20, 4 << 20], ANSWER);
    assert!(
        sent.elapsed() < Duration::from_secs(15),
        "the lame duck ended first"
    );
    let exit = service.process.wait_exit(Duration::from_secs(25));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(lost.is_empty(), "answers lost: {lost:?}");
}

/// The path itself: a round trip takes twice the delay, so the tests above
/// do run across latency.
#[test]
fn the_path_delays_each_way() {
    let path = NetPath::new(DELAY);
    let service = start(&path, "path-itself");
    let began = Instant::now();
    let stream = http::connect(service.address).expect("connect");
    let connect = began.elapsed();
    drop(stream);
    let sent = service.process.signal(Signal::SIGTERM);
    let exit = service.process.wait_exit(EXIT_BOUND);
    eprintln!(
        "connect over the path: {connect:?}; exit after {:?}",
        exit.at - sent
    );
    assert!(
        connect >= 2 * DELAY,
        "a connect took {connect:?}, less than a round trip of {:?}",
        2 * DELAY
    );
}
