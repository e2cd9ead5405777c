//! Groups as SCIM clients change them: created by an administrator (or,
//! where the tenant's policy says so, by the identity provider), matched
//! by externalId, renamed and given members by the identity provider.

use scimitar_proto::ScimError;
use scimitar_proto::patch::{MemberOp, PatchRequest, apply};
use scimitar_proto::resource::{GroupInput, parse_group, render_group};
use scimitar_proto::schema::GROUP;

use super::{Precondition, Service, view_meta};
use crate::error::{CoreError, Result};
use crate::ids::{GroupId, TenantId};
use crate::model::{Group, GroupChange, GroupCreation, NewGroup};

impl Service {
    /// Creates a group for the identity provider (`POST /Groups`), where
    /// the tenant's policy lets it: in the policy's subaccount, with its
    /// externalId and members, in one transaction. Otherwise 403, saying
    /// where groups are made.
    pub async fn create_group_scim(&self, tenant: &TenantId, input: GroupInput) -> Result<Group> {
        let policy = self.policy(tenant).await?;
        if policy.group_creation == GroupCreation::Admin {
            return Err(CoreError::Rejected(ScimError::new(
                403,
                None,
                "groups are created by an administrator of this service, not by SCIM: create \
                 the group in the admin panel and set its externalId (Group ID) to your identity \
                 provider's group id (objectId in Entra ID), then provisioning will match it",
            )));
        }
        let group = NewGroup {
            display_name: input.display_name,
            subaccount_id: policy.group_subaccount_id,
            external_id: input.external_id,
            members: input.members.unwrap_or_default(),
        };
        self.store.create_group(tenant, group).await
    }

    /// Replaces a group (PUT). Without `members` the members stay as they
    /// are; without `externalId` the administrator's externalId stays: it
    /// is what the identity provider matches the group by.
    pub async fn replace_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        input: GroupInput,
        pre: Option<&Precondition>,
    ) -> Result<Group> {
        let current = self.store.get_group(tenant, id).await?;
        Precondition::check(pre, current.stamp.version)?;
        let change = GroupChange {
            display_name: Some(input.display_name),
            external_id: input.external_id.map(Some),
            members: input.members.map(MemberOp::Replace).into_iter().collect(),
        };
        let expected = pre.map(|_| current.stamp.version);
        self.store
            .change_group_scim(tenant, id, change, expected)
            .await
    }

    /// Applies a PATCH to a group; returns the group as stored and the
    /// paths it ignored. Member operations are set operations that commute
    /// with concurrent writers; attribute changes are computed from the
    /// version read, so they must find it.
    pub async fn patch_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        request: &PatchRequest,
        pre: Option<&Precondition>,
    ) -> Result<(Group, Vec<String>)> {
        self.optimistic(pre, || async {
            let current = self.store.get_group(tenant, id).await?;
            Precondition::check(pre, current.stamp.version)?;
            let meta = view_meta(&current.stamp);
            let mut view = render_group(
                "",
                id.as_str(),
                &current.display_name,
                current.external_id.as_deref(),
                None,
                &meta,
            );
            let outcome = apply(&GROUP, &mut view, request).map_err(CoreError::Rejected)?;
            let after = parse_group(&view).map_err(CoreError::Rejected)?.value;
            let change = GroupChange {
                display_name: (after.display_name != current.display_name)
                    .then_some(after.display_name),
                external_id: (after.external_id != current.external_id)
                    .then_some(after.external_id),
                members: outcome.members,
            };
            let needs_version = change.display_name.is_some() || change.external_id.is_some();
            let expected = (pre.is_some() || needs_version).then_some(current.stamp.version);
            let group = self
                .store
                .change_group_scim(tenant, id, change, expected)
                .await?;
            Ok((group, outcome.ignored))
        })
        .await
    }

    /// Deletes a group and its memberships; its users stay.
    pub async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        pre: Option<&Precondition>,
    ) -> Result<()> {
        let read = async { Ok(self.store.get_group(tenant, id).await?.stamp) };
        let expected = Precondition::expected(pre, read).await?;
        self.store.delete_group(tenant, id, expected).await
    }
}
