//! What the SQL backends share. The shared implementation of the storage
//! traits, `store/`, is compiled inside each backend module against that
//! backend's [`Backend`]; the filter translation does not depend on the
//! backend at all.

pub mod filter;

use std::borrow::Cow;
use std::future::Future;

use futures_util::future::BoxFuture;

use crate::error::{CoreError, Result};

/// A value bound to a statement's `$N` placeholder.
#[derive(Clone, Debug)]
pub(crate) enum Param<'a> {
    /// Text, or NULL.
    Text(Option<Cow<'a, str>>),
    Int(i64),
    /// An integer's NULL.
    NoInt,
    /// A boolean, or NULL (an integer 1 or 0 on SQLite).
    Flag(Option<bool>),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(s: &'a str) -> Self {
        Param::Text(Some(Cow::Borrowed(s)))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(s: Option<&'a str>) -> Self {
        Param::Text(s.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a String> for Param<'a> {
    fn from(s: &'a String) -> Self {
        s.as_str().into()
    }
}

impl From<String> for Param<'_> {
    fn from(s: String) -> Self {
        Param::Text(Some(Cow::Owned(s)))
    }
}

impl From<Option<String>> for Param<'_> {
    fn from(s: Option<String>) -> Self {
        Param::Text(s.map(Cow::Owned))
    }
}

impl From<i64> for Param<'_> {
    fn from(i: i64) -> Self {
        Param::Int(i)
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(i: Option<i64>) -> Self {
        i.map_or(Param::NoInt, Param::Int)
    }
}

impl From<Option<bool>> for Param<'_> {
    fn from(b: Option<bool>) -> Self {
        Param::Flag(b)
    }
}

impl<'a> From<&'a filter::Bind> for Param<'a> {
    fn from(b: &'a filter::Bind) -> Self {
        match b {
            filter::Bind::Text(s) => s.as_str().into(),
            filter::Bind::Int(i) => Param::Int(*i),
        }
    }
}

impl Param<'_> {
    /// The text, or `None` for NULL and integers.
    pub(crate) fn text(&self) -> Option<&str> {
        match self {
            Param::Text(s) => s.as_deref(),
            Param::Int(_) | Param::NoInt | Param::Flag(_) => None,
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
    fn opt_flag(&self, column: &str) -> Result<Option<bool>>;
}

/// Why a statement in a write transaction failed: the constraint
/// violations the store turns into the client's error, or anything else.
#[derive(Debug)]
pub(crate) enum SqlError {
    /// A unique constraint refused the statement.
    Unique(Box<dyn std::error::Error + Send + Sync>),
    /// A foreign key refused the statement.
    ForeignKey(Box<dyn std::error::Error + Send + Sync>),
    /// Anything else, as the store reports it.
    Failed(CoreError),
}

impl From<SqlError> for CoreError {
    fn from(err: SqlError) -> Self {
        match err {
            SqlError::Unique(e) | SqlError::ForeignKey(e) => CoreError::Internal(e),
            SqlError::Failed(e) => e,
        }
    }
}

impl From<CoreError> for SqlError {
    fn from(err: CoreError) -> Self {
        SqlError::Failed(err)
    }
}

/// The body of a write transaction. It runs on the transaction it is
/// lent and never commits it; the backend's writer commits, and answers
/// the caller only after that commit. A body owns what it needs: on
/// SQLite it runs on the committer's thread, in one transaction with other
/// requests' bodies (see `sqlite::commit`).
pub(crate) type Work<Tx, T> =
    Box<dyn for<'c> FnOnce(&'c mut Tx) -> BoxFuture<'c, Result<T>> + Send>;

/// What a SQL backend gives the shared implementation: how it runs
/// statements, and the few places where SQLite and PostgreSQL behave
/// differently. Statements name their values `$1`, `$2`, … on both.
pub(crate) trait Backend {
    /// What reads run on, outside write transactions.
    type Reads: Clone + Send + Sync;

    /// An open write transaction, as a body is lent it.
    type Tx: Send;

    /// A row as a statement lends it to its decoder.
    type Row<'r>: Fields;

    /// A query answering the size of the database on disk, in a column
    /// named `bytes`.
    const DATABASE_BYTES: &'static str;

    /// What ends a `SELECT` of rows to claim so that concurrent claimers
    /// pass over each other's rows instead of waiting for them.
    const SKIP_LOCKED: &'static str;

    /// Runs one read statement and maps each row with `decode`.
    fn select<T: Send, F>(
        reads: &Self::Reads,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> impl Future<Output = Result<Vec<T>>> + Send
    where
        F: FnMut(&Self::Row<'_>) -> Result<T> + Send;

    /// Runs one statement in a write transaction and maps each row it
    /// returns with `decode`.
    fn query<T: Send, F>(
        tx: &mut Self::Tx,
        sql: &str,
        params: &[Param<'_>],
        decode: F,
    ) -> impl Future<Output = Result<Vec<T>, SqlError>> + Send
    where
        F: FnMut(&Self::Row<'_>) -> Result<T> + Send;

    /// Runs one statement in a write transaction; the rows it changed.
    fn execute(
        tx: &mut Self::Tx,
        sql: &str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<u64, SqlError>> + Send;

    /// Holds event sequence numbers back until this transaction commits,
    /// so the outbox becomes visible in sequence order.
    fn lock_outbox(tx: &mut Self::Tx) -> impl Future<Output = Result<()>> + Send;

    /// Errors that mean "the database aborted this transaction for a
    /// conflict with another one; run it again".
    fn is_conflict(err: &CoreError) -> bool;

    /// Notifies `commits` when another process commits events, where the
    /// database can tell (called once per store, from within the runtime).
    fn follow_other_processes(reads: &Self::Reads, commits: &std::sync::Arc<tokio::sync::Notify>);
}
