//! Webhook delivery, per Standard Webhooks 1.0: each event of the outbox,
//! as the feed shows it, POSTed to every endpoint that wants it, signed,
//! in sequence order per endpoint, at least once.
//!
//! A deliverer claims endpoints that are due and behind the outbox (a
//! lease in the database, taken with `SKIP LOCKED` on PostgreSQL, so with
//! several processes each endpoint is delivered by one at a time), and
//! runs each: the next events after its cursor, one POST each, until one
//! fails or none is left. Progress (the cursor, the attempts) is written
//! at least every [`SAVE_EVERY`] and when the run ends; a process killed
//! in between delivers again, after its lease runs out, what it had not
//! written down — at least once, never skipped. A failing endpoint holds
//! back only its own events: what it does next is
//! [`scimitar_core::model::Delivery::after`]'s decision. A process that
//! stops ([`Delivering::stop`]) writes its progress down and gives its
//! leases back, so another process (or the same one restarted) goes on at
//! once rather than after the lease.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use std::task::Poll;

use axum::body::Bytes;
use axum::http::header::{CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use scimitar_core::domain::{OutboundPolicy, Service, is_public};
use scimitar_core::model::{Attempt, Claimed, Delivery, Event, Micros, now};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::app::feed_event;

/// How a deliverer runs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How often it looks for due endpoints when no commit woke it (a
    /// retry falls due, another process committed).
    pub poll: Duration,
    /// Endpoints delivered to at once.
    pub concurrency: u32,
    /// How long an attempt may take, connecting and answering.
    pub timeout: Duration,
    /// How long a claim holds an endpoint without being renewed.
    pub lease: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            poll: Duration::from_secs(1),
            concurrency: 16,
            timeout: Duration::from_secs(10),
            lease: Duration::from_secs(30),
        }
    }
}

/// Events read from the outbox at a time, per endpoint.
const BATCH: u32 = 100;
/// Progress is written at least this often during a run (which renews the
/// lease), so a crash delivers again at most this much.
const SAVE_EVERY: Duration = Duration::from_millis(250);
/// Most bytes of an endpoint's answer read (and thrown away).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Starts delivering in the background.
pub fn start(service: Service, settings: Settings) -> Result<Delivering, String> {
    let client = client(service.outbound().clone(), settings.timeout)?;
    let (stop, stopping) = watch::channel(false);
    let deliverer = Arc::new(Deliverer {
        owner: uuid::Uuid::new_v4().to_string(),
        service,
        client,
        settings,
        running: Mutex::default(),
        stopping,
    });
    Ok(Delivering {
        stop,
        task: tokio::spawn(deliverer.run()),
    })
}

/// Delivery in the background, as [`start`] began it.
pub struct Delivering {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Delivering {
    /// Stops: no more claims; each run ends after the attempt it is making
    /// (or at once, dropping an attempt still waiting for its answer, which
    /// is then made again), writes its progress down and gives its lease
    /// back. Whatever is still running after `grace` is dropped, its lease
    /// left to run out, as after a crash.
    pub async fn stop(mut self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            tracing::warn!("webhook delivery did not stop in time; its leases run out instead");
            self.task.abort();
        }
    }

    /// Stops at once, as a crash would: leases are left to run out.
    pub fn abort(&self) {
        self.task.abort();
    }
}

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<HttpConnector<Guarded>>,
    Full<Bytes>,
>;

/// The HTTP client: rustls with ring and the system's roots, HTTP/1.1, no
/// proxy, no redirects (hyper's client follows none), and a resolver that
/// refuses private addresses.
fn client(policy: OutboundPolicy, timeout: Duration) -> Result<HttpClient, String> {
    use rustls_platform_verifier::BuilderVerifierExt as _;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_platform_verifier())
        .map_err(|e| format!("webhooks' TLS: {e}"))?
        .with_no_client_auth();
    let mut http = HttpConnector::new_with_resolver(Guarded(Arc::new(policy)));
    http.enforce_http(false);
    http.set_connect_timeout(Some(timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https),
    )
}

/// Name resolution that keeps only the addresses webhooks may go to.
#[derive(Clone)]
struct Guarded(Arc<OutboundPolicy>);

impl tower::Service<Name> for Guarded {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = std::io::Error;
    type Future = futures_util::future::BoxFuture<'static, std::io::Result<Self::Response>>;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let private = self.0.allows_private(&host);
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = found.filter(|a| private || is_public(a.ip())).collect();
            if kept.is_empty() {
                return Err(std::io::Error::other(format!(
                    "{host} resolves only to private, loopback or reserved addresses"
                )));
            }
            Ok(kept.into_iter())
        })
    }
}

