//! Group commit. SQLite has one writer, and with `synchronous = FULL`
//! each commit waits for the disk. So the write transactions of all
//! requests run on one thread, the committer, which puts many of them in
//! one database transaction: whatever arrives while a transaction runs or
//! commits goes into the next one. Concurrent writers share one commit and
//! one fsync, and each is answered only after the commit that holds its
//! changes.
//!
//! - Each body after the first of a transaction runs inside a savepoint.
//!   A body that fails is rolled back alone, and the others still commit.
//!   The first body needs no savepoint: if it fails, the transaction holds
//!   nothing else and is rolled back whole.
//! - Tenants take turns. The next body is the oldest one of the tenant
//!   whose turn it is, so one tenant's burst never queues ahead of another
//!   tenant's single write.
//! - A transaction stops taking bodies when none is waiting, when it holds
//!   [`MAX_BODIES`], or when it has been open for [`MAX_OPEN`]. A bulk
//!   change therefore delays the writes behind it by its own length and
//!   one commit, not by a batch of its kind.
//! - Bodies are the store's async write code, but on SQLite every
//!   statement runs synchronously (`conn.rs`), so a body is done the first
//!   time it is polled: the committer runs it in place, on its own thread,
//!   and the requests' threads never wait for the disk.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use rusqlite::Connection;
use tokio::sync::oneshot;

use super::conn::{self, Role};
use crate::error::{CoreError, Result};
use crate::ids::TenantId;
use crate::sql::Work;

/// Bodies in one transaction, at most.
const MAX_BODIES: usize = 128;

/// How long a transaction keeps taking bodies after it began.
const MAX_OPEN: Duration = Duration::from_millis(10);

/// Answers a body's caller once its transaction's fate is known: `None`
/// when it committed, the reason when it did not.
type Answer = Box<dyn FnOnce(Option<&rusqlite::Error>) + Send>;

/// A body, type-erased. Given the connection inside the transaction, it
/// runs and returns the answer owed after the commit, or `None` once it
/// has answered its failure itself. Given the error that kept a
/// transaction from starting, it answers that.
type Body = Box<
    dyn FnOnce(std::result::Result<&mut Connection, &rusqlite::Error>) -> Option<Answer> + Send,
>;

struct Job {
    tenant: Option<TenantId>,
    body: Body,
}

/// The handle through which the store's write transactions reach the
/// committer. The committer stops once every handle is gone.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    commits: Arc<Commits>,
}

/// What the committer has committed so far.
#[derive(Default)]
pub(crate) struct Commits {
    /// Database transactions.
    pub(crate) transactions: AtomicU64,
    /// Bodies in them.
    pub(crate) bodies: AtomicU64,
}

impl Writer {
    /// Starts the committer on the writer connection `conn` to the file
    /// at `path` (reopened if it breaks).
    pub(crate) fn start(conn: Connection, path: PathBuf) -> std::io::Result<Writer> {
        let (jobs, arrivals) = mpsc::channel();
        let commits = Arc::new(Commits::default());
        let committer = Committer {
            conn,
            path,
            arrivals,
            turns: Turns::default(),
            commits: commits.clone(),
        };
        std::thread::Builder::new()
            .name("sqlite-commit".into())
            .spawn(move || committer.run())?;
        Ok(Writer { jobs, commits })
    }

    /// What has been committed so far.
    #[cfg_attr(not(feature = "testing"), allow(dead_code))]
    pub(crate) fn commits(&self) -> &Commits {
        &self.commits
    }

    /// Runs `work` in a write transaction; answers after that transaction
    /// committed. `tenant` is whose turn it takes (`None`: the operator's).
    pub(crate) async fn transact<T: Send + 'static>(
        &self,
        tenant: Option<&TenantId>,
        work: Work<Connection, T>,
    ) -> Result<T> {
        let (answer, answered) = oneshot::channel();
        let body: Body = Box::new(move |conn| {
            let outcome = match conn {
                Ok(conn) => done(work(conn)),
                Err(e) => Err(not_committed(e)),
            };
            match outcome {
                Ok(value) => Some(Box::new(move |failed: Option<&rusqlite::Error>| {
                    let _ = answer.send(match failed {
                        None => Ok(value),
                        Some(e) => Err(not_committed(e)),
                    });
                }) as Answer),
                Err(e) => {
                    let _ = answer.send(Err(e));
                    None
                }
            }
        });
        let job = Job {
            tenant: tenant.cloned(),
            body,
        };
        self.jobs.send(job).map_err(|_| lost())?;
        // Dropped unanswered: the committer is gone, or the body panicked.
        answered.await.map_err(|_| lost())?
    }
}

/// The outcome of a body whose statements all ran synchronously: ready at
/// the first poll.
fn done<T>(mut body: BoxFuture<'_, Result<T>>) -> Result<T> {
    match body.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => outcome,
        Poll::Pending => Err(CoreError::Internal(
            "a write transaction waited for something other than SQLite".into(),
        )),
    }
}

/// A transaction that did not commit, as its bodies' callers see it: the
/// database is unavailable for now (503 with Retry-After).
fn not_committed(e: &rusqlite::Error) -> CoreError {
    CoreError::Unavailable(format!("the write transaction did not commit: {e}").into())
}

fn lost() -> CoreError {
    CoreError::Internal("the write was lost by the database writer".into())
}

struct Committer {
    conn: Connection,
    path: PathBuf,
    arrivals: mpsc::Receiver<Job>,
    turns: Turns,
    commits: Arc<Commits>,
}

