//! A rolling restart behind a load balancer: nginx (Debian's package)
//! spreads a bounded load over two instances on loopback ports; one is sent
//! SIGTERM and a replacement is started, while 16 keep-alive clients send
//! `GET /` and `POST /items` through nginx. The client must see no failed
//! request, and every write it saw acknowledged must be in the database of
//! the instance that acknowledged it, after every instance has exited.
//!
//! The same scenario runs against `fixture-baseline-axum` (the same routes
//! on plain `axum::serve` with `with_graceful_shutdown`), interleaved with
//! ours, and both results are printed side by side (`--nocapture`); only
//! ours is asserted.
//!
//! nginx is installed by the test itself when it is missing (as root, with
//! apt-get); where it cannot be, the test fails, saying what to do.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use support::http::{self, Outcome};
use support::nginx::{self, Nginx};
use support::{Exit, Process, Signal};

/// Runs of each server, interleaved.
const RUNS: usize = 3;
/// Keep-alive clients of the load generator.
const CLIENTS: usize = 16;
/// How long the load lasts.
const LOAD: Duration = Duration::from_secs(4);
/// When, from the start of the load, instance A is sent SIGTERM and its
/// replacement started.
const RESTART_AT: Duration = Duration::from_millis(1500);
/// How long a client waits for a response before counting it failed.
const ANSWER: Duration = Duration::from_secs(5);
/// How long an instance may take to exit after SIGTERM.
const EXIT_BOUND: Duration = Duration::from_secs(15);
/// One request in this many is a `POST /items`, the others `GET /`.
const WRITE_EVERY: usize = 3;

/// The server under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    /// examples/service: `graceful_rt::http::serve` under `#[graceful_main]`.
    Graceful,
    /// tests/fixtures/baseline_axum.rs: `axum::serve` + `with_graceful_shutdown`.
    Baseline,
}

impl Server {
    fn example(self) -> &'static str {
        match self {
            Server::Graceful => "service",
            Server::Baseline => "fixture-baseline-axum",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Server::Graceful => "graceful",
            Server::Baseline => "baseline",
        }
    }

    /// The shutdown settings of each instance. Both get the same 10 s
    /// budget. Ours gets no lame duck: nginx open source has no active
    /// health checks, so it never sees `/readyz` fail; during a lame duck
    /// it keeps routing to the instance (which serves, each response with
    /// `Connection: close`), and learns the instance is gone only from the
    /// refused connects and 503s that draining brings, which it retries
    /// elsewhere (see the configuration). Measured: with a 1 s lame duck,
    /// nothing is lost either, but the instance exits a second later, and
    /// the 503s of the drain's start are fewer, not gone.
    fn env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Server::Graceful => &[("GRACEFUL_TIMEOUT", "10s"), ("GRACEFUL_DRAIN_DELAY", "0s")],
            Server::Baseline => &[("GRACEFUL_TIMEOUT", "10s")],
        }
    }
}

