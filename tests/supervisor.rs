//! Fitting the supervisors: the systemd notify protocol, seen from a
//! NOTIFY_SOCKET the test listens on, and the warning about a kill budget
//! shorter than the timeout.

mod support;

use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

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
    // A reload (Type=notify-reload): RELOADING=1 with the time, from the
    // old process; then the new one names itself the main process and says
    // it is ready (systemd accepts it with NotifyAccess=all); then the old
    // one names it too, and says nothing more.
    let reloading = next(&socket, Duration::from_secs(10));
    assert_eq!(field(&reloading, "RELOADING"), Some("1"), "{reloading}");
    let usec: u64 = field(&reloading, "MONOTONIC_USEC")
        .unwrap_or_else(|| panic!("MONOTONIC_USEC= with RELOADING=1: {reloading:?}"))
        .parse()
        .unwrap();
    assert!(usec > 0, "{reloading}");
    let ready = next(&socket, Duration::from_secs(30));
    let new_pid: i32 = field(&ready, "MAINPID")
        .unwrap_or_else(|| panic!("MAINPID= from the new process: {ready:?}"))
        .parse()
        .unwrap();
    assert_ne!(new_pid.unsigned_abs(), service.process.pid());
    assert_eq!(
        ready,
        format!("MAINPID={new_pid}\nREADY=1\nSTATUS=ready"),
        "the new process's readiness"
    );
    let handed = next(&socket, Duration::from_secs(5));
    assert_eq!(
        handed,
        format!("MAINPID={new_pid}\nSTATUS=upgraded: pid {new_pid} serves"),
        "the old process's hand-over"
    );
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

/// A socket the test listens on, as systemd's `NOTIFY_SOCKET`.
fn notify_socket(test: &str) -> (UnixDatagram, PathBuf) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("notify-{test}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    (UnixDatagram::bind(&path).unwrap(), path)
}

/// Every notification within `window` from now.
fn within(socket: &UnixDatagram, window: Duration) -> Vec<(Instant, String)> {
    let until = Instant::now() + window;
    let mut messages = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Some(left) = until
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
    {
        socket.set_read_timeout(Some(left)).unwrap();
        match socket.recv(&mut buffer) {
            Ok(read) => messages.push((
                Instant::now(),
                String::from_utf8_lossy(&buffer[..read]).into_owned(),
            )),
            Err(_) => break,
        }
    }
    messages
}

/// The service, copied to a directory of the test's and started from its
/// absolute path there, so an upgrade starts whatever the test puts at
/// that path.
fn service_at_own_path(test: &str, env: &[(&str, &str)]) -> (Service, PathBuf) {
    let dir =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let executable = dir.join("service");
    std::fs::copy(support::binary("service"), &executable).unwrap();
    let service = Service::start_command(test, Command::new(&executable), env);
    (service, executable)
}

/// Puts a shell script at `path`, by rename, as a deploy would.
fn deploy_script(path: &Path, script: &str) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, script).unwrap();
    std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&fresh, path).unwrap();
}

/// An upgrade that fails ends the reload from the old process, which goes
/// on serving: `READY=1`, and why in `STATUS=`, so `systemctl reload`
/// returns and says so rather than waiting for its timeout.
#[test]
fn a_failed_upgrade_ends_the_reload_with_ready_and_the_reason() {
    let (socket, path) = notify_socket("reload-failed");
    let (service, executable) = service_at_own_path(
        "reload-failed",
        &[("NOTIFY_SOCKET", path.to_str().unwrap())],
    );
    assert_eq!(
        next(&socket, Duration::from_secs(10)),
        "READY=1\nSTATUS=ready"
    );
    deploy_script(&executable, "#!/bin/sh\nexit 1\n");
    service.process.signal(Signal::SIGUSR2);
    let reloading = next(&socket, Duration::from_secs(10));
    assert_eq!(field(&reloading, "RELOADING"), Some("1"), "{reloading}");
    let failed = next(&socket, Duration::from_secs(30));
    assert_eq!(field(&failed, "READY"), Some("1"), "{failed}");
    let status = field(&failed, "STATUS").unwrap_or_default();
    assert!(
        status.starts_with("upgrade failed: pid ") && status.contains("before it was ready"),
        "{failed}"
    );
    assert_eq!(field(&failed, "MAINPID"), None, "{failed}");
    // Still serving, and still the main process.
    let mut stream = http::connect(service.address).expect("connect");
    let answer = http::request(&mut stream, "GET", "/", Duration::from_secs(5));
    assert!(
        answer
            .response()
            .is_some_and(|response| response.status == 200),
        "{answer:?}"
    );
    service.process.signal(Signal::SIGTERM);
    let stopping = next(&socket, Duration::from_secs(5));
    assert_eq!(field(&stopping, "STOPPING"), Some("1"), "{stopping}");
    let exit = service.process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let _ = std::fs::remove_file(&path);
}

