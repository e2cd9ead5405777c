//! `/Groups`: groups are created by an administrator (or by SCIM, where
//! the tenant's policy says so); SCIM clients match them by externalId and
//! manage their names and members.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimitar_core::ids::{GroupId, TenantId};
use scimitar_core::model::Group;
use scimitar_proto::patch::parse_patch;
use scimitar_proto::projection::Projection;
use scimitar_proto::resource::{MemberRef, parse_group, render_group};
use scimitar_proto::schema::GROUP;
use serde_json::Value;

use super::{
    base_url, if_match, list_request, meta, not_modified, projection, resource_id,
    resource_response, search_query,
};
use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::extract::{QueryPairs, ScimJson};

/// Renders groups, loading members only when they are to be returned, so
/// `excludedAttributes=members` never touches the membership table.
async fn render(
    state: &AppState,
    tenant: &TenantId,
    base: &str,
    groups: &[Group],
    projection: Option<&Projection>,
) -> ApiResult<Vec<Value>> {
    let want_members = projection.is_none_or(|p| p.includes("members"));
    let mut members = if want_members {
        let ids: Vec<GroupId> = groups.iter().map(|g| g.id.clone()).collect();
        state.store().members_of(tenant, &ids).await?
    } else {
        Default::default()
    };
    Ok(groups
        .iter()
        .map(|group| {
            let refs: Option<Vec<MemberRef>> = want_members.then(|| {
                members
                    .remove(&group.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| MemberRef {
                        id: m.user_id.into(),
                        display: m.display,
                    })
                    .collect()
            });
            let mut body = render_group(
                base,
                group.id.as_str(),
                &group.display_name,
                group.external_id.as_deref(),
                refs.as_deref(),
                &meta(&group.stamp),
            );
            if let Some(p) = projection {
                p.apply(&mut body);
            }
            body
        })
        .collect())
}

pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let list = list_request(&state, &GROUP, &query)?;
    let page = state.store().list_groups(&tenant, &list.query).await?;
    let base = base_url(&state, &headers);
    let resources = render(&state, &tenant, &base, &page.items, Some(&list.projection)).await?;
    Ok(list.respond(page.total, resources))
}

/// `POST /.search`: the same query as a `GET`, with its parameters in the body.
pub async fn search(
    state: State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let query = search_query(&body)?;
    list(state, tenant, headers, QueryPairs(query)).await
}

pub async fn get(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let projection = projection(&GROUP, &query)?;
    let group = state
        .store()
        .get_group(&tenant, &resource_id(&GROUP, id)?)
        .await?;
    if let Some(response) = not_modified(&headers, &group.stamp) {
        return Ok(response);
    }
    let base = base_url(&state, &headers);
    let body = render(
        &state,
        &tenant,
        &base,
        std::slice::from_ref(&group),
        Some(&projection),
    )
    .await?
    .remove(0);
    Ok(resource_response(
        StatusCode::OK,
        &body,
        &group.stamp,
        Vec::new(),
    ))
}

/// The answer to a POST or PUT: the whole group as stored, members
/// included.
async fn written(
    state: &AppState,
    tenant: &TenantId,
    headers: &HeaderMap,
    group: &Group,
    status: StatusCode,
    ignored: Vec<String>,
) -> ApiResult<Response> {
    let base = base_url(state, headers);
    let body = render(state, tenant, &base, std::slice::from_ref(group), None)
        .await?
        .remove(0);
    Ok(resource_response(status, &body, &group.stamp, ignored))
}

/// `POST /Groups`: 403 unless the tenant's policy lets the identity
/// provider create groups.
pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let parsed = parse_group(&body)?;
    let group = state
        .service()
        .create_group_scim(&tenant, parsed.value)
        .await?;
    written(
        &state,
        &tenant,
        &headers,
        &group,
        StatusCode::CREATED,
        parsed.ignored,
    )
    .await
}

pub async fn replace(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let parsed = parse_group(&body)?;
    let id: GroupId = resource_id(&GROUP, id)?;
    let group = state
        .service()
        .replace_group(&tenant, &id, parsed.value, if_match(&headers).as_ref())
        .await?;
    written(
        &state,
        &tenant,
        &headers,
        &group,
        StatusCode::OK,
        parsed.ignored,
    )
    .await
}

/// 204 (Entra's advice: no member list per change), with the new ETag.
pub async fn patch(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let request = parse_patch(&body)?;
    let id: GroupId = resource_id(&GROUP, id)?;
    let (group, ignored) = state
        .service()
        .patch_group(&tenant, &id, &request, if_match(&headers).as_ref())
        .await?;
    let mut response =
        resource_response(StatusCode::NO_CONTENT, &Value::Null, &group.stamp, ignored);
    *response.body_mut() = axum::body::Body::empty();
    response
        .headers_mut()
        .remove(axum::http::header::CONTENT_TYPE);
    Ok(response)
}

pub async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id: GroupId = resource_id(&GROUP, id)?;
    state
        .service()
        .delete_group(&tenant, &id, if_match(&headers).as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
