//! `/Users`: users are created, changed and deprovisioned only by SCIM.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use scimitar_core::CoreError;
use scimitar_core::ids::{TenantId, UserId};
use scimitar_core::model::User;
use scimitar_proto::ScimError;
use scimitar_proto::patch::{apply, parse_patch};
use scimitar_proto::projection::Projection;
use scimitar_proto::resource::{GroupRef, parse_user, render_user};
use scimitar_proto::schema::USER;
use serde_json::Value;

use super::{
    RETRIES, base_url, check_if_match, if_match, list_request, meta, not_modified, projection,
    resource_id, resource_response, search_query,
};
use crate::AppState;
use crate::auth::Tenant;
use crate::error::{ApiError, ApiResult};
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
    let mut groups = if want_groups {
        let ids: Vec<UserId> = users.iter().map(|u| u.id.clone()).collect();
        state.store().groups_of(tenant, &ids).await?
    } else {
        Default::default()
    };
    Ok(users
        .iter()
        .map(|user| {
            let refs: Option<Vec<GroupRef>> = want_groups.then(|| {
                groups
                    .remove(&user.id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| GroupRef {
                        id: m.group_id.0,
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
        .collect())
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
    let user = state
        .store()
        .get_user(&tenant, &UserId(resource_id(&USER, id)?))
        .await?;
    if let Some(response) = not_modified(&headers, &user.stamp) {
        return Ok(response);
    }
    let base = base_url(&state, &headers);
    let body = render(
        &state,
        &tenant,
        &base,
        std::slice::from_ref(&user),
        Some(&projection),
    )
    .await?
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
    let parsed = parse_user(&body)?;
    if !parsed.value.active {
        return Err(ScimError::invalid_value(
            "a user cannot be created inactive: 'active' false means deprovisioned, so nothing \
             was created",
        )
        .into());
    }
    let user = state
        .store()
        .create_user(&tenant, parsed.value.attrs)
        .await?;
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

/// The representation of a user that has just been deprovisioned: its last
/// state, inactive.
fn deprovisioned(base: &str, user: &User) -> Value {
    let mut body = render_user(
        base,
        user.id.as_str(),
        &user.attrs,
        &meta(&user.stamp),
        Some(&[]),
    );
    body["active"] = Value::Bool(false);
    body
}

pub async fn replace(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let parsed = parse_user(&body)?;
    let id = UserId(resource_id(&USER, id)?);
    let pre = if_match(&headers);
    let store = state.store();
    for _ in 0..RETRIES {
        let current = store.get_user(&tenant, &id).await?;
        check_if_match(pre.as_ref(), current.stamp.version)?;
        let version = Some(current.stamp.version);
        let result = if parsed.value.active {
            store
                .replace_user(&tenant, &id, parsed.value.attrs.clone(), version)
                .await
                .map(Outcome::Kept)
        } else {
            store
                .deprovision_user(&tenant, &id, version)
                .await
                .map(|()| Outcome::Deprovisioned(current))
        };
        match result {
            Ok(outcome) => {
                return respond(&state, &tenant, &headers, outcome, parsed.ignored).await;
            }
            Err(CoreError::VersionMismatch) if pre.is_none() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(busy())
}

/// What a PUT or PATCH left behind.
enum Outcome {
    /// The user as stored now.
    Kept(User),
    /// The user's last state before it was deprovisioned.
    Deprovisioned(User),
}

/// The 200 of a PUT or PATCH: the user as a GET would show it now (groups
/// included, which clients such as Okta read back), or its last state,
/// inactive, when it was deprovisioned.
async fn respond(
    state: &AppState,
    tenant: &TenantId,
    headers: &HeaderMap,
    outcome: Outcome,
    ignored: Vec<String>,
) -> ApiResult<Response> {
    let base = base_url(state, headers);
    let (body, stamp) = match outcome {
        Outcome::Kept(user) => {
            let body = render(state, tenant, &base, std::slice::from_ref(&user), None)
                .await?
                .remove(0);
            (body, user.stamp)
        }
        Outcome::Deprovisioned(user) => (deprovisioned(&base, &user), user.stamp),
    };
    Ok(resource_response(StatusCode::OK, &body, &stamp, ignored))
}

fn busy() -> ApiError {
    ApiError::new(
        409,
        None,
        "the resource is being changed by other requests at the same time; retry",
    )
}

pub async fn patch(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let request = parse_patch(&body)?;
    let id = UserId(resource_id(&USER, id)?);
    let pre = if_match(&headers);
    let base = base_url(&state, &headers);
    let store = state.store();
    for _ in 0..RETRIES {
        let current = store.get_user(&tenant, &id).await?;
        check_if_match(pre.as_ref(), current.stamp.version)?;
        // The engine works on the client view; groups are read-only and
        // not loaded, so a PATCH cannot touch them.
        let mut resource = render_user(
            &base,
            id.as_str(),
            &current.attrs,
            &meta(&current.stamp),
            None,
        );
        let outcome = apply(&USER, &mut resource, &request)?;
        let input = parse_user(&resource)?.value;
        let version = Some(current.stamp.version);
        let result = if !input.active {
            store
                .deprovision_user(&tenant, &id, version)
                .await
                .map(|()| Outcome::Deprovisioned(current))
        } else if input.attrs == current.attrs {
            // Nothing changed: no write, no new version.
            Ok(Outcome::Kept(current))
        } else {
            store
                .replace_user(&tenant, &id, input.attrs, version)
                .await
                .map(Outcome::Kept)
        };
        match result {
            Ok(result) => {
                return respond(&state, &tenant, &headers, result, outcome.ignored).await;
            }
            Err(CoreError::VersionMismatch) if pre.is_none() => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(busy())
}

pub async fn delete(
    State(state): State<AppState>,
    tenant: Tenant,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let pre = if_match(&headers);
    let id = UserId(resource_id(&USER, id)?);
    let expected = match &pre {
        Some(p) => {
            let current = state.store().get_user(&tenant, &id).await?;
            check_if_match(Some(p), current.stamp.version)?;
            Some(current.stamp.version)
        }
        None => None,
    };
    state
        .store()
        .deprovision_user(&tenant, &id, expected)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
