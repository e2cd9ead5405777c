//! API keys as credentials: which tenant a secret belongs to. A key found
//! in the database is trusted for [`TRUSTED_FOR`] without asking again
//! (see [`super::fresh`]), so a SCIM request costs no key lookup: a key
//! revoked by another process (the CLI, another `serve`) stops working
//! within that time; one revoked through this process, at once.

use super::Service;
#[cfg(doc)]
use super::TRUSTED_FOR;
use crate::error::Result;
use crate::ids::{ApiKeyId, TenantId};
use crate::rules;

/// Whom a SCIM request's API key lets in: the tenant, and which of its
/// keys it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// The tenant the key belongs to.
    pub tenant: TenantId,
    /// The key.
    pub key: ApiKeyId,
}

impl Service {
    /// The tenant whose live API key `secret` is, and the key, if any.
    pub async fn authenticate(&self, secret: &str) -> Result<Option<Credential>> {
        let hash = rules::hash_secret(secret);
        let now = self.clock.now();
        if let Some(credential) = self.trusted.get(&hash, now) {
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
