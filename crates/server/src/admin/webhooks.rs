//! The admin API's webhook endpoints: register, list, change, rotate the
//! secret, replay, delete, and read the attempt log.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use scimitar_core::domain::{IssuedEndpoint, event_seq};
use scimitar_core::ids::{TenantId, WebhookEndpointId};
use scimitar_core::model::{Attempt, WebhookEndpoint};
use scimitar_proto::ScimError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{body_id, id};
use crate::AppState;
use crate::api_doc::{NotFound, Refused};
use crate::error::{ApiResult, scim_json};
use crate::extract::{Body, QueryPairs, field, query_number, query_value};

/// The routes, with their part of the OpenAPI document.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_endpoints, create_endpoint))
        .routes(routes!(get_endpoint, change_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
        .routes(routes!(replay))
        .routes(routes!(attempts))
}

/// An endpoint in the path.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code, reason = "read by the OpenAPI document only")]
struct EndpointPath {
    /// The endpoint's id.
    endpoint: String,
}

/// Body of `POST /admin/v1/webhook-endpoints`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewEndpointBody {
    /// Where events are POSTed: `https://`, a public address (unless the
    /// operator allowed the host with `--webhook-allow-http`).
    #[serde(deserialize_with = "field::required")]
    url: String,
    /// Only this tenant's events; every tenant's when absent.
    #[serde(default, deserialize_with = "field::text")]
    tenant_id: Option<String>,
    /// Only these event types; every type when absent or empty.
    #[serde(default)]
    types: Option<Vec<String>>,
}

/// Body of `PATCH /admin/v1/webhook-endpoints/{endpoint}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct EndpointChangeBody {
    #[serde(default, deserialize_with = "field::string")]
    url: Option<String>,
    /// `[]`: every type.
    #[serde(default)]
    types: Option<Vec<String>>,
    /// `false` stops delivery; `true` resumes it where it stopped, at once.
    #[serde(default)]
    enabled: Option<bool>,
}

/// Body of `POST /admin/v1/webhook-endpoints/{endpoint}/replay`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReplayBody {
    /// The first event to deliver again (`evt_…`); the ones after it follow.
    #[serde(deserialize_with = "field::required")]
    from: String,
}

/// A page of an endpoint's attempts, newest first.
#[derive(Serialize, ToSchema)]
struct AttemptPage {
    attempts: Vec<Attempt>,
    /// Ask with `before` this for the next (older) page; `null` at the end.
    next: Option<i64>,
}

fn endpoint_id(raw: String) -> Result<WebhookEndpointId, crate::error::ApiError> {
    id(raw, "webhook endpoint")
}

#[utoipa::path(
    get, path = "/admin/v1/webhook-endpoints", tag = "webhooks",
    description = "Every webhook endpoint, oldest first, with where its delivery stands.",
    responses((status = 200, body = Vec<WebhookEndpoint>))
)]
async fn list_endpoints(State(state): State<AppState>) -> ApiResult<Response> {
    Ok(scim_json(
        StatusCode::OK,
        &state.service().webhook_endpoints().await?,
    ))
}

#[utoipa::path(
    post, path = "/admin/v1/webhook-endpoints", tag = "webhooks",
    description = "Registers an endpoint for the events committed from now on. The answer \
                   carries its signing `secret` (`whsec_…`), shown only here.",
    request_body = NewEndpointBody,
    responses((status = 201, body = IssuedEndpoint), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
async fn create_endpoint(
    State(state): State<AppState>,
    Body(body): Body<NewEndpointBody>,
) -> ApiResult<Response> {
    let tenant: Option<TenantId> = body_id("tenantId", body.tenant_id, "tenant")?;
    let issued = state
        .service()
        .create_webhook_endpoint(&body.url, tenant.as_ref(), body.types.unwrap_or_default())
        .await?;
    Ok(scim_json(StatusCode::CREATED, &issued))
}

#[utoipa::path(
    get, path = "/admin/v1/webhook-endpoints/{endpoint}", tag = "webhooks",
    description = "An endpoint and where its delivery stands.",
    params(EndpointPath),
    responses((status = 200, body = WebhookEndpoint), (status = 404, response = NotFound))
)]
async fn get_endpoint(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
) -> ApiResult<Response> {
    let endpoint = endpoint_id(endpoint)?;
    Ok(scim_json(
        StatusCode::OK,
        &state.service().webhook_endpoint(&endpoint).await?,
    ))
}

