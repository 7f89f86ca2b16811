//! What the RabbitMQ consumers do with each delivery: the job, then the ack,
//! so a message is acked only once its row is stored. Shared by
//! `examples/rabbitmq_consumer.rs` and its plain-tokio twin
//! (`tests/fixtures/plain_rabbitmq_consumer.rs`), which differ only in how
//! they stop.

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};

use crate::jobs::{Jobs, message_id};

/// The job, then the ack; a failed job is requeued, a body that is not an
/// id rejected.
pub(crate) async fn handle(jobs: Jobs, delivery: Delivery) {
    let Some(id) = message_id(&delivery.data) else {
        eprintln!("rejecting a message whose body is not an id");
        let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
        return;
    };
    let acked = match jobs.process(id).await {
        Ok(()) => delivery.ack(BasicAckOptions::default()).await,
        Err(error) => {
            eprintln!("message {id}: {error}; requeued");
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        }
    };
    if let Err(error) = acked {
        eprintln!("message {id}: cannot ack: {error}");
    }
}
