//! HTTP draining, through the example service (axum + SQLite), with a
//! client of our own: nothing in flight is lost, idle connections close
//! cleanly at once, late requests are served, and the drain deadline cuts what
//! is left so the cleanup still runs. The scenarios of drainbench, with
//! bounds loose enough for a loaded 2-core machine; the benchmarks measure
//! the real figures.

mod support;

use std::net::TcpStream;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use support::http::{self, Outcome};
use support::{Service, Signal, ws};

/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// graceful-rt's defaults, which the example serves with unless told
/// otherwise: `Serve::idle_grace` and `Serve::keep_alive_hold`.
const IDLE_GRACE: Duration = Duration::from_millis(100);
const KEEP_ALIVE_HOLD: Duration = Duration::from_millis(500);
/// How long a client waits for any answer before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);

fn keep_alive_connection(service: &Service) -> TcpStream {
    let mut stream = http::connect(service.address).expect("connect");
    let outcome = http::request(&mut stream, "GET", "/", ANSWER);
    let response = outcome
        .response()
        .unwrap_or_else(|| panic!("GET /: {outcome:?}"));
    assert_eq!(response.status, 200);
    assert!(!response.closes(), "kept alive before the shutdown");
    stream
}

#[test]
fn an_idle_service_exits_at_once_with_code_0() {
    let service = Service::start("idle", &[]);
    let sent = service.process.signal(Signal::SIGTERM);
    let exit = service.process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    eprintln!("idle: SIGTERM to exit {latency:?}");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(latency < PROMPT, "took {latency:?}");
}

/// 100 idle keep-alive connections at SIGTERM, with `hold` as the
/// keep-alive hold: each ends with a clean FIN once it is over (quiet for
/// `IDLE_GRACE` with no hold); returns when the last closed and when the
/// process exited, after SIGTERM.
fn idle_keep_alive_connections(test: &str, hold: &str) -> (Duration, Duration) {
    let service = Service::start(test, &[("KEEP_ALIVE_HOLD", hold)]);
    let mut connections: Vec<TcpStream> =
        (0..100).map(|_| keep_alive_connection(&service)).collect();
    // Idle for longer than the grace given to recently used connections.
    thread::sleep(IDLE_GRACE * 2);
    let sent = service.process.signal(Signal::SIGTERM);
    for (index, stream) in connections.iter_mut().enumerate() {
        if let Err(error) = http::wait_closed(stream, Duration::from_secs(5)) {
            panic!("connection {index} did not end with a clean FIN: {error}");
        }
    }
    let closed = sent.elapsed();
    let exit = service.process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    eprintln!("{test}: last FIN {closed:?}, exit {latency:?} after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    (closed, latency)
}

#[test]
fn idle_keep_alive_connections_are_closed_at_once_with_a_clean_fin_without_a_hold() {
    let (_, latency) = idle_keep_alive_connections("idle-keepalive", "0s");
    assert!(
        latency < PROMPT,
        "took {latency:?}: idle connections held the shutdown"
    );
}

#[test]
fn idle_keep_alive_connections_are_held_for_a_next_request_then_closed_with_a_clean_fin() {
    let hold = KEEP_ALIVE_HOLD;
    let (closed, latency) =
        idle_keep_alive_connections("idle-keepalive-held", &format!("{}ms", hold.as_millis()));
    assert!(
        closed >= hold,
        "closed {closed:?} after SIGTERM, within the hold"
    );
    assert!(
        latency < hold + PROMPT,
        "took {latency:?}: idle connections held the shutdown past the hold"
    );
}

#[test]
fn in_flight_requests_finish_with_connection_close_and_the_process_exits_right_after() {
    let mut service = Service::start("inflight", &[]);
    let address = service.address;
    let start = Arc::new(Barrier::new(51));
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let start = Arc::clone(&start);
            thread::spawn(move || {
                let mut stream = http::connect(address).expect("connect");
                start.wait();
                http::request(&mut stream, "GET", "/slow?ms=1000", ANSWER)
            })
        })
        .collect();
    start.wait();
    service
        .process
        .wait_for_stderr_count("slow: sleeping", 50, ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    let outcomes: Vec<Outcome> = clients
        .into_iter()
        .map(|client| client.join().unwrap())
        .collect();
    let exit = service.process.wait_exit(Duration::from_secs(10));
    for outcome in &outcomes {
        let response = outcome
            .response()
            .unwrap_or_else(|| panic!("lost: {outcome:?}"));
        assert_eq!(response.status, 200, "{}", response.text());
        assert_eq!(response.headers_named("connection"), ["close"]);
    }
    let last = outcomes
        .iter()
        .filter_map(Outcome::response)
        .map(|response| response.at)
        .max()
        .unwrap();
    let overhang = exit.at.saturating_duration_since(last);
    eprintln!(
        "inflight: 50/50 answered, overhang {overhang:?}, exit {:?} after SIGTERM",
        exit.at - sent
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        overhang < PROMPT,
        "the process lingered {overhang:?} after the last response"
    );
    assert_eq!(
        exit.stderr_lines("draining: stopped accepting; 50 requests in flight on 50 connections")
            .len(),
        1,
        "{}",
        exit.stderr_text()
    );
}

