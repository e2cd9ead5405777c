//! What the database said, remembered by this process for a short time
//! ([`TRUSTED_FOR`]): an API key's tenant, a tenant's policies. A change
//! made through this process forgets everything at once; one made by
//! another process (the CLI, another `serve`) takes effect here within
//! [`TRUSTED_FOR`].

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long an answer of the database is trusted without asking again.
pub const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// Past this many entries, those no longer fresh are swept. Only answers
/// the database gave are remembered (valid keys, existing tenants), so the
/// map is bounded by what exists, never by what clients send.
const SWEEP_ABOVE: usize = 4096;

/// Values by key, with when each was read.
pub(super) struct Fresh<K, V> {
    inner: Mutex<Entries<K, V>>,
}

struct Entries<K, V> {
    values: HashMap<K, (V, Instant)>,
    /// Moves on at every [`Fresh::forget_all`], so a read that began
    /// before one does not remember what it read.
    generation: u64,
}

impl<K, V> Default for Fresh<K, V> {
    fn default() -> Self {
        Fresh {
            inner: Mutex::new(Entries {
                values: HashMap::new(),
                generation: 0,
            }),
        }
    }
}

impl<K: Eq + Hash, V: Clone> Fresh<K, V> {
    fn lock(&self) -> MutexGuard<'_, Entries<K, V>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value of `key` if it was read less than [`TRUSTED_FOR`] ago.
    pub(super) fn get(&self, key: &K, now: Instant) -> Option<V> {
        let entries = self.lock();
        let (value, read) = entries.values.get(key)?;
        (now.saturating_duration_since(*read) < TRUSTED_FOR).then(|| value.clone())
    }

    /// To pass to [`Fresh::remember`] with what is read after this.
    pub(super) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Remembers what was read at `now`, unless everything was forgotten
    /// since `generation`.
    pub(super) fn remember(&self, key: K, value: V, now: Instant, generation: u64) {
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.values.len() >= SWEEP_ABOVE {
            entries
                .values
                .retain(|_, (_, read)| now.saturating_duration_since(*read) < TRUSTED_FOR);
        }
        entries.values.insert(key, (value, now));
    }

    /// After a change: nothing is trusted until read again.
    pub(super) fn forget_all(&self) {
        let mut entries = self.lock();
        entries.values.clear();
        entries.generation += 1;
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().values.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_that_began_before_a_change_is_not_remembered() {
        let fresh = Fresh::<&str, u32>::default();
        let now = Instant::now();
        let before = fresh.generation();
        fresh.forget_all();
        fresh.remember("h", 1, now, before);
        assert_eq!(fresh.get(&"h", now), None);
        fresh.remember("h", 1, now, fresh.generation());
        assert_eq!(fresh.get(&"h", now), Some(1));
        assert_eq!(fresh.get(&"h", now + TRUSTED_FOR), None);
    }

    #[test]
    fn stale_entries_are_swept_so_the_map_stays_bounded() {
        let fresh = Fresh::<String, u32>::default();
        let start = Instant::now();
        for i in 0..SWEEP_ABOVE * 3 {
            let at = start + TRUSTED_FOR * u32::try_from(i / 1000).unwrap();
            fresh.remember(format!("h{i}"), 1, at, 0);
        }
        assert!(fresh.len() <= SWEEP_ABOVE, "{}", fresh.len());
    }
}
