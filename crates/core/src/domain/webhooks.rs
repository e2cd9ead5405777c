//! Webhooks: the endpoints an operator registers, where they may point,
//! and what each delivery attempt's outcome does to an endpoint.
//!
//! Delivery itself (the HTTP client, the loop that claims endpoints) lives
//! with the server; every decision it makes is asked of this module: which
//! URLs may be called ([`OutboundPolicy`]), when an endpoint is tried again
//! or given up on ([`Delivery::after`]).

use std::net::IpAddr;
use std::time::Duration;

use base64::Engine as _;
use rand::RngCore as _;
use scimitar_proto::ScimError;
use serde::Serialize;

use super::Service;
use super::feed::EVENT_TYPES;
use crate::error::{CoreError, Result};
use crate::ids::{TenantId, WebhookEndpointId};
use crate::model::{Attempt, Delivery, Micros, Slice, WebhookEndpoint};
use crate::store::{EndpointChange, NewEndpoint};

/// Longest endpoint URL, in bytes.
pub const MAX_URL_BYTES: usize = 2048;

/// How long an endpoint is retried without a single success before it is
/// disabled.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(3 * 86_400);

/// How long the secret before a rotation keeps signing, beside the new
/// one: receivers have this long to switch.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(86_400);

/// The first retry's delay; each next one doubles, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(4 * 3600);
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// An endpoint as registered, with its signing secret, shown this once.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IssuedEndpoint {
    /// The endpoint, as it is listed afterwards.
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`), for the receiver's verifier.
    pub secret: String,
}

/// Where webhooks may go. By default only to `https://` URLs of public
/// addresses; the operator allows plain HTTP, and private or loopback
/// addresses, for named hosts (`HOST` or `HOST:PORT`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboundPolicy {
    allowed: Vec<(String, Option<u16>)>,
}

impl OutboundPolicy {
    /// The policy allowing `hosts`: `HOST[:PORT]` separated by commas
    /// (`[v6]:PORT` for an IPv6 address).
    pub fn allowing(hosts: &str) -> std::result::Result<Self, String> {
        let mut allowed = Vec::new();
        for entry in hosts.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if entry.contains(['/', '@', '?', '#']) {
                return Err(format!("'{entry}' is not HOST or HOST:PORT"));
            }
            let url = url::Url::parse(&format!("http://{entry}/"))
                .map_err(|e| format!("'{entry}' is not HOST or HOST:PORT: {e}"))?;
            let host = url
                .host_str()
                .ok_or_else(|| format!("'{entry}' names no host"))?;
            let port = entry
                .rsplit_once(':')
                .filter(|(_, p)| p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty())
                .map(|_| url.port().unwrap_or(80));
            allowed.push((host.to_ascii_lowercase(), port));
        }
        Ok(OutboundPolicy { allowed })
    }

    /// Whether the operator named `host` (on any port, or on `port`).
    fn names(&self, host: &str, port: Option<u16>) -> bool {
        self.allowed
            .iter()
            .any(|(h, p)| h.eq_ignore_ascii_case(host) && (p.is_none() || *p == port))
    }

    /// Whether `host` may resolve to private and loopback addresses.
    pub fn allows_private(&self, host: &str) -> bool {
        self.allowed
            .iter()
            .any(|(h, _)| h.eq_ignore_ascii_case(host))
    }

    /// The URL if a webhook may be sent to it; else why not.
    pub fn check(&self, raw: &str) -> std::result::Result<url::Url, String> {
        if raw.len() > MAX_URL_BYTES {
            return Err(format!("the URL is longer than {MAX_URL_BYTES} bytes"));
        }
        let url = url::Url::parse(raw).map_err(|e| format!("'{raw}' is not a URL: {e}"))?;
        let host = url
            .host_str()
            .ok_or_else(|| "the URL names no host".to_owned())?;
        let named = self.names(host, url.port_or_known_default());
        match url.scheme() {
            "https" => {}
            "http" if named => {}
            "http" => {
                return Err(format!(
                    "webhooks go to https:// URLs; plain HTTP to {host} needs the operator's \
                     --webhook-allow-http"
                ));
            }
            other => return Err(format!("webhooks go to https:// URLs, not {other}:")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("the URL must not carry a user name or password".to_owned());
        }
        if url.fragment().is_some() {
            return Err("the URL must not have a #fragment".to_owned());
        }
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal.filter(|ip| !is_public(*ip))
            && !self.allows_private(host)
        {
            return Err(format!(
                "{ip} is a private, loopback or reserved address; webhooks go to public ones \
                 unless the operator allows the host with --webhook-allow-http"
            ));
        }
        Ok(url)
    }
}

