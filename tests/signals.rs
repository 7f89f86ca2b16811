//! Signals: the first starts the shutdown, repeats never start a second,
//! and only a second Ctrl-C forces the exit. Real processes, real signals.

mod support;

use std::time::Duration;

use support::{Process, Signal};

/// "Within a few ms": typically 1–3 ms here; bounded loosely enough to hold
/// on a loaded 2-core machine. The benchmarks measure the real figure.
const PROMPT: Duration = Duration::from_millis(500);
/// Long enough that a process still running after it was not forced out.
const DRAIN: &str = "1500";

#[test]
fn an_idle_service_exits_0_at_once_on_sigterm() {
    let process = Process::start_ready("fixture-app", &[("FIXTURE_CLOSE_MS", "0")]);
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    eprintln!("SIGTERM to exit: {latency:?}");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(latency < PROMPT, "took {latency:?}");
    assert_eq!(
        exit.stderr_lines("received SIGTERM, shutting down (timeout 30s)")
            .len(),
        1,
        "{}",
        exit.stderr_text()
    );
    assert_eq!(exit.stderr_lines("shutdown complete").len(), 1);
}

#[test]
fn an_idle_service_exits_0_at_once_on_sigint() {
    let process = Process::start_ready("fixture-app", &[("FIXTURE_CLOSE_MS", "0")]);
    let sent = process.signal(Signal::SIGINT);
    let exit = process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    eprintln!("SIGINT to exit: {latency:?}");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(latency < PROMPT, "took {latency:?}");
    assert_eq!(exit.stderr_lines("received SIGINT, shutting down").len(), 1);
}

#[test]
fn a_signal_listed_in_the_attribute_starts_the_shutdown() {
    // The fixture lists `signals = [SIGTERM, SIGINT, SIGHUP]`.
    let process = Process::start_ready("fixture-app", &[]);
    process.signal(Signal::SIGHUP);
    let exit = process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert_eq!(exit.stderr_lines("received SIGHUP, shutting down").len(), 1);
}

/// Sends `first`, waits until the shutdown has started, then sends `second`
/// while main is still draining.
fn two_signals(first: Signal, second: Signal) -> (support::Exit, Duration) {
    let mut process = Process::start_ready("fixture-app", &[("FIXTURE_DRAIN_MS", DRAIN)]);
    let sent = process.signal(first);
    process.wait_for_stderr("shutting down (timeout", Duration::from_secs(10));
    process.signal(second);
    let exit = process.wait_exit(Duration::from_secs(20));
    let latency = exit.at - sent;
    (exit, latency)
}

#[test]
fn a_second_sigterm_shuts_down_once() {
    let (exit, latency) = two_signals(Signal::SIGTERM, Signal::SIGTERM);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert_eq!(
        exit.stderr_lines("shutting down (timeout").len(),
        1,
        "{}",
        exit.stderr_text()
    );
    assert_eq!(
        exit.stderr_lines("received SIGTERM again, already shutting down")
            .len(),
        1
    );
    assert_eq!(
        exit.stdout
            .iter()
            .filter(|line| *line == "closing db")
            .count(),
        1
    );
    assert_eq!(exit.stderr_lines("shutdown complete").len(), 1);
    assert!(
        latency >= Duration::from_millis(1500),
        "the drain was cut: {latency:?}"
    );
}

#[test]
fn sigterm_then_sigint_does_not_force() {
    let (exit, latency) = two_signals(Signal::SIGTERM, Signal::SIGINT);
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert_eq!(exit.stderr_lines("shutting down (timeout").len(), 1);
    assert_eq!(
        exit.stderr_lines("received SIGINT again, already shutting down")
            .len(),
        1
    );
    assert!(
        latency >= Duration::from_millis(1500),
        "the drain was cut: {latency:?}"
    );
}

#[test]
fn a_second_sigint_forces_an_immediate_exit() {
    let report = support::report_path("second-sigint");
    let mut process = Process::start_ready(
        "fixture-app",
        &[
            ("FIXTURE_DRAIN_MS", "20000"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    process.signal(Signal::SIGINT);
    process.wait_for_stderr("shutting down (timeout", Duration::from_secs(10));
    let second = process.signal(Signal::SIGINT);
    let exit = process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - second;
    eprintln!("second SIGINT to exit: {latency:?}");
    assert_eq!(exit.code(), Some(130), "{}", exit.stderr_text());
    assert!(latency < PROMPT, "took {latency:?}");
    assert_eq!(
        exit.stderr_lines("received SIGINT again, exiting now")
            .len(),
        1
    );
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["pending"], serde_json::json!(["main"]));
}

#[test]
fn a_main_without_shutdown_argument_is_stopped_by_the_signal() {
    let process = Process::start_ready("fixture-no-shutdown-arg", &[]);
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert!(latency < PROMPT, "took {latency:?}");
    assert_eq!(
        exit.stderr_lines("main stopped at the signal").len(),
        1,
        "{}",
        exit.stderr_text()
    );
}

#[test]
fn logs_go_through_tracing_once_the_application_installs_a_subscriber() {
    let process = Process::start_ready(
        "fixture-app",
        &[("FIXTURE_TRACING", "1"), ("FIXTURE_CLOSE_MS", "0")],
    );
    process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    // The fmt subscriber's lines: `LEVEL target: message`, the level
    // padded to five characters.
    let traced: Vec<&str> = exit
        .stdout
        .iter()
        .map(|line| line.trim_start())
        .filter(|line| line.starts_with("INFO graceful: "))
        .collect();
    assert!(
        traced.contains(&"INFO graceful: received SIGTERM, shutting down (timeout 30s)"),
        "{:?}",
        exit.stdout
    );
    assert!(
        traced
            .iter()
            .any(|line| line.starts_with("INFO graceful: shutdown complete")),
        "{:?}",
        exit.stdout
    );
    // Not also on stderr: the subscriber has them.
    assert!(
        exit.stderr_lines("graceful:").is_empty(),
        "{}",
        exit.stderr_text()
    );
}
