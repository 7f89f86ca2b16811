//! An upgrade by hand-off (SIGUSR2), through real processes: the example
//! service runs from an executable copied into a directory of the test's
//! own; a "deploy" replaces that file (a new file renamed over the path, as
//! a package manager does: writing in place would fail with ETXTBSY); then
//! SIGUSR2 makes the running process start the file now at its path,
//! passing it its listening socket. The new process says it is ready
//! (`GRACEFUL_PID_FILE` then holds its pid), and the old one drains and
//! exits 0, as on SIGTERM.
//!
//! Under a closed-loop load (half the clients on keep-alive connections,
//! half on a new connection per request; `GET /` and `POST /items`), three
//! upgrades in a row must lose nothing: no failed request, no refused
//! connect, no reset, and every write a client saw acknowledged is in the
//! database at the end. An upgrade to an executable that exits at once, or
//! that never becomes ready, is abandoned and the old process keeps
//! serving, losing nothing either.
//!
//! The new process is the old one's child; when the old one exits, it is
//! reparented. This test process makes itself a child subreaper, so every
//! generation ends up its child: it can wait for each one and read its exit
//! code, and none is left a zombie. Tests here run one at a time: the load
//! scenarios share a 2-core machine.
//!
//! `UPGRADE_RUNS=N` sets how many times the three-upgrade scenario runs
//! (default 10); `--nocapture` shows each run's counts.
#![cfg(target_os = "linux")]

mod support;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader, ErrorKind};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use support::h2::{self, Pings};
use support::http::{self, Outcome};
use support::load::{ANSWER, Load, Tally};
use support::{Signal, ws};

/// Runs of the three-upgrade scenario, unless `UPGRADE_RUNS` says otherwise.
const RUNS: usize = 10;
/// Upgrades in a row in one run.
const UPGRADES: usize = 3;
/// Closed-loop clients (`support::load`): the even ones on keep-alive
/// connections, the odd ones on a new connection per request.
const CLIENTS: usize = 8;
/// Load before the first upgrade, between the end of one upgrade and the
/// next signal, and after the last one.
const SPACING: Duration = Duration::from_millis(700);
/// How long the first process may take to listen (the executable is built
/// before the clock starts).
const START_BOUND: Duration = Duration::from_secs(30);
/// From SIGUSR2 to the new process's pid in the PID file, on a loaded
/// machine.
const READY_BOUND: Duration = Duration::from_secs(20);
/// From the new process being ready to the old one's exit (its drain), and
/// from SIGTERM to the exit of the last one.
const EXIT_BOUND: Duration = Duration::from_secs(15);
/// From SIGUSR2 to the `upgrade failed:` line of an executable that exits
/// at once.
const FAILED_BOUND: Duration = Duration::from_secs(10);
/// The time given to a new process that never becomes ready
/// (`GRACEFUL_UPGRADE_TIMEOUT`) ...
const UPGRADE_TIMEOUT: Duration = Duration::from_secs(1);
/// ... and how long after that the old one may take to say it gave up.
const ABANDON_MARGIN: Duration = Duration::from_secs(5);
/// A log line that should follow at once (a repeated signal's), and a
/// process that should be gone at once (one sent SIGTERM).
const PROMPT: Duration = Duration::from_secs(5);
/// How long the load goes on after an upgrade failed, before counting.
const LINGER: Duration = Duration::from_millis(500);
/// How often a wait looks again at the PID file or at a process.
const POLL: Duration = Duration::from_millis(5);

/// The log lines of the interface (`graceful-rt`'s upgrade).
const STARTED: &str = "upgrading: started pid ";
const UPGRADED: &str = "upgraded: pid ";
const FAILED: &str = "upgrade failed:";
const STILL_SERVING: &str = "still serving";
const TAKING_OVER: &str = "taking over from pid ";
const ALREADY: &str = "already upgrading";

/// An executable that exits at once, and one that never says it is ready.
const EXITS_AT_ONCE: &str = "#!/bin/sh\nexit 1\n";
const NEVER_READY: &str = "#!/bin/sh\nexec sleep 600\n";

/// One test at a time: each loads the machine.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Makes this test process a child subreaper (once): a process whose
/// parent exits becomes its child, so the test can wait for every
/// generation of the service.
fn become_subreaper() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        nix::sys::prctl::set_child_subreaper(true).expect("prctl(PR_SET_CHILD_SUBREAPER)");
    });
}

/// Two copies of the built example, made once per test process: a deploy
/// links the one that is not at the executable's path, so every deploy
/// puts a different file (inode) there, as a real one would, without
/// copying the executable each time.
fn builds() -> &'static [PathBuf; 2] {
    static BUILDS: OnceLock<[PathBuf; 2]> = OnceLock::new();
    BUILDS.get_or_init(|| {
        let built = support::binary("service");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("upgrade-builds");
        std::fs::create_dir_all(&dir).unwrap();
        [1, 2].map(|number| {
            let path = dir.join(format!("service-{number}"));
            // A new file renamed over the old one: a process of an earlier
            // test run may still execute it.
            let fresh = dir.join(format!(".service-{number}.{}", std::process::id()));
            std::fs::copy(&built, &fresh)
                .unwrap_or_else(|error| panic!("cannot copy {}: {error}", built.display()));
            std::fs::rename(&fresh, &path).unwrap();
            path
        })
    })
}

