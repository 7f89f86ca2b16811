//! Figure 17: instructions a request, which the machine's noise cannot
//! move. The same app (`tests/fixtures/same_app_*.rs`: the same routes on
//! `#[graceful_main]` + `http::serve`, and on `axum::serve`) runs under
//! `valgrind --tool=callgrind`, on one runtime worker
//! (`TOKIO_WORKER_THREADS=1`), and serves requests one after the other on
//! one connection, then gets SIGTERM. The count of a run includes the
//! start and the shutdown; the difference between a run of 6,000 requests
//! and one of 1,000, over 5,000, is the cost of a request alone.
//!
//! `BENCH_FIGURES=instructions` prints the table; `instructions-check`
//! also compares ours with the counts recorded in
//! `tests/bench/instructions.txt` and fails past 1% either way (CI runs
//! it); `instructions-record` writes that file, on purpose, as
//! `public-api.txt` is.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// The baseline, in the repository.
const RECORDED: &str = "tests/bench/instructions.txt";
/// How far a count may move from the recorded one before the check fails.
const TOLERANCE: f64 = 0.01;
const FEW: usize = 1_000;
const MANY: usize = 6_000;
/// How long a server under valgrind may take to listen, or to exit.
const BOUND: Duration = Duration::from_secs(120);

/// One kind of request.
#[derive(Clone, Copy)]
pub(crate) struct Case {
    pub(crate) key: &'static str,
    label: &'static str,
    http2: bool,
    /// Bytes of request body (`POST /upload`), or 0 for `GET /`.
    body: usize,
}

pub(crate) const CASES: [Case; 3] = [
    Case {
        key: "http1_get",
        label: "HTTP/1.1 `GET /`, keep-alive",
        http2: false,
        body: 0,
    },
    Case {
        key: "http2_get",
        label: "HTTP/2 `GET /`, one stream after another",
        http2: true,
        body: 0,
    },
    Case {
        key: "http1_upload_4k",
        label: "HTTP/1.1 `POST /upload` with a 4 KB body",
        http2: false,
        body: 4096,
    },
];

/// The two servers of the same app.
pub(crate) struct Servers<'a> {
    pub(crate) ours: &'a Path,
    pub(crate) axum: &'a Path,
}

/// Instructions a request of each case, ours and axum's.
pub(crate) struct Counts {
    rows: Vec<(Case, f64, f64)>,
    /// For the first case: the functions whose instructions a request
    /// differ most between the two, from callgrind's per-function counts.
    differences: Vec<(String, f64, f64)>,
}

/// Counts every case on both servers.
pub(crate) fn measure(servers: &Servers<'_>, dir: &Path) -> Counts {
    let mut differences = Vec::new();
    let rows = CASES
        .iter()
        .enumerate()
        .map(|(index, &case)| {
            let (ours, ours_functions) = per_request(servers.ours, case, dir);
            let (axum, axum_functions) = per_request(servers.axum, case, dir);
            eprintln!("instructions {}: ours {ours:.0}, axum {axum:.0}", case.key);
            if index == 0 {
                differences = compare(&ours_functions, &axum_functions);
            }
            (case, ours, axum)
        })
        .collect();
    Counts { rows, differences }
}

/// The functions whose instructions a request differ most, ours then
/// axum's (a function inlined in one build and not the other shows in
/// both lists).
fn compare(ours: &BTreeMap<String, f64>, axum: &BTreeMap<String, f64>) -> Vec<(String, f64, f64)> {
    let mut differences: Vec<(String, f64, f64)> = ours
        .keys()
        .chain(axum.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|name| {
            let value = |map: &BTreeMap<String, f64>| map.get(name).copied().unwrap_or(0.0);
            (name.clone(), value(ours), value(axum))
        })
        .filter(|(_, ours, axum)| (ours - axum).abs() >= 10.0)
        .collect();
    differences.sort_by(|a, b| (b.1 - b.2).abs().total_cmp(&(a.1 - a.2).abs()));
    differences.truncate(16);
    differences
}

