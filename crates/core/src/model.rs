//! The domain: what scimitar stores, independent of how.

use scimitar_proto::ScimError;
use scimitar_proto::filter::Filter;
use scimitar_proto::patch::MemberOp;
use scimitar_proto::resource::UserAttributes;
use scimitar_proto::schema::ResolvedAttr;
use serde::Serialize;

use crate::ids::{ApiKeyId, GroupId, SessionId, SubaccountId, TenantId, UserId, WebhookEndpointId};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Serde for [`Micros`] as RFC 3339 text (`2026-12-02T17:13:08.123456Z`),
/// the form every JSON answer of the admin API and the CLI uses.
pub mod timestamp {
    use serde::Serializer;

    use super::Micros;

    /// Writes `micros` as RFC 3339 text.
    pub fn serialize<S: Serializer>(micros: &Micros, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&scimitar_proto::datetime::format(*micros))
    }

    /// The same for an optional time (`null` when absent).
    pub mod option {
        use serde::Serializer;

        use super::Micros;

        /// Writes `micros` as RFC 3339 text, or `null`.
        pub fn serialize<S: Serializer>(micros: &Option<Micros>, s: S) -> Result<S::Ok, S::Error> {
            match micros {
                Some(m) => super::serialize(m, s),
                None => s.serialize_none(),
            }
        }
    }
}

/// Microseconds in an hour.
pub const MICROS_PER_HOUR: Micros = 3_600_000_000;

/// The first microsecond of the hour `at` is in.
pub fn hour_of(at: Micros) -> Micros {
    at - at.rem_euclid(MICROS_PER_HOUR)
}

/// The current time in microseconds since the epoch.
pub fn now() -> Micros {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// A customer account: the unit of tenancy, with its own users, groups and
/// API keys.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    /// The tenant's id.
    pub id: TenantId,
    /// The tenant's name.
    pub name: String,
    /// A free-form region label (`eu`), as the administrator gave it.
    pub region: Option<String>,
    /// When the tenant was created.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
    /// How its identity provider's requests are treated.
    pub policy: Policy,
}

/// A tenant's provisioning policies. The defaults are the integration
/// guide's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Policy {
    /// Who creates groups.
    pub group_creation: GroupCreation,
    /// Where groups that SCIM creates are placed; the tenant root when
    /// `None`.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub group_subaccount_id: Option<SubaccountId>,
    /// What `active: false` does to a user.
    pub deprovision: Deprovision,
    /// What becomes of a deactivated user's memberships.
    pub deactivated_memberships: DeactivatedMemberships,
    /// What a userName is.
    pub user_name_format: UserNameFormat,
    /// The domains the operator confirmed are the tenant's, sorted: its
    /// userNames must be at one of them. Empty: any domain (`"any"` in
    /// JSON) that no other tenant confirmed.
    #[serde(serialize_with = "domains_or_any")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub user_name_domains: Vec<String>,
}

/// `"any"` for no domains, else the list.
fn domains_or_any<S: serde::Serializer>(domains: &[String], s: S) -> Result<S::Ok, S::Error> {
    if domains.is_empty() {
        s.serialize_str("any")
    } else {
        domains.serialize(s)
    }
}

/// A policy's closed set of choices, each with its name in the database,
/// the admin API and the CLI (the same name everywhere).
macro_rules! choices {
    ($(#[$meta:meta])* $name:ident {
        $(#[$default:meta])* $first:ident = $first_text:literal,
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        #[serde(rename_all = "lowercase")]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum $name {
            $(#[$default])*
            #[default]
            $first,
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every choice's name, the default first.
            pub const NAMES: &[&str] = &[$first_text, $($text),+];

            /// Its name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $name::$first => $first_text,
                    $($name::$variant => $text),+
                }
            }

            /// The choice named `name`, if any.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $first_text => Some($name::$first),
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The choice named `name` for the field `field`, or the error
            /// a client sees, naming every choice.
            pub fn from_field(field: &str, name: &str) -> Result<Self, ScimError> {
                Self::parse(name).ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "{field} is '{}', not '{name}'",
                        Self::NAMES.join("' or '")
                    ))
                })
            }
        }
    };
}

choices! {
    /// Who creates a tenant's groups.
    GroupCreation {
        /// An administrator (panel, admin API, CLI); `POST /Groups` is
        /// refused (403), as the guide says.
        Admin = "admin",
        /// The identity provider too, with `POST /Groups` (Okta Group Push,
        /// Entra group provisioning).
        Scim = "scim",
    }
}

