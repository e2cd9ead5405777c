//! Discovery (RFC 7644 §4), rendered from the same definitions the parser
//! and PATCH engine enforce. Open without a key: it holds no tenant data.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use scimitar_proto::wire;

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

async fn resource_types(State(state): State<AppState>, headers: HeaderMap) -> Response {
    scim_json(
        StatusCode::OK,
        &wire::resource_types(&base_url(&state, &headers)),
    )
}

async fn resource_type(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let base = base_url(&state, &headers);
    let found = wire::resource_type_by_id(&base, &id)
        .ok_or_else(|| ApiError::not_found(format!("no resource type '{id}'")))?;
    Ok(scim_json(StatusCode::OK, &found))
}

async fn schemas(State(state): State<AppState>, headers: HeaderMap) -> Response {
    scim_json(StatusCode::OK, &wire::schemas(&base_url(&state, &headers)))
}

async fn schema(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let base = base_url(&state, &headers);
    let found = wire::schema_by_id(&base, &id)
        .ok_or_else(|| ApiError::not_found(format!("no schema '{id}'")))?;
    Ok(scim_json(StatusCode::OK, &found))
}
