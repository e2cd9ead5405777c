//! What the SQL backends share. The shared implementation of the storage
//! traits, `store/`, is compiled inside each backend module against that
//! backend's [`Backend`]; the filter translation does not depend on the
//! backend at all.

pub mod filter;

use std::future::Future;

use futures_util::future::BoxFuture;
use sqlx::{Pool, Transaction};

use crate::error::Result;

/// A value bound to a statement's `$N` placeholder.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Param<'a> {
    /// Text, or NULL.
    Text(Option<&'a str>),
    Int(i64),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(Some(s))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Param::Text(s)
    }
}

impl From<i64> for Param<'_> {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

impl<'a> From<&'a filter::Bind> for Param<'a> {
    fn from(b: &'a filter::Bind) -> Self {
        match b {
            filter::Bind::Text(s) => Param::Text(Some(s)),
            filter::Bind::Int(i) => Param::Int(*i),
        }
    }
}

/// A row's columns by name, whichever driver read it: the row mapping is
/// written once against this.
pub(crate) trait Fields {
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
}

/// [`Fields`] for a sqlx row type (rows read inside write transactions).
macro_rules! sqlx_fields {
    ($row:ty) => {
        impl $crate::sql::Fields for $row {
            fn text(&self, column: &str) -> $crate::error::Result<String> {
                sqlx::Row::try_get(self, column).map_err(store::db)
            }

            fn opt_text(&self, column: &str) -> $crate::error::Result<Option<String>> {
                sqlx::Row::try_get(self, column).map_err(store::db)
            }

            fn int(&self, column: &str) -> $crate::error::Result<i64> {
                sqlx::Row::try_get(self, column).map_err(store::db)
            }

            fn opt_int(&self, column: &str) -> $crate::error::Result<Option<i64>> {
                sqlx::Row::try_get(self, column).map_err(store::db)
            }
        }
    };
}
pub(crate) use sqlx_fields;

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

    /// What reads run on, outside write transactions.
    type Reads: Clone + Send + Sync;

    /// A row as [`Backend::select`] lends it to its decoder.
    type Row<'r>: Fields;

    /// Runs one read statement (`$1`, `$2`, … bound to `params`) and maps
    /// each row with `decode`.
    fn select<T: Send, F>(
        reads: &Self::Reads,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> impl Future<Output = Result<Vec<T>>> + Send
    where
        F: FnMut(&Self::Row<'_>) -> Result<T> + Send;

    /// A query answering the size of the database on disk, in a column
    /// named `bytes`.
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