choices! {
    /// What `active: false` (by PUT or PATCH) does to a user.
    Deprovision {
        /// Deletes it, with its memberships and sessions, as the guide
        /// says; `active` then reads `true` for every user there is.
        Delete = "delete",
        /// Keeps it with `active: false`: its sessions are revoked, and
        /// `active: true` brings it back with the same id. `DELETE` still
        /// deletes.
        Deactivate = "deactivate",
    }
}

choices! {
    /// What becomes of the memberships of a user that is deactivated.
    DeactivatedMemberships {
        /// They stay: the user is back in its groups when re-activated.
        Keep = "keep",
        /// They go, as on deletion.
        Drop = "drop",
    }
}

choices! {
    /// What a userName is.
    UserNameFormat {
        /// An email address; `emails` is the userName (the guide's rule).
        Email = "email",
        /// Any non-empty string (an employee number, a login name);
        /// `emails` is the client's, validated as an address.
        Any = "any",
    }
}

impl UserNameFormat {
    /// How the tenant's users are parsed, rendered and described.
    pub fn users(self) -> &'static scimitar_proto::schema::ResourceType {
        match self {
            UserNameFormat::Email => &scimitar_proto::schema::USER,
            UserNameFormat::Any => &scimitar_proto::schema::USER_ANY_NAME,
        }
    }
}

/// A change of a tenant's policies; `None` keeps a policy as it is.
#[derive(Debug, Clone, Default)]
pub struct PolicyChange {
    /// Who creates groups.
    pub group_creation: Option<GroupCreation>,
    /// `Some(None)`: groups SCIM creates go to the tenant root.
    pub group_subaccount_id: Option<Option<SubaccountId>>,
    /// What `active: false` does.
    pub deprovision: Option<Deprovision>,
    /// What becomes of a deactivated user's memberships.
    pub deactivated_memberships: Option<DeactivatedMemberships>,
    /// What a userName is.
    pub user_name_format: Option<UserNameFormat>,
    /// The tenant's confirmed domains, as typed; `Some(vec![])`: any.
    pub user_name_domains: Option<Vec<String>>,
}

/// A user whose userName is at a domain another tenant confirmed: the
/// address belongs to that tenant's people, and its identity provider
/// cannot create it while this user holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Collision {
    /// The domain.
    pub domain: String,
    /// The tenant that confirmed it.
    pub domain_tenant_id: TenantId,
    /// The tenant the user is in.
    pub tenant_id: TenantId,
    /// The user.
    pub user_id: UserId,
    /// Its userName.
    pub user_name: String,
    /// When the user was created.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
}

/// A node in a tenant's tree of subaccounts; groups may belong to one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subaccount {
    /// The subaccount's id.
    pub id: SubaccountId,
    /// The tenant it belongs to.
    pub tenant_id: TenantId,
    /// The subaccount above it; `None` at the tenant root.
    pub parent_id: Option<SubaccountId>,
    /// The subaccount's name.
    pub name: String,
    /// When the subaccount was created.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
}

/// Creation time, last change and a counter bumped by every change (the
/// ETag's source).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stamp {
    /// When the resource was created.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
    /// When the resource last changed.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_modified: Micros,
    /// Starts at 1 and grows by one with every change.
    pub version: i64,
}

impl Stamp {
    /// The weak ETag clients see as `meta.version`.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// A SCIM user, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// The user's id.
    pub id: UserId,
    /// The tenant the user belongs to.
    pub tenant_id: TenantId,
    /// What the client set: userName, name, phone and the rest.
    pub attrs: UserAttributes,
    /// Creation time, last change and version.
    pub stamp: Stamp,
}

/// A SCIM group, as stored (without its members).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    /// The group's id.
    pub id: GroupId,
    /// The tenant the group belongs to.
    pub tenant_id: TenantId,
    /// The subaccount the group belongs to; `None` at the tenant root.
    pub subaccount_id: Option<SubaccountId>,
    /// The group's name.
    pub display_name: String,
    /// The identity provider's id for the group (Entra's objectId), unique
    /// within the tenant; identity providers find the group by it.
    pub external_id: Option<String>,
    /// How many members the group has (kept with every membership change,
    /// never counted on reading).
    pub member_count: u64,
    /// Creation time, last change and version.
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// What an administrator gives to create a group.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    /// The group's name; required.
    pub display_name: String,
    /// The subaccount to put it in (one of the tenant's); `None` for the root.
    pub subaccount_id: Option<SubaccountId>,
    /// The identity provider's id for the group, unique within the tenant.
    pub external_id: Option<String>,
    /// Its first members (user ids of the tenant), when SCIM creates it.
    pub members: Vec<String>,
}

