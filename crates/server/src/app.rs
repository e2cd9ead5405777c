//! The host application's API: sessions of provisioned users. Behind the
//! application token, and off when none is configured.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use axum::routing::post;
use scimitar_core::CoreError;
use scimitar_core::ids::UserId;
use scimitar_proto::ScimError;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::{Scope, require_token};
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::{ScimJson, known_id};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/app/v1/sessions", post(create_session))
        .route("/app/v1/sessions/introspect", post(introspect))
        .route("/app/v1/sessions/revoke", post(revoke))
        .route_layer(middleware::from_fn_with_state(
            (state, Scope::App),
            require_token,
        ))
}

fn string_field<'a>(body: &'a Value, name: &str) -> Result<&'a str, ScimError> {
    body.get(name).and_then(Value::as_str).ok_or_else(|| {
        ScimError::invalid_value(format!("'{name}' is required and must be a string"))
    })
}

/// `{"userId": "…"}` → a new session and its bearer token (shown once).
async fn create_session(
    State(state): State<AppState>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let user = string_field(&body, "userId")?;
    let no_user =
        || ApiError::not_found("no such user: it was never provisioned or has been deprovisioned");
    let user: UserId = known_id(user.to_owned()).ok_or_else(no_user)?;
    let (session, token) = state
        .store()
        .create_session(&user, state.config().session_ttl_secs)
        .await
        .map_err(|e| match e {
            CoreError::NotFound(_) => no_user(),
            other => other.into(),
        })?;
    Ok(scim_json(
        StatusCode::CREATED,
        &json!({
            "id": session.id,
            "token": token,
            "userId": session.user_id,
            "tenantId": session.tenant_id,
            "expiresAt": scimitar_proto::datetime::format(session.expires),
        }),
    ))
}

/// Sign-out: `{"token": "…"}` → `{"revoked": true}`, or `false` when the
/// token named no live session (answered 200 either way, as RFC 7009 does).
async fn revoke(State(state): State<AppState>, ScimJson(body): ScimJson) -> ApiResult<Response> {
    let token = string_field(&body, "token")?;
    let revoked = state.store().revoke_session(token).await?;
    Ok(scim_json(StatusCode::OK, &json!({ "revoked": revoked })))
}

/// RFC 7662-shaped introspection: `{"token": "…"}` → `{"active": …}`.
async fn introspect(
    State(state): State<AppState>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let token = string_field(&body, "token")?;
    let answer = match state.store().introspect_session(token).await? {
        Some(s) => json!({
            "active": true,
            "sub": s.user_id,
            "tenant_id": s.tenant_id,
            "session_id": s.id,
            "iat": s.created / 1_000_000,
            "exp": s.expires / 1_000_000,
        }),
        None => json!({"active": false}),
    };
    Ok(scim_json(StatusCode::OK, &answer))
}
