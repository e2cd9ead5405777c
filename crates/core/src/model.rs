//! The domain: what scimitar stores, independent of how.

use scimitar_proto::filter::Filter;
use scimitar_proto::patch::MemberOp;
use scimitar_proto::resource::UserAttributes;
use scimitar_proto::schema::ResolvedAttr;
use serde::Serialize;

use crate::ids::{ApiKeyId, GroupId, SessionId, SubaccountId, TenantId, UserId};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Serde for [`Micros`] as RFC 3339 text (`2026-12-02T17:13:08.123456Z`),
/// the form every JSON answer of the admin API and the CLI uses.
pub mod timestamp {
    use serde::Serializer;

    use super::Micros;

    pub fn serialize<S: Serializer>(micros: &Micros, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&scimitar_proto::datetime::format(*micros))
    }

    /// The same for an optional time (`null` when absent).
    pub mod option {
        use serde::Serializer;

        use super::Micros;

        pub fn serialize<S: Serializer>(micros: &Option<Micros>, s: S) -> Result<S::Ok, S::Error> {
            match micros {
                Some(m) => super::serialize(m, s),
                None => s.serialize_none(),
            }
        }
    }
}

/// The current time in microseconds since the epoch.
pub fn now() -> Micros {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub region: Option<String>,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Subaccount {
    pub id: SubaccountId,
    pub tenant_id: TenantId,
    pub parent_id: Option<SubaccountId>,
    pub name: String,
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
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub last_modified: Micros,
    pub version: i64,
}

impl Stamp {
    /// The weak ETag clients see as `meta.version`.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub attrs: UserAttributes,
    pub stamp: Stamp,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Group {
    pub id: GroupId,
    pub tenant_id: TenantId,
    pub subaccount_id: Option<SubaccountId>,
    pub display_name: String,
    pub external_id: Option<String>,
    #[serde(flatten)]
    pub stamp: Stamp,
}

/// What an administrator gives to create a group.
#[derive(Debug, Clone, Default)]
pub struct NewGroup {
    pub display_name: String,
    pub subaccount_id: Option<SubaccountId>,
    pub external_id: Option<String>,
}

/// An administrator's change to a group (admin API / CLI).
#[derive(Debug, Clone, Default)]
pub struct GroupAdminChange {
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
    pub display_name: Option<String>,
    /// `Some(None)` clears the externalId.
    pub external_id: Option<Option<String>>,
    pub members: Vec<MemberOp>,
}

/// A member of a group as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub display: String,
}

/// A group of a user as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub group_id: GroupId,
    pub display: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub label: Option<String>,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
    #[serde(with = "timestamp::option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub revoked: Option<Micros>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Session {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
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
    pub seq: i64,
    pub tenant_id: TenantId,
    pub kind: String,
    pub resource_id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub payload: serde_json::Value,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created: Micros,
}

/// One SCIM request, as the tenant's admins and support see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogEntry {
    pub tenant_id: TenantId,
    #[serde(with = "timestamp")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub time: Micros,
    pub request_id: String,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: Option<String>,
    /// Attributes the request carried that scimitar ignores.
    pub ignored: Vec<String>,
}

/// A page of a list query.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub total: u64,
    pub items: Vec<T>,
}

/// A list query in protocol terms; each backend translates it.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub sort_by: Option<ResolvedAttr>,
    pub descending: bool,
    /// Zero-based.
    pub offset: u64,
    pub limit: u64,
}
