//! A real Kafka-protocol broker for the tests: tansu (an Apache Kafka
//! compatible broker written in Rust, from crates.io), with its in-memory
//! storage, as a child of the test process. It is installed by the test
//! itself on first use, with `cargo install`, into the tests' cache
//! (`~/.cache/graceful-tests`, see `support::cache`), and
//! reused after; a test fails, never skips, saying what to do, when it
//! cannot be had. Dropping a [`Tansu`] stops it.
//!
//! Its memory storage lives as long as the process: a test that needs a
//! backlog to survive a consumer's restart keeps one broker for both runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};

use super::Signal;
use super::nginx::reserve_port;

/// The tansu release the tests were written against: `cargo install
/// tansu --version` this, `--locked`.
pub const TANSU_VERSION: &str = "0.6.0";
/// Its features: `dynostore` has the in-memory storage (`memory://`),
/// which the default build refuses.
const TANSU_FEATURES: &str = "dynostore";

/// How long tansu may take to accept on its port.
const START_BOUND: Duration = Duration::from_secs(30);
/// How long a request to the broker may take (admin, produce, offsets).
const REQUEST: Duration = Duration::from_secs(30);

/// The tansu executable, installed on first use into
/// `<cache>/tansu-<version>-<features>/bin` (built beside it, then renamed into
/// place, so a second test process never sees half an install). Fails the
/// test, saying what to do, when it cannot be installed.
pub fn executable() -> PathBuf {
    static INSTALLED: Mutex<Option<Result<PathBuf, String>>> = Mutex::new(None);
    let mut installed = INSTALLED.lock().unwrap();
    installed
        .get_or_insert_with(install)
        .clone()
        .unwrap_or_else(|why| panic!("tansu (the Kafka broker of the tests) is missing: {why}"))
}

