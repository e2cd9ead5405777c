//! The admin REST API: what the CLI does, over HTTP, behind the operator
//! token. Tenants, subaccounts, groups, API keys; users, the provisioning
//! log and events to read.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::{get, post};
use scimitar_core::ids::{ApiKeyId, GroupId, SubaccountId, TenantId};
use scimitar_core::model::{GroupAdminChange, ListQuery, NewGroup};
use scimitar_proto::ScimError;
use scimitar_proto::resource::{MAX_STRING_CHARS, check_string};
use scimitar_proto::schema::USER;
use serde::Serialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Scope, require_token};
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::{QueryPairs, ScimJson, known_id};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin/v1/tenants", get(list_tenants).post(create_tenant))
        .route("/admin/v1/tenants/{tenant}", get(get_tenant))
        .route(
            "/admin/v1/tenants/{tenant}/subaccounts",
            get(list_subaccounts).post(create_subaccount),
        )
        .route(
            "/admin/v1/tenants/{tenant}/groups",
            get(list_groups).post(create_group),
        )
        .route(
            "/admin/v1/tenants/{tenant}/groups/{group}",
            get(get_group).patch(change_group).delete(delete_group),
        )
        .route(
            "/admin/v1/tenants/{tenant}/apikeys",
            get(list_api_keys).post(create_api_key),
        )
        .route(
            "/admin/v1/tenants/{tenant}/apikeys/{key}/revoke",
            post(revoke_api_key),
        )
        .route("/admin/v1/tenants/{tenant}/users", get(list_users))
        .route("/admin/v1/tenants/{tenant}/log", get(provisioning_log))
        .route("/admin/v1/events", get(events))
        .route_layer(middleware::from_fn_with_state(
            (state, Scope::Admin),
            require_token,
        ))
}

fn ok<T: Serialize>(status: StatusCode, value: &T) -> Response {
    scim_json(status, &serde_json::to_value(value).unwrap_or(Value::Null))
}

/// Longest name, label or region an administrator may give, in characters.
const MAX_NAME_CHARS: usize = 256;

/// An id from a path or a body: 404 unless it can be one of ours
/// ([`known_id`]).
fn id<T: From<String>>(raw: String, what: &str) -> Result<T, ApiError> {
    known_id(raw).ok_or_else(|| ApiError::not_found(format!("no such {what}")))
}

/// Checks a stored text an administrator sent with the rule every stored
/// string follows ([`check_string`]): its length, and no control
/// characters (a NUL cannot even be stored on PostgreSQL).
fn checked(name: &str, value: String) -> Result<String, ScimError> {
    let max = if name == "externalId" {
        MAX_STRING_CHARS
    } else {
        MAX_NAME_CHARS
    };
    check_string(name, &value, max)?;
    Ok(value)
}

/// An optional string field; `null` and absent both give `None`.
fn optional_string(body: &Value, name: &str) -> Result<Option<String>, ScimError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => checked(name, s.clone()).map(Some),
        Some(_) => Err(ScimError::invalid_value(format!(
            "'{name}' must be a string"
        ))),
    }
}

/// An optional id field of a body; a value that is no id is 404.
fn optional_id<T: From<String>>(body: &Value, name: &str, what: &str) -> ApiResult<Option<T>> {
    optional_string(body, name)?
        .map(|raw| id(raw, what))
        .transpose()
}

fn required_string(body: &Value, name: &str) -> Result<String, ScimError> {
    optional_string(body, name)?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| ScimError::invalid_value(format!("'{name}' is required")))
}

/// For a PATCH field: absent → no change; `null` → clear; a string → set.
fn change_of(body: &Value, name: &str) -> Result<Option<Option<String>>, ScimError> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => checked(name, s.clone()).map(|s| Some(Some(s))),
        Some(_) => Err(ScimError::invalid_value(format!(
            "'{name}' must be a string or null"
        ))),
    }
}

