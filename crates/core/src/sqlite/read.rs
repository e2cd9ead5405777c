//! Reads on SQLite: rusqlite connections of our own, each statement
//! prepared once per connection and run on the calling thread.
//!
//! A read here is a few microseconds of SQLite's own work. Handing it to
//! a driver's worker thread and back (as sqlx does, per statement and per
//! row) cost some thirty times that, in thread wake-ups; so reads run
//! where the request runs, on one of a few connections kept open, with no
//! hand-off at all. WAL lets them run beside the writer without waiting
//! for it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use crate::error::{CoreError, Result};
use crate::sql::{Fields, Param};

/// Connections kept open between reads; more are opened while more reads
/// run at once, and closed after.
const IDLE: usize = 8;

/// Prepared statements kept per connection: every statement the SCIM
/// workload runs, and each list query's shapes.
const STATEMENTS: usize = 128;

/// The read connections of one database file.
#[derive(Clone)]
pub(crate) struct Readers(Arc<Inner>);

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: &Path) -> Self {
        Readers(Arc::new(Inner {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }))
    }

    /// Runs `sql` with `params` bound to its `$N` placeholders and maps
    /// every row with `decode`.
    pub(crate) fn select<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        mut decode: impl FnMut(&rusqlite::Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        tracing::debug!(target: "scimitar::sql", statement = sql);
        let conn = self.take()?;
        let out = (|| {
            let mut statement = conn.prepare_cached(sql).map_err(read_error)?;
            bind(&mut statement, params)?;
            let mut rows = statement.raw_query();
            let mut out = Vec::new();
            while let Some(row) = rows.next().map_err(read_error)? {
                out.push(decode(row)?);
            }
            Ok(out)
        })();
        self.give_back(conn);
        out
    }

    fn take(&self) -> Result<Connection> {
        let idle = self
            .0
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open(&self.0.path).map_err(read_error),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE {
            idle.push(conn);
        }
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(15))?;
    // Never a write by mistake; LIKE honours case as on the writer (see
    // `connect`).
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA case_sensitive_like = ON;")?;
    conn.set_prepared_statement_cache_capacity(STATEMENTS);
    Ok(conn)
}

/// Binds each `$N` to `params[N - 1]`, wherever and however often the
/// statement names it.
fn bind(statement: &mut rusqlite::CachedStatement<'_>, params: &[Param<'_>]) -> Result<()> {
    statement.clear_bindings();
    for index in 1..=statement.parameter_count() {
        let n = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                CoreError::Internal(format!("statement placeholder {index} is not $N").into())
            })?;
        let param = params.get(n - 1).ok_or_else(|| {
            CoreError::Internal(format!("statement has no value for ${n}").into())
        })?;
        let value = match *param {
            Param::Text(Some(s)) => ValueRef::Text(s.as_bytes()),
            Param::Text(None) => ValueRef::Null,
            Param::Int(i) => ValueRef::Integer(i),
        };
        statement
            .raw_bind_parameter(index, ToSqlOutput::Borrowed(value))
            .map_err(read_error)?;
    }
    Ok(())
}

/// A failed read: busy, out of memory or an I/O error is "try again"
/// (503); anything else is ours.
fn read_error(err: rusqlite::Error) -> CoreError {
    let unavailable = err.sqlite_error_code().is_some_and(|code| {
        use rusqlite::ErrorCode::*;
        matches!(
            code,
            DatabaseBusy | DatabaseLocked | OutOfMemory | SystemIoFailure | CannotOpen | DiskFull
        )
    });
    if unavailable {
        CoreError::Unavailable(Box::new(err))
    } else {
        CoreError::Internal(Box::new(err))
    }
}

impl Fields for rusqlite::Row<'_> {
    fn text(&self, column: &str) -> Result<String> {
        self.get(column).map_err(read_error)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column).map_err(read_error)
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.get(column).map_err(read_error)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column).map_err(read_error)
    }
}
