//! `/Groups`: groups are created by an administrator; SCIM clients match
//! them by externalId and manage their names and members.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimitar_core::CoreError;
use scimitar_core::ids::{GroupId, TenantId};
use scimitar_core::model::{Group, GroupChange};
use scimitar_proto::patch::{MemberOp, apply, parse_patch};
use scimitar_proto::projection::Projection;
use scimitar_proto::resource::{MemberRef, parse_group, render_group};
use scimitar_proto::schema::GROUP;
use serde_json::Value;

use super::{
    RETRIES, base_url, check_if_match, if_match, list_request, meta, not_modified, projection,
    resource_id, resource_response, search_query,
};
use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
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
                        id: m.user_id.0,
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
        .get_group(&tenant, &GroupId(resource_id(&GROUP, id)?))
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

pub async fn create() -> ApiError {
    ApiError::new(
        403,
        None,
        "groups are created by an administrator of this service, not by SCIM: create the group \
         in the admin panel and set its externalId (Group ID) to your identity provider's group \
         id (objectId in Entra ID), then provisioning will match it",
    )
}

pub async fn replace(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let parsed = parse_group(&body)?;
    let input = parsed.value;
    let id = GroupId(resource_id(&GROUP, id)?);
    let pre = if_match(&headers);
    let current = state.store().get_group(&tenant, &id).await?;
    check_if_match(pre.as_ref(), current.stamp.version)?;
    let change = GroupChange {
        display_name: Some(input.display_name),
        // An absent externalId keeps the one the administrator set: it is
        // what the identity provider matches the group by.
        external_id: input.external_id.map(Some),
        members: input.members.map(MemberOp::Replace).into_iter().collect(),
    };
    let expected = pre.as_ref().map(|_| current.stamp.version);
    let group = state
        .store()
        .change_group_scim(&tenant, &id, change, expected)
        .await?;
    let base = base_url(&state, &headers);
    let body = render(&state, &tenant, &base, std::slice::from_ref(&group), None)
        .await?
        .remove(0);
    Ok(resource_response(
        StatusCode::OK,
        &body,
        &group.stamp,
        parsed.ignored,
    ))
}

pub async fn patch(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let request = parse_patch(&body)?;
    let id = GroupId(resource_id(&GROUP, id)?);
    let pre = if_match(&headers);
    let base = base_url(&state, &headers);
    let store = state.store();
    for _ in 0..RETRIES {
        let current = store.get_group(&tenant, &id).await?;
        check_if_match(pre.as_ref(), current.stamp.version)?;
        let mut resource = render_group(
            &base,
            id.as_str(),
            &current.display_name,
            current.external_id.as_deref(),
            None,
            &meta(&current.stamp),
        );
        let outcome = apply(&GROUP, &mut resource, &request)?;
        let after = parse_group(&resource)?.value;
        let change = GroupChange {
            display_name: (after.display_name != current.display_name)
                .then_some(after.display_name),
            external_id: (after.external_id != current.external_id).then_some(after.external_id),
            members: outcome.members,
        };
        // Member operations commute with concurrent writers; attribute
        // changes were computed from `current`, so they must find it.
        let needs_version = change.display_name.is_some() || change.external_id.is_some();
        let expected = (pre.is_some() || needs_version).then_some(current.stamp.version);
        match store
            .change_group_scim(&tenant, &id, change, expected)
            .await
        {
            Ok(group) => {
                let mut response = resource_response(
                    StatusCode::NO_CONTENT,
                    &Value::Null,
                    &group.stamp,
                    outcome.ignored,
                );
                *response.body_mut() = axum::body::Body::empty();
                response
                    .headers_mut()
                    .remove(axum::http::header::CONTENT_TYPE);
                return Ok(response);
            }
            Err(CoreError::VersionMismatch) if pre.is_none() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::new(
        409,
        None,
        "the group is being changed by other requests at the same time; retry",
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let pre = if_match(&headers);
    let id = GroupId(resource_id(&GROUP, id)?);
    let expected = match &pre {
        Some(p) => {
            let current = state.store().get_group(&tenant, &id).await?;
            check_if_match(Some(p), current.stamp.version)?;
            Some(current.stamp.version)
        }
        None => None,
    };
    state.store().delete_group(&tenant, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}