/// The load balancer's configuration.
///
/// How the replacement joins: its port is in the upstream from the start
/// (`replacement`, reserved below the kernel's ephemeral range so nothing
/// takes it meanwhile). Until it listens, nginx's connects to it are refused
/// and retried on another instance (nothing was sent), and the port is
/// marked down for `fail_timeout`; once it listens, the next try after that
/// second finds it. The configuration never changes, so nginx is never
/// reloaded: a reload (rewrite + SIGHUP) starts new workers and retires the
/// old ones, which close their idle client keep-alive connections, the very
/// race this test measures at the instances, now at the balancer where no
/// setting can retry it: a client request crossing that close is lost, and
/// the balancer's loss would be counted as the instances'.
fn config(dir: &Path, listen: u16, instances: &[SocketAddr], replacement: u16) -> String {
    let dir = dir.display();
    let servers: String = instances
        .iter()
        .map(|address| address.port())
        .chain([replacement])
        .map(|port| format!("        server 127.0.0.1:{port} max_fails=1 fail_timeout=1s;\n"))
        .collect();
    format!(
        r#"# Written by tests/rolling_restart.rs: a load balancer in front of the
# instances of a rolling restart, on loopback only; everything it writes
# stays in this directory.
daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log off;
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;

    upstream instances {{
        # Open source nginx has no active health checks: it learns that an
        # instance is going away only from what requests meet there (a
        # refused connect, a connection closed under a request, a 503).
        # max_fails=1: one such failure takes the instance out of the
        # rotation for fail_timeout; 1s rather than the default 10s, so a
        # port refused because its instance has not started yet (the
        # replacement, the last one) is tried again a second later.
{servers}
        # Idle connections to the instances are kept open, as in
        # production: that is where a drain can race a request, when the
        # instance closes a connection nginx is writing a request on.
        keepalive 16;
    }}

    server {{
        listen 127.0.0.1:{listen};

        location / {{
            proxy_pass http://instances;
            # Keep-alive to the instances: HTTP/1.1, and no
            # "Connection: close" passed on from the client.
            proxy_http_version 1.1;
            proxy_set_header Connection "";

            # Fail over without an error reaching the client. nginx retries
            # on the next instance when:
            # - error: the connect failed (refused: the instance stopped
            #   accepting, or has not started), or the connection was
            #   closed or reset before any response byte (an idle kept-alive
            #   connection closed by a draining instance as the request was
            #   written; a handshake reset with the listener's close);
            # - timeout: the connect (proxy_connect_timeout) or the response
            #   timed out;
            # - http_503: an instance answered 503 (our service does not
            #   while draining: it serves a request that arrives on an open
            #   connection and closes the connection after it; an
            #   application may still answer 503 itself);
            # - non_idempotent: for POST too. By default nginx never retries
            #   a POST once any of it was written, since it cannot tell
            #   whether the instance processed it. Here each of the cases
            #   above means it did not: a refused connect sent nothing, and
            #   a draining instance closes a kept-alive connection only
            #   while no request is in flight on it (an in-flight one is
            #   finished and answered). The one case that would duplicate a
            #   write is an instance that processed a request and then died
            #   without answering (a crash, a cut at the drain deadline) or
            #   a response slower than proxy_read_timeout: the test counts
            #   rows no client saw acknowledged, and proxy_read_timeout is
            #   far above any response time here.
            # Our service loses nothing with nginx's default ("error
            # timeout") as well (measured once, 3 runs, 0 of 56,021 failed);
            # this is the production-grade setting, and the test keeps it.
            proxy_next_upstream error timeout http_503 non_idempotent;
            # Instance A (refused or draining), the replacement (not started
            # yet), then B: three instances at most, so that an outage of
            # all of them ends in an error rather than a loop.
            proxy_next_upstream_tries 3;
            proxy_next_upstream_timeout 5s;
            proxy_connect_timeout 1s;
            proxy_read_timeout 10s;

            # For the test: the instances tried, the last one the one that
            # answered, and what each answered (502 for a failed connect or
            # a connection closed without a response).
            add_header X-Upstream-Addr $upstream_addr always;
            add_header X-Upstream-Status $upstream_status always;
        }}
    }}
}}
"#
    )
}

/// An instance of the server under test, killed if the test panics before
/// it was stopped.
struct Instance {
    process: Option<Process>,
    address: SocketAddr,
    database: PathBuf,
}

impl Instance {
    fn start(server: Server, database: PathBuf, port: Option<u16>) -> Instance {
        let port = port.map(|port| port.to_string());
        let mut env = vec![("DATABASE_PATH", database.to_str().unwrap())];
        if let Some(port) = &port {
            env.push(("PORT", port));
        }
        env.extend_from_slice(server.env());
        let (process, address) = support::start_listening(server.example(), &env);
        Instance {
            process: Some(process),
            address,
            database,
        }
    }

    fn signal(&self, signal: Signal) -> Instant {
        self.process.as_ref().unwrap().signal(signal)
    }

    fn wait_exit(&mut self) -> Exit {
        self.process.take().unwrap().wait_exit(EXIT_BOUND)
    }

    /// Every id in its database, read after it exited.
    fn stored_ids(&self) -> BTreeSet<i64> {
        support::stored_ids(&self.database)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(process) = &self.process {
            process.signal(Signal::SIGKILL);
        }
    }
}

/// A request that got no 200 at the client.
#[derive(Debug)]
struct Failure {
    /// From the start of the load.
    at: Duration,
    request: &'static str,
    what: String,
}