/// Every line the service's processes printed (stdout and stderr: each
/// new process inherits both from the old one), as they arrive.
#[derive(Clone, Default)]
struct Log {
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
}

impl Log {
    fn read(&self, pipe: impl std::io::Read + Send + 'static) {
        let lines = Arc::clone(&self.lines);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let (seen, arrived) = &*lines;
                seen.lock().unwrap().push(line);
                arrived.notify_all();
            }
        });
    }

    /// How many lines so far: where a later wait starts looking.
    fn mark(&self) -> usize {
        self.lines.0.lock().unwrap().len()
    }

    /// The first line from `from` on that contains `needle`, waiting at
    /// most `bound`.
    fn find(&self, needle: &str, from: usize, bound: Duration) -> Option<String> {
        let until = Instant::now() + bound;
        let (seen, arrived) = &*self.lines;
        let mut seen = seen.lock().unwrap();
        loop {
            if let Some(line) = seen.iter().skip(from).find(|line| line.contains(needle)) {
                return Some(line.clone());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            seen = arrived.wait_timeout(seen, left).unwrap().0;
        }
    }

    /// [`find`](Log::find), failing the test (with the log) when the line
    /// does not come: `what` says whose line it is.
    fn expect(&self, needle: &str, from: usize, bound: Duration, what: &str) -> String {
        self.find(needle, from, bound).unwrap_or_else(|| {
            panic!(
                "no {needle:?} ({what}) within {bound:?} in the log:\n{}",
                self.text()
            )
        })
    }

    fn text(&self) -> String {
        self.lines.0.lock().unwrap().join("\n")
    }
}

/// The pid that follows `prefix` in `line`.
fn pid_after(line: &str, prefix: &str) -> Pid {
    line.split_once(prefix)
        .and_then(|(_, rest)| {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok()
        })
        .map(Pid::from_raw)
        .unwrap_or_else(|| panic!("no pid after {prefix:?} in {line:?}"))
}

/// Waits at most `bound` for the process `pid`, this test's child, to end.
fn wait_end(pid: Pid, bound: Duration) -> Option<WaitStatus> {
    let until = Instant::now() + bound;
    loop {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => return Some(status),
            Err(error) => panic!("waitpid({pid}): {error} (not this test's child?)"),
        }
        if Instant::now() >= until {
            return None;
        }
        thread::sleep(POLL);
    }
}

/// How `pid` ended, or `None` while it runs: waited for when it is this
/// test's child; otherwise (an upgraded process's child, until that one
/// exits) seen in /proc.
fn ended(pid: Pid) -> Option<String> {
    match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
        Ok(WaitStatus::StillAlive) => None,
        Ok(status) => Some(format!("{status:?}")),
        Err(nix::errno::Errno::ECHILD) => match state(pid).as_str() {
            "gone" | "Z" => Some(format!("another's child, now {}", state(pid))),
            _ => None,
        },
        Err(error) => panic!("waitpid({pid}): {error}"),
    }
}

/// Whether the process `pid` no longer exists (exited and reaped by its
/// parent).
fn gone(pid: Pid) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// The state letter of a process (`S` sleeping, `Z` zombie, ...), for
/// failure messages.
fn state(pid: Pid) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or_else(
        |_| "gone".to_owned(),
        |stat| {
            stat.rsplit_once(") ")
                .and_then(|(_, rest)| rest.split(' ').next())
                .unwrap_or("?")
                .to_owned()
        },
    )
}

/// One upgrade that completed.
#[derive(Debug)]
struct Upgrade {
    old: Pid,
    new: Pid,
    /// From SIGUSR2 to the new pid in the PID file.
    ready: Duration,
    /// From SIGUSR2 to the old process's exit.
    old_exit: Duration,
}

/// The example service installed in a directory of its own: its
/// executable, PID file and database, and the process in charge.
struct Deployment {
    dir: PathBuf,
    executable: PathBuf,
    pid_file: PathBuf,
    database: PathBuf,
    address: SocketAddr,
    log: Log,
    /// The process in charge, as far as the test knows; `None` once it was
    /// stopped.
    current: Option<Pid>,
    /// Other processes of the test's that may still run: an old process
    /// draining, a process a failed upgrade started. Killed, like the one
    /// in charge, when the test fails.
    others: Vec<Pid>,
    /// Services deployed so far (which build the next one links).
    deploys: usize,
}

