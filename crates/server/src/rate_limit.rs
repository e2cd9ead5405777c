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

use scimitar_core::clock::Clock;

const SHARDS: usize = 16;
/// Most buckets one shard keeps. Keys that are not tenants (client
/// addresses of failed sign-ins) are the attacker's to choose: past this,
/// buckets that have refilled (and so say nothing) are swept.
const MAX_PER_SHARD: usize = 4096;

/// Token buckets, one per key: a tenant for SCIM requests, a client
/// address for failed authentications.
pub struct RateLimiter<K = scimitar_core::ids::TenantId> {
    /// Tokens added per second; `0.0` turns the limit off.
    rate: f64,
    /// The most tokens a bucket holds: how big a burst may be.
    burst: f64,
    shards: Vec<Mutex<HashMap<K, Bucket>>>,
    clock: Clock,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl<K: Hash + Eq + Clone> RateLimiter<K> {
    /// `per_second` requests on average, bursts of up to `burst` (at least
    /// one); `per_second == 0` means no limit.
    pub fn new(per_second: u32, burst: u32, clock: Clock) -> Self {
        RateLimiter {
            rate: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            clock,
        }
    }

    /// Takes a token from the key's bucket, or says how long until one
    /// is there.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.check_at(key, self.clock.now())
    }

    /// Whether the key's bucket has a token, without taking it.
    pub fn would_admit(&self, key: &K) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let now = self.clock.now();
        let buckets = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        buckets
            .get(key)
            .is_none_or(|b| self.refilled(b, now) >= 1.0)
    }

    fn shard(&self, key: &K) -> &Mutex<HashMap<K, Bucket>> {
        let mut hasher = DefaultHasher::new();
        key.hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % SHARDS]
    }

    fn refilled(&self, bucket: &Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    fn check_at(&self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        // A poisoned lock only means another request panicked mid-update of
        // plain numbers; the numbers are still usable.
        let mut buckets = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() >= MAX_PER_SHARD && !buckets.contains_key(key) {
            buckets.retain(|_, b| self.refilled(b, now) < self.burst);
            if buckets.len() >= MAX_PER_SHARD {
                // All busy: memory stays bounded, at the price of a fresh
                // start for the keys of this shard.
                buckets.clear();
            }
        }
        let bucket = buckets.entry(key.clone()).or_insert(Bucket {
            tokens: self.burst,
            refilled: now,
        });
        bucket.tokens = self.refilled(bucket, now);
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
    use scimitar_core::ids::TenantId;

    #[test]
    fn bucket_allows_a_burst_then_refills_at_the_rate() {
        let clock = Clock::manual();
        let limiter: RateLimiter = RateLimiter::new(10, 3, clock.clone());
        let t = TenantId::from("t");
        for _ in 0..3 {
            assert!(limiter.check(&t).is_ok());
        }
        assert_eq!(limiter.check(&t), Err(Duration::from_millis(100)));
        assert!(!limiter.would_admit(&t));
        // 100 ms later one token is back, and only one.
        clock.advance(Duration::from_millis(100));
        assert!(limiter.would_admit(&t));
        assert!(limiter.check(&t).is_ok());
        assert!(limiter.check(&t).is_err());
        // Another tenant has its own bucket.
        assert!(limiter.check(&TenantId::from("u")).is_ok());
        // A long pause refills to the burst, no further.
        clock.advance(Duration::from_secs(3600));
        for _ in 0..3 {
            assert!(limiter.check(&t).is_ok());
        }
        assert!(limiter.check(&t).is_err());
    }

    #[test]
    fn zero_rate_is_no_limit() {
        let limiter: RateLimiter = RateLimiter::new(0, 0, Clock::default());
        let t = TenantId::from("t");
        for _ in 0..10_000 {
            assert!(limiter.check(&t).is_ok());
        }
    }

    #[test]
    fn keys_chosen_by_a_client_cannot_grow_the_map_without_bound() {
        let limiter: RateLimiter<u64> = RateLimiter::new(1, 2, Clock::default());
        let now = Instant::now();
        for key in 0..(SHARDS * MAX_PER_SHARD * 3) as u64 {
            let _ = limiter.check_at(&key, now + Duration::from_secs(key / 1000));
        }
        let total: usize = limiter.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SHARDS * MAX_PER_SHARD, "{total}");
    }
}
