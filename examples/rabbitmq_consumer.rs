//! A RabbitMQ consumer that stops without losing or redoing a message:
//! manual acks, a prefetch window of 16 messages processed concurrently,
//! and a durable side effect (a PostgreSQL row) per message.
//!
//! ```sh
//! cargo run --example rabbitmq_consumer    # then press Ctrl-C, or: kill -TERM <pid>
//! ```
//!
//! Each message's body is its id (a number). Its work takes 5 ms, then
//! inserts the row `(message_id, consumer_run)` and acks the message.
//!
//! At SIGTERM (or SIGINT) it cancels its consumer (`basic.cancel`): the
//! broker sends nothing more, and the messages it had already sent (at most
//! the prefetch window) still come through the consumer's stream before it
//! ends. Every one of them is processed and acked. Then `main` returns its
//! state, and the cleanup closes it in order:
//!
//! 1. `work`, the `TaskTracker` running the messages in progress, is waited
//!    for: every message received has been inserted and acked;
//! 2. then `db` (the pool: sessions end with a protocol goodbye) and
//!    `channel` (closed with reply code 200, after the acks it carries);
//! 3. `connection` closes once `channel` has.
//!
//! ## What this guarantees, and what it does not
//!
//! RabbitMQ delivers **at least once**: a message not acked when its
//! channel closes is delivered again. A clean stop of this consumer leaves
//! nothing in that state, so a restart (a deploy, a scale-down) redoes
//! nothing and skips nothing: `tests/consumers.rs` stops it half-way
//! through 1,000 messages, ten times, and finds every id stored exactly
//! once. A crash is another matter: SIGKILL, an OOM kill, a power loss or a
//! lost connection between the INSERT and the ack, and the broker redelivers
//! a message whose row is already stored. **Exactly-once effects need an
//! idempotent key**: a primary key on `message_id` and `INSERT ... ON
//! CONFLICT (message_id) DO NOTHING`, or the effect and a processed-ids
//! table in one transaction. This example inserts without one, on purpose,
//! so that a duplicate shows as a second row (the test counts them).
//!
//! A message whose body is not a number is rejected (not requeued); one
//! whose INSERT fails is nacked and requeued.
//!
//! | variable | default |
//! |---|---|
//! | `AMQP_URL` | `amqp://guest:guest@127.0.0.1:5672/%2f` |
//! | `QUEUE` | `graceful.jobs` (declared durable if missing) |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/test` |
//! | `TABLE` | `graceful_jobs` (created if missing; letters, digits and `_`) |
//! | `CONSUMER_RUN` | `pid-<pid>`: stored with each row, to tell runs apart |
//!
//! `GRACEFUL_TIMEOUT` and `GRACEFUL_REPORT` work as for every
//! `#[graceful_main]` program. It prints `consuming QUEUE` on stderr once
//! its consumer is registered.

#[path = "consumers/amqp.rs"]
mod amqp;
#[path = "consumers/jobs.rs"]
mod jobs;

use futures_util::StreamExt as _;
use graceful_rt::{Cleanup, Shutdown, graceful_main};
use jobs::{Error, Jobs, env_or};
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};
use sqlx::postgres::PgPool;
use tokio_util::task::TaskTracker;

/// The prefetch window: at most this many messages unacked, all processed
/// concurrently.
const PREFETCH: u16 = 16;

/// What the consumer holds, closed once `main` has stopped consuming.
#[derive(Cleanup)]
struct Consumer {
    /// The messages in progress: closed, then waited for.
    #[cleanup]
    work: TaskTracker,
    /// Closed once no message needs it.
    #[cleanup(after = "work")]
    db: PgPool,
    /// Closed once every message on it has been acked.
    #[cleanup(after = "work")]
    channel: lapin::Channel,
    /// Closed once the channel is.
    #[cleanup(after = "channel")]
    connection: Connection,
}

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<Consumer, Error> {
    let queue = env_or("QUEUE", "graceful.jobs");
    let jobs = Jobs::open().await?;

    let amqp_url = env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
    let connection = Connection::connect(&amqp_url, ConnectionProperties::default())
        .await
        .map_err(|error| format!("cannot connect to {amqp_url}: {error}"))?;
    let channel = connection.create_channel().await?;
    // The window: the broker sends at most PREFETCH messages that this
    // channel has not acked.
    channel
        .basic_qos(PREFETCH, BasicQosOptions::default())
        .await?;
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    // Manual acks (`no_ack: false`, the default).
    let mut deliveries = channel
        .basic_consume(
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    eprintln!("consuming {queue}");
    shutdown.ready();

    let work = TaskTracker::new();
    let mut received = 0_u64;
    let mut cancelled = false;
    loop {
        tokio::select! {
            () = shutdown.requested(), if !cancelled => {
                // The broker sends nothing after its cancel-ok; what it sent
                // before is already in the stream, which then ends.
                channel
                    .basic_cancel(deliveries.tag(), BasicCancelOptions::default())
                    .await?;
                cancelled = true;
                eprintln!(
                    "stopped consuming {queue} after {received} messages; {} in progress",
                    work.len()
                );
            }
            delivery = deliveries.next() => match delivery {
                Some(Ok(delivery)) => {
                    received += 1;
                    work.spawn(amqp::handle(jobs.clone(), delivery));
                }
                Some(Err(error)) => return Err(error.into()),
                // Cancelled, by us or by the broker (queue deleted).
                None => break,
            },
        }
    }
    eprintln!("{received} messages received; finishing those in progress");
    Ok(Consumer {
        work,
        db: jobs.db,
        channel,
        connection,
    })
}
