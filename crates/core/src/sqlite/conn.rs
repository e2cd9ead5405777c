//! Statements on a rusqlite connection, as the shared store runs them:
//! prepared once per connection (cached), `$N` bound by number, rows
//! decoded where they are read.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, ErrorCode, OpenFlags};

use crate::error::{CoreError, Result};
use crate::sql::{Fields, Param, SqlError};

/// Prepared statements kept per connection: every statement the SCIM
/// workload runs, and each list query's shapes.
const STATEMENTS: usize = 128;

/// What a connection is for.
#[derive(Clone, Copy)]
pub(super) enum Role {
    /// Reads only (`query_only`), beside the writer.
    Read,
    /// The one writer: foreign keys enforced, every commit durable.
    Write,
}

/// Opens a connection to the database file at `path`, which exists and
/// is migrated.
pub(super) fn open(path: &Path, role: Role) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(15))?;
    // LIKE honours case as PostgreSQL's does; case-insensitive matching
    // uses lower-cased shadow columns instead.
    conn.execute_batch("PRAGMA case_sensitive_like = ON;")?;
    match role {
        Role::Read => conn.execute_batch("PRAGMA query_only = ON;")?,
        Role::Write => {
            conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;")?;
        }
    }
    conn.set_prepared_statement_cache_capacity(STATEMENTS);
    Ok(conn)
}

/// Runs `sql` and maps every row it returns with `decode`.
pub(super) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[Param<'_>],
    mut decode: impl FnMut(&rusqlite::Row<'_>) -> Result<T>,
) -> Result<Vec<T>, SqlError> {
    tracing::debug!(target: "scimitar::sql", statement = sql);
    let mut statement = conn.prepare_cached(sql).map_err(failed)?;
    bind(&mut statement, params)?;
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        out.push(decode(row)?);
    }
    Ok(out)
}

/// Runs `sql`, ignoring what it returns; the rows it changed.
pub(super) fn execute(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
    rows(conn, sql, params, |_| Ok(()))?;
    Ok(conn.changes())
}

/// Binds each `$N` to `params[N - 1]`, wherever and however often the
/// statement names it.
fn bind(statement: &mut CachedStatement<'_>, params: &[Param<'_>]) -> Result<(), SqlError> {
    statement.clear_bindings();
    for index in 1..=statement.parameter_count() {
        let n = statement
            .parameter_name(index)
            .and_then(|name| name.strip_prefix('$'))
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| ours(format!("placeholder {index} of a statement is not $N")))?;
        let value = match params.get(n - 1) {
            Some(Param::Int(i)) => ValueRef::Integer(*i),
            Some(param) => param
                .text()
                .map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes())),
            None => return Err(ours(format!("a statement has no value for ${n}"))),
        };
        statement
            .raw_bind_parameter(index, ToSqlOutput::Borrowed(value))
            .map_err(failed)?;
    }
    Ok(())
}

fn ours(message: String) -> SqlError {
    SqlError::Failed(CoreError::Internal(message.into()))
}

/// A statement's error: constraint violations told apart; busy, out of
/// memory, out of room or an I/O error is "try again" (503); anything
/// else is ours (500).
fn failed(err: rusqlite::Error) -> SqlError {
    const UNIQUE: [i32; 2] = [
        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE,
        rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY,
    ];
    if let rusqlite::Error::SqliteFailure(e, _) = &err {
        if UNIQUE.contains(&e.extended_code) {
            return SqlError::Unique(Box::new(err));
        }
        if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY {
            return SqlError::ForeignKey(Box::new(err));
        }
    }
    SqlError::Failed(error(err))
}

/// A rusqlite error as the store reports it.
pub(super) fn error(err: rusqlite::Error) -> CoreError {
    let unavailable = err.sqlite_error_code().is_some_and(|code| {
        matches!(
            code,
            ErrorCode::DatabaseBusy
                | ErrorCode::DatabaseLocked
                | ErrorCode::OutOfMemory
                | ErrorCode::SystemIoFailure
                | ErrorCode::CannotOpen
                | ErrorCode::DiskFull
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
        self.get(column).map_err(error)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column).map_err(error)
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.get(column).map_err(error)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column).map_err(error)
    }
}
