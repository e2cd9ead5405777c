//! API keys as credentials: which tenant a secret belongs to. A key found
//! in the database is trusted for [`KEY_TRUSTED_FOR`] without asking
//! again, so a SCIM request costs no key lookup; revoking through this
//! process forgets every trusted key at once.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::Service;
use crate::error::Result;
use crate::ids::{ApiKeyId, TenantId};
use crate::rules;

/// How long a key, once found valid, is trusted without asking the
/// database: a key revoked by another process (the CLI, another `serve`)
/// stops working within this time; one revoked through this process, at
/// once.
pub const KEY_TRUSTED_FOR: Duration = Duration::from_secs(1);

/// Past this many trusted keys, those no longer fresh are swept. Only
/// valid keys are remembered, so the map is bounded by the keys issued,
/// never by what clients send.
const SWEEP_ABOVE: usize = 4096;

/// Whom a SCIM request's API key lets in: the tenant, and which of its
/// keys it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The tenant the key belongs to.
    pub tenant: TenantId,
    /// The key.
    pub key: ApiKeyId,
}

/// Valid keys by the hash of their secret, with when each was found.
#[derive(Default)]
pub(super) struct TrustedKeys {
    inner: Mutex<Trusted>,
}

#[derive(Default)]
struct Trusted {
    keys: HashMap<String, (Credential, Instant)>,
    /// Moves on at every revocation, so a lookup that began before one
    /// does not remember what it read.
    generation: u64,
}

impl TrustedKeys {
    fn lock(&self) -> std::sync::MutexGuard<'_, Trusted> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn fresh(&self, hash: &str, now: Instant) -> Option<Credential> {
        let trusted = self.lock();
        let (credential, found) = trusted.keys.get(hash)?;
        (now.saturating_duration_since(*found) < KEY_TRUSTED_FOR).then(|| credential.clone())
    }

    fn generation(&self) -> u64 {
        self.lock().generation
    }

    fn remember(&self, hash: String, credential: Credential, now: Instant, generation: u64) {
        let mut trusted = self.lock();
        if trusted.generation != generation {
            return;
        }
        if trusted.keys.len() >= SWEEP_ABOVE {
            trusted
                .keys
                .retain(|_, (_, found)| now.saturating_duration_since(*found) < KEY_TRUSTED_FOR);
        }
        trusted.keys.insert(hash, (credential, now));
    }

    /// After a revocation: nothing is trusted until asked again.
    pub(super) fn forget_all(&self) {
        let mut trusted = self.lock();
        trusted.keys.clear();
        trusted.generation += 1;
    }
}

impl Service {
    /// The tenant whose live API key `secret` is, and the key, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Credential>> {
        let hash = rules::hash_secret(secret);
        let now = self.clock.now();
        if let Some(credential) = self.trusted.fresh(&hash, now) {
            return Ok(Some(credential));
        }
        let generation = self.trusted.generation();
        let found = self.store.authenticate(secret).await?;
        let found = found.map(|(tenant, key)| Credential { tenant, key });
        if let Some(credential) = &found {
            self.trusted
                .remember(hash, credential.clone(), now, generation);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential() -> Credential {
        Credential {
            tenant: TenantId::from("t"),
            key: ApiKeyId::from("k"),
        }
    }

    #[test]
    fn a_lookup_that_began_before_a_revocation_is_not_remembered() {
        let keys = TrustedKeys::default();
        let now = Instant::now();
        let before = keys.generation();
        keys.forget_all();
        keys.remember("h".into(), credential(), now, before);
        assert_eq!(keys.fresh("h", now), None);
        keys.remember("h".into(), credential(), now, keys.generation());
        assert_eq!(keys.fresh("h", now), Some(credential()));
        assert_eq!(keys.fresh("h", now + KEY_TRUSTED_FOR), None);
    }

    #[test]
    fn stale_keys_are_swept_so_the_map_stays_bounded() {
        let keys = TrustedKeys::default();
        let start = Instant::now();
        for i in 0..SWEEP_ABOVE * 3 {
            let at = start + KEY_TRUSTED_FOR * u32::try_from(i / 1000).unwrap();
            keys.remember(format!("h{i}"), credential(), at, 0);
        }
        assert!(
            keys.lock().keys.len() <= SWEEP_ABOVE,
            "{}",
            keys.lock().keys.len()
        );
    }
}
