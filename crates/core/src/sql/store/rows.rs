//! Columns and row mapping: how each model type is read from and bound to
//! its table.

use super::*;

pub(super) fn lower(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::to_lowercase)
}

pub(super) const USER_COLUMNS: &str = "r.id, r.tenant_id, r.user_name, r.display_name, r.name_formatted, \
     r.name_family, r.name_given, r.name_middle, r.name_prefix, r.name_suffix, r.title, r.phone, \
     r.phone_type, r.external_id, r.email, r.email_type, r.email_primary, r.active, r.created, \
     r.last_modified, r.version";

/// The user columns a client's attributes set, in the order
/// [`user_attr_params`] gives their values.
pub(super) const USER_ATTR_COLUMNS: [&str; 27] = [
    "user_name",
    "user_name_ci",
    "user_domain",
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
    "email",
    "email_ci",
    "email_type",
    "email_primary",
    "active",
];

pub(super) fn user_attr_params(a: &UserAttributes) -> [Param<'_>; USER_ATTR_COLUMNS.len()] {
    let n = &a.name;
    let phone = a.phone.as_ref();
    let email = a.email.as_ref();
    [
        a.user_name.as_str().into(),
        a.user_name.to_lowercase().into(),
        rules::user_name_domain(&a.user_name).into(),
        a.display_name.as_str().into(),
        a.display_name.to_lowercase().into(),
        n.formatted.as_deref().into(),
        lower(&n.formatted).into(),
        n.family_name.as_deref().into(),
        lower(&n.family_name).into(),
        n.given_name.as_deref().into(),
        lower(&n.given_name).into(),
        n.middle_name.as_deref().into(),
        lower(&n.middle_name).into(),
        n.honorific_prefix.as_deref().into(),
        lower(&n.honorific_prefix).into(),
        n.honorific_suffix.as_deref().into(),
        lower(&n.honorific_suffix).into(),
        a.title.as_deref().into(),
        lower(&a.title).into(),
        phone.map(|p| p.value.as_str()).into(),
        phone.and_then(|p| lower(&p.kind)).into(),
        a.external_id.as_deref().into(),
        email.map(|e| e.value.as_str()).into(),
        email.map(|e| e.value.to_lowercase()).into(),
        email.and_then(|e| lower(&e.kind)).into(),
        email.and_then(|e| e.primary).into(),
        a.active.into(),
    ]
}

/// An id column, as the id type it holds.
pub(super) fn id<T: From<String>>(row: &impl Fields, column: &str) -> Result<T> {
    row.text(column).map(T::from)
}

pub(super) fn stamp(row: &impl Fields) -> Result<Stamp> {
    Ok(Stamp {
        created: row.int("created")?,
        last_modified: row.int("last_modified")?,
        version: row.int("version")?,
    })
}

pub(super) fn user_from_row(row: &impl Fields) -> Result<User> {
    let phone = row.opt_text("phone")?;
    Ok(User {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        attrs: UserAttributes {
            user_name: row.text("user_name")?,
            display_name: row.text("display_name")?,
            name: Name {
                formatted: row.opt_text("name_formatted")?,
                family_name: row.opt_text("name_family")?,
                given_name: row.opt_text("name_given")?,
                middle_name: row.opt_text("name_middle")?,
                honorific_prefix: row.opt_text("name_prefix")?,
                honorific_suffix: row.opt_text("name_suffix")?,
            },
            title: row.opt_text("title")?,
            phone: match phone {
                Some(value) => Some(Phone {
                    value,
                    kind: row.opt_text("phone_type")?,
                }),
                None => None,
            },
            external_id: row.opt_text("external_id")?,
            email: match row.opt_text("email")? {
                Some(value) => Some(Email {
                    value,
                    kind: row.opt_text("email_type")?,
                    primary: row.opt_flag("email_primary")?,
                }),
                None => None,
            },
            active: row.opt_flag("active")?,
        },
        stamp: stamp(row)?,
    })
}

pub(super) const GROUP_COLUMNS: &str = "r.id, r.tenant_id, r.subaccount_id, r.display_name, r.external_id, \
     r.member_count, r.created, r.last_modified, r.version";

pub(super) fn group_from_row(row: &impl Fields) -> Result<Group> {
    Ok(Group {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        subaccount_id: row.opt_text("subaccount_id")?.map(SubaccountId::from),
        display_name: row.text("display_name")?,
        external_id: row.opt_text("external_id")?,
        member_count: u64::try_from(row.int("member_count")?).unwrap_or(0),
        stamp: stamp(row)?,
    })
}

/// The columns [`tenant_from_row`] reads.
pub(super) const TENANT_COLUMNS: &str = "id, name, region, created, group_creation, \
     group_subaccount_id, deprovision, deactivated_memberships, user_name_format";

/// A policy column, as the choice it names.
fn choice<T>(row: &impl Fields, column: &str, parse: fn(&str) -> Option<T>) -> Result<T> {
    let name = row.text(column)?;
    parse(&name).ok_or_else(|| CoreError::Internal(format!("unknown {column} '{name}'").into()))
}

