//! Columns and row mapping: how each model type is read from and bound to
//! its table.

use super::*;

pub(super) fn lower(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::to_lowercase)
}

pub(super) const USER_COLUMNS: &str = "r.id, r.tenant_id, r.user_name, r.display_name, r.name_formatted, \
     r.name_family, r.name_given, r.name_middle, r.name_prefix, r.name_suffix, r.title, r.phone, \
     r.phone_type, r.external_id, r.created, r.last_modified, r.version";

/// The user columns a client's attributes set, in the order
/// [`bind_user_attrs`] binds them.
pub(super) const USER_ATTR_COLUMNS: [&str; 21] = [
    "user_name",
    "user_name_ci",
    "display_name",
    "display_name_ci",
    "name_formatted",
    "name_formatted_ci",
    "name_family",
    "name_family_ci",
    "name_given",
    "name_given_ci",
    "name_middle",
    "name_middle_ci",
    "name_prefix",
    "name_prefix_ci",
    "name_suffix",
    "name_suffix_ci",
    "title",
    "title_ci",
    "phone",
    "phone_type",
    "external_id",
];

pub(super) fn bind_user_attrs<'a>(q: Query<'a>, a: &'a UserAttributes) -> Query<'a> {
    let n = &a.name;
    q.bind(a.user_name.as_str())
        .bind(a.user_name.to_lowercase())
        .bind(a.display_name.as_str())
        .bind(a.display_name.to_lowercase())
        .bind(n.formatted.as_deref())
        .bind(lower(&n.formatted))
        .bind(n.family_name.as_deref())
        .bind(lower(&n.family_name))
        .bind(n.given_name.as_deref())
        .bind(lower(&n.given_name))
        .bind(n.middle_name.as_deref())
        .bind(lower(&n.middle_name))
        .bind(n.honorific_prefix.as_deref())
        .bind(lower(&n.honorific_prefix))
        .bind(n.honorific_suffix.as_deref())
        .bind(lower(&n.honorific_suffix))
        .bind(a.title.as_deref())
        .bind(lower(&a.title))
        .bind(a.phone.as_ref().map(|p| p.value.as_str()))
        .bind(a.phone.as_ref().and_then(|p| lower(&p.kind)))
        .bind(a.external_id.as_deref())
}

/// An id column, as the id type it holds.
fn id<T: From<String>>(row: &DbRow, column: &str) -> sqlx::Result<T> {
    row.try_get::<String, _>(column).map(T::from)
}

pub(super) fn stamp(row: &DbRow) -> sqlx::Result<Stamp> {
    Ok(Stamp {
        created: row.try_get("created")?,
        last_modified: row.try_get("last_modified")?,
        version: row.try_get("version")?,
    })
}

pub(super) fn user_from_row(row: &DbRow) -> sqlx::Result<User> {
    let phone: Option<String> = row.try_get("phone")?;
    Ok(User {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        attrs: UserAttributes {
            user_name: row.try_get("user_name")?,
            display_name: row.try_get("display_name")?,
            name: Name {
                formatted: row.try_get("name_formatted")?,
                family_name: row.try_get("name_family")?,
                given_name: row.try_get("name_given")?,
                middle_name: row.try_get("name_middle")?,
                honorific_prefix: row.try_get("name_prefix")?,
                honorific_suffix: row.try_get("name_suffix")?,
            },
            title: row.try_get("title")?,
            phone: match phone {
                Some(value) => Some(Phone {
                    value,
                    kind: row.try_get("phone_type")?,
                }),
                None => None,
            },
            external_id: row.try_get("external_id")?,
        },
        stamp: stamp(row)?,
    })
}

pub(super) const GROUP_COLUMNS: &str = "r.id, r.tenant_id, r.subaccount_id, r.display_name, r.external_id, \
     r.created, r.last_modified, r.version";

pub(super) fn group_from_row(row: &DbRow) -> sqlx::Result<Group> {
    Ok(Group {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        subaccount_id: row
            .try_get::<Option<String>, _>("subaccount_id")?
            .map(SubaccountId::from),
        display_name: row.try_get("display_name")?,
        external_id: row.try_get("external_id")?,
        stamp: stamp(row)?,
    })
}

pub(super) fn tenant_from_row(row: &DbRow) -> sqlx::Result<Tenant> {
    Ok(Tenant {
        id: id(row, "id")?,
        name: row.try_get("name")?,
        region: row.try_get("region")?,
        created: row.try_get("created")?,
    })
}

pub(super) fn subaccount_from_row(row: &DbRow) -> sqlx::Result<Subaccount> {
    Ok(Subaccount {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        parent_id: row
            .try_get::<Option<String>, _>("parent_id")?
            .map(SubaccountId::from),
        name: row.try_get("name")?,
        created: row.try_get("created")?,
    })
}

pub(super) fn api_key_from_row(row: &DbRow) -> sqlx::Result<ApiKey> {
    Ok(ApiKey {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        label: row.try_get("label")?,
        created: row.try_get("created")?,
        revoked: row.try_get("revoked")?,
    })
}

pub(super) fn session_from_row(row: &DbRow) -> sqlx::Result<Session> {
    Ok(Session {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        user_id: id(row, "user_id")?,
        created: row.try_get("created")?,
        expires: row.try_get("expires")?,
    })
}

pub(super) fn log_from_row(row: &DbRow) -> sqlx::Result<LogEntry> {
    let ignored: Option<String> = row.try_get("ignored")?;
    let status: i64 = row.try_get("status")?;
    Ok(LogEntry {
        tenant_id: id(row, "tenant_id")?,
        time: row.try_get("time")?,
        request_id: row.try_get("request_id")?,
        method: row.try_get("method")?,
        path: row.try_get("path")?,
        status: u16::try_from(status).unwrap_or(0),
        scim_type: row.try_get("scim_type")?,
        detail: row.try_get("detail")?,
        ignored: ignored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
    })
}

pub(super) fn event_from_row(row: &DbRow) -> sqlx::Result<Event> {
    let payload: String = row.try_get("payload")?;
    Ok(Event {
        seq: row.try_get("seq")?,
        tenant_id: id(row, "tenant_id")?,
        kind: row.try_get("kind")?,
        resource_id: row.try_get("resource_id")?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        created: row.try_get("created")?,
    })
}
