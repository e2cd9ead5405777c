//! Discovery (RFC 7644 §4), rendered from the same definitions the parser
//! and PATCH engine enforce. Open without a key: it holds no tenant data.
//! With a tenant's key, `/Schemas` and `/ResourceTypes` describe that
//! tenant's policies (who creates groups, what `active: false` does, what
//! a userName is: the User schema itself differs there; at which domains);
//! without one, or with a key that is not live, the defaults.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use scimitar_core::model::{DeactivatedMemberships, Deprovision, GroupCreation, Policy};
use scimitar_proto::schema::{GROUP_SCHEMA, GROUP_SCHEMA_URN, USER_SCHEMA_URN};
use scimitar_proto::wire;
use serde_json::Value;

use super::base_url;
use crate::AppState;
use crate::error::{ApiError, ApiResult, scim_json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/ServiceProviderConfig", get(service_provider_config))
        .route("/ResourceTypes", get(resource_types))
        .route("/ResourceTypes/{id}", get(resource_type))
        .route("/Schemas", get(schemas))
        .route("/Schemas/{id}", get(schema))
}

async fn service_provider_config(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let base = base_url(&state, &headers);
    scim_json(
        StatusCode::OK,
        &wire::service_provider_config(&base, state.config().max_page_size),
    )
}

/// The policies of the tenant whose live key the request carries; the
/// defaults without one.
async fn policy(state: &AppState, headers: &HeaderMap) -> Policy {
    let Some(secret) = crate::auth::bearer(headers) else {
        return Policy::default();
    };
    match state.service().authenticate(secret).await {
        Ok(Some(credential)) => state
            .service()
            .policy(&credential.tenant)
            .await
            .unwrap_or_default(),
        _ => Policy::default(),
    }
}

/// Who creates groups, in the Group schema's and resource type's words
/// (the schema's default is the static one).
fn group_descriptions(policy: &Policy) -> (&'static str, &'static str) {
    match policy.group_creation {
        GroupCreation::Admin => (
            GROUP_SCHEMA.description,
            "Group, created by an administrator; POST /Groups is refused",
        ),
        GroupCreation::Scim => (
            "Group. Created by the identity provider (POST /Groups) or by an administrator; \
             matched by externalId, its name and members managed by the identity provider.",
            "Group, created by the identity provider or an administrator",
        ),
    }
}

/// What `active: false` does, in the words of the User schema's `active`
/// (the default is the static one).
fn active_description(policy: &Policy) -> Option<&'static str> {
    match (policy.deprovision, policy.deactivated_memberships) {
        (Deprovision::Delete, _) => None,
        (Deprovision::Deactivate, DeactivatedMemberships::Keep) => Some(
            "false deactivates the user: it stays, with its groups, and its sessions end; true \
             re-activates it with the same id. Unassigned (removed) means not deactivated. \
             DELETE deletes the user.",
        ),
        (Deprovision::Deactivate, DeactivatedMemberships::Drop) => Some(
            "false deactivates the user: it stays, its sessions end and it leaves its groups; \
             true re-activates it with the same id. Unassigned (removed) means not \
             deactivated. DELETE deletes the user.",
        ),
    }
}

/// `userName`'s description with the tenant's confirmed domains, if it
/// has any.
fn domains_description(user_name: &Value, policy: &Policy) -> Option<String> {
    if policy.user_name_domains.is_empty() {
        return None;
    }
    let static_text = user_name["description"].as_str().unwrap_or_default();
    Some(format!(
        "{static_text} In this tenant it must be at one of its domains: {}.",
        policy.user_name_domains.join(", ")
    ))
}

/// Writes `policy`'s descriptions into a rendered schema or resource type
/// (or a list of them) where it describes groups, or users' `active`.
fn describe(value: &mut Value, policy: &Policy) {
    if let Some(all) = value.get_mut("Resources").and_then(Value::as_array_mut) {
        for one in all {
            describe(one, policy);
        }
        return;
    }
    if value.get("id").and_then(Value::as_str) == Some(USER_SCHEMA_URN) {
        let attributes = value.get_mut("attributes").and_then(Value::as_array_mut);
        for attribute in attributes.into_iter().flatten() {
            let text = match attribute["name"].as_str() {
                Some("active") => active_description(policy).map(str::to_owned),
                Some("userName") => domains_description(attribute, policy),
                _ => None,
            };
            if let Some(text) = text {
                attribute["description"] = Value::from(text);
            }
        }
        return;
    }
    let (schema, resource_type) = group_descriptions(policy);
    let text = match (value.get("id").and_then(Value::as_str), value.get("schema")) {
        (Some(GROUP_SCHEMA_URN), None) => schema,
        (_, Some(s)) if s == GROUP_SCHEMA_URN => resource_type,
        _ => return,
    };
    value["description"] = Value::from(text);
}

async fn resource_types(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let mut all = wire::resource_types(&base_url(&state, &headers));
    describe(&mut all, &policy(&state, &headers).await);
    scim_json(StatusCode::OK, &all)
}

async fn resource_type(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let base = base_url(&state, &headers);
    let mut found = wire::resource_type_by_id(&base, &id)
        .ok_or_else(|| ApiError::not_found(format!("no resource type '{id}'")))?;
    describe(&mut found, &policy(&state, &headers).await);
    Ok(scim_json(StatusCode::OK, &found))
}

async fn schemas(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let policy = policy(&state, &headers).await;
    let mut all = wire::schemas(&base_url(&state, &headers), policy.user_name_format.users());
    describe(&mut all, &policy);
    scim_json(StatusCode::OK, &all)
}

async fn schema(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let base = base_url(&state, &headers);
    let policy = policy(&state, &headers).await;
    let mut found = wire::schema_by_id(&base, &id, policy.user_name_format.users())
        .ok_or_else(|| ApiError::not_found(format!("no schema '{id}'")))?;
    describe(&mut found, &policy);
    Ok(scim_json(StatusCode::OK, &found))
}
