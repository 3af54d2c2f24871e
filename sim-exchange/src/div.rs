//! Division by a divisor fixed at start-up (the tick, the lot step) as a multiply.
//!
//! Validating a price and finding its level each divide by the tick on every
//! operation; a hardware 64-bit divide costs tens of cycles, a 64×64→128 multiply a
//! few. With `m = ceil(2^64 / d)`, `floor(n * m / 2^64) == n / d` for every
//! `n < 2^32` and `0 < d < 2^32` (the error term `n·(m·d − 2^64)/(d·2^64)` stays
//! below `1/d`); larger `n` falls back to the hardware divide.

/// A divisor with its reciprocal.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Divisor {
    d: u64,
    m: u64,
}

impl Divisor {
    /// A divisor; `d` must be positive.
    pub(crate) const fn new(d: u64) -> Divisor {
        assert!(d > 0, "a divisor is positive");
        let m = if d == 1 || d >= 1 << 32 { 0 } else { u64::MAX / d + 1 };
        Divisor { d, m }
    }

    /// `n / d`.
    #[inline]
    pub(crate) const fn div(self, n: u64) -> u64 {
        if self.m != 0 && n < 1 << 32 {
            ((n as u128 * self.m as u128) >> 64) as u64
        } else {
            n / self.d
        }
    }

    /// `(n / d, n % d)`.
    #[inline]
    pub(crate) const fn div_rem(self, n: u64) -> (u64, u64) {
        let q = self.div(n);
        (q, n - q * self.d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_hardware_divide() {
        let mut rng = testkit::Rng::new(88172645463325252);
        for d in [
            1u64,
            2,
            3,
            7,
            10,
            100,
            200,
            1_000,
            10_007,
            65_536,
            999_999,
            (1 << 32) - 1,
            1 << 32,
            1 << 40,
        ] {
            let div = Divisor::new(d);
            for n in [0u64, 1, d - 1, d, d + 1, (1 << 32) - 1, 1 << 32, u64::MAX] {
                assert_eq!(div.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
            for _ in 0..20_000 {
                let x = rng.next_u64();
                let n = if x & 1 == 0 { x >> 32 } else { x };
                assert_eq!(div.div_rem(n), (n / d, n % d), "{n} / {d}");
            }
        }
    }
}
