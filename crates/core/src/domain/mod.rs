//! The domain: the product's rules, in one place, whoever calls: the SCIM
//! handlers, the admin API, the CLI and the admin panel.
//!
//! A handler parses its input, makes one call here, and renders the
//! answer. What lives here and nowhere else:
//! - deprovisioning: `active: false` (PUT or PATCH) and DELETE remove the
//!   user, its memberships and its sessions; a user is never created
//!   inactive;
//! - the optimistic-concurrency loop of read-modify-write changes: retried
//!   when another writer got there first, unless the client named the
//!   version it changes (`If-Match`), which then must match;
//! - "a change that changes nothing writes nothing";
//! - group changes as attribute updates plus member set operations, which
//!   commute with concurrent writers and so need no version;
//! - an administrator's operation on a tenant's things finds the tenant
//!   first, and an id named with a tenant must be that tenant's.
//!
//! Storage rules that need stored state (uniqueness, phone immutability,
//! tenancy) stay in the store, behind [`crate::Store`].

mod admin;
mod credentials;
mod domains;
mod feed;
mod fresh;
mod groups;
mod panel;
mod sessions;
mod users;
mod webhooks;

use std::sync::Arc;

use crate::clock::Clock;

pub use admin::{IssuedApiKey, MAX_NAME_CHARS, MAX_READ, UserList, UserSummary};
pub use credentials::Credential;
pub use feed::{EVENT_TYPES, Feed, FeedQuery, MAX_FEED_PAGE, MAX_FEED_WAIT};
pub use fresh::TRUSTED_FOR;
pub use panel::{
    MAX_PANEL_PAGE, PANEL_IDLE, PANEL_LIFETIME, PORTAL_LINK_TTL, PortalLink, UserDetail,
};
pub use users::Written;
pub use webhooks::{
    GIVE_UP_AFTER, IssuedEndpoint, MAX_URL_BYTES, OutboundPolicy, ROTATION_OVERLAP, event_seq,
    is_public,
};

use scimitar_proto::resource::Meta;

use crate::Store;
use crate::error::{CoreError, Result};
use crate::ids::TenantId;
use crate::model::{Policy, Stamp};

/// How often a read-modify-write is retried when another writer got there
/// first and the client did not ask for a specific version.
pub const RETRIES: usize = 8;

/// What a client said about the version it changes (`If-Match`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any version, as long as the resource exists.
    Any,
    /// One of these versions.
    Versions(Vec<i64>),
}

impl Precondition {
    /// Whether the stored `version` satisfies the precondition.
    pub fn matches(&self, version: i64) -> bool {
        match self {
            Precondition::Any => true,
            Precondition::Versions(v) => v.contains(&version),
        }
    }

    /// `VersionMismatch` unless the stored `version` satisfies `pre`.
    fn check(pre: Option<&Precondition>, version: i64) -> Result<()> {
        match pre {
            Some(p) if !p.matches(version) => Err(CoreError::VersionMismatch),
            _ => Ok(()),
        }
    }

    /// The version a one-shot change (a DELETE) must find: none without a
    /// precondition, else the current one, read with `read`, once it
    /// satisfies `pre`.
    async fn expected<Fut>(pre: Option<&Precondition>, read: Fut) -> Result<Option<i64>>
    where
        Fut: std::future::Future<Output = Result<Stamp>>,
    {
        let Some(p) = pre else { return Ok(None) };
        let version = read.await?.version;
        Self::check(Some(p), version)?;
        Ok(Some(version))
    }
}

/// The `meta` of the client view the PATCH engine works on.
fn view_meta(stamp: &Stamp) -> Meta {
    Meta {
        created: stamp.created,
        last_modified: stamp.last_modified,
        version: stamp.etag(),
    }
}

/// The operations of the domain, over one store.
#[derive(Clone)]
pub struct Service {
    store: Arc<dyn Store>,
    clock: Clock,
    /// Valid API keys by the hash of their secret.
    trusted: Arc<fresh::Fresh<String, Credential>>,
    /// Tenants' policies.
    policies: Arc<fresh::Fresh<TenantId, Policy>>,
    /// Every confirmed domain's tenant (one entry: the whole map).
    domain_owners: Arc<fresh::Fresh<(), domains::Owners>>,
    outbound: OutboundPolicy,
}

impl Service {
    /// The domain over `store`, on the system's clock.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_clock(store, Clock::default())
    }

    /// The domain over `store`, reading the time from `clock`.
    pub fn with_clock(store: Arc<dyn Store>, clock: Clock) -> Self {
        Service {
            store,
            clock,
            trusted: Arc::default(),
            policies: Arc::default(),
            domain_owners: Arc::default(),
            outbound: OutboundPolicy::default(),
        }
    }

    /// The same, sending webhooks where `outbound` allows.
    #[must_use]
    pub fn with_outbound(mut self, outbound: OutboundPolicy) -> Self {
        self.outbound = outbound;
        self
    }

    /// The clock the time-bound rules read.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The store underneath, for reads that carry no rule.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// Runs `attempt` until it does not lose a race with another writer,
    /// at most [`RETRIES`] times; with a precondition a lost race is the
    /// client's `VersionMismatch`, not retried.
    async fn optimistic<T, F, Fut>(&self, pre: Option<&Precondition>, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        for _ in 0..RETRIES {
            match attempt().await {
                Err(CoreError::VersionMismatch) if pre.is_none() => continue,
                other => return other,
            }
        }
        Err(CoreError::Contended)
    }
}
