//! The PostgreSQL backend: for deployments that outgrow one SQLite file and
//! run several `serve` processes over one database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::PgRow;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Pool, Row, Transaction};

use crate::error::{CoreError, Result};
use crate::ids::TenantId;
use crate::sql::{Backend, Fields, Param, SqlError, Work};

#[path = "../sql/store/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL implementation, compiled once per backend"
)]
mod store;

pub use store::SqlStore as PostgresStore;

type Db = sqlx::Postgres;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connects to and migrates the database at `url` (`postgres://…`).
pub async fn connect(url: &str) -> Result<PostgresStore, sqlx::Error> {
    // No statement waits for ever: a lock held by a stuck session, or a
    // runaway query, ends in an error the client sees as 503 with
    // Retry-After instead of a request that never answers.
    let options = PgConnectOptions::from_str(url)?
        .options([("lock_timeout", "10s"), ("statement_timeout", "30s")]);
    let pool = PgPoolOptions::new()
        .max_connections(16)
        // While the database is down a request waits this long for a
        // connection before it is answered 503 with Retry-After: short, as
        // identity providers time requests out and each waiting request
        // holds a slot; long enough for a busy pool under normal load.
        .acquire_timeout(Duration::from_secs(3))
        // A pooled connection may have died with the database or the
        // network: check it before use, so the first request after an
        // outage gets a fresh connection instead of an error.
        .test_before_acquire(true)
        // Idle connections are closed after a while, so a pool that grew
        // under load, or holds connections to a database that restarted,
        // renews itself.
        .idle_timeout(Duration::from_secs(60))
        .max_lifetime(Duration::from_secs(30 * 60))
        .connect_with(options)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(PostgresStore {
        read: pool.clone(),
        writer: Writer(pool),
        // A quarter of the pool: a tenant's burst leaves room for others.
        gate: std::sync::Arc::new(crate::gate::TenantGate::new(4)),
        commits: std::sync::Arc::default(),
        following: std::sync::Arc::new(std::sync::Once::new()),
    })
}

/// Runs write transactions. PostgreSQL commits concurrent transactions
/// side by side (and shares their WAL flushes itself), so each runs on its
/// own pooled connection.
#[derive(Clone)]
pub(crate) struct Writer(Pool<Db>);

impl Writer {
    /// Runs `work` in a transaction of its own and commits it.
    pub(crate) async fn transact<T: Send + 'static>(
        &self,
        _tenant: Option<&TenantId>,
        work: Work<Tx, T>,
    ) -> Result<T> {
        let mut tx = self.0.begin().await.map_err(db)?;
        let value = work(&mut tx).await?;
        tx.commit().await.map_err(db)?;
        Ok(value)
    }
}

type Tx = Transaction<'static, Db>;

/// The channel on which committed events are announced to other processes.
const EVENTS_CHANNEL: &str = "scimitar_events";

/// The advisory lock key of the event outbox ("scimitar" in ASCII).
const OUTBOX_LOCK: i64 = 0x7363_696d_6974_6172;

/// The PostgreSQL side of the shared SQL implementation.
pub(crate) struct Engine;

impl Fields for PgRow {
    fn text(&self, column: &str) -> Result<String> {
        self.try_get(column).map_err(db)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.try_get(column).map_err(db)
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.try_get(column).map_err(db)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.try_get(column).map_err(db)
    }

    fn opt_flag(&self, column: &str) -> Result<Option<bool>> {
        self.try_get(column).map_err(db)
    }
}

/// `sql` with `params` bound in order.
fn statement<'q>(
    sql: &'q str,
    params: &'q [Param<'_>],
) -> sqlx::query::Query<'q, Db, sqlx::postgres::PgArguments> {
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for param in params {
        query = match param {
            Param::Text(_) => query.bind(param.text()),
            Param::Int(i) => query.bind(*i),
            Param::NoInt => query.bind(None::<i64>),
            Param::Flag(b) => query.bind(*b),
        };
    }
    query
}

impl Backend for Engine {
    type Reads = Pool<Db>;
    type Tx = Tx;
    type Row<'r> = PgRow;

    /// Row locks: a claim passes over rows another process is claiming.
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const DATABASE_BYTES: &'static str = "SELECT pg_database_size(current_database()) AS bytes";

