//! The storage contract: small capability traits with protocol-neutral query
//! types. The SQLite and PostgreSQL backends implement all of them, and one
//! test suite runs against both.

use std::collections::HashMap;

use async_trait::async_trait;
use scimitar_proto::resource::UserAttributes;

use crate::error::Result;
use crate::ids::{ApiKeyId, GroupId, SubaccountId, TenantId, UserId, WebhookEndpointId};
use crate::model::{
    ApiKey, Attempt, Claimed, Collision, Delivery, Event, Group, GroupAdminChange, GroupChange,
    ListQuery, LogEntry, LogQuery, Member, Membership, Micros, NewGroup, Page, PanelSession,
    Policy, Redeemed, Session, Slice, Subaccount, SyncHealth, Tenant, User, WebhookEndpoint,
};

/// Tenants, subaccounts, groups and API keys, as administrators manage them.
#[async_trait]
pub trait Administration: Send + Sync {
    /// Creates a tenant, with a `tenant.created` event.
    async fn create_tenant(&self, name: &str, region: Option<&str>) -> Result<Tenant>;
    /// Every tenant, oldest first.
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    /// A tenant; `NotFound` when there is none.
    async fn get_tenant(&self, id: &TenantId) -> Result<Tenant>;
    /// Sets a tenant's policies (its subaccount checked), with a
    /// `tenant.policy_changed` event.
    async fn set_policy(&self, tenant: &TenantId, policy: &Policy) -> Result<Tenant>;
    /// Every confirmed domain with its tenant, by domain.
    async fn list_domains(&self) -> Result<Vec<(String, TenantId)>>;
    /// Users at a domain another tenant confirmed (of `domain` alone, when
    /// given), by domain, tenant and userName, at most `limit`.
    async fn list_collisions(&self, domain: Option<&str>, limit: u32) -> Result<Vec<Collision>>;
    /// The collision `user` is, if it is one.
    async fn collision_of(&self, user: &UserId) -> Result<Option<Collision>>;

    /// Creates a subaccount of `tenant`, under `parent` (one of the tenant's)
    /// or at the root, with a `subaccount.created` event.
    async fn create_subaccount(
        &self,
        tenant: &TenantId,
        name: &str,
        parent: Option<&SubaccountId>,
    ) -> Result<Subaccount>;
    /// The subaccounts of `tenant`, oldest first.
    async fn list_subaccounts(&self, tenant: &TenantId) -> Result<Vec<Subaccount>>;

    /// Creates a group of `tenant`, with a `group.created` event. Its subaccount
    /// must be the tenant's; its externalId must be unused in the tenant.
    async fn create_group(&self, tenant: &TenantId, group: NewGroup) -> Result<Group>;
    /// Rename, move or set the externalId of a group, by its id alone.
    async fn change_group(&self, id: &GroupId, change: GroupAdminChange) -> Result<Group>;
    /// Every group of `tenant`, oldest first.
    async fn list_all_groups(&self, tenant: &TenantId) -> Result<Vec<Group>>;

    /// Issues a key; the secret is returned only here, and stored only as a hash.
    async fn create_api_key(
        &self,
        tenant: &TenantId,
        label: Option<&str>,
    ) -> Result<(ApiKey, String)>;
    /// The keys of `tenant`, or of every tenant, revoked ones included; oldest
    /// first.
    async fn list_api_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>>;
    /// Revokes a key (a revoked one keeps its first revocation time), with an
    /// `apikey.revoked` event.
    async fn revoke_api_key(&self, id: &ApiKeyId) -> Result<ApiKey>;
    /// The tenant whose unrevoked key this secret is, and the key.
    async fn authenticate(&self, secret: &str) -> Result<Option<(TenantId, ApiKeyId)>>;
}

