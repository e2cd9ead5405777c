//! The host application's API: sessions of provisioned users. Behind the
//! operator token, and off when none is configured.

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use scimitar_core::CoreError;
use scimitar_core::ids::UserId;
use scimitar_proto::ScimError;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::auth::bearer;
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::ScimJson;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/app/v1/sessions", post(create_session))
        .route("/app/v1/sessions/introspect", post(introspect))
        .route_layer(middleware::from_fn_with_state(state, require_operator))
}

/// Admits requests bearing the operator token (compared in constant time).
pub async fn require_operator(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = state.config().operator_token.as_deref() else {
        return ApiError::new(
            403,
            None,
            "the application API is disabled: start the server with --operator-token",
        )
        .into_response();
    };
    match bearer(req.headers()) {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.as_bytes())) => {
            next.run(req).await
        }
        _ => ApiError::unauthorized("send the operator token as 'Authorization: Bearer TOKEN'")
            .into_response(),
    }
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
    // User ids are UUIDs; anything else is no user (and is kept away from
    // the database, which may not accept it: PostgreSQL refuses NUL bytes).
    let no_user =
        || ApiError::not_found("no such user: it was never provisioned or has been deprovisioned");
    if uuid::Uuid::try_parse(user).is_err() {
        return Err(no_user());
    }
    let (session, token) = state
        .store()
        .create_session(&UserId::from(user), state.config().session_ttl_secs)
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
