//! Tenant authentication and the provisioning log of each SCIM request.

use axum::extract::{OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scimitar_core::ids::TenantId;
use scimitar_core::model::{LogEntry, now};

use crate::AppState;
use crate::error::{ApiError, ErrorNote};

/// Attributes a request carried that were ignored, for the provisioning log.
#[derive(Debug, Clone, Default)]
pub struct Ignored(pub Vec<String>);

/// The bearer token of a request, if it sent one.
pub fn bearer(req_headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = req_headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves the API key to its tenant (401 otherwise), runs the request
/// with the tenant in its extensions, and logs the outcome for the tenant.
pub async fn require_tenant(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(secret) = bearer(req.headers()) else {
        return ApiError::unauthorized(
            "authentication required: send the tenant's API key as 'Authorization: Bearer KEY'",
        )
        .into_response();
    };
    let tenant = match state.store().authenticate(secret).await {
        Ok(Some(tenant)) => tenant,
        Ok(None) => {
            return ApiError::unauthorized("the API key is not valid or has been revoked")
                .into_response();
        }
        Err(e) => return ApiError::from(e).into_response(),
    };
    let method = req.method().to_string();
    // The full path as the client sent it, not the part after the base path.
    let uri = req
        .extensions()
        .get::<OriginalUri>()
        .map_or_else(|| req.uri().clone(), |o| o.0.clone());
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned());
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    req.extensions_mut().insert(tenant.clone());
    let response = match state.limiter().check(&tenant) {
        Ok(()) => next.run(req).await,
        Err(wait) => too_many_requests(wait),
    };
    let note = response.extensions().get::<ErrorNote>();
    state.log().record(LogEntry {
        tenant_id: tenant,
        time: now(),
        request_id,
        method,
        path,
        status: response.status().as_u16(),
        scim_type: note
            .and_then(|n| n.scim_type)
            .map(|t| t.as_str().to_owned()),
        detail: note.map(|n| n.detail.clone()),
        ignored: response
            .extensions()
            .get::<Ignored>()
            .map(|i| i.0.clone())
            .unwrap_or_default(),
    });
    response
}

/// 429 with the seconds until the tenant's next request is admitted
/// (rounded up, at least one: `Retry-After` has whole seconds).
fn too_many_requests(wait: std::time::Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let secs = secs.max(1);
    let mut response = ApiError::new(
        429,
        None,
        format!("too many requests for this tenant; retry after {secs} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    response
}

/// The tenant a request was authenticated as.
pub type Tenant = axum::Extension<TenantId>;
