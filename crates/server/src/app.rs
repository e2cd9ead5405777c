//! The host application's API: sessions of provisioned users, and the
//! event feed. Behind the application token, and off when none is
//! configured.

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
use crate::api_doc::{FeedParams, NotFound, Refused, ScimErrorBody};
use crate::auth::{Scope, require_token};
use crate::error::{ApiError, ApiResult, scim_json};
use crate::extract::{Body, QueryPairs, field, known_id, query_number, query_value};

/// The application API's routes, with their part of the OpenAPI document.
pub fn routes(state: AppState) -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(introspect))
        .routes(routes!(revoke))
        .routes(routes!(feed))
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

/// An event as the feed (and a webhook) delivers it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FeedEvent {
    /// Stable across deliveries: `evt_` and the sequence number (a
    /// webhook's `webhook-id`).
    pub(crate) id: String,
    /// Position in the deployment's outbox: grows in commit order.
    seq: i64,
    /// `user.created`, `group.members_added`, … (docs/events.md).
    #[serde(rename = "type")]
    kind: String,
    tenant_id: TenantId,
    #[serde(with = "timestamp")]
    #[schema(value_type = String, format = DateTime)]
    occurred_at: Micros,
    /// The change: `resourceId` and the type's own fields.
    #[schema(value_type = Object)]
    data: serde_json::Value,
}

/// A page of the feed.
#[derive(Serialize, ToSchema)]
struct FeedPage {
    events: Vec<FeedEvent>,
    /// The cursor to ask with next (`after`).
    next: String,
}

/// An event as the feed and webhooks show it.
pub(crate) fn feed_event(event: scimitar_core::model::Event) -> FeedEvent {
    let mut data = match event.payload {
        serde_json::Value::Object(map) => map,
        other => serde_json::Map::from_iter([("value".to_owned(), other)]),
    };
    data.insert("resourceId".to_owned(), event.resource_id.into());
    if let Some(request) = event.request_id {
        data.insert("requestId".to_owned(), request.into());
    }
    if let Some(key) = event.api_key_id {
        data.insert("apiKeyId".to_owned(), key.as_str().into());
    }
    FeedEvent {
        id: format!("evt_{}", event.seq),
        seq: event.seq,
        kind: event.kind,
        tenant_id: event.tenant_id,
        occurred_at: event.created,
        data: serde_json::Value::Object(data),
    }
}

/// The events after a cursor, in sequence order; with `wait`, the answer
/// comes as soon as one commits.
#[utoipa::path(get, path = "/app/v1/events", tag = "events", security(("appToken" = [])),
    description = "The event feed: events after `after` in sequence order, with the cursor to \
                   ask with next. A cursor never passes an event not yet committed, so a \
                   follower that stores `next` and asks again never skips one. `wait` long-polls.",
    params(FeedParams),
    responses((status = 200, body = FeedPage), (status = 400, response = Refused),
        (status = 404, response = NotFound),
        (status = 410, description = "the cursor is older than the events retention kept", body = ScimErrorBody)))]
async fn feed(State(state): State<AppState>, QueryPairs(query): QueryPairs) -> ApiResult<Response> {
    use scimitar_core::domain::{Feed, FeedQuery, MAX_FEED_PAGE, MAX_FEED_WAIT};
    let value = |name| query_value(&query, name).map(str::trim);
    let after = value("after")
        .map(|a| {
            a.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                ApiError::from(scimitar_proto::ScimError::invalid_value(
                    "'after' must be the 'next' of a previous answer",
                ))
            })
        })
        .transpose()?;
    let limit = query_number(&query, "limit", 100, MAX_FEED_PAGE)?;
    if limit == 0 {
        return Err(scimitar_proto::ScimError::invalid_value(format!(
            "'limit' must be a whole number from 1 to {MAX_FEED_PAGE}"
        ))
        .into());
    }
    let wait = query_number(&query, "wait", 0, MAX_FEED_WAIT.as_secs())?;
    let tenant = value("tenant")
        .map(|t| known_id(t.to_owned()).ok_or_else(|| ApiError::not_found("no such tenant")))
        .transpose()?;
    let types = value("types")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    // A wait ends before the request's deadline would answer 503.
    let longest = state
        .config()
        .request_timeout
        .saturating_sub(std::time::Duration::from_secs(1));
    let query = FeedQuery {
        after,
        limit,
        types,
        tenant,
        wait: std::time::Duration::from_secs(wait).min(longest),
    };
    match state.service().feed(&query).await? {
        Feed::Page { events, next } => Ok(scim_json(
            StatusCode::OK,
            &FeedPage {
                events: events.into_iter().map(feed_event).collect(),
                next: next.to_string(),
            },
        )),
        Feed::Gone { horizon } => Err(ApiError::new(
            410,
            None,
            format!(
                "events after this cursor, up to {horizon}, were deleted by retention: \
                 start again without 'after' (from the oldest event kept) and reconcile"
            ),
        )),
    }
}
