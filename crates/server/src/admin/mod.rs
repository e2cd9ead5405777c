//! The admin REST API: what the CLI does, over HTTP, behind the operator
//! token. Tenants, subaccounts, groups, API keys; users, the provisioning
//! log and events to read; webhook endpoints (`webhooks.rs`).

mod webhooks;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use scimitar_core::domain::{IssuedApiKey, UserList};
use scimitar_core::ids::{ApiKeyId, GroupId, SubaccountId, TenantId, UserId};
use scimitar_core::model::{
    ApiKey, Collision, DeactivatedMemberships, Deprovision, Event, Group, GroupAdminChange,
    GroupCreation, ListQuery, LogEntry, NewGroup, PolicyChange, Subaccount, Tenant, UserNameFormat,
};
use scimitar_proto::ScimError;
use scimitar_proto::resource::{MAX_STRING_CHARS, check_string};
use scimitar_proto::schema::USER;
use serde::Deserialize;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api_doc::{
    AdminApi, CollisionsQuery, Conflict, EventsQuery, GroupPath, KeyPath, LogQuery, NotFound,
    Refused, SubaccountPath, TenantPath, UserPath, UsersQuery,
};
use crate::auth::{Scope, require_token};
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::{Body, QueryPairs, field, known_id, query_number, query_value};

/// The admin API's routes, with their part of the OpenAPI document.
pub fn routes(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(AdminApi::openapi())
        .routes(routes!(list_tenants, create_tenant))
        .routes(routes!(get_tenant))
        .routes(routes!(set_policy))
        .routes(routes!(list_subaccounts, create_subaccount))
        .routes(routes!(change_subaccount))
        .routes(routes!(create_portal_link))
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, change_group, delete_group))
        .routes(routes!(list_api_keys, create_api_key))
        .routes(routes!(revoke_api_key))
        .routes(routes!(list_users))
        .routes(routes!(provisioning_log))
        .routes(routes!(events))
        .routes(routes!(list_collisions))
        .routes(routes!(release_collision))
        .merge(webhooks::routes())
        .route_layer(middleware::from_fn_with_state(
            (state, Scope::Admin),
            require_token,
        ))
}

/// An id from a path or a body: 404 unless it can be one of ours
/// ([`known_id`]).
fn id<T: From<String>>(raw: String, what: &str) -> Result<T, ApiError> {
    known_id(raw).ok_or_else(|| ApiError::not_found(format!("no such {what}")))
}

/// An optional id in a body: a text with a control character is refused
/// as any such text is (400); another that cannot be ours names nothing
/// (404).
fn body_id<T: From<String>>(name: &str, raw: Option<String>, what: &str) -> ApiResult<Option<T>> {
    raw.map(|raw| {
        check_string(name, &raw, MAX_STRING_CHARS)?;
        id(raw, what)
    })
    .transpose()
}

/// Body of `POST /admin/v1/tenants`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewTenant {
    /// Required; at most 256 characters, no control characters.
    #[serde(default, deserialize_with = "field::text")]
    #[schema(value_type = String, required = true)]
    name: Option<String>,
    #[serde(default, deserialize_with = "field::text")]
    region: Option<String>,
}

/// Body of `POST /admin/v1/tenants/{tenant}/subaccounts`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewSubaccount {
    #[serde(default, deserialize_with = "field::text")]
    #[schema(value_type = String, required = true)]
    name: Option<String>,
    /// A subaccount of the same tenant; absent for the tenant root.
    #[serde(default, deserialize_with = "field::text")]
    parent_id: Option<String>,
}

/// Body of `PATCH /admin/v1/tenants/{tenant}/subaccounts/{subaccount}`:
/// an absent field is unchanged; `parentId: null` moves the subaccount to
/// the tenant root.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SubaccountChangeBody {
    #[serde(default, deserialize_with = "field::string")]
    name: Option<String>,
    #[serde(default, deserialize_with = "field::change")]
    #[schema(value_type = Option<String>)]
    parent_id: Option<Option<String>>,
}

