//! The rest of one shutdown: `trigger()`, main's error, failed closes, and
//! the report that describes it all.

mod support;

use std::time::Duration;

use support::{Process, Signal};

#[test]
fn trigger_shuts_down_like_a_signal() {
    let report = support::report_path("trigger");
    let process = Process::start_ready(
        "fixture-app",
        &[
            ("FIXTURE_TRIGGER_AFTER_MS", "100"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    let exit = process.wait_exit(Duration::from_secs(20));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    assert_eq!(
        exit.stderr_lines("shutdown triggered by the application, shutting down (timeout 30s)")
            .len(),
        1
    );
    assert_eq!(support::read_report(&report)["cause"], "trigger");
}

#[test]
fn main_returning_err_exits_1_and_prints_the_error() {
    let report = support::report_path("main-error");
    let process = Process::start_ready(
        "fixture-app",
        &[
            ("FIXTURE_MAIN_ERROR", "1"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    assert_eq!(exit.code(), Some(1), "{}", exit.stderr_text());
    // As Rust prints the error of `fn main() -> Result<(), E>`.
    assert!(
        exit.stderr
            .iter()
            .any(|line| line == "Error: LostUpstream(\"payments\")"),
        "{}",
        exit.stderr_text()
    );
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "main_error");
    assert_eq!(report["main"], "error");
    assert_eq!(report["main_error"], "LostUpstream(\"payments\")");
    assert_eq!(report["closes"], serde_json::json!([]));
}

#[test]
fn main_panicking_exits_101_with_a_report() {
    let report = support::report_path("main-panic");
    let process = Process::start_ready(
        "fixture-app",
        &[
            ("FIXTURE_MAIN_PANIC", "1"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    assert_eq!(exit.code(), Some(101), "{}", exit.stderr_text());
    assert_eq!(
        exit.stderr_lines("main gave up while draining").len(),
        1,
        "{}",
        exit.stderr_text()
    );
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "main_panicked");
    assert_eq!(report["main"], "panicked");
    assert_eq!(report["cause"], "SIGTERM");
}

#[test]
fn a_failed_close_exits_1_and_the_others_still_close() {
    let report = support::report_path("close-fails");
    let process = Process::start_ready(
        "fixture-app",
        &[
            ("FIXTURE_CLOSE_FAILS", "1"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    assert_eq!(exit.code(), Some(1), "{}", exit.stderr_text());
    assert_eq!(
        exit.stderr_lines("cache failed after").len(),
        1,
        "{}",
        exit.stderr_text()
    );
    assert_eq!(
        exit.stderr_lines("closed db in").len(),
        1,
        "{}",
        exit.stderr_text()
    );
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "cleanup_failed");
    assert_eq!(report["closes"][0]["outcome"], "closed");
    assert_eq!(report["closes"][1]["outcome"], "failed");
    assert_eq!(report["closes"][1]["error"], "cache connection reset");
}

#[test]
fn the_report_has_the_documented_fields() {
    let report = support::report_path("fields");
    let process = Process::start_ready(
        "fixture-app",
        &[
            ("FIXTURE_DRAIN_MS", "50"),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let report = support::read_report(&report);
    let fields: Vec<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = [
        "schema_version",
        "outcome",
        "exit_code",
        "cause",
        "timeout_ms",
        "main",
        "main_error",
        "drain_ms",
        "cleanup_ms",
        "total_ms",
        "drain",
        "closes",
        "pending",
    ];
    expected.sort_unstable();
    let mut fields = fields;
    fields.sort_unstable();
    assert_eq!(fields, expected);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["outcome"], "clean");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["cause"], "SIGTERM");
    assert_eq!(report["timeout_ms"], 30000.0);
    assert_eq!(report["main"], "returned");
    assert!(report["main_error"].is_null());
    let drain = report["drain_ms"].as_f64().unwrap();
    let cleanup = report["cleanup_ms"].as_f64().unwrap();
    let total = report["total_ms"].as_f64().unwrap();
    assert!(drain >= 50.0, "drain {drain}");
    assert!(cleanup >= 20.0, "cleanup {cleanup}");
    assert!(
        total >= drain + cleanup,
        "total {total} < {drain} + {cleanup}"
    );
    assert_eq!(report["pending"], serde_json::json!([]));
    assert!(report["drain"].is_null(), "no HTTP server here");
    let closes = report["closes"].as_array().unwrap();
    assert_eq!(closes.len(), 2);
    for close in closes {
        let mut keys: Vec<&str> = close
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "duration_ms",
                "error",
                "name",
                "notes",
                "outcome",
                "started_ms"
            ]
        );
        assert_eq!(close["outcome"], "closed");
    }
    assert!(closes[0]["duration_ms"].as_f64().unwrap() >= 20.0);
    // The log line says the same.
    let summary = exit.stderr_lines("shutdown complete: cause SIGTERM, drained in");
    assert_eq!(summary.len(), 1, "{}", exit.stderr_text());
    assert!(summary[0].contains("[db closed"), "{}", summary[0]);
    assert!(summary[0].ends_with("exit code 0"), "{}", summary[0]);
}
