//! Draining HTTP/2 and clients that do not cooperate, through the example
//! service (axum + SQLite) with a real SIGTERM: every HTTP/2 connection
//! gets GOAWAY at once, whatever its traffic; every stream the server
//! accepted is answered, and none it refused was processed; a client that
//! stops reading, never answers the GOAWAY PING or never finishes its
//! request head is closed after `CLIENT_BOUND`, long before the drain
//! deadline; a request cut at the drain deadline is counted. Also what
//! HTTP/1.1 pipelining gets (see the `http` module's docs).
//!
//! The HTTP/2 client is hand-written (tests/support/h2.rs) so the test sees
//! every frame, and can ignore GOAWAY or PINGs on purpose. Bounds are loose
//! enough for a loaded 2-core machine.

mod support;

use std::collections::BTreeSet;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use support::h2::{self, Pings, Seen};
use support::http::{self, Outcome};
use support::{Service, Signal};

/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// graceful-rt's defaults, which the example serves with:
/// `Serve::client_bound` and `Serve::idle_grace`.
const CLIENT_BOUND: Duration = Duration::from_secs(1);
const IDLE_GRACE: Duration = Duration::from_millis(100);
/// How long a client waits for any answer before calling it a hang.
const ANSWER: Duration = Duration::from_secs(5);
/// The shutdown budget of these tests; its drain deadline is 2.91 s.
const TIMEOUT: &str = "3s";
/// How long the process may take to exit after SIGTERM when it must not
/// wait for the drain deadline.
const EXIT_BOUND: Duration = Duration::from_secs(10);
/// Runs of the busy-connection scenario.
const RUNS: usize = 10;

