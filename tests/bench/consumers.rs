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
        let mut failed = Vec::new();
        for _ in 0..runs {
            for (consumer, results) in [
                (Consumer::Graceful, &mut ours),
                (Consumer::Plain, &mut plain),
            ] {
                // A run that fails (a check of run_once's) is counted and
                // said, not the end of the whole bench.
                let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    consumers::run_once(broker, consumer, &rt, &db)
                }));
                match run {
                    Ok(result) => results.push(result),
                    Err(panic) => failed.push(format!("{consumer}: {}", first_line(&*panic))),
                }
            }
        }
        rt.block_on(db.close());
        lines.push(consumers::summary(broker, Consumer::Graceful, &ours));
        lines.push(consumers::summary(broker, Consumer::Plain, &plain));
        for failure in failed {
            lines.push(format!("{}: a run failed: {failure}", broker.name()));
        }
    }
    lines.join("\n")
}

/// The first line of a panic's message.
fn first_line(panic: &(dyn std::any::Any + Send)) -> String {
    let text = panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|text| (*text).to_owned()))
        .unwrap_or_default();
    text.lines().next().unwrap_or_default().to_owned()
}
