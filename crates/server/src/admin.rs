//! The admin REST API: what the CLI does, over HTTP, behind the operator
//! token. Tenants, subaccounts, groups, API keys; users, the provisioning
//! log and events to read.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use scimitar_core::domain::{IssuedApiKey, UserList};
use scimitar_core::ids::{ApiKeyId, GroupId, SubaccountId, TenantId};
use scimitar_core::model::{
    ApiKey, Event, Group, GroupAdminChange, ListQuery, LogEntry, NewGroup, Subaccount, Tenant,
};
use scimitar_proto::ScimError;
use scimitar_proto::resource::{MAX_STRING_CHARS, check_string};
use scimitar_proto::schema::USER;
use serde::Serialize;
use serde_json::Value;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api_doc::{
    AdminApi, Conflict, EventsQuery, GroupChangeBody, GroupPath, KeyPath, LogQuery, NewApiKey,
    NewGroupBody, NewSubaccount, NewTenant, NotFound, Refused, TenantPath, UsersQuery,
};
use crate::auth::{Scope, require_token};
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::{QueryPairs, ScimJson, known_id};

/// The admin API's routes, with their part of the OpenAPI document.
pub fn routes(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(AdminApi::openapi())
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant))
        .routes(routes!(list_subaccounts, create_subaccount))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, change_group, delete_group))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(list_users))
        .routes(routes!(provisioning_log))
        .routes(routes!(events))
        .route_layer(middleware::from_fn_with_state(
            (state, Scope::Admin),
            require_token,
        ))
}

fn ok<T: Serialize>(status: StatusCode, value: &T) -> Response {
    scim_json(status, &serde_json::to_value(value).unwrap_or(Value::Null))
}

/// An id from a path or a body: 404 unless it can be one of ours
/// ([`known_id`]).
fn id<T: From<String>>(raw: String, what: &str) -> Result<T, ApiError> {
    known_id(raw).ok_or_else(|| ApiError::not_found(format!("no such {what}")))
}

/// An optional string field; `null` and absent both give `None`. What
/// the text may be is the domain's rule.
fn optional_string(body: &Value, name: &str) -> Result<Option<String>, ScimError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::invalid_value(format!(
            "'{name}' must be a string"
        ))),
    }
}

/// An optional id field of a body; a value that is no id is 404.
fn optional_id<T: From<String>>(body: &Value, name: &str, what: &str) -> ApiResult<Option<T>> {
    optional_string(body, name)?
        .map(|raw| body_id(name, raw, what))
        .transpose()
}

/// An id in a body: a text with a control character is refused as any
/// such text is (400); another that cannot be ours names nothing (404).
fn body_id<T: From<String>>(name: &str, raw: String, what: &str) -> ApiResult<T> {
    check_string(name, &raw, MAX_STRING_CHARS)?;
    id(raw, what)
}

/// A string field; absent or `null` is the empty string, which the domain
/// refuses where a name is required.
fn required_string(body: &Value, name: &str) -> Result<String, ScimError> {
    Ok(optional_string(body, name)?.unwrap_or_default())
}

/// For a PATCH field: absent → no change; `null` → clear; a string → set.
fn change_of(body: &Value, name: &str) -> Result<Option<Option<String>>, ScimError> {
    match body.get(name) {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(None)),
        Some(Value::String(s)) => Ok(Some(Some(s.clone()))),
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

#[utoipa::path(
    get, path = "/admin/v1/tenants", tag = "tenants",
    description = "Every tenant, oldest first.",
    responses((status = 200, body = Vec<Tenant>))
)]
async fn list_tenants(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(ok(StatusCode::OK, &state.service().list_tenants().await?))
}

#[utoipa::path(
    post, path = "/admin/v1/tenants", tag = "tenants",
    description = "Creates a tenant (a customer account).",
    request_body = NewTenant,
    responses((status = 201, body = Tenant), (status = 400, response = Refused))
)]
async fn create_tenant(
    State(state): State<AppState>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let name = required_string(&body, "name")?;
    let region = optional_string(&body, "region")?;
    let tenant = state
        .service()
        .create_tenant(&name, region.as_deref())
        .await?;
    Ok(ok(StatusCode::CREATED, &tenant))
}

#[utoipa::path(
    get, path = "/admin/v1/tenants/{tenant}", tag = "tenants",
    description = "One tenant.",
    params(TenantPath),
    responses((status = 200, body = Tenant), (status = 404, response = NotFound))
)]
async fn get_tenant(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    Ok(ok(
        StatusCode::OK,
        &state.service().get_tenant(&tenant).await?,
    ))
}

#[utoipa::path(
    get, path = "/admin/v1/tenants/{tenant}/subaccounts", tag = "subaccounts",
    description = "The tenant's subaccounts, oldest first.",
    params(TenantPath),
    responses((status = 200, body = Vec<Subaccount>), (status = 404, response = NotFound))
)]
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

#[utoipa::path(
    post, path = "/admin/v1/tenants/{tenant}/subaccounts", tag = "subaccounts",
    description = "Creates a subaccount, under `parentId` or at the root.",
    params(TenantPath),
    request_body = NewSubaccount,
    responses((status = 201, body = Subaccount), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
async fn create_subaccount(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let name = required_string(&body, "name")?;
    let parent: Option<SubaccountId> = optional_id(&body, "parentId", "parent subaccount")?;
    let sub = state
        .service()
        .create_subaccount(&tenant, &name, parent.as_ref())
        .await?;
    Ok(ok(StatusCode::CREATED, &sub))
}

#[utoipa::path(
    get, path = "/admin/v1/tenants/{tenant}/groups", tag = "groups",
    description = "The tenant's groups.",
    params(TenantPath),
    responses((status = 200, body = Vec<Group>), (status = 404, response = NotFound))
)]
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

