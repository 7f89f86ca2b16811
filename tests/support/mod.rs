//! Running the fixture programs as real processes: build, spawn, wait until
//! ready, signal, and collect how they ended. Every wait is bounded.

#![allow(dead_code, unreachable_pub)] // A module of each test crate; each uses a different part.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

pub use nix::sys::signal::Signal;

pub mod cache;
pub mod consumers;
pub mod h2;
pub mod http;
pub mod kafka;
pub mod load;
pub mod netpath;
pub mod nginx;
pub mod proxy;
pub mod python;
pub mod reuse;
pub mod servers;
pub mod upload;
pub mod windows;
pub mod ws;

/// Waits up to `bound` for `child`, already asked to stop, to exit; past
/// it, kills its process group and reaps it. (`child` leads its own group:
/// not reaped yet, its id is still the group's.)
pub fn reap_or_kill_group(mut child: Child, bound: Duration) {
    let until = Instant::now() + bound;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pid, Signal::SIGKILL);
    let _ = child.wait();
}

/// Runs `command`, a `cargo test` of the workspace's own tests (built some
/// other way than this test binary: other features, another target), and
/// fails with its output, saying `what` failed, unless it passed. Returns
/// its stdout and how many tests passed (the sum of its `test result: ok.
/// N passed` lines).
pub fn cargo_tests(command: &mut Command, what: &str) -> (String, usize) {
    let output = command.stdin(Stdio::null()).output().expect("cargo runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let passed = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("test result: ok. "))
        .filter_map(|rest| rest.split(' ').next()?.parse::<usize>().ok())
        .sum();
    (stdout, passed)
}

/// How long a fixture may take to build and start on a loaded machine.
const START_BOUND: Duration = Duration::from_secs(120);

/// Builds the example `name` (with cargo, so it is never stale) and returns
/// the path of its executable.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if let Some(path) = built.get(name) {
        return path.clone();
    }
    let output = Command::new(env!("CARGO"))
        .args([
            "build",
            "--quiet",
            "--message-format=json",
            "--example",
            name,
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stderr(Stdio::inherit())
        .output()
        .expect("cannot run cargo");
    assert!(
        output.status.success(),
        "cargo build --example {name} failed"
    );
    let path = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["reason"] == "compiler-artifact" && message["target"]["name"] == name
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo did not report the executable of example {name}"));
    built.insert(name.to_owned(), path.clone());
    path
}

/// One output stream of a fixture, read line by line on a thread.
struct Stream {
    lines: Receiver<String>,
    seen: Arc<Mutex<Vec<String>>>,
    done: Receiver<()>,
}

impl Stream {
    fn read(pipe: impl std::io::Read + Send + 'static) -> Stream {
        let (line_tx, lines) = mpsc::channel();
        let (done_tx, done) = mpsc::channel();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&seen);
        thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                shared.lock().unwrap().push(line.clone());
                let _ = line_tx.send(line);
            }
            let _ = done_tx.send(());
        });
        Stream { lines, seen, done }
    }

    fn text(&self) -> String {
        self.seen.lock().unwrap().join("\n")
    }

    /// Every line, once the stream has ended (at most `bound` from now).
    fn finish(self, bound: Duration) -> Vec<String> {
        let _ = self.done.recv_timeout(bound);
        self.seen.lock().unwrap().clone()
    }
}

/// A fixture process.
pub struct Process {
    child: Child,
    stdout: Stream,
    stderr: Stream,
    /// Its stdin, when kept open (see [`Process::start_with_stdin_open`]).
    stdin: Option<std::process::ChildStdin>,
}

/// How a process ended.
#[derive(Debug)]
pub struct Exit {
    pub status: ExitStatus,
    /// When `wait` returned.
    pub at: Instant,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
}

impl Exit {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The stderr lines containing `needle`.
    pub fn stderr_lines(&self, needle: &str) -> Vec<&str> {
        self.stderr
            .iter()
            .filter(|line| line.contains(needle))
            .map(String::as_str)
            .collect()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.join("\n")
    }
}

impl Process {
    /// Starts the example `name` with extra environment variables.
    pub fn start(name: &str, env: &[(&str, &str)]) -> Process {
        Process::start_command(Command::new(binary(name)), env)
    }

