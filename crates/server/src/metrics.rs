//! Prometheus metrics through the `metrics` facade, rendered by
//! `metrics-exporter-prometheus` (no listener of its own: `/metrics` is our
//! route, behind its token). Each application has its own recorder rather
//! than the process-global one, so two apps in one process (the tests) do
//! not count each other's requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use crate::AppState;

const REQUESTS: &str = "scimitar_http_requests_total";
const DURATION: &str = "scimitar_http_request_duration_seconds";
const LOG_DROPPED: &str = "scimitar_provisioning_log_dropped_total";
const DATABASE_BYTES: &str = "scimitar_database_bytes";

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Requests between two upkeeps, which fold recorded latencies into the
/// histogram, so memory stays bounded when nobody scrapes.
const UPKEEP_EVERY: u64 = 1024;

pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    recorded: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), &BUCKETS)
            // Refused only for an empty list of buckets.
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            describe_counter!(REQUESTS, "HTTP requests answered.");
            describe_histogram!(DURATION, Unit::Seconds, "Time to answer a request.");
            describe_counter!(
                LOG_DROPPED,
                "Log entries dropped because the database fell behind."
            );
            describe_gauge!(DATABASE_BYTES, Unit::Bytes, "Size of the database on disk.");
        });
        Metrics {
            recorder,
            handle,
            recorded: AtomicU64::new(0),
        }
    }
}

/// The method label: the five SCIM uses, everything else as one.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

impl Metrics {
    fn record(&self, method: &Method, status: u16, started: Instant) {
        const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
        let class = CLASSES[usize::from(status / 100).clamp(1, 5) - 1];
        let secs = started.elapsed().as_secs_f64();
        metrics::with_local_recorder(&self.recorder, || {
            counter!(REQUESTS, "method" => method_label(method), "status" => class).increment(1);
            histogram!(DURATION).record(secs);
        });
        if self.recorded.fetch_add(1, Ordering::Relaxed) % UPKEEP_EVERY == UPKEEP_EVERY - 1 {
            self.handle.run_upkeep();
        }
    }

    /// The text exposition format.
    /// `log_dropped`: provisioning log entries dropped so far;
    /// `database_bytes`: the database's size, when it could be read.
    pub fn render(&self, log_dropped: u64, database_bytes: Option<u64>) -> String {
        metrics::with_local_recorder(&self.recorder, || {
            counter!(LOG_DROPPED).absolute(log_dropped);
            if let Some(bytes) = database_bytes {
                gauge!(DATABASE_BYTES).set(bytes as f64);
            }
        });
        self.handle.render()
    }
}

/// Counts every request and its latency.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let response = next.run(req).await;
    state
        .metrics()
        .record(&method, response.status().as_u16(), started);
    response
}

pub async fn endpoint(State(state): State<AppState>) -> Response {
    let bytes = match state.store().database_bytes().await {
        Ok(b) => Some(b),
        Err(e) => {
            tracing::warn!(error = %e, "database size unavailable for /metrics");
            None
        }
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics().render(state.log().dropped(), bytes),
    )
        .into_response()
}
