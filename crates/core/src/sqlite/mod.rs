//! The embedded SQLite backend: the default, one file, no server to run.
//!
//! Writes go through a single-connection pool and begin `IMMEDIATE`, so
//! writers inside one process queue instead of failing with `SQLITE_BUSY`;
//! between processes the busy timeout waits. WAL lets reads run beside a
//! write. `synchronous = FULL` makes every acknowledged commit durable
//! against a power loss, not only a killed process; group commit
//! (`commit.rs`) shares each commit's fsync among concurrent writers.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, Pool, Transaction};

use crate::error::Result;
use crate::sql::{Backend, Param};

#[path = "../sql/store/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL implementation, compiled once per backend"
)]
mod store;

mod commit;
mod read;

pub(crate) use commit::Writer;
use read::Readers;
pub use store::SqlStore as SqliteStore;

type Db = sqlx::Sqlite;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Opens (creating if needed) and migrates the database at `url`
/// (`sqlite://path` or `sqlite::memory:`).
pub async fn connect(url: &str) -> Result<SqliteStore, sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(15))
        // LIKE must honour case the way PostgreSQL's does; case-insensitive
        // matching uses lower-cased shadow columns instead.
        .pragma("case_sensitive_like", "ON");
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(sqlx::Error::Configuration(
            "an in-memory SQLite database is not supported: give a file (sqlite://PATH)".into(),
        ));
    }
    create_private(options.get_filename())?;
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .after_release(|conn, _| {
            Box::pin(async move {
                // A transaction dropped without commit queues its rollback;
                // a ping runs after it. If the connection is still inside a
                // transaction then (SQLite rolled back on its own after a
                // full disk or an I/O error, so sqlx's ROLLBACK failed), it
                // is closed instead of being reused: the pool opens a fresh
                // one, and writes resume once the fault is gone.
                if conn.is_in_transaction() {
                    let _ = conn.ping().await;
                }
                Ok(!conn.is_in_transaction())
            })
        })
        .connect_with(options.clone())
        .await?;
    MIGRATOR.run(&write).await?;
    Ok(SqliteStore {
        read: Readers::new(options.get_filename()),
        writer: Writer::start(write.clone()),
        write,
        // The committer gives tenants turns; the gate only bounds how many
        // of one tenant's writes wait for theirs.
        gate: std::sync::Arc::new(crate::gate::TenantGate::new(32)),
    })
}

/// Creates the database file readable by its owner only (0600) when it
/// does not exist yet: it holds every tenant's users and key hashes.
/// SQLite gives its `-wal` and `-shm` files the same mode.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    match open.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The SQLite side of the shared SQL implementation.
pub(crate) struct Engine;

crate::sql::sqlx_fields!(sqlx::sqlite::SqliteRow);

impl Backend for Engine {
    type Db = Db;
    type Reads = Readers;
    type Row<'r> = rusqlite::Row<'r>;

    /// Runs on the calling thread: see `read.rs`.
    async fn select<T: Send, F>(
        reads: &Readers,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> Result<Vec<T>>
    where
        F: FnMut(&rusqlite::Row<'_>) -> Result<T> + Send,
    {
        reads.select(sql, params, decode)
    }

    const DATABASE_BYTES: &'static str =
        "SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()";

    async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
        pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// One writer at a time already: event sequence numbers are handed out in
    /// commit order.
    async fn lock_outbox(_tx: &mut Transaction<'static, Db>) -> Result<(), sqlx::Error> {
        Ok(())
    }

    /// Errors that mean "the database is busy, gone or out of room; try
    /// again": answered 503 with `Retry-After`, never 500.
    fn is_unavailable(err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_IOERR,
            // SQLITE_FULL, SQLITE_CANTOPEN and their extended codes.
            sqlx::Error::Database(e) => e
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .is_some_and(|c| matches!(c & 0xff, 5 | 6 | 7 | 10 | 13 | 14)),
            _ => false,
        }
    }

    /// SQLite has one writer at a time (`BEGIN IMMEDIATE` waits for it), so no
    /// transaction is ever aborted for a conflict with another one.
    fn is_conflict(_err: &sqlx::Error) -> bool {
        false
    }
}

#[cfg(feature = "testing")]
impl SqliteStore {
    /// Caps the database file at `pages` pages on the writer connection
    /// (`PRAGMA max_page_count`), so a test can make the disk "full"
    /// without a mount; `None` lifts the cap.
    pub async fn set_max_page_count(&self, pages: Option<u32>) -> Result<(), sqlx::Error> {
        let pages = pages.map_or(u32::MAX.into(), i64::from);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "PRAGMA max_page_count = {pages}"
        )))
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The write transactions committed so far, and the writes they held
    /// (more writes than transactions: group commit at work).
    pub fn commits(&self) -> (u64, u64) {
        let commits = self.writer.commits();
        (
            commits
                .transactions
                .load(std::sync::atomic::Ordering::Relaxed),
            commits.bodies.load(std::sync::atomic::Ordering::Relaxed),
        )
    }

    /// The pages the database file has now.
    pub async fn page_count(&self) -> Result<u32, sqlx::Error> {
        let n: i64 = sqlx::query_scalar("PRAGMA page_count")
            .fetch_one(&self.write)
            .await?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}
