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
//!   [`MAX_BODIES`], or when the next body is expected to outlast what is
//!   left of [`MAX_OPEN`] (its tenant's last body took longer): that body
//!   begins the next transaction. A bulk change therefore delays the
//!   writes behind it by its own length and one commit, and the writes
//!   ahead of it not at all.
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
        while owed.len() < MAX_BODIES {
            self.take_arrivals();
            // A body expected to outlast what is left of MAX_OPEN starts
            // the next transaction instead: the answers owed now do not
            // wait for it.
            let left = MAX_OPEN.saturating_sub(opened.elapsed());
            let fits = |cost: Duration| owed.is_empty() || cost < left;
            let Some(job) = self.turns.pop_if(fits) else {
                break;
            };
            let started = Instant::now();
            if owed.is_empty() {
                let done = run(job.body, &mut self.conn);
                self.turns.took(&job.tenant, started.elapsed());
                match done {
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
            self.turns.took(&job.tenant, started.elapsed());
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
/// has any, in the order the tenants arrived. A tenant just served goes
/// to the back only at the next turn, after the tenants that arrived
/// while its body ran: a tenant that starts writing waits for at most
/// one body of each tenant already writing.
#[derive(Default)]
struct Turns {
    queued: HashMap<Option<TenantId>, Queue>,
    order: VecDeque<Option<TenantId>>,
    /// The tenant served last, when it has more queued.
    served: Option<Option<TenantId>>,
}

/// One tenant's queued bodies, and how long its last body took (the
/// guess at the next one's cost), for as long as it has any queued.
#[derive(Default)]
struct Queue {
    bodies: VecDeque<Body>,
    cost: Duration,
}

impl Turns {
    fn is_empty(&self) -> bool {
        self.order.is_empty() && self.served.is_none()
    }

    fn push(&mut self, job: Job) {
        let queue = self.queued.entry(job.tenant.clone()).or_default();
        let waiting = !queue.bodies.is_empty();
        queue.bodies.push_back(job.body);
        if !waiting {
            self.order.push_back(job.tenant);
        }
    }

    fn pop(&mut self) -> Option<Job> {
        self.pop_if(|_| true)
    }

    /// The next body in turn, if `fits` accepts its tenant's cost; it
    /// stays first in turn otherwise.
    fn pop_if(&mut self, fits: impl FnOnce(Duration) -> bool) -> Option<Job> {
        if let Some(served) = self.served.take() {
            self.order.push_back(served);
        }
        let tenant = self.order.front()?;
        let queue = self.queued.get_mut(tenant)?;
        if !fits(queue.cost) {
            return None;
        }
        let body = queue.bodies.pop_front()?;
        let tenant = self.order.pop_front()?;
        if queue.bodies.is_empty() {
            self.queued.remove(&tenant);
        } else {
            self.served = Some(tenant.clone());
        }
        Some(Job { tenant, body })
    }

    /// Remembers how long a body of `tenant` took.
    fn took(&mut self, tenant: &Option<TenantId>, took: Duration) {
        if let Some(queue) = self.queued.get_mut(tenant) {
            queue.cost = took;
        }
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

    #[test]
    fn a_tenant_that_starts_writing_goes_before_the_next_body_of_the_one_writing() {
        let mut turns = Turns::default();
        for tenant in ["a", "a", "a"] {
            turns.push(job(tenant));
        }
        let first = turns.pop().and_then(|job| job.tenant);
        assert_eq!(first.as_ref().map(TenantId::as_str), Some("a"));
        // b arrives while a's first body runs.
        turns.push(job("b"));
        let mut served = Vec::new();
        while let Some(job) = turns.pop() {
            served.push(job.tenant.map_or(String::new(), String::from));
        }
        assert_eq!(served, ["b", "a", "a"]);
        assert!(turns.is_empty() && turns.queued.is_empty());
    }

    #[test]
    fn a_body_that_does_not_fit_stays_first_in_turn() {
        let mut turns = Turns::default();
        for tenant in ["a", "a", "b"] {
            turns.push(job(tenant));
        }
        let a = Some(TenantId::from("a".to_owned()));
        assert!(turns.pop_if(|_| true).is_some());
        turns.took(&a, Duration::from_millis(70));
        // b's turn; it has no cost yet.
        let b = turns.pop_if(|cost| cost < Duration::from_millis(5));
        assert_eq!(
            b.and_then(|job| job.tenant).as_ref().map(TenantId::as_str),
            Some("b")
        );
        // a's next body is expected to take 70 ms: not now, but next.
        assert!(
            turns
                .pop_if(|cost| cost < Duration::from_millis(5))
                .is_none()
        );
        let next = turns.pop_if(|_| true).and_then(|job| job.tenant);
        assert_eq!(next.as_ref().map(TenantId::as_str), Some("a"));
        assert!(turns.is_empty());
    }
}
