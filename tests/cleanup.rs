//! `#[derive(Cleanup)]` under `#[graceful_main]`, end to end: a compiled
//! program is signalled and its JSON report checked.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Process, Signal};

#[test]
fn every_close_runs_and_the_report_says_how_each_ended() {
    let report = support::report_path("derived");
    let process = Process::start_ready(
        "fixture-derived",
        &[("GRACEFUL_REPORT", report.to_str().unwrap())],
    );
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(20));
    let latency = exit.at - sent;
    eprintln!("SIGTERM to exit: {latency:?}");
    // Failures are recorded, not fatal to the others; they make the code 1.
    assert_eq!(exit.code(), Some(1), "{}", exit.stderr_text());

    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "cleanup_failed");
    let closes = report["closes"].as_array().unwrap();
    let names: Vec<&str> = closes
        .iter()
        .map(|close| close["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "db",
            "cache",
            "queue",
            "metrics",
            "audit",
            "storage.files",
            "storage.index",
            "scheduler"
        ]
    );
    let close =
        |name: &str| -> &Value { closes.iter().find(|close| close["name"] == name).unwrap() };
    let ms = |name: &str, field: &str| close(name)[field].as_f64().unwrap();

    for healthy in ["db", "audit", "storage.files", "storage.index", "scheduler"] {
        assert_eq!(
            close(healthy)["outcome"],
            "closed",
            "{healthy}: {}",
            close(healthy)
        );
    }
    assert_eq!(close("queue")["outcome"], "failed");
    assert_eq!(close("queue")["error"], "broker refused the goodbye");
    assert_eq!(close("metrics")["outcome"], "panicked");
    assert_eq!(close("metrics")["error"], "metrics exporter poisoned");
    assert_eq!(close("cache")["outcome"], "timed_out");
    assert_eq!(
        close("cache")["notes"],
        serde_json::json!(["cut at its timeout of 300ms"])
    );
    assert!(ms("cache", "duration_ms") >= 300.0);

    // `after` chains: audit after db, storage.index after storage.files.
    assert!(ms("audit", "started_ms") >= ms("db", "started_ms") + ms("db", "duration_ms"));
    assert!(
        ms("storage.index", "started_ms")
            >= ms("storage.files", "started_ms") + ms("storage.files", "duration_ms")
    );
    // Everything else started at once...
    for concurrent in [
        "db",
        "cache",
        "queue",
        "metrics",
        "storage.files",
        "scheduler",
    ] {
        assert!(
            ms(concurrent, "started_ms") < 50.0,
            "{concurrent} waited: {}",
            close(concurrent)
        );
    }
    // ...so the cleanup took the longest chain (the 300 ms timeout), not
    // the sum of the closes (over 600 ms).
    let cleanup = report["cleanup_ms"].as_f64().unwrap();
    assert!(
        (300.0..600.0).contains(&cleanup),
        "cleanup took {cleanup} ms"
    );
    // The tracker waited for its task to finish the tick in progress.
    assert!(ms("scheduler", "duration_ms") >= 30.0);

    // The log says the same, one line per close.
    assert_eq!(
        exit.stderr_lines("closed db in").len(),
        1,
        "{}",
        exit.stderr_text()
    );
    assert_eq!(exit.stderr_lines("queue failed after").len(), 1);
    assert_eq!(exit.stderr_lines("metrics panicked after").len(), 1);
    assert_eq!(exit.stderr_lines("cache timed out after").len(), 1);
    assert_eq!(
        exit.stderr_lines("shutdown finished with errors: cause SIGTERM")
            .len(),
        1
    );
}
