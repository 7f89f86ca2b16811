//! `graceful_rt::Tasks` under `#[graceful_main]`, end to end, through
//! tests/fixtures/tasks.rs: a task that fails or panics stops the service
//! by itself with exit code 1, naming the task; tasks that finish after
//! the signal do so concurrently; one that ignores the shutdown is cut at
//! the deadline and named; a spawn after the shutdown began is refused.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::{Process, Signal};

fn start(test: &str, scenario: &str) -> (Process, std::path::PathBuf) {
    let report = support::report_path(test);
    let process = Process::start_ready(
        "fixture-tasks",
        &[
            ("TASKS", scenario),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );
    (process, report)
}

/// The report's close of `name`: (outcome, error).
fn close<'a>(report: &'a Value, name: &str) -> (&'a str, Option<&'a str>) {
    let close = report["closes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|close| close["name"] == name)
        .unwrap_or_else(|| panic!("no close {name} in {report}"));
    (close["outcome"].as_str().unwrap(), close["error"].as_str())
}

fn stops_by_itself(scenario: &str, outcome: &str, message: &str) {
    let (process, report) = start(scenario, scenario);
    // Nothing signals it: the failing task stops it.
    let exit = process.wait_exit(Duration::from_secs(10));
    let stderr = exit.stderr_text();
    assert_eq!(exit.code(), Some(1), "{stderr}");
    assert!(
        exit.stderr_lines("task mailer")
            .iter()
            .any(|line| line.contains(message)),
        "the log names the task and what went wrong:\n{stderr}"
    );
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "task_failed", "{report}");
    assert_eq!(report["cause"], "task mailer failed", "{report}");
    let (mailer, error) = close(&report, "tasks.mailer");
    assert_eq!(mailer, outcome, "{report}");
    assert!(
        error.is_some_and(|error| error.contains(message)),
        "{report}"
    );
    assert_eq!(close(&report, "tasks.ticker").0, "closed", "{report}");
    assert!(exit.stdout.iter().any(|line| line == "ticker finished"));
    assert!(
        exit.stdout
            .iter()
            .any(|line| line == "refused: task latecomer was not spawned: the shutdown has begun"),
        "{:?}",
        exit.stdout
    );
}

#[test]
fn a_task_that_fails_stops_the_service_with_exit_code_1_naming_it() {
    stops_by_itself("fail", "failed", "smtp.example.com refused the connection");
}

#[test]
fn a_task_that_panics_stops_the_service_with_exit_code_1_naming_it() {
    stops_by_itself("panic", "panicked", "the mail queue is corrupt");
}

#[test]
fn tasks_that_finish_after_the_signal_do_so_concurrently() {
    let (process, report) = start("tasks-finish", "finish");
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    eprintln!("three tasks of 300 ms each: exit {latency:?} after SIGTERM");
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    // One after the other would take 900 ms.
    assert!(
        latency < Duration::from_millis(800),
        "took {latency:?}: the tasks did not finish concurrently"
    );
    let report = support::read_report(&report);
    for name in ["tasks.worker", "tasks.worker#2", "tasks.indexer"] {
        assert_eq!(close(&report, name).0, "closed", "{report}");
    }
}

#[test]
fn a_task_that_ignores_the_shutdown_is_cut_at_the_deadline_and_named() {
    let (process, report) = start("tasks-ignore", "ignore");
    let sent = process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(10));
    let latency = exit.at - sent;
    eprintln!("a stubborn task: exit {:?} after {latency:?}", exit.code());
    assert_eq!(exit.code(), Some(1), "{}", exit.stderr_text());
    // The fixture's timeout is 3 s.
    assert!(
        latency > Duration::from_millis(2500) && latency < Duration::from_secs(4),
        "exit {latency:?} after SIGTERM, not at the deadline"
    );
    let report = support::read_report(&report);
    assert_eq!(close(&report, "tasks.polite").0, "closed", "{report}");
    assert_eq!(close(&report, "tasks.stubborn").0, "timed_out", "{report}");
    assert!(
        !exit.stderr_lines("tasks.stubborn timed out").is_empty(),
        "{}",
        exit.stderr_text()
    );
}
