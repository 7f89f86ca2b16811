//! The `Close` implementations against real servers: the `full_stack`
//! example (axum over PostgreSQL, Redis, NATS and RabbitMQ) is started,
//! given work, sent a real SIGTERM, and the servers are asked afterwards
//! whether anything was lost. Every server must be running (see
//! `support::servers`): a test fails, saying how to start it, when one is
//! not. One test stops a PostgreSQL cluster of its own before the signal.

mod support;

use std::net::SocketAddr;
use std::thread;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use lapin::options::QueueDeleteOptions;
use serde_json::Value;
use support::http::{self, Response};
use support::servers::{
    self, FullStack, NATS, POSTGRES, PrivatePostgres, RABBITMQ, REDIS, amqp_channel, amqp_ready,
};
use support::{Exit, Signal};

/// How long a client waits for an answer before calling it lost.
const ANSWER: Duration = Duration::from_secs(10);
/// How long a process may take to exit after SIGTERM before the test fails
/// (its own timeout is 10 s).
const EXIT: Duration = Duration::from_secs(15);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().expect("cannot start a tokio runtime")
}

/// `POST path`, which must be answered.
fn post(address: SocketAddr, path: &str) -> Response {
    let mut stream = http::connect(address).expect("connect");
    let outcome = http::request(&mut stream, "POST", path, ANSWER);
    outcome
        .response()
        .unwrap_or_else(|| panic!("POST {path}: {outcome:?}"))
        .clone()
}

/// `POST path`, answered `202 Accepted`.
fn accepted(address: SocketAddr, path: &str) {
    let response = post(address, path);
    assert_eq!(response.status, 202, "POST {path}: {}", response.text());
}

fn exited_cleanly(exit: &Exit) {
    assert_eq!(exit.code(), Some(0), "{}", exit.stderr_text());
    let summary = exit.stderr_lines("shutdown complete");
    assert_eq!(summary.len(), 1, "{}", exit.stderr_text());
    assert!(summary[0].contains("exit code 0"), "{}", summary[0]);
}

/// Removes what a run of the example leaves on the shared servers (its
/// durable queue, its heartbeat key, its orders), when the test ends,
/// however it ends.
struct Leftovers {
    run_id: String,
    orders: bool,
}

impl Leftovers {
    fn new(run_id: &str) -> Leftovers {
        Leftovers {
            run_id: run_id.to_owned(),
            orders: false,
        }
    }
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let run_id = &self.run_id;
        let orders = self.orders;
        runtime().block_on(async move {
            if let Ok(channel) = amqp_channel().await {
                let _ = channel
                    .queue_delete(
                        format!("{run_id}.jobs").as_str().into(),
                        QueueDeleteOptions::default(),
                    )
                    .await;
            }
            if let Ok(mut redis) = redis_connection().await {
                let _: redis::RedisResult<()> = redis::cmd("DEL")
                    .arg(format!("{run_id}:heartbeat"))
                    .query_async(&mut redis)
                    .await;
            }
            if !orders {
                return;
            }
            if let Ok(db) = sqlx::PgPool::connect(POSTGRES.url).await {
                let _ = sqlx::query("DELETE FROM graceful_orders WHERE run_id = $1")
                    .bind(run_id)
                    .execute(&db)
                    .await;
                db.close().await;
            }
        });
    }
}

async fn redis_connection() -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    redis::Client::open(REDIS.url)?
        .get_multiplexed_async_connection()
        .await
}

/// Sessions of PostgreSQL whose `application_name` is `name`, in `state`
/// (any state if `None`).
async fn sessions(db: &sqlx::PgPool, name: &str, state: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE application_name = $1 AND ($2::text IS NULL OR state = $2)",
    )
    .bind(name)
    .bind(state)
    .fetch_one(db)
    .await
    .expect("cannot query pg_stat_activity")
}

