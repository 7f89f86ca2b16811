//! Figure 14: queue consumers stopped half-way through 1,000 messages, then
//! restarted (tests/support/consumers.rs): ours (`examples/*_consumer.rs`,
//! SIGTERM) against the same consumers written with plain tokio and
//! `ctrl_c` (`tests/fixtures/plain_*_consumer.rs`, SIGINT), interleaved
//! runs, for RabbitMQ, NATS JetStream and Kafka (tansu, which the
//! benchmark installs on first use and runs: `support::kafka`): ids
//! missing and rows duplicated.
//! tests/consumers.rs asserts ours alone.

use super::support::consumers::{self, Broker, Consumer};

/// Measures both brokers, `runs` interleaved runs of each consumer, and
/// returns the figure's lines.
pub(crate) fn figure(runs: usize) -> String {
    let rt = consumers::runtime();
    let mut lines = Vec::new();
    for broker in [Broker::RabbitMq, Broker::Nats, Broker::Kafka] {
        let _kafka = (broker == Broker::Kafka).then(consumers::kafka_broker);
        let db = consumers::database(broker, &rt);
        let (mut ours, mut plain) = (Vec::new(), Vec::new());
        for _ in 0..runs {
            ours.push(consumers::run_once(broker, Consumer::Graceful, &rt, &db));
            plain.push(consumers::run_once(broker, Consumer::Plain, &rt, &db));
        }
        rt.block_on(db.close());
        lines.push(consumers::summary(broker, Consumer::Graceful, &ours));
        lines.push(consumers::summary(broker, Consumer::Plain, &plain));
    }
    lines.join("\n")
}
