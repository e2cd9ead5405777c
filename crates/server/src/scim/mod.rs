//! The SCIM endpoints (RFC 7644): Users, Groups and discovery.

mod discovery;
mod groups;
mod users;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use scimitar_core::model::ListQuery;
use scimitar_core::model::Stamp;
use scimitar_proto::ScimError;
use scimitar_proto::projection::Projection;
use scimitar_proto::resource::Meta;
use scimitar_proto::schema::ResourceType;
use scimitar_proto::wire::{ListParams, list_response};
use serde_json::Value;

use crate::AppState;
use crate::auth::{Ignored, require_tenant};
use crate::error::{ApiError, scim_json};
use crate::extract::{known_id, precondition};
use scimitar_core::domain::Precondition;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route("/Groups/.search", post(groups::search))
        .route("/.search", post(search_all_types))
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
        // Inside the tenant's log: a rejection is logged as the SCIM error
        // the client received.
        .route_layer(middleware::from_fn(crate::scim_errors))
        .route_layer(middleware::from_fn_with_state(state, require_tenant))
        .merge(discovery::router())
}

/// The absolute SCIM base URL, for `meta.location` and `$ref`.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    format!(
        "{}{}",
        public_origin(state, headers),
        state.config().scim_base_path
    )
}

/// Where clients reach this server (`https://scim.example.com`): the
/// configured public URL, or what the `Host` header (or a trusted proxy's
/// `X-Forwarded-Host` and `-Proto`) says.
pub fn public_origin(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.config().public_url {
        return public.trim_end_matches('/').to_owned();
    }
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header("x-forwarded-host")
        .or_else(|| header("host"))
        .unwrap_or("localhost");
    let proto = header("x-forwarded-proto").unwrap_or("http");
    format!("{proto}://{host}")
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

/// The query of a list request, with the deployment's page sizes.
/// A list request: the storage query, and what answering it needs.
pub struct ListRequest {
    pub query: ListQuery,
    pub start_index: u64,
    pub projection: Projection,
}

impl ListRequest {
    /// The ListResponse of one page.
    pub fn respond(&self, total: u64, resources: Vec<Value>) -> Response {
        scim_json(
            StatusCode::OK,
            &list_response(total, self.start_index, resources),
        )
    }
}

pub fn list_request(
    state: &AppState,
    rt: &'static ResourceType,
    query: &[(String, String)],
) -> Result<ListRequest, ScimError> {
    // PostgreSQL cannot hold U+0000 in text, not even as a query parameter,
    // and no stored value contains one (control characters are refused on
    // input), so a filter with one is refused here rather than failing in
    // the database.
    for (name, value) in query {
        if name.trim().eq_ignore_ascii_case("filter")
            && let Some(offset) = value.find('\0')
        {
            return Err(ScimError::invalid_filter(format!(
                "the filter contains a NUL character at position {offset}; no attribute \
                 value can contain one"
            )));
        }
    }
    let config = state.config();
    let params = ListParams::parse(rt, query, config.default_page_size, config.max_page_size)?;
    Ok(ListRequest {
        query: ListQuery {
            filter: params.filter,
            sort_by: params.sort_by,
            descending: params.descending,
            offset: params.start_index - 1,
            limit: params.count,
        },
        start_index: params.start_index,
        projection: params.projection,
    })
}

/// The parameters of a `POST …/.search` body (RFC 7644 §3.4.3) as the
/// query pairs of the equivalent `GET`.
pub fn search_query(body: &Value) -> Result<Vec<(String, String)>, ScimError> {
    let Some(fields) = body.as_object() else {
        return Err(ScimError::invalid_syntax(
            "a search body must be a SearchRequest JSON object",
        ));
    };
    let mut pairs = Vec::new();
    for (name, value) in fields {
        let text = match value {
            Value::Null => continue,
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Array(items) if name.ends_with("ttributes") => items
                .iter()
                .map(|i| i.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| {
                    ScimError::invalid_value(format!("'{name}' must be a list of attribute names"))
                })?
                .join(","),
            _ if name == "schemas" => continue,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "'{name}' has a value of the wrong type"
                )));
            }
        };
        pairs.push((name.clone(), text));
    }
    Ok(pairs)
}

/// A search across every resource type is not offered (RFC 7644 §3.12).
async fn search_all_types() -> ApiError {
    ApiError::new(
        501,
        None,
        "searching across resource types is not supported: POST /Users/.search or \
         /Groups/.search, or GET with a filter",
    )
}

/// A resource id from a URL: 404 unless it can be one of ours
/// ([`known_id`]).
pub fn resource_id<T: From<String>>(rt: &ResourceType, raw: String) -> Result<T, ApiError> {
    known_id(raw).ok_or_else(|| {
        ApiError::not_found(format!(
            "no such {} in this tenant",
            rt.name.to_ascii_lowercase()
        ))
    })
}
