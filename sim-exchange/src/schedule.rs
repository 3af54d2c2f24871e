//! The SSE/SZSE trading day as a table of local-time boundaries.

use protocol::TradingPhase;

use crate::config::ConfigError;

const NS_PER_S: i128 = 1_000_000_000;
const DAY_S: i64 = 86_400;

const fn hm(h: i64, m: i64) -> i64 {
    h * 3600 + m * 60
}

/// Local second of the day at which each phase begins, in order. Leaving a call
/// auction (9:25, 15:00) uncrosses it first.
pub const A_SHARE_DAY: [(i64, TradingPhase); 8] = [
    (hm(9, 15), TradingPhase::OpeningAuction),
    (hm(9, 20), TradingPhase::OpeningAuctionNoCancel),
    (hm(9, 25), TradingPhase::PreContinuous),
    (hm(9, 30), TradingPhase::Continuous),
    (hm(11, 30), TradingPhase::Break),
    (hm(13, 0), TradingPhase::Continuous),
    (hm(14, 57), TradingPhase::ClosingAuction),
    (hm(15, 0), TradingPhase::Closed),
];

/// Local (day number, second of day) of `now_ns` at `utc_offset_s`.
fn local(now_ns: u64, utc_offset_s: i32) -> (i64, i64) {
    let local_s = (now_ns as i128 / NS_PER_S) as i64 + i64::from(utc_offset_s);
    (local_s.div_euclid(DAY_S), local_s.rem_euclid(DAY_S))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
const fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The day number of a date `yyyymmdd`; `None` when it is not a calendar date.
pub const fn day_number(date: u32) -> Option<i64> {
    let (year, month, day) =
        ((date / 10_000) as i64, ((date / 100) % 100) as i64, (date % 100) as i64);
    if year < 1970 || month < 1 || month > 12 || day < 1 {
        return None;
    }
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if day > days_in_month {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// Parses `"2026-10-01"` into `20261001`; `None` unless it is a calendar date.
pub fn parse_date(text: &str) -> Option<u32> {
    let b = text.as_bytes();
    let digits = |r: core::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let date = digits(0..4)? * 10_000 + digits(5..7)? * 100 + digits(8..10)?;
    day_number(date).map(|_| date)
}

/// The holidays of a configuration as sorted day numbers.
pub(crate) fn holiday_days(holidays: &[u32]) -> Result<Vec<i64>, ConfigError> {
    let mut days = holidays
        .iter()
        .map(|&d| day_number(d).ok_or(ConfigError::BadHoliday(d)))
        .collect::<Result<Vec<_>, _>>()?;
    days.sort_unstable();
    days.dedup();
    Ok(days)
}

/// True when local day `day` is a trading day: Monday to Friday and not in
/// `holidays` (sorted day numbers).
pub fn is_trading_day(day: i64, holidays: &[i64]) -> bool {
    // 1970-01-01 was a Thursday: day + 3 counts from a Monday.
    (day + 3).rem_euclid(7) < 5 && holidays.binary_search(&day).is_err()
}

/// The first trading day after `day`.
fn next_trading_day(day: i64, holidays: &[i64]) -> i64 {
    // A closed run is holidays plus at most two weekend days per five of them and
    // two more at each end, so this many steps always reach a trading day.
    let steps_max = 3 * holidays.len() as i64 + 7;
    (day + 1..=day + steps_max).find(|&d| is_trading_day(d, holidays)).unwrap_or(day + 1)
}

/// The phase the A-share day prescribes at `now_ns`: `Closed` all day on a weekend
/// or a holiday.
pub fn phase_at(now_ns: u64, utc_offset_s: i32, holidays: &[i64]) -> TradingPhase {
    let (day, sod) = local(now_ns, utc_offset_s);
    if !is_trading_day(day, holidays) {
        return TradingPhase::Closed;
    }
    A_SHARE_DAY.iter().rev().find(|(at, _)| sod >= *at).map_or(TradingPhase::Closed, |&(_, p)| p)
}

/// The first boundary strictly after `now_ns`: its time and the phase it starts.
/// Non-trading days have none.
pub fn next_boundary(now_ns: u64, utc_offset_s: i32, holidays: &[i64]) -> (u64, TradingPhase) {
    let (day, sod) = local(now_ns, utc_offset_s);
    let today = if is_trading_day(day, holidays) {
        A_SHARE_DAY.iter().find(|(at, _)| *at > sod)
    } else {
        None
    };
    let (day, (at, phase)) = match today {
        Some(&b) => (day, b),
        None => (next_trading_day(day, holidays), A_SHARE_DAY[0]),
    };
    let utc_s = (day * DAY_S + at - i64::from(utc_offset_s)) as i128;
    let ns = (utc_s * NS_PER_S).clamp(0, u64::MAX as i128) as u64;
    // Boundaries fall on whole seconds; a clock inside a second still moves past it.
    (ns.max(now_ns.saturating_add(1)), phase)
}

/// True for the call-auction phases.
pub const fn is_auction(phase: TradingPhase) -> bool {
    matches!(
        phase,
        TradingPhase::OpeningAuction
            | TradingPhase::OpeningAuctionNoCancel
            | TradingPhase::ClosingAuction
    )
}

/// True for the phases whose operations wait in the inbound queue for continuous trading.
pub const fn is_queueing(phase: TradingPhase) -> bool {
    matches!(phase, TradingPhase::PreContinuous | TradingPhase::Break)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: i32 = 8 * 3600;
    // 2024-10-08 00:00 Beijing = 2024-10-07 16:00 UTC.
    const DAY0_NS: u64 = 1_728_316_800 * 1_000_000_000;

    fn at(h: i64, m: i64) -> u64 {
        DAY0_NS + (hm(h, m) as u64) * 1_000_000_000
    }

    #[test]
    fn phases_follow_beijing_time() {
        assert_eq!(phase_at(at(9, 0), BEIJING, &[]), TradingPhase::Closed);
        assert_eq!(phase_at(at(9, 15), BEIJING, &[]), TradingPhase::OpeningAuction);
        assert_eq!(phase_at(at(9, 22), BEIJING, &[]), TradingPhase::OpeningAuctionNoCancel);
        assert_eq!(phase_at(at(9, 27), BEIJING, &[]), TradingPhase::PreContinuous);
        assert_eq!(phase_at(at(10, 0), BEIJING, &[]), TradingPhase::Continuous);
        assert_eq!(phase_at(at(12, 0), BEIJING, &[]), TradingPhase::Break);
        assert_eq!(phase_at(at(14, 0), BEIJING, &[]), TradingPhase::Continuous);
        assert_eq!(phase_at(at(14, 58), BEIJING, &[]), TradingPhase::ClosingAuction);
        assert_eq!(phase_at(at(15, 0), BEIJING, &[]), TradingPhase::Closed);
        assert_eq!(phase_at(at(23, 59), BEIJING, &[]), TradingPhase::Closed);
    }

    #[test]
    fn weekends_and_holidays_are_closed_all_day() {
        const DAY_NS: u64 = 86_400 * 1_000_000_000;
        // 2024-10-08 was a Tuesday; 2024-10-05/06 a weekend; 2024-10-07 a holiday.
        let holidays = holiday_days(&[20241007, 20241001]).unwrap();
        assert_eq!(day_number(20241008), Some(local(at(10, 0), BEIJING).0));
        assert_eq!(phase_at(at(10, 0), BEIJING, &holidays), TradingPhase::Continuous);
        for back in 1..=3 {
            let t = at(10, 0) - back * DAY_NS;
            assert_eq!(phase_at(t, BEIJING, &holidays), TradingPhase::Closed, "{back} days back");
        }
        // Friday 2024-10-04 after the close: the next boundary is Tuesday's 9:15.
        let friday_close = at(15, 0) - 4 * DAY_NS;
        assert_eq!(
            next_boundary(friday_close, BEIJING, &holidays),
            (at(9, 15), TradingPhase::OpeningAuction)
        );
        // Without the holiday, Monday's.
        assert_eq!(
            next_boundary(friday_close, BEIJING, &[]),
            (at(9, 15) - DAY_NS, TradingPhase::OpeningAuction)
        );
    }

    #[test]
    fn dates_parse_and_validate() {
        assert_eq!(parse_date("2026-10-01"), Some(20261001));
        assert_eq!(parse_date("2024-02-29"), Some(20240229));
        for bad in ["2025-02-29", "2026-13-01", "2026-10-32", "2026-1-01", "20261001", "2026-10-0x"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
        assert_eq!(day_number(19700101), Some(0));
        assert_eq!(holiday_days(&[20260230]), Err(ConfigError::BadHoliday(20260230)));
    }

    #[test]
    fn next_boundary_walks_the_day_and_wraps() {
        assert_eq!(
            next_boundary(at(9, 0), BEIJING, &[]),
            (at(9, 15), TradingPhase::OpeningAuction)
        );
        assert_eq!(
            next_boundary(at(9, 15), BEIJING, &[]),
            (at(9, 20), TradingPhase::OpeningAuctionNoCancel)
        );
        assert_eq!(
            next_boundary(at(15, 0), BEIJING, &[]),
            (at(24, 0) + hm(9, 15) as u64 * 1_000_000_000, TradingPhase::OpeningAuction)
        );
    }
}