/// Users and groups as SCIM clients see them. Every method is scoped to one
/// tenant: another tenant's resource is `NotFound`.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Creates a user, with a `user.created` event. A userName already in use,
    /// in any tenant, is refused.
    async fn create_user(&self, tenant: &TenantId, attrs: UserAttributes) -> Result<User>;
    /// A user of `tenant`.
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<User>;
    /// A page of `tenant`'s users matching `query`.
    async fn list_users(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<User>>;
    /// Replaces a user's attributes, with a `user.updated` event.
    /// `expected_version` makes it conditional. `active: false` on a user
    /// that was not deactivates it: its sessions are revoked and, where
    /// the tenant's policy drops them, its memberships go, with a
    /// `user.deprovisioned` event whose `outcome` is `deactivated`; `true`
    /// or unassigned on a deactivated user is a `user.reactivated`.
    async fn replace_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        attrs: UserAttributes,
        expected_version: Option<i64>,
    ) -> Result<User>;
    /// Deprovisions: the user, its memberships and its sessions go in one
    /// transaction, with a `user.deprovisioned` event.
    async fn deprovision_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        expected_version: Option<i64>,
    ) -> Result<()>;
    /// The groups of each of `users`.
    async fn groups_of(
        &self,
        tenant: &TenantId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<Membership>>>;
    /// A user of `tenant` and its groups (a store that can reads both at
    /// once: a request to show one user is then one read).
    async fn get_user_with_groups(
        &self,
        tenant: &TenantId,
        id: &UserId,
    ) -> Result<(User, Vec<Membership>)> {
        let user = self.get_user(tenant, id).await?;
        let mut groups = self.groups_of(tenant, std::slice::from_ref(id)).await?;
        Ok((user, groups.remove(id).unwrap_or_default()))
    }

    /// A group of `tenant`.
    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Group>;
    /// A page of `tenant`'s groups matching `query`.
    async fn list_groups(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<Group>>;
    /// The members of each of `groups`.
    async fn members_of(
        &self,
        tenant: &TenantId,
        groups: &[GroupId],
    ) -> Result<HashMap<GroupId, Vec<Member>>>;
    /// Applies attribute changes and member set operations atomically; the
    /// cost of a member operation does not depend on the group's size.
    async fn change_group_scim(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        change: GroupChange,
        expected_version: Option<i64>,
    ) -> Result<Group>;
    /// Deletes a group and its memberships; its users stay.
    async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        expected_version: Option<i64>,
    ) -> Result<()>;
}

/// Sessions of users in the host application.
#[async_trait]
pub trait Sessions: Send + Sync {
    /// Creates a session for a user; returns it and its bearer token.
    async fn create_session(&self, user: &UserId, ttl_secs: i64) -> Result<(Session, String)>;
    /// The live session this token belongs to, if any.
    async fn introspect_session(&self, token: &str) -> Result<Option<Session>>;
    /// Ends the session this token belongs to (sign-out); `false` when there
    /// was none.
    async fn revoke_session(&self, token: &str) -> Result<bool>;
}

/// What retention deletes, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiring {
    /// Provisioning-log entries older than the cut-off.
    ProvisioningLog,
    /// Events older than the cut-off.
    Events,
    /// Sessions that expired before the cut-off.
    Sessions,
    /// Portal links that expired before the cut-off, used or not.
    PortalLinks,
    /// Panel sessions past their absolute end before the cut-off.
    PanelSessions,
    /// Hourly request counts of hours that began before the cut-off.
    HourCounts,
    /// Webhook delivery attempts older than the cut-off.
    WebhookAttempts,
}

