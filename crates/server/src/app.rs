//! The host application's API: sessions of provisioned users. Behind the
//! application token, and off when none is configured.

use axum::extract::State;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::Response;
use scimitar_core::CoreError;
use scimitar_core::ids::{SessionId, TenantId, UserId};
use scimitar_core::model::{Micros, timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::api_doc::{Refused, ScimErrorBody};
use crate::auth::{Scope, require_token};
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::{Body, field, known_id};

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

/// Body of `POST /app/v1/sessions`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct SessionFor {
    /// A provisioned user's id.
    #[serde(deserialize_with = "field::required")]
    user_id: String,
}

/// A session as begun: its token is shown this once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NewSession {
    id: SessionId,
    /// The session's bearer token.
    token: String,
    user_id: UserId,
    tenant_id: TenantId,
    #[serde(with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: Micros,
}

/// Body of introspection and sign-out. Other fields (RFC 7662's
/// `token_type_hint`) are ignored.
#[derive(Deserialize, ToSchema)]
struct TokenBody {
    #[serde(deserialize_with = "field::required")]
    token: String,
}

/// RFC 7662's answer (its names, snake_case): only `active` when the
/// session is not live.
#[derive(Serialize, ToSchema)]
struct Introspection {
    active: bool,
    #[serde(flatten)]
    session: Option<LiveSession>,
}

/// What introspection tells of a live session.
#[derive(Serialize, ToSchema)]
struct LiveSession {
    /// The user's id.
    sub: UserId,
    tenant_id: TenantId,
    session_id: SessionId,
    /// Issued at, seconds since the epoch.
    iat: i64,
    /// Expires at, seconds since the epoch.
    exp: i64,
}

/// The answer of sign-out.
#[derive(Serialize, ToSchema)]
struct Revoked {
    /// `false` when the token named no live session.
    revoked: bool,
}

/// `{"userId": "…"}` → a new session and its bearer token (shown once).
#[utoipa::path(post, path = "/app/v1/sessions", tag = "sessions", security(("appToken" = [])),
    description = "Begins a session for a provisioned user; its bearer token is shown once.",
    request_body = SessionFor,
    responses((status = 201, body = NewSession), (status = 400, response = Refused),
        (status = 404, description = "no such user: never provisioned, or deprovisioned", body = ScimErrorBody)))]
async fn create_session(
    State(state): State<AppState>,
    Body(body): Body<SessionFor>,
) -> ApiResult<Response> {
    let no_user =
        || ApiError::not_found("no such user: it was never provisioned or has been deprovisioned");
    let user: UserId = known_id(body.user_id).ok_or_else(no_user)?;
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
        &NewSession {
            id: session.id,
            token,
            user_id: session.user_id,
            tenant_id: session.tenant_id,
            expires_at: session.expires,
        },
    ))
}

/// Sign-out: `{"token": "…"}` → `{"revoked": true}`, or `false` when the
/// token named no live session (answered 200 either way, as RFC 7009 does).
#[utoipa::path(post, path = "/app/v1/sessions/revoke", tag = "sessions", security(("appToken" = [])),
    description = "Sign-out: ends the session a token belongs to (200 either way, as RFC 7009 does).",
    request_body = TokenBody, responses((status = 200, body = Revoked), (status = 400, response = Refused)))]
async fn revoke(State(state): State<AppState>, Body(body): Body<TokenBody>) -> ApiResult<Response> {
    let revoked = state.service().end_session(&body.token).await?;
    Ok(scim_json(StatusCode::OK, &Revoked { revoked }))
}

/// RFC 7662-shaped introspection: `{"token": "…"}` → `{"active": …}`.
#[utoipa::path(post, path = "/app/v1/sessions/introspect", tag = "sessions", security(("appToken" = [])),
    description = "Whether a session token is live (RFC 7662's shape); a deprovisioned user's never is.",
    request_body = TokenBody, responses((status = 200, body = Introspection), (status = 400, response = Refused)))]
async fn introspect(
    State(state): State<AppState>,
    Body(body): Body<TokenBody>,
) -> ApiResult<Response> {
    let session = state.service().session_of(&body.token).await?;
    let answer = Introspection {
        active: session.is_some(),
        session: session.map(|s| LiveSession {
            sub: s.user_id,
            tenant_id: s.tenant_id,
            session_id: s.id,
            iat: s.created / 1_000_000,
            exp: s.expires / 1_000_000,
        }),
    };
    Ok(scim_json(StatusCode::OK, &answer))
}
