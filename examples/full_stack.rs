//! The stack of the Node.js graceful-shutdown checklist, in Rust: an HTTP
//! API over PostgreSQL, Redis, NATS and RabbitMQ, with a scheduler, that
//! stops without losing a request, a message or a write.
//!
//! ```sh
//! cargo run --example full_stack       # then press Ctrl-C, or: kill -TERM <pid>
//! curl -X POST 'localhost:3000/orders?hold_ms=3000' &   # its transaction commits during the drain
//! curl -X POST 'localhost:3000/jobs?n=500'              # all 500 are confirmed by the broker before the exit
//! ```
//!
//! At the signal the server drains (in-flight requests finish, their
//! transactions commit), then the state is closed in this order:
//!
//! 1. `stop` is cancelled: the scheduler finishes its current tick and returns;
//! 2. `scheduler`, the `TaskTracker` that runs the scheduler and every
//!    background task a request started, is waited for;
//! 3. then, concurrently, each client finishes what it holds: `db` (the
//!    PostgreSQL pool: sessions end with a protocol goodbye), `redis` (a
//!    round trip behind every command sent), `nats` (flushed, then
//!    drained), `channel` (every publish confirmed by the broker);
//! 4. `connection` (AMQP) closes once `channel` has.
//!
//! | route | |
//! |---|---|
//! | `POST /orders?hold_ms=N` | inserts an order in a transaction, holds it open N ms, commits; `{"id": N}` |
//! | `POST /events?n=N` | 202 at once; a background task publishes N messages to NATS subject `<RUN_ID>.events` |
//! | `POST /cache?n=N` | 202 at once; a background task writes keys `<RUN_ID>:key:0..N` to Redis in one pipeline |
//! | `POST /jobs?n=N` | 202 at once; a background task publishes N persistent messages to the durable queue `<RUN_ID>.jobs`, confirms awaited at shutdown |
//! | `GET /healthz` | 200 while the process runs |
//! | `GET /readyz` | 200, then 503 from the signal on |
//!
//! Meanwhile the scheduler writes a heartbeat (the time, in ms since the
//! epoch) to the Redis key `<RUN_ID>:heartbeat` every 100 ms.
//!
//! | variable | default |
//! |---|---|
//! | `PORT` | `3000` (`0`: any free port) |
//! | `DATABASE_URL` | `postgres://postgres@127.0.0.1:5432/test` |
//! | `APP_NAME` | `graceful-full-stack`: the PostgreSQL `application_name` of its sessions |
//! | `REDIS_URL` | `redis://127.0.0.1:6379` |
//! | `NATS_URL` | `nats://127.0.0.1:4222` |
//! | `AMQP_URL` | `amqp://guest:guest@127.0.0.1:5672/%2f` |
//! | `RUN_ID` | `graceful`: the prefix of keys, subjects and queues, and the `run_id` of orders |
//!
//! Orders go to the table `graceful_orders`, created at startup if missing.
//! `GRACEFUL_TIMEOUT`, `GRACEFUL_DRAIN_DELAY` and `GRACEFUL_REPORT` work as
//! for every `#[graceful_main]` program. It prints `listening on
//! 127.0.0.1:PORT` when it accepts.

use std::str::FromStr as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use graceful_rt::http::Readiness;
use graceful_rt::{Cleanup, Shutdown, graceful_main};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, ConnectionProperties};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Deserialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The most a single request may ask a background task to send.
const MAX_BATCH: usize = 100_000;

/// What the service holds, closed after the server has drained.
#[derive(Cleanup)]
struct App {
    /// Cancelled first: the scheduler finishes its current tick and returns.
    #[cleanup]
    stop: CancellationToken,
    /// The scheduler and the background tasks requests started: closed,
    /// then waited for, so every message they send is handed to its client
    /// before the clients close.
    #[cleanup(after = "stop")]
    scheduler: TaskTracker,
    /// Waits for connections still checked out, then ends every session.
    #[cleanup(after = "scheduler")]
    db: PgPool,
    /// A round trip behind the last command sent.
    #[cleanup(after = "scheduler")]
    redis: ConnectionManager,
    /// Flushes what is buffered, then drains.
    #[cleanup(after = "scheduler")]
    nats: async_nats::Client,
    /// Waits until the broker has confirmed every publish, then closes.
    #[cleanup(after = "scheduler")]
    channel: lapin::Channel,
    /// Closed once the channel is.
    #[cleanup(after = "channel")]
    connection: lapin::Connection,
}

