//! # scimitar-server: the HTTP surface
//!
//! [`router`] builds the whole application from an [`AppState`]: the SCIM
//! endpoints under a configurable base path, the admin API and the admin
//! panel under `/admin`, the host application's session API, and the
//! operational endpoints. It knows no SQL; everything stored goes through
//! `scimitar_core::Store`, and everything protocol through
//! `scimitar_proto`. Errors become SCIM error objects in exactly one
//! place, [`error::ApiError`]; the panel's become pages, in its own
//! `PanelError`.

mod admin;
mod api_doc;
pub mod app;
mod auth;
pub mod error;
mod extract;
pub mod journal;
mod metrics;
mod panel;
mod rate_limit;
pub mod retention;
mod scim;
pub mod serve;
pub mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scimitar_core::Store;
use scimitar_core::domain::Service;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::journal::LogWriter;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
pub use scimitar_core::clock::Clock;

/// A bearer token of ours. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// Fewest characters an operator token may have.
pub const MIN_TOKEN_CHARS: usize = 32;

impl Secret {
    /// A token of at least [`MIN_TOKEN_CHARS`] characters; `what` names it
    /// in the error.
    pub fn new(token: impl Into<String>, what: &str) -> Result<Secret, String> {
        let token = token.into().trim().to_owned();
        if token.chars().count() < MIN_TOKEN_CHARS {
            return Err(format!(
                "the {what} must have at least {MIN_TOKEN_CHARS} characters (e.g. `openssl rand \
                 -hex 32`)"
            ));
        }
        Ok(Secret(token))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<hidden>")
    }
}

/// Settings of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where SCIM lives, e.g. `/scim/v2` or `/core/v1/scim/v2`.
    pub scim_base_path: String,
    /// The externally visible origin (`https://scim.example.com`) used in
    /// `meta.location` and `$ref`; derived from the `Host` header if unset
    /// (and from `X-Forwarded-Host`/`-Proto` only when a trusted proxy
    /// sent them).
    pub public_url: Option<String>,
    /// Proxies whose `X-Forwarded-Host`/`-Proto` are believed; from any
    /// other peer those headers are dropped.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Bearer token of the admin API (`/admin/v1`); that API is off without it.
    pub admin_token: Option<Secret>,
    /// Bearer token of the host application's API (`/app/v1`); off without it.
    pub app_token: Option<Secret>,
    /// Bearer token of `/metrics` on the main listener; without it
    /// `/metrics` is served only on a separate listener, if one is set.
    pub metrics_token: Option<Secret>,
    pub max_body_bytes: usize,
    /// Page size when a client sends no `count`.
    pub default_page_size: u64,
    /// The largest page served (`ServiceProviderConfig.filter.maxResults`).
    pub max_page_size: u64,
    /// Lifetime of sessions created through the application API.
    pub session_ttl_secs: i64,
    /// SCIM requests per second each tenant may make on average; `0` turns
    /// the limit off. Beyond it requests get 429 with `Retry-After`.
    pub rate_limit_per_second: u32,
    /// How many requests a tenant may make at once before the average
    /// applies (the token bucket's size). Entra and Okta sync in bursts.
    pub rate_limit_burst: u32,
    /// The longest a request may take before it is answered 503, so a
    /// database that stops answering never hangs a client.
    pub request_timeout: std::time::Duration,
    /// How long a portal link into the admin panel may wait to be opened.
    pub portal_link_ttl: std::time::Duration,
    /// The clock of the time-bound rules (the rate limits, how long a key
    /// is trusted): the system's, or a manual one in tests.
    pub clock: Clock,
    /// Where webhooks may be sent.
    pub outbound: scimitar_core::domain::OutboundPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            scim_base_path: "/scim/v2".to_owned(),
            public_url: None,
            trusted_proxies: Vec::new(),
            admin_token: None,
            app_token: None,
            metrics_token: None,
            max_body_bytes: 4 * 1024 * 1024,
            default_page_size: 100,
            max_page_size: 1000,
            session_ttl_secs: 12 * 3600,
            // Far above what an identity provider sends (Entra stays well
            // under 100 requests a second per tenant); only a runaway
            // client meets it.
            rate_limit_per_second: 200,
            rate_limit_burst: 400,
            request_timeout: std::time::Duration::from_secs(30),
            portal_link_ttl: scimitar_core::domain::PORTAL_LINK_TTL,
            clock: Clock::default(),
            outbound: scimitar_core::domain::OutboundPolicy::default(),
        }
    }
}

