//! The host application's API: sessions of provisioned users. Behind the
//! application token, and off when none is configured.

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use scimitar_core::CoreError;
use scimitar_core::ids::UserId;
use scimitar_proto::ScimError;
use serde_json::{Value, json};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api_doc::{
    Introspection, NewSession, Refused, Revoked, ScimErrorBody, SessionFor, TokenBody,
};
use crate::auth::{Scope, require_token};
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::{ScimJson, known_id};

/// The application API's routes, with their part of the OpenAPI document.
pub fn routes(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(introspect))
        .routes(routes!(revoke))
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
#[utoipa::path(post, path = "/app/v1/sessions", tag = "sessions", security(("appToken" = [])),
    description = "Begins a session for a provisioned user; its bearer token is shown once.",
    request_body = SessionFor,
    responses((status = 201, body = NewSession), (status = 400, response = Refused),
        (status = 404, description = "no such user: never provisioned, or deprovisioned", body = ScimErrorBody)))]
async fn create_session(
    State(state): State<AppState>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let user = string_field(&body, "userId")?;
    let no_user =
        || ApiError::not_found("no such user: it was never provisioned or has been deprovisioned");
    let user: UserId = known_id(user.to_owned()).ok_or_else(no_user)?;
    let (session, token) = state
        .service()
        .start_session(&user, state.config().session_ttl_secs)
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
#[utoipa::path(post, path = "/app/v1/sessions/revoke", tag = "sessions", security(("appToken" = [])),
    description = "Sign-out: ends the session a token belongs to (200 either way, as RFC 7009 does).",
    request_body = TokenBody, responses((status = 200, body = Revoked), (status = 400, response = Refused)))]
async fn revoke(State(state): State<AppState>, ScimJson(body): ScimJson) -> ApiResult<Response> {
    let token = string_field(&body, "token")?;
    let revoked = state.service().end_session(token).await?;
    Ok(scim_json(StatusCode::OK, &json!({ "revoked": revoked })))
}

/// RFC 7662-shaped introspection: `{"token": "…"}` → `{"active": …}`.
#[utoipa::path(post, path = "/app/v1/sessions/introspect", tag = "sessions", security(("appToken" = [])),
    description = "Whether a session token is live (RFC 7662's shape); a deprovisioned user's never is.",
    request_body = TokenBody, responses((status = 200, body = Introspection), (status = 400, response = Refused)))]
async fn introspect(
    State(state): State<AppState>,
    ScimJson(body): ScimJson,
) -> ApiResult<Response> {
    let token = string_field(&body, "token")?;
    let answer = match state.service().session_of(token).await? {
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