fn install() -> Result<PathBuf, String> {
    let root = super::cache::dir().join(format!("tansu-{TANSU_VERSION}-{TANSU_FEATURES}"));
    let binary = |root: &Path| root.join("bin").join("tansu");
    let how = format!(
        "install it by hand with `cargo install --locked --version {TANSU_VERSION} --features {TANSU_FEATURES} --root {} tansu`, on a machine that reaches crates.io",
        root.display()
    );
    super::cache::install(
        &root,
        |root| binary(root).is_file(),
        |partial| {
            eprintln!(
                "installing tansu {TANSU_VERSION} into {} with cargo install (once, later runs reuse it: 10 to 16 minutes on 2 cores)",
                root.display()
            );
            let started = Instant::now();
            super::cache::run(
                Command::new(env!("CARGO"))
                    .args(["install", "--locked", "--version", TANSU_VERSION])
                    .args(["--features", TANSU_FEATURES, "--root"])
                    .arg(partial)
                    .arg("--target-dir")
                    .arg(partial.join("build"))
                    .arg("tansu")
                    // Not this workspace's build settings: tansu's own.
                    .current_dir(partial)
                    .env_remove("CARGO_TARGET_DIR")
                    .env_remove("RUSTFLAGS")
                    .env_remove("CARGO_ENCODED_RUSTFLAGS"),
                "cargo install tansu",
                &how,
            )?;
            let _ = std::fs::remove_dir_all(partial.join("build"));
            eprintln!(
                "installed tansu {TANSU_VERSION} in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            Ok(())
        },
    )?;
    Ok(binary(&root))
}

/// tansu running as this test's child, in a process group of its own, on
/// a port of its own, with memory storage. Dropping it stops it.
pub struct Tansu {
    child: Option<Child>,
    /// Where it accepts, and what it advertises.
    pub address: SocketAddr,
    log: PathBuf,
}

impl Tansu {
    /// Starts tansu and waits until it accepts.
    pub fn start() -> Tansu {
        let tansu = executable();
        let port = reserve_port();
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let log = dir.join(format!("tansu-{}-{port}.log", std::process::id()));
        let output = File::create(&log).expect("cannot create tansu's log");
        let url = format!("tcp://{address}");
        let child = Command::new(&tansu)
            .arg("broker")
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .env_remove("STORAGE_ENGINE")
            // `TANSU_LOG=debug` (tansu's `RUST_LOG`) for what it does.
            .env(
                "RUST_LOG",
                std::env::var("TANSU_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(output.try_clone().unwrap())
            .stderr(output)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {}: {error}", tansu.display()));
        let mut started = Tansu {
            child: Some(child),
            address,
            log,
        };
        started.wait_accepting();
        started
    }

    /// `bootstrap.servers` for a client.
    pub fn bootstrap(&self) -> String {
        self.address.to_string()
    }

    fn wait_accepting(&mut self) {
        let until = Instant::now() + START_BOUND;
        loop {
            if TcpStream::connect_timeout(&self.address, Duration::from_millis(200)).is_ok() {
                return;
            }
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                panic!(
                    "tansu exited ({status}) before accepting on {}:\n{}",
                    self.address,
                    self.output()
                );
            }
            assert!(
                Instant::now() < until,
                "tansu did not accept on {} within {START_BOUND:?}:\n{}",
                self.address,
                self.output()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// What tansu wrote so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills tansu at once (SIGKILL to its group): the broker is gone,
    /// without a goodbye to its clients.
    pub fn kill(&mut self) {
        self.stop_with(Signal::SIGKILL);
    }

    fn stop_with(&mut self, signal: Signal) {
        let Some(child) = self.child.take() else {
            return;
        };
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let _ = nix::sys::signal::killpg(pid, signal);
        super::reap_or_kill_group(child, Duration::from_secs(5));
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        self.stop_with(Signal::SIGTERM);
    }
}

/// The topic `name` with `partitions` partitions, created on `bootstrap`.
pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("cannot create an admin client");
    let options = AdminOptions::new().operation_timeout(Some(REQUEST));
    let results = admin
        .create_topics(
            &[NewTopic::new(name, partitions, TopicReplication::Fixed(1))],
            &options,
        )
        .await
        .unwrap_or_else(|error| panic!("cannot create the topic {name} on {bootstrap}: {error}"));
    for result in results {
        if let Err((topic, code)) = result {
            panic!("cannot create the topic {topic} on {bootstrap}: {code}");
        }
    }
}

/// Deletes the topic `name`, if the broker is still there.
pub async fn delete_topic(bootstrap: &str, name: &str) {
    let admin: Result<AdminClient<DefaultClientContext>, _> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create();
    if let Ok(admin) = admin {
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(5)));
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            admin.delete_topics(&[name], &options),
        )
        .await;
    }
}

/// Where the records of a [`publish`] went, as their deliveries reported.
#[derive(Clone, Debug, Default)]
pub struct Published {
    /// Per partition, the offset after its last record.
    pub ends: BTreeMap<i32, i64>,
    /// Per record, in the order of the payloads: its partition and offset.
    pub placed: Vec<(i32, i64)>,
}

/// Publishes `payloads` to `topic`, spread over its partitions, every one
/// acknowledged by the broker (`acks=all`).
pub async fn publish(
    bootstrap: &str,
    topic: &str,
    payloads: impl Iterator<Item = String>,
) -> Published {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("acks", "all")
        // One record a batch: tansu 0.6's memory storage answers a fetch
        // with the batches that start at or after the offset asked for
        // (tansu-storage's dynostore.rs, `split_off`), so a consumer that
        // resumes from a committed offset inside a batch of several would
        // never see the rest of that batch.
        .set("batch.num.messages", "1")
        .set("linger.ms", "0")
        .create()
        .expect("cannot create a producer");
    let deliveries: Vec<_> = payloads
        .enumerate()
        .map(|(n, payload)| {
            let producer = producer.clone();
            let topic = topic.to_owned();
            async move {
                let key = n.to_string();
                producer
                    .send(
                        FutureRecord::to(&topic).payload(&payload).key(&key),
                        REQUEST,
                    )
                    .await
                    .map_err(|(error, _)| error)
            }
        })
        .collect();
    let mut ends = BTreeMap::new();
    let mut placed = Vec::new();
    let mut records = BTreeSet::new();
    for delivery in futures_util::future::join_all(deliveries).await {
        let delivery =
            delivery.unwrap_or_else(|error| panic!("cannot publish to {topic}: {error}"));
        assert!(
            records.insert((delivery.partition, delivery.offset)),
            "two records delivered at {topic}/{} offset {}",
            delivery.partition,
            delivery.offset
        );
        let end = ends.entry(delivery.partition).or_insert(0);
        *end = (*end).max(delivery.offset + 1);
        placed.push((delivery.partition, delivery.offset));
    }
    Published { ends, placed }
}

/// The group's committed offset in each of `partitions` of `topic`: `None`
/// where it has none.
pub fn committed(
    bootstrap: &str,
    topic: &str,
    group: &str,
    partitions: impl Iterator<Item = i32>,
) -> BTreeMap<i32, Option<i64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .expect("cannot create a consumer to read the group's offsets");
    let mut list = TopicPartitionList::new();
    let partitions: Vec<i32> = partitions.collect();
    for &partition in &partitions {
        list.add_partition(topic, partition);
    }
    let committed = consumer
        .committed_offsets(list, REQUEST)
        .unwrap_or_else(|error| panic!("cannot read the offsets of group {group}: {error}"));
    partitions
        .into_iter()
        .map(|partition| {
            let at = match committed
                .find_partition(topic, partition)
                .map(|element| element.offset())
            {
                Some(Offset::Offset(offset)) => Some(offset),
                _ => None,
            };
            (partition, at)
        })
        .collect()
}

