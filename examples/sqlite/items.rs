//! The `items` table (SQLite) behind `POST /items` and `GET /items/count`.
//! Shared by `examples/service.rs` and the plain-axum fixture it is
//! compared with (`tests/fixtures/baseline_axum.rs`), so that both serve
//! the same database work.

use std::path::PathBuf;
use std::str::FromStr as _;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// Opens the database at `DATABASE_PATH` (default: `<default_dir>/items.db`
/// in the temp directory), in WAL mode, creating it and the table if
/// missing.
pub(crate) async fn open(default_dir: &str) -> Result<SqlitePool, sqlx::Error> {
    let path = std::env::var_os("DATABASE_PATH").map_or_else(
        || std::env::temp_dir().join(default_dir).join("items.db"),
        PathBuf::from,
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let options = SqliteConnectOptions::from_str("sqlite:")?
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(5));
    let db = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY AUTOINCREMENT, created TEXT NOT NULL)",
    )
    .execute(&db)
    .await?;
    Ok(db)
}

/// Inserts an item in a transaction of its own; returns its id.
pub(crate) async fn insert(db: &SqlitePool) -> Result<i64, sqlx::Error> {
    let mut transaction = db.begin().await?;
    let id: i64 =
        sqlx::query_scalar("INSERT INTO items (created) VALUES (datetime('now')) RETURNING id")
            .fetch_one(&mut *transaction)
            .await?;
    transaction.commit().await?;
    Ok(id)
}

/// How many items are stored.
pub(crate) async fn count(db: &SqlitePool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM items")
        .fetch_one(db)
        .await
}