/// How a transaction ended its run of bodies.
enum Filled {
    /// Commit, then give these answers.
    Commit(Vec<Answer>),
    /// The first body failed: roll back; nothing is owed.
    Empty,
    /// The database rolled the transaction back by itself (a full disk, an
    /// I/O error): these bodies' work is gone.
    Broken(Vec<Answer>, rusqlite::Error),
}

impl Committer {
    fn run(mut self) {
        while self.wait() {
            if let Err(e) = self.conn.execute_batch("BEGIN IMMEDIATE") {
                self.refuse_waiting(&e);
                continue;
            }
            match self.fill() {
                Filled::Commit(owed) => {
                    let failed = self.conn.execute_batch("COMMIT").err();
                    if failed.is_none() {
                        self.commits.transactions.fetch_add(1, Ordering::Relaxed);
                        let bodies = u64::try_from(owed.len()).unwrap_or(u64::MAX);
                        self.commits.bodies.fetch_add(bodies, Ordering::Relaxed);
                    }
                    for answer in owed {
                        answer(failed.as_ref());
                    }
                }
                Filled::Empty => {}
                Filled::Broken(owed, e) => {
                    for answer in owed {
                        answer(Some(&e));
                    }
                }
            }
            self.end_transaction();
        }
    }

    /// Leaves the connection outside any transaction: rolls back what did
    /// not commit. If SQLite cannot (it rolled back on its own after a full
    /// disk or an I/O error and is in a state it will not leave), the
    /// connection is replaced by a fresh one, so writes resume once the
    /// fault is gone.
    fn end_transaction(&mut self) {
        if self.conn.is_autocommit() {
            return;
        }
        let _ = self.conn.execute_batch("ROLLBACK");
        if !self.conn.is_autocommit() {
            match conn::open(&self.path, Role::Write) {
                Ok(fresh) => self.conn = fresh,
                Err(e) => tracing::warn!(error = %e, "could not reopen the SQLite writer"),
            }
        }
    }

    /// Waits until a body is queued; false once every [`Writer`] is gone
    /// and nothing is queued.
    fn wait(&mut self) -> bool {
        if self.turns.is_empty() {
            match self.arrivals.recv() {
                Ok(job) => self.turns.push(job),
                Err(_) => return false,
            }
        }
        true
    }

    fn take_arrivals(&mut self) {
        while let Ok(job) = self.arrivals.try_recv() {
            self.turns.push(job);
        }
    }

    /// No transaction could begin (the database is locked by another
    /// process past the busy timeout, or gone): every body waiting now
    /// is answered with why.
    fn refuse_waiting(&mut self, e: &rusqlite::Error) {
        self.take_arrivals();
        while let Some(job) = self.turns.pop() {
            (job.body)(Err(e));
        }
    }

    fn fill(&mut self) -> Filled {
        let opened = Instant::now();
        let mut owed = Vec::new();
        while owed.len() < MAX_BODIES && opened.elapsed() < MAX_OPEN {
            self.take_arrivals();
            let Some(job) = self.turns.pop() else { break };
            if owed.is_empty() {
                match run(job.body, &mut self.conn) {
                    Some(answer) => owed.push(answer),
                    None => return Filled::Empty,
                }
                continue;
            }
            if let Err(e) = self.conn.execute_batch("SAVEPOINT body") {
                (job.body)(Err(&e));
                return Filled::Broken(owed, e);
            }
            let (done, end) = match run(job.body, &mut self.conn) {
                Some(answer) => (Some(answer), "RELEASE body"),
                None => (None, "ROLLBACK TO body; RELEASE body"),
            };
            if let Err(e) = self.conn.execute_batch(end) {
                if let Some(answer) = done {
                    answer(Some(&e));
                }
                return Filled::Broken(owed, e);
            }
            owed.extend(done);
        }
        Filled::Commit(owed)
    }
}

/// Runs a body; a panic counts as its failure (its caller, whose answer
/// was dropped with it, sees an internal error).
fn run(body: Body, conn: &mut Connection) -> Option<Answer> {
    std::panic::catch_unwind(AssertUnwindSafe(|| body(Ok(conn)))).unwrap_or(None)
}

/// Queued bodies by tenant, served in turns: one body of each tenant that
/// has any, in the order the tenants arrived.
#[derive(Default)]
struct Turns {
    queued: HashMap<Option<TenantId>, VecDeque<Body>>,
    order: VecDeque<Option<TenantId>>,
}

impl Turns {
    fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn push(&mut self, job: Job) {
        let queue = self.queued.entry(job.tenant.clone()).or_default();
        if queue.is_empty() {
            self.order.push_back(job.tenant);
        }
        queue.push_back(job.body);
    }

    fn pop(&mut self) -> Option<Job> {
        let tenant = self.order.pop_front()?;
        let queue = self.queued.get_mut(&tenant)?;
        let body = queue.pop_front()?;
        if queue.is_empty() {
            self.queued.remove(&tenant);
        } else {
            self.order.push_back(tenant.clone());
        }
        Some(Job { tenant, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(tenant: &str) -> Job {
        let body: Body = Box::new(|_| None);
        let tenant = (!tenant.is_empty()).then(|| TenantId::from(tenant.to_owned()));
        Job { tenant, body }
    }

    #[test]
    fn tenants_take_turns_in_the_order_they_arrived() {
        let mut turns = Turns::default();
        for tenant in ["a", "a", "a", "b", "", "b"] {
            turns.push(job(tenant));
        }
        let mut served = Vec::new();
        while let Some(job) = turns.pop() {
            served.push(job.tenant.map_or(String::new(), String::from));
        }
        assert_eq!(served, ["a", "b", "", "a", "b", "a"]);
        assert!(turns.is_empty() && turns.queued.is_empty());
    }
}
