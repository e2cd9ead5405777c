//! `scimitar serve`: the server's settings, and its wiring — the store, the
//! provisioning log's writer, retention, the listeners and a graceful
//! stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use scimitar_core::domain::OutboundPolicy;
use scimitar_server::journal::LogWriter;
use scimitar_server::retention::{self, Retention};
use scimitar_server::serve::{self, Limits};
use scimitar_server::webhooks;
use scimitar_server::{AppState, Config, Secret, metrics_router, router};

use crate::{Database, open, redact};

#[derive(Args)]
pub struct Serve {
    /// Address to listen on.
    #[arg(long, env = "SCIMITAR_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    #[command(flatten)]
    db: Database,
    /// Where SCIM lives, e.g. /core/v1/scim/v2.
    #[arg(long, env = "SCIMITAR_SCIM_BASE_PATH", default_value = "/scim/v2")]
    scim_base_path: String,
    /// Public origin used in resource locations, e.g. https://scim.example.com.
    #[arg(long, env = "SCIMITAR_PUBLIC_URL")]
    public_url: Option<String>,
    /// Bearer token of the admin API (/admin/v1); off when unset. At least
    /// 32 characters.
    #[arg(long, env = "SCIMITAR_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// A file holding the admin token (keeps it out of the process list).
    #[arg(
        long,
        env = "SCIMITAR_ADMIN_TOKEN_FILE",
        conflicts_with = "admin_token"
    )]
    admin_token_file: Option<PathBuf>,
    /// Bearer token of the host application's API (/app/v1); off when unset.
    #[arg(long, env = "SCIMITAR_APP_TOKEN", hide_env_values = true)]
    app_token: Option<String>,
    /// A file holding the application token.
    #[arg(long, env = "SCIMITAR_APP_TOKEN_FILE", conflicts_with = "app_token")]
    app_token_file: Option<PathBuf>,
    /// Deprecated: one token for both APIs. Use --admin-token and --app-token.
    #[arg(long, env = "SCIMITAR_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
    /// Bearer token of /metrics on the main listener.
    #[arg(long, env = "SCIMITAR_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serve /metrics, without a token, on this address of its own (e.g.
    /// an internal interface).
    #[arg(long, env = "SCIMITAR_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Proxies (addresses or CIDR ranges, comma-separated) whose
    /// X-Forwarded-Host and X-Forwarded-Proto are believed.
    #[arg(long, env = "SCIMITAR_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxies: Vec<String>,
    /// Largest accepted request body, in bytes.
    #[arg(long, env = "SCIMITAR_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    max_body_bytes: usize,
    /// SCIM requests per second each tenant may make on average (0: no limit).
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_PER_SECOND", default_value_t = 200)]
    rate_limit_per_second: u32,
    /// Requests a tenant may make in one burst before the average applies.
    #[arg(long, env = "SCIMITAR_RATE_LIMIT_BURST", default_value_t = 400)]
    rate_limit_burst: u32,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "SCIMITAR_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    request_timeout_secs: u64,
    /// Seconds a client may take to send a request's headers, or keep a
    /// connection idle between requests.
    #[arg(long, env = "SCIMITAR_HEADER_READ_TIMEOUT_SECS", default_value_t = 10)]
    header_read_timeout_secs: u64,
    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "SCIMITAR_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// Seconds a graceful shutdown waits for requests in flight.
    #[arg(long, env = "SCIMITAR_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    shutdown_grace_secs: u64,
    /// Lifetime of sessions created through the application API, in seconds.
    #[arg(long, env = "SCIMITAR_SESSION_TTL_SECS", default_value_t = 12 * 3600)]
    session_ttl_secs: i64,
    /// Seconds a portal link into the admin panel may wait to be opened.
    #[arg(long, env = "SCIMITAR_PORTAL_LINK_TTL_SECS", default_value_t = 300)]
    portal_link_ttl_secs: u64,
    /// Days the provisioning log is kept.
    #[arg(long, env = "SCIMITAR_LOG_RETENTION_DAYS", default_value_t = 90)]
    log_retention_days: u64,
    /// Days events are kept.
    #[arg(long, env = "SCIMITAR_EVENT_RETENTION_DAYS", default_value_t = 30)]
    event_retention_days: u64,
    /// Hosts (HOST or HOST:PORT, comma-separated) webhooks may reach over
    /// plain HTTP and at private or loopback addresses: for development
    /// and tests. Otherwise webhooks go to https:// URLs of public
    /// addresses only.
    #[arg(long, env = "SCIMITAR_WEBHOOK_ALLOW_HTTP", default_value = "")]
    webhook_allow_http: String,
}

