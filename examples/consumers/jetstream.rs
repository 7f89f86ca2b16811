//! The JetStream side of the NATS consumers: the durable pull consumer, and
//! what they do with each message (the job, then the ack, so a message is
//! acked only once its row is stored). Shared by `examples/nats_consumer.rs`
//! and its plain-tokio twin (`tests/fixtures/plain_nats_consumer.rs`),
//! which differ only in how they stop.

use std::time::Duration;

use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind};

use crate::jobs::{Error, Jobs, env_or, message_id};

/// The window: at most this many messages in progress, and unacked (the
/// consumer's `max_ack_pending`).
pub(crate) const WINDOW: usize = 16;

/// The stream `STREAM` (on subjects `<STREAM>.>`) and its durable consumer
/// `CONSUMER` with explicit acks, `ACK_WAIT` seconds and `max_ack_pending`
/// of [`WINDOW`], each created if missing. Returns the consumer and its
/// name, `STREAM/CONSUMER`.
pub(crate) async fn durable_consumer(
    nats: &async_nats::Client,
) -> Result<(PullConsumer, String), Error> {
    let stream_name = env_or("STREAM", "GRACEFUL_JOBS");
    let durable = env_or("CONSUMER", "graceful-worker");
    let ack_wait = Duration::from_secs(env_or("ACK_WAIT", "30").parse()?);
    let stream = jetstream::new(nats.clone())
        .get_or_create_stream(jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![format!("{stream_name}.>")],
            ..jetstream::stream::Config::default()
        })
        .await?;
    let consumer = stream
        .get_or_create_consumer(
            &durable,
            pull::Config {
                durable_name: Some(durable.clone()),
                ack_policy: AckPolicy::Explicit,
                ack_wait,
                // The server's side of the window, as RabbitMQ's prefetch.
                max_ack_pending: WINDOW as i64,
                ..pull::Config::default()
            },
        )
        .await?;
    Ok((consumer, format!("{stream_name}/{durable}")))
}

/// The job, then the ack; a failed job is nacked (to be redelivered), a
/// payload that is not an id terminated (never redelivered).
pub(crate) async fn handle(jobs: Jobs, message: jetstream::Message) {
    let Some(id) = message_id(&message.payload) else {
        eprintln!("terminating a message whose payload is not an id");
        let _ = message.ack_with(AckKind::Term).await;
        return;
    };
    // The ack is buffered by the client; the client's close flushes it.
    let acked = match jobs.process(id).await {
        Ok(()) => message.ack().await,
        Err(error) => {
            eprintln!("message {id}: {error}; nacked");
            message.ack_with(AckKind::Nak(None)).await
        }
    };
    if let Err(error) = acked {
        eprintln!("message {id}: cannot ack: {error}");
    }
}