impl Deployment {
    /// Installs the service in a fresh directory and starts it on a port
    /// of its own, with `env` added; waits until it listens.
    fn start(name: &str, env: &[(&str, &str)]) -> Deployment {
        become_subreaper();
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("upgrade-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let executable = dir.join("service");
        let pid_file = dir.join("service.pid");
        let database = dir.join("items.db");
        let port = support::nginx::reserve_port();
        let mut deployment = Deployment {
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
            executable,
            pid_file,
            database,
            log: Log::default(),
            current: None,
            others: Vec::new(),
            deploys: 0,
        };
        deployment.deploy_service();
        // Waited for by pid (`waitpid`), as the processes an upgrade starts
        // are.
        #[allow(clippy::zombie_processes)]
        let mut child = Command::new(&deployment.executable)
            .env_remove("GRACEFUL_TIMEOUT")
            .env_remove("GRACEFUL_REPORT")
            .env_remove("GRACEFUL_UPGRADE_TIMEOUT")
            .env("PORT", port.to_string())
            .env("DATABASE_PATH", &deployment.database)
            .env("GRACEFUL_PID_FILE", &deployment.pid_file)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the service");
        let pid = Pid::from_raw(child.id() as i32);
        deployment.current = Some(pid);
        deployment.log.read(child.stdout.take().unwrap());
        deployment.log.read(child.stderr.take().unwrap());
        let listening = format!("listening on {}", deployment.address);
        if deployment.log.find(&listening, 0, START_BOUND).is_none() {
            panic!(
                "no {listening:?} within {START_BOUND:?} ({}); log:\n{}",
                deployment.describe(pid),
                deployment.log.text()
            );
        }
        deployment
    }

    /// [`start`](Deployment::start), then waits until the PID file holds
    /// the process's pid.
    fn start_with_pid_file(name: &str, env: &[(&str, &str)]) -> Deployment {
        let deployment = Deployment::start(name, env);
        let pid = deployment.current();
        let until = Instant::now() + START_BOUND;
        while deployment.pid_in_file() != Some(pid) {
            assert!(
                Instant::now() < until,
                "{} does not hold pid {pid} within {START_BOUND:?}: {:?}; log:\n{}",
                deployment.pid_file.display(),
                std::fs::read_to_string(&deployment.pid_file),
                deployment.log.text()
            );
            thread::sleep(POLL);
        }
        deployment
    }

    /// The pid in the PID file; `None` while there is none. Fails on a
    /// file that is not a decimal pid followed by a newline.
    fn pid_in_file(&self) -> Option<Pid> {
        let text = match std::fs::read_to_string(&self.pid_file) {
            Ok(text) => text,
            Err(error) if error.kind() == ErrorKind::NotFound => return None,
            Err(error) => panic!("cannot read {}: {error}", self.pid_file.display()),
        };
        let pid = text
            .strip_suffix('\n')
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{} holds {text:?}, not a pid and a newline",
                    self.pid_file.display()
                )
            });
        Some(Pid::from_raw(pid))
    }

    /// Puts a new file at the executable's path: written (or linked) under
    /// another name in the same directory, then renamed over it.
    fn replace_executable(&self, write: impl FnOnce(&Path)) {
        let fresh = self.dir.join(".service.new");
        let _ = std::fs::remove_file(&fresh);
        write(&fresh);
        std::fs::rename(&fresh, &self.executable).unwrap();
    }

    /// Deploys the service: the build that is not at the path now.
    fn deploy_service(&mut self) {
        let build = &builds()[self.deploys % 2];
        self.deploys += 1;
        self.replace_executable(|fresh| {
            if std::fs::hard_link(build, fresh).is_err() {
                std::fs::copy(build, fresh).unwrap();
            }
        });
    }

    /// Deploys a shell script in place of the service.
    fn deploy_script(&self, script: &str) {
        self.replace_executable(|fresh| {
            std::fs::write(fresh, script).unwrap();
            std::fs::set_permissions(fresh, std::fs::Permissions::from_mode(0o755)).unwrap();
        });
    }

    fn current(&self) -> Pid {
        self.current.expect("the service was stopped")
    }

    /// Sends `signal` to the process in charge; returns the instant just
    /// before.
    fn signal(&self, signal: Signal) -> Instant {
        let pid = self.current();
        let at = Instant::now();
        nix::sys::signal::kill(pid, signal)
            .unwrap_or_else(|error| panic!("cannot send {signal} to pid {pid}: {error}"));
        at
    }

    /// What became of `pid`, for failure messages.
    fn describe(&self, pid: Pid) -> String {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => format!("pid {pid} still runs"),
            Ok(status) => format!("pid {pid} ended: {status:?}"),
            Err(_) => format!("pid {pid}: {}", state(pid)),
        }
    }

    /// Waits at most `bound` for `pid`, one of `others`, to exit (`after`
    /// says what it exits after, for the failure), and forgets it.
    fn wait_other(&mut self, pid: Pid, bound: Duration, after: &str) -> WaitStatus {
        let status = wait_end(pid, bound).unwrap_or_else(|| {
            panic!(
                "pid {pid} did not exit within {bound:?} of {after}; log:\n{}",
                self.log.text()
            )
        });
        self.others.retain(|&other| other != pid);
        status
    }

    /// After an upgrade signal sent at `sent` to the process in charge:
    /// waits until the PID file names another process, which is then in
    /// charge (the old one is among `others` until it is waited for), and
    /// returns its pid.
    fn taken_over(&mut self, sent: Instant) -> Pid {
        let old = self.current();
        let until = sent + READY_BOUND;
        let new = loop {
            match self.pid_in_file() {
                Some(pid) if pid != old => break pid,
                _ => {}
            }
            if let Some(status) = ended(old) {
                self.current = None;
                panic!(
                    "pid {old} ended ({status}) before another pid was in {}; log:\n{}",
                    self.pid_file.display(),
                    self.log.text()
                );
            }
            assert!(
                Instant::now() < until,
                "no new pid in {} within {READY_BOUND:?} of SIGUSR2 to pid {old}; log:\n{}",
                self.pid_file.display(),
                self.log.text()
            );
            thread::sleep(POLL);
        };
        self.current = Some(new);
        self.others.push(old);
        new
    }

    /// SIGUSR2 to the process in charge; waits until the PID file holds
    /// the new process's pid and the old process has exited with code 0,
    /// and checks what each logged.
    fn upgrade(&mut self) -> Upgrade {
        let old = self.current();
        let from = self.log.mark();
        let sent = self.signal(Signal::SIGUSR2);
        let new = self.taken_over(sent);
        let ready = sent.elapsed();
        let status = self.wait_other(old, EXIT_BOUND, &format!("pid {new} being ready"));
        let old_exit = sent.elapsed();
        assert_eq!(
            status,
            WaitStatus::Exited(old, 0),
            "how pid {old} ended after handing over to pid {new}; log:\n{}",
            self.log.text()
        );
        for (line, what) in [
            (
                format!("{STARTED}{new},"),
                "the old process's start of the new one",
            ),
            (
                format!("{UPGRADED}{new} is ready"),
                "the old process's hand-off",
            ),
            (format!("{TAKING_OVER}{old}"), "the new process's take-over"),
        ] {
            self.log.expect(&line, from, PROMPT, what);
        }
        Upgrade {
            old,
            new,
            ready,
            old_exit,
        }
    }

    /// SIGUSR2 to the process in charge, whose upgrade is to fail; waits
    /// for the `upgrade failed:` line and returns it, with the pid the old
    /// process started.
    fn failed_upgrade(&mut self, bound: Duration) -> (String, Pid, Duration) {
        let from = self.log.mark();
        let sent = self.signal(Signal::SIGUSR2);
        let started = self
            .log
            .find(STARTED, from, bound)
            .unwrap_or_else(|| panic!("no {STARTED:?} line; log:\n{}", self.log.text()));
        let failed = self.log.find(FAILED, from, bound).unwrap_or_else(|| {
            panic!(
                "no {FAILED:?} line within {bound:?} of SIGUSR2; log:\n{}",
                self.log.text()
            )
        });
        let after = sent.elapsed();
        let failed_at = failed.find(FAILED).unwrap();
        assert!(
            failed[failed_at..].contains(STILL_SERVING),
            "the failure line does not say the old process is {STILL_SERVING:?}: {failed:?}"
        );
        let started = pid_after(&started, STARTED);
        self.others.push(started);
        (failed, started, after)
    }

    /// Whether the process in charge answers `GET /` on a new connection.
    fn answers(&self) -> Result<(), String> {
        let mut stream =
            http::connect(self.address).map_err(|error| format!("connect: {error}"))?;
        match http::request(&mut stream, "GET", "/", ANSWER) {
            Outcome::Answered(response) if response.status == 200 => Ok(()),
            outcome => Err(format!("{outcome:?}")),
        }
    }

    /// SIGTERM to the process in charge; waits for its exit.
    fn stop(&mut self) -> WaitStatus {
        let pid = self.current();
        self.signal(Signal::SIGTERM);
        let status = wait_end(pid, EXIT_BOUND).unwrap_or_else(|| {
            panic!(
                "pid {pid} did not exit within {EXIT_BOUND:?} of SIGTERM; log:\n{}",
                self.log.text()
            )
        });
        self.current = None;
        status
    }

    /// Removes the directory (of a run that passed).
    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Deployment {
    /// Kills the processes still running when the test failed before
    /// stopping them.
    fn drop(&mut self) {
        let pids: Vec<Pid> = self
            .current
            .take()
            .into_iter()
            .chain(self.others.drain(..))
            .collect();
        for &pid in &pids {
            if !gone(pid) {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
            }
        }
        for pid in pids {
            // Reaps those that are (or have become) this test's children.
            let _ = waitpid(pid, None);
        }
    }
}

