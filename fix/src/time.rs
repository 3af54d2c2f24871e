//! UTCTimestamp (`YYYYMMDD-HH:MM:SS.sss`) to and from nanoseconds since the Unix
//! epoch, with integer arithmetic only (the civil-date algorithms of H. Hinnant).

const NS_PER_S: u64 = 1_000_000_000;
const S_PER_DAY: u64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0u32, |n, &b| n * 10 + u32::from(b - b'0')))
}

fn days_in_month(year: i64, month: u32) -> u32 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Parses `YYYYMMDD-HH:MM:SS[.sss|.ssssss|.sssssssss]`; `None` for anything else,
/// dates before 1970 included. A leap second (`:60`) is read as `:59`.
pub fn parse_utc_timestamp_ns(value: &[u8]) -> Option<u64> {
    if value.len() < 17 || value[8] != b'-' || value[11] != b':' || value[14] != b':' {
        return None;
    }
    let year = i64::from(digits(&value[0..4])?);
    let month = digits(&value[4..6])?;
    let day = digits(&value[6..8])?;
    let hour = u64::from(digits(&value[9..11])?);
    let minute = u64::from(digits(&value[12..14])?);
    let second = u64::from(digits(&value[15..17])?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let frac_ns = match &value[17..] {
        [] => 0,
        [b'.', frac @ ..] if matches!(frac.len(), 3 | 6 | 9) => {
            u64::from(digits(frac)?) * 10u64.pow(9 - frac.len() as u32)
        }
        _ => return None,
    };
    let days = u64::try_from(days_from_civil(year, month, day)).ok()?;
    let secs = days * S_PER_DAY + hour * 3600 + minute * 60 + second.min(59);
    Some(secs * NS_PER_S + frac_ns)
}

/// Writes `ns` as `YYYYMMDD-HH:MM:SS.sss` (21 bytes) into `out`.
pub fn format_utc_timestamp_ms(ns: u64, out: &mut [u8; 21]) {
    let secs = ns / NS_PER_S;
    let ms = (ns % NS_PER_S) / 1_000_000;
    let (year, month, day) = civil_from_days((secs / S_PER_DAY) as i64);
    let sod = secs % S_PER_DAY;
    let put = |out: &mut [u8; 21], at: usize, width: usize, mut v: u64| {
        for i in (0..width).rev() {
            out[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(out, 0, 4, year.clamp(0, 9999) as u64);
    put(out, 4, 2, u64::from(month));
    put(out, 6, 2, u64::from(day));
    out[8] = b'-';
    put(out, 9, 2, sod / 3600);
    out[11] = b':';
    put(out, 12, 2, sod / 60 % 60);
    out[14] = b':';
    put(out, 15, 2, sod % 60);
    out[17] = b'.';
    put(out, 18, 3, ms);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_reject_bad_dates() {
        let ns = parse_utc_timestamp_ns(b"20240927-01:30:00.123").unwrap();
        assert_eq!(ns, 1_727_400_600_123_000_000);
        let mut out = [0u8; 21];
        format_utc_timestamp_ms(ns, &mut out);
        assert_eq!(&out, b"20240927-01:30:00.123");
        assert_eq!(parse_utc_timestamp_ns(b"20240927-01:30:00"), Some(1_727_400_600_000_000_000));
        assert_eq!(
            parse_utc_timestamp_ns(b"20240927-01:30:00.123456"),
            Some(1_727_400_600_123_456_000)
        );
        assert_eq!(parse_utc_timestamp_ns(b"20240230-01:30:00"), None);
        assert_eq!(parse_utc_timestamp_ns(b"20240927 01:30:00"), None);
        assert_eq!(parse_utc_timestamp_ns(b"20240927-24:00:00"), None);
        assert_eq!(parse_utc_timestamp_ns(b"20240927-01:30:00.12"), None);
        assert_eq!(parse_utc_timestamp_ns(b"20240229-00:00:00"), Some(1_709_164_800_000_000_000));
    }
}
