//! The deadline: it runs from the first signal, ends the process with code
//! 124 when it passes, says what was pending, and cannot be held off by a
//! blocked runtime. `GRACEFUL_TIMEOUT` sets it at run time.

mod support;

use std::time::Duration;

use support::{Process, Signal};

/// How late after the deadline the process may exit on a loaded machine.
const LATE: Duration = Duration::from_millis(1000);

#[test]
fn blocked_workers_still_get_the_forced_exit_at_the_deadline() {
    let report = support::report_path("blocked");
    let process = Process::start_ready(
        "fixture-blocked",
        &[
            ("GRACEFUL_TIMEOUT", "1s"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    let latency = exit.at - sent;
    eprintln!("SIGTERM to forced exit with a 1s deadline: {latency:?}");
    assert_eq!(exit.code(), Some(124), "{}", exit.stderr_text());
    assert!(
        latency >= Duration::from_secs(1),
        "forced before the deadline: {latency:?}"
    );
    assert!(
        latency < Duration::from_secs(1) + LATE,
        "forced late: {latency:?}"
    );
    // The signal thread saw the signal although every worker was blocked.
    assert_eq!(
        exit.stderr_lines("received SIGTERM, shutting down (timeout 1s)")
            .len(),
        1
    );
    let line = exit.stderr_lines("shutdown forced at the deadline of 1s");
    assert_eq!(line.len(), 1, "{}", exit.stderr_text());
    assert!(line[0].contains("still pending: main"), "{}", line[0]);
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "deadline");
    assert_eq!(report["exit_code"], 124);
    assert_eq!(report["main"], "running");
    assert_eq!(report["pending"], serde_json::json!(["main"]));
}

#[test]
fn graceful_timeout_overrides_the_attribute() {
    // The attribute says 30s; main would drain for 20s.
    let mut process = Process::start_ready(
        "fixture-app",
        &[("GRACEFUL_TIMEOUT", "500ms"), ("FIXTURE_DRAIN_MS", "20000")],
    );
    let sent = process.signal(Signal::SIGTERM);
    process.wait_for_stderr("shutting down (timeout 500ms)", Duration::from_secs(10));
    let exit = process.wait_exit(Duration::from_secs(20));
    let latency = exit.at - sent;
    assert_eq!(exit.code(), Some(124), "{}", exit.stderr_text());
    assert!(
        latency >= Duration::from_millis(500),
        "forced before the deadline: {latency:?}"
    );
    assert!(
        latency < Duration::from_millis(500) + LATE,
        "forced late: {latency:?}"
    );
    assert_eq!(
        exit.stderr_lines(
            "GRACEFUL_TIMEOUT=500ms overrides the attribute (timeout 30s, drain delay 0s)"
        )
        .len(),
        1,
        "{}",
        exit.stderr_text()
    );
}

#[test]
fn a_close_still_running_at_the_deadline_is_cut_and_reported() {
    let report = support::report_path("close-cut");
    let process = Process::start_ready(
        "fixture-app",
        &[
            ("GRACEFUL_TIMEOUT", "700ms"),
            ("FIXTURE_DRAIN_MS", "100"),
            ("FIXTURE_CLOSE_MS", "20000"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    let latency = exit.at - sent;
    // The cleanup is cut a moment before the deadline (the exit reserve, 1%
    // of the budget), so the process ends by its own hand: code 1, not 124.
    assert_eq!(exit.code(), Some(1), "{}", exit.stderr_text());
    assert!(
        latency >= Duration::from_millis(693),
        "cut early: {latency:?}"
    );
    assert!(
        latency < Duration::from_millis(700) + LATE,
        "cut late: {latency:?}"
    );
    assert_eq!(
        exit.stderr_lines("db timed out after").len(),
        1,
        "{}",
        exit.stderr_text()
    );
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "cleanup_failed");
    let db = &report["closes"][0];
    assert_eq!(db["name"], "db");
    assert_eq!(db["outcome"], "timed_out");
    assert_eq!(
        db["notes"],
        serde_json::json!(["cut at the shutdown deadline"])
    );
    assert_eq!(report["closes"][1]["name"], "cache");
    assert_eq!(report["closes"][1]["outcome"], "closed");
    assert_eq!(report["main"], "returned");
}

#[test]
fn an_invalid_graceful_timeout_refuses_to_start() {
    for value in ["banana", "0s", "15", "-1s"] {
        let process = Process::start("fixture-app", &[("GRACEFUL_TIMEOUT", value)]);
        let exit = process.wait_exit(Duration::from_secs(60));
        assert_eq!(exit.code(), Some(2), "{value}: {}", exit.stderr_text());
        assert!(exit.stdout.is_empty(), "main ran: {:?}", exit.stdout);
        let message = exit.stderr_lines("invalid GRACEFUL_TIMEOUT");
        assert_eq!(message.len(), 1, "{value}: {}", exit.stderr_text());
        assert!(message[0].contains(&format!("{value:?}")), "{}", message[0]);
        assert!(
            message[0].contains("\"500ms\", \"15s\", \"1m30s\""),
            "{}",
            message[0]
        );
    }
}
