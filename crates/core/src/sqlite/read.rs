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

use rusqlite::Connection;

use super::conn::{self, Role};
use crate::error::Result;
use crate::sql::Param;

/// Connections kept open between reads; more are opened while more reads
/// run at once, and closed after.
const IDLE: usize = 8;

/// The read connections of one database file.
#[derive(Clone)]
pub(crate) struct Readers(Arc<Inner>);

struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(super) fn new(path: &Path) -> Self {
        Readers(Arc::new(Inner {
            path: path.to_owned(),
            idle: Mutex::new(Vec::new()),
        }))
    }

    /// Runs `sql` with `params` bound to its `$N` placeholders and maps
    /// every row with `decode`.
    pub(super) fn select<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        decode: impl FnMut(&conn::Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let idle = self
            .0
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let conn = match idle {
            Some(conn) => conn,
            None => conn::open(&self.0.path, Role::Read).map_err(conn::error)?,
        };
        let out = conn::rows(&conn, sql, params, decode);
        let mut idle = self.0.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < IDLE {
            idle.push(conn);
        }
        Ok(out?)
    }
}