/// An administrator's change to a group (admin API / CLI).
#[derive(Debug, Clone, Default)]
pub struct GroupAdminChange {
    /// A new name; `None` keeps the current one.
    pub display_name: Option<String>,
    /// `Some(None)` clears the externalId.
    pub external_id: Option<Option<String>>,
    /// `Some(None)` moves the group to the tenant root.
    pub subaccount_id: Option<Option<SubaccountId>>,
}

/// A SCIM client's change to a group: attribute updates and member set
/// operations, applied in order in one transaction.
#[derive(Debug, Clone, Default)]
pub struct GroupChange {
    /// A new displayName; `None` keeps the current one.
    pub display_name: Option<String>,
    /// `Some(None)` clears the externalId.
    pub external_id: Option<Option<String>>,
    /// Member set operations, in request order.
    pub members: Vec<MemberOp>,
}

/// A member of a group as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's user id.
    pub user_id: UserId,
    /// The member's displayName.
    pub display: String,
}

/// A group of a user as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The group's id.
    pub group_id: GroupId,
    /// The group's displayName.
    pub display: String,
}

/// An API key: the credential an identity provider presents to a tenant's
/// SCIM API. Its secret is not here: it is stored only as a hash.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    /// The key's id.
    pub id: ApiKeyId,
    /// The tenant the key gives access to.
    pub tenant_id: TenantId,
    /// What the administrator noted the key is for.
    pub label: Option<String>,
    /// When the key was issued.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
    /// When the key was revoked; `None` while it is valid.
    #[serde(with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked: Option<Micros>,
    /// When a SCIM request last came with the key, as far as the
    /// provisioning log has written (a few milliseconds behind).
    #[serde(with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub last_used: Option<Micros>,
}

/// A signed-in session of a provisioned user in the host application.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    /// The session's id.
    pub id: SessionId,
    /// The tenant of the user.
    pub tenant_id: TenantId,
    /// The user signed in.
    pub user_id: UserId,
    /// When the session began.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
    /// When the session stops being valid.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub expires: Micros,
}

/// A change, recorded in order in the same transaction as the change itself
/// (the outbox the host application follows).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Position in the outbox: grows in commit order, never reused.
    pub seq: i64,
    /// The tenant the change happened in.
    pub tenant_id: TenantId,
    /// What happened: `user.created`, `group.members_added`, and so on.
    pub kind: String,
    /// The id of the resource that changed.
    pub resource_id: String,
    /// The details of the change; their shape depends on `kind`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
    /// When the change was recorded.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
    /// The `X-Request-Id` of the SCIM request that made the change; `None`
    /// for an administrator's.
    pub request_id: Option<String>,
    /// The API key that request came with.
    pub api_key_id: Option<ApiKeyId>,
}

/// One SCIM request, as the tenant's admins and support see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    /// The tenant the request was for.
    pub tenant_id: TenantId,
    /// When the request arrived.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub time: Micros,
    /// The request's `X-Request-Id`, the client's or one the server gave it;
    /// empty in a summary of refused requests.
    pub request_id: String,
    /// The HTTP method (`*` in a summary of refused requests).
    pub method: String,
    /// The path and query as the client sent them.
    pub path: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The `scimType` of an error answer.
    pub scim_type: Option<String>,
    /// The `detail` of an error answer.
    pub detail: Option<String>,
    /// Attributes the request carried that scimitar ignores.
    pub ignored: Vec<String>,
    /// The API key the request came with; `None` in a summary of refused
    /// requests.
    pub api_key_id: Option<ApiKeyId>,
}

impl LogEntry {
    /// Whether the request failed (an error answer).
    pub fn failed(&self) -> bool {
        self.status >= 400
    }
}

/// A page of a list query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// Items matching the query, on every page.
    pub total: u64,
    /// The items of this page.
    pub items: Vec<T>,
}

/// A list query in protocol terms; each backend translates it.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only items that match; all items when `None`.
    pub filter: Option<Filter>,
    /// The attribute to sort by; creation order when `None`.
    pub sort_by: Option<ResolvedAttr>,
    /// Sort by `sort_by` in descending order.
    pub descending: bool,
    /// Zero-based.
    pub offset: u64,
    /// At most this many items; `0` counts them without reading any.
    pub limit: u64,
}

/// Who a panel session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PanelUser {
    /// The operator, signed in with the admin token: every tenant.
    Operator,
    /// A tenant's administrator, through a portal link: that tenant only.
    Tenant(TenantId),
}

/// A signed-in session of the admin panel. Its secret is the cookie; only
/// its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelSession {
    /// Whose session it is.
    pub user: PanelUser,
    /// When it began.
    pub created: Micros,
    /// When it was last used (written at most once a minute).
    pub last_seen: Micros,
    /// When it ends, however much it is used.
    pub expires: Micros,
}