impl Counts {
    /// The figure's table.
    pub(crate) fn table(&self) -> String {
        let mut md = String::from(
            "| request | goal | graceful | `axum::serve` | ours / axum |\n|---|---|---|---|---|\n",
        );
        for (case, ours, axum) in &self.rows {
            let _ = writeln!(
                md,
                "| {} | ≤ 1.01 | {ours:.0} | {axum:.0} | {:.3} |",
                case.label,
                ours / axum
            );
        }
        if let Some((case, _, _)) = self.rows.first() {
            let _ = writeln!(
                md,
                "\nWhere {} differs, function by function (callgrind's own \
                 instructions a request; a function inlined in one build and not the \
                 other shows on both sides):\n\n| function | graceful | `axum::serve` |\n|---|---|---|",
                case.label
            );
            for (name, ours, axum) in &self.differences {
                let name = name.replace('|', "\\|");
                let name: String = name.chars().take(110).collect();
                let _ = writeln!(md, "| `{name}` | {ours:.0} | {axum:.0} |");
            }
        }
        md
    }

    /// Rows of the benchmark's main table, one a case.
    pub(crate) fn summary_rows(&self) -> String {
        let mut md = String::new();
        for (case, ours, axum) in &self.rows {
            let _ = writeln!(
                md,
                "| instructions a request (callgrind), {} (figure 17) | ≤ 1.01 | {ours:.0}: ratio {:.3}{} | {axum:.0} | – |",
                case.label,
                ours / axum,
                if ours / axum > 1.01 {
                    "; the limit: the drain's own work on the request path, function by function under figure 17"
                } else {
                    ""
                }
            );
        }
        md
    }

    /// The file [`RECORDED`] holds.
    fn recorded(&self) -> String {
        let mut text = String::from(
            "# Instructions a request (callgrind), recorded by\n\
             # `BENCH_FIGURES=instructions-record cargo bench --bench process`:\n\
             # case, ours, axum::serve. CI fails when ours moves more than 1%\n\
             # from here; record again on purpose, and say why in the commit.\n",
        );
        for (case, ours, axum) in &self.rows {
            let _ = writeln!(text, "{} {ours:.0} {axum:.0}", case.key);
        }
        text
    }

    /// Writes [`RECORDED`].
    pub(crate) fn record(&self, workspace: &Path) {
        std::fs::write(workspace.join(RECORDED), self.recorded()).unwrap();
    }

    /// Compares ours with [`RECORDED`]: the problems, if any.
    pub(crate) fn check(&self, workspace: &Path) -> Vec<String> {
        let path = workspace.join(RECORDED);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let mut problems = Vec::new();
        for (case, ours, axum) in &self.rows {
            let Some(line) = text
                .lines()
                .find(|line| line.split(' ').next() == Some(case.key))
            else {
                problems.push(format!("{}: not recorded in {RECORDED}", case.key));
                continue;
            };
            let fields: Vec<f64> = line
                .split(' ')
                .skip(1)
                .map(|field| field.parse().expect("a count"))
                .collect();
            let (was, axum_was) = (fields[0], fields[1]);
            let moved = ours / was - 1.0;
            if moved.abs() > TOLERANCE {
                problems.push(format!(
                    "{}: {ours:.0} instructions a request, {:+.1}% from the recorded {was:.0} \
                     (axum::serve: {axum:.0}, recorded {axum_was:.0})",
                    case.key,
                    moved * 100.0
                ));
            }
        }
        problems
    }
}

/// `(instructions at MANY − at FEW) / (MANY − FEW)`, in all and by
/// function (callgrind's count of each function's own instructions).
fn per_request(binary: &Path, case: Case, dir: &Path) -> (f64, BTreeMap<String, f64>) {
    let (few, few_functions) = total(binary, case, FEW, dir);
    let (many, many_functions) = total(binary, case, MANY, dir);
    let requests = (MANY - FEW) as f64;
    let functions = many_functions
        .iter()
        .map(|(name, &count)| {
            let before = few_functions.get(name).copied().unwrap_or(0);
            (name.clone(), (count as f64 - before as f64) / requests)
        })
        .collect();
    (many.saturating_sub(few) as f64 / requests, functions)
}