    async fn select<T: Send, F>(
        reads: &Pool<Db>,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> Result<Vec<T>>
    where
        F: FnMut(&PgRow) -> Result<T> + Send,
    {
        let rows = statement(sql, params).fetch_all(reads).await.map_err(db)?;
        rows.iter().map(decode).collect()
    }

    async fn query<T: Send, F>(
        tx: &mut Tx,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> Result<Vec<T>, SqlError>
    where
        F: FnMut(&PgRow) -> Result<T> + Send,
    {
        let rows = statement(sql, params)
            .fetch_all(&mut **tx)
            .await
            .map_err(violation)?;
        Ok(rows.iter().map(decode).collect::<Result<_>>()?)
    }

    async fn execute(tx: &mut Tx, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
        let done = statement(sql, params)
            .execute(&mut **tx)
            .await
            .map_err(violation)?;
        Ok(done.rows_affected())
    }

    /// Transactions here run side by side, and an identity column hands out
    /// numbers in insert order, not commit order. Holding this lock from the
    /// first event a transaction appends until it ends (a transaction-level
    /// advisory lock is released after the commit is visible) makes the two
    /// orders the same for the outbox, across every process on the database.
    /// Also tells the other processes' feed followers, at commit (a
    /// notification is delivered only if the transaction commits, once
    /// however many events it recorded).
    async fn lock_outbox(tx: &mut Tx) -> Result<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1), pg_notify($2, '')")
            .bind(OUTBOX_LOCK)
            .bind(EVENTS_CHANNEL)
            .execute(&mut **tx)
            .await
            .map_err(db)?;
        Ok(())
    }

    /// `LISTEN`s for other processes' events on a connection of its own,
    /// reconnecting after a failure; in the meantime followers still look
    /// again every 250 ms.
    fn follow_other_processes(reads: &Pool<Db>, commits: &std::sync::Arc<tokio::sync::Notify>) {
        let (pool, commits) = (reads.clone(), commits.clone());
        tokio::spawn(async move {
            loop {
                let listening = async {
                    let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    listener.listen(EVENTS_CHANNEL).await?;
                    loop {
                        listener.recv().await?;
                        commits.notify_waiters();
                    }
                };
                let ended: std::result::Result<(), sqlx::Error> = listening.await;
                if let Err(e) = ended {
                    tracing::warn!(error = %e, "listening for events of other processes failed; retrying in 5 s");
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        });
    }

    /// A detected deadlock, or a serialisation failure.
    fn is_conflict(err: &CoreError) -> bool {
        match err {
            CoreError::Unavailable(e) => e
                .downcast_ref::<sqlx::Error>()
                .and_then(sqlx::Error::as_database_error)
                .and_then(|e| e.code())
                .is_some_and(|c| c == "40P01" || c == "40001"),
            _ => false,
        }
    }
}

/// Errors that mean "the database is unreachable or overloaded; try
/// again", or that the transaction lost a race and may run again: both
/// answered 503 with `Retry-After` if they last, never 500.
pub(super) fn db(err: sqlx::Error) -> CoreError {
    let code = err
        .as_database_error()
        .and_then(|e| e.code())
        .map(|c| c.into_owned());
    let unavailable = match &err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(_) => code.as_deref().is_some_and(|c| {
            // connection exceptions, insufficient resources, operator
            // intervention, the time limits set in `connect`
            // (lock_not_available, query_canceled), and conflicts
            // (deadlock_detected, serialization_failure)
            c.starts_with("08")
                || c.starts_with("53")
                || c.starts_with("57P")
                || matches!(c, "55P03" | "57014" | "40P01" | "40001")
        }),
        _ => false,
    };
    if unavailable {
        CoreError::Unavailable(Box::new(err))
    } else {
        CoreError::Internal(Box::new(err))
    }
}

/// A statement's error, with the constraint violations told apart.
fn violation(err: sqlx::Error) -> SqlError {
    match err.as_database_error() {
        Some(e) if e.is_unique_violation() => SqlError::Unique(Box::new(err)),
        Some(e) if e.is_foreign_key_violation() => SqlError::ForeignKey(Box::new(err)),
        _ => SqlError::Failed(db(err)),
    }
}
