//! A Kafka consumer that stops without losing or redoing a message: offsets
//! stored by the job once done, a window of 16 messages processed
//! concurrently, a durable side effect (a PostgreSQL row) per message, and
//! the stored offsets committed synchronously before the consumer leaves
//! its group.
//!
//! ```sh
//! cargo run --example kafka_consumer    # then press Ctrl-C, or: kill -TERM <pid>
//! ```
//!
//! Each message's payload is its id (a number). Its work takes 5 ms, then
//! inserts the row `(message_id, consumer_run)`; then the message's offset
//! is stored, in order within its partition: the offset stored is that of
//! the last message done with every earlier one done too, so a commit
//! never passes a message still in progress. It is computed and stored
//! under one lock: librdkafka's store is an overwrite, and two messages
//! finishing at once on two threads could otherwise store in the wrong
//! order, leaving the partition's stored offset behind its work.
//!
//! At SIGTERM (or SIGINT) it stops reading the consumer: messages fetched
//! but not yet handed over stay uncommitted, for the next owner of their
//! partition. Then `main` returns its state, and the cleanup closes it in
//! order:
//!
//! 1. `work`, the `TaskTracker` running the messages in progress, is waited
//!    for: every message received has been inserted, and its offset
//!    stored;
//! 2. then `db` (the pool) and `consumer`: its partitions paused, the
//!    stored offsets committed synchronously, then the consumer closed
//!    (it leaves the group, and the partitions go to the other members at
//!    once), on a thread of its own, cut after 5 s: a broker that is gone
//!    costs those 5 s, the report names `consumer` as timed out, and the
//!    exit does not hang (rust-rdkafka #509, #611).
//!
//! ## What this guarantees, and what it does not
//!
//! Kafka delivers **at least once**: a partition's next owner starts at
//! the group's committed offset. A clean stop of this consumer commits
//! exactly what it did, so a restart (a deploy, a scale-down) redoes
//! nothing and skips nothing: `tests/consumers.rs` stops it half-way
//! through 1,000 messages, ten times, and finds every id stored exactly
//! once, a second consumer taking over. A crash is another matter:
//! SIGKILL, an OOM kill or a power loss redoes what was done since the last
//! commit (stored offsets are committed every second); so does a rebalance
//! while messages are in progress (their partition goes to another member
//! before their offsets are stored), and a close cut at its timeout.
//! **Exactly-once effects need an idempotent key**: a primary key on
//! `message_id` and `INSERT ... ON CONFLICT (message_id) DO NOTHING`, or
//! the effect and the offset in one transaction (Kafka's transactions are
//! for Kafka-to-Kafka pipelines, not for your database). This example
//! inserts without one, on purpose, so that a duplicate shows as a second
//! row (the test counts them).
//!
//! A message whose payload is not a number is skipped; one whose INSERT
//! fails holds its partition's offset back, and is redone by the next
//! owner.
//!
//! ## Rolling restarts
//!
//! Without a static member id, the closing member leaves the group, and
//! the group rebalances at once: with `cooperative-sticky` assignment
//! (the default here) only the leaving member's partitions move, and the
//! other members keep consuming through the rebalance. For a restart that
//! moves nothing at all:
//!
//! - set `GROUP_INSTANCE_ID` (`group.instance.id`) to a name that stays
//!   the same across the instance's restarts (a StatefulSet's pod name, a
//!   systemd instance name): the member does not leave at the close, its
//!   partitions wait for it, and the new process takes them back without
//!   a rebalance, from the offsets the old one committed;
//! - keep `SESSION_TIMEOUT_MS` (`session.timeout.ms`) above the longest
//!   restart (stop plus start): past it, the group gives the static
//!   member's partitions to the others; and keep the shutdown timeout
//!   (10 s here, plus the start) within the supervisor's budget
//!   (Kubernetes' `terminationGracePeriodSeconds`, Docker's
//!   `--stop-timeout`, systemd's `TimeoutStopSec`; `docs/deploying.md`).
//!   A static member that is stopped for good (a scale-down) holds its
//!   partitions for that long.
//!
//! | variable | default |
//! |---|---|
//! | `KAFKA_BROKERS` | `127.0.0.1:9092` (`bootstrap.servers`) |
//! | `TOPIC` | `graceful.jobs` |
//! | `GROUP` | `graceful-workers` (`group.id`) |
//! | `GROUP_INSTANCE_ID` | unset: a dynamic member (`group.instance.id`) |
//! | `ASSIGNMENT` | `cooperative-sticky` (`partition.assignment.strategy`) |
//! | `SESSION_TIMEOUT_MS` | `45000` (`session.timeout.ms`) |
//! | `KAFKA_DEBUG` | unset: librdkafka's `debug` contexts (`cgrp` for the group, `topic` for the offsets a commit takes), printed on stderr (rdkafka hands librdkafka's lines to the `log` crate; this example then installs a logger that prints them) |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/test` |
//! | `TABLE` | `graceful_jobs` (created if missing; letters, digits and `_`) |
//! | `CONSUMER_RUN` | `pid-<pid>`: stored with each row, to tell runs apart |
//!
//! `GRACEFUL_TIMEOUT` and `GRACEFUL_REPORT` work as for every
//! `#[graceful_main]` program. It prints `consuming TOPIC/GROUP` on stderr
//! once it has subscribed.

