//! The real servers the resource tests talk to: checking that each answers
//! (a test fails, never skips, when one does not), a private PostgreSQL
//! cluster a test may stop, and the `full_stack` example started against
//! them.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Process;

/// A server of the machine (see the machine's description): where it
/// listens, and the command that starts it when it has stopped.
pub struct Server {
    pub name: &'static str,
    pub url: &'static str,
    pub address: &'static str,
    pub start: &'static str,
}

pub const POSTGRES: Server = Server {
    name: "PostgreSQL",
    url: "postgres://postgres@127.0.0.1:5432/test",
    address: "127.0.0.1:5432",
    start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
};

pub const REDIS: Server = Server {
    name: "Redis",
    url: "redis://127.0.0.1:6379",
    address: "127.0.0.1:6379",
    start: "redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log",
};

pub const NATS: Server = Server {
    name: "NATS",
    url: "nats://127.0.0.1:4222",
    address: "127.0.0.1:4222",
    start: "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log",
};

pub const RABBITMQ: Server = Server {
    name: "RabbitMQ",
    url: "amqp://guest:guest@127.0.0.1:5672/%2f",
    address: "127.0.0.1:5672",
    start: "rabbitmq-server -detached",
};

/// Every server the `full_stack` example connects to at startup.
pub const ALL: [&Server; 4] = [&POSTGRES, &REDIS, &NATS, &RABBITMQ];

impl Server {
    /// Fails the test, saying how to start the server, unless it accepts a
    /// TCP connection within a second.
    pub fn require(&self) {
        let address: SocketAddr = self.address.parse().unwrap();
        if let Err(error) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) {
            panic!(
                "{} does not answer at {} ({error}); this test needs it. Start it with:\n    {}",
                self.name, self.url, self.start
            );
        }
    }
}

/// Requires every server the `full_stack` example connects to.
pub fn require_all() {
    for server in ALL {
        server.require();
    }
}

/// A name no other test run uses: keys, subjects, queues and rows are
/// prefixed or tagged with it. Letters, digits and `_` only.
pub fn run_id(test: &str) -> String {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "graceful_{test}_{}_{nanos}_{}",
        std::process::id(),
        SEQUENCE.fetch_add(1, Ordering::Relaxed)
    )
}

/// The `full_stack` example, started on a port of the OS's choosing.
pub struct FullStack {
    pub process: Process,
    pub address: SocketAddr,
}

impl FullStack {
    /// Starts it with `RUN_ID` and `APP_NAME` set to `run_id`, and `env`.
    pub fn start(run_id: &str, env: &[(&str, &str)]) -> FullStack {
        let mut all = vec![("RUN_ID", run_id), ("APP_NAME", run_id)];
        all.extend_from_slice(env);
        let (process, address) = super::start_listening("full_stack", &all);
        FullStack { process, address }
    }
}

/// A PostgreSQL cluster of a test's own, in a temporary directory, that
/// the test may stop. Dropping it stops the server (if it still runs) and
/// removes the directory, also when the test fails.
pub struct PrivatePostgres {
    root: PathBuf,
    bin: PathBuf,
    pub port: u16,
    running: bool,
}

impl PrivatePostgres {
    /// Creates a cluster with `initdb` and starts it on a free port of
    /// 127.0.0.1, trusting every local connection (as the user `postgres`).
    pub fn start() -> PrivatePostgres {
        let bin = postgres_bin();
        let root = std::env::temp_dir().join(format!(
            "graceful-pg-{}-{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        ));
        std::fs::create_dir(&root).expect("cannot create the cluster's directory");
        let mut cluster = PrivatePostgres {
            root,
            bin,
            port: free_port(),
            running: false,
        };
        run(Command::new("chown").arg("postgres:").arg(&cluster.root));
        cluster.as_postgres(
            "initdb",
            &[
                "-D",
                cluster.data().to_str().unwrap(),
                "-A",
                "trust",
                "-U",
                "postgres",
            ],
        );
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            cluster.port,
            cluster.root.display()
        );
        let log = cluster.root.join("server.log");
        // From here on, dropping the cluster stops it, whatever happens.
        cluster.running = true;
        cluster.as_postgres(
            "pg_ctl",
            &[
                "-D",
                cluster.data().to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-o",
                &options,
                "-w",
                "start",
            ],
        );
        cluster
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (`pg_ctl -m fast`: sessions are ended) and waits
    /// until it has.
    pub fn stop(&mut self) {
        self.pg_ctl_stop("fast");
    }

    fn pg_ctl_stop(&mut self, mode: &str) {
        let data = self.data();
        self.as_postgres(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", mode, "-w", "stop"],
        );
        self.running = false;
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    fn as_postgres(&self, program: &str, args: &[&str]) -> Output {
        run(Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(program))
            .args(args))
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let _ = Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"))
                .args([
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `/usr/lib/postgresql/<version>/bin`, the newest version installed.
fn postgres_bin() -> PathBuf {
    let versions = Path::new("/usr/lib/postgresql");
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(versions)
        .unwrap_or_else(|error| panic!("no PostgreSQL in {}: {error}", versions.display()))
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .unwrap_or_else(|| panic!("no {}/<version>/bin/initdb", versions.display()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("no free port")
        .port()
}

/// Runs a command to completion; fails the test with its output if it fails.
fn run(command: &mut Command) -> Output {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A channel on the machine's RabbitMQ.
pub async fn amqp_channel() -> lapin::Result<lapin::Channel> {
    lapin::Connection::connect(RABBITMQ.url, lapin::ConnectionProperties::default())
        .await?
        .create_channel()
        .await
}

/// Messages ready in `queue` (not counting those delivered and unacked).
pub async fn amqp_ready(queue: &str) -> u32 {
    let channel = amqp_channel().await.expect("cannot connect to RabbitMQ");
    let declared = channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions {
                passive: true,
                ..lapin::options::QueueDeclareOptions::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap_or_else(|error| panic!("no queue {queue}: {error}"));
    let _ = channel.close(200, "OK".into()).await;
    declared.message_count()
}
