//! The provisioning log, written in batches off the request's path.
//!
//! Handlers never wait for the log: an entry goes into a bounded queue,
//! and one task writes what has gathered every few milliseconds in a single
//! transaction. The queue is bounded by entries *and* by bytes, and every
//! client-supplied field is clipped before it is queued, so no client can
//! make the log (or this process's memory) grow faster than its requests'
//! count. When the database falls so far behind that the queue is full,
//! entries are dropped and counted rather than slowing requests down.
//!
//! Requests refused with 429 are not logged one by one (a runaway client
//! would fill the log at the rate it is refused): they are counted per
//! tenant and written as one summary entry per tenant per second.
//!
//! During a database outage a batch is retried with backoff for up to
//! [`OUTAGE`]. Any other error means a row the database will not take; the
//! batch is then written row by row, and only the rows refused are dropped
//! and counted, so one tenant cannot keep every other tenant's entries out
//! of the log.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use scimitar_core::ids::TenantId;
use scimitar_core::model::{LogEntry, Micros, now};
use scimitar_core::{CoreError, Store};
use scimitar_proto::dialect::printable;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

const CAPACITY: usize = 16_384;
/// Most bytes of entries waiting to be written.
const MAX_QUEUED_BYTES: usize = 8 * 1024 * 1024;
const BATCH: usize = 512;
const LINGER: Duration = Duration::from_millis(50);
/// How long one batch is retried before it is given up.
const OUTAGE: Duration = Duration::from_secs(120);
/// How often refused requests are summarised.
const SUMMARY_EVERY: Duration = Duration::from_secs(1);

/// Longest path (with its query) kept in an entry, in characters.
pub const MAX_PATH_CHARS: usize = 1024;
/// Longest error detail kept in an entry, in characters.
pub const MAX_DETAIL_CHARS: usize = 1024;

/// The sending side, cloned into the application state.
#[derive(Clone)]
pub struct LogWriter {
    tx: mpsc::Sender<LogEntry>,
    shared: Arc<Shared>,
}

struct Shared {
    dropped: AtomicU64,
    queued_bytes: AtomicUsize,
    /// Requests refused with 429 since the last summary, per tenant.
    refused: Mutex<HashMap<TenantId, Refused>>,
}

struct Refused {
    first: Micros,
    count: u64,
    path: String,
}

/// Owns the writing task; [`LogTask::finish`] flushes what is left.
pub struct LogTask {
    handle: JoinHandle<()>,
}

impl LogWriter {
    pub fn start(store: Arc<dyn Store>) -> (LogWriter, LogTask) {
        let (tx, rx) = mpsc::channel(CAPACITY);
        let shared = Arc::new(Shared {
            dropped: AtomicU64::new(0),
            queued_bytes: AtomicUsize::new(0),
            refused: Mutex::new(HashMap::new()),
        });
        let handle = tokio::spawn(run(store, rx, shared.clone()));
        let writer = LogWriter { tx, shared };
        (writer, LogTask { handle })
    }

    /// Entries dropped so far because the database fell behind or refused
    /// them.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Queues an entry, its client-supplied fields clipped and escaped.
    pub fn record(&self, entry: LogEntry) {
        let entry = bounded(entry);
        let size = weight(&entry);
        let queued = self.shared.queued_bytes.fetch_add(size, Ordering::Relaxed);
        if queued + size > MAX_QUEUED_BYTES || self.tx.try_send(entry).is_err() {
            self.shared.queued_bytes.fetch_sub(size, Ordering::Relaxed);
            self.shared.lost(1);
        }
    }

    /// Counts a request refused with 429, for the tenant's next summary.
    pub fn refused(&self, tenant: &TenantId, path: &str) {
        let mut refused = self
            .shared
            .refused
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        refused
            .entry(tenant.clone())
            .or_insert_with(|| Refused {
                first: now(),
                count: 0,
                path: printable(path, MAX_PATH_CHARS),
            })
            .count += 1;
    }
}

impl Shared {
    fn lost(&self, n: u64) {
        let total = self.dropped.fetch_add(n, Ordering::Relaxed) + n;
        tracing::warn!(dropped = total, "provisioning log entries dropped");
    }

    /// One summary entry per tenant with refused requests.
    fn take_summaries(&self) -> Vec<LogEntry> {
        let refused = std::mem::take(&mut *self.refused.lock().unwrap_or_else(|p| p.into_inner()));
        refused
            .into_iter()
            .map(|(tenant_id, r)| LogEntry {
                tenant_id,
                time: r.first,
                request_id: String::new(),
                method: "*".to_owned(),
                path: r.path,
                status: 429,
                scim_type: None,
                detail: Some(format!(
                    "{} request{} refused in this second: too many requests for this tenant \
                     (the first is shown)",
                    r.count,
                    if r.count == 1 { "" } else { "s" }
                )),
                ignored: Vec::new(),
                api_key_id: None,
            })
            .collect()
    }
}

fn bounded(mut entry: LogEntry) -> LogEntry {
    entry.path = printable(&entry.path, MAX_PATH_CHARS);
    entry.detail = entry.detail.map(|d| printable(&d, MAX_DETAIL_CHARS));
    entry.request_id = printable(&entry.request_id, crate::MAX_REQUEST_ID_CHARS);
    entry.method = printable(&entry.method, 16);
    entry.ignored = entry
        .ignored
        .iter()
        .take(scimitar_proto::resource::MAX_IGNORED_NOTED)
        .map(|name| printable(name, 200))
        .collect();
    entry
}

