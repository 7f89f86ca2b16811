//! Queue consumers stopped half-way through a backlog, then restarted, and
//! counted: the machinery of tests/consumers.rs (ours, asserted) and of the
//! benchmark's figure 14 (ours against the same consumers written with
//! plain tokio and `ctrl_c`, printed). See tests/consumers.rs for what one
//! run does.

use std::fmt;
use std::time::{Duration, Instant};

use async_nats::jetstream;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties};
use sqlx::{AssertSqlSafe, PgPool};
use tokio::runtime::Runtime;

use super::kafka;
use super::servers::{self, NATS, POSTGRES, RABBITMQ, amqp_channel, amqp_ready};
use super::{Exit, Process, Signal};

/// Messages published for each run.
pub const MESSAGES: i64 = 1000;
/// Rows stored when the first run gets its signal.
const HALF: i64 = MESSAGES / 2;
/// How long a consumer may take to connect and print that it consumes.
const READY: Duration = Duration::from_secs(60);
/// How long a run may take to store half (the first run) or the rest (the
/// second) of the rows, on a loaded machine. A run normally takes about a
/// second, plus `ACK_WAIT` for a plain NATS consumer's second run.
const PROGRESS: Duration = Duration::from_secs(60);
/// How long a consumer may take to exit after its signal (ours: its own
/// timeout is 10 s).
const EXIT: Duration = Duration::from_secs(20);
/// How long the second run goes on once the work looks done, so that a
/// late duplicate is stored before the count.
const SETTLE: Duration = Duration::from_millis(300);
/// How often the table and the broker are polled.
const POLL: Duration = Duration::from_millis(5);
/// The JetStream consumer's `ack_wait`, in seconds.
const ACK_WAIT: &str = "3";
/// The Kafka topic's partitions: the messages are spread over them, and
/// the consumer's window takes from all of them.
const KAFKA_PARTITIONS: i32 = 4;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Broker {
    RabbitMq,
    Nats,
    /// A Kafka-protocol broker the test process runs (tansu, see
    /// `support::kafka`): hold a [`kafka_broker`] for as long as the runs
    /// last.
    Kafka,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Consumer {
    /// `examples/<broker>_consumer.rs`, `#[graceful_main]`: SIGTERM.
    Graceful,
    /// `tests/fixtures/plain_<broker>_consumer.rs`, `ctrl_c`: SIGINT.
    Plain,
}

impl Broker {
    pub fn name(self) -> &'static str {
        match self {
            Broker::RabbitMq => "RabbitMQ",
            Broker::Nats => "NATS JetStream",
            Broker::Kafka => "Kafka (tansu)",
        }
    }

    fn short(self) -> &'static str {
        match self {
            Broker::RabbitMq => "amqp",
            Broker::Nats => "nats",
            Broker::Kafka => "kafka",
        }
    }
}

impl Consumer {
    fn example(self, broker: Broker) -> &'static str {
        match (self, broker) {
            (Consumer::Graceful, Broker::RabbitMq) => "rabbitmq_consumer",
            (Consumer::Graceful, Broker::Nats) => "nats_consumer",
            (Consumer::Plain, Broker::RabbitMq) => "fixture-plain-rabbitmq-consumer",
            (Consumer::Plain, Broker::Nats) => "fixture-plain-nats-consumer",
            (Consumer::Graceful, Broker::Kafka) => "kafka_consumer",
            (Consumer::Plain, Broker::Kafka) => "fixture-plain-kafka-consumer",
        }
    }

    fn signal(self) -> Signal {
        match self {
            Consumer::Graceful => Signal::SIGTERM,
            Consumer::Plain => Signal::SIGINT,
        }
    }
}

impl fmt::Display for Consumer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Consumer::Graceful => "graceful (#[graceful_main], SIGTERM)",
            Consumer::Plain => "plain tokio + ctrl_c (SIGINT)",
        })
    }
}

/// `RUNS`, or 10 runs when it is not set.
pub fn runs() -> usize {
    std::env::var("RUNS").map_or(10, |runs| {
        runs.parse()
            .unwrap_or_else(|_| panic!("RUNS={runs:?} is not a number"))
    })
}

