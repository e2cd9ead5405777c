//! # scimitar-server: the HTTP surface
//!
//! [`router`] builds the whole application from an [`AppState`]: the SCIM
//! endpoints under a configurable base path, the host application's
//! session API, and the operational endpoints. It knows no SQL; everything
//! stored goes through `scimitar_core::Store`, and everything protocol
//! through `scimitar_proto`. Errors become SCIM error objects in exactly
//! one place, [`error::ApiError`].

mod admin;
pub mod app;
mod auth;
pub mod error;
mod extract;
pub mod journal;
mod metrics;
mod rate_limit;
mod scim;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use scimitar_core::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::error::ApiError;
use crate::journal::LogWriter;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;

/// Settings of a running server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where SCIM lives, e.g. `/scim/v2` or `/core/v1/scim/v2`.
    pub scim_base_path: String,
    /// The externally visible origin (`https://scim.example.com`) used in
    /// `meta.location` and `$ref`; derived from the `Host` header if unset.
    pub public_url: Option<String>,
    /// Bearer token of the host application's API; that API is off without it.
    pub operator_token: Option<String>,
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
}

impl Default for Config {
    fn default() -> Self {
        Config {
            scim_base_path: "/scim/v2".to_owned(),
            public_url: None,
            operator_token: None,
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
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    config: Config,
    log: LogWriter,
    limiter: RateLimiter,
    metrics: Metrics,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, mut config: Config, log: LogWriter) -> Self {
        config.scim_base_path = normalise_base_path(&config.scim_base_path);
        let limiter = RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst);
        AppState {
            inner: Arc::new(Inner {
                store,
                config,
                log,
                limiter,
                metrics: Metrics::default(),
            }),
        }
    }

    pub fn store(&self) -> &dyn Store {
        &*self.inner.store
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
        .route("/metrics", get(metrics::endpoint))
        .merge(admin::router(state.clone()))
        .merge(app::router(state.clone()))
        .merge(scim)
        .fallback(unknown_path)
        // Also for the operational and application routes, which are not
        // SCIM but whose clients deserve the same kind of error body.
        .method_not_allowed_fallback(method_not_allowed)
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
        .with_state(state)
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

async fn readyz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
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
