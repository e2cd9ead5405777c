//! Behaviours proven with a store that watches its calls:
//! `excludedAttributes=members` never loads members (PRODUCT.md: a group
//! list with it costs the same for 100,000 members as for ten), and a store
//! that stops answering gets a 503, never a hung request.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use async_trait::async_trait;
use scimitar_core::Result;
use scimitar_core::Store;
use scimitar_core::ids::{ApiKeyId, GroupId, SubaccountId, TenantId, UserId, WebhookEndpointId};
use scimitar_core::model::{
    ApiKey, Attempt, Claimed, Collision, Delivery, Event, Group, GroupAdminChange, GroupChange,
    ListQuery, LogEntry, LogQuery, Member, Membership, Micros, NewGroup, Page, PanelSession,
    Policy, Redeemed, Session, Slice, Subaccount, SyncHealth, Tenant, User, WebhookEndpoint,
};
use scimitar_core::store::{
    Administration, Directory, EndpointChange, Expiring, Journal, NewEndpoint, Panel, Sessions,
    Webhooks,
};
use scimitar_core::testing::Backend;
use scimitar_proto::resource::UserAttributes;
use serde_json::json;

/// Delegates everything, counting `members_of` and `groups_of` calls;
/// `list_users` takes `list_delay` first.
struct Counting {
    inner: Arc<dyn Store>,
    members_of: AtomicUsize,
    groups_of: AtomicUsize,
    list_delay: Duration,
}

#[async_trait]
impl Administration for Counting {
    async fn create_tenant(&self, name: &str, region: Option<&str>) -> Result<Tenant> {
        self.inner.create_tenant(name, region).await
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.inner.list_tenants().await
    }
    async fn get_tenant(&self, id: &TenantId) -> Result<Tenant> {
        self.inner.get_tenant(id).await
    }
    async fn set_policy(&self, tenant: &TenantId, policy: &Policy) -> Result<Tenant> {
        self.inner.set_policy(tenant, policy).await
    }
    async fn list_domains(&self) -> Result<Vec<(String, TenantId)>> {
        self.inner.list_domains().await
    }
    async fn list_collisions(&self, domain: Option<&str>, limit: u32) -> Result<Vec<Collision>> {
        self.inner.list_collisions(domain, limit).await
    }
    async fn collision_of(&self, user: &UserId) -> Result<Option<Collision>> {
        self.inner.collision_of(user).await
    }
    async fn create_subaccount(
        &self,
        tenant: &TenantId,
        name: &str,
        parent: Option<&SubaccountId>,
    ) -> Result<Subaccount> {
        self.inner.create_subaccount(tenant, name, parent).await
    }
    async fn list_subaccounts(&self, tenant: &TenantId) -> Result<Vec<Subaccount>> {
        self.inner.list_subaccounts(tenant).await
    }
    async fn create_group(&self, tenant: &TenantId, group: NewGroup) -> Result<Group> {
        self.inner.create_group(tenant, group).await
    }
    async fn change_group(&self, id: &GroupId, change: GroupAdminChange) -> Result<Group> {
        self.inner.change_group(id, change).await
    }
    async fn list_all_groups(&self, tenant: &TenantId) -> Result<Vec<Group>> {
        self.inner.list_all_groups(tenant).await
    }
    async fn create_api_key(
        &self,
        tenant: &TenantId,
        label: Option<&str>,
    ) -> Result<(ApiKey, String)> {
        self.inner.create_api_key(tenant, label).await
    }
    async fn list_api_keys(&self, tenant: Option<&TenantId>) -> Result<Vec<ApiKey>> {
        self.inner.list_api_keys(tenant).await
    }
    async fn revoke_api_key(&self, id: &ApiKeyId) -> Result<ApiKey> {
        self.inner.revoke_api_key(id).await
    }
    async fn authenticate(&self, secret: &str) -> Result<Option<(TenantId, ApiKeyId)>> {
        self.inner.authenticate(secret).await
    }
}