/// The messages of `topic` that `group` has not committed past, summed
/// over the partitions: where each partition ends (`ends`, from
/// [`publish`]) less the group's committed offset, from 0 where it has
/// none: only the records this run published count, whatever the high
/// watermark says ([`watermark_gaps`] prints where the two differ).
/// Each partition behind: (partition, committed, end).
pub fn uncommitted(
    bootstrap: &str,
    topic: &str,
    group: &str,
    ends: &BTreeMap<i32, i64>,
) -> Vec<(i32, i64, i64)> {
    let committed = committed(bootstrap, topic, group, ends.keys().copied());
    ends.iter()
        .map(|(&partition, &end)| (partition, committed[&partition].unwrap_or(0), end))
        .filter(|&(_, at, end)| at != end)
        .collect()
}

/// Where the group's committed offsets differ from the work done: per
/// partition of `published`, the offset a next owner should start at is
/// that of its first record whose id (its index in `published.placed`) is
/// not in `done`. A committed offset before it makes the next owner redo
/// work; one after it, skip work. As sentences, none when they agree.
pub fn commit_gaps(
    bootstrap: &str,
    topic: &str,
    group: &str,
    published: &Published,
    done: &BTreeSet<i64>,
) -> Vec<String> {
    let committed = committed(bootstrap, topic, group, published.ends.keys().copied());
    let mut next = published.ends.clone();
    let mut done_at: BTreeMap<i32, BTreeSet<i64>> = BTreeMap::new();
    for (id, &(partition, offset)) in published.placed.iter().enumerate() {
        if done.contains(&(id as i64)) {
            done_at.entry(partition).or_default().insert(offset);
        } else {
            let first = next.get_mut(&partition).unwrap();
            *first = (*first).min(offset);
        }
    }
    let mut gaps = Vec::new();
    for (&partition, &start) in &next {
        let done = done_at.get(&partition);
        let done_past = done.map_or(0, |offsets| offsets.range(start..).count());
        if done_past > 0 {
            gaps.push(format!(
                "{topic}/{partition}: {done_past} records past offset {start}, the first not done, were done"
            ));
        }
        // None: the next owner starts at the partition's first record
        // (`auto.offset.reset=earliest`), offset 0.
        let at = committed[&partition].unwrap_or(0);
        if at != start {
            let what = if at < start {
                format!("committed at {at}: {} done records to redo", start - at)
            } else {
                format!("committed at {at}: {} records not done to skip", at - start)
            };
            gaps.push(format!(
                "{topic}/{partition}: the work ends at {start}, {what}"
            ));
        }
    }
    gaps
}

/// The partitions of `topic` whose high watermark is not where their last
/// record ends (`ends`, from [`publish`]), as sentences: a diagnostic, for
/// a run whose group stays behind (none seen so far).
pub fn watermark_gaps(bootstrap: &str, topic: &str, ends: &BTreeMap<i32, i64>) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .expect("cannot create a consumer to read the watermarks");
    ends.iter()
        .filter_map(|(&partition, &end)| {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition, REQUEST)
                .unwrap_or_else(|error| panic!("no watermarks for {topic}/{partition}: {error}"));
            (high != end).then(|| {
                format!("{topic}/{partition}: high watermark {high}, last record ends at {end}")
            })
        })
        .collect()
}
