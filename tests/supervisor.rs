//! Fitting the supervisors: the systemd notify protocol, seen from a
//! NOTIFY_SOCKET the test listens on, and the warning about a kill budget
//! shorter than the timeout.

mod support;

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use support::http;
use support::{Process, Service, Signal};

/// Receives the next notification, at most `bound` from now.
fn next(socket: &UnixDatagram, bound: Duration) -> String {
    socket.set_read_timeout(Some(bound)).unwrap();
    let mut buffer = [0u8; 4096];
    let read = socket.recv(&mut buffer).expect("a notification in time");
    String::from_utf8_lossy(&buffer[..read]).into_owned()
}

/// The value of `KEY=` in a notification.
fn field<'a>(message: &'a str, key: &str) -> Option<&'a str> {
    message
        .lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn systemd_hears_ready_stopping_draining_and_cleaning_up() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    let mut service = Service::start("systemd", &[("NOTIFY_SOCKET", path.to_str().unwrap())]);
    assert_eq!(
        next(&socket, Duration::from_secs(10)),
        "READY=1\nSTATUS=ready"
    );

    // One request in flight, so there is a drain to report.
    let slow = http::in_flight(service.address, "/slow?ms=600", Duration::from_secs(10));
    service
        .process
        .wait_for_stderr("slow: sleeping", Duration::from_secs(10));
    service.process.signal(Signal::SIGTERM);

    let stopping = next(&socket, Duration::from_secs(5));
    assert_eq!(field(&stopping, "STOPPING"), Some("1"), "{stopping}");
    assert_eq!(
        field(&stopping, "STATUS"),
        Some("shutting down (SIGTERM), timeout 10s")
    );
    // systemd is asked to wait for the whole budget, and a second more.
    let extend: u64 = field(&stopping, "EXTEND_TIMEOUT_USEC")
        .unwrap()
        .parse()
        .unwrap();
    assert!((10_900_000..=11_000_000).contains(&extend), "{extend}");

    let draining = next(&socket, Duration::from_secs(5));
    assert_eq!(
        field(&draining, "STATUS"),
        Some("draining 1 requests on 1 connections"),
        "{draining}"
    );
    assert!(field(&draining, "EXTEND_TIMEOUT_USEC").is_some());
    let mut later = next(&socket, Duration::from_secs(5));
    while field(&later, "STATUS").is_some_and(|status| status.starts_with("draining")) {
        later = next(&socket, Duration::from_secs(5));
    }
    assert_eq!(field(&later, "STATUS"), Some("cleaning up: db"), "{later}");

    assert_eq!(slow.join().unwrap().status(), Some(200));
    let exit = service.process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_kill_budget_shorter_than_the_timeout_is_warned_about_at_startup() {
    // The fixture's timeout is 30s; Docker's default budget is 10s.
    let process = Process::start_ready("fixture-app", &[("GRACEFUL_SUPERVISOR_BUDGET", "10s")]);
    process.signal(Signal::SIGTERM);
    let exit = process.wait_exit(Duration::from_secs(10));
    let warning = exit.stderr_lines("does not fit in the supervisor's kill budget");
    assert_eq!(warning.len(), 1, "{}", exit.stderr_text());
    assert!(warning[0].contains("WARN"), "{}", warning[0]);
    assert!(
        warning[0].contains("the shutdown timeout (30s) does not fit in the supervisor's kill budget (10s, GRACEFUL_SUPERVISOR_BUDGET)"),
        "{}",
        warning[0]
    );
    assert!(
        warning[0].contains("Lower the timeout to 9s at most"),
        "{}",
        warning[0]
    );

    let fits = Process::start_ready("fixture-app", &[("GRACEFUL_SUPERVISOR_BUDGET", "45s")]);
    fits.signal(Signal::SIGTERM);
    let exit = fits.wait_exit(Duration::from_secs(10));
    assert!(
        exit.stderr_lines("kill budget").is_empty(),
        "{}",
        exit.stderr_text()
    );
}

#[test]
fn after_an_upgrade_systemd_follows_the_new_process_and_hears_nothing_more_from_the_old() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("notify-upgrade-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    let service = Service::start(
        "systemd-upgrade",
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    assert_eq!(
        next(&socket, Duration::from_secs(10)),
        "READY=1\nSTATUS=ready"
    );

    service.process.signal(Signal::SIGUSR2);
    // The new process says it is ready (systemd accepts it with
    // NotifyAccess=all), then the old one names it the main process.
    assert_eq!(
        next(&socket, Duration::from_secs(30)),
        "READY=1\nSTATUS=ready"
    );
    let handed = next(&socket, Duration::from_secs(5));
    let new_pid: i32 = field(&handed, "MAINPID")
        .unwrap_or_else(|| panic!("MAINPID= after the new process is ready: {handed:?}"))
        .parse()
        .unwrap();
    assert_ne!(new_pid.unsigned_abs(), service.process.pid());
    let exit = service.process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());

    // The old process sent no STOPPING=1: the next message is the new
    // process's own, at its SIGTERM.
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(new_pid), Signal::SIGTERM).unwrap();
    let stopping = next(&socket, Duration::from_secs(5));
    assert_eq!(
        field(&stopping, "STATUS"),
        Some("shutting down (SIGTERM), timeout 10s"),
        "{stopping}"
    );
    let gone = (0..200).any(|_| {
        thread::sleep(Duration::from_millis(50));
        // Gone, or a zombie its new parent has not reaped yet.
        std::fs::read_to_string(format!("/proc/{new_pid}/stat")).map_or(true, |stat| {
            stat.rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'))
        })
    });
    assert!(gone, "the new process exits after its SIGTERM");
    let _ = std::fs::remove_file(&path);
}
