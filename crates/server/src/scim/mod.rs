//! The SCIM endpoints (RFC 7644): Users, Groups and discovery.

mod discovery;
mod groups;
mod users;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scimitar_core::model::Stamp;
use scimitar_proto::ScimError;
use scimitar_proto::projection::Projection;
use scimitar_proto::resource::Meta;
use scimitar_proto::schema::ResourceType;
use serde_json::Value;

use crate::AppState;
use crate::auth::{Ignored, require_tenant};
use crate::error::{ApiError, scim_json};
use crate::extract::{Precondition, precondition};

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route_layer(middleware::from_fn_with_state(state, require_tenant))
        .merge(discovery::router())
        .method_not_allowed_fallback(method_not_allowed)
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, None, "this method is not supported on this endpoint")
}

/// The absolute SCIM base URL, for `meta.location` and `$ref`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let path = &state.config().scim_base_path;
    if let Some(public) = &state.config().public_url {
        return format!("{}{path}", public.trim_end_matches('/'));
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or("localhost");
    let proto = header("x-forwarded-proto").unwrap_or("http");
    format!("{proto}://{host}{path}")
}

pub fn meta(stamp: &Stamp) -> Meta {
    Meta {
        created: stamp.created,
        last_modified: stamp.last_modified,
        version: stamp.etag(),
    }
}

/// A single resource with its `ETag`, and what its request ignored.
pub fn resource_response(
    status: StatusCode,
    body: &Value,
    stamp: &Stamp,
    ignored: Vec<String>,
) -> Response {
    let mut response = scim_json(status, body);
    if let Ok(tag) = HeaderValue::from_str(&stamp.etag()) {
        response.headers_mut().insert(header::ETAG, tag);
    }
    if status == StatusCode::CREATED
        && let Some(location) = body["meta"]["location"].as_str()
        && let Ok(location) = HeaderValue::from_str(location)
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    if !ignored.is_empty() {
        response.extensions_mut().insert(Ignored(ignored));
    }
    response
}

/// `304` when `If-None-Match` names the current version.
pub fn not_modified(headers: &HeaderMap, stamp: &Stamp) -> Option<Response> {
    let tags = precondition(headers, header::IF_NONE_MATCH)?;
    tags.matches(stamp.version).then(|| {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(tag) = HeaderValue::from_str(&stamp.etag()) {
            response.headers_mut().insert(header::ETAG, tag);
        }
        response
    })
}

/// The client's `If-Match`, checked against the current version.
pub fn if_match(headers: &HeaderMap) -> Option<Precondition> {
    precondition(headers, header::IF_MATCH)
}

pub fn check_if_match(pre: Option<&Precondition>, version: i64) -> Result<(), ApiError> {
    match pre {
        Some(p) if !p.matches(version) => Err(ApiError::new(
            412,
            None,
            "the resource has changed: its version does not match If-Match; read it again",
        )),
        _ => Ok(()),
    }
}

/// The `attributes` / `excludedAttributes` of a request.
pub fn projection(
    rt: &'static ResourceType,
    query: &[(String, String)],
) -> Result<Projection, ScimError> {
    let find = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    scimitar_proto::projection::parse(rt, find("attributes"), find("excludedAttributes"))
}

/// How often a read-modify-write is retried when another writer got there
/// first and the client did not ask for a specific version.
pub const RETRIES: usize = 8;