/// The count of runs: `UPGRADE_RUNS`, or [`RUNS`].
fn runs() -> usize {
    std::env::var("UPGRADE_RUNS").map_or(RUNS, |runs| {
        runs.parse()
            .unwrap_or_else(|_| panic!("UPGRADE_RUNS={runs:?} is not a count"))
    })
}

/// Every id acknowledged is stored; returns how many rows no client saw
/// acknowledged.
fn check_writes(deployment: &Deployment, tally: &Tally, context: &dyn Fn() -> String) -> usize {
    let stored = support::stored_ids(&deployment.database);
    let acknowledged: BTreeSet<i64> = tally.acknowledged.iter().copied().collect();
    let missing: Vec<&i64> = acknowledged.difference(&stored).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged writes are not in the database: {missing:?}\n{}",
        missing.len(),
        context()
    );
    assert_eq!(
        acknowledged.len(),
        tally.acknowledged.len(),
        "an id was acknowledged twice\n{}",
        context()
    );
    stored.difference(&acknowledged).count()
}

#[test]
fn three_upgrades_under_load_lose_nothing() {
    let _serial = serial();
    builds();
    let runs = runs();
    for run in 1..=runs {
        let mut deployment = Deployment::start_with_pid_file(&format!("three-{run}"), &[]);
        let first = deployment.current();
        let load = Load::start(deployment.address, CLIENTS);
        thread::sleep(SPACING);
        let mut upgrades = Vec::new();
        for _ in 0..UPGRADES {
            deployment.deploy_service();
            upgrades.push(deployment.upgrade());
            thread::sleep(SPACING);
        }
        let tally = load.finish();
        let last = deployment.current();
        let exit = deployment.stop();
        let pids: Vec<String> = [first]
            .into_iter()
            .chain(upgrades.iter().map(|upgrade| upgrade.new))
            .map(|pid| pid.to_string())
            .collect();
        let timings: Vec<String> = upgrades
            .iter()
            .map(|upgrade| {
                format!(
                    "{}→{} ready {:?}, old exited {:?}",
                    upgrade.old, upgrade.new, upgrade.ready, upgrade.old_exit
                )
            })
            .collect();
        eprintln!(
            "upgrade run {run}/{runs}: {}; pids {}; {}",
            tally.counts(),
            pids.join(" → "),
            timings.join("; ")
        );
        eprint!("{}", tally.details());
        let context = || {
            format!(
                "run {run}: {}\n{}log of every process:\n{}",
                tally.counts(),
                tally.details(),
                deployment.log.text()
            )
        };
        assert_eq!(
            exit,
            WaitStatus::Exited(last, 0),
            "the last process after SIGTERM\n{}",
            context()
        );
        assert!(
            !tally.answered.is_empty(),
            "nothing was served\n{}",
            context()
        );
        assert!(
            !tally.acknowledged.is_empty(),
            "nothing was written\n{}",
            context()
        );
        assert!(
            tally.keep_alive > 0 && tally.fresh > 0,
            "both kinds of client sent requests\n{}",
            context()
        );
        assert!(tally.clean(), "requests lost\n{}", context());
        let unacknowledged = check_writes(&deployment, &tally, &context);
        assert_eq!(
            unacknowledged,
            0,
            "rows no client saw acknowledged (a write processed and never answered?)\n{}",
            context()
        );
        deployment.remove();
    }
}