pub(super) fn tenant_from_row(row: &impl Fields) -> Result<Tenant> {
    Ok(Tenant {
        id: id(row, "id")?,
        name: row.text("name")?,
        region: row.opt_text("region")?,
        created: row.int("created")?,
        policy: Policy {
            group_creation: choice(row, "group_creation", GroupCreation::parse)?,
            group_subaccount_id: row.opt_text("group_subaccount_id")?.map(SubaccountId::from),
            deprovision: choice(row, "deprovision", Deprovision::parse)?,
            deactivated_memberships: choice(
                row,
                "deactivated_memberships",
                DeactivatedMemberships::parse,
            )?,
            user_name_format: choice(row, "user_name_format", UserNameFormat::parse)?,
            // Read with the tenant, from tenant_domains.
            user_name_domains: Vec::new(),
        },
    })
}

/// The columns of a collision, as [`collision_from_row`] reads them:
/// tenant_domains `d`, users `u`.
const COLLISION_COLUMNS: &str = "d.domain AS domain, d.tenant_id AS domain_tenant_id, \
     u.tenant_id AS tenant_id, u.id AS id, u.user_name AS user_name, \
     u.user_name_ci AS user_name_ci, u.created AS created";

/// The users at a domain another tenant confirmed (at `$1` alone when
/// `one_domain`), by domain, tenant and userName, at most `limit`. Each
/// domain's users are searched by index on either side of the domain's
/// own tenant (`users_domain`), so its own users, however many, are never
/// read; the domains are walked in order (`CROSS JOIN` keeps them the
/// outer loop on SQLite).
pub(super) fn collisions_sql(one_domain: bool, limit: u32) -> String {
    let arm = |side: &str| {
        let only = if one_domain { " AND d.domain = $1" } else { "" };
        format!(
            "SELECT {COLLISION_COLUMNS} FROM tenant_domains d CROSS JOIN users u \
             WHERE u.user_domain = d.domain AND u.tenant_id {side} d.tenant_id{only}"
        )
    };
    format!(
        "{} UNION ALL {} ORDER BY domain, tenant_id, user_name_ci LIMIT {limit}",
        arm("<"),
        arm(">")
    )
}

/// The collision a user is, if it is one: the user by its id, then its
/// domain.
pub(super) fn collision_of_sql() -> String {
    format!(
        "SELECT {COLLISION_COLUMNS} FROM users u CROSS JOIN tenant_domains d \
         WHERE u.id = $1 AND d.domain = u.user_domain AND d.tenant_id <> u.tenant_id"
    )
}

pub(super) fn collision_from_row(row: &impl Fields) -> Result<Collision> {
    Ok(Collision {
        domain: row.text("domain")?,
        domain_tenant_id: id(row, "domain_tenant_id")?,
        tenant_id: id(row, "tenant_id")?,
        user_id: id(row, "id")?,
        user_name: row.text("user_name")?,
        created: row.int("created")?,
    })
}

pub(super) fn subaccount_from_row(row: &impl Fields) -> Result<Subaccount> {
    Ok(Subaccount {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        parent_id: row.opt_text("parent_id")?.map(SubaccountId::from),
        name: row.text("name")?,
        created: row.int("created")?,
    })
}

pub(super) fn api_key_from_row(row: &impl Fields) -> Result<ApiKey> {
    Ok(ApiKey {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        label: row.opt_text("label")?,
        created: row.int("created")?,
        revoked: row.opt_int("revoked")?,
        last_used: row.opt_int("last_used")?,
    })
}

pub(super) fn session_from_row(row: &impl Fields) -> Result<Session> {
    Ok(Session {
        id: id(row, "id")?,
        tenant_id: id(row, "tenant_id")?,
        user_id: id(row, "user_id")?,
        created: row.int("created")?,
        expires: row.int("expires")?,
    })
}

pub(super) fn log_from_row(row: &impl Fields) -> Result<LogEntry> {
    let ignored = row.opt_text("ignored")?;
    let status = row.int("status")?;
    Ok(LogEntry {
        tenant_id: id(row, "tenant_id")?,
        time: row.int("time")?,
        request_id: row.text("request_id")?,
        method: row.text("method")?,
        path: row.text("path")?,
        status: u16::try_from(status).unwrap_or(0),
        scim_type: row.opt_text("scim_type")?,
        detail: row.opt_text("detail")?,
        ignored: ignored
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default(),
        api_key_id: row.opt_text("api_key_id")?.map(ApiKeyId::from),
    })
}

pub(super) fn event_from_row(row: &impl Fields) -> Result<Event> {
    let payload = row.text("payload")?;
    Ok(Event {
        seq: row.int("seq")?,
        tenant_id: id(row, "tenant_id")?,
        kind: row.text("kind")?,
        resource_id: row.text("resource_id")?,
        payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
        created: row.int("created")?,
        request_id: row.opt_text("request_id")?,
        api_key_id: row.opt_text("api_key_id")?.map(ApiKeyId::from),
    })
}