/// Failed authentications a client address may make per second on
/// average, and in a burst, before its requests are refused with 429
/// without being checked: guessing a token or key stays hopeless.
const FAILED_AUTH_PER_SECOND: u32 = 2;
const FAILED_AUTH_BURST: u32 = 20;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    service: Service,
    config: Config,
    log: LogWriter,
    limiter: RateLimiter,
    /// Failed authentications per client address.
    failures: RateLimiter<std::net::IpAddr>,
    metrics: Metrics,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, mut config: Config, log: LogWriter) -> Self {
        config.scim_base_path = normalise_base_path(&config.scim_base_path);
        let limiter = RateLimiter::new(
            config.rate_limit_per_second,
            config.rate_limit_burst,
            config.clock.clone(),
        );
        let failures = RateLimiter::new(
            FAILED_AUTH_PER_SECOND,
            FAILED_AUTH_BURST,
            config.clock.clone(),
        );
        AppState {
            inner: Arc::new(Inner {
                service: Service::with_clock(store.clone(), config.clock.clone())
                    .with_outbound(config.outbound.clone()),
                store,
                config,
                log,
                limiter,
                failures,
                metrics: Metrics::default(),
            }),
        }
    }

    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    /// The domain's operations: every change and every administrative read
    /// goes through them; `store` is left for the reads that carry no rule.
    pub fn service(&self) -> &Service {
        &self.inner.service
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn log(&self) -> &LogWriter {
        &self.inner.log
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub(crate) fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    pub(crate) fn failures(&self) -> &RateLimiter<std::net::IpAddr> {
        &self.inner.failures
    }
}

/// `scim/v2/` → `/scim/v2`.
fn normalise_base_path(path: &str) -> String {
    let trimmed = path.trim().trim_matches('/');
    if trimmed.is_empty() {
        String::new()
    } else {
        format!("/{trimmed}")
    }
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client `x-request-id` kept; a longer one, or one with other
/// characters than letters, digits and `-_.:`, is replaced by a fresh id.
pub const MAX_REQUEST_ID_CHARS: usize = 128;

/// Drops a client's `x-request-id` that is too long or not of safe
/// characters, so [`SetRequestIdLayer`] gives the request its own: the id
/// is logged with every entry and echoed in the response.
async fn sanitize_request_id(
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let acceptable = |v: &axum::http::HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= MAX_REQUEST_ID_CHARS
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || b"-_.:".contains(c))
    };
    let headers = req.headers_mut();
    let all_good = headers.get_all(&REQUEST_ID).iter().count() <= 1
        && headers.get_all(&REQUEST_ID).iter().all(acceptable);
    if !all_good {
        headers.remove(&REQUEST_ID);
    }
    next.run(req).await
}

/// Turns any error answer that is not already a SCIM error (a rejection of
/// the router or of an extractor: a path that is not UTF-8, say) into one,
/// keeping its status and its text as the detail.
pub(crate) async fn scim_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    // A SCIM error already, or a page of the admin panel.
    let is_ours = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|ct| {
            let ct = ct.as_bytes();
            ct.starts_with(error::SCIM_JSON.as_bytes()) || ct.starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || is_ours {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let detail = if text.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        scimitar_proto::dialect::clip(text.trim())
    };
    let mut scim = ApiError::new(status.as_u16(), None, detail).into_response();
    for (name, value) in &parts.headers {
        if name != axum::http::header::CONTENT_TYPE && name != axum::http::header::CONTENT_LENGTH {
            scim.headers_mut().insert(name.clone(), value.clone());
        }
    }
    scim
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    let base = state.config().scim_base_path.clone();
    let scim = scim::router(state.clone());
    let scim = if base.is_empty() {
        scim
    } else {
        Router::new().nest(&base, scim)
    };
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(metrics::endpoint).route_layer(axum::middleware::from_fn_with_state(
                (state.clone(), auth::Scope::Metrics),
                auth::require_token,
            )),
        )
        .merge(api_doc::routes(
            admin::routes(state.clone()),
            app::routes(state.clone()),
        ))
        .merge(panel::routes(state.clone()))
        .merge(scim)
        .fallback(unknown_path)
        // Also for the operational and application routes, which are not
        // SCIM but whose clients deserve the same kind of error body.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(scim_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline,
        ))
        .layer(DefaultBodyLimit::max(state.config().max_body_bytes))
        .layer(CatchPanicLayer::custom(|_| {
            ApiError::new(500, None, "internal error; it has been logged").into_response()
        }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::from_fn(sanitize_request_id))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            untrusted_forwarding,
        ))
        .with_state(state)
}

/// `/metrics` alone, without a token: for a listener of its own
/// (`--metrics-listen`), reachable only where the operator binds it.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::endpoint))
        .with_state(state)
}

/// Drops `X-Forwarded-Host` and `X-Forwarded-Proto` unless the peer is a
/// configured proxy: otherwise any client would decide the `Location`,
/// `meta.location` and `$ref` of what it reads.
async fn untrusted_forwarding(
    State(state): State<AppState>,
    mut req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let trusted = auth::peer(&req).is_some_and(|ip| {
        let ip = ip.to_canonical();
        state
            .config()
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&ip))
    });
    if !trusted {
        let headers = req.headers_mut();
        headers.remove("x-forwarded-host");
        headers.remove("x-forwarded-proto");
    }
    next.run(req).await
}

/// Answers 503 (a SCIM error with `Retry-After`) when a request outlives
/// [`Config::request_timeout`]; dropping the handler rolls back its
/// transaction.
async fn deadline(
    State(state): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let limit = state.config().request_timeout;
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout = ?limit, "request timed out");
            ApiError::new(
                503,
                None,
                "the request could not be completed in time; retry shortly",
            )
            .into_response()
        }
    }
}

/// Ready when the database answers a read and this process can begin a
/// write, within a few seconds.
async fn readyz(State(state): State<AppState>) -> Response {
    let ping = tokio::time::timeout(std::time::Duration::from_secs(5), state.store().ping());
    match ping.await {
        Ok(Ok(())) => "ready".into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => {
            tracing::warn!("not ready: the database did not answer within 5 s");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(405, None, "this method is not supported on this endpoint")
}

async fn unknown_path() -> ApiError {
    ApiError::not_found("no such endpoint")
}