/// Body of `PATCH /admin/v1/tenants/{tenant}/policy`: the policies to
/// change; the others stay.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PolicyBody {
    /// `admin` (`POST /Groups` is refused) or `scim` (the identity provider
    /// creates groups).
    #[serde(default, deserialize_with = "field::string")]
    group_creation: Option<String>,
    /// Where groups that SCIM creates are placed; `null`: the tenant root.
    #[serde(default, deserialize_with = "field::change")]
    #[schema(value_type = Option<String>)]
    group_subaccount_id: Option<Option<String>>,
    /// What `active: false` does: `delete` (the user goes, as the guide
    /// says) or `deactivate` (the user stays, inactive).
    #[serde(default, deserialize_with = "field::string")]
    deprovision: Option<String>,
    /// What becomes of a deactivated user's memberships: `keep` or `drop`.
    #[serde(default, deserialize_with = "field::string")]
    deactivated_memberships: Option<String>,
    /// What a userName is: `email` (an email address, which is the user's
    /// email, as the guide says) or `any` (any string; emails are the
    /// client's).
    #[serde(default, deserialize_with = "field::string")]
    user_name_format: Option<String>,
    /// The domains the operator confirmed are the tenant's (`["a.com"]`):
    /// its userNames must be at one of them, and no other tenant's may
    /// be; `"any"`: any domain no other tenant confirmed.
    #[serde(default, deserialize_with = "field::domains")]
    #[schema(value_type = Option<Object>)]
    user_name_domains: Option<Vec<String>>,
}

/// Body of `POST /admin/v1/tenants/{tenant}/portal-links`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewPortalLink {
    /// Seconds the link may wait to be opened (1 to 86,400); the server's
    /// `--portal-link-ttl-secs` when absent.
    #[serde(default)]
    ttl_secs: Option<u64>,
}

/// A portal link: the address that signs a customer's administrator in
/// to their tenant's panel, once.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct PortalLinkBody {
    /// Open this (redirect the administrator's browser to it); it works
    /// once.
    url: String,
    /// When the link stops working if unused.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// Longest a portal link may be asked to live.
const MAX_PORTAL_LINK_SECS: u64 = 24 * 3600;

/// Body of `POST /admin/v1/tenants/{tenant}/groups`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewGroupBody {
    #[serde(default, deserialize_with = "field::text")]
    #[schema(value_type = String, required = true)]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "field::text")]
    subaccount_id: Option<String>,
    /// The identity provider's group id (Entra's objectId).
    #[serde(default, deserialize_with = "field::text")]
    external_id: Option<String>,
}

/// Body of `PATCH /admin/v1/tenants/{tenant}/groups/{group}`: an absent
/// field is unchanged, `null` clears it (`subaccountId: null` moves the
/// group to the tenant root); the name cannot be cleared.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct GroupChangeBody {
    #[serde(default, deserialize_with = "field::string")]
    display_name: Option<String>,
    #[serde(default, deserialize_with = "field::change")]
    #[schema(value_type = Option<String>)]
    subaccount_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "field::change")]
    #[schema(value_type = Option<String>)]
    external_id: Option<Option<String>>,
}

/// Body of `POST /admin/v1/tenants/{tenant}/apikeys`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewApiKey {
    #[serde(default, deserialize_with = "field::text")]
    label: Option<String>,
}

/// The largest offset or sequence number asked for.
const MAX_POSITION: i64 = i64::MAX / 2;

#[utoipa::path(
    get, path = "/admin/v1/tenants", tag = "tenants",
    description = "Every tenant, oldest first.",
    responses((status = 200, body = Vec<Tenant>))
)]
async fn list_tenants(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(scim_json(
        StatusCode::OK,
        &state.service().list_tenants().await?,
    ))
}