/// An upgrade to `script` under load, which fails: the old process keeps
/// serving, loses nothing, and leaves nothing of the process it started;
/// then it is stopped (SIGTERM, exit 0) and every acknowledged write is
/// checked. Returns the deployment, the failure line, the pid the old
/// process started and how long after SIGUSR2 the failure was logged.
fn failed_upgrade_under_load(
    name: &str,
    env: &[(&str, &str)],
    script: &str,
    bound: Duration,
) -> (Deployment, String, Pid, Duration) {
    let mut deployment = Deployment::start_with_pid_file(name, env);
    let old = deployment.current();
    let load = Load::start(deployment.address, CLIENTS);
    thread::sleep(SPACING);
    deployment.deploy_script(script);
    let (failed, started, after) = deployment.failed_upgrade(bound);
    thread::sleep(LINGER);
    let tally = load.finish();
    eprintln!(
        "{name}: {}; {failed:?} {after:?} after SIGUSR2",
        tally.counts()
    );
    eprint!("{}", tally.details());
    let log = deployment.log.clone();
    let context = || {
        format!(
            "{}\n{}log:\n{}",
            tally.counts(),
            tally.details(),
            log.text()
        )
    };
    assert!(
        !tally.answered.is_empty(),
        "nothing was served\n{}",
        context()
    );
    assert!(tally.clean(), "requests lost\n{}", context());
    assert_eq!(
        deployment.pid_in_file(),
        Some(old),
        "the PID file after a failed upgrade\n{}",
        context()
    );
    assert_eq!(
        wait_end(old, Duration::ZERO),
        None,
        "the old process still runs\n{}",
        context()
    );
    if let Err(what) = deployment.answers() {
        panic!("the old process does not answer: {what}\n{}", context());
    }
    // The process it started is gone: it exited (or was sent SIGTERM) and
    // the old process reaped it, leaving no zombie.
    let until = Instant::now() + PROMPT;
    while !gone(started) {
        assert!(
            Instant::now() < until,
            "pid {started}, the process the failed upgrade started, is still there ({}) \
             {PROMPT:?} after the load ended\n{}",
            state(started),
            context()
        );
        thread::sleep(POLL);
    }
    deployment.others.retain(|&pid| pid != started);
    let unacknowledged = check_writes_after_stop(&mut deployment, &tally, &context);
    assert_eq!(
        unacknowledged,
        0,
        "rows no client saw acknowledged\n{}",
        context()
    );
    (deployment, failed, started, after)
}