struct Deliverer {
    service: Service,
    client: HttpClient,
    settings: Settings,
    /// This deliverer's name on the leases it takes.
    owner: String,
    /// Endpoints this process is delivering to now.
    running: Mutex<HashSet<String>>,
    /// Becomes `true` when the process stops.
    stopping: watch::Receiver<bool>,
}

impl Deliverer {
    /// Claims and runs until stopped; then waits for the runs to end. (A
    /// run dropped with this task — the [`JoinSet`] aborts its tasks — is
    /// as a crash.)
    async fn run(self: Arc<Self>) {
        let commits = self.service.store().commits();
        let mut stopping = self.stopping.clone();
        let mut runs = JoinSet::new();
        while !*stopping.borrow() {
            let committed = commits.notified();
            tokio::pin!(committed);
            committed.as_mut().enable();
            if let Err(e) = Arc::clone(&self).claim(&mut runs).await {
                tracing::warn!(error = %e, "claiming webhook endpoints failed; trying again");
            }
            while runs.try_join_next().is_some() {}
            tokio::select! {
                () = committed => {}
                () = tokio::time::sleep(self.settings.poll) => {}
                _ = stopping.changed() => {}
            }
        }
        while runs.join_next().await.is_some() {}
    }

    /// Claims what is due, as far as there is room, and starts a run for
    /// each.
    async fn claim(self: Arc<Self>, runs: &mut JoinSet<()>) -> scimitar_core::Result<()> {
        let busy = self.lock_running().len();
        let room = (self.settings.concurrency as usize).saturating_sub(busy);
        if room == 0 {
            return Ok(());
        }
        let at = self.service.clock().micros();
        let claimed = self
            .service
            .store()
            .claim_endpoints(
                &self.owner,
                at,
                self.lease_from(at),
                u32::try_from(room).unwrap_or(u32::MAX),
            )
            .await?;
        for claim in claimed {
            let id = claim.endpoint.id.as_str().to_owned();
            if !self.lock_running().insert(id.clone()) {
                continue;
            }
            let this = Arc::clone(&self);
            runs.spawn(async move {
                // A run that ends well leaves `running` in its last save.
                if let Err(e) = this.deliver(claim).await {
                    tracing::warn!(error = %e, endpoint = id, "webhook delivery stopped");
                    this.lock_running().remove(&id);
                }
            });
        }
        Ok(())
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lease_from(&self, at: Micros) -> Micros {
        at.saturating_add(Micros::try_from(self.settings.lease.as_micros()).unwrap_or(0))
    }

    /// Delivers to one claimed endpoint until it is caught up, an attempt
    /// fails or the process stops, then gives the lease up.
    async fn deliver(&self, claim: Claimed) -> scimitar_core::Result<()> {
        let Claimed {
            mut endpoint,
            secrets,
        } = claim;
        let store = self.service.store();
        let mut stopping = self.stopping.clone();
        let mut attempts = Vec::new();
        let mut saved = Instant::now();
        let mut delivery = endpoint.delivery();
        loop {
            let (events, through) = store.pending_events(&endpoint, BATCH).await?;
            let last_batch = events.len() < BATCH as usize;
            for event in &events {
                let made = tokio::select! {
                    biased;
                    _ = stopping.wait_for(|s| *s) => None,
                    made = self.attempt(&endpoint.url, &secrets, event) => Some(made),
                };
                let Some((attempt, retry_after)) = made else {
                    return self.save(&endpoint, &delivery, &mut attempts, true).await;
                };
                let delivered = delivery.after(
                    event.seq,
                    &attempt,
                    retry_after,
                    self.service.clock().micros(),
                );
                attempts.push(attempt);
                if !delivered {
                    return self.save(&endpoint, &delivery, &mut attempts, true).await;
                }
                if saved.elapsed() >= SAVE_EVERY {
                    self.save(&endpoint, &delivery, &mut attempts, false)
                        .await?;
                    saved = Instant::now();
                }
            }
            delivery.delivered_through = delivery.delivered_through.max(through);
            endpoint.delivered_through = delivery.delivered_through;
            if last_batch {
                return self.save(&endpoint, &delivery, &mut attempts, true).await;
            }
        }
    }

    /// Writes down the attempts so far and where delivery stands; renews the
    /// lease, or gives it up when `done`. A lease lost in the meantime (this
    /// process stalled past it) ends the run.
    ///
    /// A run that is done leaves `running` before it gives the lease up: a
    /// claim that finds the lease free then finds the endpoint free here
    /// too. (The other way round, a claim in between took the lease and,
    /// seeing the run still listed, left it unused until it ran out.)
    async fn save(
        &self,
        endpoint: &scimitar_core::model::WebhookEndpoint,
        delivery: &Delivery,
        attempts: &mut Vec<Attempt>,
        done: bool,
    ) -> scimitar_core::Result<()> {
        let until = if done {
            self.lock_running().remove(endpoint.id.as_str());
            0
        } else {
            self.lease_from(self.service.clock().micros())
        };
        let held = self
            .service
            .store()
            .record_delivery(&endpoint.id, &self.owner, delivery, attempts, until)
            .await?;
        attempts.clear();
        if !held {
            return Err(scimitar_core::CoreError::Contended);
        }
        Ok(())
    }

    /// One POST of `event`; what happened, and how long the endpoint asked
    /// to wait (`Retry-After`).
    async fn attempt(
        &self,
        url: &str,
        secrets: &[String],
        event: &Event,
    ) -> (Attempt, Option<Duration>) {
        let started = Instant::now();
        let time = self.service.clock().micros();
        let outcome = self.post(url, secrets, event).await;
        let millis = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        let (status, error, retry_after) = match outcome {
            Ok((status, error, retry_after)) => (Some(status), error, retry_after),
            Err(error) => (None, Some(error), None),
        };
        let attempt = Attempt {
            event_seq: event.seq,
            time,
            status,
            error,
            millis,
        };
        (attempt, retry_after)
    }

    /// The endpoint's status, what was wrong with its answer, and its
    /// `Retry-After`; or why there was no answer.
    async fn post(
        &self,
        url: &str,
        secrets: &[String],
        event: &Event,
    ) -> Result<(u16, Option<String>, Option<Duration>), String> {
        // Asked at every attempt: the operator's allowances may have changed
        // since the endpoint was registered.
        let url = self.service.outbound().check(url)?;
        let wire = feed_event(event.clone());
        let body = serde_json::to_vec(&wire).map_err(|e| e.to_string())?;
        let headers = signed_headers(&wire.id, now() / 1_000_000, &body, secrets)?;
        let mut request = hyper::Request::post(url.as_str())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        *request.headers_mut() = headers;
        let exchange = async {
            let answer = self
                .client
                .request(request)
                .await
                .map_err(|e| describe(&e))?;
            let (parts, mut body) = answer.into_parts();
            // Read a little of the answer, so the connection can be used
            // again; what it says is not used.
            let mut read = 0;
            while read < MAX_ANSWER_BYTES {
                match body.frame().await {
                    Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
                    Some(Err(_)) | None => break,
                }
            }
            Ok::<_, String>(parts)
        };
        let answer = tokio::time::timeout(self.settings.timeout, exchange)
            .await
            .map_err(|_| format!("no answer within the timeout ({:?})", self.settings.timeout))??;
        let status = answer.status;
        let header = |name| {
            answer
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let retry_after = header(RETRY_AFTER).and_then(retry_after);
        let error = if status.is_redirection() {
            let to = header(LOCATION).unwrap_or("nowhere");
            Some(format!(
                "answered {status} to {to}; redirects are not followed"
            ))
        } else if status.is_success() {
            None
        } else {
            Some(format!("answered {status}"))
        };
        Ok((status.as_u16(), error, retry_after))
    }
}

/// The Standard Webhooks headers of one message: `webhook-id`,
/// `webhook-timestamp` and `webhook-signature`, a `v1,` signature per
/// secret (two during a rotation).
pub fn signed_headers(
    id: &str,
    timestamp: i64,
    body: &[u8],
    secrets: &[String],
) -> Result<HeaderMap, String> {
    let mut signatures = Vec::with_capacity(secrets.len());
    for secret in secrets {
        let key = base64::engine::general_purpose::STANDARD
            .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
            .map_err(|_| "the endpoint's secret is not base64".to_owned())?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        signatures.push(format!("v1,{signature}"));
    }
    let value = |s: String| HeaderValue::try_from(s).map_err(|e| e.to_string());
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("webhook-id", value(id.to_owned())?);
    headers.insert("webhook-timestamp", value(timestamp.to_string())?);
    headers.insert("webhook-signature", value(signatures.join(" "))?);
    Ok(headers)
}

/// A `Retry-After` in seconds or as an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = at.as_microsecond().saturating_sub(now());
    Some(Duration::from_micros(u64::try_from(wait).unwrap_or(0)))
}

/// Why a request got no answer, in a line an operator can act on.
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    use std::error::Error as _;
    let mut why = if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = e.source();
    while let Some(cause) = source {
        why.push_str(": ");
        why.push_str(&cause.to_string());
        source = cause.source();
    }
    why
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(Duration::ZERO)
        );
        let later = jiff::Timestamp::from_microsecond(now() + 3_600_000_000).unwrap();
        let header = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        let wait = retry_after(&header).unwrap();
        assert!(
            wait > Duration::from_secs(3590) && wait <= Duration::from_secs(3600),
            "{header}"
        );
        assert_eq!(retry_after("soon"), None);
    }
}
