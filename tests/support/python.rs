//! Python clients nobody here wrote (grpcio, gRPC's C core), for the
//! process-level tests: the packages are installed by the test itself,
//! once per machine, into a cache outside the clone that later runs
//! reuse; a test fails, never skips, saying what to do, when they cannot
//! be had. The scripts live in `tests/python/` and print one JSON object a
//! line, which [`Script`] timestamps as it arrives.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// The gRPC client and its health-checking stubs, pinned: what the tests
/// were written against.
pub const GRPC: &[&str] = &["grpcio==1.85.3", "grpcio-health-checking==1.85.1"];

/// How long a script may take to answer anything before the test calls
/// it a hang.
const ANSWER: Duration = Duration::from_secs(20);

/// A directory holding `packages` (pip's `--target`), installed on first
/// use and reused after: its name is the list itself, so a changed pin
/// installs afresh. Installed beside it, then renamed into place, so a
/// second test process never sees half an install.
pub fn packages(packages: &[&str]) -> PathBuf {
    static INSTALLED: Mutex<Vec<(String, Result<PathBuf, String>)>> = Mutex::new(Vec::new());
    let key = packages.join(" ");
    let mut installed = INSTALLED.lock().unwrap();
    if let Some((_, found)) = installed.iter().find(|(done, _)| *done == key) {
        return found.clone().unwrap_or_else(|why| panic!("{why}"));
    }
    let found = install(packages);
    installed.push((key, found.clone()));
    found.unwrap_or_else(|why| panic!("{why}"))
}

fn install(packages: &[&str]) -> Result<PathBuf, String> {
    let name: String = packages
        .join("+")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '+' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let dir = super::cache::dir().join("python").join(name);
    let how = format!(
        "install them by hand with `python3 -m pip install --target {} {}`, on a machine that reaches PyPI",
        dir.display(),
        packages.join(" ")
    );
    let complete = |dir: &Path| dir.join(".complete").is_file();
    super::cache::install(&dir, complete, |partial| {
        eprintln!(
            "installing {} into {} (once; later runs reuse it)",
            packages.join(" "),
            dir.display()
        );
        super::cache::run(
            Command::new(python3())
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                ])
                .args(["--retries", "3", "--target"])
                .arg(partial)
                .args(packages),
            &format!("pip install {}", packages.join(" ")),
            &how,
        )?;
        std::fs::write(partial.join(".complete"), packages.join("\n"))
            .map_err(|error| format!("cannot write {}: {error}", partial.display()))
    })?;
    Ok(dir)
}

/// The machine's `python3`.
pub fn python3() -> &'static str {
    static FOUND: OnceLock<()> = OnceLock::new();
    FOUND.get_or_init(|| {
        let found = Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            found,
            "python3 is needed by this test and is not on PATH: install Python 3 (Debian's python3 and python3-pip)"
        );
    });
    "python3"
}

/// `tests/python/<name>`.
pub fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(name)
}

/// One line a script printed, and when it arrived.
#[derive(Clone, Debug)]
pub struct Line {
    pub at: Instant,
    pub json: serde_json::Value,
}

/// A running script, its stdout read line by line on a thread.
pub struct Script {
    child: Child,
    lines: Receiver<Line>,
    seen: Vec<Line>,
    stderr: std::sync::Arc<Mutex<String>>,
}

impl Script {
    /// Runs `tests/python/<name> args...` with the packages of `with` (if
    /// any) on its path.
    pub fn start(name: &str, with: &[&str], args: &[&str]) -> Script {
        let mut command = Command::new(python3());
        // A script on the standard library alone needs no install.
        if !with.is_empty() {
            command.env("PYTHONPATH", packages(with));
        }
        let mut child = command
            .arg("-u")
            .arg(script_path(name))
            .args(args)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let (sender, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for text in BufReader::new(stdout).lines().map_while(Result::ok) {
                let at = Instant::now();
                let json = serde_json::from_str(&text)
                    .unwrap_or_else(|_| serde_json::json!({ "unparsed": text }));
                if sender.send(Line { at, json }).is_err() {
                    return;
                }
            }
        });
        let stderr = std::sync::Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let shared = std::sync::Arc::clone(&stderr);
        thread::spawn(move || {
            for text in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut all = shared.lock().unwrap();
                all.push_str(&text);
                all.push('\n');
            }
        });
        Script {
            child,
            lines,
            seen: Vec::new(),
            stderr,
        }
    }

    /// Waits for the next line whose `event` is `event`, at most `bound`;
    /// the lines before it are kept (see [`lines`](Self::lines)).
    pub fn wait_for(&mut self, event: &str, bound: Duration) -> Line {
        let until = Instant::now() + bound;
        loop {
            match self
                .lines
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.json["event"] == event {
                        return line;
                    }
                }
                Err(RecvTimeoutError::Timeout) => panic!(
                    "no {event:?} from the script within {bound:?}; it printed {:?}; stderr:\n{}",
                    self.seen_json(),
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => panic!(
                    "the script ended before {event:?}; it printed {:?}; stderr:\n{}",
                    self.seen_json(),
                    self.stderr()
                ),
            }
        }
    }

    /// Waits for the script to exit (at most [`ANSWER`]) and returns every
    /// line it printed.
    pub fn finish(mut self) -> Vec<Line> {
        let until = Instant::now() + ANSWER;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // The pipe closes at exit; take what is left.
                while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
                    self.seen.push(line);
                }
                assert!(
                    status.success(),
                    "the script failed ({status}); it printed {:?}; stderr:\n{}",
                    self.seen_json(),
                    self.stderr()
                );
                return std::mem::take(&mut self.seen);
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                panic!(
                    "the script did not exit within {ANSWER:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Every line received so far.
    pub fn lines(&self) -> &[Line] {
        &self.seen
    }

    fn seen_json(&self) -> Vec<&serde_json::Value> {
        self.seen.iter().map(|line| &line.json).collect()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }
}

impl Drop for Script {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