/// SIGTERM to the old process (exit 0), then every acknowledged write is in
/// the database; returns the rows no client saw acknowledged.
fn check_writes_after_stop(
    deployment: &mut Deployment,
    tally: &Tally,
    context: &dyn Fn() -> String,
) -> usize {
    let pid = deployment.current();
    let exit = deployment.stop();
    assert_eq!(
        exit,
        WaitStatus::Exited(pid, 0),
        "the old process after SIGTERM\n{}",
        context()
    );
    check_writes(deployment, tally, context)
}

/// The file at the executable's path is replaced by a script that exits 1:
/// the old process logs the failure and keeps serving.
#[test]
fn an_upgrade_to_a_binary_that_exits_at_once_keeps_the_old_one_serving() {
    let _serial = serial();
    builds();
    let (deployment, _, _, _) =
        failed_upgrade_under_load("exits-at-once", &[], EXITS_AT_ONCE, FAILED_BOUND);
    deployment.remove();
}

/// The old process gives the new one `GRACEFUL_UPGRADE_TIMEOUT`, then
/// sends it SIGTERM (the `sleep` dies of it), reaps it, and keeps serving.
#[test]
fn an_upgrade_whose_new_process_is_never_ready_is_abandoned() {
    let _serial = serial();
    builds();
    let timeout = humantime::format_duration(UPGRADE_TIMEOUT).to_string();
    let (deployment, failed, _, after) = failed_upgrade_under_load(
        "never-ready",
        &[("GRACEFUL_UPGRADE_TIMEOUT", &timeout)],
        NEVER_READY,
        UPGRADE_TIMEOUT + ABANDON_MARGIN,
    );
    assert!(
        after >= UPGRADE_TIMEOUT,
        "gave up {after:?} after SIGUSR2, before the {timeout} it was to wait: {failed:?}"
    );
    deployment.remove();
}

/// A second SIGUSR2 while the new process is not ready yet starts nothing:
/// it is logged, and the upgrade under way ends as it would have.
#[test]
fn a_second_upgrade_signal_during_an_upgrade_is_logged() {
    let _serial = serial();
    builds();
    let timeout = humantime::format_duration(UPGRADE_TIMEOUT).to_string();
    let mut deployment =
        Deployment::start_with_pid_file("second-signal", &[("GRACEFUL_UPGRADE_TIMEOUT", &timeout)]);
    let old = deployment.current();
    deployment.deploy_script(NEVER_READY);
    let from = deployment.log.mark();
    deployment.signal(Signal::SIGUSR2);
    assert!(
        deployment.log.find(STARTED, from, PROMPT).is_some(),
        "no {STARTED:?} line; log:\n{}",
        deployment.log.text()
    );
    deployment.signal(Signal::SIGUSR2);
    let already = deployment.log.find(ALREADY, from, PROMPT);
    assert!(
        already.is_some(),
        "no {ALREADY:?} line for the second SIGUSR2; log:\n{}",
        deployment.log.text()
    );
    let failed = deployment
        .log
        .find(FAILED, from, UPGRADE_TIMEOUT + ABANDON_MARGIN)
        .unwrap_or_else(|| panic!("no {FAILED:?} line; log:\n{}", deployment.log.text()));
    eprintln!("second-signal: {:?}; {failed:?}", already.unwrap());
    let log = deployment.log.text();
    assert_eq!(
        log.matches(STARTED).count(),
        1,
        "the second signal started another process; log:\n{log}"
    );
    assert_eq!(deployment.pid_in_file(), Some(old), "log:\n{log}");
    if let Err(what) = deployment.answers() {
        panic!("the old process does not answer: {what}; log:\n{log}");
    }
    assert_eq!(deployment.stop(), WaitStatus::Exited(old, 0), "log:\n{log}");
    deployment.remove();
}

