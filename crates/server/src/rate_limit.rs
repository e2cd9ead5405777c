//! A per-tenant rate limit: one token bucket per tenant, in memory.
//!
//! The limit protects the database (and the other tenants sharing it) from
//! one tenant's runaway client, so it applies after authentication: only
//! tenants with a valid key get a bucket, and the map therefore grows with
//! the number of tenants, not with whatever an attacker sends. Identity
//! providers retry on 429 after `Retry-After`, so refusing is safe.
//!
//! Buckets live in a few independently locked shards; a check holds one
//! shard's lock for a handful of arithmetic operations, so requests of
//! different tenants rarely wait for each other. With several `serve`
//! processes each enforces its own limit: the limit is a guard rail, not a
//! billing meter.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use scimitar_core::ids::TenantId;

const SHARDS: usize = 16;

/// Token buckets of all tenants.
pub struct RateLimiter {
    /// Tokens added per second; `0.0` turns the limit off.
    rate: f64,
    /// The most tokens a bucket holds: how big a burst may be.
    burst: f64,
    shards: Vec<Mutex<HashMap<TenantId, Bucket>>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    /// `per_second` requests on average, bursts of up to `burst` (at least
    /// one); `per_second == 0` means no limit.
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }

    /// Takes a token from the tenant's bucket, or says how long until one
    /// is there.
    pub fn check(&self, tenant: &TenantId) -> Result<(), Duration> {
        self.check_at(tenant, Instant::now())
    }

    fn check_at(&self, tenant: &TenantId, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut hasher = DefaultHasher::new();
        tenant.hash(&mut hasher);
        let shard = &self.shards[(hasher.finish() as usize) % SHARDS];
        // A poisoned lock only means another request panicked mid-update of
        // plain numbers; the numbers are still usable.
        let mut buckets = shard.lock().unwrap_or_else(|p| p.into_inner());
        let bucket = buckets.entry(tenant.clone()).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let limiter = RateLimiter::new(10, 3);
        let t = TenantId::from("t");
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check_at(&t, start).is_ok());
        }
        let wait = limiter.check_at(&t, start).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(100));
        // 100 ms later one token is back, and only one.
        let later = start + Duration::from_millis(100);
        assert!(limiter.check_at(&t, later).is_ok());
        assert!(limiter.check_at(&t, later).is_err());
        // Another tenant has its own bucket.
        assert!(limiter.check_at(&TenantId::from("u"), later).is_ok());
    }

    #[test]
    fn zero_rate_is_no_limit() {
        let limiter = RateLimiter::new(0, 0);
        let t = TenantId::from("t");
        for _ in 0..10_000 {
            assert!(limiter.check(&t).is_ok());
        }
    }
}
