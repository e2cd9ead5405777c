//! What administrators do, for the admin API, the CLI and the panel: every text they give is checked by one rule, every operation on a
//! tenant's things first makes sure the tenant exists (the store's creates
//! check it themselves; the reads are checked here), and every id named
//! with a tenant must be that tenant's.

use scimitar_proto::ScimError;
use scimitar_proto::resource::{MAX_STRING_CHARS, check_string};
use serde::Serialize;

use super::Service;
use crate::error::{CoreError, Result};
use crate::ids::{ApiKeyId, GroupId, SubaccountId, TenantId};
use crate::model::{
    ApiKey, Event, Group, GroupAdminChange, ListQuery, LogEntry, Micros, NewGroup, Policy,
    PolicyChange, Subaccount, Tenant, timestamp,
};
use crate::rules;

/// Longest name, label or region an administrator may give, in characters.
pub const MAX_NAME_CHARS: usize = 256;

/// Most entries one read of the provisioning log or the events returns.
pub const MAX_READ: u32 = 1000;

/// A key as issued: its secret is here, this once, and stored only as a
/// hash.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedApiKey {
    /// The key, as it is listed afterwards.
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The bearer secret the identity provider is given.
    pub key: String,
}

/// A user as an administrator lists them.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserSummary {
    /// The user's id.
    pub id: crate::ids::UserId,
    /// The user's userName.
    pub user_name: String,
    /// The user's displayName.
    pub display_name: String,
    /// The identity provider's id for the user (SCIM externalId).
    pub external_id: Option<String>,
    /// When the user was provisioned.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
}

/// A page of a tenant's users.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserList {
    /// Users matching the filter, on every page.
    pub total: u64,
    /// The users of this page.
    pub users: Vec<UserSummary>,
}

/// A required name: not blank, and stored-string safe.
pub(super) fn required(field: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        return Err(CoreError::Rejected(ScimError::invalid_value(format!(
            "'{field}' is required"
        ))));
    }
    text(field, Some(value))
}

/// An optional name, label or region: at most [`MAX_NAME_CHARS`], no
/// control characters (a NUL cannot even be stored on PostgreSQL).
fn text(field: &str, value: Option<&str>) -> Result<()> {
    checked(field, value, MAX_NAME_CHARS)
}

/// An optional externalId: like every SCIM string, at most
/// [`MAX_STRING_CHARS`], no control characters.
fn external_id(value: Option<&str>) -> Result<()> {
    checked("externalId", value, MAX_STRING_CHARS)
}

fn checked(field: &str, value: Option<&str>, max: usize) -> Result<()> {
    value.map_or(Ok(()), |v| {
        check_string(field, v, max).map_err(CoreError::Rejected)
    })
}

impl Service {
    /// A new tenant: `name` is required, `region` an optional label.
    pub async fn create_tenant(&self, name: &str, region: Option<&str>) -> Result<Tenant> {
        required("name", name)?;
        text("region", region)?;
        self.store.create_tenant(name, region).await
    }