fn query_value<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A number parameter from 0 to `max` (larger ones would overflow the
/// database's integers).
fn query_number<T: std::str::FromStr + PartialOrd + std::fmt::Display>(
    query: &[(String, String)],
    name: &str,
    default: T,
    max: T,
) -> Result<T, ScimError> {
    let Some(v) = query_value(query, name) else {
        return Ok(default);
    };
    match v.trim().parse::<T>() {
        Ok(n) if n <= max => Ok(n),
        _ => Err(ScimError::invalid_value(format!(
            "'{name}' must be a whole number from 0 to {max}"
        ))),
    }
}

/// The largest offset or sequence number asked for.
const MAX_POSITION: i64 = i64::MAX / 2;

async fn list_tenants(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(ok(StatusCode::OK, &state.store().list_tenants().await?))
}

async fn create_tenant(
    State(state): State<AppState>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let name = required_string(&body, "name")?;
    let region = optional_string(&body, "region")?;
    let tenant = state
        .store()
        .create_tenant(&name, region.as_deref())
        .await?;
    Ok(ok(StatusCode::CREATED, &tenant))
}

async fn get_tenant(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    Ok(ok(
        StatusCode::OK,
        &state.store().get_tenant(&tenant).await?,
    ))
}

async fn list_subaccounts(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    Ok(ok(
        StatusCode::OK,
        &state.service().list_subaccounts(&tenant).await?,
    ))
}

async fn create_subaccount(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let name = required_string(&body, "name")?;
    let parent: Option<SubaccountId> = optional_id(&body, "parentId", "parent subaccount")?;
    let sub = state
        .store()
        .create_subaccount(&tenant, &name, parent.as_ref())
        .await?;
    Ok(ok(StatusCode::CREATED, &sub))
}

async fn list_groups(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    Ok(ok(
        StatusCode::OK,
        &state.service().list_groups(&tenant).await?,
    ))
}

async fn create_group(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let group = NewGroup {
        display_name: required_string(&body, "displayName")?,
        subaccount_id: optional_id(&body, "subaccountId", "subaccount")?,
        external_id: optional_string(&body, "externalId")?,
    };
    let group = state.store().create_group(&tenant, group).await?;
    Ok(ok(StatusCode::CREATED, &group))
}

async fn get_group(
    State(state): State<AppState>,
    Path((tenant, group)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (tenant, group): (TenantId, GroupId) = (id(tenant, "tenant")?, id(group, "group")?);
    let group = state.store().get_group(&tenant, &group).await?;
    Ok(ok(StatusCode::OK, &group))
}

/// Rename, move (`subaccountId`, `null` for the tenant root) or set the
/// externalId (`null` clears it).
async fn change_group(
    State(state): State<AppState>,
    Path((tenant, group)): Path<(String, String)>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let (tenant, group): (TenantId, GroupId) = (id(tenant, "tenant")?, id(group, "group")?);
    let display_name = match body.get("displayName") {
        None => None,
        Some(_) => Some(required_string(&body, "displayName")?),
    };
    let change = GroupAdminChange {
        display_name,
        external_id: change_of(&body, "externalId")?,
        subaccount_id: change_of(&body, "subaccountId")?
            .map(|s| s.map(|raw| id(raw, "subaccount")).transpose())
            .transpose()?,
    };
    let changed = state
        .service()
        .change_group(&tenant, &group, change)
        .await?;
    Ok(ok(StatusCode::OK, &changed))
}

async fn delete_group(
    State(state): State<AppState>,
    Path((tenant, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (tenant, group): (TenantId, GroupId) = (id(tenant, "tenant")?, id(group, "group")?);
    state.store().delete_group(&tenant, &group, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_api_keys(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    Ok(ok(
        StatusCode::OK,
        &state.service().list_api_keys(&tenant).await?,
    ))
}

/// Issues a key; its secret is in the answer under `key`, this once.
async fn create_api_key(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let label = optional_string(&body, "label")?;
    let (key, secret) = state
        .store()
        .create_api_key(&tenant, label.as_deref())
        .await?;
    let mut out = serde_json::to_value(&key).unwrap_or(Value::Null);
    out["key"] = json!(secret);
    Ok(scim_json(StatusCode::CREATED, &out))
}

async fn revoke_api_key(
    State(state): State<AppState>,
    Path((tenant, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (tenant, key): (TenantId, ApiKeyId) = (id(tenant, "tenant")?, id(key, "API key")?);
    Ok(ok(
        StatusCode::OK,
        &state.service().revoke_api_key(&tenant, &key).await?,
    ))
}

/// Users of a tenant, optionally filtered with a SCIM filter.
async fn list_users(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    if query_value(&query, "filter").is_some_and(|f| f.contains('\0')) {
        return Err(ScimError::invalid_filter("the filter contains a NUL character").into());
    }
    let filter = query_value(&query, "filter")
        .filter(|f| !f.trim().is_empty())
        .map(|f| scimitar_proto::filter::parse(&USER, f))
        .transpose()
        .map_err(ScimError::from)?;
    let max = state.config().max_page_size;
    let limit = query_number(&query, "count", state.config().default_page_size, u64::MAX)?.min(max);
    let offset = query_number(&query, "startIndex", 1u64, MAX_POSITION.unsigned_abs())?.max(1) - 1;
    let page = state
        .service()
        .list_users(
            &tenant,
            &ListQuery {
                filter,
                offset,
                limit,
                ..Default::default()
            },
        )
        .await?;
    let users: Vec<Value> = page
        .items
        .iter()
        .map(|u| {
            json!({
                "id": u.id,
                "userName": u.attrs.user_name,
                "displayName": u.attrs.display_name,
                "externalId": u.attrs.external_id,
                "created": scimitar_proto::datetime::format(u.stamp.created),
            })
        })
        .collect();
    Ok(scim_json(
        StatusCode::OK,
        &json!({"total": page.total, "users": users}),
    ))
}

async fn provisioning_log(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let limit = query_number(&query, "limit", 100u32, u32::MAX)?.min(1000);
    Ok(ok(
        StatusCode::OK,
        &state.service().provisioning_log(&tenant, limit).await?,
    ))
}

async fn events(
    State(state): State<AppState>,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let tenant: Option<TenantId> = query_value(&query, "tenant")
        .map(|t| id(t.to_owned(), "tenant"))
        .transpose()?;
    let after = query_number(&query, "after", 0i64, MAX_POSITION)?;
    let limit = query_number(&query, "limit", 100u32, u32::MAX)?.min(1000);
    Ok(ok(
        StatusCode::OK,
        &state.store().events(tenant.as_ref(), after, limit).await?,
    ))
}