/// Whether `ip` is an address on the public internet: not loopback,
/// private, link-local (cloud metadata services live there), shared,
/// multicast, reserved or unspecified.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || (a == 198 && (18..20).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || first == 0x2001 && v6.segments()[1] == 0x0db8
                // NAT64 and 6to4 carry an IPv4 address that may be private.
                || first == 0x0064
                || first == 0x2002)
        }
    }
}

/// A fresh signing secret: `whsec_` and 32 random bytes in base64, as
/// Standard Webhooks verifiers read it.
fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The sequence number of an event id (`evt_42`), if it is one.
pub fn event_seq(id: &str) -> Option<i64> {
    id.trim()
        .strip_prefix("evt_")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 1)
}

fn micros(d: Duration) -> Micros {
    Micros::try_from(d.as_micros()).unwrap_or(Micros::MAX)
}

fn rejected(detail: impl Into<String>) -> CoreError {
    CoreError::Rejected(ScimError::invalid_value(detail))
}

/// The event types named, checked; empty: every type.
fn check_types(types: Vec<String>) -> Result<Vec<String>> {
    let mut checked: Vec<String> = Vec::with_capacity(types.len());
    for t in types {
        let t = t.trim().to_owned();
        if !EVENT_TYPES.contains(&t.as_str()) {
            return Err(rejected(format!(
                "'{t}' is not an event type; the types are {}",
                EVENT_TYPES.join(", ")
            )));
        }
        if !checked.contains(&t) {
            checked.push(t);
        }
    }
    Ok(checked)
}

impl Delivery {
    /// What `attempt` at delivering event `seq` does to the endpoint at
    /// `now`: a success moves it past the event; `410 Gone` disables it; a
    /// failure schedules the next attempt (after `retry_after` when the
    /// endpoint asked with 429 or 503, else with exponential back-off and
    /// jitter), unless the endpoint has failed for [`GIVE_UP_AFTER`], which
    /// disables it. Returns whether the event was delivered.
    pub fn after(
        &mut self,
        seq: i64,
        attempt: &Attempt,
        retry_after: Option<Duration>,
        now: Micros,
    ) -> bool {
        if attempt.succeeded() {
            self.delivered_through = seq;
            self.failures = 0;
            self.failing_since = None;
            self.next_attempt = now;
            return true;
        }
        let since = *self.failing_since.get_or_insert(now);
        self.failures += 1;
        let why = attempt
            .error
            .clone()
            .or_else(|| attempt.status.map(|s| format!("answered {s}")))
            .unwrap_or_default();
        if attempt.status == Some(410) {
            self.disable(now, "the endpoint answered 410 Gone".to_owned());
        } else if now.saturating_sub(since) >= micros(GIVE_UP_AFTER) {
            self.disable(
                now,
                format!("every attempt failed for 3 days; the last: {why}"),
            );
        } else {
            let asked = retry_after.filter(|_| matches!(attempt.status, Some(429 | 503)));
            let delay = match asked {
                Some(asked) => asked.clamp(Duration::from_secs(1), MAX_RETRY_AFTER),
                None => backoff(self.failures),
            };
            self.next_attempt = now.saturating_add(micros(delay));
        }
        false
    }

    fn disable(&mut self, now: Micros, reason: String) {
        self.disabled = Some(now);
        self.disabled_reason = Some(reason);
    }
}

/// The delay before the attempt after the `failures`th failure in a row:
/// doubling from [`FIRST_BACKOFF`] up to [`MAX_BACKOFF`], each within
/// ±20 % so endpoints that failed together are not retried together.
fn backoff(failures: i64) -> Duration {
    let doublings = u32::try_from(failures.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = FIRST_BACKOFF
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF);
    base.mul_f64(rand::random_range(0.8..1.2))
}

impl Service {
    /// Where webhooks may go.
    pub fn outbound(&self) -> &OutboundPolicy {
        &self.outbound
    }