/// The runtime keeps a duplicate of each listening socket for a hand-off;
/// a plain shutdown must close it, or connections would queue on a socket
/// nobody accepts on, instead of being refused.
#[test]
fn a_plain_sigterm_still_refuses_new_connections_once_draining_and_after_exit() {
    let _serial = serial();
    let mut deployment = Deployment::start("plain-sigterm", &[]);
    let pid = deployment.current();
    // A slow request keeps the process draining for a while.
    let before = deployment.log.mark();
    let slow = http::in_flight(deployment.address, "/slow?ms=1500", ANSWER);
    deployment.log.expect(
        "slow: sleeping",
        before,
        ANSWER,
        "the slow request's handler",
    );
    let from = deployment.log.mark();
    deployment.signal(Signal::SIGTERM);
    deployment
        .log
        .expect("draining: stopped accepting", from, PROMPT, "the drain");
    let refused = |when: &str| match http::connect(deployment.address) {
        Err(error) if error.kind() == ErrorKind::ConnectionRefused => {}
        Err(error) => panic!("connecting {when}: {error}, not refused"),
        Ok(_) => panic!(
            "a connection {when} was accepted by the kernel: a listening socket is still open; log:\n{}",
            deployment.log.text()
        ),
    };
    refused("while draining");
    let outcome = slow.join().unwrap();
    assert_eq!(outcome.status(), Some(200), "{outcome:?}");
    let exit = wait_end(pid, EXIT_BOUND).expect("no exit after SIGTERM");
    deployment.current = None;
    assert_eq!(
        exit,
        WaitStatus::Exited(pid, 0),
        "log:\n{}",
        deployment.log.text()
    );
    refused("after the exit");
    deployment.remove();
}

