//! Statements on a rusqlite connection, as the shared store runs them:
//! prepared once per connection (cached), `$N` bound by number, rows
//! decoded where they are read.

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{CachedStatement, Connection, ErrorCode, OpenFlags, StatementStatus};

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

/// A row as a decoder reads it: its columns found by name from where the
/// last one was, since decoders read them mostly in the order the
/// statement lists them. (rusqlite's own lookup by name asks SQLite for
/// every column's name, each time: 13 % of a list page's CPU.)
pub(crate) struct Row<'r> {
    row: &'r rusqlite::Row<'r>,
    columns: &'r Columns,
    next: Cell<usize>,
}

/// A statement's column names, read once per run.
struct Columns {
    names: Vec<String>,
    /// No name twice: a name found after the last one is the first of its
    /// name, as SQLite would find it.
    distinct: bool,
}

impl Columns {
    fn of(statement: &rusqlite::Statement<'_>) -> Columns {
        let names: Vec<String> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let distinct = names
            .iter()
            .enumerate()
            .all(|(i, a)| names[..i].iter().all(|b| !a.eq_ignore_ascii_case(b)));
        Columns { names, distinct }
    }
}

impl Row<'_> {
    /// The index of the first column named `name` (ASCII case-insensitive,
    /// as SQLite has it).
    fn index(&self, name: &str) -> Result<usize> {
        let names = &self.columns.names;
        let n = names.len();
        let start = if self.columns.distinct {
            self.next.get()
        } else {
            0
        };
        let found = (0..n)
            .map(|i| (start + i) % n)
            .find(|&i| names[i].eq_ignore_ascii_case(name))
            .ok_or_else(|| error(rusqlite::Error::InvalidColumnName(name.to_owned())))?;
        self.next.set(found + 1);
        Ok(found)
    }

    fn get<T: rusqlite::types::FromSql>(&self, name: &str) -> Result<T> {
        self.row.get(self.index(name)?).map_err(error)
    }
}

/// Runs `sql` and maps every row it returns with `decode`.
pub(super) fn rows<T>(
    conn: &Connection,
    sql: &str,
    params: &[Param<'_>],
    mut decode: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>, SqlError> {
    tracing::debug!(target: "scimitar::sql", statement = sql);
    let mut statement = conn.prepare_cached(sql).map_err(failed)?;
    bind(&mut statement, sql, params)?;
    let columns = Columns::of(&statement);
    let mut rows = statement.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(failed)? {
        let row = Row {
            row,
            columns: &columns,
            next: Cell::new(0),
        };
        out.push(decode(&row)?);
    }
    drop(rows);
    // A cached statement SQLite prepares again on every run costs a parse
    // each time (a bound LIMIT does that): the plan test fails on it.
    let again = statement.reset_status(StatementStatus::RePrepare);
    if again > 0 {
        tracing::debug!(target: "scimitar::sql", statement = sql, reprepared = again);
    }
    Ok(out)
}

/// Runs `sql`, ignoring what it returns; the rows it changed.
pub(super) fn execute(conn: &Connection, sql: &str, params: &[Param<'_>]) -> Result<u64, SqlError> {
    rows(conn, sql, params, |_| Ok(()))?;
    Ok(conn.changes())
}

/// Binds each `$N` to `params[N - 1]`, wherever and however often the
/// statement names it. SQLite numbers the distinct names in the order
/// they first appear; that order is read from the text, once per run
/// (asking SQLite for each parameter's name costs a scan of all of them,
/// which a 500-row insert would pay 500 times).
fn bind(
    statement: &mut CachedStatement<'_>,
    sql: &str,
    params: &[Param<'_>],
) -> Result<(), SqlError> {
    let order = placeholders_in_order(sql);
    if order.len() != statement.parameter_count() {
        return Err(ours(format!(
            "a statement names {} values as $N, SQLite counts {}",
            order.len(),
            statement.parameter_count()
        )));
    }
    statement.clear_bindings();
    for (index, n) in order.into_iter().enumerate() {
        let value = match n.checked_sub(1).and_then(|i| params.get(i)) {
            Some(Param::Int(i)) => ValueRef::Integer(*i),
            Some(Param::Flag(Some(b))) => ValueRef::Integer(i64::from(*b)),
            Some(param) => param
                .text()
                .map_or(ValueRef::Null, |s| ValueRef::Text(s.as_bytes())),
            None => return Err(ours(format!("a statement has no value for ${n}"))),
        };
        statement
            .raw_bind_parameter(index + 1, ToSqlOutput::Borrowed(value))
            .map_err(failed)?;
    }
    Ok(())
}

/// The distinct `$N` of a statement, in the order they first appear (our
/// statements hold no `$` in literals or comments).
fn placeholders_in_order(sql: &str) -> Vec<usize> {
    let mut order = Vec::new();
    let mut seen: Vec<bool> = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Ok(n) = rest[..digits].parse::<usize>() {
            if seen.len() <= n {
                seen.resize(n + 1, false);
            }
            if !std::mem::replace(&mut seen[n], true) {
                order.push(n);
            }
        }
        rest = &rest[digits..];
    }
    order
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

impl Fields for Row<'_> {
    fn text(&self, column: &str) -> Result<String> {
        self.get(column)
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.get(column)
    }

    fn int(&self, column: &str) -> Result<i64> {
        self.get(column)
    }

    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.get(column)
    }

    fn opt_flag(&self, column: &str) -> Result<Option<bool>> {
        Ok(self.opt_int(column)?.map(|i| i != 0))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a test")]
mod tests {
    use super::placeholders_in_order;

    #[test]
    fn placeholders_are_numbered_in_the_order_they_first_appear() {
        assert_eq!(
            placeholders_in_order("SELECT $2, $10 WHERE a = $1 AND b = $2 OR c = $10"),
            [2, 10, 1]
        );
        assert_eq!(placeholders_in_order("SELECT 1"), Vec::<usize>::new());
        assert_eq!(
            placeholders_in_order("VALUES ($1, $2, $3, $3, 1, $4)"),
            [1, 2, 3, 4]
        );
    }

    /// Columns are found by name in any order and letter case; of two
    /// with one name, the first; an unknown name is an error.
    #[test]
    fn rows_find_columns_by_name() {
        use crate::sql::Fields;
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let read = |sql: &str| {
            super::rows(&conn, sql, &[], |r| {
                Ok((r.int("b")?, r.text("A")?, r.int("b")?, r.opt_int("c")?))
            })
            .unwrap()
        };
        assert_eq!(
            read("SELECT 'x' AS a, 2 AS b, NULL AS c UNION ALL SELECT 'y', 3, 4"),
            [
                (2, "x".to_owned(), 2, None),
                (3, "y".to_owned(), 3, Some(4))
            ]
        );
        assert_eq!(
            read("SELECT 'x' AS a, 1 AS b, 2 AS B, 5 AS c"),
            [(1, "x".to_owned(), 1, Some(5))]
        );
        let unknown = super::rows(&conn, "SELECT 1 AS a", &[], |r| r.int("z"));
        assert!(unknown.is_err());
    }

    /// What `bind` relies on: SQLite numbers `$N` by first appearance.
    #[test]
    fn sqlite_numbers_named_parameters_by_first_appearance() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let statement = conn.prepare("SELECT $2, $10, $1, $2").unwrap();
        let names: Vec<_> = (1..=statement.parameter_count())
            .map(|i| statement.parameter_name(i).unwrap().to_owned())
            .collect();
        assert_eq!(names, ["$2", "$10", "$1"]);
    }
}
