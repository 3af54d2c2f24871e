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

/// Parses a local date and time, `YYYY-MM-DD HH:MM:SS` (or with `T` between
/// them), as Unix nanoseconds at `utc_offset_s` (Beijing: 28,800). For the test
/// clock: starting the gateway at a chosen time of the trading day.
pub fn parse_local_time(text: &str, utc_offset_s: i32) -> Result<u64, String> {
    let bad = || format!("expected a local time like \"2026-12-07 11:29:55\", got {text:?}");
    let b = text.trim().as_bytes();
    if b.len() != 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b' ' | b'T') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<i64, String> {
        let digits = &b[from..to];
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(bad());
        }
        Ok(digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1970..=2200).contains(&year) || day < 1 || day > days_in_month {
        return Err(bad());
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(bad());
    }
    let local_s = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc_s = local_s - i64::from(utc_offset_s);
    u64::try_from(utc_s).map(|s| s * 1_000_000_000).map_err(|_| bad())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEIJING: i32 = 8 * 3600;

    #[test]
    fn local_times_parse_to_unix_ns() {
        // 2024-10-08 09:30:00 Beijing = 2024-10-08 01:30:00 UTC = 1728351000.
        let ns = parse_local_time("2024-10-08 09:30:00", BEIJING).unwrap();
        assert_eq!(ns, 1_728_351_000 * 1_000_000_000);
        assert_eq!(parse_local_time("2024-10-08T09:30:00", BEIJING), Ok(ns));
        assert_eq!(parse_local_time("1970-01-01 08:00:00", BEIJING), Ok(0));
        assert_eq!(parse_local_time("2024-02-29 00:00:00", 0), Ok(1_709_164_800 * 1_000_000_000));
    }

    #[test]
    fn malformed_local_times_are_refused() {
        for bad in [
            "",
            "2024-10-08",
            "2024-10-08 9:30:00",
            "2024-13-01 09:30:00",
            "2023-02-29 09:30:00",
            "2024-10-08 24:00:00",
            "2024-10-08 09:60:00",
            "2024/10/08 09:30:00",
            "1970-01-01 07:59:59",
        ] {
            assert!(parse_local_time(bad, BEIJING).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_clock_started_at_a_time_reads_from_it() {
        let start = parse_local_time("2026-12-07 11:29:55", BEIJING).unwrap();
        let clock = Clock::starting_at(start);
        let now = clock.now_ns();
        assert!(now >= start && now < start + 60 * 1_000_000_000);
    }
}
