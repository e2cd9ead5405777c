//! Users: created, changed and deprovisioned by SCIM only.

use scimitar_proto::ScimError;
use scimitar_proto::patch::{PatchRequest, apply};
use scimitar_proto::resource::{UserInput, parse_user, render_user};
use scimitar_proto::schema::USER;

use super::{Precondition, Service, view_meta};
use crate::error::{CoreError, Result};
use crate::ids::{TenantId, UserId};
use crate::model::User;

/// What a PUT or PATCH left behind.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The user as stored now.
    Kept(User),
    /// The user's last state before it was deprovisioned.
    Deprovisioned(User),
}

impl Service {
    /// Creates a user. `active: false` creates nothing: it means
    /// deprovisioned.
    pub async fn create_user(&self, tenant: &TenantId, input: UserInput) -> Result<User> {
        if !input.active {
            return Err(CoreError::Rejected(ScimError::invalid_value(
                "a user cannot be created inactive: 'active' false means deprovisioned, so \
                 nothing was created",
            )));
        }
        self.store.create_user(tenant, input.attrs).await
    }

    /// Replaces a user's attributes (PUT); `active: false` deprovisions it.
    pub async fn replace_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        input: &UserInput,
        pre: Option<&Precondition>,
    ) -> Result<Written> {
        self.optimistic(pre, || async {
            let current = self.store.get_user(tenant, id).await?;
            Precondition::check(pre, current.stamp.version)?;
            self.write(tenant, current, input.clone()).await
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
        self.optimistic(pre, || async {
            let current = self.store.get_user(tenant, id).await?;
            Precondition::check(pre, current.stamp.version)?;
            // The engine works on the client view; groups are read-only and
            // not loaded, so a PATCH cannot touch them. The view's URLs do
            // not matter to it.
            let meta = view_meta(&current.stamp);
            let mut view = render_user("", id.as_str(), &current.attrs, &meta, None);
            let outcome = apply(&USER, &mut view, request).map_err(CoreError::Rejected)?;
            let input = parse_user(&view).map_err(CoreError::Rejected)?.value;
            let written = self.write(tenant, current, input).await?;
            Ok((written, outcome.ignored))
        })
        .await
    }

    /// Deprovisions a user (DELETE): the user, its memberships and its
    /// sessions go in one transaction.
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

    /// Stores `input` over `current`, conditional on `current`'s version:
    /// deprovisions when inactive, writes nothing when nothing changed.
    async fn write(&self, tenant: &TenantId, current: User, input: UserInput) -> Result<Written> {
        let version = Some(current.stamp.version);
        if !input.active {
            self.store
                .deprovision_user(tenant, &current.id, version)
                .await?;
            return Ok(Written::Deprovisioned(current));
        }
        if input.attrs == current.attrs {
            return Ok(Written::Kept(current));
        }
        let user = self
            .store
            .replace_user(tenant, &current.id, input.attrs, version)
            .await?;
        Ok(Written::Kept(user))
    }
}