/// The admin panel's own state (portal links, its sessions) and the paged
/// reads its screens make: each costs one page, however large the tenant.
#[async_trait]
pub trait Panel: Send + Sync {
    /// Stores a portal link of `tenant` by the hash of its secret.
    async fn create_portal_link(
        &self,
        tenant: &TenantId,
        hash: &str,
        expires: Micros,
    ) -> Result<()>;
    /// Uses up the link with this hash, if it is good at `now`, and starts
    /// `session` for its tenant in the same transaction.
    async fn redeem_portal_link(
        &self,
        link_hash: &str,
        session_hash: &str,
        session: PanelSession,
        now: Micros,
    ) -> Result<Redeemed>;
    /// Starts a session (an operator's sign-in).
    async fn create_panel_session(&self, hash: &str, session: PanelSession) -> Result<()>;
    /// The session with this hash, whatever its age.
    async fn panel_session(&self, hash: &str) -> Result<Option<PanelSession>>;
    /// Notes that the session was used at `at`.
    async fn touch_panel_session(&self, hash: &str, at: Micros) -> Result<()>;
    /// Ends the session (sign-out, or found expired).
    async fn end_panel_session(&self, hash: &str) -> Result<()>;
    /// Renames a subaccount and/or moves it under another of the same
    /// tenant (`Some(None)`: to the root); never under itself or its own
    /// descendants.
    async fn change_subaccount(
        &self,
        tenant: &TenantId,
        id: &SubaccountId,
        name: Option<String>,
        parent: Option<Option<SubaccountId>>,
    ) -> Result<Subaccount>;
    /// Tenants in creation order, after the tenant `after` (its creation
    /// time and id).
    async fn tenant_slice(
        &self,
        after: Option<(Micros, &TenantId)>,
        limit: u32,
    ) -> Result<Slice<Tenant>>;
    /// Groups by name (then id) after `after`; with `search`, those whose
    /// name starts with it (case-insensitively) or whose externalId is it.
    async fn group_slice(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<(&str, &GroupId)>,
        limit: u32,
    ) -> Result<Slice<Group>>;
    /// Users by userName after `after` (lower-cased); with `search`, those
    /// whose userName starts with it (case-insensitively).
    async fn user_slice(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Slice<User>>;
    /// Provisioning-log entries newest first, each with its position.
    async fn log_slice(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Slice<(i64, LogEntry)>>;
    /// Requests per hour of the hours that began at or after `since`, and
    /// the newest success and failure.
    async fn sync_health(&self, tenant: &TenantId, since: Micros) -> Result<SyncHealth>;
}

/// The event outbox and the provisioning log.
#[async_trait]
pub trait Journal: Send + Sync {
    /// Events after `after_seq`, in order; of one tenant, and of the
    /// given types (all when empty).
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        types: &[String],
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>>;
    /// The highest sequence number retention has deleted (0 before any):
    /// the events after it are all still there.
    async fn events_horizon(&self) -> Result<i64>;
    /// Notified after every write transaction this store committed, so a
    /// follower of the outbox in this process need not poll.
    fn commits(&self) -> std::sync::Arc<tokio::sync::Notify>;
    /// Appends entries to the provisioning log, in one transaction.
    async fn append_log(&self, entries: &[LogEntry]) -> Result<()>;
    /// The newest `limit` entries of a tenant, newest first.
    async fn provisioning_log(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LogEntry>>;
    /// Deletes at most `limit` rows of `what` older than `before`; returns
    /// how many it deleted. Small batches keep the writer free for requests.
    async fn prune(&self, what: Expiring, before: Micros, limit: u32) -> Result<u64>;
    /// The size of the database on disk, in bytes.
    async fn database_bytes(&self) -> Result<u64>;
}

/// A new webhook endpoint, as the domain checked it.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// Where events go.
    pub url: String,
    /// Only this tenant's events.
    pub tenant: Option<TenantId>,
    /// Only these types (all when empty).
    pub types: Vec<String>,
    /// The signing secret.
    pub secret: String,
    /// Now.
    pub created: Micros,
}

/// What an operator changes of an endpoint; `None` leaves it.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    /// A new URL.
    pub url: Option<String>,
    /// `Some(vec![])`: every type again.
    pub types: Option<Vec<String>>,
    /// A new delivery state (enabling, disabling, replaying).
    pub delivery: Option<Delivery>,
    /// A new secret, and until when the current one keeps signing.
    pub secret: Option<(String, Micros)>,
}

/// Webhook endpoints and their delivery.
#[async_trait]
pub trait Webhooks: Send + Sync {
    /// Registers an endpoint; it is sent the events committed after this.
    async fn create_endpoint(&self, endpoint: NewEndpoint) -> Result<WebhookEndpoint>;
    /// Every endpoint, oldest first.
    async fn list_endpoints(&self) -> Result<Vec<WebhookEndpoint>>;
    /// An endpoint; `NotFound` when there is none.
    async fn get_endpoint(&self, id: &WebhookEndpointId) -> Result<WebhookEndpoint>;
    /// Changes an endpoint.
    async fn change_endpoint(
        &self,
        id: &WebhookEndpointId,
        change: EndpointChange,
    ) -> Result<WebhookEndpoint>;
    /// Deletes an endpoint and its attempts.
    async fn delete_endpoint(&self, id: &WebhookEndpointId) -> Result<()>;
    /// Takes the lease, until `until`, of at most `limit` endpoints that are
    /// enabled, due at `now`, not leased by anyone, and behind the outbox.
    async fn claim_endpoints(
        &self,
        owner: &str,
        now: Micros,
        until: Micros,
        limit: u32,
    ) -> Result<Vec<Claimed>>;
    /// The next events `endpoint` wants after its `delivered_through`, at
    /// most `limit`, and the sequence number through which the outbox was
    /// read: past the last event when there were fewer than `limit`.
    async fn pending_events(
        &self,
        endpoint: &WebhookEndpoint,
        limit: u32,
    ) -> Result<(Vec<Event>, i64)>;
    /// Stores a delivery run's attempts and where delivery now stands, and
    /// renews the lease until `until` (0: gives it up) — only while
    /// `owner` still holds it; `false` when it did not.
    async fn record_delivery(
        &self,
        id: &WebhookEndpointId,
        owner: &str,
        delivery: &Delivery,
        attempts: &[Attempt],
        until: Micros,
    ) -> Result<bool>;
    /// An endpoint's attempts newest first, before position `before`, each
    /// with its position.
    async fn attempts(
        &self,
        id: &WebhookEndpointId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Slice<(i64, Attempt)>>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store: Administration + Directory + Sessions + Journal + Panel + Webhooks {
    /// Whether the database answers (for `/readyz`).
    async fn ping(&self) -> Result<()>;
}
