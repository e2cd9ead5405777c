//! The embedded SQLite backend: the default, one file, no server to run.
//!
//! Writes go through a single-connection pool and begin `IMMEDIATE`, so
//! writers inside one process queue instead of failing with `SQLITE_BUSY`;
//! between processes the busy timeout waits. WAL lets reads run beside a
//! write, and `synchronous = NORMAL` in WAL mode keeps every acknowledged
//! commit through a killed process.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Transaction};

#[path = "../sql/common.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL implementation, compiled once per backend"
)]
mod common;

pub use common::SqlStore as SqliteStore;

type Db = sqlx::Sqlite;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Opens (creating if needed) and migrates the database at `url`
/// (`sqlite://path` or `sqlite::memory:`).
pub async fn connect(url: &str) -> Result<SqliteStore, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(15))
        // LIKE must honour case the way PostgreSQL's does; case-insensitive
        // matching uses lower-cased shadow columns instead.
        .pragma("case_sensitive_like", "ON");
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options.clone())
        .await?;
    MIGRATOR.run(&write).await?;
    // An in-memory database exists once per connection: share the writer.
    let read = if in_memory {
        write.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(options)
            .await?
    };
    Ok(SqliteStore { read, write })
}

async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin_with("BEGIN IMMEDIATE").await
}

/// One writer at a time already: event sequence numbers are handed out in
/// commit order.
async fn lock_outbox(_tx: &mut Transaction<'static, Db>) -> Result<(), sqlx::Error> {
    Ok(())
}

/// Errors that mean "the database is busy or gone; try again".
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        // SQLITE_BUSY, SQLITE_LOCKED and their extended codes.
        sqlx::Error::Database(e) => e
            .code()
            .and_then(|c| c.parse::<i32>().ok())
            .is_some_and(|c| matches!(c & 0xff, 5 | 6)),
        _ => false,
    }
}

/// SQLite has one writer at a time (`BEGIN IMMEDIATE` waits for it), so no
/// transaction is ever aborted for a conflict with another one.
fn is_conflict(_err: &sqlx::Error) -> bool {
    false
}
