//! Fixed-size time windows for the message throttles and the duplicate-order
//! fingerprint: plain arrays, no allocation, time passed in.

use protocol::{Price, Qty, SecurityId, Side};

/// Nanoseconds per bucket of [`SlidingWindow`].
pub const BUCKET_NS: u64 = 100_000_000;
/// Buckets per window: 10 × 100 ms = one second.
pub const BUCKETS: usize = 10;

/// A one-second sliding count in ten 100 ms buckets.
///
/// The count covers the current bucket and the nine before it, so it looks back
/// between 0.9 and 1.0 s: a burst that straddles the oldest bucket's edge is
/// counted by at most 100 ms less than an exact window would. In exchange it is ten
/// counters per account instead of a timestamp per message.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SlidingWindow {
    buckets: [u32; BUCKETS],
    /// Absolute bucket number (`now_ns / BUCKET_NS`) of the newest bucket.
    newest: u64,
    sum: u32,
}

impl SlidingWindow {
    /// Counts one event at `now_ns` and returns the count in the window, this one
    /// included. Time that runs backwards counts into the newest bucket.
    #[inline]
    pub fn add(&mut self, now_ns: u64) -> u32 {
        self.advance(now_ns);
        let slot = (self.newest % BUCKETS as u64) as usize;
        self.buckets[slot] = self.buckets[slot].saturating_add(1);
        self.sum = self.sum.saturating_add(1);
        self.sum
    }

    /// The count in the window ending at `now_ns`, without adding.
    pub fn count(&mut self, now_ns: u64) -> u32 {
        self.advance(now_ns);
        self.sum
    }

    fn advance(&mut self, now_ns: u64) {
        let bucket = now_ns / BUCKET_NS;
        if bucket <= self.newest {
            return;
        }
        if bucket - self.newest >= BUCKETS as u64 {
            self.buckets = [0; BUCKETS];
            self.sum = 0;
        } else {
            for b in self.newest + 1..=bucket {
                let slot = (b % BUCKETS as u64) as usize;
                self.sum -= self.buckets[slot];
                self.buckets[slot] = 0;
            }
        }
        self.newest = bucket;
        debug_assert_eq!(self.sum, self.buckets.iter().sum::<u32>(), "window sum drifted");
    }

    /// Empties the window.
    pub fn clear(&mut self) {
        *self = SlidingWindow::default();
    }

    /// True when the running sum matches the buckets (a restored window must, or
    /// `advance` would underflow it).
    pub(crate) fn is_consistent(&self) -> bool {
        self.buckets.iter().try_fold(0u32, |sum, &b| sum.checked_add(b)) == Some(self.sum)
    }
}

/// Passed orders remembered per account for the duplicate-order check.
pub const FINGERPRINTS: usize = 8;

/// What makes two orders "the same order" for the duplicate check.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Fingerprint {
    /// Security.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// Price (zero for market orders).
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
}

/// The last [`FINGERPRINTS`] passed orders of one account with their times.
///
/// A ring, so an account that passes more than eight distinct orders inside the
/// window can evade the check for the oldest; at the default 100 ms window that
/// is 80 orders a second of distinct orders, which the throttles see instead.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub struct FingerprintRing {
    entries: [Option<(Fingerprint, u64)>; FINGERPRINTS],
    next: usize,
}

impl Default for FingerprintRing {
    fn default() -> FingerprintRing {
        FingerprintRing { entries: [None; FINGERPRINTS], next: 0 }
    }
}

impl FingerprintRing {
    /// The time of a remembered identical order less than `window_ns` before `now_ns`.
    #[inline]
    pub fn recent(&self, fp: &Fingerprint, now_ns: u64, window_ns: u64) -> Option<u64> {
        self.entries.iter().flatten().find_map(|(seen, at_ns)| {
            (seen == fp && now_ns.saturating_sub(*at_ns) < window_ns).then_some(*at_ns)
        })
    }

    /// Remembers a passed order.
    #[inline]
    pub fn remember(&mut self, fp: Fingerprint, now_ns: u64) {
        self.entries[self.next] = Some((fp, now_ns));
        self.next = (self.next + 1) % FINGERPRINTS;
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = FingerprintRing::default();
    }

    /// True when the next write position is inside the ring.
    pub(crate) fn is_consistent(&self) -> bool {
        self.next < FINGERPRINTS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Market;

    const MS: u64 = 1_000_000;

    #[test]
    fn window_forgets_after_one_second() {
        let mut w = SlidingWindow::default();
        let t0 = 5_000 * MS;
        for i in 0..10 {
            assert_eq!(w.add(t0 + i * 50 * MS), i as u32 + 1);
        }
        // 450 ms in: all ten still inside.
        assert_eq!(w.count(t0 + 999 * MS), 10);
        // The first two (t0, t0 + 50 ms) shared the bucket that now falls out.
        assert_eq!(w.count(t0 + 1_000 * MS), 8);
        assert_eq!(w.count(t0 + 3_000 * MS), 0);
        assert_eq!(w.add(t0 + 3_000 * MS), 1);
    }

    #[test]
    fn window_tolerates_time_going_backwards() {
        let mut w = SlidingWindow::default();
        assert_eq!(w.add(10 * BUCKET_NS), 1);
        assert_eq!(w.add(9 * BUCKET_NS), 2);
    }

    #[test]
    fn ring_matches_only_inside_the_window() {
        let fp = Fingerprint {
            security: SecurityId::new(Market::Sse, 600_000).unwrap(),
            side: Side::Buy,
            price: Price(100_000),
            qty: Qty(100),
        };
        let mut ring = FingerprintRing::default();
        ring.remember(fp, 1_000 * MS);
        assert_eq!(ring.recent(&fp, 1_099 * MS, 100 * MS), Some(1_000 * MS));
        assert_eq!(ring.recent(&fp, 1_100 * MS, 100 * MS), None);
        let other = Fingerprint { qty: Qty(200), ..fp };
        assert_eq!(ring.recent(&other, 1_050 * MS, 100 * MS), None);
    }
}