/// Polls `check` every 10 ms until it holds, at most `bound`; returns how
/// long that took and how many checks it needed, or `None`.
async fn eventually<F: Future<Output = bool>>(
    bound: Duration,
    mut check: impl FnMut() -> F,
) -> Option<(Duration, u32)> {
    let start = Instant::now();
    let mut checks = 0;
    loop {
        checks += 1;
        if check().await {
            return Some((start.elapsed(), checks));
        }
        if start.elapsed() > bound {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn an_order_whose_transaction_is_open_at_sigterm_commits_and_its_session_ends() {
    servers::require_all();
    let run_id = servers::run_id("orders");
    let mut leftovers = Leftovers::new(&run_id);
    leftovers.orders = true;
    let rt = runtime();
    let db = rt
        .block_on(sqlx::PgPool::connect(POSTGRES.url))
        .expect("cannot connect to PostgreSQL");
    let app = FullStack::start(&run_id, &[]);

    let address = app.address;
    let client = thread::spawn(move || post(address, "/orders?hold_ms=1500"));
    // The handler has inserted its row and sleeps: its session is idle in
    // an open transaction.
    let (pool, name) = (&db, run_id.as_str());
    let open = rt.block_on(eventually(Duration::from_secs(5), move || async move {
        sessions(pool, name, Some("idle in transaction")).await == 1
    }));
    assert!(
        open.is_some(),
        "the order's transaction was never seen open in pg_stat_activity"
    );
    let sent = app.process.signal(Signal::SIGTERM);
    let response = client.join().unwrap();
    let exit = app.process.wait_exit(EXIT);
    let latency = exit.at - sent;
    eprintln!(
        "orders: response {:?} after SIGTERM, exit {latency:?} after SIGTERM",
        response.at - sent
    );

    exited_cleanly(&exit);
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(
        response.at > sent,
        "the request was answered before the signal"
    );
    let body: Value = serde_json::from_slice(&response.body).expect("the answer is not JSON");
    let id = body["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id in {body}"));

    let stored: Option<String> = rt
        .block_on(
            sqlx::query_scalar("SELECT run_id FROM graceful_orders WHERE id = $1")
                .bind(id)
                .fetch_optional(&db),
        )
        .unwrap();
    assert_eq!(
        stored.as_deref(),
        Some(run_id.as_str()),
        "order {id} was not committed"
    );
    // The pool ended its sessions with a protocol goodbye; the server
    // removes a backend from pg_stat_activity as it exits.
    let gone = rt.block_on(eventually(Duration::from_secs(2), move || async move {
        sessions(pool, name, None).await == 0
    }));
    if let Some((after, checks)) = gone {
        eprintln!(
            "orders: no session in pg_stat_activity {after:?} after the exit (check {checks})"
        );
    }
    assert!(
        gone.is_some(),
        "sessions of {run_id} are still in pg_stat_activity after the exit"
    );
    rt.block_on(db.close());
}

#[test]
fn every_nats_message_published_just_before_sigterm_is_delivered() {
    servers::require_all();
    let run_id = servers::run_id("events");
    let _leftovers = Leftovers::new(&run_id);
    let subject = format!("{run_id}.events");
    let rt = runtime();
    let client = rt
        .block_on(async_nats::connect(NATS.url))
        .expect("cannot connect to NATS");
    let mut subscriber = rt.block_on(async {
        let mut subscriber = client.subscribe(subject.clone()).await.unwrap();
        client.flush().await.unwrap();
        // A message of our own through the subscription proves the server
        // has registered it before the example publishes.
        client
            .publish(subject.clone(), "probe".into())
            .await
            .unwrap();
        client.flush().await.unwrap();
        let probe = tokio::time::timeout(Duration::from_secs(5), subscriber.next())
            .await
            .expect("the probe did not come back within 5 s")
            .unwrap();
        assert_eq!(&probe.payload[..], b"probe");
        subscriber
    });
    let app = FullStack::start(&run_id, &[]);

    accepted(app.address, "/events?n=1000");
    let sent = app.process.signal(Signal::SIGTERM);
    let received: Vec<String> = rt.block_on(async {
        let mut received = Vec::new();
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        while received.len() < 1000 {
            match tokio::time::timeout_at(until, subscriber.next()).await {
                Ok(Some(message)) => {
                    received.push(String::from_utf8_lossy(&message.payload).into_owned());
                }
                Ok(None) | Err(_) => break,
            }
        }
        received
    });
    let exit = app.process.wait_exit(EXIT);
    eprintln!(
        "events: {} of 1000 received, exit {:?} after SIGTERM",
        received.len(),
        exit.at - sent
    );
    exited_cleanly(&exit);
    let expected: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
    assert_eq!(
        received.len(),
        1000,
        "messages lost: {} of 1000 received",
        received.len()
    );
    assert_eq!(received, expected, "out of order or duplicated");
    rt.block_on(client.drain()).unwrap();
}

#[test]
fn every_redis_write_of_a_pipeline_sent_just_before_sigterm_is_stored() {
    servers::require_all();
    let run_id = servers::run_id("cache");
    let _leftovers = Leftovers::new(&run_id);
    let app = FullStack::start(&run_id, &[]);

    accepted(app.address, "/cache?n=10000");
    let sent = app.process.signal(Signal::SIGTERM);
    let exit = app.process.wait_exit(EXIT);
    eprintln!("cache: exit {:?} after SIGTERM", exit.at - sent);

    let keys: Vec<String> = (0..10_000).map(|i| format!("{run_id}:key:{i}")).collect();
    let rt = runtime();
    let (stored, heartbeat) = rt.block_on(async {
        let mut redis = redis_connection().await.expect("cannot connect to Redis");
        let stored: usize = redis::cmd("EXISTS")
            .arg(&keys)
            .query_async(&mut redis)
            .await
            .unwrap();
        let heartbeat: Option<String> = redis::cmd("GET")
            .arg(format!("{run_id}:heartbeat"))
            .query_async(&mut redis)
            .await
            .unwrap();
        let _: usize = redis::cmd("DEL")
            .arg(&keys)
            .query_async(&mut redis)
            .await
            .unwrap();
        (stored, heartbeat)
    });
    exited_cleanly(&exit);
    assert_eq!(stored, 10_000, "keys lost: {stored} of 10000 stored");
    assert!(
        heartbeat.is_some(),
        "the scheduler never wrote its heartbeat"
    );
}

#[test]
fn every_amqp_message_published_just_before_sigterm_is_confirmed_and_queued() {
    servers::require_all();
    let run_id = servers::run_id("jobs");
    let _leftovers = Leftovers::new(&run_id);
    let app = FullStack::start(&run_id, &[]);

    accepted(app.address, "/jobs?n=500");
    let sent = app.process.signal(Signal::SIGTERM);
    let exit = app.process.wait_exit(EXIT);
    eprintln!("jobs: exit {:?} after SIGTERM", exit.at - sent);

    let queue = format!("{run_id}.jobs");
    let queued = runtime().block_on(amqp_ready(&queue));
    exited_cleanly(&exit);
    assert_eq!(queued, 500, "messages lost: {queued} of 500 queued");
}

#[test]
fn a_database_that_stopped_fails_its_close_fast_and_every_other_close_still_runs() {
    for server in [&REDIS, &NATS, &RABBITMQ] {
        server.require();
    }
    let run_id = servers::run_id("db_gone");
    let _leftovers = Leftovers::new(&run_id);
    let mut postgres = PrivatePostgres::start();
    let report = support::report_path(&run_id);
    let app = FullStack::start(
        &run_id,
        &[
            ("DATABASE_URL", &postgres.url()),
            ("GRACEFUL_REPORT", report.to_str().unwrap()),
        ],
    );

    // The pool now holds an idle connection to the cluster.
    let response = post(app.address, "/orders");
    assert_eq!(response.status, 200, "{}", response.text());
    let stopping = Instant::now();
    postgres.stop();
    eprintln!("db-gone: cluster stopped in {:?}", stopping.elapsed());
    let sent = app.process.signal(Signal::SIGTERM);
    let exit = app.process.wait_exit(EXIT);
    let latency = exit.at - sent;
    eprintln!("db-gone: exit {latency:?} after SIGTERM");

    assert_eq!(exit.code(), Some(1), "{}", exit.stderr_text());
    let report = support::read_report(&report);
    assert_eq!(report["outcome"], "cleanup_failed", "{report:#}");
    let closes = report["closes"].as_array().unwrap();
    let close = |name: &str| -> &Value {
        closes
            .iter()
            .find(|close| close["name"] == name)
            .unwrap_or_else(|| panic!("no close {name} in {report:#}"))
    };
    let db = close("db");
    assert_eq!(db["outcome"], "failed", "{db}");
    let error = db["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the database did not answer"),
        "db error: {error:?}"
    );
    for name in [
        "stop",
        "scheduler",
        "redis",
        "nats",
        "channel",
        "connection",
    ] {
        assert_eq!(close(name)["outcome"], "closed", "{name}: {}", close(name));
    }
    eprintln!(
        "db-gone: db close failed in {} ms: {error}; cleanup {} ms",
        db["duration_ms"], report["cleanup_ms"]
    );
    assert!(
        latency < Duration::from_secs(2),
        "took {latency:?} to exit: a database that is gone must fail fast, not wait out the 10 s timeout"
    );
}