/// What the handlers share: clones of the state's clients.
#[derive(Clone)]
struct Handlers {
    run_id: String,
    db: PgPool,
    redis: ConnectionManager,
    nats: async_nats::Client,
    channel: lapin::Channel,
    tasks: TaskTracker,
}

#[graceful_main(timeout = "10s")]
async fn main(shutdown: Shutdown) -> Result<App, Error> {
    let run_id = env_or("RUN_ID", "graceful");
    let app = App::connect(&run_id).await?;
    app.scheduler.spawn(heartbeat(
        app.redis.clone(),
        format!("{run_id}:heartbeat"),
        app.stop.clone(),
    ));

    let handlers = Handlers {
        run_id,
        db: app.db.clone(),
        redis: app.redis.clone(),
        nats: app.nats.clone(),
        channel: app.channel.clone(),
        tasks: app.scheduler.clone(),
    };
    let router = Router::new()
        .route("/orders", post(create_order))
        .route("/events", post(publish_events))
        .route("/cache", post(fill_cache))
        .route("/jobs", post(enqueue_jobs))
        .route("/healthz", get(|| async { "ok\n" }))
        .route_service("/readyz", Readiness::new(shutdown.clone()))
        .with_state(handlers);

    let port: u16 = std::env::var("PORT").map_or(Ok(3000), |port| port.parse())?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("listening on {}", listener.local_addr()?);
    graceful_rt::http::serve(listener, router, shutdown).await?;
    Ok(app)
}

impl App {
    /// Connects every client; fails (and the process exits 1) if a server
    /// does not answer.
    async fn connect(run_id: &str) -> Result<App, Error> {
        let db = open_database().await?;

        let redis = redis::Client::open(env_or("REDIS_URL", "redis://127.0.0.1:6379"))?;
        // A pipeline of many writes takes longer than the default 500 ms.
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_secs(5)))
            .set_connection_timeout(Some(Duration::from_secs(3)));
        let redis = redis.get_connection_manager_with_config(config).await?;

        let nats = async_nats::connect(env_or("NATS_URL", "nats://127.0.0.1:4222")).await?;

        let amqp_url = env_or("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
        let connection = lapin::Connection::connect(&amqp_url, ConnectionProperties::default())
            .await
            .map_err(|error| format!("cannot connect to {amqp_url}: {error}"))?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .queue_declare(
                format!("{run_id}.jobs").as_str().into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;

        Ok(App {
            stop: CancellationToken::new(),
            scheduler: TaskTracker::new(),
            db,
            redis,
            nats,
            channel,
            connection,
        })
    }
}

async fn open_database() -> Result<PgPool, Error> {
    let url = env_or("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test");
    let options = PgConnectOptions::from_str(&url)?
        .application_name(&env_or("APP_NAME", "graceful-full-stack"));
    let db = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(options)
        .await
        .map_err(|error| format!("cannot connect to {url}: {error}"))?;
    // Several instances may start at once: one creates the table, the
    // others wait for it (a concurrent CREATE TABLE IF NOT EXISTS can fail).
    let mut transaction = db.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(7466122)")
        .execute(&mut *transaction)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS graceful_orders (
            id BIGSERIAL PRIMARY KEY,
            run_id TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )",
    )
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    Ok(db)
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The scheduler: every 100 ms, the time to `<RUN_ID>:heartbeat`. A tick
/// that has started is finished; cancellation is seen between ticks.
async fn heartbeat(mut redis: ConnectionManager, key: String, stop: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = interval.tick() => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_millis()
                    .to_string();
                let written: redis::RedisResult<()> = redis::cmd("SET")
                    .arg(&key)
                    .arg(now)
                    .query_async(&mut redis)
                    .await;
                if let Err(error) = written {
                    eprintln!("heartbeat: {error}");
                }
            }
        }
    }
}

