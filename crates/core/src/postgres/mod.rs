//! The PostgreSQL backend: for deployments that outgrow one SQLite file and
//! run several `serve` processes over one database.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Pool, Transaction};

use crate::error::Result;
use crate::ids::TenantId;
use crate::sql::{Backend, Param, Work};

#[path = "../sql/store/mod.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL implementation, compiled once per backend"
)]
mod store;

pub use store::SqlStore as PostgresStore;

type Db = sqlx::Postgres;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

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
        writer: Writer(pool.clone()),
        write: pool,
        // A quarter of the pool: a tenant's burst leaves room for others.
        gate: std::sync::Arc::new(crate::gate::TenantGate::new(4)),
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
        work: Work<Db, T>,
    ) -> Result<T> {
        let mut tx = Engine::begin_write(&self.0).await.map_err(store::db)?;
        let value = work(&mut tx).await?;
        tx.commit().await.map_err(store::db)?;
        Ok(value)
    }
}

/// The advisory lock key of the event outbox ("scimitar" in ASCII).
const OUTBOX_LOCK: i64 = 0x7363_696d_6974_6172;

/// The PostgreSQL side of the shared SQL implementation.
pub(crate) struct Engine;

crate::sql::sqlx_fields!(sqlx::postgres::PgRow);

impl Backend for Engine {
    type Db = Db;
    type Reads = Pool<Db>;
    type Row<'r> = sqlx::postgres::PgRow;

    async fn select<T: Send, F>(
        reads: &Pool<Db>,
        sql: &str,
        params: &[Param<'_>],
        mut decode: F,
    ) -> Result<Vec<T>>
    where
        F: FnMut(&sqlx::postgres::PgRow) -> Result<T> + Send,
    {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for param in params {
            query = match *param {
                Param::Text(s) => query.bind(s),
                Param::Int(i) => query.bind(i),
            };
        }
        let rows = query.fetch_all(reads).await.map_err(store::db)?;
        rows.iter().map(&mut decode).collect()
    }

    const DATABASE_BYTES: &'static str = "SELECT pg_database_size(current_database()) AS bytes";

    async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
        pool.begin().await
    }

    /// Transactions here run side by side, and an identity column hands out
    /// numbers in insert order, not commit order. Holding this lock from the
    /// first event a transaction appends until it ends (a transaction-level
    /// advisory lock is released after the commit is visible) makes the two
    /// orders the same for the outbox, across every process on the database.
    async fn lock_outbox(tx: &mut Transaction<'static, Db>) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(OUTBOX_LOCK)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Errors that mean "the database is unreachable or overloaded; try again".
    fn is_unavailable(err: &sqlx::Error) -> bool {
        match err {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => true,
            sqlx::Error::Database(e) => e.code().is_some_and(|c| {
                // connection exceptions, insufficient resources, operator
                // intervention, and the time limits set in `connect`
                // (lock_not_available, query_canceled)
                c.starts_with("08")
                    || c.starts_with("53")
                    || c.starts_with("57P")
                    || c == "55P03"
                    || c == "57014"
            }),
            _ => false,
        }
    }

    /// Errors that mean "this transaction lost a race with another one; run it
    /// again": a detected deadlock, or a serialisation failure.
    fn is_conflict(err: &sqlx::Error) -> bool {
        err.as_database_error()
            .and_then(|e| e.code())
            .is_some_and(|c| c == "40P01" || c == "40001")
    }
}
