//! The provisioning log, written in batches off the request's path.
//!
//! Handlers never wait for the log: an entry goes into a bounded channel,
//! and one task writes what has gathered every few milliseconds in a single
//! transaction. If the database falls behind so far that the channel fills,
//! entries are dropped and counted rather than slowing requests down.
//! During a database outage a batch is retried with backoff for up to
//! [`OUTAGE`], while new entries wait in the channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use scimitar_core::Store;
use scimitar_core::model::LogEntry;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const CAPACITY: usize = 16_384;
const BATCH: usize = 512;
const LINGER: Duration = Duration::from_millis(50);
/// How long one batch is retried before it is given up.
const OUTAGE: Duration = Duration::from_secs(120);

/// The sending side, cloned into the application state.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<LogEntry>,
    dropped: Arc<AtomicU64>,
}

/// Owns the writing task; [`LogTask::finish`] flushes what is left.
pub struct LogTask {
    handle: JoinHandle<()>,
}

impl LogWriter {
    pub fn start(store: Arc<dyn Store>) -> (LogWriter, LogTask) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let dropped = Arc::new(AtomicU64::new(0));
        let handle = tokio::spawn(run(store, rx, dropped.clone()));
        let writer = LogWriter { tx, dropped };
        (writer, LogTask { handle })
    }

    /// Entries dropped so far because the database fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn record(&self, entry: LogEntry) {
        if self.tx.try_send(entry).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::warn!(dropped = n, "provisioning log is behind; entry dropped");
        }
    }
}

impl LogTask {
    /// Waits until every entry sent before all writers were dropped is
    /// written.
    pub async fn finish(self) {
        match tokio::time::timeout(Duration::from_secs(10), self.handle).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!(error = %e, "provisioning log task failed"),
            Err(_) => tracing::error!("provisioning log not flushed within 10 s"),
        }
    }
}

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<LogEntry>, dropped: Arc<AtomicU64>) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Let a burst gather into one transaction.
        if batch.len() < BATCH {
            let deadline = tokio::time::sleep(LINGER);
            tokio::pin!(deadline);
            while batch.len() < BATCH {
                let room = BATCH - batch.len();
                tokio::select! {
                    n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                    () = &mut deadline => break,
                }
            }
        }
        if !write(&*store, &batch).await {
            let lost = u64::try_from(batch.len()).unwrap_or(u64::MAX);
            dropped.fetch_add(lost, Ordering::Relaxed);
        }
        batch.clear();
    }
}

/// Writes one batch, retrying with backoff through an outage; `false` when
/// it had to be given up.
async fn write(store: &dyn Store, batch: &[LogEntry]) -> bool {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    let mut attempt = 1u32;
    loop {
        match store.append_log(batch).await {
            Ok(()) => return true,
            Err(e) if started.elapsed() < OUTAGE => {
                tracing::warn!(error = %e, attempt, entries = batch.len(), "writing provisioning log failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(e) => {
                tracing::error!(error = %e, entries = batch.len(), "provisioning log entries lost");
                return false;
            }
        }
    }
}
