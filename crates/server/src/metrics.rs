//! Prometheus metrics without a metrics library: a fixed set of atomic
//! counters and one latency histogram, rendered in the text exposition
//! format at `/metrics`. Fixed label sets keep recording lock-free.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

const METHODS: [&str; 6] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OTHER"];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; CLASSES.len()]; METHODS.len()],
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

fn method_index(method: &Method) -> usize {
    match *method {
        Method::GET => 0,
        Method::POST => 1,
        Method::PUT => 2,
        Method::PATCH => 3,
        Method::DELETE => 4,
        _ => 5,
    }
}

impl Metrics {
    fn record(&self, method: &Method, status: u16, started: Instant) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.requests[method_index(method)][class].fetch_add(1, Ordering::Relaxed);
        let elapsed = started.elapsed();
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.latency_count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The text exposition format (version 0.0.4).
    /// `log_dropped`: provisioning log entries dropped so far;
    /// `database_bytes`: the database's size, when it could be read.
    pub fn render(&self, log_dropped: u64, database_bytes: Option<u64>) -> String {
        let mut out = String::new();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        out.push_str("# HELP scimitar_http_requests_total HTTP requests answered.\n");
        out.push_str("# TYPE scimitar_http_requests_total counter\n");
        for (m, method) in METHODS.iter().enumerate() {
            for (c, class) in CLASSES.iter().enumerate() {
                let n = load(&self.requests[m][c]);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "scimitar_http_requests_total{{method=\"{method}\",status=\"{class}\"}} {n}"
                    );
                }
            }
        }
        out.push_str("# HELP scimitar_http_request_duration_seconds Time to answer a request.\n");
        out.push_str("# TYPE scimitar_http_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += load(&self.latency_buckets[i]);
            let _ = writeln!(
                out,
                "scimitar_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = load(&self.latency_count);
        let _ = writeln!(
            out,
            "scimitar_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "scimitar_http_request_duration_seconds_sum {}",
            load(&self.latency_sum_micros) as f64 / 1e6
        );
        let _ = writeln!(out, "scimitar_http_request_duration_seconds_count {count}");
        out.push_str(
            "# HELP scimitar_provisioning_log_dropped_total Log entries dropped because the \
             database fell behind.\n",
        );
        out.push_str("# TYPE scimitar_provisioning_log_dropped_total counter\n");
        let _ = writeln!(out, "scimitar_provisioning_log_dropped_total {log_dropped}");
        if let Some(bytes) = database_bytes {
            out.push_str("# HELP scimitar_database_bytes Size of the database on disk.\n");
            out.push_str("# TYPE scimitar_database_bytes gauge\n");
            let _ = writeln!(out, "scimitar_database_bytes {bytes}");
        }
        out
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