/// What one run measured.
pub struct Outcome {
    /// Rows when the first run got its signal.
    pub at_signal: i64,
    /// Rows once the first run had exited.
    pub after_first: i64,
    /// From the signal to the first run's exit.
    pub first_exit: Duration,
    /// The first run's exit code.
    pub first_code: Option<i32>,
    /// Ids with no row.
    pub missing: i64,
    /// Rows beyond one per id.
    pub duplicates: i64,
    /// Wall time of the whole run.
    pub took: Duration,
}

/// The names one run uses on the shared servers, removed when the run ends,
/// however it ends.
struct Names {
    broker: Broker,
    /// The queue, the stream and the table: letters, digits and `_`.
    name: String,
}

impl Names {
    fn new(broker: Broker) -> Names {
        Names {
            broker,
            name: servers::run_id(broker.short()),
        }
    }

    /// The consumer's variables, beside `CONSUMER_RUN`.
    fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("DATABASE_URL", POSTGRES.url.to_owned()),
            ("TABLE", self.name.clone()),
        ];
        match self.broker {
            Broker::RabbitMq => {
                env.push(("AMQP_URL", RABBITMQ.url.to_owned()));
                env.push(("QUEUE", self.name.clone()));
            }
            Broker::Nats => {
                env.push(("NATS_URL", NATS.url.to_owned()));
                env.push(("STREAM", self.name.clone()));
                env.push(("CONSUMER", "worker".to_owned()));
                env.push(("ACK_WAIT", ACK_WAIT.to_owned()));
            }
            Broker::Kafka => {
                env.push(("KAFKA_BROKERS", kafka_bootstrap()));
                env.push(("TOPIC", self.name.clone()));
                env.push(("GROUP", self.name.clone()));
                // The group's joins and commits, and the offsets each
                // commit takes, on stderr: what a run with duplicates
                // prints (issue 26).
                env.push(("KAFKA_DEBUG", "cgrp,topic".to_owned()));
            }
        }
        env
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let name = self.name.clone();
        let broker = self.broker;
        runtime().block_on(async move {
            match broker {
                Broker::RabbitMq => {
                    if let Ok(channel) = amqp_channel().await {
                        let _ = channel
                            .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                            .await;
                    }
                }
                Broker::Nats => {
                    if let Ok(client) = async_nats::connect(NATS.url).await {
                        let _ = jetstream::new(client.clone()).delete_stream(&name).await;
                        let _ = client.drain().await;
                    }
                }
                Broker::Kafka => {
                    let bootstrap = KAFKA.lock().unwrap().clone();
                    if let Some(bootstrap) = bootstrap {
                        kafka::delete_topic(&bootstrap, &name).await;
                    }
                }
            }
            if let Ok(db) = PgPool::connect(POSTGRES.url).await {
                let _ = sqlx::query(AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
                    .execute(&db)
                    .await;
                db.close().await;
            }
        });
    }
}

pub fn runtime() -> Runtime {
    tokio::runtime::Runtime::new().expect("cannot start a tokio runtime")
}

/// The table's rows: (all, distinct ids in 0..MESSAGES, outside it).
async fn rows(db: &PgPool, table: &str) -> (i64, i64, i64) {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT count(*),
                count(DISTINCT message_id) FILTER (WHERE message_id >= 0 AND message_id < {MESSAGES}),
                count(*) FILTER (WHERE message_id < 0 OR message_id >= {MESSAGES})
         FROM {table}"
    )))
    .fetch_one(db)
    .await
    .unwrap_or_else(|error| panic!("cannot count the rows of {table}: {error}"))
}

/// The ids `run` stored.
async fn run_ids(db: &PgPool, table: &str, run: &str) -> std::collections::BTreeSet<i64> {
    let ids: Vec<(i64,)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT DISTINCT message_id FROM {table} WHERE consumer_run = $1"
    )))
    .bind(run)
    .fetch_all(db)
    .await
    .unwrap_or_else(|error| panic!("cannot read the ids of {table}: {error}"));
    ids.into_iter().map(|(id,)| id).collect()
}

