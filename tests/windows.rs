//! Windows, really run: graceful-rt's own tests cross-built for
//! x86_64-pc-windows-gnu and run under Wine, and the example Windows
//! service (examples/windows-service) installed in Wine's Service Control
//! Manager, sent a request, and stopped through the SCM, as `sc stop`
//! stops it. Wine, MinGW-w64 and the Rust target are installed when
//! missing (see tests/support/windows.rs).
//!
//! Not run here: `SERVICE_CONTROL_SHUTDOWN` and `PRESHUTDOWN`, which only
//! a machine that shuts down sends (they take `STOP`'s path, and the
//! deadline's cap under the preshutdown timeout has its unit tests), and
//! console events (Ctrl-C, Ctrl-Break, Ctrl-Close), not tried under Wine
//! yet (`GenerateConsoleCtrlEvent` from a helper would be the way).

mod support;

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use support::windows::{self, windows_path};

/// One test at a time: the library's tests time their closes (60 ms
/// here, 80 ms there), and Wine on 2 cores is slow enough without the
/// other tests' builds and services beside them.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The library's features that build for Windows: all but rdkafka
/// (rdkafka-sys compiles librdkafka with a C toolchain for the target,
/// which Debian's MinGW is not set up for) and the integrations whose
/// clients are not this test's concern.
const FEATURES: &str = "windows-service,axum,systemd,tokio-util,serde";

#[test]
fn the_library_s_own_tests_pass_on_windows() {
    let _alone = one_at_a_time();
    let wine = windows::wine();
    let (stdout, passed) = support::cargo_tests(
        &mut wine.cargo(&[
            "test",
            "-p",
            "graceful-rt",
            "--features",
            FEATURES,
            "--lib",
            "--test",
            "cleanup",
        ]),
        "graceful-rt's tests under Wine",
    );
    // They ran, on Windows: the SCM's own unit tests among them.
    for test in [
        "process::windows_service::tests::a_console_program_starts_at_once_and_is_no_service ... ok",
        "process::windows_service::tests::controls_before_the_route_are_delivered_when_it_is_set ... ok",
    ] {
        assert!(stdout.contains(test), "{test} missing:\n{stdout}");
    }
    assert!(passed >= 60, "only {passed} tests passed:\n{stdout}");
}

/// What `scm run` printed, the service's log, and its journal.
struct Run {
    stdout: String,
    log: String,
    journal: String,
}

impl Run {
    fn lines(&self, prefix: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .collect()
    }
}

/// Installs the example as a service in Wine's SCM, with a request of
/// `slow_ms` in flight when the SCM stops it (`scm run`).
fn run_service(test: &str, slow_ms: u64) -> Run {
    let _alone = one_at_a_time();
    let wine = windows::wine();
    let bin = wine.build("graceful-windows-service");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("service.log");
    // A name of its own, so a run that was killed leaves nothing in the way.
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let output = wine
        .command(&bin.join("scm.exe"))
        .args(["run", &format!("graceful-{test}-{stamp}")])
        .arg(windows_path(&bin.join("windows-service.exe")))
        .arg(windows_path(&log))
        .arg(slow_ms.to_string())
        .output()
        .expect("wine runs");
    let run = Run {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        log: std::fs::read_to_string(&log).unwrap_or_default(),
        journal: std::fs::read_to_string(log.with_extension("journal")).unwrap_or_default(),
    };
    assert!(
        output.status.success(),
        "scm run failed ({}):\n{}\n{}\nthe service's log:\n{}",
        output.status,
        run.stdout,
        String::from_utf8_lossy(&output.stderr),
        run.log
    );
    run
}

/// The STOP_PENDING statuses: (checkpoint, wait hint in ms).
fn stop_pending(run: &Run) -> Vec<(u32, u64)> {
    run.lines("status StopPending ")
        .iter()
        .map(|rest| {
            let field = |name: &str| {
                rest.split(' ')
                    .find_map(|field| field.strip_prefix(name))
                    .and_then(|value| value.parse::<u64>().ok())
                    .unwrap_or_else(|| panic!("no {name} in {rest}"))
            };
            (field("checkpoint=") as u32, field("wait_hint_ms="))
        })
        .collect()
}

#[test]
fn a_service_stopped_by_the_scm_drains_cleans_up_and_reports_stopped_with_exit_code_0() {
    let run = run_service("stopped", 1500);
    let context = format!("{}\nthe service's log:\n{}", run.stdout, run.log);
    assert_eq!(run.lines("running"), [""], "{context}");
    // The SCM saw the stop as pending, its checkpoint rising and its wait
    // hint covering the time the 5 s shutdown had left (and a second).
    let pending = stop_pending(&run);
    assert!(!pending.is_empty(), "{context}");
    assert!(
        pending.windows(2).all(|pair| pair[1].0 > pair[0].0),
        "the checkpoint rises: {pending:?}\n{context}"
    );
    assert!(
        pending
            .iter()
            .all(|&(_, hint)| (1_000..=6_000).contains(&hint)),
        "the wait hint covers the time left: {pending:?}\n{context}"
    );
    assert_eq!(
        run.lines("status Stopped "),
        ["checkpoint=0 wait_hint_ms=0"],
        "{context}"
    );
    assert_eq!(run.lines("stopped exit="), ["win32:0"], "{context}");
    // The request in flight at the stop was answered, and the journal
    // flushed after the drain.
    assert_eq!(run.lines("slow "), ["HTTP/1.1 200 OK"], "{context}");
    for line in [
        "received SERVICE_CONTROL_STOP, shutting down (timeout 5s)",
        "1 request in flight on 1 connection",
        "closed journal",
        "shutdown complete: cause SERVICE_CONTROL_STOP",
        "exit code 0",
    ] {
        assert!(
            run.log.contains(line),
            "{line:?} missing from the log:\n{context}"
        );
    }
    assert!(
        run.journal.ends_with("journal flushed: 1 lines\n"),
        "the journal: {:?}\n{context}",
        run.journal
    );
}

#[test]
fn a_service_cut_at_its_deadline_reports_its_exit_code_to_the_scm() {
    // A request longer than the 5 s timeout: the drain deadline cuts it,
    // which leaves the cleanup 100 ms (its reserve, 3 % of the timeout,
    // less the exit's 1 %): the journal's 300 ms flush is cut, and the process exits 1 (a cleanup
    // failed), which the SCM holds as a service-specific exit code.
    let run = run_service("cut", 20_000);
    let context = format!("{}\nthe service's log:\n{}", run.stdout, run.log);
    assert!(!stop_pending(&run).is_empty(), "{context}");
    assert_eq!(run.lines("stopped exit="), ["service:1"], "{context}");
    assert_ne!(run.lines("slow "), ["HTTP/1.1 200 OK"], "{context}");
    for line in [
        "drain deadline passed: cut 1 request on 1 connection",
        "journal timed out",
        "exit code 1",
    ] {
        assert!(
            run.log.contains(line),
            "{line:?} missing from the log:\n{context}"
        );
    }
}