/// Roughly the bytes an entry holds.
fn weight(entry: &LogEntry) -> usize {
    let texts = entry.path.len()
        + entry.request_id.len()
        + entry.method.len()
        + entry.detail.as_ref().map_or(0, String::len)
        + entry.scim_type.as_ref().map_or(0, String::len)
        + entry.ignored.iter().map(String::len).sum::<usize>();
    texts + std::mem::size_of::<LogEntry>()
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

async fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<LogEntry>, shared: Arc<Shared>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut summaries = tokio::time::interval(SUMMARY_EVERY);
    summaries.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let queued = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => {
                if n == 0 {
                    break;
                }
                gather(&mut rx, &mut batch).await;
                true
            }
            _ = summaries.tick() => {
                batch.extend(shared.take_summaries());
                false
            }
        };
        if batch.is_empty() {
            continue;
        }
        write(&*store, &batch, &shared).await;
        if queued {
            let bytes: usize = batch.iter().map(weight).sum();
            shared.queued_bytes.fetch_sub(bytes, Ordering::Relaxed);
        }
        batch.clear();
    }
    // The senders are gone: what was refused since the last summary.
    let last = shared.take_summaries();
    if !last.is_empty() {
        write(&*store, &last, &shared).await;
    }
}

/// Lets a burst gather into one transaction.
async fn gather(rx: &mut mpsc::Receiver<LogEntry>, batch: &mut Vec<LogEntry>) {
    let deadline = tokio::time::sleep(LINGER);
    tokio::pin!(deadline);
    while batch.len() < BATCH {
        let room = BATCH - batch.len();
        tokio::select! {
            n = rx.recv_many(batch, room) => if n == 0 { break },
            () = &mut deadline => break,
        }
    }
}

/// Writes one batch: retried with backoff through an outage; row by row
/// when the database refuses it for another reason.
async fn write(store: &dyn Store, batch: &[LogEntry], shared: &Shared) {
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(100);
    let mut attempt = 1u32;
    loop {
        match store.append_log(batch).await {
            Ok(()) => return,
            Err(CoreError::Unavailable(e)) if started.elapsed() < OUTAGE => {
                tracing::warn!(error = %e, attempt, entries = batch.len(), "writing provisioning log failed; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                attempt += 1;
            }
            Err(e @ CoreError::Unavailable(_)) => {
                tracing::error!(error = %e, entries = batch.len(), "provisioning log entries lost");
                shared.lost(u64::try_from(batch.len()).unwrap_or(u64::MAX));
                return;
            }
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, entries = batch.len(), "provisioning log batch refused; writing its entries one by one");
                for entry in batch {
                    Box::pin(write(store, std::slice::from_ref(entry), shared)).await;
                }
                return;
            }
            Err(e) => {
                tracing::error!(error = %e, tenant = %batch[0].tenant_id, "provisioning log entry refused and dropped");
                shared.lost(1);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared() -> Shared {
        Shared {
            dropped: AtomicU64::new(0),
            queued_bytes: AtomicUsize::new(0),
            refused: Mutex::new(HashMap::new()),
        }
    }

    fn entry(tenant: &TenantId, request_id: &str) -> LogEntry {
        LogEntry {
            tenant_id: tenant.clone(),
            time: now(),
            request_id: request_id.to_owned(),
            method: "GET".into(),
            path: "/scim/v2/Users".into(),
            status: 200,
            scim_type: None,
            detail: None,
            ignored: vec![],
            api_key_id: None,
        }
    }

    /// Regression (hardening): one row PostgreSQL refused (a NUL) made its
    /// whole batch, every other tenant's entries with it, retry for 120 s
    /// and then be dropped. Now only that row is lost, at once.
    #[tokio::test]
    async fn a_row_the_database_refuses_costs_only_itself() {
        let Some(backend) = scimitar_core::testing::Backend::postgres().await else {
            return;
        };
        let store = backend.store.clone();
        let tenant = store.create_tenant("Acme", None).await.unwrap().id;
        let poison = TenantId::from("bad\u{0}tenant");
        let shared = shared();
        let batch = [
            entry(&tenant, "a"),
            entry(&poison, "b"),
            entry(&tenant, "c"),
        ];
        tokio::time::timeout(Duration::from_secs(20), write(&*store, &batch, &shared))
            .await
            .expect("no retrying for a row that can never be written");
        assert_eq!(shared.dropped.load(Ordering::Relaxed), 1);
        let written: Vec<String> = store
            .provisioning_log(&tenant, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.request_id)
            .collect();
        assert_eq!(written, ["c", "a"]);
        backend.finish().await;
    }

    #[test]
    fn client_fields_are_clipped_and_escaped() {
        let entry = bounded(LogEntry {
            tenant_id: TenantId::from("t"),
            time: 0,
            request_id: "r".repeat(1000),
            method: "GET".into(),
            path: format!("/scim/v2/Users?filter={}", "x".repeat(100_000)),
            status: 400,
            scim_type: None,
            detail: Some("bad \u{0} path".into()),
            ignored: vec!["k".repeat(10_000); 500],
            api_key_id: None,
        });
        assert_eq!(entry.path.chars().count(), MAX_PATH_CHARS + 1);
        assert_eq!(entry.detail.as_deref(), Some("bad \\u{0} path"));
        assert!(entry.request_id.chars().count() <= crate::MAX_REQUEST_ID_CHARS + 1);
        assert_eq!(
            entry.ignored.len(),
            scimitar_proto::resource::MAX_IGNORED_NOTED
        );
        assert!(weight(&entry) < 64 * 1024, "{}", weight(&entry));
    }
}
