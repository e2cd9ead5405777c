//! The PostgreSQL backend: for deployments that outgrow one SQLite file and
//! run several `serve` processes over one database.

use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Pool, Transaction};

#[path = "../sql/common.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "one SQL implementation, compiled once per backend"
)]
mod common;

pub use common::SqlStore as PostgresStore;

type Db = sqlx::Postgres;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connects to and migrates the database at `url` (`postgres://…`).
pub async fn connect(url: &str) -> Result<PostgresStore, sqlx::Error> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await?;
    MIGRATOR.run(&pool).await?;
    Ok(PostgresStore {
        read: pool.clone(),
        write: pool,
    })
}

async fn begin_write(pool: &Pool<Db>) -> Result<Transaction<'static, Db>, sqlx::Error> {
    pool.begin().await
}

/// Errors that mean "the database is unreachable or overloaded; try again".
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|c| {
            // connection exceptions, insufficient resources, operator intervention
            c.starts_with("08") || c.starts_with("53") || c.starts_with("57P")
        }),
        _ => false,
    }
}