    /// Starts `command` (an example, or a program that runs one) with
    /// extra environment variables.
    pub fn start_command(command: Command, env: &[(&str, &str)]) -> Process {
        Process::spawn(command, env, Stdio::null())
    }

    /// Starts the example `name` with its stdin a pipe the test holds open
    /// and never writes to: a read of it blocks until the process exits.
    pub fn start_with_stdin_open(name: &str, env: &[(&str, &str)]) -> Process {
        Process::spawn(Command::new(binary(name)), env, Stdio::piped())
    }

    fn spawn(mut command: Command, env: &[(&str, &str)], stdin: Stdio) -> Process {
        let mut child = command
            .env_remove("GRACEFUL_TIMEOUT")
            .env_remove("GRACEFUL_REPORT")
            .envs(env.iter().copied())
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start the fixture");
        let stdout = Stream::read(child.stdout.take().unwrap());
        let stderr = Stream::read(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Process {
            child,
            stdout,
            stderr,
            stdin,
        }
    }

    /// Starts the example and waits until it prints `ready`.
    pub fn start_ready(name: &str, env: &[(&str, &str)]) -> Process {
        let mut process = Process::start(name, env);
        process.wait_for_stdout("ready", START_BOUND);
        process
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the process prints the line `line` on stdout.
    pub fn wait_for_stdout(&mut self, line: &str, bound: Duration) {
        let found = wait_for(&self.stdout.lines, |seen| seen == line, bound);
        self.fail_unless(found, &format!("{line:?} on stdout"), bound);
    }

    /// Waits until the process prints a line starting with `prefix` on
    /// stdout.
    pub fn wait_for_stdout_prefix(&mut self, prefix: &str, bound: Duration) {
        let found = wait_for(&self.stdout.lines, |seen| seen.starts_with(prefix), bound);
        self.fail_unless(
            found,
            &format!("a line starting with {prefix:?} on stdout"),
            bound,
        );
    }

    /// Waits until the process prints a line containing `needle` on stderr.
    pub fn wait_for_stderr(&mut self, needle: &str, bound: Duration) {
        self.wait_for_stderr_line(needle, bound);
    }

    /// Waits until the process prints a line containing `needle` on stderr,
    /// and returns it.
    pub fn wait_for_stderr_line(&mut self, needle: &str, bound: Duration) -> String {
        let mut found = String::new();
        let result = wait_for(
            &self.stderr.lines,
            |seen| {
                let matched = seen.contains(needle);
                if matched {
                    found = seen.to_owned();
                }
                matched
            },
            bound,
        );
        self.fail_unless(result, &format!("a line with {needle:?} on stderr"), bound);
        found
    }

    /// Waits until the process has printed `count` lines containing
    /// `needle` on stderr (counted from the last wait on stderr).
    pub fn wait_for_stderr_count(&mut self, needle: &str, count: usize, bound: Duration) {
        let mut seen = 0;
        let result = wait_for(
            &self.stderr.lines,
            |line| {
                seen += usize::from(line.contains(needle));
                seen == count
            },
            bound,
        );
        self.fail_unless(
            result,
            &format!("{count} lines with {needle:?} on stderr (saw {seen})"),
            bound,
        );
    }

    fn fail_unless(&mut self, found: Result<(), RecvTimeoutError>, what: &str, bound: Duration) {
        match found {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                panic!(
                    "no {what} within {bound:?}; stderr so far:\n{}",
                    self.stderr.text()
                );
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().unwrap();
                panic!(
                    "the process ended ({status}) before {what}; stderr:\n{}",
                    self.stderr.text()
                );
            }
        }
    }

    /// Sends `signal` and returns the instant just before it was sent.
    pub fn signal(&self, signal: Signal) -> Instant {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let at = Instant::now();
        nix::sys::signal::kill(pid, signal).expect("cannot signal the fixture");
        at
    }

    /// Waits for the process to exit, at most `bound`; kills it and fails
    /// the test past that.
    pub fn wait_exit(self, bound: Duration) -> Exit {
        let Process {
            mut child,
            stdout,
            stderr,
            stdin,
        } = self;
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let (exited_tx, exited) = mpsc::channel();
        let waiter = thread::spawn(move || {
            let status = child.wait();
            let _ = exited_tx.send((status, Instant::now()));
        });
        let (status, at) = match exited.recv_timeout(bound) {
            Ok((status, at)) => (status.expect("wait failed"), at),
            Err(_) => {
                let _ = nix::sys::signal::kill(pid, Signal::SIGKILL);
                let _ = waiter.join();
                panic!(
                    "the process did not exit within {bound:?}; stderr:\n{}",
                    stderr.text()
                );
            }
        };
        let _ = waiter.join();
        drop(stdin);
        // The pipes close at exit; let the readers catch up.
        Exit {
            status,
            at,
            stdout: stdout.finish(Duration::from_secs(5)),
            stderr: stderr.finish(Duration::from_secs(5)),
        }
    }
}

/// Receives lines until one matches, at most `bound`.
fn wait_for(
    lines: &Receiver<String>,
    mut matches: impl FnMut(&str) -> bool,
    bound: Duration,
) -> Result<(), RecvTimeoutError> {
    let until = Instant::now() + bound;
    loop {
        let line = lines.recv_timeout(until.saturating_duration_since(Instant::now()))?;
        if matches(&line) {
            return Ok(());
        }
    }
}

/// The example service, started on a port of the OS's choosing, with its
/// database in a fresh directory.
pub struct Service {
    pub process: Process,
    pub address: std::net::SocketAddr,
    pub database: PathBuf,
}

impl Service {
    pub fn start(test: &str, env: &[(&str, &str)]) -> Service {
        Service::start_command(test, Command::new(binary("service")), env)
    }