/// With `WATCHDOG_USEC` (200 ms here), systemd hears `WATCHDOG=1` every
/// half period from a task on the runtime, while the service serves a
/// steady stream of requests and while it drains one.
#[test]
fn the_watchdog_hears_from_the_runtime_under_load_and_through_the_shutdown() {
    let (socket, path) = notify_socket("watchdog");
    let mut service = Service::start(
        "watchdog",
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    let load_until = Instant::now() + Duration::from_millis(1500);
    let address = service.address;
    let load = thread::spawn(move || {
        let mut stream = http::connect(address).expect("connect");
        let mut answered = 0;
        while Instant::now() < load_until {
            let outcome = http::request(&mut stream, "GET", "/", Duration::from_secs(5));
            if outcome
                .response()
                .is_some_and(|response| response.status == 200)
            {
                answered += 1;
            }
        }
        answered
    });
    let serving = within(&socket, Duration::from_millis(1500));
    let answered = load.join().unwrap();
    assert!(answered > 100, "the load: {answered} requests");
    let pings: Vec<Instant> = serving
        .iter()
        .filter(|(_, message)| message == "WATCHDOG=1")
        .map(|(at, _)| *at)
        .collect();
    // About every 100 ms: 15 in 1.5 s; a loaded machine may lose a few.
    assert!(
        pings.len() >= 10,
        "{} WATCHDOG=1 in 1.5 s: {serving:?}",
        pings.len()
    );
    let longest = pings
        .windows(2)
        .map(|pair| pair[1] - pair[0])
        .max()
        .unwrap();
    assert!(
        longest < Duration::from_millis(200),
        "a gap of {longest:?}: {serving:?}"
    );

    let slow = http::in_flight(service.address, "/slow?ms=800", Duration::from_secs(10));
    service
        .process
        .wait_for_stderr("slow: sleeping", Duration::from_secs(10));
    service.process.signal(Signal::SIGTERM);
    let draining = within(&socket, Duration::from_millis(600));
    let pings = draining
        .iter()
        .filter(|(_, message)| message == "WATCHDOG=1")
        .count();
    assert!(
        pings >= 3,
        "{pings} WATCHDOG=1 while draining: {draining:?}"
    );
    let slow = slow.join().unwrap();
    assert!(
        slow.response()
            .is_some_and(|response| response.status == 200),
        "{slow:?}"
    );
    let exit = service.process.wait_exit(Duration::from_secs(10));
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let _ = std::fs::remove_file(&path);
}

/// A runtime whose workers are all blocked cannot tell the watchdog: it
/// goes quiet, so systemd restarts the service (a thread of its own would
/// have gone on saying all is well).
#[test]
fn the_watchdog_goes_quiet_when_the_runtime_is_blocked() {
    let (socket, path) = notify_socket("watchdog-blocked");
    let mut blocked = Process::start(
        "fixture-blocked",
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "200000"),
        ],
    );
    blocked.wait_for_stdout("ready", Duration::from_secs(10));
    // Once every worker is blocked: nothing, for five periods.
    let _ = within(&socket, Duration::from_millis(150));
    let quiet = within(&socket, Duration::from_secs(1));
    let pings = quiet
        .iter()
        .filter(|(_, message)| message == "WATCHDOG=1")
        .count();
    assert_eq!(pings, 0, "WATCHDOG=1 from a blocked runtime: {quiet:?}");
    blocked.signal(Signal::SIGKILL);
    let _ = std::fs::remove_file(&path);
}