/// What one client saw.
#[derive(Debug, Default)]
struct Tally {
    /// Requests sent (or attempted: a failed connect to nginx counts).
    requests: usize,
    ok: usize,
    failures: Vec<Failure>,
    /// Acknowledged writes: the instance that answered, and the id.
    acknowledged: Vec<(String, i64)>,
    /// Answered 200 after nginx tried more than one instance, by what the
    /// instances before answered (X-Upstream-Status).
    retried: BTreeMap<String, usize>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.ok += other.ok;
        self.failures.extend(other.failures);
        self.acknowledged.extend(other.acknowledged);
        for (statuses, count) in other.retried {
            *self.retried.entry(statuses).or_default() += count;
        }
    }
}

/// One closed-loop client: a keep-alive connection to nginx, reopened when
/// nginx closes it; a `POST /items` every [`WRITE_EVERY`] requests.
fn client(index: usize, nginx: SocketAddr, start: Instant, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut stream: Option<TcpStream> = None;
    let mut sequence = index;
    while Instant::now() < until {
        if stream
            .as_ref()
            .is_some_and(|open| http::peer_closed(open).is_some())
        {
            // Closed by nginx while idle: nothing was sent on it.
            stream = None;
        }
        let request = if sequence % WRITE_EVERY == 0 {
            "POST /items"
        } else {
            "GET /"
        };
        let Some(open) = stream.as_mut() else {
            match http::connect(nginx) {
                Ok(fresh) => stream = Some(fresh),
                Err(error) => {
                    tally.requests += 1;
                    tally.failures.push(Failure {
                        at: start.elapsed(),
                        request,
                        what: format!("connect to nginx: {error}"),
                    });
                    thread::sleep(Duration::from_millis(50));
                }
            }
            continue;
        };
        sequence += 1;
        tally.requests += 1;
        let (method, path) = request.split_once(' ').unwrap();
        let outcome = http::request(open, method, path, ANSWER);
        let Outcome::Answered(response) = outcome else {
            tally.failures.push(Failure {
                at: start.elapsed(),
                request,
                what: format!("{outcome:?}"),
            });
            stream = None;
            continue;
        };
        let tried = response.header("x-upstream-addr").unwrap_or("").to_owned();
        let statuses = response
            .header("x-upstream-status")
            .unwrap_or("")
            .to_owned();
        if response.status != 200 {
            tally.failures.push(Failure {
                at: start.elapsed(),
                request,
                what: format!(
                    "answered {} by nginx after trying [{tried}] (they answered [{statuses}]): {}",
                    response.status,
                    response.text().trim()
                ),
            });
        } else {
            tally.ok += 1;
            if let Some((before, _)) = statuses.rsplit_once(", ") {
                *tally.retried.entry(before.to_owned()).or_default() += 1;
            }
            if method == "POST" {
                let answered_by = tried.rsplit(", ").next().unwrap_or("").to_owned();
                let id = serde_json::from_slice::<serde_json::Value>(&response.body)
                    .ok()
                    .and_then(|body| body["id"].as_i64());
                match id {
                    Some(id) => tally.acknowledged.push((answered_by, id)),
                    None => tally.failures.push(Failure {
                        at: start.elapsed(),
                        request,
                        what: format!("200 without an id: {}", response.text()),
                    }),
                }
            }
        }
        if response.closes() {
            stream = None;
        }
    }
    tally
}

/// What one run of the scenario found.
struct Run {
    server: Server,
    /// The run's directory (nginx's configuration and logs, the
    /// databases), kept when something was lost.
    dir: PathBuf,
    tally: Tally,
    /// Acknowledged writes absent from the database of the instance that
    /// acknowledged them.
    missing: Vec<(String, i64)>,
    /// Rows no client saw acknowledged: a write processed twice (retried
    /// after it was processed) or processed and never answered.
    unacknowledged: usize,
    rows: usize,
    /// Acknowledgements of an id its instance had acknowledged before.
    duplicates: usize,
    /// SIGTERM to exit of instance A, and the exit codes of A, B and C.
    a_exit: Duration,
    exits: [Option<i32>; 3],
    /// A's stderr: what it logged of its shutdown.
    a_stderr: String,
    /// nginx's error log, grouped: message and request → count.
    nginx_log: BTreeMap<String, usize>,
    nginx_log_text: String,
}

