//! Tenant authentication and the provisioning log of each SCIM request.

use axum::extract::{OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use scimitar_core::ids::TenantId;
use scimitar_core::model::{LogEntry, now};
use subtle::ConstantTimeEq;

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
    if let Some(refused) = too_many_failures(&state, &req) {
        return refused;
    }
    let (tenant, key) = match state.service().authenticate(secret).await {
        Ok(Some(credential)) => (credential.tenant, credential.key),
        Ok(None) => {
            failed(&state, &req);
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
    if let Err(wait) = state.limiter().check(&tenant) {
        // Counted into one summary entry per tenant per second, not a row
        // per refusal: a runaway client must not fill the log.
        state.log().refused(&tenant, &path);
        return too_many_requests(wait);
    }
    // The changes this request makes are recorded as its own: its id,
    // its method and its key go with their events.
    let origin = scimitar_core::origin::Origin {
        request_id: request_id.clone(),
        method: method.clone(),
        api_key: Some(key.clone()),
    };
    let response = scimitar_core::origin::within(origin, next.run(req)).await;
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
        api_key_id: Some(key),
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

/// Which operator credential guards a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `/admin/v1`: everything an operator may do.
    Admin,
    /// `/app/v1`: the host application's sessions.
    App,
    /// `/metrics` on the main listener.
    Metrics,
}

impl Scope {
    fn token(self, config: &crate::Config) -> Option<&crate::Secret> {
        match self {
            Scope::Admin => config.admin_token.as_ref(),
            Scope::App => config.app_token.as_ref(),
            Scope::Metrics => config.metrics_token.as_ref(),
        }
    }

    fn disabled(self) -> ApiError {
        let (what, flag) = match self {
            Scope::Admin => (
                "the admin API is disabled",
                "--admin-token or --admin-token-file",
            ),
            Scope::App => (
                "the application API is disabled",
                "--app-token or --app-token-file",
            ),
            Scope::Metrics => (
                "metrics are not served here",
                "--metrics-token, or serve them on --metrics-listen",
            ),
        };
        ApiError::new(403, None, format!("{what}: start the server with {flag}"))
    }
}

/// The client's address, when the connection told us (a real socket).
pub fn peer(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The key of a client in the failed-authentication limiter; in-process
/// requests without a socket share one.
fn failure_key(req: &Request) -> std::net::IpAddr {
    peer(req).unwrap_or(std::net::IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
}

/// 429 for a client that failed to authenticate too often, before its
/// credential is even looked at.
pub(crate) fn too_many_failures(state: &AppState, req: &Request) -> Option<Response> {
    if state.failures().would_admit(&failure_key(req)) {
        return None;
    }
    let mut response = ApiError::new(
        429,
        None,
        "too many failed authentication attempts from this address; retry later",
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("10"));
    Some(response)
}

/// Counts a failed authentication against the client's address.
pub(crate) fn failed(state: &AppState, req: &Request) {
    let _ = state.failures().check(&failure_key(req));
}

/// Admits requests bearing the `scope`'s token (compared in constant time).
pub async fn require_token(
    State((state, scope)): State<(AppState, Scope)>,
    req: Request,
    next: Next,
) -> Response {
    let Some(expected) = scope.token(state.config()) else {
        return scope.disabled().into_response();
    };
    if let Some(refused) = too_many_failures(&state, &req) {
        return refused;
    }
    match bearer(req.headers()) {
        Some(token) if bool::from(token.as_bytes().ct_eq(expected.expose().as_bytes())) => {
            next.run(req).await
        }
        _ => {
            failed(&state, &req);
            ApiError::unauthorized("send the token as 'Authorization: Bearer TOKEN'")
                .into_response()
        }
    }
}
