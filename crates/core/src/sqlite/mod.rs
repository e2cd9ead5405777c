//! The embedded SQLite backend: the default, one file, no server to run.
//!
//! Statements run on rusqlite connections of our own (`conn.rs`): reads on
//! the calling thread (`read.rs`), writes on the committer's (`commit.rs`),
//! which begins `IMMEDIATE`, so writers inside one process queue instead
//! of failing with `SQLITE_BUSY`; between processes the busy timeout
//! waits. WAL lets reads run beside a write. `synchronous = FULL` makes
//! every acknowledged commit durable against a power loss, not only a
//! killed process; group commit shares each commit's fsync among
//! concurrent writers. sqlx only runs the migrations.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use rusqlite::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::{CoreError, Result};
use crate::sql::{Backend, Param, SqlError};

#[path = "../sql/store/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL implementation, compiled once per backend"
)]
mod store;

mod commit;
mod conn;
mod read;

pub(crate) use commit::Writer;
use conn::Role;
use read::Readers;
pub use store::SqlStore as SqliteStore;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// Opens (creating if needed) and migrates the database file at `url`
/// (`sqlite://PATH`).
pub async fn connect(url: &str) -> Result<SqliteStore, sqlx::Error> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(sqlx::Error::Configuration(
            "an in-memory SQLite database is not supported: give a file (sqlite://PATH)".into(),
        ));
    }
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(15));
    let path = options.get_filename().to_owned();
    create_private(&path)?;
    let migrations = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await?;
    MIGRATOR.run(&migrations).await?;
    migrations.close().await;
    let opened = |e: rusqlite::Error| sqlx::Error::Io(std::io::Error::other(e));
    let writer = conn::open(&path, Role::Write).map_err(opened)?;
    Ok(SqliteStore {
        read: Readers::new(&path),
        writer: Writer::start(writer, path)?,
        // The committer gives tenants turns; the gate only bounds how many
        // of one tenant's writes wait for theirs.
        gate: std::sync::Arc::new(crate::gate::TenantGate::new(32)),
        commits: std::sync::Arc::default(),
        following: std::sync::Arc::new(std::sync::Once::new()),
    })
}

/// Creates the database file readable by its owner only (0600) when it
/// does not exist yet: it holds every tenant's users and key hashes.
/// SQLite gives its `-wal` and `-shm` files the same mode.
fn create_private(path: &Path) -> std::io::Result<()> {
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

/// The SQLite side of the shared SQL implementation. Every statement runs
/// synchronously: the futures are ready at once.
pub(crate) struct Engine;

impl Backend for Engine {
    type Reads = Readers;
    type Tx = Connection;
    type Row<'r> = conn::Row<'r>;

    /// One writer at a time: a claim never meets another.
    const SKIP_LOCKED: &'static str = "";
    const DATABASE_BYTES: &'static str =
        "SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()";

    /// Runs on the calling thread: see `read.rs`.
    async fn select<T: Send, F>(
        reads: &Readers,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> Result<Vec<T>>
    where
        F: FnMut(&conn::Row<'_>) -> Result<T> + Send,
    {
        reads.select(sql, params, decode)
    }

    async fn query<T: Send, F>(
        tx: &mut Connection,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> Result<Vec<T>, SqlError>
    where
        F: FnMut(&conn::Row<'_>) -> Result<T> + Send,
    {
        conn::rows(tx, sql, params, decode)
    }

    async fn execute(
        tx: &mut Connection,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<u64, SqlError> {
        conn::execute(tx, sql, params)
    }

    /// One writer at a time already: event sequence numbers are handed out in
    /// commit order.
    async fn lock_outbox(_tx: &mut Connection) -> Result<()> {
        Ok(())
    }

    /// SQLite has one writer at a time (`BEGIN IMMEDIATE` waits for it), so no
    /// transaction is ever aborted for a conflict with another one.
    fn is_conflict(_err: &CoreError) -> bool {
        false
    }

    /// A SQLite file has no notifications: followers in another process
    /// than the writer's see its events by looking again (the feed's poll).
    fn follow_other_processes(_: &Self::Reads, _: &std::sync::Arc<tokio::sync::Notify>) {}
}

#[cfg(feature = "testing")]
impl SqliteStore {
    /// Caps the database file at `pages` pages on the writer connection
    /// (`PRAGMA max_page_count`), so a test can make the disk "full"
    /// without a mount; `None` lifts the cap.
    pub async fn set_max_page_count(&self, pages: Option<u32>) -> Result<()> {
        let pages = pages.map_or(u32::MAX.into(), i64::from);
        self.writer
            .transact(
                None,
                Box::new(move |tx| {
                    Box::pin(async move {
                        let sql = format!("PRAGMA max_page_count = {pages}");
                        conn::execute(tx, &sql, &[])?;
                        Ok(())
                    })
                }),
            )
            .await
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
    pub async fn page_count(&self) -> Result<u32> {
        let n = self.read.select(
            "SELECT page_count AS n FROM pragma_page_count()",
            &[],
            |r| {
                use crate::sql::Fields;
                r.int("n")
            },
        )?;
        Ok(n.first()
            .map_or(0, |&n| u32::try_from(n).unwrap_or(u32::MAX)))
    }
}