#[test]
fn connections_after_the_signal_are_refused_or_answered_never_left_hanging() {
    let service = Service::start("after-signal", &[]);
    let address = service.address;
    let slow: Vec<_> = (0..20)
        .map(|_| http::in_flight(address, "/slow?ms=1500", ANSWER))
        .collect();
    let mut process = service.process;
    process.wait_for_stderr_count("slow: sleeping", 20, ANSWER);
    process.signal(Signal::SIGTERM);
    process.wait_for_stderr("draining: stopped accepting", ANSWER);
    let late: Vec<_> = (0..10)
        .map(|_| {
            thread::spawn(move || match http::connect(address) {
                Err(error) => Err(error.kind()),
                Ok(mut stream) => Ok(http::request(&mut stream, "GET", "/", ANSWER)),
            })
        })
        .collect();
    for late in late {
        match late.join().unwrap() {
            Err(kind) => assert_eq!(kind, std::io::ErrorKind::ConnectionRefused),
            Ok(outcome) => {
                let response = outcome
                    .response()
                    .unwrap_or_else(|| panic!("late request lost: {outcome:?}"));
                // Accepted from the backlog just before the listener closed.
                assert_eq!(response.status, 200);
                assert!(response.closes());
            }
        }
    }
    for slow in slow {
        let outcome = slow.join().unwrap();
        assert_eq!(outcome.status(), Some(200), "{outcome:?}");
    }
    let exit = process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

#[test]
fn a_second_request_on_a_kept_alive_connection_is_answered_or_declined_by_a_clean_close() {
    let service = Service::start("keepalive-reuse", &[]);
    let address = service.address;
    let mut idle: Vec<TcpStream> = (0..10).map(|_| keep_alive_connection(&service)).collect();
    let slow: Vec<_> = (0..5)
        .map(|_| http::in_flight(address, "/slow?ms=1500", ANSWER))
        .collect();
    let mut process = service.process;
    process.wait_for_stderr_count("slow: sleeping", 5, ANSWER);
    process.signal(Signal::SIGTERM);
    process.wait_for_stderr("draining: stopped accepting", ANSWER);
    let (mut declined, mut answered) = (0, 0);
    for stream in &mut idle {
        match http::peer_closed(stream) {
            Some(Ok(())) => declined += 1,
            Some(Err(error)) => panic!("an idle connection was reset: {error}"),
            None => {
                let outcome = http::request(stream, "GET", "/", ANSWER);
                let response = outcome
                    .response()
                    .unwrap_or_else(|| panic!("second request lost: {outcome:?}"));
                assert_eq!(response.status, 200);
                assert!(response.closes());
                answered += 1;
            }
        }
    }
    eprintln!("keepalive-reuse: {declined} declined by a clean close, {answered} answered");
    for slow in slow {
        assert_eq!(slow.join().unwrap().status(), Some(200));
    }
    let exit = process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

#[test]
fn a_request_on_a_connection_used_a_moment_ago_is_served_then_the_connection_closes() {
    let mut service = Service::start("recent", &[]);
    let address = service.address;
    // A slow request keeps the server draining.
    let slow = http::in_flight(address, "/slow?ms=1500", ANSWER);
    // The server has the slow request (it lasts 1.5 s) before the
    // kept-alive connection's use, which must stay within IDLE_GRACE of
    // the signal.
    service.process.wait_for_stderr("slow: sleeping", ANSWER);
    let mut stream = keep_alive_connection(&service);
    // Signal within the grace of the connection's last response: a
    // request may be on the wire, so the connection must not be closed.
    let mut process = service.process;
    process.signal(Signal::SIGTERM);
    process.wait_for_stderr("draining: stopped accepting", Duration::from_secs(5));
    let outcome = http::request(&mut stream, "GET", "/", ANSWER);
    let response = outcome
        .response()
        .unwrap_or_else(|| panic!("lost: {outcome:?}"));
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.text(), "hello from graceful\n");
    assert_eq!(response.headers_named("connection"), ["close"]);
    http::wait_closed(&mut stream, Duration::from_secs(5))
        .expect("closed cleanly after the answer");
    assert_eq!(slow.join().unwrap().status(), Some(200));
    let exit = process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    // The slow request was in its handler before the signal: in flight
    // when draining began. The request on the kept-alive connection
    // arrived while draining, so it is counted late.
    assert_eq!(
        exit.stderr_lines("draining: stopped accepting; 1 request in flight on 2 connections")
            .len(),
        1,
        "{}",
        exit.stderr_text()
    );
    let late: usize = exit
        .stderr
        .iter()
        .find_map(|line| {
            let (before, _) = line.split_once(" late request")?;
            before.rsplit(' ').next()?.parse().ok()
        })
        .unwrap_or(0);
    assert_eq!(
        late,
        1,
        "late requests {late}, expected the kept-alive one alone:\n{}",
        exit.stderr_text()
    );
}

#[test]
fn the_drain_deadline_cuts_a_request_and_the_cleanup_still_runs() {
    let report = support::report_path("drain-cut");
    let mut service = Service::start(
        "timeout",
        &[
            ("GRACEFUL_TIMEOUT", "3s"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    let mut stream = http::connect(service.address).unwrap();
    http::send(&mut stream, "GET", "/slow?ms=60000").unwrap();
    service.process.wait_for_stderr("slow: sleeping", ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    let outcome = http::receive(&mut stream, Duration::from_secs(10));
    let exit = service.process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    eprintln!("timeout: 3s budget, exit {latency:?} after SIGTERM, request: {outcome:?}");
    assert!(
        outcome.is_lost(),
        "a 60 s request cannot finish in 3 s: {outcome:?}"
    );
    assert_eq!(exit.code(), Some(3), "{}", exit.stderr_text());
    // Not before the drain deadline (3% of the budget before the deadline),
    // and not after the deadline, give or take a loaded machine.
    assert!(
        latency >= Duration::from_millis(2910),
        "exited before the drain deadline: {latency:?}"
    );
    assert!(
        latency < Duration::from_millis(3500),
        "exited late: {latency:?}"
    );
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "drain_cut");
    assert_eq!(report["drain"]["requests_cut"], 1);
    assert_eq!(report["drain"]["connections_cut"], 1);
    assert_eq!(report["closes"][0]["name"], "db");
    assert_eq!(report["closes"][0]["outcome"], "closed");
}

#[test]
fn the_lame_duck_fails_readiness_but_still_serves() {
    let service = Service::start("lame-duck", &[("GRACEFUL_DRAIN_DELAY", "1s")]);
    let address = service.address;
    let mut ready = http::connect(address).unwrap();
    assert_eq!(
        http::request(&mut ready, "GET", "/readyz", ANSWER)
            .response()
            .unwrap()
            .status,
        200
    );
    let mut process = service.process;
    let sent = process.signal(Signal::SIGTERM);
    process.wait_for_stderr("lame duck for 1s", Duration::from_secs(5));
    let readiness = http::request(&mut ready, "GET", "/readyz", ANSWER);
    let readiness = readiness.response().expect("readiness answered");
    assert_eq!(readiness.status, 503);
    assert_eq!(readiness.text(), r#"{"status":"shutting down"}"#);
    // Still serving, on new connections too, each told to reconnect.
    let mut fresh = http::connect(address).expect("still accepting during the lame duck");
    let outcome = http::request(&mut fresh, "GET", "/", ANSWER);
    let response = outcome.response().unwrap();
    assert_eq!(response.status, 200);
    assert!(response.closes());
    assert!(
        sent.elapsed() < Duration::from_secs(1),
        "the checks above took the whole lame duck"
    );
    process.wait_for_stderr("draining: stopped accepting", Duration::from_secs(5));
    let drain_started = Instant::now();
    assert!(drain_started - sent >= Duration::from_secs(1));
    match http::connect(address) {
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused),
        Ok(_) => panic!("a new connection was accepted after draining began"),
    }
    let exit = process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

#[test]
fn a_websocket_is_told_going_away_1001() {
    let service = Service::start("websocket", &[]);
    let mut stream = ws::open(service.address, "/ws", ANSWER).expect("a WebSocket");
    service.process.signal(Signal::SIGTERM);
    let code = ws::close_code(&mut stream, ANSWER).expect("a close frame");
    assert_eq!(code, 1001, "going away");
    let exit = service.process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

/// One closed-loop client of the load test: keeps a keep-alive connection
/// busy, reconnects when told or refused, and counts what it saw.
#[derive(Default, Debug)]
struct Tally {
    ok: usize,
    unavailable: usize,
    refused: usize,
    lost: Vec<String>,
}

fn load_client(address: std::net::SocketAddr, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut stream: Option<TcpStream> = None;
    while Instant::now() < until {
        if stream
            .as_ref()
            .is_some_and(|open| http::peer_closed(open).is_some())
        {
            // Closed by the server while idle: not a lost request.
            stream = None;
        }
        let Some(open) = stream.as_mut() else {
            match http::connect(address) {
                Ok(fresh) => stream = Some(fresh),
                Err(_) => {
                    tally.refused += 1;
                    thread::sleep(Duration::from_millis(50));
                }
            }
            continue;
        };
        match http::request(open, "GET", "/", Duration::from_secs(3)) {
            Outcome::Answered(response) => {
                match response.status {
                    200 => tally.ok += 1,
                    503 => tally.unavailable += 1,
                    other => tally.lost.push(format!("status {other}")),
                }
                if response.closes() {
                    stream = None;
                }
            }
            lost => {
                tally.lost.push(format!("{lost:?}"));
                stream = None;
            }
        }
    }
    tally
}

#[test]
fn under_load_a_shutdown_loses_no_request() {
    const RUNS: usize = 10;
    const CLIENTS: usize = 32;
    for run in 0..RUNS {
        let service = Service::start("load", &[]);
        let address = service.address;
        let until = Instant::now() + Duration::from_millis(1500);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| thread::spawn(move || load_client(address, until)))
            .collect();
        thread::sleep(Duration::from_millis(750));
        service.process.signal(Signal::SIGTERM);
        let tallies: Vec<Tally> = clients
            .into_iter()
            .map(|client| client.join().unwrap())
            .collect();
        let exit = service.process.wait_exit(Duration::from_secs(10));
        let ok: usize = tallies.iter().map(|tally| tally.ok).sum();
        let unavailable: usize = tallies.iter().map(|tally| tally.unavailable).sum();
        let refused: usize = tallies.iter().map(|tally| tally.refused).sum();
        let lost: Vec<&String> = tallies.iter().flat_map(|tally| &tally.lost).collect();
        eprintln!(
            "load run {run}: 200: {ok}, 503: {unavailable}, refused: {refused}, LOST: {}",
            lost.len()
        );
        if !lost.is_empty() {
            eprintln!("{}", exit.stderr_text());
        }
        assert!(
            lost.is_empty(),
            "run {run} lost {} requests: {lost:?}",
            lost.len()
        );
        assert!(ok > 0, "run {run}: nothing was served");
        assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    }
}