    /// Registers an endpoint for the events committed from now on, of
    /// `tenant` (every tenant's when `None`) and of `types` (every type
    /// when empty).
    pub async fn create_webhook_endpoint(
        &self,
        url: &str,
        tenant: Option<&TenantId>,
        types: Vec<String>,
    ) -> Result<IssuedEndpoint> {
        let url = self.outbound.check(url.trim()).map_err(rejected)?;
        let types = check_types(types)?;
        if let Some(tenant) = tenant {
            self.store.get_tenant(tenant).await?;
        }
        let secret = generate_secret();
        let endpoint = self
            .store
            .create_endpoint(NewEndpoint {
                url: url.to_string(),
                tenant: tenant.cloned(),
                types,
                secret: secret.clone(),
                created: self.clock.micros(),
            })
            .await?;
        Ok(IssuedEndpoint { endpoint, secret })
    }

    /// Every endpoint, oldest first.
    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        self.store.list_endpoints().await
    }

    /// One endpoint.
    pub async fn webhook_endpoint(&self, id: &WebhookEndpointId) -> Result<WebhookEndpoint> {
        self.store.get_endpoint(id).await
    }

    /// Changes where an endpoint points, which types it wants, and whether
    /// it is delivered to. Enabling it again starts over from where it
    /// stopped, at once, with its failures forgotten.
    pub async fn change_webhook_endpoint(
        &self,
        id: &WebhookEndpointId,
        url: Option<&str>,
        types: Option<Vec<String>>,
        enabled: Option<bool>,
    ) -> Result<WebhookEndpoint> {
        let url = url
            .map(|u| self.outbound.check(u.trim()).map_err(rejected))
            .transpose()?;
        let types = types.map(check_types).transpose()?;
        let current = self.store.get_endpoint(id).await?;
        let now = self.clock.micros();
        let delivery = match enabled {
            Some(true) if current.disabled.is_some() => Some(Delivery {
                next_attempt: now,
                failures: 0,
                failing_since: None,
                disabled: None,
                disabled_reason: None,
                ..current.delivery()
            }),
            Some(false) if current.disabled.is_none() => {
                let mut d = current.delivery();
                d.disable(now, "disabled by an operator".to_owned());
                Some(d)
            }
            _ => None,
        };
        let change = EndpointChange {
            url: url.map(String::from),
            types,
            delivery,
            secret: None,
        };
        self.store.change_endpoint(id, change).await
    }

    /// Delivers the endpoint's events again from event `from` (its
    /// sequence number) on, enabling it if it was disabled. Events before
    /// what retention kept cannot be replayed.
    pub async fn replay_webhook_endpoint(
        &self,
        id: &WebhookEndpointId,
        from: i64,
    ) -> Result<WebhookEndpoint> {
        let current = self.store.get_endpoint(id).await?;
        let horizon = self.store.events_horizon().await?;
        if from <= horizon {
            return Err(rejected(format!(
                "evt_{from} is older than the events kept; the oldest that can be replayed is \
                 evt_{}",
                horizon + 1
            )));
        }
        let delivery = Delivery {
            delivered_through: from - 1,
            next_attempt: self.clock.micros(),
            failures: 0,
            failing_since: None,
            disabled: None,
            disabled_reason: None,
        };
        let change = EndpointChange {
            delivery: Some(delivery),
            ..EndpointChange::default()
        };
        self.store.change_endpoint(&current.id, change).await
    }

    /// Gives an endpoint a new secret; the current one keeps signing
    /// beside it for [`ROTATION_OVERLAP`].
    pub async fn rotate_webhook_secret(&self, id: &WebhookEndpointId) -> Result<IssuedEndpoint> {
        let secret = generate_secret();
        let until = self.clock.micros().saturating_add(micros(ROTATION_OVERLAP));
        let change = EndpointChange {
            secret: Some((secret.clone(), until)),
            ..EndpointChange::default()
        };
        let endpoint = self.store.change_endpoint(id, change).await?;
        Ok(IssuedEndpoint { endpoint, secret })
    }

    /// Deletes an endpoint and its attempt log.
    pub async fn delete_webhook_endpoint(&self, id: &WebhookEndpointId) -> Result<()> {
        self.store.delete_endpoint(id).await
    }

    /// An endpoint's delivery attempts, newest first, before position
    /// `before`.
    pub async fn webhook_attempts(
        &self,
        id: &WebhookEndpointId,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Slice<(i64, Attempt)>> {
        self.store.get_endpoint(id).await?;
        self.store.attempts(id, before, limit.clamp(1, 1000)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status: Option<u16>) -> Attempt {
        Attempt {
            event_seq: 7,
            time: 0,
            status,
            error: status.is_none().then(|| "connection refused".to_owned()),
            millis: 1,
        }
    }

    fn fresh() -> Delivery {
        Delivery {
            delivered_through: 6,
            next_attempt: 0,
            failures: 0,
            failing_since: None,
            disabled: None,
            disabled_reason: None,
        }
    }

    #[test]
    fn a_success_moves_past_the_event_and_forgets_failures() {
        let mut d = fresh();
        assert!(!d.after(7, &attempt(Some(500)), None, 10));
        assert_eq!(
            (d.delivered_through, d.failures, d.failing_since),
            (6, 1, Some(10))
        );
        assert!(d.after(7, &attempt(Some(204)), None, 20));
        assert_eq!(
            (d.delivered_through, d.failures, d.failing_since),
            (7, 0, None)
        );
    }

    #[test]
    fn failures_back_off_exponentially_with_jitter() {
        let mut d = fresh();
        let mut delays = Vec::new();
        for _ in 0..14 {
            let now = d.next_attempt;
            d.after(7, &attempt(None), None, now);
            delays.push(d.next_attempt - now);
        }
        let secs = |n: usize| delays[n] as f64 / 1e6;
        assert!((4.0..=6.0).contains(&secs(0)), "{delays:?}");
        assert!((8.0..=12.0).contains(&secs(1)), "{delays:?}");
        assert!((16.0..=24.0).contains(&secs(2)), "{delays:?}");
        assert!(secs(13) <= 4.0 * 3600.0 * 1.2 && secs(13) >= 4.0 * 3600.0 * 0.8);
        assert!(d.disabled.is_none());
    }

    #[test]
    fn retry_after_is_honoured_for_429_and_503_only() {
        let mut d = fresh();
        d.after(7, &attempt(Some(429)), Some(Duration::from_secs(120)), 0);
        assert_eq!(d.next_attempt, 120_000_000);
        d.after(
            7,
            &attempt(Some(503)),
            Some(Duration::from_secs(7 * 86_400)),
            0,
        );
        assert_eq!(d.next_attempt, 86_400_000_000, "capped at a day");
        d.after(7, &attempt(Some(500)), Some(Duration::from_secs(120)), 0);
        assert!(
            d.next_attempt < 120_000_000,
            "a 500's Retry-After is not asked for"
        );
    }

    #[test]
    fn gone_disables_at_once_and_three_days_of_failures_disable() {
        let mut d = fresh();
        d.after(7, &attempt(Some(410)), None, 5);
        assert_eq!(d.disabled, Some(5));
        assert!(d.disabled_reason.as_deref().unwrap().contains("410"));

        let mut d = fresh();
        d.after(7, &attempt(None), None, 0);
        d.after(7, &attempt(None), None, micros(GIVE_UP_AFTER) - 1);
        assert!(d.disabled.is_none());
        d.after(7, &attempt(None), None, micros(GIVE_UP_AFTER));
        let reason = d.disabled_reason.unwrap();
        assert!(
            reason.contains("3 days") && reason.contains("connection refused"),
            "{reason}"
        );
    }

    #[test]
    fn only_https_to_public_addresses_unless_allowed() {
        let strict = OutboundPolicy::default();
        assert!(strict.check("https://hooks.example.com/scim").is_ok());
        for bad in [
            "http://hooks.example.com/",
            "ftp://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#x",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[::ffff:192.168.0.1]/",
            "https://[fd00::1]/",
            "https://0x7f.1/",
            "https://100.64.0.1/",
            "not a url",
        ] {
            assert!(strict.check(bad).is_err(), "{bad} was allowed");
        }
        let dev = OutboundPolicy::allowing("127.0.0.1:8080, localhost").unwrap();
        assert!(dev.check("http://127.0.0.1:8080/hook").is_ok());
        assert!(
            dev.check("http://127.0.0.1:9090/hook").is_err(),
            "another port"
        );
        assert!(dev.check("http://localhost:1234/").is_ok());
        assert!(dev.allows_private("LOCALHOST"));
        assert!(!dev.allows_private("example.com"));
        assert!(OutboundPolicy::allowing("http://x/").is_err());
    }

    #[test]
    fn unknown_and_repeated_types() {
        assert!(check_types(vec!["user.exploded".into()]).is_err());
        assert_eq!(
            check_types(vec!["user.created".into(), " user.created".into()]).unwrap(),
            vec!["user.created"]
        );
    }
}