/// Each function's own instructions in a callgrind output, by name (the
/// binary's path left out, so that two binaries compare).
fn functions(out: &Path) -> BTreeMap<String, u64> {
    let output = Command::new("callgrind_annotate")
        .args(["--threshold=100", "--auto=no", "--show-percs=no"])
        .arg(out)
        .output()
        .expect("callgrind_annotate runs");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut functions = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim_start();
        let Some((count, name)) = line.split_once(' ') else {
            continue;
        };
        let Ok(count) = count.replace(',', "").parse::<u64>() else {
            continue;
        };
        let name = name.trim();
        let name = name.rsplit_once(" [").map_or(name, |(name, _)| name);
        let name = name.strip_prefix("???:").unwrap_or(name);
        if name.is_empty() || name.contains("PROGRAM TOTALS") {
            continue;
        }
        *functions.entry(name.to_owned()).or_insert(0) += count;
    }
    functions
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// The instructions `binary` executed, from its start to its exit, serving
/// `requests` of `case`.
fn total(binary: &Path, case: Case, requests: usize, dir: &Path) -> (u64, BTreeMap<String, u64>) {
    let port = free_port();
    let out: PathBuf = dir.join(format!("callgrind-{}-{port}.out", case.key));
    let log = dir.join(format!("callgrind-{}-{port}.log", case.key));
    let mut child = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(format!("--log-file={}", log.display()))
        .arg(binary)
        .env("PORT", port.to_string())
        .env("TOKIO_WORKER_THREADS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| {
            panic!("cannot run valgrind ({error}): install it (Debian: apt-get install valgrind)")
        });
    let stderr = child.stderr.take().expect("piped");
    let (listening, heard) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("listening on") {
                let _ = listening.send(());
            }
        }
    });
    heard
        .recv_timeout(BOUND)
        .unwrap_or_else(|_| panic!("{} did not listen under valgrind", binary.display()));
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(send(address, case, requests));
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("SIGTERM");
    let (exited, done) = mpsc::channel();
    thread::spawn(move || {
        let _ = exited.send(child.wait());
    });
    let status = done
        .recv_timeout(BOUND)
        .expect("the server exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{} exited {status}", binary.display());
    let text = std::fs::read_to_string(&out).expect("callgrind's output");
    let total = text
        .lines()
        .find_map(|line| {
            line.strip_prefix("summary: ")
                .or_else(|| line.strip_prefix("totals: "))
        })
        .and_then(|count| count.split_whitespace().next()?.parse().ok())
        .expect("a total in callgrind's output");
    let functions = functions(&out);
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&log);
    (total, functions)
}

/// Sends `requests` of `case` one after the other on one connection,
/// checking each answer.
async fn send(address: SocketAddr, case: Case, requests: usize) {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let body = Bytes::from(vec![b'x'; case.body]);
    let request = || {
        let builder = axum::http::Request::builder().header("host", address.to_string());
        let builder = if case.http2 {
            builder.version(axum::http::Version::HTTP_2)
        } else {
            builder
        };
        if case.body == 0 {
            builder
                .uri(format!("http://{address}/"))
                .body(Full::new(Bytes::new()))
        } else {
            builder
                .method("POST")
                .uri(format!("http://{address}/upload"))
                .body(Full::new(body.clone()))
        }
        .unwrap()
    };
    let expected = if case.body == 0 {
        "hello\n".to_owned()
    } else {
        format!("{}\n", case.body)
    };
    if case.http2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                .await
                .unwrap();
        let connection = tokio::spawn(connection);
        for _ in 0..requests {
            let response = sender.send_request(request()).await.unwrap();
            check(response, &expected).await;
        }
        drop(sender);
        let _ = connection.await;
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let connection = tokio::spawn(connection);
        for _ in 0..requests {
            sender.ready().await.unwrap();
            let response = sender.send_request(request()).await.unwrap();
            check(response, &expected).await;
        }
        drop(sender);
        let _ = connection.await;
    }
}

async fn check(response: axum::http::Response<hyper::body::Incoming>, expected: &str) {
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, expected.as_bytes());
}
