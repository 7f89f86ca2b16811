//! A NATS JetStream consumer that stops without losing or redoing a
//! message: a durable pull consumer with explicit acks, a window of 16
//! messages processed concurrently, and a durable side effect (a
//! PostgreSQL row) per message.
//!
//! ```sh
//! cargo run --example nats_consumer    # then press Ctrl-C, or: kill -TERM <pid>
//! ```
//!
//! Each message's payload is its id (a number). Its work takes 5 ms, then
//! inserts the row `(message_id, consumer_run)` and acks the message.
//!
//! It pulls as many messages as its window has room for (a pull request of
//! that batch size, held by the server for at most a second), runs each on
//! a task and pulls again as tasks finish. At SIGTERM (or SIGINT) it stops
//! pulling: the pull request in flight is read to its end (the server may
//! still be delivering to it; at most a second when the stream is empty),
//! and every message it delivered is processed and acked. Then `main`
//! returns its state, and the cleanup closes it in order:
//!
//! 1. `work`, the `TaskTracker` running the messages in progress, is waited
//!    for: every message received has been inserted and acked;
//! 2. then `db` (the pool: sessions end with a protocol goodbye) and `nats`
//!    (flushed, so every ack is written to the server, then drained).
//!
//! ## What this guarantees, and what it does not
//!
//! JetStream delivers **at least once**: a message not acked within the
//! consumer's `ack_wait` is delivered again. A clean stop of this consumer
//! leaves nothing in that state, so a restart (a deploy, a scale-down)
//! redoes nothing and skips nothing: `tests/consumers.rs` stops it half-way
//! through 1,000 messages, ten times, and finds every id stored exactly
//! once. A crash is another matter: SIGKILL, an OOM kill, a power loss or a
//! lost connection between the INSERT and the ack, and the server
//! redelivers (after `ack_wait`) a message whose row is already stored; so
//! does work that outlasts `ack_wait`. **Exactly-once effects need an
//! idempotent key**: a primary key on `message_id` and `INSERT ... ON
//! CONFLICT (message_id) DO NOTHING`, or the effect and a processed-ids
//! table in one transaction (JetStream's own "exactly once" is about
//! publishing and double acks, not about your side effects). This example
//! inserts without one, on purpose, so that a duplicate shows as a second
//! row (the test counts them).
//!
//! A message whose payload is not a number is terminated (never
//! redelivered); one whose INSERT fails is nacked, to be redelivered.
//!
//! | variable | default |
//! |---|---|
//! | `NATS_URL` | `nats://127.0.0.1:4222` |
//! | `STREAM` | `GRACEFUL_JOBS`, on subjects `<STREAM>.>` (created if missing) |
//! | `CONSUMER` | `graceful-worker`: the durable consumer (created if missing) |
//! | `ACK_WAIT` | `30`: the consumer's `ack_wait` in seconds, when this creates it |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/test` |
//! | `TABLE` | `graceful_jobs` (created if missing; letters, digits and `_`) |
//! | `CONSUMER_RUN` | `pid-<pid>`: stored with each row, to tell runs apart |
//!
//! `GRACEFUL_TIMEOUT` and `GRACEFUL_REPORT` work as for every
//! `#[graceful_main]` program. It prints `consuming STREAM/CONSUMER` on
//! stderr once its consumer is ready.

#[path = "consumers/jetstream.rs"]
mod jetstream;
#[path = "consumers/jobs.rs"]
mod jobs;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use graceful_rt::{Cleanup, Shutdown, graceful_main};
use jetstream::WINDOW;
use jobs::{Error, Jobs, env_or};
use sqlx::postgres::PgPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::task::TaskTracker;

/// How long the server holds a pull request that is not yet full.
const PULL_EXPIRES: Duration = Duration::from_secs(1);

/// What the consumer holds, closed once `main` has stopped pulling.
#[derive(Cleanup)]
struct Consumer {
    /// The messages in progress: closed, then waited for.
    #[cleanup]
    work: TaskTracker,
    /// Closed once no message needs it.
    #[cleanup(after = "work")]
    db: PgPool,
    /// Flushed (the acks of the last messages), then drained, once every
    /// message has been acked.
    #[cleanup(after = "work")]
    nats: async_nats::Client,
}

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<Consumer, Error> {
    let jobs = Jobs::open().await?;
    let nats_url = env_or("NATS_URL", "nats://127.0.0.1:4222");
    let nats = async_nats::connect(&nats_url)
        .await
        .map_err(|error| format!("cannot connect to {nats_url}: {error}"))?;
    let (consumer, name) = jetstream::durable_consumer(&nats).await?;
    eprintln!("consuming {name}");
    shutdown.ready();

    let work = TaskTracker::new();
    let window = Arc::new(Semaphore::new(WINDOW));
    let mut received = 0_u64;
    'pulling: loop {
        // Wait for room in the window: one free slot, then every other.
        let mut room: Vec<OwnedSemaphorePermit> = tokio::select! {
            () = shutdown.requested() => break 'pulling,
            permit = Arc::clone(&window).acquire_owned() => vec![permit?],
        };
        while let Ok(permit) = Arc::clone(&window).try_acquire_owned() {
            room.push(permit);
        }
        if shutdown.is_requested() {
            break;
        }
        let mut batch = match consumer
            .batch()
            .max_messages(room.len())
            .expires(PULL_EXPIRES)
            .messages()
            .await
        {
            Ok(batch) => batch,
            Err(error) => {
                eprintln!("pull request failed: {error}; retrying");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        // Read to the end of the pull request, even once the shutdown has
        // started: what the server delivers to it is ours to finish.
        while let Some(message) = batch.next().await {
            match message {
                Ok(message) => {
                    received += 1;
                    let permit = room.pop().expect("a batch never exceeds its size");
                    let jobs = jobs.clone();
                    // The window's slot is freed when the message is done.
                    work.spawn(async move {
                        jetstream::handle(jobs, message).await;
                        drop(permit);
                    });
                }
                Err(error) => eprintln!("pull request: {error}"),
            }
        }
    }
    eprintln!(
        "stopped pulling from {name} after {received} messages; {} in progress",
        work.len()
    );
    Ok(Consumer {
        work,
        db: jobs.db,
        nats,
    })
}
