//! The Kafka side of the Kafka consumers: the consumer's configuration, and
//! what they do with each message (the job, then its offset, stored in
//! order within its partition, so a committed offset never passes a
//! message that is not done). Shared by `examples/kafka_consumer.rs` and
//! its plain-tokio twin (`tests/fixtures/plain_kafka_consumer.rs`), which
//! differ only in how they stop.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use rdkafka::ClientConfig;
use rdkafka::Message as _;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::message::OwnedMessage;

use crate::jobs::{Error, Jobs, env_or, message_id};

/// The window: at most this many messages in progress.
pub(crate) const WINDOW: usize = 16;

/// A consumer of the topic `TOPIC` in the group `GROUP`, subscribed, from
/// the earliest offset when the group has none, storing offsets only when
/// told to (`enable.auto.offset.store=false`) and committing the stored
/// ones every second. Returns it and its name, `TOPIC/GROUP`.
pub(crate) fn consumer() -> Result<(Arc<StreamConsumer>, String), Error> {
    let brokers = env_or("KAFKA_BROKERS", "127.0.0.1:9092");
    let topic = env_or("TOPIC", "graceful.jobs");
    let group = env_or("GROUP", "graceful-workers");
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &brokers)
        .set("group.id", &group)
        .set("auto.offset.reset", "earliest")
        // Offsets are stored by the job, once done, never on delivery.
        .set("enable.auto.offset.store", "false")
        // What was stored is committed every second (a crash redoes at
        // most that much), and by the close.
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set(
            "partition.assignment.strategy",
            env_or("ASSIGNMENT", "cooperative-sticky"),
        )
        .set("session.timeout.ms", env_or("SESSION_TIMEOUT_MS", "45000"));
    if let Ok(instance) = std::env::var("GROUP_INSTANCE_ID") {
        config.set("group.instance.id", instance);
    }
    // librdkafka's own debug contexts: `cgrp` for the group's joins,
    // rebalances and commits, `topic` for the offsets each commit takes.
    // rdkafka passes the lines to the `log` crate: printed on stderr. The
    // level is set here: `ClientConfig::new` took it from the `log` crate
    // before the logger was installed (off), and librdkafka would then
    // drop every debug line after its first few.
    if let Ok(debug) = std::env::var("KAFKA_DEBUG") {
        config
            .set("debug", debug)
            .set_log_level(RDKafkaLogLevel::Debug);
        debug_lines::print();
    }
    let consumer: StreamConsumer = config
        .create()
        .map_err(|error| format!("cannot create a consumer for {brokers}: {error}"))?;
    consumer.subscribe(&[&topic])?;
    Ok((Arc::new(consumer), format!("{topic}/{group}")))
}

/// The offsets of the messages in progress, per partition: what may be
/// stored is the lowest offset still in progress, or, with none, the one
/// after the last received.
#[derive(Clone, Default)]
pub(crate) struct Offsets(Arc<Mutex<HashMap<(String, i32), Partition>>>);

#[derive(Default)]
struct Partition {
    in_progress: BTreeSet<i64>,
    /// The last offset received: offsets arrive in order within a
    /// partition (a lower one means the partition was handed back from
    /// its committed offset, and the count starts again from it).
    last: i64,
}

impl Offsets {
    /// A message was received: it is in progress.
    pub(crate) fn received(&self, message: &OwnedMessage) {
        let mut partitions = self.0.lock().unwrap();
        let partition = partitions
            .entry((message.topic().to_owned(), message.partition()))
            .or_default();
        partition.in_progress.insert(message.offset());
        partition.last = message.offset();
    }

    /// A message is done: stores its partition's offset, that of the last
    /// message done in a row (`store_offset` takes the last offset done:
    /// the consumer commits the one after it). Stored each time, even when
    /// it has not moved: a partition revoked and assigned again has lost
    /// what was stored for it.
    ///
    /// The store is made under the lock that computed it. A store is an
    /// overwrite, not a maximum: made after the lock, a task that computed
    /// an older offset could store it after another stored a newer one,
    /// and the partition's stored offset would go back (seen: 3 of 80 runs
    /// of `tests/consumers.rs` committed 4-5 done records short, redone by
    /// the next consumer; and a partition whose last store went back stays
    /// behind, since nothing stores after it).
    fn done(&self, consumer: &StreamConsumer, message: &OwnedMessage) {
        let mut partitions = self.0.lock().unwrap();
        let key = (message.topic().to_owned(), message.partition());
        let Some(partition) = partitions.get_mut(&key) else {
            return;
        };
        partition.in_progress.remove(&message.offset());
        // The message before the first still in progress, or the last
        // received when none is.
        let last_done = partition
            .in_progress
            .first()
            .copied()
            .unwrap_or(partition.last + 1)
            - 1;
        if let Err(error) = consumer.store_offset(message.topic(), message.partition(), last_done) {
            // The partition was revoked (a rebalance): its next owner
            // redoes what this one did not commit.
            eprintln!(
                "{}/{}: cannot store offset {last_done}: {error}",
                message.topic(),
                message.partition()
            );
        }
    }
}

/// The job, then the offset. A failed job is not stored past: its
/// partition's committed offset stays before it, and the message is
/// redone by the next owner; a message whose payload is not an id is
/// skipped (stored past, never redone).
pub(crate) async fn handle(
    jobs: Jobs,
    consumer: Arc<StreamConsumer>,
    offsets: Offsets,
    message: OwnedMessage,
) {
    let id = message.payload().and_then(message_id);
    match id {
        None => eprintln!(
            "skipping {}/{} offset {}: its payload is not an id",
            message.topic(),
            message.partition(),
            message.offset()
        ),
        Some(id) => {
            if let Err(error) = jobs.process(id).await {
                eprintln!("message {id}: {error}; left for the next owner of its partition");
                return;
            }
        }
    }
    offsets.done(&consumer, &message);
}

/// librdkafka's debug lines on stderr: rdkafka hands them to the `log`
/// crate (target `librdkafka`), and a service would route them to its
/// own logger (`tracing-log`, `env_logger`); this logger prints them and
/// nothing else.
mod debug_lines {
    use std::time::SystemTime;

    struct Stderr;

    impl log::Log for Stderr {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.target().starts_with("librdkafka") || metadata.target().starts_with("rdkafka")
        }

        fn log(&self, record: &log::Record<'_>) {
            if self.enabled(record.metadata()) {
                eprintln!(
                    "{} {} {}",
                    humantime::format_rfc3339_millis(SystemTime::now()),
                    record.level(),
                    record.args()
                );
            }
        }

        fn flush(&self) {}
    }

    /// Installs the logger, once; another one already installed keeps
    /// the lines.
    pub(crate) fn print() {
        static LOGGER: Stderr = Stderr;
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(log::LevelFilter::Debug);
        }
    }
}