#[path = "consumers/jobs.rs"]
mod jobs;
#[path = "consumers/kafka.rs"]
mod kafka;

use std::sync::Arc;

use graceful_rt::{Cleanup, Shutdown, graceful_main};
use jobs::{Error, Jobs};
use kafka::{Offsets, WINDOW};
use rdkafka::consumer::{Consumer as _, StreamConsumer};
use sqlx::postgres::PgPool;
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

/// What the consumer holds, closed once `main` has stopped reading.
#[derive(Cleanup)]
struct State {
    /// The messages in progress: closed, then waited for.
    #[cleanup]
    work: TaskTracker,
    /// Closed once no message needs it.
    #[cleanup(after = "work")]
    db: PgPool,
    /// The stored offsets committed, then closed, once every message is
    /// done; cut after 5 s (a broker that is gone).
    #[cleanup(after = "work", timeout = "5s")]
    consumer: Arc<StreamConsumer>,
}

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<State, Error> {
    let jobs = Jobs::open().await?;
    let (consumer, name) = kafka::consumer()?;
    eprintln!("consuming {name}");
    shutdown.ready();

    let work = TaskTracker::new();
    let offsets = Offsets::default();
    let window = Arc::new(Semaphore::new(WINDOW));
    let mut received = 0_u64;
    loop {
        // Room in the window first, then the next message; the shutdown
        // ends either wait.
        let permit = tokio::select! {
            () = shutdown.requested() => break,
            permit = Arc::clone(&window).acquire_owned() => permit?,
        };
        let message = tokio::select! {
            () = shutdown.requested() => break,
            message = consumer.recv() => message,
        };
        match message {
            Ok(message) => {
                let message = message.detach();
                received += 1;
                offsets.received(&message);
                let task = kafka::handle(
                    jobs.clone(),
                    Arc::clone(&consumer),
                    offsets.clone(),
                    message,
                );
                work.spawn(async move {
                    task.await;
                    drop(permit);
                });
            }
            // The broker is unreachable, a partition is gone: librdkafka
            // says so and retries by itself. Only a fatal error ends the
            // consumer.
            Err(error) => {
                eprintln!("consumer: {error}");
                if let Some((code, reason)) = consumer.client().fatal_error() {
                    eprintln!("consumer failed ({code}: {reason}); stopping");
                    break;
                }
            }
        }
    }
    eprintln!(
        "stopped consuming {name} after {received} messages; {} in progress",
        work.len()
    );
    Ok(State {
        work,
        db: jobs.db,
        consumer,
    })
}