#[async_trait]
impl Directory for Counting {
    async fn create_user(&self, tenant: &TenantId, attrs: UserAttributes) -> Result<User> {
        self.inner.create_user(tenant, attrs).await
    }
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<User> {
        self.inner.get_user(tenant, id).await
    }
    async fn list_users(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<User>> {
        tokio::time::sleep(self.list_delay).await;
        self.inner.list_users(tenant, query).await
    }
    async fn replace_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        attrs: UserAttributes,
        expected_version: Option<i64>,
    ) -> Result<User> {
        self.inner
            .replace_user(tenant, id, attrs, expected_version)
            .await
    }
    async fn deprovision_user(
        &self,
        tenant: &TenantId,
        id: &UserId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        self.inner
            .deprovision_user(tenant, id, expected_version)
            .await
    }
    async fn groups_of(
        &self,
        tenant: &TenantId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<Membership>>> {
        self.groups_of.fetch_add(1, Ordering::SeqCst);
        self.inner.groups_of(tenant, users).await
    }
    async fn get_group(&self, tenant: &TenantId, id: &GroupId) -> Result<Group> {
        self.inner.get_group(tenant, id).await
    }
    async fn list_groups(&self, tenant: &TenantId, query: &ListQuery) -> Result<Page<Group>> {
        self.inner.list_groups(tenant, query).await
    }
    async fn members_of(
        &self,
        tenant: &TenantId,
        groups: &[GroupId],
    ) -> Result<HashMap<GroupId, Vec<Member>>> {
        self.members_of.fetch_add(1, Ordering::SeqCst);
        self.inner.members_of(tenant, groups).await
    }
    async fn change_group_scim(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        change: GroupChange,
        expected_version: Option<i64>,
    ) -> Result<Group> {
        self.inner
            .change_group_scim(tenant, id, change, expected_version)
            .await
    }
    async fn delete_group(
        &self,
        tenant: &TenantId,
        id: &GroupId,
        expected_version: Option<i64>,
    ) -> Result<()> {
        self.inner.delete_group(tenant, id, expected_version).await
    }
}

#[async_trait]
impl Sessions for Counting {
    async fn create_session(&self, user: &UserId, ttl_secs: i64) -> Result<(Session, String)> {
        self.inner.create_session(user, ttl_secs).await
    }
    async fn introspect_session(&self, token: &str) -> Result<Option<Session>> {
        self.inner.introspect_session(token).await
    }
    async fn revoke_session(&self, token: &str) -> Result<bool> {
        self.inner.revoke_session(token).await
    }
}

#[async_trait]
impl Journal for Counting {
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        types: &[String],
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Event>> {
        self.inner.events(tenant, types, after_seq, limit).await
    }
    async fn events_horizon(&self) -> Result<i64> {
        self.inner.events_horizon().await
    }
    fn commits(&self) -> Arc<tokio::sync::Notify> {
        self.inner.commits()
    }
    async fn append_log(&self, entries: &[LogEntry]) -> Result<()> {
        self.inner.append_log(entries).await
    }
    async fn provisioning_log(&self, tenant: &TenantId, limit: u32) -> Result<Vec<LogEntry>> {
        self.inner.provisioning_log(tenant, limit).await
    }
    async fn prune(&self, what: Expiring, before: Micros, limit: u32) -> Result<u64> {
        self.inner.prune(what, before, limit).await
    }
    async fn database_bytes(&self) -> Result<u64> {
        self.inner.database_bytes().await
    }
}

#[async_trait]
impl Panel for Counting {
    async fn create_portal_link(
        &self,
        tenant: &TenantId,
        hash: &str,
        expires: Micros,
    ) -> Result<()> {
        self.inner.create_portal_link(tenant, hash, expires).await
    }
    async fn redeem_portal_link(
        &self,
        link_hash: &str,
        session_hash: &str,
        session: PanelSession,
        now: Micros,
    ) -> Result<Redeemed> {
        self.inner
            .redeem_portal_link(link_hash, session_hash, session, now)
            .await
    }
    async fn create_panel_session(&self, hash: &str, session: PanelSession) -> Result<()> {
        self.inner.create_panel_session(hash, session).await
    }
    async fn panel_session(&self, hash: &str) -> Result<Option<PanelSession>> {
        self.inner.panel_session(hash).await
    }
    async fn touch_panel_session(&self, hash: &str, at: Micros) -> Result<()> {
        self.inner.touch_panel_session(hash, at).await
    }
    async fn end_panel_session(&self, hash: &str) -> Result<()> {
        self.inner.end_panel_session(hash).await
    }
    async fn change_subaccount(
        &self,
        tenant: &TenantId,
        id: &SubaccountId,
        name: Option<String>,
        parent: Option<Option<SubaccountId>>,
    ) -> Result<Subaccount> {
        self.inner.change_subaccount(tenant, id, name, parent).await
    }
    async fn tenant_slice(
        &self,
        after: Option<(Micros, &TenantId)>,
        limit: u32,
    ) -> Result<Slice<Tenant>> {
        self.inner.tenant_slice(after, limit).await
    }
    async fn group_slice(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<(&str, &GroupId)>,
        limit: u32,
    ) -> Result<Slice<Group>> {
        self.inner.group_slice(tenant, search, after, limit).await
    }
    async fn user_slice(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Slice<User>> {
        self.inner.user_slice(tenant, search, after, limit).await
    }
    async fn log_slice(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Slice<(i64, LogEntry)>> {
        self.inner.log_slice(tenant, query).await
    }
    async fn sync_health(&self, tenant: &TenantId, since: Micros) -> Result<SyncHealth> {
        self.inner.sync_health(tenant, since).await
    }
}

#[async_trait]
impl Webhooks for Counting {
    async fn create_endpoint(&self, endpoint: NewEndpoint) -> Result<WebhookEndpoint> {
        self.inner.create_endpoint(endpoint).await
    }
    async fn list_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        self.inner.list_endpoints().await
    }
    async fn get_endpoint(&self, id: &WebhookEndpointId) -> Result<WebhookEndpoint> {
        self.inner.get_endpoint(id).await
    }
    async fn change_endpoint(
        &self,
        id: &WebhookEndpointId,
        change: EndpointChange,
    ) -> Result<WebhookEndpoint> {
        self.inner.change_endpoint(id, change).await
    }
    async fn delete_endpoint(&self, id: &WebhookEndpointId) -> Result<()> {
        self.inner.delete_endpoint(id).await
    }
    async fn claim_endpoints(
        &self,
        owner: &str,
        now: Micros,
        until: Micros,
        limit: u32,
    ) -> Result<Vec<Claimed>> {
        self.inner.claim_endpoints(owner, now, until, limit).await
    }
    async fn pending_events(
        &self,
        endpoint: &WebhookEndpoint,
        limit: u32,
    ) -> Result<(Vec<Event>, i64)> {
        self.inner.pending_events(endpoint, limit).await
    }
    async fn record_delivery(
        &self,
        id: &WebhookEndpointId,
        owner: &str,
        delivery: &Delivery,
        attempts: &[Attempt],
        until: Micros,
    ) -> Result<bool> {
        self.inner
            .record_delivery(id, owner, delivery, attempts, until)
            .await
    }
    async fn attempts(
        &self,
        id: &WebhookEndpointId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Slice<(i64, Attempt)>> {
        self.inner.attempts(id, before, limit).await
    }
}

#[async_trait]
impl Store for Counting {
    async fn ping(&self) -> Result<()> {
        self.inner.ping().await
    }
}

async fn check(backend: Backend) {
    let counting = Arc::new(Counting {
        inner: backend.store.clone(),
        members_of: AtomicUsize::new(0),
        groups_of: AtomicUsize::new(0),
        list_delay: Duration::ZERO,
    });
    let app = TestApp::with_store(backend, counting.clone(), test_config()).await;
    let user = app.create_user("counted@example.com").await;
    let group = app.create_group("Counted", Some("ext-counted")).await;
    let res = app
        .request(
            "PATCH",
            &app.scim(&format!("/Groups/{group}")),
            Some(patch_op(
                json!([{"op": "add", "path": "members", "value": [{"value": user}]}]),
            )),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    assert_eq!(
        counting.members_of.load(Ordering::SeqCst),
        0,
        "a group PATCH answers 204 without reading the member list"
    );

    for path in [
        "/Groups?filter=externalId+eq+%22ext-counted%22&excludedAttributes=members".to_owned(),
        format!("/Groups/{group}?excludedAttributes=members"),
        "/Groups?attributes=displayName,externalId".to_owned(),
        format!(
            "/Groups?filter=id+eq+%22{group}%22+and+members+eq+%22{user}%22&excludedAttributes=members"
        ),
    ] {
        let res = app.get(&app.scim(&path)).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
        assert_eq!(counting.members_of.load(Ordering::SeqCst), 0, "{path}");
    }
    let res = app.get(&app.scim(&format!("/Groups/{group}"))).await;
    assert_eq!(res.body["members"][0]["value"], user.as_str());
    assert_eq!(
        counting.members_of.load(Ordering::SeqCst),
        1,
        "loaded when asked for"
    );

    let res = app.get(&app.scim("/Users?excludedAttributes=groups")).await;
    assert_eq!(res.status, 200);
    assert_eq!(
        counting.groups_of.load(Ordering::SeqCst),
        0,
        "groups not loaded either"
    );
    app.finish().await;
}

#[tokio::test]
async fn sqlite_excluded_members_are_never_loaded() {
    check(Backend::sqlite().await).await;
}

#[tokio::test]
async fn postgres_excluded_members_are_never_loaded() {
    if let Some(backend) = Backend::postgres().await {
        check(backend).await;
    }
}

/// A database that stops answering mid-request: the client gets a 503 with
/// `Retry-After` once the request timeout passes, not a hang.
#[tokio::test]
async fn a_store_that_stops_answering_gets_503_not_a_hang() {
    let backend = Backend::sqlite().await;
    let slow = Arc::new(Counting {
        inner: backend.store.clone(),
        members_of: AtomicUsize::new(0),
        groups_of: AtomicUsize::new(0),
        list_delay: Duration::from_secs(60),
    });
    let config = scimitar_server::Config {
        request_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let app = TestApp::with_store(backend, slow, config).await;
    let started = Instant::now();
    let res = app.get(&app.scim("/Users")).await;
    res.assert_error(503, None);
    assert!(res.header("retry-after").is_some());
    assert!(started.elapsed() < Duration::from_secs(10));
    // Requests that do not wait on the stuck call are unaffected.
    let res = app.get(&app.scim("/ServiceProviderConfig")).await;
    assert_eq!(res.status, 200);
    app.finish().await;
}
