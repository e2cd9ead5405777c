//! Confirmed domains: the domains an operator confirmed belong to a
//! tenant (its `userNameDomains` policy). userNames are unique across the
//! deployment, so without them any tenant can learn whether an address is
//! provisioned anywhere (its POST answers 409) and can take another
//! company's addresses first. A userName at a confirmed domain belongs to
//! that domain's tenant alone; a tenant with confirmed domains takes
//! userNames at them only; so a 409 only ever concerns a tenant's own
//! people. Users created before a domain was confirmed, in another
//! tenant, are collisions, which the operator sees and releases.
//!
//! The check runs on a new userName (a create, a rename) and costs no read
//! of the database: the tenant's domains are its policy, and every
//! domain's tenant is a map remembered like policies are
//! ([`super::TRUSTED_FOR`]).

use std::collections::HashMap;
use std::sync::Arc;

use scimitar_proto::ScimError;
use scimitar_proto::dialect::quote;

use super::Service;
use crate::error::{CoreError, Result};
use crate::ids::{TenantId, UserId};
use crate::model::{Collision, Policy};
use crate::origin::Origin;
use crate::rules;

/// Every confirmed domain's tenant.
pub(super) type Owners = Arc<HashMap<String, TenantId>>;

/// The `how` of the `user.deprovisioned` event of a released collision.
pub const RELEASED: &str = "collision";

/// Most collisions one listing returns.
pub const MAX_COLLISIONS: u32 = 1000;

impl Service {
    /// Refuses `user_name`, new in `tenant`, where it is not the tenant's
    /// to create: outside the tenant's confirmed domains, or at a domain
    /// another tenant confirmed.
    pub(super) async fn hold_to_domains(
        &self,
        tenant: &TenantId,
        policy: &Policy,
        user_name: &str,
    ) -> Result<()> {
        let domain = rules::user_name_domain(user_name);
        let ours = &policy.user_name_domains;
        if !ours.is_empty() {
            if domain.is_some_and(|d| ours.contains(&d)) {
                return Ok(());
            }
            return Err(CoreError::Rejected(ScimError::invalid_value(format!(
                "userName {} is not at one of this tenant's domains ({}); map userName to an \
                 address at one of them, or ask the operator to confirm another",
                quote(user_name),
                ours.join(", ")
            ))));
        }
        let Some(domain) = domain else {
            return Ok(());
        };
        match self.domain_owners().await?.get(&domain) {
            Some(owner) if owner != tenant => {
                Err(CoreError::Rejected(ScimError::invalid_value(format!(
                    "userName {} is at {}, a domain confirmed for another tenant: its users are \
                     provisioned there",
                    quote(user_name),
                    quote(&domain)
                ))))
            }
            _ => Ok(()),
        }
    }

    /// Every confirmed domain's tenant, as read less than
    /// [`super::TRUSTED_FOR`] ago.
    async fn domain_owners(&self) -> Result<Owners> {
        let now = self.clock.now();
        if let Some(owners) = self.domain_owners.get(&(), now) {
            return Ok(owners);
        }
        let generation = self.domain_owners.generation();
        let owners: Owners = Arc::new(self.store.list_domains().await?.into_iter().collect());
        self.domain_owners
            .remember((), owners.clone(), now, generation);
        Ok(owners)
    }

    /// Users at a domain another tenant confirmed (at `domain` alone, when
    /// given), by domain, tenant and userName, at most `limit` (up to
    /// [`MAX_COLLISIONS`]).
    pub async fn list_collisions(
        &self,
        domain: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Collision>> {
        let domain = domain.map(rules::normalise_domain);
        self.store
            .list_collisions(domain.as_deref(), limit.min(MAX_COLLISIONS))
            .await
    }

    /// Resolves a collision for the tenant that confirmed the domain: the
    /// user is deleted from the tenant it is in (as a `DELETE` would, with
    /// its memberships and sessions and a `user.deprovisioned` event
    /// there, whose `how` is [`RELEASED`]), so the address is free for
    /// its own tenant's identity provider. Returns what the collision was;
    /// `NotFound` when the user is none.
    pub async fn release_collision(&self, user: &UserId) -> Result<Collision> {
        let collision = self
            .store
            .collision_of(user)
            .await?
            .ok_or(CoreError::NotFound("collision"))?;
        // The event says how: released, not deleted by a SCIM method.
        let released = Origin {
            request_id: String::new(),
            method: RELEASED.to_owned(),
            api_key: None,
        };
        let deleted = self
            .store
            .deprovision_user(&collision.tenant_id, &collision.user_id, None);
        crate::origin::within(released, deleted).await?;
        Ok(collision)
    }
}
