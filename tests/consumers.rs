//! Queue consumers stopped half-way through a backlog, then restarted:
//! does every message end up processed exactly once?
//!
//! For each broker (RabbitMQ, NATS JetStream, Kafka), our consumer
//! (`examples/rabbitmq_consumer.rs`, `examples/nats_consumer.rs`,
//! `examples/kafka_consumer.rs`), each run (tests/support/consumers.rs):
//!
//! 1. makes a fresh queue (or stream, or topic of 4 partitions) and table,
//!    and publishes 1,000 persistent messages whose bodies are the ids
//!    0..999 (confirmed by the broker);
//! 2. starts the consumer; each message takes 5 ms of work, then the
//!    consumer inserts a row `(message_id, consumer_run)` and acks it (Kafka:
//!    stores its offset, committed every second and at the close);
//! 3. once about half the rows exist, sends SIGTERM (what Docker,
//!    Kubernetes and systemd send), and waits for the exit;
//! 4. starts a second run of the same consumer and lets it consume the
//!    rest: until every id has a row and the broker holds nothing for the
//!    consumer (JetStream: nothing pending or unacked; a message the first
//!    run received and never acked comes back after the consumer's
//!    `ack_wait`, set to 3 s here; Kafka: the group has committed every
//!    message), plus a settle time for late duplicates;
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
//! test fails, saying how to start the one that does not answer. The Kafka
//! broker is tansu, a Kafka-compatible broker written in Rust, which the
//! test installs on first use (`cargo install`, into
//! `~/.cache/graceful-tests`) and runs itself, one process for all the runs
//! (`support::kafka`).
//!
//! A last test stops the Kafka broker (SIGKILL) under a consumer, then
//! sends the consumer SIGTERM: the exit must come within the consumer's
//! close timeout (5 s) plus slack, and the report must name the consumer's
//! close as cut.

mod support;

use std::time::{Duration, Instant};

use support::consumers::{self, Broker, Consumer};
use support::kafka::{self, Tansu};
use support::servers::{self, POSTGRES};
use support::{Process, Signal, read_report, report_path};

fn ours(broker: Broker) {
    let _kafka = (broker == Broker::Kafka).then(consumers::kafka_broker);
    let rt = consumers::runtime();
    let db = consumers::database(broker, &rt);
    // Ten runs a broker, Kafka too. Kafka ran once for a while: 4 of 121
    // runs against tansu failed on 2026-12-07 (3 with 4-5 duplicates, 1
    // with a partition committed 4 behind for good), and earlier 5 of 95.
    // The cause was the example's, found with librdkafka's lines
    // (`KAFKA_DEBUG`) and the check of the group's offsets after the first
    // run: the close committed a partition's stored offset 5 short of its
    // work, because two messages that finished at once stored their
    // offsets in the wrong order (a store is an overwrite). Each offset is
    // now stored under the lock that computed it: 0 of 160 since.
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

#[test]
fn kafka_consumer_stopped_half_way_then_restarted_processes_every_message_once() {
    ours(Broker::Kafka);
}

/// The close timeout of `examples/kafka_consumer.rs`'s consumer.
const KAFKA_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn kafka_consumer_whose_broker_is_gone_exits_within_its_close_timeout_and_names_it() {
    POSTGRES.require();
    let mut tansu = Tansu::start();
    let bootstrap = tansu.bootstrap();
    let name = servers::run_id("kafka_gone");
    let rt = consumers::runtime();
    let db = rt
        .block_on(sqlx::PgPool::connect(POSTGRES.url))
        .unwrap_or_else(|error| panic!("cannot connect to {}: {error}", POSTGRES.url));
    rt.block_on(async {
        kafka::create_topic(&bootstrap, &name, 4).await;
        kafka::publish(&bootstrap, &name, (0..1000).map(|id| id.to_string())).await;
    });
    let report = report_path("kafka-broker-gone");
    let report_arg = report.to_str().unwrap().to_owned();
    let mut consumer = Process::start(
        "kafka_consumer",
        &[
            ("DATABASE_URL", POSTGRES.url),
            ("TABLE", &name),
            ("KAFKA_BROKERS", &bootstrap),
            ("TOPIC", &name),
            ("GROUP", &name),
            ("GRACEFUL_REPORT", &report_arg),
        ],
    );
    consumer.wait_for_stderr("consuming ", Duration::from_secs(60));
    // Consuming: rows are being stored.
    let count = format!("SELECT count(*) FROM {name}");
    let bound = Instant::now() + Duration::from_secs(60);
    let consuming = rt.block_on(async {
        loop {
            let rows: Result<i64, _> = sqlx::query_scalar(sqlx::AssertSqlSafe(count.clone()))
                .fetch_one(&db)
                .await;
            if rows.is_ok_and(|rows| rows >= 100) {
                return true;
            }
            if Instant::now() > bound {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    });
    if !consuming {
        consumer.signal(Signal::SIGKILL);
        let exit = consumer.wait_exit(Duration::from_secs(20));
        panic!(
            "the consumer stored fewer than 100 rows in 60 s; stderr:\n{}",
            exit.stderr_text()
        );
    }

    tansu.kill();
    let sent = consumer.signal(Signal::SIGTERM);
    let exit = consumer.wait_exit(Duration::from_secs(20));
    let took = exit.at - sent;
    rt.block_on(async {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE IF EXISTS {name}")))
            .execute(&db)
            .await;
        db.close().await;
    });
    eprintln!(
        "broker gone: the consumer exited {:.0} ms after SIGTERM, code {:?}",
        took.as_secs_f64() * 1e3,
        exit.code()
    );
    let slack = Duration::from_secs(3);
    assert!(
        took < KAFKA_CLOSE_TIMEOUT + slack,
        "the consumer took {took:?} to exit, its close timeout being {KAFKA_CLOSE_TIMEOUT:?}; stderr:\n{}",
        exit.stderr_text()
    );
    let report = read_report(&report);
    eprintln!("broker gone: report {report}");
    let closes = report["closes"].as_array().expect("closes");
    let close = closes
        .iter()
        .find(|close| close["name"] == "consumer")
        .unwrap_or_else(|| panic!("no close named consumer in the report: {report}"));
    assert!(
        close["outcome"] == "timed_out" || close["outcome"] == "failed",
        "the consumer's close: {close}"
    );
    // The others closed: the messages in progress finished, the pool closed.
    for other in ["work", "db"] {
        let entry = closes
            .iter()
            .find(|close| close["name"] == other)
            .unwrap_or_else(|| panic!("no close named {other} in the report: {report}"));
        assert_eq!(entry["outcome"], "closed", "{other}: {entry}");
    }
    // Not the deadline: the close's own timeout ended it, and the exit
    // says a close failed (1).
    assert_eq!(report["outcome"], "cleanup_failed", "{report}");
    assert_eq!(exit.code(), Some(1), "{report}");
    assert_eq!(
        exit.code(),
        report["exit_code"].as_i64().map(|code| code as i32)
    );
}
