//! `/Users`: users are created, changed and deprovisioned only by SCIM.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimitar_core::domain::Written;
use scimitar_core::ids::{TenantId, UserId};
use scimitar_core::model::{Membership, User};
use scimitar_proto::patch::parse_patch;
use scimitar_proto::projection::Projection;
use scimitar_proto::resource::{GroupRef, parse_user_as, render_user};
use scimitar_proto::schema::USER;
use serde_json::Value;

use super::{
    base_url, if_match, list_request, meta, not_modified, projection, resource_id,
    resource_response, search_query,
};
use crate::AppState;
use crate::auth::Tenant;
use crate::error::ApiResult;
use crate::extract::{QueryPairs, ScimJson};

/// Renders users, loading their groups only when they are to be returned.
async fn render(
    state: &AppState,
    tenant: &TenantId,
    base: &str,
    users: &[User],
    projection: Option<&Projection>,
) -> ApiResult<Vec<Value>> {
    let want_groups = projection.is_none_or(|p| p.includes("groups"));
    let groups = if want_groups {
        let ids: Vec<UserId> = users.iter().map(|u| u.id.clone()).collect();
        Some(state.store().groups_of(tenant, &ids).await?)
    } else {
        None
    };
    Ok(render_with(base, users, groups, projection))
}

/// Renders users whose groups were read (`None`: not asked for).
fn render_with(
    base: &str,
    users: &[User],
    mut groups: Option<HashMap<UserId, Vec<Membership>>>,
    projection: Option<&Projection>,
) -> Vec<Value> {
    users
        .iter()
        .map(|user| {
            let refs: Option<Vec<GroupRef>> = groups.as_mut().map(|groups| {
                groups
                    .remove(&user.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| GroupRef {
                        id: m.group_id.into(),
                        display: m.display,
                    })
                    .collect()
            });
            let mut body = render_user(
                base,
                user.id.as_str(),
                &user.attrs,
                &meta(&user.stamp),
                refs.as_deref(),
            );
            if let Some(p) = projection {
                p.apply(&mut body);
            }
            body
        })
        .collect()
}

pub async fn list(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let list = list_request(&state, &USER, &query)?;
    let page = state.store().list_users(&tenant, &list.query).await?;
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
    let projection = projection(&USER, &query)?;
    let id = resource_id(&USER, id)?;
    let (user, groups) = if projection.includes("groups") {
        let (user, groups) = state.store().get_user_with_groups(&tenant, &id).await?;
        (user, Some(HashMap::from([(id, groups)])))
    } else {
        (state.store().get_user(&tenant, &id).await?, None)
    };
    if let Some(response) = not_modified(&headers, &user.stamp) {
        return Ok(response);
    }
    let base = base_url(&state, &headers);
    let body = render_with(
        &base,
        std::slice::from_ref(&user),
        groups,
        Some(&projection),
    )
    .remove(0);
    Ok(resource_response(
        StatusCode::OK,
        &body,
        &user.stamp,
        Vec::new(),
    ))
}

pub async fn create(
    State(state): State<AppState>,
    tenant: Tenant,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let parsed = parse_user_as(state.service().user_schema(&tenant).await?, &body)?;
    let user = state.service().create_user(&tenant, parsed.value).await?;
    let base = base_url(&state, &headers);
    let body = render_user(
        &base,
        user.id.as_str(),
        &user.attrs,
        &meta(&user.stamp),
        Some(&[]),
    );
    Ok(resource_response(
        StatusCode::CREATED,
        &body,
        &user.stamp,
        parsed.ignored,
    ))
}

pub async fn replace(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let parsed = parse_user_as(state.service().user_schema(&tenant).await?, &body)?;
    let id: UserId = resource_id(&USER, id)?;
    let written = state
        .service()
        .replace_user(&tenant, &id, &parsed.value, if_match(&headers).as_ref())
        .await?;
    respond(&state, &tenant, &headers, written, parsed.ignored).await
}

pub async fn patch(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let request = parse_patch(&body)?;
    let id: UserId = resource_id(&USER, id)?;
    let (written, ignored) = state
        .service()
        .patch_user(&tenant, &id, &request, if_match(&headers).as_ref())
        .await?;
    respond(&state, &tenant, &headers, written, ignored).await
}

pub async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let id: UserId = resource_id(&USER, id)?;
    state
        .service()
        .delete_user(&tenant, &id, if_match(&headers).as_ref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The 200 of a PUT or PATCH: the user as a GET would show it now (groups
/// included, which clients such as Okta read back), or its last state,
/// inactive, when it was deprovisioned.
async fn respond(
    state: &AppState,
    tenant: &TenantId,
    headers: &HeaderMap,
    written: Written,
    ignored: Vec<String>,
) -> ApiResult<Response> {
    let base = base_url(state, headers);
    let (body, stamp) = match written {
        Written::Kept(user) => {
            let body = render(state, tenant, &base, std::slice::from_ref(&user), None)
                .await?
                .remove(0);
            (body, user.stamp)
        }
        Written::Deprovisioned(user) => {
            let mut body = render_user(
                &base,
                user.id.as_str(),
                &user.attrs,
                &meta(&user.stamp),
                Some(&[]),
            );
            body["active"] = Value::Bool(false);
            (body, user.stamp)
        }
    };
    Ok(resource_response(StatusCode::OK, &body, &stamp, ignored))
}
