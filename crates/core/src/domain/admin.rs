//! What administrators do, for the admin API, the CLI and (next) the
//! panel: every operation on a tenant's things first makes sure the tenant
//! exists, and every id named with a tenant must be that tenant's.

use super::Service;
use crate::error::{CoreError, Result};
use crate::ids::{ApiKeyId, GroupId, TenantId};
use crate::model::{ApiKey, Group, GroupAdminChange, ListQuery, LogEntry, Page, Subaccount, User};

impl Service {
    pub async fn list_subaccounts(&self, tenant: &TenantId) -> Result<Vec<Subaccount>> {
        self.store.get_tenant(tenant).await?;
        self.store.list_subaccounts(tenant).await
    }

    pub async fn list_groups(&self, tenant: &TenantId) -> Result<Vec<Group>> {
        self.store.get_tenant(tenant).await?;
        self.store.list_all_groups(tenant).await
    }

    pub async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>> {
        self.store.get_tenant(tenant).await?;
        self.store.list_api_keys(Some(tenant)).await
    }

    pub async fn list_users(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<User>> {
        self.store.get_tenant(tenant).await?;
        self.store.list_users(tenant, query).await
    }

    /// The newest `limit` entries of a tenant's provisioning log.
    pub async fn provisioning_log(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LogEntry>> {
        self.store.get_tenant(tenant).await?;
        self.store.provisioning_log(tenant, limit).await
    }

    /// Renames, moves or sets the externalId of one of `tenant`'s groups.
    pub async fn change_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        change: GroupAdminChange,
    ) -> Result<Group> {
        self.store.get_group(tenant, id).await?;
        self.store.change_group(id, change).await
    }

    /// Revokes one of `tenant`'s API keys; another tenant's is not found.
    pub async fn revoke_api_key(&self, tenant: &TenantId, key: &ApiKeyId) -> Result<ApiKey> {
        let keys = self.store.list_api_keys(Some(tenant)).await?;
        if !keys.iter().any(|k| &k.id == key) {
            return Err(CoreError::NotFound("API key"));
        }
        self.store.revoke_api_key(key).await
    }
}