/// Everything `stream` sends until it closes, at most `bound`.
fn read_to_close(stream: &mut std::net::TcpStream, bound: Duration) -> std::io::Result<String> {
    use std::io::Read as _;
    stream.set_read_timeout(Some(bound))?;
    let mut text = Vec::new();
    stream.read_to_end(&mut text)?;
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Reads from `stream` until what it sent contains `needle`, at most
/// `bound`; returns what it read.
fn read_until(stream: &mut std::net::TcpStream, needle: &str, bound: Duration) -> String {
    use std::io::Read as _;
    let until = Instant::now() + bound;
    let mut text = Vec::new();
    let mut chunk = [0u8; 1024];
    while !String::from_utf8_lossy(&text).contains(needle) {
        let left = until.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no {needle:?} within {bound:?}: {text:?}");
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => panic!("closed before {needle:?}: {text:?}"),
            Ok(read) => text.extend_from_slice(&chunk[..read]),
            Err(error) => panic!("reading for {needle:?}: {error}"),
        }
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// The notifications received so far (each was queued on the socket when
/// it was sent).
fn notifications(socket: &std::os::unix::net::UnixDatagram) -> Vec<String> {
    socket.set_nonblocking(true).unwrap();
    let mut buffer = [0u8; 4096];
    let mut received = Vec::new();
    loop {
        match socket.recv(&mut buffer) {
            Ok(read) => received.push(String::from_utf8_lossy(&buffer[..read]).into_owned()),
            Err(error) if error.kind() == ErrorKind::WouldBlock => return received,
            Err(error) => panic!("reading notifications: {error}"),
        }
    }
}

/// tableflip #52: during a hand-off, what the old process holds is told at
/// once (a WebSocket gets close 1001, a server-sent event stream its last
/// event and its end, an HTTP/2 connection GOAWAY) and bounded by the old
/// process's own deadline (a stream that ignores the shutdown is cut
/// there). A second SIGUSR2, sent to the new process while the old one
/// still drains, upgrades again: the PID file and `MAINPID=` name each new
/// process in turn, and neither old one says `STOPPING=1`, which would stop
/// the service.
#[test]
fn tableflip_52_long_lived_connections_are_told_and_bounded_and_a_second_upgrade_during_the_drain_hands_on()
 {
    /// The old process's budget: its drain deadline bounds the stream it
    /// holds, long after the second upgrade is done.
    const TIMEOUT: Duration = Duration::from_secs(6);
    let _serial = serial();
    builds();
    let notify_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("upgrade-notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&notify_path);
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    let mut deployment = Deployment::start_with_pid_file(
        "back-to-back",
        &[
            ("NOTIFY_SOCKET", notify_path.to_str().unwrap()),
            ("GRACEFUL_TIMEOUT", "6s"),
        ],
    );
    let first = deployment.current();

    // What the first process holds: a WebSocket, an event stream, and an
    // HTTP/2 stream whose handler ignores the shutdown.
    let mut websocket = ws::open(deployment.address, "/ws", ANSWER).expect("a WebSocket");
    let mut events = http::connect(deployment.address).unwrap();
    http::send(&mut events, "GET", "/events").unwrap();
    read_until(&mut events, "event: tick", ANSWER);
    let before = deployment.log.mark();
    let mut h2 = h2::Connection::open(deployment.address, Pings::Answer).expect("HTTP/2");
    h2.request("GET", "/slow?ms=60000").unwrap();
    deployment.log.expect(
        "slow: sleeping",
        before,
        ANSWER,
        "the HTTP/2 request's handler",
    );

    deployment.deploy_service();
    let sent = deployment.signal(Signal::SIGUSR2);
    let second = deployment.taken_over(sent);
    let handed_over = Instant::now();
    let code = ws::close_code(&mut websocket, PROMPT).expect("a close frame");
    assert_eq!(code, 1001, "the WebSocket is told: going away");
    let rest = read_to_close(&mut events, PROMPT).expect("the event stream ends");
    assert!(
        rest.contains("event: shutdown") && rest.ends_with("0\r\n\r\n"),
        "the event stream's last event, then its end: {rest:?}"
    );
    assert!(
        h2.wait(PROMPT, |seen| !seen.goaways.is_empty()),
        "no GOAWAY on the HTTP/2 connection: {:?}",
        h2.snapshot()
    );
    let told = handed_over.elapsed();

    // The second upgrade, while the first process still drains.
    assert_eq!(wait_end(first, Duration::ZERO), None, "pid {first} drains");
    deployment.deploy_service();
    let from = deployment.log.mark();
    let sent = deployment.signal(Signal::SIGUSR2);
    let third = deployment.taken_over(sent);
    // The second process is the first's child: the first reaps it.
    let reaped =
        format!("pid {second}, which took over from this process, has exited (exit status: 0)");
    deployment.log.expect(
        &reaped,
        from,
        EXIT_BOUND,
        &format!("pid {first} reaping it"),
    );
    assert!(
        gone(second),
        "pid {second} is {}, not reaped",
        state(second)
    );
    deployment.others.retain(|&pid| pid != second);
    assert_eq!(
        wait_end(first, Duration::ZERO),
        None,
        "pid {first} still drains when pid {third} takes over; log:\n{}",
        deployment.log.text()
    );
    for (line, what) in [
        (
            format!("{STARTED}{third},"),
            "the second process's start of the third",
        ),
        (
            format!("{TAKING_OVER}{second}"),
            "the third process's take-over",
        ),
    ] {
        deployment.log.expect(&line, from, PROMPT, what);
    }

    // The first process is bounded by its own deadline.
    let first_exit = deployment.wait_other(first, TIMEOUT + EXIT_BOUND, "its hand-off");
    let drained_for = handed_over.elapsed();
    assert_eq!(
        first_exit,
        WaitStatus::Exited(first, 3),
        "cut at its drain deadline: exit 3; log:\n{}",
        deployment.log.text()
    );
    // Its deadline runs from the start of its drain, a moment after the
    // PID file changed.
    assert!(
        drained_for < TIMEOUT + Duration::from_secs(2),
        "pid {first} exited {drained_for:?} after handing over, past its {TIMEOUT:?}"
    );
    deployment.log.expect(
        "drain deadline passed: cut 1 request on 1 connection",
        0,
        PROMPT,
        "the first process's cut",
    );
    assert!(
        h2.wait(PROMPT, |seen| seen.closed.is_some()),
        "the HTTP/2 connection is closed: {:?}",
        h2.snapshot()
    );
    assert!(!h2.snapshot().streams[&1].answered());

    let sequence = notifications(&notify);
    let mainpids: Vec<&str> = sequence
        .iter()
        .filter_map(|message| {
            message
                .lines()
                .find_map(|line| line.strip_prefix("MAINPID="))
        })
        .collect();
    eprintln!(
        "back to back: {first} → {second} → {third}; told in {told:?}; {first} exited after {drained_for:?}; notifications {sequence:?}"
    );
    assert_eq!(
        mainpids,
        [
            second.to_string(),
            second.to_string(),
            third.to_string(),
            third.to_string()
        ],
        "{sequence:?}"
    );
    // Each upgrade is a reload: RELOADING=1 from the old process; the new
    // one names itself and says READY=1 before it tells the old one, which
    // then names it; and no old process says STOPPING=1.
    let ready = "READY=1\nSTATUS=ready".to_owned();
    let taking_over = |pid: Pid| format!("MAINPID={pid}\nREADY=1\nSTATUS=ready");
    let upgraded = |pid: Pid| format!("MAINPID={pid}\nSTATUS=upgraded: pid {pid} serves");
    let shape: Vec<String> = sequence
        .iter()
        .map(
            |message| match message.strip_prefix("RELOADING=1\nMONOTONIC_USEC=") {
                Some(rest) if rest.ends_with("\nSTATUS=upgrading: starting the new process") => {
                    "RELOADING=1".to_owned()
                }
                _ => message.clone(),
            },
        )
        .collect();
    assert_eq!(
        shape,
        [
            ready,
            "RELOADING=1".to_owned(),
            taking_over(second),
            upgraded(second),
            "RELOADING=1".to_owned(),
            taking_over(third),
            upgraded(third)
        ],
        "the notifications up to the last stop"
    );
    assert_eq!(deployment.pid_in_file(), Some(third));
    if let Err(what) = deployment.answers() {
        panic!("pid {third} does not answer: {what}");
    }
    assert_eq!(deployment.stop(), WaitStatus::Exited(third, 0));
    let last = notifications(&notify);
    assert!(
        last.iter().any(|message| message.contains("STOPPING=1")),
        "the last process says STOPPING=1: {last:?}"
    );
    assert_eq!(deployment.pid_in_file(), None, "removed at the last exit");
    let _ = std::fs::remove_file(&notify_path);
    deployment.remove();
}