    /// Every tenant, oldest first.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.store.list_tenants().await
    }

    /// The tenant with this id.
    pub async fn get_tenant(&self, tenant: &TenantId) -> Result<Tenant> {
        self.store.get_tenant(tenant).await
    }

    /// A subaccount of `tenant`, under `parent` (one of the tenant's) or at
    /// the root.
    pub async fn create_subaccount(
        &self,
        tenant: &TenantId,
        name: &str,
        parent: Option<&SubaccountId>,
    ) -> Result<Subaccount> {
        required("name", name)?;
        self.store.create_subaccount(tenant, name, parent).await
    }

    /// The subaccounts of `tenant`, oldest first.
    pub async fn list_subaccounts(&self, tenant: &TenantId) -> Result<Vec<Subaccount>> {
        self.store.get_tenant(tenant).await?;
        self.store.list_subaccounts(tenant).await
    }

    /// A group, which identity providers then match by its externalId.
    pub async fn create_group(&self, tenant: &TenantId, group: NewGroup) -> Result<Group> {
        required("displayName", &group.display_name)?;
        external_id(group.external_id.as_deref())?;
        self.store.create_group(tenant, group).await
    }

    /// Changes a tenant's policies; a change that changes nothing is no
    /// event.
    pub async fn set_policy(&self, tenant: &TenantId, change: PolicyChange) -> Result<Tenant> {
        let domains = change
            .user_name_domains
            .as_deref()
            .map(rules::tenant_domains)
            .transpose()
            .map_err(CoreError::Rejected)?;
        let current = self.store.get_tenant(tenant).await?;
        let mut policy = current.policy.clone();
        if let Some(creation) = change.group_creation {
            policy.group_creation = creation;
        }
        if let Some(sub) = change.group_subaccount_id {
            policy.group_subaccount_id = sub;
        }
        if let Some(deprovision) = change.deprovision {
            policy.deprovision = deprovision;
        }
        if let Some(memberships) = change.deactivated_memberships {
            policy.deactivated_memberships = memberships;
        }
        if let Some(format) = change.user_name_format {
            policy.user_name_format = format;
        }
        if let Some(domains) = domains {
            policy.user_name_domains = domains;
        }
        if policy == current.policy {
            return Ok(current);
        }
        let changed = self.store.set_policy(tenant, &policy).await;
        self.policies.forget_all();
        self.domain_owners.forget_all();
        changed
    }

    /// A tenant's policies, as read less than [`super::TRUSTED_FOR`] ago (a
    /// change through this process is seen at once): the requests that
    /// follow them cost no read of the tenant.
    pub async fn policy(&self, tenant: &TenantId) -> Result<Policy> {
        let now = self.clock.now();
        if let Some(policy) = self.policies.get(tenant, now) {
            return Ok(policy);
        }
        let generation = self.policies.generation();
        let policy = self.store.get_tenant(tenant).await?.policy;
        self.policies
            .remember(tenant.clone(), policy.clone(), now, generation);
        Ok(policy)
    }

    /// A group of `tenant`.
    pub async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Group> {
        self.store.get_group(tenant, id).await
    }

    /// Every group of `tenant`, oldest first.
    pub async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<Group>> {
        self.store.get_tenant(tenant).await?;
        self.store.list_all_groups(tenant).await
    }

    /// Renames, moves or sets the externalId of a group; with a tenant,
    /// the group must be that tenant's.
    pub async fn change_group(
        &self,
        tenant: Option<&TenantId>,
        id: &GroupId,
        change: GroupAdminChange,
    ) -> Result<Group> {
        if let Some(display_name) = &change.display_name {
            required("displayName", display_name)?;
        }
        if let Some(set) = &change.external_id {
            external_id(set.as_deref())?;
        }
        if let Some(tenant) = tenant {
            self.store.get_group(tenant, id).await?;
        }
        self.store.change_group(id, change).await
    }

    /// Issues an API key for `tenant`'s identity provider.
    pub async fn issue_api_key(
        &self,
        tenant: &TenantId,
        label: Option<&str>,
    ) -> Result<IssuedApiKey> {
        text("label", label)?;
        let (api_key, key) = self.store.create_api_key(tenant, label).await?;
        Ok(IssuedApiKey { api_key, key })
    }

    /// The keys of `tenant`, or of every tenant.
    pub async fn list_api_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>> {
        if let Some(tenant) = tenant {
            self.store.get_tenant(tenant).await?;
        }
        self.store.list_api_keys(tenant).await
    }

    /// Revokes a key at once; with a tenant, the key must be that
    /// tenant's (another tenant's is not found).
    pub async fn revoke_api_key(
        &self,
        tenant: Option<&TenantId>,
        key: &ApiKeyId,
    ) -> Result<ApiKey> {
        if let Some(tenant) = tenant {
            let keys = self.store.list_api_keys(Some(tenant)).await?;
            if !keys.iter().any(|k| &k.id == key) {
                return Err(CoreError::NotFound("API key"));
            }
        }
        let revoked = self.store.revoke_api_key(key).await?;
        self.trusted.forget_all();
        Ok(revoked)
    }

    /// A page of `tenant`'s users, as administrators list them.
    pub async fn list_users(&self, tenant: &TenantId, query: &ListQuery) -> Result<UserList> {
        self.store.get_tenant(tenant).await?;
        let page = self.store.list_users(tenant, query).await?;
        let users = page
            .items
            .into_iter()
            .map(|u| UserSummary {
                id: u.id,
                user_name: u.attrs.user_name,
                display_name: u.attrs.display_name,
                external_id: u.attrs.external_id,
                created: u.stamp.created,
            })
            .collect();
        Ok(UserList {
            total: page.total,
            users,
        })
    }

    /// The newest entries of a tenant's provisioning log, at most
    /// [`MAX_READ`].
    pub async fn provisioning_log(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LogEntry>> {
        self.store.get_tenant(tenant).await?;
        self.store
            .provisioning_log(tenant, limit.min(MAX_READ))
            .await
    }

    /// Events after `after`, of one tenant or of all, at most
    /// [`MAX_READ`].
    pub async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        if let Some(tenant) = tenant {
            self.store.get_tenant(tenant).await?;
        }
        self.store
            .events(tenant, &[], after, limit.min(MAX_READ))
            .await
    }
}
