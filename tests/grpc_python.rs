//! gRPC served by `graceful_rt::http::serve` (examples/grpc.rs), seen by a
//! client nobody here wrote: Python's grpcio, gRPC's C core, through
//! tests/python/grpc_client.py (installed by the test itself, once per
//! machine: see tests/support/python.rs). With real processes and a real
//! SIGTERM:
//!
//! - a health `Watch` across SIGTERM: SERVING, then NOT_SERVING at once,
//!   then the stream ends with UNAVAILABLE when draining begins;
//! - a stream that ignores the shutdown ends with UNAVAILABLE ("server is
//!   shutting down") just before the drain deadline, not with a broken
//!   connection;
//! - `max_connection_age` moves the client to the instance its load
//!   balancer (a proxy of the test's) points at now, with no failed RPC;
//! - a rolling restart of two instances under load, the client balancing
//!   round-robin over both (unary calls and a server stream), three rounds:
//!   no RPC fails, and none the servers accepted goes unanswered.
//!
//! tonic's own server in the same rolling restart is measured by the
//! benchmark (`BENCH_FIGURES=grpc cargo bench --bench process`).

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use support::nginx::reserve_port;
use support::proxy::Proxy;
use support::python::{GRPC, Script};
use support::{Exit, Process, Signal};

/// "At once", on a loaded machine.
const PROMPT: Duration = Duration::from_millis(500);
/// How long anything may take to answer before the test calls it a hang.
const ANSWER: Duration = Duration::from_secs(20);
/// The shutdown budget of the servers in these tests.
const TIMEOUT: &str = "3s";
/// When calls still running are ended: graceful-rt's default
/// `Serve::call_end_lead` (50 ms) before the drain deadline (2.91 s).
const CALLS_END: Duration = Duration::from_millis(2860);
/// How long a server is waited for after SIGTERM.
const EXIT_BOUND: Duration = Duration::from_secs(10);
/// The lame duck of the health test.
const DRAIN_DELAY: Duration = Duration::from_secs(1);
/// Rounds of the rolling restart.
const ROUNDS: usize = 3;

fn start(env: &[(&str, &str)]) -> (Process, SocketAddr) {
    let mut all = vec![("GRACEFUL_TIMEOUT", TIMEOUT)];
    all.extend_from_slice(env);
    support::start_listening("grpc", &all)
}

fn client(args: &[&str]) -> Script {
    Script::start("grpc_client.py", GRPC, args)
}