/// Every row of an id stored more than once, with its run and time, a
/// line each.
async fn duplicated_rows(db: &PgPool, table: &str) -> String {
    let rows: Vec<(i64, String, String)> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT message_id, consumer_run, processed_at::text FROM {table}
         WHERE message_id IN (SELECT message_id FROM {table} GROUP BY message_id HAVING count(*) > 1)
         ORDER BY message_id, processed_at"
    )))
    .fetch_all(db)
    .await
    .unwrap_or_else(|error| panic!("cannot read the duplicates of {table}: {error}"));
    rows.iter()
        .map(|(id, run, at)| format!("id {id}: {run} at {at}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fresh queue or stream holding the ids 0..MESSAGES, every publish
/// confirmed. For Kafka, where each record went.
async fn publish(broker: Broker, name: &str) -> kafka::Published {
    match broker {
        Broker::RabbitMq => {
            let channel = amqp_channel()
                .await
                .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", RABBITMQ.url));
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await
                .unwrap();
            channel
                .queue_declare(
                    name.into(),
                    QueueDeclareOptions {
                        durable: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap();
            let persistent = BasicProperties::default().with_delivery_mode(2);
            for id in 0..MESSAGES {
                channel
                    .basic_publish(
                        "".into(),
                        name.into(),
                        BasicPublishOptions::default(),
                        id.to_string().as_bytes(),
                        persistent.clone(),
                    )
                    .await
                    .unwrap();
            }
            channel.wait_for_confirms().await.unwrap();
            let queued = amqp_ready(name).await;
            assert_eq!(queued, MESSAGES as u32, "{queued} of {MESSAGES} queued");
            let _ = channel.close(200, "OK".into()).await;
            kafka::Published::default()
        }
        Broker::Nats => {
            let client = async_nats::connect(NATS.url)
                .await
                .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", NATS.url));
            let context = jetstream::new(client.clone());
            context
                .create_stream(jetstream::stream::Config {
                    name: name.to_owned(),
                    subjects: vec![format!("{name}.>")],
                    ..jetstream::stream::Config::default()
                })
                .await
                .unwrap_or_else(|error| panic!("cannot create the stream {name}: {error}"));
            let mut acks = Vec::new();
            for id in 0..MESSAGES {
                acks.push(
                    context
                        .publish(format!("{name}.jobs"), id.to_string().into())
                        .await
                        .unwrap(),
                );
            }
            for ack in acks {
                ack.await.unwrap();
            }
            client.drain().await.unwrap();
            kafka::Published::default()
        }
        Broker::Kafka => {
            let bootstrap = kafka_bootstrap();
            kafka::create_topic(&bootstrap, name, KAFKA_PARTITIONS).await;
            let published =
                kafka::publish(&bootstrap, name, (0..MESSAGES).map(|id| id.to_string())).await;
            let (topic, known) = (name.to_owned(), published.ends.clone());
            let gaps = tokio::task::spawn_blocking(move || {
                kafka::watermark_gaps(&bootstrap, &topic, &known)
            })
            .await
            .unwrap();
            for gap in gaps {
                eprintln!("consumers: tansu: {gap}");
            }
            published
        }
    }
}

/// Per Kafka partition, the offset after its last record.
type Ends = std::collections::BTreeMap<i32, i64>;

/// A connection to the broker, to ask what it still holds for the
/// consumer.
enum Observer {
    Amqp(lapin::Connection, lapin::Channel),
    Nats(async_nats::Client, Box<jetstream::stream::Stream>),
    /// The bootstrap servers and where each partition ends: the group's
    /// offsets are read afresh each time.
    Kafka(String, Ends),
}

impl Observer {
    async fn new(broker: Broker, name: &str, ends: Ends) -> Observer {
        match broker {
            Broker::RabbitMq => {
                let connection =
                    lapin::Connection::connect(RABBITMQ.url, ConnectionProperties::default())
                        .await
                        .expect("cannot connect to RabbitMQ");
                let channel = connection.create_channel().await.unwrap();
                Observer::Amqp(connection, channel)
            }
            Broker::Nats => {
                let client = async_nats::connect(NATS.url)
                    .await
                    .expect("cannot connect to NATS");
                let stream = jetstream::new(client.clone())
                    .get_stream(name)
                    .await
                    .unwrap_or_else(|error| panic!("no stream {name}: {error}"));
                Observer::Nats(client, Box::new(stream))
            }
            Broker::Kafka => Observer::Kafka(kafka_bootstrap(), ends),
        }
    }

    /// What the broker still holds for the consumer, as a sentence, or
    /// `None` when it holds nothing. RabbitMQ tells ready messages only
    /// (unacked ones come back to ready when their channel closes, so the
    /// last check, after the exit, sees them); JetStream tells both; Kafka
    /// the messages the group has not committed past (the consumers commit
    /// what they stored every second, and at their close).
    async fn held(&self, name: &str) -> Option<String> {
        match self {
            Observer::Amqp(_, channel) => {
                let declared = channel
                    .queue_declare(
                        name.into(),
                        QueueDeclareOptions {
                            passive: true,
                            ..QueueDeclareOptions::default()
                        },
                        FieldTable::default(),
                    )
                    .await
                    .unwrap_or_else(|error| panic!("no queue {name}: {error}"));
                let ready = declared.message_count();
                (ready > 0).then(|| format!("{ready} messages ready in the queue"))
            }
            Observer::Nats(_, stream) => {
                let info = stream
                    .consumer_info("worker")
                    .await
                    .unwrap_or_else(|error| panic!("no consumer {name}/worker: {error}"));
                (info.num_pending > 0 || info.num_ack_pending > 0).then(|| {
                    format!(
                        "{} messages not yet delivered, {} unacked",
                        info.num_pending, info.num_ack_pending
                    )
                })
            }
            Observer::Kafka(bootstrap, ends) => {
                let (bootstrap, topic, ends) = (bootstrap.clone(), name.to_owned(), ends.clone());
                // rdkafka's offset calls block: off the runtime's thread.
                let uncommitted = tokio::task::spawn_blocking(move || {
                    kafka::uncommitted(&bootstrap, &topic, &topic, &ends)
                })
                .await
                .unwrap();
                (!uncommitted.is_empty()).then(|| {
                    let partitions: Vec<String> = uncommitted
                        .iter()
                        .map(|(partition, at, end)| {
                            format!("partition {partition} committed at {at} of {end}")
                        })
                        .collect();
                    format!("the group is behind: {}", partitions.join(", "))
                })
            }
        }
    }

    async fn close(self) {
        match self {
            Observer::Amqp(connection, channel) => {
                let _ = channel.close(200, "OK".into()).await;
                let _ = connection.close(200, "OK".into()).await;
            }
            Observer::Nats(client, _) => {
                let _ = client.drain().await;
            }
            Observer::Kafka(..) => {}
        }
    }
}

/// Starts a run of `consumer` and waits until it consumes.
fn start(consumer: Consumer, names: &Names, run: &str) -> Process {
    let env = names.env();
    let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.push(("CONSUMER_RUN", run));
    let mut process = Process::start(consumer.example(names.broker), &all);
    process.wait_for_stderr("consuming ", READY);
    process
}

/// Ours exits 0 after its cleanup, every close closed.
fn exited_cleanly(consumer: Consumer, exit: &Exit, which: &str) {
    if consumer == Consumer::Plain {
        return;
    }
    assert_eq!(
        exit.code(),
        Some(0),
        "{which} run: exit code; stderr:\n{}",
        exit.stderr_text()
    );
    let summary = exit.stderr_lines("shutdown complete");
    assert!(
        summary.len() == 1 && summary[0].contains("exit code 0"),
        "{which} run: no clean shutdown summary; stderr:\n{}",
        exit.stderr_text()
    );
}

/// One run: `rt` is the runtime `db` was made on (its connections belong
/// to it).
pub fn run_once(broker: Broker, consumer: Consumer, rt: &Runtime, db: &PgPool) -> Outcome {
    let started = Instant::now();
    let names = Names::new(broker);
    let table = names.name.as_str();
    let published = rt.block_on(async {
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE {table} (
                message_id BIGINT NOT NULL,
                consumer_run TEXT NOT NULL,
                processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"
        )))
        .execute(db)
        .await
        .unwrap_or_else(|error| panic!("cannot create the table {table}: {error}"));
        publish(broker, table).await
    });

    // The first run, signalled half-way.
    let first = start(consumer, &names, "first");
    let mut at_signal = 0;
    let halfway = rt.block_on(async {
        let bound = Instant::now() + PROGRESS;
        loop {
            at_signal = rows(db, table).await.0;
            if at_signal >= HALF {
                return true;
            }
            if Instant::now() > bound {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    if !halfway {
        first.signal(Signal::SIGKILL);
        let exit = first.wait_exit(EXIT);
        panic!(
            "{consumer} on {}: {at_signal} rows after {PROGRESS:?}, never half of {MESSAGES}; stderr:\n{}",
            broker.name(),
            exit.stderr_text()
        );
    }
    let sent = first.signal(consumer.signal());
    let exit = first.wait_exit(EXIT);
    let first_exit = exit.at - sent;
    let first_code = exit.code();
    let first_stderr = exit.stderr_text();
    exited_cleanly(consumer, &exit, "first");
    let after_first = rt.block_on(rows(db, table)).0;
    assert!(
        after_first < MESSAGES,
        "{consumer} on {}: the first run stored {after_first} rows before it exited: the test needs it stopped half-way",
        broker.name()
    );
    // Where the first run left the group's offsets, against its work:
    // whether a duplicate comes from what it committed, or from how the
    // second run starts.
    let commit_gaps = match broker {
        Broker::Kafka => {
            let done = rt.block_on(run_ids(db, table, "first"));
            // rdkafka's offset calls block: outside the runtime.
            let gaps = kafka::commit_gaps(&kafka_bootstrap(), table, table, &published, &done);
            for gap in &gaps {
                eprintln!("consumers: {consumer} on Kafka, after the first run: {gap}");
            }
            gaps.join("\n")
        }
        Broker::RabbitMq | Broker::Nats => String::new(),
    };

    // The second run consumes the rest.
    let second = start(consumer, &names, "second");
    let observer = rt.block_on(Observer::new(broker, table, published.ends.clone()));
    let mut state = String::new();
    let done = rt.block_on(async {
        let bound = Instant::now() + PROGRESS;
        loop {
            let (_, distinct, _) = rows(db, table).await;
            if distinct < MESSAGES {
                state = format!("{distinct} of {MESSAGES} ids stored");
            } else {
                match observer.held(table).await {
                    Some(held) => state = held,
                    None => return true,
                }
            }
            if Instant::now() > bound {
                return false;
            }
            tokio::time::sleep(POLL).await;
        }
    });
    if done {
        // Late duplicates, if any, land now.
        std::thread::sleep(SETTLE);
    }
    let sent = second.signal(consumer.signal());
    let exit = second.wait_exit(EXIT);
    assert!(
        done,
        "{consumer} on {}: the second run did not finish within {PROGRESS:?}: {state}; stderr:\n{}",
        broker.name(),
        exit.stderr_text()
    );
    exited_cleanly(consumer, &exit, "second");
    let second_exit = exit.at - sent;

    // Nothing left behind: unacked messages are back in the queue once
    // their channel has closed.
    let left = rt.block_on(async {
        let left = observer.held(table).await;
        observer.close().await;
        left
    });
    assert!(
        left.is_none(),
        "{consumer} on {}: after the second run: {}",
        broker.name(),
        left.unwrap_or_default()
    );
    let (all, distinct, outside) = rt.block_on(rows(db, table));
    assert_eq!(outside, 0, "rows with ids that were never published");
    if all > distinct {
        // What a duplicate needs to be understood: which run stored each
        // copy and when, and what both runs said.
        eprintln!(
            "{consumer} on {}: {} duplicates; their rows:\n{}\n--- the group's offsets after the first run:\n{commit_gaps}\n\
             --- the first run's stderr:\n{first_stderr}\n--- the second run's stderr:\n{}",
            broker.name(),
            all - distinct,
            rt.block_on(duplicated_rows(db, table)),
            exit.stderr_text()
        );
    }
    let outcome = Outcome {
        at_signal,
        after_first,
        first_exit,
        first_code,
        missing: MESSAGES - distinct,
        duplicates: all - distinct,
        took: started.elapsed(),
    };
    eprintln!(
        "consumers: {} {consumer}: signal at {at_signal} rows, first run exited in {:.1} ms \
         (code {:?}) with {after_first} rows; second run exited in {:.1} ms; \
         missing {}, duplicates {}; {:.1} s",
        broker.name(),
        first_exit.as_secs_f64() * 1e3,
        outcome.first_code,
        second_exit.as_secs_f64() * 1e3,
        outcome.missing,
        outcome.duplicates,
        outcome.took.as_secs_f64()
    );
    outcome
}

fn min_max<T: Ord + Copy>(values: impl Iterator<Item = T>) -> (T, T) {
    let values: Vec<T> = values.collect();
    (*values.iter().min().unwrap(), *values.iter().max().unwrap())
}

/// The summary of one consumer's runs, one line for docs/performance.md.
pub fn summary(broker: Broker, consumer: Consumer, outcomes: &[Outcome]) -> String {
    let missing: i64 = outcomes.iter().map(|o| o.missing).sum();
    let duplicates: i64 = outcomes.iter().map(|o| o.duplicates).sum();
    let per_run = |f: fn(&Outcome) -> i64| {
        outcomes
            .iter()
            .map(|o| f(o).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let (signal_lo, signal_hi) = min_max(outcomes.iter().map(|o| o.at_signal));
    let (stored_lo, stored_hi) = min_max(outcomes.iter().map(|o| o.after_first));
    let (exit_lo, exit_hi) = min_max(outcomes.iter().map(|o| o.first_exit));
    let took: Duration = outcomes.iter().map(|o| o.took).sum();
    format!(
        "consumers summary: {} | {consumer} | {} runs of {MESSAGES} messages | missing {missing} \
         (per run: {}) | duplicates {duplicates} (per run: {}) | signal at {signal_lo}-{signal_hi} rows, \
         first run exited in {:.0}-{:.0} ms with {stored_lo}-{stored_hi} rows | {:.0} s",
        broker.name(),
        outcomes.len(),
        per_run(|o| o.missing),
        per_run(|o| o.duplicates),
        exit_lo.as_secs_f64() * 1e3,
        exit_hi.as_secs_f64() * 1e3,
        took.as_secs_f64()
    )
}

/// A connection to the test database, once PostgreSQL and the broker
/// answer (a test fails, saying how to start the one that does not).
pub fn database(broker: Broker, rt: &Runtime) -> PgPool {
    POSTGRES.require();
    match broker {
        Broker::RabbitMq => RABBITMQ.require(),
        Broker::Nats => NATS.require(),
        Broker::Kafka => {
            assert!(
                KAFKA.lock().unwrap().is_some(),
                "start the Kafka broker first: consumers::kafka_broker()"
            );
        }
    }
    rt.block_on(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .connect(POSTGRES.url),
    )
    .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", POSTGRES.url))
}

/// The Kafka broker's bootstrap servers while a [`kafka_broker`] guard
/// lives.
static KAFKA: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn kafka_bootstrap() -> String {
    KAFKA
        .lock()
        .unwrap()
        .clone()
        .expect("the Kafka broker is not running: hold a consumers::kafka_broker()")
}

/// The Kafka broker the runs of [`Broker::Kafka`] use: tansu, installed on
/// first use (`support::kafka`), started, and stopped when the guard is
/// dropped. One broker for every run: its storage is in memory.
pub fn kafka_broker() -> KafkaBroker {
    let tansu = kafka::Tansu::start();
    *KAFKA.lock().unwrap() = Some(tansu.bootstrap());
    KafkaBroker(tansu)
}

/// The running broker of [`kafka_broker`].
pub struct KafkaBroker(pub kafka::Tansu);

impl Drop for KafkaBroker {
    fn drop(&mut self) {
        *KAFKA.lock().unwrap() = None;
    }
}