    /// The service, run by `command` (in a network namespace, say).
    pub fn start_command(test: &str, command: Command, env: &[(&str, &str)]) -> Service {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("service-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let database = dir.join("items.db");
        let mut all = vec![("DATABASE_PATH", database.to_str().unwrap())];
        all.extend_from_slice(env);
        let (process, address) = start_listening_command(command, &all);
        Service {
            process,
            address,
            database,
        }
    }
}

/// Starts the example `name` on a port of the OS's choosing (`PORT=0`,
/// unless `env` sets it) and waits until it prints `listening on ADDR`.
pub fn start_listening(name: &str, env: &[(&str, &str)]) -> (Process, std::net::SocketAddr) {
    start_listening_command(Command::new(binary(name)), env)
}

/// [`start_listening`] for a command that runs an example (in a network
/// namespace, say).
pub fn start_listening_command(
    command: Command,
    env: &[(&str, &str)],
) -> (Process, std::net::SocketAddr) {
    let mut all = vec![("PORT", "0")];
    all.extend_from_slice(env);
    let mut process = Process::start_command(command, &all);
    let line = process.wait_for_stderr_line("listening on ", START_BOUND);
    let address = line
        .rsplit(' ')
        .next()
        .and_then(|address| address.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (process, address)
}

/// A fresh path for a JSON report, under the target directory.
pub fn report_path(test: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let path = dir.join(format!("report-{test}-{}.json", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Reads a JSON report, and checks that it is what the crate's typed
/// schema says: read as a `graceful_rt::report::Report` and written back,
/// it is the same document, key for key (a key the code writes and the
/// types lack, or one of another type, fails here, in every test that
/// reads a report).
pub fn read_report(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("no report at {}: {error}", path.display()));
    let value: serde_json::Value = serde_json::from_str(&text).expect("the report is not JSON");
    let typed: graceful_rt::report::Report = serde_json::from_str(&text).unwrap_or_else(|error| {
        panic!("the report does not match report::Report: {error}\n{text}")
    });
    assert_eq!(
        serde_json::to_value(&typed).unwrap(),
        value,
        "the report has keys report::Report does not describe"
    );
    assert_eq!(typed.exit_code, typed.outcome.exit_code());
    value
}

/// The ids of the rows in the `items` table of the example service's
/// database at `path` (read once the service has exited).
pub fn stored_ids(path: &std::path::Path) -> std::collections::BTreeSet<i64> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let url = format!("sqlite://{}?mode=ro", path.display());
        let db = sqlx::SqlitePool::connect(&url)
            .await
            .unwrap_or_else(|error| panic!("cannot open {url}: {error}"));
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM items")
            .fetch_all(&db)
            .await
            .expect("SELECT id FROM items");
        db.close().await;
        ids.into_iter().collect()
    })
}
