//! Users: created, changed and deprovisioned by SCIM only.
//!
//! The tenant's policies say what a user is. `userNameFormat`: a userName
//! is an email address and the user's email (the guide's rule), or any
//! string with the client's email; [`Service::user_schema`] is how a body
//! is read, and every write holds the result to the policy whoever parsed
//! it ([`hold_to`]). `deprovision`: what `active: false` does, delete (the guide's rule:
//! the user, its memberships and its sessions go) or deactivate (the user
//! stays, inactive). Deprovisioning happens when a user goes from active to
//! inactive; a user already inactive (deactivated while the tenant
//! deactivated) is changed like any other. `userNameDomains`: a new or
//! renamed userName must be the tenant's to create (`domains.rs`).
//! Policies come from the service's memory of them ([`Service::policy`]),
//! so following them costs a request no read.

use scimitar_proto::ScimError;
use scimitar_proto::patch::{PatchRequest, apply};
use scimitar_proto::resource::{Email, UserAttributes, parse_user_as, render_user, validate_email};
use scimitar_proto::schema::ResourceType;

use super::{Precondition, Service, view_meta};
use crate::error::{CoreError, Result};
use crate::ids::{TenantId, UserId};
use crate::model::{Deprovision, Policy, User, UserNameFormat};

/// What a PUT or PATCH left behind.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The user as stored now (deactivated, when `active: false`
    /// deactivates in its tenant).
    Kept(User),
    /// The user's last state before it was deleted by `active: false`.
    Deprovisioned(User),
}

impl Service {
    /// Creates a user. Where `active: false` deletes, it creates nothing;
    /// where it deactivates, the user is created inactive. A user created
    /// without `active` is active where `active: false` deletes, and has it
    /// unassigned where it deactivates.
    pub async fn create_user(&self, tenant: &TenantId, mut attrs: UserAttributes) -> Result<User> {
        let policy = self.policy(tenant).await?;
        hold_to(&policy, &mut attrs)?;
        self.hold_to_domains(tenant, &policy, &attrs.user_name)
            .await?;
        if attrs.active != Some(true) && policy.deprovision == Deprovision::Delete {
            if attrs.active == Some(false) {
                return Err(CoreError::Rejected(ScimError::invalid_value(
                    "a user cannot be created inactive: in this tenant 'active' false means \
                     deprovisioned (deleted), so nothing was created",
                )));
            }
            attrs.active = Some(true);
        }
        self.store.create_user(tenant, attrs).await
    }

    /// Replaces a user's attributes (PUT); `active: false` deprovisions it.
    pub async fn replace_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        attrs: &UserAttributes,
        pre: Option<&Precondition>,
    ) -> Result<Written> {
        let policy = self.policy(tenant).await?;
        self.optimistic(pre, || async {
            let current = self.store.get_user(tenant, id).await?;
            Precondition::check(pre, current.stamp.version)?;
            self.write(tenant, &policy, current, attrs.clone()).await
        })
        .await
    }

    /// Applies a PATCH to a user; returns what it left and the paths it
    /// ignored. `active` set to false deprovisions.
    pub async fn patch_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        request: &PatchRequest,
        pre: Option<&Precondition>,
    ) -> Result<(Written, Vec<String>)> {
        let policy = self.policy(tenant).await?;
        let users = policy.user_name_format.users();
        self.optimistic(pre, || async {
            let current = self.store.get_user(tenant, id).await?;
            Precondition::check(pre, current.stamp.version)?;
            // The engine works on the client view; groups are read-only and
            // not loaded, so a PATCH cannot touch them. The view's URLs do
            // not matter to it.
            let meta = view_meta(&current.stamp);
            let mut view = render_user("", id.as_str(), &current.attrs, &meta, None);
            let outcome = apply(users, &mut view, request).map_err(CoreError::Rejected)?;
            let attrs = parse_user_as(users, &view)
                .map_err(CoreError::Rejected)?
                .value;
            let written = self.write(tenant, &policy, current, attrs).await?;
            Ok((written, outcome.ignored))
        })
        .await
    }

    /// Deprovisions a user (DELETE), whatever the tenant's policy: the
    /// user, its memberships and its sessions go in one transaction.
    pub async fn delete_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        pre: Option<&Precondition>,
    ) -> Result<()> {
        let read = async { Ok(self.store.get_user(tenant, id).await?.stamp) };
        let expected = Precondition::expected(pre, read).await?;
        self.store.deprovision_user(tenant, id, expected).await
    }

    /// Stores `attrs` over `current`, conditional on `current`'s version:
    /// deletes when it makes an active user inactive in a tenant where that
    /// deletes, writes nothing when nothing changed.
    async fn write(
        &self,
        tenant: &TenantId,
        policy: &Policy,
        current: User,
        mut attrs: UserAttributes,
    ) -> Result<Written> {
        let version = Some(current.stamp.version);
        hold_to(policy, &mut attrs)?;
        // Most writes keep the userName as it was: compared as sent first,
        // lower-cased (two allocations) only when it differs.
        let renamed = attrs.user_name != current.attrs.user_name
            && attrs.user_name.to_lowercase() != current.attrs.user_name.to_lowercase();
        if renamed {
            self.hold_to_domains(tenant, policy, &attrs.user_name)
                .await?;
        }
        if attrs.active != Some(true) && policy.deprovision == Deprovision::Delete {
            match attrs.active {
                Some(false) if current.attrs.active != Some(false) => {
                    self.store
                        .deprovision_user(tenant, &current.id, version)
                        .await?;
                    return Ok(Written::Deprovisioned(current));
                }
                // `active` removed or not sent: it stays as it was (a user
                // there is active, unless it was deactivated before the
                // policy changed).
                None => attrs.active = Some(current.attrs.active.unwrap_or(true)),
                _ => {}
            }
        }
        if attrs == current.attrs {
            return Ok(Written::Kept(current));
        }
        let user = self
            .store
            .replace_user(tenant, &current.id, attrs, version)
            .await?;
        Ok(Written::Kept(user))
    }

    /// How `tenant`'s users are read from a body: a POST or PUT parses
    /// with it (`scimitar_proto::resource::parse_user_as`).
    pub async fn user_schema(&self, tenant: &TenantId) -> Result<&'static ResourceType> {
        Ok(self.policy(tenant).await?.user_name_format.users())
    }
}

/// Holds `attrs` to the tenant's userName format, whoever parsed them:
/// where userNames are email addresses, the userName must be one and is
/// the user's email.
fn hold_to(policy: &Policy, attrs: &mut UserAttributes) -> Result<()> {
    if policy.user_name_format == UserNameFormat::Email {
        validate_email(&attrs.user_name).map_err(CoreError::Rejected)?;
        attrs.email = Some(Email::of_user_name(&attrs.user_name));
    }
    Ok(())
}