fn ms(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

fn accepted(exit: &Exit) -> BTreeSet<u64> {
    exit.stdout
        .iter()
        .filter_map(|line| line.strip_prefix("accepted ")?.parse().ok())
        .collect()
}

#[test]
fn grpcio_watch_sees_not_serving_at_the_signal_then_the_stream_ends_when_draining() {
    let delay = format!("{}ms", DRAIN_DELAY.as_millis());
    let (process, address) = start(&[("GRACEFUL_DRAIN_DELAY", &delay), ("HEALTH_EVERY", "10ms")]);
    let mut watch = client(&["watch", &address.to_string()]);
    watch.wait_for("status", ANSWER);
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(EXIT_BOUND);
    let lines = watch.finish();
    let seen: Vec<String> = lines
        .iter()
        .map(|line| {
            format!(
                "{} at {}",
                line.json,
                ms(line.at.saturating_duration_since(sent))
            )
        })
        .collect();
    eprintln!(
        "grpcio Watch: {seen:?}; exit {:?} after {}",
        exit.code(),
        ms(exit.at - sent)
    );
    let statuses: Vec<_> = lines
        .iter()
        .filter(|line| line.json["event"] == "status")
        .map(|line| line.json["status"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(statuses, ["SERVING", "NOT_SERVING"], "{seen:?}");
    let told = lines
        .iter()
        .find(|line| line.json["status"] == "NOT_SERVING")
        .unwrap()
        .at;
    assert!(
        told > sent && told - sent < Duration::from_millis(300),
        "NOT_SERVING {:?} after SIGTERM",
        told.saturating_duration_since(sent)
    );
    let ended = lines.last().unwrap();
    assert_eq!(ended.json["event"], "ended", "{seen:?}");
    assert_eq!(ended.json["code"], "UNAVAILABLE", "{seen:?}");
    assert_eq!(ended.json["details"], "server is shutting down", "{seen:?}");
    let after = ended.at - sent;
    assert!(
        after >= DRAIN_DELAY - Duration::from_millis(20) && after < DRAIN_DELAY + PROMPT,
        "the watch ended {after:?} after SIGTERM; draining begins at {DRAIN_DELAY:?}"
    );
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(exit.at - sent < DRAIN_DELAY + Duration::from_millis(1500));
}

#[test]
fn grpcio_sees_a_stream_that_ignores_the_shutdown_end_with_unavailable() {
    let (process, address) = start(&[]);
    let mut ticks = client(&["ticks", &address.to_string(), "20", "1"]);
    ticks.wait_for("streaming", ANSWER);
    let sent = process.signal(Signal::SIGTERM);
    let ended = ticks.wait_for("ended", ANSWER);
    let exit = process.wait_exit(EXIT_BOUND);
    let after = ended.at - sent;
    eprintln!(
        "grpcio, an ignored stream: {} {} after SIGTERM; exit {:?}",
        ended.json,
        ms(after),
        exit.code()
    );
    assert_eq!(ended.json["code"], "UNAVAILABLE", "{}", ended.json);
    assert_eq!(ended.json["details"], "server is shutting down");
    assert!(
        after >= CALLS_END - Duration::from_millis(20) && after < CALLS_END + PROMPT,
        "ended {after:?} after SIGTERM; calls end at {CALLS_END:?}"
    );
    assert_eq!(exit.code(), Some(3), "{}", exit.stderr_text());
    drop(ticks.finish());
}

/// A stop file for a load script: it stops once the file exists.
fn stop_file(test: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("stop-{test}-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// What a load script counted, and the failures it printed.
struct Counted {
    ok: u64,
    failed: u64,
    moved: u64,
    ticks: u64,
    failures: Vec<serde_json::Value>,
}

fn stop_load(load: Script, stop: &PathBuf) -> Counted {
    std::fs::write(stop, "stop").unwrap();
    let lines = load.finish();
    let summary = &lines
        .iter()
        .find(|line| line.json["event"] == "summary")
        .expect("no summary")
        .json;
    let count = |field: &str| summary[field].as_u64().unwrap_or_default();
    Counted {
        ok: count("ok"),
        failed: count("failed"),
        moved: count("moved"),
        ticks: count("ticks"),
        failures: lines
            .iter()
            .filter(|line| line.json["event"] == "failed")
            .map(|line| line.json.clone())
            .collect(),
    }
}

#[test]
fn grpcio_is_moved_by_max_connection_age_with_no_failed_rpc() {
    let age = [
        ("MAX_CONNECTION_AGE", "1s"),
        ("MAX_CONNECTION_AGE_GRACE", "2s"),
    ];
    let (first, first_address) = start(&age);
    let (mut second, second_address) = start(&age);
    let proxy = Proxy::start(first_address);
    let stop = stop_file("age");
    let target = proxy.address.to_string();
    let mut load = client(&["load", &target, stop.to_str().unwrap(), "4"]);
    load.wait_for("started", ANSWER);
    proxy.point_at(second_address);
    let moved = Instant::now();
    second.wait_for_stdout_prefix("accepted ", Duration::from_secs(5));
    let took = moved.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let counted = stop_load(load, &stop);
    let mut exits = Vec::new();
    for process in [first, second] {
        process.signal(Signal::SIGTERM);
        exits.push(process.wait_exit(EXIT_BOUND));
    }
    eprintln!(
        "grpcio, max_connection_age 1s: {} OK, {} failed, {} on the first, {} on the second (moved {} after the proxy); {} streams moved",
        counted.ok,
        counted.failed,
        accepted(&exits[0]).len(),
        accepted(&exits[1]).len(),
        ms(took),
        counted.moved
    );
    assert_eq!(counted.failed, 0, "{:?}", counted.failures);
    assert!(counted.ok > 0 && counted.ticks > 0);
    assert!(!accepted(&exits[0]).is_empty() && !accepted(&exits[1]).is_empty());
    assert!(
        took < Duration::from_millis(1100) + PROMPT,
        "moved after {took:?}"
    );
    for exit in &exits {
        assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    }
}

#[test]
fn a_rolling_restart_of_two_instances_under_grpcio_round_robin_fails_no_rpc() {
    let ports = [reserve_port(), reserve_port()];
    let port_env: Vec<String> = ports.iter().map(u16::to_string).collect();
    let mut instances: Vec<Process> = port_env
        .iter()
        .map(|port| start(&[("PORT", port)]).0)
        .collect();
    let targets = ports
        .iter()
        .map(|port| format!("127.0.0.1:{port}"))
        .collect::<Vec<_>>()
        .join(",");
    let stop = stop_file("rolling");
    let mut load = client(&["load", &targets, stop.to_str().unwrap(), "4"]);
    load.wait_for("started", ANSWER);
    for instance in &mut instances {
        instance.wait_for_stdout_prefix("accepted ", ANSWER);
    }
    let mut accepted_all = BTreeSet::new();
    let mut exits = Vec::new();
    for round in 1..=ROUNDS {
        for (index, port) in port_env.iter().enumerate() {
            let old = instances.remove(index);
            let sent = old.signal(Signal::SIGTERM);
            let exit = old.wait_exit(EXIT_BOUND);
            // On the same port, once the old one has let it go.
            instances.insert(index, start(&[("PORT", port)]).0);
            eprintln!(
                "round {round}, instance {index}: exit {:?} after {}",
                exit.code(),
                ms(exit.at - sent)
            );
            assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
            accepted_all.extend(accepted(&exit));
            exits.push(exit);
            // The client is back on the new instance before the other one
            // restarts.
            instances[index].wait_for_stdout_prefix("accepted ", ANSWER);
        }
    }
    let counted = stop_load(load, &stop);
    for instance in instances {
        instance.signal(Signal::SIGTERM);
        let exit = instance.wait_exit(EXIT_BOUND);
        assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
        accepted_all.extend(accepted(&exit));
    }
    eprintln!(
        "grpcio round_robin over 2 instances, {ROUNDS} rounds of restarts: {} OK, {} failed, {} ticks, {} streams moved by UNAVAILABLE; {} calls accepted",
        counted.ok,
        counted.failed,
        counted.ticks,
        counted.moved,
        accepted_all.len()
    );
    let unanswered: Vec<_> = counted
        .failures
        .iter()
        .filter(|failure| {
            failure["seq"]
                .as_u64()
                .is_some_and(|seq| accepted_all.contains(&seq))
        })
        .collect();
    assert!(
        unanswered.is_empty(),
        "accepted, then unanswered: {unanswered:?}"
    );
    assert_eq!(counted.failed, 0, "{:?}", counted.failures);
    assert!(counted.ok > 100, "too few calls answered: {}", counted.ok);
    assert!(counted.moved > 0, "no stream was moved by a restart");
}