#[derive(Deserialize)]
struct OrderParams {
    hold_ms: Option<u64>,
}

/// An order, inserted in a transaction held open `hold_ms`: the drain
/// waits for it to commit, and the pool's close for its connection.
async fn create_order(
    State(handlers): State<Handlers>,
    Query(params): Query<OrderParams>,
) -> Result<Json<serde_json::Value>, StatusCode> {
    let mut transaction = handlers.db.begin().await.map_err(internal)?;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO graceful_orders (run_id) VALUES ($1) RETURNING id")
            .bind(&handlers.run_id)
            .fetch_one(&mut *transaction)
            .await
            .map_err(internal)?;
    tokio::time::sleep(Duration::from_millis(params.hold_ms.unwrap_or(0))).await;
    transaction.commit().await.map_err(internal)?;
    Ok(Json(serde_json::json!({ "id": id })))
}

fn internal(error: sqlx::Error) -> StatusCode {
    eprintln!("database error: {error}");
    StatusCode::INTERNAL_SERVER_ERROR
}

#[derive(Deserialize)]
struct BatchParams {
    n: Option<usize>,
}

impl BatchParams {
    fn count(&self) -> Result<usize, StatusCode> {
        match self.n.unwrap_or(1) {
            n if n <= MAX_BATCH => Ok(n),
            _ => Err(StatusCode::BAD_REQUEST),
        }
    }
}

/// Publishes `n` messages to `<RUN_ID>.events` from a background task.
async fn publish_events(
    State(handlers): State<Handlers>,
    Query(params): Query<BatchParams>,
) -> Result<StatusCode, StatusCode> {
    let n = params.count()?;
    let subject = format!("{}.events", handlers.run_id);
    let nats = handlers.nats;
    handlers.tasks.spawn(async move {
        for i in 0..n {
            if let Err(error) = nats.publish(subject.clone(), i.to_string().into()).await {
                eprintln!("events: publish {i} of {n}: {error}");
                return;
            }
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// Writes `n` keys to Redis in one pipeline, from a background task.
async fn fill_cache(
    State(handlers): State<Handlers>,
    Query(params): Query<BatchParams>,
) -> Result<StatusCode, StatusCode> {
    let n = params.count()?;
    let mut redis = handlers.redis;
    let run_id = handlers.run_id;
    handlers.tasks.spawn(async move {
        let mut pipeline = redis::pipe();
        for i in 0..n {
            pipeline.set(format!("{run_id}:key:{i}"), i).ignore();
        }
        let written: redis::RedisResult<()> = pipeline.query_async(&mut redis).await;
        if let Err(error) = written {
            eprintln!("cache: pipeline of {n}: {error}");
        }
    });
    Ok(StatusCode::ACCEPTED)
}

/// Publishes `n` persistent messages to the durable queue `<RUN_ID>.jobs`
/// from a background task, without waiting for each confirm: the channel's
/// close waits for them all.
async fn enqueue_jobs(
    State(handlers): State<Handlers>,
    Query(params): Query<BatchParams>,
) -> Result<StatusCode, StatusCode> {
    let n = params.count()?;
    let queue = format!("{}.jobs", handlers.run_id);
    let channel = handlers.channel;
    handlers.tasks.spawn(async move {
        let persistent = BasicProperties::default().with_delivery_mode(2);
        for i in 0..n {
            let published = channel
                .basic_publish(
                    "".into(),
                    queue.as_str().into(),
                    BasicPublishOptions::default(),
                    i.to_string().as_bytes(),
                    persistent.clone(),
                )
                .await;
            // The confirm is dropped unawaited: the channel keeps it for
            // `wait_for_confirms`, which its close calls.
            if let Err(error) = published {
                eprintln!("jobs: publish {i} of {n}: {error}");
                return;
            }
        }
    });
    Ok(StatusCode::ACCEPTED)
}
