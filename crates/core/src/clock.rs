//! The clock of the time-bound rules.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::model::Micros;

/// Where time-bound rules (rate limits, how long an API key is trusted
/// without asking the database) read the time: the system's monotonic
/// clock, or a clock that moves only when told to, for tests that then
/// need no sleeps and no timing assumptions.
#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Manual>>);

struct Manual {
    now: Mutex<Instant>,
    /// When the clock was made, on both scales.
    start: Instant,
    start_wall: Micros,
}

impl Clock {
    /// A clock that stands still until [`Clock::advance`]d.
    pub fn manual() -> Self {
        let start = Instant::now();
        Clock(Some(Arc::new(Manual {
            now: Mutex::new(start),
            start,
            start_wall: crate::model::now(),
        })))
    }

    /// Moves a manual clock on; the system clock moves by itself.
    pub fn advance(&self, by: Duration) {
        if let Some(manual) = &self.0 {
            *manual.now.lock().unwrap_or_else(PoisonError::into_inner) += by;
        }
    }

    /// The time now.
    pub fn now(&self) -> Instant {
        match &self.0 {
            None => Instant::now(),
            Some(manual) => *manual.now.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// The wall-clock time now, in microseconds since the epoch (a manual
    /// clock's moves on with it).
    pub fn micros(&self) -> Micros {
        match &self.0 {
            None => crate::model::now(),
            Some(manual) => {
                let gone = self.now().saturating_duration_since(manual.start);
                let gone = Micros::try_from(gone.as_micros()).unwrap_or(Micros::MAX);
                manual.start_wall.saturating_add(gone)
            }
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "manual" } else { "system" })
    }
}
