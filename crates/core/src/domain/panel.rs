//! The admin panel's operations: portal links, panel sessions, and the
//! paged reads of its screens. A panel session is who signed in (the
//! operator, or one tenant's administrator through a portal link); which
//! tenant a request may touch is decided here and in the store's
//! tenant-scoped queries, never in a handler.

use std::time::Duration;

use super::Service;
use crate::error::Result;
use crate::ids::{GroupId, SubaccountId, TenantId, UserId};
use crate::model::{
    Group, HourCount, LogEntry, LogQuery, MICROS_PER_HOUR, Membership, Micros, PanelSession,
    PanelUser, Redeemed, Slice, Subaccount, SyncHealth, Tenant, User, hour_of,
};
use crate::rules;

/// How long a portal link may wait to be opened, unless configured.
pub const PORTAL_LINK_TTL: Duration = Duration::from_secs(5 * 60);
/// A panel session unused this long has ended.
pub const PANEL_IDLE: Duration = Duration::from_secs(30 * 60);
/// A panel session ends this long after it began, however much it is used.
pub const PANEL_LIFETIME: Duration = Duration::from_secs(12 * 3600);
/// How stale a session's last use may be before it is written again: a
/// page view does not cost a write.
const TOUCH_AFTER: Micros = 60 * 1_000_000;

/// Most items on one page of a panel list.
pub const MAX_PANEL_PAGE: u32 = 200;

fn micros(d: Duration) -> Micros {
    Micros::try_from(d.as_micros()).unwrap_or(Micros::MAX)
}

/// A portal link as issued: its secret is here, this once.
#[derive(Debug, Clone)]
pub struct PortalLink {
    /// The secret that goes into the link's URL.
    pub token: String,
    /// When the link stops working if unused.
    pub expires: Micros,
}

/// A user with the groups it is a member of.
pub type UserDetail = (User, Vec<Membership>);

impl Service {
    /// A single-use link into `tenant`'s panel, valid for `ttl`.
    pub async fn create_portal_link(&self, tenant: &TenantId, ttl: Duration) -> Result<PortalLink> {
        let token = rules::generate_secret("plk_");
        let expires = self.clock.micros().saturating_add(micros(ttl));
        self.store
            .create_portal_link(tenant, &rules::hash_secret(&token), expires)
            .await?;
        Ok(PortalLink { token, expires })
    }

    /// Opens a portal link: on success, the secret of the tenant session
    /// it started. The token is compared as a hash, in the database's
    /// index, never character by character against a secret.
    pub async fn open_portal_link(&self, token: &str) -> Result<(Redeemed, Option<String>)> {
        let at = self.clock.micros();
        let secret = rules::generate_secret("pnl_");
        let session = self.new_session(PanelUser::Operator, at);
        let redeemed = self
            .store
            .redeem_portal_link(
                &rules::hash_secret(token),
                &rules::hash_secret(&secret),
                session,
                at,
            )
            .await?;
        let secret = matches!(redeemed, Redeemed::Session(_)).then_some(secret);
        Ok((redeemed, secret))
    }

    /// Starts an operator's session (the caller has checked the admin
    /// token); its secret.
    pub async fn start_operator_session(&self) -> Result<String> {
        let secret = rules::generate_secret("pnl_");
        let session = self.new_session(PanelUser::Operator, self.clock.micros());
        self.store
            .create_panel_session(&rules::hash_secret(&secret), session)
            .await?;
        Ok(secret)
    }

    fn new_session(&self, user: PanelUser, at: Micros) -> PanelSession {
        PanelSession {
            user,
            created: at,
            last_seen: at,
            expires: at.saturating_add(micros(PANEL_LIFETIME)),
        }
    }

