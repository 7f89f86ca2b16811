//! The job the queue consumer examples do for each message, and the table
//! that records it: shared by `examples/rabbitmq_consumer.rs`,
//! `examples/nats_consumer.rs` and their plain-tokio twins
//! (`tests/fixtures/plain_*_consumer.rs`), so that the consumers
//! `tests/consumers.rs` compares differ only in how they stop.
//!
//! A message's body is its id (a number). Its job takes 5 ms of work, then
//! inserts the row `(message_id, consumer_run)`: the durable side effect.
//! The table has no unique key on `message_id`, on purpose, so that a
//! message done twice shows as a second row.

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub(crate) type Error = Box<dyn std::error::Error + Send + Sync>;

/// The work each message takes before its side effect.
const WORK: Duration = Duration::from_millis(5);

/// The variable `name`, or `default`.
pub(crate) fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// The message id a body carries, if it is one.
pub(crate) fn message_id(body: &[u8]) -> Option<i64> {
    std::str::from_utf8(body).ok()?.trim().parse().ok()
}

/// What each message's task needs: cheap to clone.
#[derive(Clone)]
pub(crate) struct Jobs {
    pub(crate) db: PgPool,
    /// `INSERT INTO <table> ...`, made once.
    insert: Arc<str>,
    /// `CONSUMER_RUN`, stored with each row to tell runs apart.
    run: Arc<str>,
}

impl Jobs {
    /// Connects to `DATABASE_URL` and creates the table `TABLE` if it is
    /// missing; rows are stored under `CONSUMER_RUN` (default `pid-<pid>`).
    pub(crate) async fn open() -> Result<Jobs, Error> {
        let table = table_name()?;
        let url = env_or("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test");
        let db = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(PgConnectOptions::from_str(&url)?)
            .await
            .map_err(|error| format!("cannot connect to {url}: {error}"))?;
        sqlx::query(AssertSqlSafe(format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                message_id BIGINT NOT NULL,
                consumer_run TEXT NOT NULL,
                processed_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )"
        )))
        .execute(&db)
        .await?;
        Ok(Jobs {
            db,
            insert: format!("INSERT INTO {table} (message_id, consumer_run) VALUES ($1, $2)")
                .into(),
            run: env_or("CONSUMER_RUN", &format!("pid-{}", std::process::id())).into(),
        })
    }

    /// The job of message `id`: the work, then its row.
    pub(crate) async fn process(&self, id: i64) -> Result<(), sqlx::Error> {
        tokio::time::sleep(WORK).await;
        sqlx::query(AssertSqlSafe(Arc::clone(&self.insert)))
            .bind(id)
            .bind(&*self.run)
            .execute(&self.db)
            .await?;
        Ok(())
    }
}

/// `TABLE`, checked, since it goes into the SQL text.
fn table_name() -> Result<String, Error> {
    let table = env_or("TABLE", "graceful_jobs");
    let valid = table
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(table)
    } else {
        Err(format!("TABLE={table:?}: use letters, digits and `_` only").into())
    }
}