impl Run {
    fn failed(&self) -> usize {
        self.tally.failures.len()
    }

    fn summary(&self, number: usize) -> String {
        let retried: Vec<String> = self
            .tally
            .retried
            .iter()
            .map(|(statuses, count)| format!("{count} after [{statuses}]"))
            .collect();
        format!(
            "rolling restart run {number} {}: {} failed of {} requests; {} writes acknowledged, \
             {} missing, {} rows unacknowledged (of {}), {} acknowledged twice; nginx retried: {}; \
             A exited {:?} after SIGTERM; exit codes A/B/C {:?}",
            self.server.name(),
            self.failed(),
            self.tally.requests,
            self.tally.acknowledged.len(),
            self.missing.len(),
            self.unacknowledged,
            self.rows,
            self.duplicates,
            if retried.is_empty() {
                "none".to_owned()
            } else {
                retried.join(", ")
            },
            self.a_exit,
            self.exits,
        )
    }

    fn details(&self) -> String {
        let mut text = String::new();
        if self.dir.exists() {
            text += &format!("  kept for inspection: {}\n", self.dir.display());
        }
        for failure in self.tally.failures.iter().take(20) {
            text += &format!(
                "  failed at {:?}: {}: {}\n",
                failure.at, failure.request, failure.what
            );
        }
        if !self.missing.is_empty() {
            text += &format!("  missing writes (instance, id): {:?}\n", self.missing);
        }
        for (message, count) in &self.nginx_log {
            text += &format!("  nginx error.log: {count} × {message}\n");
        }
        text
    }
}

