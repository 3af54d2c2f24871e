//! Fees broken down by kind, rounded to the fen.
//!
//! An order's fees are a function of its side and the value filled so far
//! ([`order_fees`]): commission `max(minimum, rate × value)`, stamp duty
//! `rate × value` on sells only, transfer fee `rate × value` on both sides. Each
//! kind is rounded to the fen (0.01 CNY, 100 units of 1/10000 CNY) half up, on the
//! order's cumulative value: a fill pays what lifts the order's totals, so the
//! minimum commission is paid once per order (by the first fill if it is due) and
//! the fen rounding never compounds across fills.
//!
//! All arithmetic is integer: values in 1/10000 CNY, rates in hundredths of a
//! basis point (1/1,000,000), so `value × rate / 1,000,000` is the fee in 1/10000
//! CNY and `value × rate / 100,000,000` in fen.

use protocol::Side;
use protocol::rules::FeeSchedule;

/// Fees by kind, 1/10000 CNY (always whole fen once charged).
#[derive(
    Clone, Copy, PartialEq, Eq, Default, Debug, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct FeeBreakdown {
    /// Broker commission.
    pub commission: i64,
    /// Stamp duty (sells only).
    pub stamp_duty: i64,
    /// Transfer fee (both sides).
    pub transfer: i64,
}

impl FeeBreakdown {
    /// No fees.
    pub const ZERO: FeeBreakdown = FeeBreakdown { commission: 0, stamp_duty: 0, transfer: 0 };

    /// The sum of the kinds: what the account is charged.
    #[inline]
    pub const fn total(&self) -> i64 {
        self.commission + self.stamp_duty + self.transfer
    }

    /// `self − other`, kind by kind.
    #[inline]
    pub const fn minus(&self, other: &FeeBreakdown) -> FeeBreakdown {
        FeeBreakdown {
            commission: self.commission - other.commission,
            stamp_duty: self.stamp_duty - other.stamp_duty,
            transfer: self.transfer - other.transfer,
        }
    }

    /// `self + other`, kind by kind.
    #[inline]
    pub const fn plus(&self, other: &FeeBreakdown) -> FeeBreakdown {
        FeeBreakdown {
            commission: self.commission + other.commission,
            stamp_duty: self.stamp_duty + other.stamp_duty,
            transfer: self.transfer + other.transfer,
        }
    }
}

/// Units of 1/10000 CNY in a fen.
const UNITS_PER_FEN: i64 = 100;
/// `value × rate` per fen: 10^6 (the rate's scale) × 100 (units per fen).
const PRODUCT_PER_FEN: i64 = 100_000_000;

/// An order's fees once `value` (1/10000 CNY) has filled on `side`.
///
/// Non-decreasing in `value`, so a buy's freeze at its limit price covers every
/// fill at or under it. A `value` of zero still owes the minimum commission: an
/// order that has filled nothing has paid nothing, which the callers handle.
#[inline]
pub const fn order_fees(s: &FeeSchedule, side: Side, value: i64) -> FeeBreakdown {
    let mut commission = of_value(value, s.commission_cbp);
    if commission < s.commission_min {
        commission = s.commission_min;
    }
    let stamp_duty = match side {
        Side::Sell => of_value(value, s.stamp_duty_sell_cbp),
        Side::Buy => 0,
    };
    FeeBreakdown { commission, stamp_duty, transfer: of_value(value, s.transfer_cbp) }
}

/// The total of [`order_fees`].
#[inline]
pub const fn order_fees_total(s: &FeeSchedule, side: Side, value: i64) -> i64 {
    order_fees(s, side, value).total()
}

/// `rate` (hundredths of a basis point) of `value` (1/10000 CNY), rounded half up
/// to the fen; negative values count as zero.
#[inline]
const fn of_value(value: i64, rate_cbp: u32) -> i64 {
    if value <= 0 {
        return 0;
    }
    // Values up to CNY 900,000,000 take the i64 path (value × rate stays below
    // 2^63 for rates up to 100%): an i128 division is a slow library call, and the
    // fees are computed for every buy order and every fill.
    if value < (1 << 43) && rate_cbp <= 1_000_000 {
        let product = value * rate_cbp as i64;
        return (product + PRODUCT_PER_FEN / 2) / PRODUCT_PER_FEN * UNITS_PER_FEN;
    }
    let product = value as i128 * rate_cbp as i128;
    let fen = (product + (PRODUCT_PER_FEN / 2) as i128) / PRODUCT_PER_FEN as i128;
    let units = fen * UNITS_PER_FEN as i128;
    if units > i64::MAX as i128 { i64::MAX } else { units as i64 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Price;

    const FEES: FeeSchedule = FeeSchedule::DEFAULT;

    fn cny(text: &str) -> i64 {
        Price::parse_cny(text).unwrap().0
    }

    #[test]
    fn rounds_half_up_to_the_fen() {
        // 0.001% of CNY 500 is 0.005 → 0.01; of CNY 499.99 it is 0.0049999 → 0.00.
        assert_eq!(of_value(cny("500"), 10), cny("0.01"));
        assert_eq!(of_value(cny("499.99"), 10), 0);
        // 0.05% of CNY 12,345.67 is 6.172835 → 6.17.
        assert_eq!(of_value(cny("12345.67"), 500), cny("6.17"));
    }

    #[test]
    fn wide_path_agrees_with_the_fast_one() {
        let v = (1i64 << 43) - 1;
        let fast = of_value(v, 250);
        let wide = ((v as i128 * 250 + 50_000_000) / 100_000_000 * 100) as i64;
        assert_eq!(fast, wide);
        assert!(of_value(1 << 50, 250) > 0);
    }

    #[test]
    fn kinds_by_side() {
        let buy = order_fees(&FEES, Side::Buy, cny("100000"));
        assert_eq!(buy, FeeBreakdown { commission: cny("25"), stamp_duty: 0, transfer: cny("1") });
        let sell = order_fees(&FEES, Side::Sell, cny("100000"));
        assert_eq!(sell.stamp_duty, cny("50"));
        assert_eq!(sell.total(), cny("76"));
    }
}
