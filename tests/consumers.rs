//! Queue consumers stopped half-way through a backlog, then restarted:
//! does every message end up processed exactly once?
//!
//! For each broker (RabbitMQ, NATS JetStream), our consumer
//! (`examples/rabbitmq_consumer.rs`, `examples/nats_consumer.rs`), each
//! run (tests/support/consumers.rs):
//!
//! 1. makes a fresh queue (or stream) and table, and publishes 1,000
//!    persistent messages whose bodies are the ids 0..999 (confirmed by the
//!    broker);
//! 2. starts the consumer; each message takes 5 ms of work, then the
//!    consumer inserts a row `(message_id, consumer_run)` and acks it;
//! 3. once about half the rows exist, sends SIGTERM (what Docker,
//!    Kubernetes and systemd send), and waits for the exit;
//! 4. starts a second run of the same consumer and lets it consume the
//!    rest: until every id has a row and the broker holds nothing for the
//!    consumer (JetStream: nothing pending or unacked; a message the first
//!    run received and never acked comes back after the consumer's
//!    `ack_wait`, set to 3 s here), plus a settle time for late duplicates;
//!    then stops it the same way;
//! 5. counts the ids with no row (missing) and the rows beyond one per id
//!    (duplicates).
//!
//! Ours must show 0 missing and 0 duplicates on every run, and exit 0 after
//! its cleanup. `RUNS` sets the number of runs (default 10); `cargo test
//! --test consumers -- --nocapture` prints each run and a summary. The same
//! consumers written with plain tokio and `ctrl_c`
//! (`tests/fixtures/plain_*_consumer.rs`, sent SIGINT, the signal their code
//! handles) are the comparison, measured beside ours by the benchmark
//! (`BENCH_FIGURES=consumers cargo bench --bench process`).
//!
//! PostgreSQL, RabbitMQ and NATS must be running (see `support::servers`): a
//! test fails, saying how to start the one that does not answer.

mod support;

use support::consumers::{self, Broker, Consumer};

fn ours(broker: Broker) {
    let rt = consumers::runtime();
    let db = consumers::database(broker, &rt);
    let runs = consumers::runs();
    assert!(runs > 0, "RUNS must be at least 1");
    let outcomes: Vec<_> = (0..runs)
        .map(|_| consumers::run_once(broker, Consumer::Graceful, &rt, &db))
        .collect();
    rt.block_on(db.close());
    let summary = consumers::summary(broker, Consumer::Graceful, &outcomes);
    eprintln!("{summary}");
    for (run, outcome) in outcomes.iter().enumerate() {
        assert!(
            outcome.missing == 0 && outcome.duplicates == 0,
            "{} run {run}: {} missing, {} duplicates\n{summary}",
            broker.name(),
            outcome.missing,
            outcome.duplicates
        );
    }
}

#[test]
fn rabbitmq_consumer_stopped_half_way_then_restarted_processes_every_message_once() {
    ours(Broker::RabbitMq);
}

#[test]
fn nats_consumer_stopped_half_way_then_restarted_processes_every_message_once() {
    ours(Broker::Nats);
}