/// Groups nginx's error log lines by level, message and request method,
/// without times, connection numbers and ports.
fn group_error_log(text: &str) -> BTreeMap<String, usize> {
    let mut groups = BTreeMap::new();
    for line in text.lines() {
        let Some(level_start) = line.find(" [") else {
            continue;
        };
        let rest = &line[level_start + 1..];
        let level = rest.split(']').next().unwrap_or("").to_owned() + "]";
        if level == "[notice]" {
            continue;
        }
        // "[error] 123#123: *45 message, client: ..., request: "POST /items HTTP/1.1", ..."
        let message = rest
            .split_once(": ")
            .map_or(rest, |(_, message)| message)
            .trim_start_matches(|c: char| c == '*' || c.is_ascii_digit())
            .trim_start();
        let message = message.split(", client:").next().unwrap_or(message);
        let method = line
            .split("request: \"")
            .nth(1)
            .and_then(|request| request.split(' ').next())
            .unwrap_or("-");
        *groups
            .entry(format!("{level} {message} ({method})"))
            .or_default() += 1;
    }
    groups
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The scenario: A and B behind nginx, a bounded load, A restarted as C.
fn rolling_restart(server: Server, number: usize) -> Run {
    let dir = fresh_dir(&format!(
        "rolling-restart-{}-{}-{number}",
        std::process::id(),
        server.name()
    ));
    let mut a = Instance::start(server, dir.join("a.db"), None);
    let mut b = Instance::start(server, dir.join("b.db"), None);
    let c_port = nginx::reserve_port();
    let listen = nginx::reserve_port();
    let mut balancer = Nginx::start(
        &dir,
        &config(&dir, listen, &[a.address, b.address], c_port),
        listen,
    );

    let start = Instant::now();
    let until = start + LOAD;
    let address = balancer.address;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| thread::spawn(move || client(index, address, start, until)))
        .collect();

    thread::sleep(RESTART_AT.saturating_sub(start.elapsed()));
    let sent = a.signal(Signal::SIGTERM);
    let mut c = Instance::start(server, dir.join("c.db"), Some(c_port));
    assert_eq!(c.address.port(), c_port);
    let a_exit = a.wait_exit();

    let mut tally = Tally::default();
    for client in clients {
        tally.merge(client.join().unwrap());
    }
    balancer.stop();
    b.signal(Signal::SIGTERM);
    c.signal(Signal::SIGTERM);
    let b_exit = b.wait_exit();
    let c_exit = c.wait_exit();

    // Every acknowledged write, in the database of the instance that
    // acknowledged it (ids collide across the three databases, so an id
    // alone proves nothing); every row, acknowledged.
    let mut missing = Vec::new();
    let mut unacknowledged = 0;
    let mut rows = 0;
    for instance in [&a, &b, &c] {
        let stored = instance.stored_ids();
        let name = instance.address.to_string();
        let acknowledged: BTreeSet<i64> = tally
            .acknowledged
            .iter()
            .filter(|(answered_by, _)| *answered_by == name)
            .map(|(_, id)| *id)
            .collect();
        missing.extend(
            acknowledged
                .difference(&stored)
                .map(|id| (name.clone(), *id)),
        );
        unacknowledged += stored.difference(&acknowledged).count();
        rows += stored.len();
    }
    // Acknowledged by no instance of ours, or the same id twice.
    missing.extend(
        tally
            .acknowledged
            .iter()
            .filter(|(answered_by, _)| {
                ![&a, &b, &c]
                    .iter()
                    .any(|instance| instance.address.to_string() == *answered_by)
            })
            .cloned(),
    );
    // The same id acknowledged twice by one instance: nonsense, counted.
    let unique: BTreeSet<&(String, i64)> = tally.acknowledged.iter().collect();
    let duplicates = tally.acknowledged.len() - unique.len();

    let nginx_log_text = balancer.error_log();
    let clean = tally.failures.is_empty() && missing.is_empty() && unacknowledged == 0;
    if clean {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Run {
        dir,
        server,
        missing,
        unacknowledged,
        rows,
        duplicates,
        a_exit: a_exit.at - sent,
        exits: [a_exit.code(), b_exit.code(), c_exit.code()],
        a_stderr: a_exit.stderr_text(),
        nginx_log: group_error_log(&nginx_log_text),
        nginx_log_text,
        tally,
    }
}

#[test]
fn a_rolling_restart_behind_nginx_loses_no_request_and_no_acknowledged_write() {
    nginx::executable();
    // Built before the clock starts.
    support::binary(Server::Graceful.example());
    support::binary(Server::Baseline.example());

    let mut runs = Vec::new();
    for number in 1..=RUNS {
        for server in [Server::Graceful, Server::Baseline] {
            let run = rolling_restart(server, number);
            eprintln!("{}", run.summary(number));
            eprint!("{}", run.details());
            runs.push(run);
        }
    }

    let totals = |server: Server| {
        let of = runs.iter().filter(|run| run.server == server);
        let failed: usize = of.clone().map(Run::failed).sum();
        let requests: usize = of.clone().map(|run| run.tally.requests).sum();
        let missing: usize = of.map(|run| run.missing.len()).sum();
        (failed, requests, missing)
    };
    let (failed, requests, missing) = totals(Server::Graceful);
    let (base_failed, base_requests, base_missing) = totals(Server::Baseline);
    eprintln!(
        "rolling restart: graceful {failed} failed of {requests}, {missing} writes missing; \
         baseline {base_failed} failed of {base_requests}, {base_missing} missing \
         ({RUNS} runs each)"
    );

    for (number, run) in runs
        .iter()
        .filter(|run| run.server == Server::Graceful)
        .enumerate()
    {
        let number = number + 1;
        let context = || {
            format!(
                "{}\n{}\ninstance A's stderr:\n{}\nnginx error.log:\n{}",
                run.summary(number),
                run.details(),
                run.a_stderr,
                run.nginx_log_text
            )
        };
        assert!(run.tally.ok > 0, "run {number}: nothing was served");
        assert!(
            !run.tally.acknowledged.is_empty(),
            "run {number}: nothing was written"
        );
        assert_eq!(
            run.failed(),
            0,
            "run {number}: failed requests\n{}",
            context()
        );
        assert!(
            run.missing.is_empty(),
            "run {number}: acknowledged writes missing\n{}",
            context()
        );
        assert_eq!(
            run.unacknowledged,
            0,
            "run {number}: rows no client saw acknowledged (a write retried after it was processed?)\n{}",
            context()
        );
        assert_eq!(
            run.duplicates,
            0,
            "run {number}: ids acknowledged twice\n{}",
            context()
        );
        assert_eq!(
            run.exits,
            [Some(0); 3],
            "run {number}: exit codes\n{}",
            context()
        );
    }
}