/// What became of a portal link someone opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// The link was good: a session of its tenant has begun.
    Session(TenantId),
    /// The link was opened before.
    Used,
    /// The link is too old.
    Expired,
    /// No such link.
    Unknown,
}

/// A page of a keyset-paged panel list: the items, and whether more
/// follow the last one.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice<T> {
    /// The items, at most the page size.
    pub items: Vec<T>,
    /// Whether there are items after the last one.
    pub more: bool,
}

impl<T> Slice<T> {
    /// A page of at most `limit` from `items` read with one more than the
    /// page (`LIMIT limit + 1`): the extra one only says that more follow.
    pub fn of_one_more(mut items: Vec<T>, limit: u32) -> Slice<T> {
        let limit = limit as usize;
        let more = items.len() > limit;
        items.truncate(limit);
        Slice { items, more }
    }
}

/// Which provisioning-log entries an administrator asks for, newest first.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Entries older than this position (from a previous page's last
    /// entry); the newest when `None`.
    pub before: Option<i64>,
    /// Only failed (`Some(true)`) or successful (`Some(false)`) requests.
    pub failed: Option<bool>,
    /// Only requests of this HTTP method.
    pub method: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// Requests and failures of one tenant in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HourCount {
    /// The hour's first microsecond.
    pub hour: Micros,
    /// SCIM requests in that hour (a summary of refused requests counts once).
    pub requests: u64,
    /// Of those, the ones that failed.
    pub failures: u64,
}

/// How a tenant's provisioning is going.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncHealth {
    /// Counts per hour since the asked-for hour, oldest first, hours
    /// without requests left out.
    pub hours: Vec<HourCount>,
    /// The newest successful request.
    pub last_success: Option<LogEntry>,
    /// The newest failed request.
    pub last_failure: Option<LogEntry>,
}

/// A webhook endpoint: where events are delivered, which ones, and how far
/// delivery has come.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookEndpointId,
    /// Where events are POSTed.
    pub url: String,
    /// Only this tenant's events; every tenant's when `None`.
    pub tenant_id: Option<TenantId>,
    /// Only these event types; every type when empty.
    pub types: Vec<String>,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    /// When it was registered.
    pub created: Micros,
    /// Every event up to this sequence number that the endpoint wants has
    /// been delivered (or retention deleted it first).
    pub delivered_through: i64,
    /// When the next attempt is due.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub next_attempt: Micros,
    /// Attempts that failed since the last success.
    pub failures: i64,
    /// When the first of those failed.
    #[serde(with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub failing_since: Option<Micros>,
    /// When delivery was stopped (by an operator, a `410 Gone`, or three
    /// days of failures); `None` while it goes on.
    #[serde(with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub disabled: Option<Micros>,
    /// Why.
    pub disabled_reason: Option<String>,
    /// Until when the secret before the last rotation still signs.
    #[serde(with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub previous_secret_until: Option<Micros>,
}

/// Where an endpoint's delivery stands: what a delivery run changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// See [`WebhookEndpoint::delivered_through`].
    pub delivered_through: i64,
    /// When the next attempt is due.
    pub next_attempt: Micros,
    /// Attempts that failed since the last success.
    pub failures: i64,
    /// When the first of those failed.
    pub failing_since: Option<Micros>,
    /// When delivery was stopped.
    pub disabled: Option<Micros>,
    /// Why.
    pub disabled_reason: Option<String>,
}

impl WebhookEndpoint {
    /// Where its delivery stands.
    pub fn delivery(&self) -> Delivery {
        Delivery {
            delivered_through: self.delivered_through,
            next_attempt: self.next_attempt,
            failures: self.failures,
            failing_since: self.failing_since,
            disabled: self.disabled,
            disabled_reason: self.disabled_reason.clone(),
        }
    }
}

/// An endpoint a process holds the lease of, with the secrets that sign
/// its deliveries (the current one first).
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The endpoint as it was claimed.
    pub endpoint: WebhookEndpoint,
    /// The secrets that sign (two during a rotation).
    pub secrets: Vec<String>,
}

/// One attempt to deliver an event to an endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attempt {
    /// The event's sequence number (its id is `evt_` and this).
    pub event_seq: i64,
    /// When it was made.
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub time: Micros,
    /// The endpoint's answer; `None` when there was none.
    pub status: Option<u16>,
    /// Why the attempt failed, when it did.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub millis: i64,
}

impl Attempt {
    /// Whether the endpoint took the event.
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}