#[utoipa::path(
    patch, path = "/admin/v1/webhook-endpoints/{endpoint}", tag = "webhooks",
    description = "Changes an endpoint's URL or types, or stops (`enabled: false`) or resumes \
                   (`enabled: true`) its delivery.",
    params(EndpointPath),
    request_body = EndpointChangeBody,
    responses((status = 200, body = WebhookEndpoint), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
async fn change_endpoint(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Body(body): Body<EndpointChangeBody>,
) -> ApiResult<Response> {
    let endpoint = endpoint_id(endpoint)?;
    let changed = state
        .service()
        .change_webhook_endpoint(&endpoint, body.url.as_deref(), body.types, body.enabled)
        .await?;
    Ok(scim_json(StatusCode::OK, &changed))
}

#[utoipa::path(
    delete, path = "/admin/v1/webhook-endpoints/{endpoint}", tag = "webhooks",
    description = "Deletes an endpoint and its attempt log; nothing more is sent to it.",
    params(EndpointPath),
    responses((status = 204, description = "deleted"), (status = 404, response = NotFound))
)]
async fn delete_endpoint(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
) -> ApiResult<StatusCode> {
    let endpoint = endpoint_id(endpoint)?;
    state.service().delete_webhook_endpoint(&endpoint).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post, path = "/admin/v1/webhook-endpoints/{endpoint}/rotate-secret", tag = "webhooks",
    description = "Gives the endpoint a new secret, shown only here. For a day every message \
                   is signed with both, so the receiver can switch without losing one.",
    params(EndpointPath),
    responses((status = 200, body = IssuedEndpoint), (status = 404, response = NotFound))
)]
async fn rotate_secret(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
) -> ApiResult<Response> {
    let endpoint = endpoint_id(endpoint)?;
    Ok(scim_json(
        StatusCode::OK,
        &state.service().rotate_webhook_secret(&endpoint).await?,
    ))
}

#[utoipa::path(
    post, path = "/admin/v1/webhook-endpoints/{endpoint}/replay", tag = "webhooks",
    description = "Delivers the endpoint's events again from event `from` on (and enables it \
                   if it was disabled).",
    params(EndpointPath),
    request_body = ReplayBody,
    responses((status = 200, body = WebhookEndpoint), (status = 400, response = Refused), (status = 404, response = NotFound))
)]
async fn replay(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    Body(body): Body<ReplayBody>,
) -> ApiResult<Response> {
    let endpoint = endpoint_id(endpoint)?;
    let from = event_seq(&body.from)
        .ok_or_else(|| ScimError::invalid_value("'from' must be an event id, such as evt_42"))?;
    Ok(scim_json(
        StatusCode::OK,
        &state
            .service()
            .replay_webhook_endpoint(&endpoint, from)
            .await?,
    ))
}

#[utoipa::path(
    get, path = "/admin/v1/webhook-endpoints/{endpoint}/attempts", tag = "webhooks",
    description = "The endpoint's delivery attempts, newest first: each one's event, time, \
                   status and error. `before` pages on; `limit` is at most 1000.",
    params(EndpointPath, ("before" = Option<i64>, Query), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = AttemptPage), (status = 404, response = NotFound))
)]
async fn attempts(
    State(state): State<AppState>,
    Path(endpoint): Path<String>,
    QueryPairs(query): QueryPairs,
) -> ApiResult<Response> {
    let endpoint = endpoint_id(endpoint)?;
    let before = query_value(&query, "before")
        .map(|_| query_number(&query, "before", 0i64, i64::MAX))
        .transpose()?;
    let limit = query_number(&query, "limit", 100u32, 1000)?.max(1);
    let slice = state
        .service()
        .webhook_attempts(&endpoint, before, limit)
        .await?;
    let next = slice
        .more
        .then(|| slice.items.last().map(|(at, _)| *at))
        .flatten();
    let page = AttemptPage {
        attempts: slice.items.into_iter().map(|(_, a)| a).collect(),
        next,
    };
    Ok(scim_json(StatusCode::OK, &page))
}