fn start(test: &str) -> (Service, std::path::PathBuf) {
    let report = support::report_path(test);
    let service = Service::start(
        test,
        &[
            ("GRACEFUL_TIMEOUT", TIMEOUT),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    (service, report)
}

/// The row id in a `POST /items` response body (`{"id":N}`).
fn item_id(body: &[u8]) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["id"].as_i64()
}

/// Checks what a client that ignored GOAWAY saw: every stream at or below
/// the final last-stream-id answered, none above it answered. Returns the
/// ids of the rows the answered `POST /items` streams created.
fn check_streams(seen: &Seen, what: &str) -> BTreeSet<i64> {
    let last = seen
        .last_stream()
        .unwrap_or_else(|| panic!("{what}: no GOAWAY at all: {seen:?}"));
    let mut created = BTreeSet::new();
    for (&id, stream) in &seen.streams {
        if id <= last {
            assert!(
                stream.answered() && stream.ok == Some(true),
                "{what}: stream {id} is at or below the last-stream-id {last} but was not answered 200: {stream:?}"
            );
            if let Some(row) = item_id(&stream.body) {
                created.insert(row);
            }
        } else {
            assert!(
                !stream.answered(),
                "{what}: stream {id} is above the last-stream-id {last}, yet answered: {stream:?}"
            );
            if let Some(code) = stream.reset {
                assert_eq!(code, h2::REFUSED_STREAM, "{what}: stream {id}");
            }
        }
    }
    created
}

#[test]
fn a_busy_http2_connection_gets_goaway_at_once_and_loses_no_stream() {
    for run in 1..=RUNS {
        let (service, report) = start(&format!("h2-busy-{run}"));
        let mut client = h2::Connection::open(service.address, Pings::Answer).expect("connect");
        // One request every 20 ms, before and after SIGTERM: never quiet,
        // yet rarely a request in flight. The client ignores GOAWAY and goes
        // on until the server closes the connection.
        let began = Instant::now();
        let mut sent = None;
        while client.snapshot().closed.is_none() && began.elapsed() < ANSWER {
            if sent.is_none() && began.elapsed() >= Duration::from_millis(300) {
                sent = Some(service.process.signal(Signal::SIGTERM));
            }
            if client.request("GET", "/").is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let sent = sent.expect("the connection closed before SIGTERM");
        let exit = service.process.wait_exit(EXIT_BOUND);
        assert!(
            client.wait(ANSWER, |seen| seen.closed.is_some()),
            "run {run}: the server never closed the connection"
        );
        let seen = client.snapshot();
        let first = seen
            .goaways
            .first()
            .unwrap_or_else(|| panic!("run {run}: no GOAWAY at all: {seen:?}"));
        let goaway_after = first.at - sent;
        let latency = exit.at - sent;
        let answered = seen.streams.values().filter(|s| s.answered()).count();
        eprintln!(
            "run {run}: GOAWAY {goaway_after:?} after SIGTERM, last-stream-id {:?}, {answered} of {} streams answered, exit {:?} after {latency:?}",
            seen.last_stream(),
            seen.streams.len(),
            exit.code()
        );
        assert_eq!(exit.code(), Some(0), "run {run}: {}", exit.stderr_text());
        assert!(
            goaway_after < PROMPT,
            "run {run}: the first GOAWAY came {goaway_after:?} after SIGTERM"
        );
        assert!(
            seen.goaways.iter().all(|goaway| goaway.error_code == 0),
            "run {run}: a GOAWAY with an error: {:?}",
            seen.goaways
        );
        assert_eq!(
            seen.closed.as_ref().map(|(end, _)| *end),
            Some(Ok(())),
            "run {run}: the connection did not end with a clean EOF"
        );
        assert!(
            latency < Duration::from_millis(1500),
            "run {run}: exit took {latency:?}; the drain deadline was 2.91 s"
        );
        check_streams(&seen, &format!("run {run}"));
        let report = support::read_report(&report);
        assert_eq!(report["drain"]["requests_cut"], 0, "run {run}: {report}");
        assert_eq!(report["drain"]["connections_cut"], 0, "run {run}: {report}");
    }
}

#[test]
fn sixteen_streams_kept_in_flight_across_sigterm_are_all_answered_up_to_the_last_stream_id() {
    let (service, report) = start("h2-sixteen");
    let mut client = h2::Connection::open(service.address, Pings::Answer).expect("connect");
    let began = Instant::now();
    let mut sent = None;
    let mut opened = 0;
    // Keep 16 streams open, opening a new one as each ends, until the
    // server closes the connection: slow GETs, and one in four a
    // `POST /items`, whose row shows whether the server processed it.
    loop {
        let seen = client.snapshot();
        if seen.closed.is_some() || began.elapsed() > ANSWER {
            break;
        }
        if sent.is_none() && began.elapsed() >= Duration::from_millis(500) {
            sent = Some(service.process.signal(Signal::SIGTERM));
        }
        let mut failed = false;
        for _ in seen.open()..16 {
            let sent = if opened % 4 == 3 {
                client.request("POST", "/items")
            } else {
                client.request("GET", "/slow?ms=200")
            };
            opened += 1;
            failed |= sent.is_err();
        }
        if failed {
            break;
        }
        client.wait(Duration::from_millis(50), |now| {
            now.finished > seen.finished || now.closed.is_some()
        });
    }
    let sent = sent.expect("SIGTERM was sent");
    let exit = service.process.wait_exit(EXIT_BOUND);
    assert!(client.wait(ANSWER, |seen| seen.closed.is_some()));
    let seen = client.snapshot();
    let answered = seen.streams.values().filter(|s| s.answered()).count();
    eprintln!(
        "16 in flight: {answered} of {} streams answered, last-stream-id {:?}, exit {:?} after {:?}",
        seen.streams.len(),
        seen.last_stream(),
        exit.code(),
        exit.at - sent
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let created = check_streams(&seen, "16 in flight");
    assert!(!created.is_empty(), "no POST was answered");
    assert_eq!(
        support::stored_ids(&service.database),
        created,
        "the rows stored are not exactly those of the answered POSTs: a refused stream was processed, or an answered one lost"
    );
    let report = support::read_report(&report);
    assert_eq!(report["drain"]["requests_cut"], 0, "{report}");
}

#[test]
fn a_connection_that_only_pings_is_closed_by_goaway_at_once() {
    let (service, _report) = start("h2-pinging");
    let mut client = h2::Connection::open(service.address, Pings::Answer).expect("connect");
    client.request("GET", "/").unwrap();
    assert!(client.wait(ANSWER, |seen| seen.streams[&1].answered()));
    let began = Instant::now();
    let mut sent = None;
    while client.snapshot().closed.is_none() && began.elapsed() < ANSWER {
        if sent.is_none() && began.elapsed() >= Duration::from_millis(200) {
            sent = Some(service.process.signal(Signal::SIGTERM));
        }
        if client.ping().is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let sent = sent.expect("SIGTERM was sent");
    let exit = service.process.wait_exit(EXIT_BOUND);
    let seen = client.snapshot();
    let latency = exit.at - sent;
    eprintln!(
        "pinging: GOAWAYs {:?}, exit after {latency:?}",
        seen.goaways
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(latency < PROMPT, "exit took {latency:?}");
    assert_eq!(seen.last_stream(), Some(1), "{seen:?}");
}

/// After its last stream the server ends the connection (FIN) and reads
/// what the client still sends (see graceful-rt's `http::linger`), so as
/// not to reset it with its last answers unsent. A client that never
/// closes its side and never stops sending holds that for the client
/// bound, not longer.
#[test]
fn a_client_that_keeps_pinging_after_the_server_closed_is_let_go_after_the_client_bound() {
    let (service, report) = start("h2-linger");
    let mut client = h2::Connection::open(service.address, Pings::Answer).expect("connect");
    client.stay_open_at_end();
    client.request("GET", "/").unwrap();
    assert!(client.wait(ANSWER, |seen| seen.streams[&1].answered()));
    let sent = service.process.signal(Signal::SIGTERM);
    let mut pinged_after_the_end = 0;
    while sent.elapsed() < CLIENT_BOUND + ANSWER && client.ping().is_ok() {
        if client.snapshot().closed.is_some() {
            pinged_after_the_end += 1;
        }
        thread::sleep(Duration::from_millis(50));
    }
    let exit = service.process.wait_exit(EXIT_BOUND);
    let seen = client.snapshot();
    let latency = exit.at - sent;
    let (end, ended_at) = seen.closed.expect("the server ended the connection");
    eprintln!(
        "pinging after the end: ended {:?} after SIGTERM ({end:?}), {pinged_after_the_end} PINGs after it, exit after {latency:?}",
        ended_at - sent
    );
    assert_eq!(end, Ok(()), "a clean end (FIN), not a reset");
    assert!(
        ended_at - sent < PROMPT,
        "ended {:?} after SIGTERM",
        ended_at - sent
    );
    assert!(
        pinged_after_the_end > 5,
        "{pinged_after_the_end} PINGs after the end"
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        (CLIENT_BOUND..CLIENT_BOUND + PROMPT).contains(&latency),
        "exit took {latency:?}: the linger is bounded by the client bound"
    );
    let report = support::read_report(&report);
    assert_eq!(report["drain"]["connections_cut"], 0, "{report}");
}

#[test]
fn a_silent_idle_http2_client_is_closed_after_the_client_bound() {
    let (service, report) = start("h2-silent");
    let mut client = h2::Connection::open(service.address, Pings::Answer).expect("connect");
    client.request("GET", "/").unwrap();
    assert!(client.wait(ANSWER, |seen| seen.streams[&1].answered()));
    // A pooled connection of a synchronous client: open, read by no one.
    client.stop_reading();
    let sent = service.process.signal(Signal::SIGTERM);
    let exit = service.process.wait_exit(EXIT_BOUND);
    let latency = exit.at - sent;
    eprintln!("silent h2 client: exit after {latency:?}");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        latency < CLIENT_BOUND + PROMPT,
        "exit took {latency:?}: the silent client held the drain"
    );
    let report = support::read_report(&report);
    assert_eq!(report["drain"]["unresponsive"], 1, "{report}");
    assert_eq!(report["drain"]["connections_cut"], 0, "{report}");
    assert_eq!(report["drain"]["requests_cut"], 0, "{report}");
}

/// The stale count of a response already delivered (it used to stay in
/// flight until the connection's next flush, which never came once the
/// client stopped reading, so the drain waited for the deadline and exited
/// 3): a busy connection whose client has every response, then reads
/// nothing. The count says what the client has; the connection is closed
/// as unresponsive, and the process exits 0.
#[test]
fn a_client_that_has_every_response_then_stops_reading_counts_nothing_in_flight() {
    const STREAMS: usize = 32;
    for run in 1..=5 {
        let (service, report) = start(&format!("h2-answered-then-silent-{run}"));
        let mut client = h2::Connection::open(service.address, Pings::Answer).expect("connect");
        for _ in 0..STREAMS {
            client.request("GET", "/").unwrap();
        }
        assert!(
            client.wait(ANSWER, |seen| seen.finished == STREAMS),
            "run {run}: not every stream was answered"
        );
        assert!(client.look(|seen| seen.streams.values().all(h2::Stream::answered)));
        client.stop_reading();
        let sent = service.process.signal(Signal::SIGTERM);
        let exit = service.process.wait_exit(EXIT_BOUND);
        let latency = exit.at - sent;
        let stderr = exit.stderr_text();
        eprintln!("run {run}: {STREAMS} answered, then silent: exit after {latency:?}");
        assert_eq!(exit.code(), Some(0), "run {run}: {stderr}");
        assert!(
            latency < CLIENT_BOUND + PROMPT,
            "run {run}: exit took {latency:?}"
        );
        assert_eq!(
            exit.stderr_lines("draining: stopped accepting; 0 requests in flight on 1 connection")
                .len(),
            1,
            "run {run}: {stderr}"
        );
        let report = support::read_report(&report);
        assert_eq!(report["drain"]["in_flight"], 0, "run {run}: {report}");
        assert_eq!(report["drain"]["unresponsive"], 1, "run {run}: {report}");
        assert_eq!(report["drain"]["requests_cut"], 0, "run {run}: {report}");
    }
}

/// A request head of which the client has sent only a part.
const HALF_A_HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ";

#[test]
fn a_request_head_never_finished_is_closed_after_the_client_bound() {
    let (service, report) = start("slow-head");
    let mut stream = http::connect(service.address).expect("connect");
    stream.write_all(HALF_A_HEAD).unwrap();
    http::wait_accepted(service.address, ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    let closed = http::receive(&mut stream, ANSWER);
    let closed_after = Instant::now() - sent;
    let exit = service.process.wait_exit(EXIT_BOUND);
    let latency = exit.at - sent;
    eprintln!("slow head: client saw {closed:?} after {closed_after:?}, exit after {latency:?}");
    assert!(
        matches!(closed, Outcome::Closed { partial: false }),
        "the half-sent request gets no response, and a clean close: {closed:?}"
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(
        latency < CLIENT_BOUND + PROMPT,
        "exit took {latency:?}: the half-sent head held the drain"
    );
    let report = support::read_report(&report);
    assert_eq!(report["drain"]["unresponsive"], 1, "{report}");
    assert_eq!(report["drain"]["requests_cut"], 0, "{report}");
}

#[test]
fn a_request_head_finished_within_the_client_bound_is_served() {
    let (service, _report) = start("slow-head-finished");
    let mut stream = http::connect(service.address).expect("connect");
    stream.write_all(HALF_A_HEAD).unwrap();
    http::wait_accepted(service.address, ANSWER);
    finish_the_head_after_sigterm(service, stream);
}

/// Sends SIGTERM while `stream` holds half a request head, finishes the
/// head a while into the drain (300 ms: well past `IDLE_GRACE`, within
/// `CLIENT_BOUND`), and checks it is served, with `Connection: close`, and
/// the process exits 0.
fn finish_the_head_after_sigterm(mut service: Service, mut stream: std::net::TcpStream) {
    service.process.signal(Signal::SIGTERM);
    service
        .process
        .wait_for_stderr("draining: stopped accepting", ANSWER);
    thread::sleep(Duration::from_millis(300));
    stream.write_all(b"yes\r\n\r\n").unwrap();
    let outcome = http::receive(&mut stream, ANSWER);
    let response = outcome
        .response()
        .unwrap_or_else(|| panic!("the finished request was not served: {outcome:?}"));
    assert_eq!(response.status, 200);
    assert!(response.closes(), "{:?}", response.headers);
    let exit = service.process.wait_exit(EXIT_BOUND);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}

/// The same on a kept-alive connection, whose first request was answered:
/// hyper counts such a connection idle until the head is complete, and
/// would close it on the spot, losing the request; the drain waits for the
/// rest of the head instead.
#[test]
fn the_next_request_head_half_received_on_a_kept_alive_connection_is_served() {
    let (service, _report) = start("slow-second-head");
    let mut stream = http::connect(service.address).expect("connect");
    let first = http::request(&mut stream, "GET", "/", ANSWER);
    let first = first
        .response()
        .unwrap_or_else(|| panic!("GET /: {first:?}"));
    assert!(!first.closes(), "kept alive before the shutdown");
    stream.write_all(HALF_A_HEAD).unwrap();
    // Longer than the grace of a recently used connection.
    thread::sleep(IDLE_GRACE * 2);
    finish_the_head_after_sigterm(service, stream);
}

#[test]
fn an_http2_stream_cut_at_the_drain_deadline_is_counted() {
    let (mut service, report) = start("h2-cut");
    let mut client = h2::Connection::open(service.address, Pings::Answer).expect("connect");
    client.request("GET", "/slow?ms=60000").unwrap();
    service.process.wait_for_stderr("slow: sleeping", ANSWER);
    let sent = service.process.signal(Signal::SIGTERM);
    let exit = service.process.wait_exit(EXIT_BOUND);
    let latency = exit.at - sent;
    eprintln!("h2 cut: exit {:?} after {latency:?}", exit.code());
    assert_eq!(exit.code(), Some(3), "{}", exit.stderr_text());
    let report = support::read_report(&report);
    assert_eq!(report["drain"]["requests_cut"], 1, "{report}");
    assert_eq!(report["drain"]["connections_cut"], 1, "{report}");
    let cut = exit.stderr_lines("drain deadline passed");
    assert!(
        cut.iter()
            .any(|line| line.contains("cut 1 request on 1 connection")),
        "{}",
        exit.stderr_text()
    );
    assert!(!client.snapshot().streams[&1].answered());
}

#[test]
fn pipelined_http1_requests_get_the_first_answered_then_a_clean_close() {
    let (mut service, _report) = start("pipelined");
    let mut stream = http::connect(service.address).expect("connect");
    let request = "GET /slow?ms=500 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n";
    stream.write_all(request.repeat(3).as_bytes()).unwrap();
    service.process.wait_for_stderr("slow: sleeping", ANSWER);
    service.process.signal(Signal::SIGTERM);
    let first = http::receive(&mut stream, ANSWER);
    let first = first
        .response()
        .unwrap_or_else(|| panic!("the request in flight is answered: {first:?}"));
    assert_eq!(first.status, 200);
    assert!(first.closes(), "{:?}", first.headers);
    // The two queued behind it are not answered: the connection ends with
    // a clean FIN, so the client retries them (RFC 9112, 9.3.2).
    let rest = http::receive(&mut stream, ANSWER);
    assert!(
        matches!(rest, Outcome::Closed { partial: false }),
        "after the first response: {rest:?}"
    );
    let exit = service.process.wait_exit(EXIT_BOUND);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
}
