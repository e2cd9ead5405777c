//! Retention: the provisioning log, the events and expired sessions are
//! deleted by age in the background, in small batches, so the database
//! holds a bounded window of history whatever the clients send.

use std::sync::Arc;
use std::time::Duration;

use scimitar_core::Store;
use scimitar_core::model::now;
use scimitar_core::store::Expiring;
use tokio::task::JoinHandle;

/// How long what is kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Provisioning-log entries older than this are deleted (default 90 days).
    pub log: Duration,
    /// Events, and webhook delivery attempts, older than this are deleted
    /// (default 30 days).
    pub events: Duration,
    /// Time between two sweeps.
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            log: Duration::from_secs(90 * 86_400),
            events: Duration::from_secs(30 * 86_400),
            every: Duration::from_secs(600),
        }
    }
}

/// Rows one statement deletes: small enough that a batch holds the writer
/// for milliseconds, so requests slip in between batches.
const BATCH: u32 = 1000;
const PAUSE: Duration = Duration::from_millis(20);

/// Sweeps now and then every [`Retention::every`], until the runtime ends
/// or the handle is aborted.
pub fn start(store: Arc<dyn Store>, retention: Retention) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(retention.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            sweep(&*store, &retention).await;
        }
    })
}

/// One sweep of everything that is due; returns the rows deleted.
pub async fn sweep(store: &dyn Store, retention: &Retention) -> u64 {
    let age = |d: Duration| now().saturating_sub(i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let mut total = 0;
    for (what, before) in [
        (Expiring::ProvisioningLog, age(retention.log)),
        (Expiring::Events, age(retention.events)),
        (Expiring::Sessions, now()),
        (Expiring::PortalLinks, now()),
        (Expiring::PanelSessions, now()),
        (Expiring::HourCounts, age(retention.log)),
        (Expiring::WebhookAttempts, age(retention.events)),
    ] {
        loop {
            match store.prune(what, before, BATCH).await {
                Ok(n) => {
                    total += n;
                    if n < u64::from(BATCH) {
                        break;
                    }
                    tokio::time::sleep(PAUSE).await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, ?what, "retention sweep failed; retried next time");
                    break;
                }
            }
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, "retention sweep");
    }
    total
}
