//! The gateway's clock: Unix nanoseconds that never go backwards.
//!
//! The wall clock is read once at start-up; after that time advances with the
//! monotonic clock, so an NTP step cannot reorder the engine's inputs.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Monotonic Unix-epoch nanoseconds.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base_unix_ns: u64,
    base: Instant,
}

impl Clock {
    /// A clock anchored at the current wall-clock time.
    pub fn new() -> Clock {
        let base_unix_ns =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        Clock { base_unix_ns, base: Instant::now() }
    }

    /// A clock that reads `unix_ns` now (for replays that must continue after the
    /// last journaled time).
    pub fn starting_at(unix_ns: u64) -> Clock {
        Clock { base_unix_ns: unix_ns, base: Instant::now() }
    }

    /// Now, in Unix nanoseconds.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.base_unix_ns + self.base.elapsed().as_nanos() as u64
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