#[utoipa::path(
    post, path = "/admin/v1/tenants/{tenant}/groups", tag = "groups",
    description = "Creates a group; identity providers then match it by `externalId`.",
    params(TenantPath),
    request_body = NewGroupBody,
    responses((status = 201, body = Group), (status = 400, response = Refused), (status = 404, response = NotFound), (status = 409, response = Conflict))
)]
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
    let group = state.service().create_group(&tenant, group).await?;
    Ok(ok(StatusCode::CREATED, &group))
}

#[utoipa::path(
    get, path = "/admin/v1/tenants/{tenant}/groups/{group}", tag = "groups",
    description = "One group.",
    params(GroupPath),
    responses((status = 200, body = Group), (status = 404, response = NotFound))
)]
async fn get_group(
    State(state): State<AppState>,
    Path((tenant, group)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (tenant, group): (TenantId, GroupId) = (id(tenant, "tenant")?, id(group, "group")?);
    let group = state.service().get_group(&tenant, &group).await?;
    Ok(ok(StatusCode::OK, &group))
}

/// Rename, move (`subaccountId`, `null` for the tenant root) or set the
/// externalId (`null` clears it).
#[utoipa::path(
    patch, path = "/admin/v1/tenants/{tenant}/groups/{group}", tag = "groups",
    description = "Renames, moves, or sets or clears the externalId of a group.",
    params(GroupPath),
    request_body = GroupChangeBody,
    responses((status = 200, body = Group), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
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
            .map(|s| {
                s.map(|raw| body_id("subaccountId", raw, "subaccount"))
                    .transpose()
            })
            .transpose()?,
    };
    let changed = state
        .service()
        .change_group(Some(&tenant), &group, change)
        .await?;
    Ok(ok(StatusCode::OK, &changed))
}

#[utoipa::path(
    delete, path = "/admin/v1/tenants/{tenant}/groups/{group}", tag = "groups",
    description = "Deletes a group and its memberships; its users stay.",
    params(GroupPath),
    responses((status = 204,
    description = "deleted"), (status = 404, response = NotFound))
)]
async fn delete_group(
    State(state): State<AppState>,
    Path((tenant, group)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (tenant, group): (TenantId, GroupId) = (id(tenant, "tenant")?, id(group, "group")?);
    state.service().delete_group(&tenant, &group, None).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/admin/v1/tenants/{tenant}/apikeys", tag = "apikeys",
    description = "The tenant's API keys (never their secrets).",
    params(TenantPath),
    responses((status = 200, body = Vec<ApiKey>), (status = 404, response = NotFound))
)]
async fn list_api_keys(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    Ok(ok(
        StatusCode::OK,
        &state.service().list_api_keys(Some(&tenant)).await?,
    ))
}

/// Issues a key; its secret is in the answer under `key`, this once.
#[utoipa::path(
    post, path = "/admin/v1/tenants/{tenant}/apikeys", tag = "apikeys",
    description = "Issues an API key for the tenant's identity provider; the secret is in `key`, this once.",
    params(TenantPath),
    request_body = NewApiKey,
    responses((status = 201, body = IssuedApiKey), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
async fn create_api_key(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let label = optional_string(&body, "label")?;
    let issued = state
        .service()
        .issue_api_key(&tenant, label.as_deref())
        .await?;
    Ok(ok(StatusCode::CREATED, &issued))
}

#[utoipa::path(
    post, path = "/admin/v1/tenants/{tenant}/apikeys/{key}/revoke", tag = "apikeys",
    description = "Revokes a key at once.",
    params(KeyPath),
    responses((status = 200, body = ApiKey), (status = 404, response = NotFound))
)]
async fn revoke_api_key(
    State(state): State<AppState>,
    Path((tenant, key)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (tenant, key): (TenantId, ApiKeyId) = (id(tenant, "tenant")?, id(key, "API key")?);
    Ok(ok(
        StatusCode::OK,
        &state.service().revoke_api_key(Some(&tenant), &key).await?,
    ))
}

/// Users of a tenant, optionally filtered with a SCIM filter.
#[utoipa::path(
    get, path = "/admin/v1/tenants/{tenant}/users", tag = "users",
    description = "The tenant's users, as SCIM provisioned them (read only).",
    params(TenantPath, UsersQuery),
    responses((status = 200, body = UserList), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
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
    Ok(ok(StatusCode::OK, &page))
}

#[utoipa::path(
    get, path = "/admin/v1/tenants/{tenant}/log", tag = "log",
    description = "The newest entries of the tenant's provisioning log, newest first (at most 1000).",
    params(TenantPath, LogQuery),
    responses((status = 200, body = Vec<LogEntry>), (status = 404, response = NotFound))
)]
async fn provisioning_log(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let limit = query_number(&query, "limit", 100u32, u32::MAX)?;
    Ok(ok(
        StatusCode::OK,
        &state.service().provisioning_log(&tenant, limit).await?,
    ))
}

#[utoipa::path(
    get, path = "/admin/v1/events", tag = "events",
    description = "Events after a sequence number, in order (at most 1000).",
    params(EventsQuery),
    responses((status = 200, body = Vec<Event>), (status = 404, response = NotFound))
)]
async fn events(
    State(state): State<AppState>,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let tenant: Option<TenantId> = query_value(&query, "tenant")
        .map(|t| id(t.to_owned(), "tenant"))
        .transpose()?;
    let after = query_number(&query, "after", 0i64, MAX_POSITION)?;
    let limit = query_number(&query, "limit", 100u32, u32::MAX)?;
    Ok(ok(
        StatusCode::OK,
        &state
            .service()
            .events(tenant.as_ref(), after, limit)
            .await?,
    ))
}
