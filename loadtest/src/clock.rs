//! The harness's clock and random numbers.
//!
//! Every time in the harness is nanoseconds since the run's origin, read from the
//! monotonic clock. Intended send times, receive times and the schedule all use it,
//! so a latency is a plain subtraction.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Monotonic nanoseconds since the clock was made.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    origin: Instant,
    origin_unix_ns: u64,
}

impl Clock {
    /// A clock whose zero is now.
    pub fn new() -> Clock {
        let origin_unix_ns =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
        Clock { origin: Instant::now(), origin_unix_ns }
    }

    /// Nanoseconds since the origin.
    #[inline]
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// A Unix-nanosecond time stamp on this clock (`None` before the origin).
    pub fn from_unix_ns(&self, unix_ns: u64) -> Option<u64> {
        unix_ns.checked_sub(self.origin_unix_ns)
    }

    /// Unix nanoseconds of a clock reading (for operator commands that take wall time).
    pub fn unix_ns(&self, t_ns: u64) -> u64 {
        self.origin_unix_ns + t_ns
    }

    /// Waits until `t_ns`: sleeps while more than `spin_ns` remains, then spins. Used
    /// only where no socket needs watching (the event loop waits in `poll` instead).
    pub fn wait_until(&self, t_ns: u64, spin_ns: u64) {
        loop {
            let now = self.now_ns();
            if now >= t_ns {
                return;
            }
            let left = t_ns - now;
            if left > spin_ns {
                std::thread::sleep(Duration::from_nanos(left - spin_ns));
            } else {
                std::hint::spin_loop();
            }
        }
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// The flows' generator: the workspace's one seeded PRNG. Reports are
/// reproducible by seed; `tests::flow_sequence_is_fixed` pins the sequence.
pub use testkit::Rng;

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence the flows have always drawn (xorshift64* seeded through
    /// splitmix64): changing it would make old reports unreproducible.
    #[test]
    fn flow_sequence_is_fixed() {
        let mut r = Rng::new(7);
        let first: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(
            first,
            [
                0x14ea_a7d1_f828_843a,
                0x421d_9d8f_ff2d_1844,
                0x5aa5_48bb_d8c6_01d5,
                0x8da9_f11a_be19_1404
            ]
        );
        let mut r = Rng::new(42);
        let below: Vec<u64> = (0..5).map(|_| r.below(1000)).collect();
        assert_eq!(below, [194, 562, 486, 271, 803]);
    }
}