    /// Who the session with this secret belongs to, while it lasts: it
    /// ends after [`PANEL_IDLE`] unused or [`PANEL_LIFETIME`] in all.
    pub async fn panel_session(&self, secret: &str) -> Result<Option<PanelUser>> {
        let hash = rules::hash_secret(secret);
        let Some(session) = self.store.panel_session(&hash).await? else {
            return Ok(None);
        };
        let at = self.clock.micros();
        if at >= session.expires || at >= session.last_seen.saturating_add(micros(PANEL_IDLE)) {
            self.store.end_panel_session(&hash).await?;
            return Ok(None);
        }
        if at - session.last_seen >= TOUCH_AFTER {
            self.store.touch_panel_session(&hash, at).await?;
        }
        Ok(Some(session.user))
    }

    /// Ends a panel session (sign-out).
    pub async fn end_panel_session(&self, secret: &str) -> Result<()> {
        self.store
            .end_panel_session(&rules::hash_secret(secret))
            .await
    }

    /// Renames a subaccount of `tenant` and/or moves it (`Some(None)`: to
    /// the tenant root).
    pub async fn change_subaccount(
        &self,
        tenant: &TenantId,
        id: &SubaccountId,
        name: Option<&str>,
        parent: Option<Option<SubaccountId>>,
    ) -> Result<Subaccount> {
        if let Some(name) = name {
            super::admin::required("name", name)?;
        }
        self.store
            .change_subaccount(tenant, id, name.map(str::to_owned), parent)
            .await
    }

    /// A page of the tenants, oldest first, after the tenant `after`.
    pub async fn tenant_page(
        &self,
        after: Option<(Micros, &TenantId)>,
        limit: u32,
    ) -> Result<Slice<Tenant>> {
        self.store
            .tenant_slice(after, limit.clamp(1, MAX_PANEL_PAGE))
            .await
    }

    /// A page of `tenant`'s groups by name, after the group `after` (its
    /// name and id); `search` matches a name's beginning or a Group ID.
    pub async fn group_page(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<(&str, &GroupId)>,
        limit: u32,
    ) -> Result<Slice<Group>> {
        self.store.get_tenant(tenant).await?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        self.store
            .group_slice(tenant, search, after, limit.clamp(1, MAX_PANEL_PAGE))
            .await
    }

    /// A page of `tenant`'s users by userName, after `after`; `search`
    /// matches a userName's beginning.
    pub async fn user_page(
        &self,
        tenant: &TenantId,
        search: Option<&str>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Slice<User>> {
        self.store.get_tenant(tenant).await?;
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        self.store
            .user_slice(tenant, search, after, limit.clamp(1, MAX_PANEL_PAGE))
            .await
    }

    /// A user of `tenant` with its groups.
    pub async fn user_detail(&self, tenant: &TenantId, id: &UserId) -> Result<UserDetail> {
        self.store.get_user_with_groups(tenant, id).await
    }

    /// A page of `tenant`'s provisioning log, newest first.
    pub async fn log_page(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Slice<(i64, LogEntry)>> {
        self.store.get_tenant(tenant).await?;
        let query = LogQuery {
            limit: query.limit.clamp(1, MAX_PANEL_PAGE),
            ..query.clone()
        };
        self.store.log_slice(tenant, &query).await
    }

    /// `tenant`'s requests and failures in each of the last 24 hours (the
    /// current one included, hours without requests as zeros), oldest
    /// first, and its newest success and failure.
    pub async fn sync_health(&self, tenant: &TenantId) -> Result<SyncHealth> {
        self.store.get_tenant(tenant).await?;
        let since = hour_of(self.clock.micros()) - 23 * MICROS_PER_HOUR;
        let mut health = self.store.sync_health(tenant, since).await?;
        let counted = std::mem::take(&mut health.hours);
        health.hours = (0..24)
            .map(|i| {
                let hour = since + i * MICROS_PER_HOUR;
                counted
                    .iter()
                    .find(|h| h.hour == hour)
                    .copied()
                    .unwrap_or(HourCount {
                        hour,
                        requests: 0,
                        failures: 0,
                    })
            })
            .collect();
        Ok(health)
    }
}