#[utoipa::path(
    post, path = "/admin/v1/tenants", tag = "tenants",
    description = "Creates a tenant (a customer account).",
    request_body = NewTenant,
    responses((status = 201, body = Tenant), (status = 400, response = Refused))
)]
async fn create_tenant(
    State(state): State<AppState>,
    Body(body): Body<NewTenant>,
) -> ApiResult<Response> {
    let tenant = state
        .service()
        .create_tenant(&body.name.unwrap_or_default(), body.region.as_deref())
        .await?;
    Ok(scim_json(StatusCode::CREATED, &tenant))
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
    Ok(scim_json(
        StatusCode::OK,
        &state.service().get_tenant(&tenant).await?,
    ))
}

#[utoipa::path(
    patch, path = "/admin/v1/tenants/{tenant}/policy", tag = "tenants",
    description = "Changes the tenant's provisioning policies (each change is a \
                   `tenant.policy_changed` event); answers the tenant with its `policy`.",
    params(TenantPath),
    request_body = PolicyBody,
    responses((status = 200, body = Tenant), (status = 400, response = Refused), (status = 404, response = NotFound),
        (status = 409, response = Conflict))
)]
async fn set_policy(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Body(body): Body<PolicyBody>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let change = PolicyChange {
        group_creation: body
            .group_creation
            .map(|raw| GroupCreation::from_field("groupCreation", &raw))
            .transpose()?,
        group_subaccount_id: body
            .group_subaccount_id
            .map(|s| body_id("groupSubaccountId", s, "subaccount"))
            .transpose()?,
        deprovision: body
            .deprovision
            .map(|raw| Deprovision::from_field("deprovision", &raw))
            .transpose()?,
        deactivated_memberships: body
            .deactivated_memberships
            .map(|raw| DeactivatedMemberships::from_field("deactivatedMemberships", &raw))
            .transpose()?,
        user_name_format: body
            .user_name_format
            .map(|raw| UserNameFormat::from_field("userNameFormat", &raw))
            .transpose()?,
        user_name_domains: body.user_name_domains,
    };
    Ok(scim_json(
        StatusCode::OK,
        &state.service().set_policy(&tenant, change).await?,
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
    Ok(scim_json(
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
    Body(body): Body<NewSubaccount>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let parent: Option<SubaccountId> = body_id("parentId", body.parent_id, "parent subaccount")?;
    let sub = state
        .service()
        .create_subaccount(&tenant, &body.name.unwrap_or_default(), parent.as_ref())
        .await?;
    Ok(scim_json(StatusCode::CREATED, &sub))
}

#[utoipa::path(
    patch, path = "/admin/v1/tenants/{tenant}/subaccounts/{subaccount}", tag = "subaccounts",
    description = "Renames a subaccount, or moves it under another (`parentId`, `null` for the \
                   root); never under itself or one of its own subaccounts.",
    params(SubaccountPath),
    request_body = SubaccountChangeBody,
    responses((status = 200, body = Subaccount), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
async fn change_subaccount(
    State(state): State<AppState>,
    Path((tenant, sub)): Path<(String, String)>,
    Body(body): Body<SubaccountChangeBody>,
) -> ApiResult<Response> {
    let (tenant, sub): (TenantId, SubaccountId) = (id(tenant, "tenant")?, id(sub, "subaccount")?);
    let parent = body
        .parent_id
        .map(|p| body_id("parentId", p, "parent subaccount"))
        .transpose()?;
    let changed = state
        .service()
        .change_subaccount(&tenant, &sub, body.name.as_deref(), parent)
        .await?;
    Ok(scim_json(StatusCode::OK, &changed))
}

#[utoipa::path(
    post, path = "/admin/v1/tenants/{tenant}/portal-links", tag = "tenants",
    description = "A single-use link that signs a customer's administrator in to this tenant's \
                   admin panel (and nothing else); it expires unused after `ttlSecs` (default: \
                   the server's --portal-link-ttl-secs, 5 minutes).",
    params(TenantPath),
    request_body = NewPortalLink,
    responses((status = 201, body = PortalLinkBody), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
async fn create_portal_link(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
    Body(body): Body<NewPortalLink>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let ttl = match body.ttl_secs {
        None => state.config().portal_link_ttl,
        Some(secs @ 1..=MAX_PORTAL_LINK_SECS) => std::time::Duration::from_secs(secs),
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "'ttlSecs' must be from 1 to {MAX_PORTAL_LINK_SECS}"
            ))
            .into());
        }
    };
    let link = state.service().create_portal_link(&tenant, ttl).await?;
    let origin = crate::scim::public_origin(&state, &headers);
    Ok(scim_json(
        StatusCode::CREATED,
        &PortalLinkBody {
            url: format!("{origin}/admin/portal/{}", link.token),
            expires_at: scimitar_proto::datetime::format(link.expires),
        },
    ))
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
    Ok(scim_json(
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
    Body(body): Body<NewGroupBody>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let group = NewGroup {
        display_name: body.display_name.unwrap_or_default(),
        subaccount_id: body_id("subaccountId", body.subaccount_id, "subaccount")?,
        external_id: body.external_id,
        members: Vec::new(),
    };
    let group = state.service().create_group(&tenant, group).await?;
    Ok(scim_json(StatusCode::CREATED, &group))
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
    Ok(scim_json(StatusCode::OK, &group))
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
    Body(body): Body<GroupChangeBody>,
) -> ApiResult<Response> {
    let (tenant, group): (TenantId, GroupId) = (id(tenant, "tenant")?, id(group, "group")?);
    let change = GroupAdminChange {
        display_name: body.display_name,
        external_id: body.external_id,
        subaccount_id: body
            .subaccount_id
            .map(|s| body_id("subaccountId", s, "subaccount"))
            .transpose()?,
    };
    let changed = state
        .service()
        .change_group(Some(&tenant), &group, change)
        .await?;
    Ok(scim_json(StatusCode::OK, &changed))
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
    Ok(scim_json(
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
    Body(body): Body<NewApiKey>,
) -> ApiResult<Response> {
    let tenant: TenantId = id(tenant, "tenant")?;
    let issued = state
        .service()
        .issue_api_key(&tenant, body.label.as_deref())
        .await?;
    Ok(scim_json(StatusCode::CREATED, &issued))
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
    Ok(scim_json(
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
    Ok(scim_json(StatusCode::OK, &page))
}

#[utoipa::path(
    get, path = "/admin/v1/collisions", tag = "users",
    description = "Users whose userName is at a domain another tenant confirmed (its \
                   `userNameDomains`): created before the domain was confirmed, they hold \
                   addresses that tenant's identity provider cannot create. By domain, \
                   tenant and userName.",
    params(CollisionsQuery),
    responses((status = 200, body = Vec<Collision>), (status = 400, response = Refused))
)]
async fn list_collisions(
    State(state): State<AppState>,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let limit = query_number(&query, "limit", 100u32, u32::MAX)?;
    let domain = query_value(&query, "domain").filter(|d| !d.trim().is_empty());
    Ok(scim_json(
        StatusCode::OK,
        &state.service().list_collisions(domain, limit).await?,
    ))
}

#[utoipa::path(
    delete, path = "/admin/v1/collisions/{user}", tag = "users",
    description = "Resolves a collision: the user is deleted from the tenant it is in, with \
                   its memberships and sessions (a `user.deprovisioned` event there), so the \
                   domain's tenant can provision the address. Answers what the collision was; \
                   404 when the user is not one.",
    params(UserPath),
    responses((status = 200, body = Collision), (status = 404, response = NotFound))
)]
async fn release_collision(
    State(state): State<AppState>,
    Path(user): Path<String>,
) -> ApiResult<Response> {
    let user: UserId = id(user, "collision")?;
    Ok(scim_json(
        StatusCode::OK,
        &state.service().release_collision(&user).await?,
    ))
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
    Ok(scim_json(
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
    Ok(scim_json(
        StatusCode::OK,
        &state
            .service()
            .events(tenant.as_ref(), after, limit)
            .await?,
    ))
}
