//! What the SQL backends share. The shared implementation of the storage
//! traits, `store/`, is compiled inside each backend module against that
//! backend's [`Backend`]; the filter translation does not depend on the
//! backend at all.

pub mod filter;

use std::future::Future;

use futures_util::future::BoxFuture;
use sqlx::{Pool, Transaction};

use crate::error::Result;

/// The body of a write transaction. It runs on the transaction it is
/// lent and never commits it; the backend's writer commits, and answers
/// the caller only after that commit. A body owns what it needs: on
/// SQLite it runs on the committer's task, in one transaction with other
/// requests' bodies (see `sqlite::commit`).
pub(crate) type Work<Db, T> =
    Box<dyn for<'c> FnOnce(&'c mut Transaction<'static, Db>) -> BoxFuture<'c, Result<T>> + Send>;

/// What a SQL backend gives the shared implementation: its database type
/// and the few places where SQLite and PostgreSQL behave differently.
pub(crate) trait Backend {
    /// The sqlx database.
    type Db: sqlx::Database;

    /// A query answering the size of the database on disk, in bytes.
    const DATABASE_BYTES: &'static str;

    /// Begins a write transaction, waiting for the database's writer lock
    /// where the backend has one.
    fn begin_write(
        pool: &Pool<Self::Db>,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;

    /// Holds event sequence numbers back until this transaction commits,
    /// so the outbox becomes visible in sequence order.
    fn lock_outbox(
        tx: &mut Transaction<'static, Self::Db>,
    ) -> impl Future<Output = Result<(), sqlx::Error>> + Send;

    /// Errors that mean "the database is busy, gone or out of room; try
    /// again later": answered 503 with `Retry-After`, never 500.
    fn is_unavailable(err: &sqlx::Error) -> bool;

    /// Errors that mean "the database aborted this transaction for a
    /// conflict with another one; run it again".
    fn is_conflict(err: &sqlx::Error) -> bool;
}