pub async fn run(serve: Serve) -> Result<(), String> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = server_config(&serve)?;
    let store = open(&serve.db).await?;
    let (log, log_task) = LogWriter::start(store.clone());
    let retention = retention::start(
        store.clone(),
        Retention {
            log: days(serve.log_retention_days),
            events: days(serve.event_retention_days),
            ..Retention::default()
        },
    );
    let state = AppState::new(store, config, log);
    let deliverer = webhooks::start(state.service().clone(), webhooks::Settings::default())?;
    let app = router(state.clone());
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", serve.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    serve::raise_file_limit();
    let limits = Limits {
        header_read_timeout: Duration::from_secs(serve.header_read_timeout_secs.max(1)),
        max_connections: serve.max_connections.max(1),
        shutdown_grace: Duration::from_secs(serve.shutdown_grace_secs),
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let metrics = match serve.metrics_listen {
        Some(addr) => {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr} for metrics: {e}"))?;
            tracing::info!(address = %addr, "metrics are served on their own listener");
            let mut stopped = stopped.clone();
            Some(tokio::spawn(serve::serve(
                listener,
                metrics_router(state.clone()),
                limits,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )))
        }
        None => None,
    };
    drop(state);
    tracing::info!(address = %local, database = %redact(&serve.db.url), "scimitar is serving");
    // The only line on stdout: where the server listens (useful with port 0).
    println!("listening on {local}");
    serve::serve(listener, app, limits, async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    })
    .await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    retention.abort();
    deliverer.stop(limits.shutdown_grace).await;
    // The router (and with it every log sender) is gone: flush the log.
    log_task.finish().await;
    tracing::info!("scimitar stopped");
    Ok(())
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n.saturating_mul(86_400))
}

/// A token from its flag or its file; empty means unset.
fn token(
    value: Option<&str>,
    file: Option<&PathBuf>,
    what: &str,
) -> Result<Option<Secret>, String> {
    let raw = match (value, file) {
        (_, Some(path)) => Some(
            std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the {what} from {}: {e}", path.display()))?,
        ),
        (Some(v), None) => Some(v.to_owned()),
        (None, None) => None,
    };
    raw.filter(|t| !t.trim().is_empty())
        .map(|t| Secret::new(t, what))
        .transpose()
}

fn server_config(serve: &Serve) -> Result<Config, String> {
    let mut admin_token = token(
        serve.admin_token.as_deref(),
        serve.admin_token_file.as_ref(),
        "admin token",
    )?;
    let mut app_token = token(
        serve.app_token.as_deref(),
        serve.app_token_file.as_ref(),
        "app token",
    )?;
    if let Some(operator) = token(serve.operator_token.as_deref(), None, "operator token")? {
        tracing::warn!(
            "--operator-token (SCIMITAR_OPERATOR_TOKEN) is deprecated and will be removed: it \
             opens both the admin API and the application API; set --admin-token and \
             --app-token instead"
        );
        admin_token.get_or_insert_with(|| operator.clone());
        app_token.get_or_insert(operator);
    }
    let trusted_proxies = serve
        .trusted_proxies
        .iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| parse_proxy(p.trim()))
        .collect::<Result<_, _>>()?;
    Ok(Config {
        scim_base_path: serve.scim_base_path.clone(),
        public_url: serve.public_url.clone(),
        trusted_proxies,
        admin_token,
        app_token,
        metrics_token: token(serve.metrics_token.as_deref(), None, "metrics token")?,
        max_body_bytes: serve.max_body_bytes,
        session_ttl_secs: serve.session_ttl_secs.max(1),
        rate_limit_per_second: serve.rate_limit_per_second,
        rate_limit_burst: serve.rate_limit_burst,
        request_timeout: Duration::from_secs(serve.request_timeout_secs.max(1)),
        portal_link_ttl: Duration::from_secs(serve.portal_link_ttl_secs.clamp(1, 24 * 3600)),
        outbound: OutboundPolicy::allowing(&serve.webhook_allow_http)
            .map_err(|e| format!("--webhook-allow-http: {e}"))?,
        ..Config::default()
    })
}

/// `10.0.0.0/8`, or a single address.
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("--trusted-proxies: '{text}' is not an address or a CIDR range"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (hardening): `Debug` of the server configuration printed
    /// the operator token.
    #[test]
    fn the_server_configuration_never_prints_its_tokens() {
        let token = "a-very-secret-admin-token-0123456789abcdef";
        let config = Config {
            admin_token: Some(Secret::new(token, "admin token").unwrap()),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains(token), "{printed}");
        assert!(printed.contains("<hidden>"), "{printed}");
    }
}
