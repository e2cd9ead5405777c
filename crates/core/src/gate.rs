//! A bounded share of the writer for each tenant.
//!
//! SQLite has one writer, and PostgreSQL a pool of connections: without a
//! bound, one tenant's burst of bulk changes (eight 10,000-member adds at
//! once, say) queues ahead of every other tenant's single write and delays
//! it by the sum of them all. The gate lets each tenant run at most a few
//! write transactions at a time in this process; its further writes wait
//! here, behind its own, not in the database's queue ahead of everyone
//! else's. Another tenant's write then waits for at most the transactions
//! already running, each bounded by the per-request caps.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{CoreError, Result};
use crate::ids::TenantId;

/// Tenants above this many entries trigger a sweep of the idle ones, so the
/// map holds the tenants writing now, not every tenant ever seen.
const SWEEP_AT: usize = 1024;

pub(crate) struct TenantGate {
    per_tenant: usize,
    tenants: Mutex<HashMap<TenantId, Arc<Semaphore>>>,
}

/// A running write of one tenant; dropping it lets the next one in.
pub(crate) struct Pass {
    _permit: OwnedSemaphorePermit,
}

impl TenantGate {
    pub(crate) fn new(per_tenant: usize) -> Self {
        TenantGate {
            per_tenant: per_tenant.max(1),
            tenants: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until `tenant` runs fewer than its share of writes.
    pub(crate) async fn enter(&self, tenant: &TenantId) -> Result<Pass> {
        let slots = {
            // A poisoned lock only means a panic elsewhere mid-insert; the
            // map is still usable.
            let mut tenants = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
            if tenants.len() >= SWEEP_AT && !tenants.contains_key(tenant) {
                // Only the map holds an idle tenant's semaphore: every
                // permit (and every waiter) holds a clone.
                tenants.retain(|_, s| Arc::strong_count(s) > 1);
            }
            tenants
                .entry(tenant.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        let permit = slots
            .acquire_owned()
            .await
            .map_err(|e| CoreError::Internal(Box::new(e)))?;
        Ok(Pass { _permit: permit })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether `enter` gets through without waiting (tokio polls the
    /// future once before it looks at a zero deadline).
    async fn admitted(gate: &TenantGate, tenant: &TenantId) -> Option<Pass> {
        tokio::time::timeout(Duration::ZERO, gate.enter(tenant))
            .await
            .ok()
            .map(|r| r.expect("gate open"))
    }

    #[tokio::test]
    async fn a_busy_tenant_waits_behind_itself_not_others() {
        let gate = TenantGate::new(1);
        let (a, b) = (TenantId::from("a"), TenantId::from("b"));
        let first = admitted(&gate, &a).await.expect("a's first write runs");
        assert!(
            admitted(&gate, &a).await.is_none(),
            "a's second write waits"
        );
        let other = admitted(&gate, &b).await;
        assert!(other.is_some(), "b's write does not wait for a's");
        drop(first);
        assert!(admitted(&gate, &a).await.is_some(), "a's next write runs");
    }

    #[tokio::test]
    async fn idle_tenants_are_swept() {
        let gate = TenantGate::new(2);
        let held = admitted(&gate, &TenantId::from("busy")).await.unwrap();
        for i in 0..SWEEP_AT + 10 {
            drop(
                admitted(&gate, &TenantId::from(format!("t{i}")))
                    .await
                    .unwrap(),
            );
        }
        let tenants = gate.tenants.lock().unwrap();
        assert!(tenants.len() < SWEEP_AT, "{}", tenants.len());
        assert!(
            tenants.contains_key(&TenantId::from("busy")),
            "a writing tenant stays"
        );
        drop(tenants);
        drop(held);
    }
}
