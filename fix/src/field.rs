//! The zero-copy field iterator and typed value getters.
//!
//! A field is `tag=value<SOH>`. The iterator yields tags and value slices into the
//! caller's bytes; getters turn a value into a number, a price, a quantity, a
//! character, a flag or a timestamp with integer arithmetic only, and never panic.

use protocol::{Price, Qty};

use crate::SOH;

/// One field: its tag and its value, borrowed from the message bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Field<'a> {
    /// The tag number.
    pub tag: u32,
    /// The value bytes, without `=` and SOH.
    pub value: &'a [u8],
}

/// Why the bytes could not be split into fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum FieldError {
    /// The tag is not a positive decimal number (SessionRejectReason 0).
    #[error("invalid tag number at byte {at}")]
    BadTag {
        /// Offset of the field in the bytes.
        at: usize,
    },
    /// `tag=` followed directly by SOH (SessionRejectReason 4).
    #[error("tag {tag} has no value")]
    NoValue {
        /// The tag.
        tag: u32,
    },
    /// The last field does not end with SOH.
    #[error("field at byte {at} is not terminated")]
    Unterminated {
        /// Offset of the field in the bytes.
        at: usize,
    },
}

/// Iterates over the fields of `tag=value<SOH>` bytes, borrowing values in place.
#[derive(Clone, Debug)]
pub struct FieldIter<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> FieldIter<'a> {
    /// An iterator over `bytes` (normally one whole message).
    pub fn new(bytes: &'a [u8]) -> FieldIter<'a> {
        FieldIter { bytes, pos: 0 }
    }

    /// The offset of the next field.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = Result<(Field<'a>, usize), FieldError>;

    /// The next field and the offset just past its value (the SOH). A malformed
    /// field is reported and skipped, so the caller sees every field. One pass:
    /// the tag is read while looking for `=`.
    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.bytes.get(self.pos..).filter(|r| !r.is_empty())?;
        let at = self.pos;
        let mut tag = 0u32;
        let mut tag_ok = rest[0] != b'0';
        let mut i = 0;
        while i < rest.len() && rest[i] != b'=' && rest[i] != SOH {
            let b = rest[i];
            tag_ok &= b.is_ascii_digit() && i < 9;
            tag = tag.wrapping_mul(10).wrapping_add(u32::from(b.wrapping_sub(b'0')));
            i += 1;
        }
        let Some(&stop) = rest.get(i) else {
            self.pos = self.bytes.len();
            return Some(Err(FieldError::Unterminated { at }));
        };
        if stop == SOH {
            self.pos = at + i + 1;
            return Some(Err(FieldError::BadTag { at }));
        }
        let value_rest = &rest[i + 1..];
        let Some(len) = value_rest.iter().position(|&b| b == SOH) else {
            self.pos = self.bytes.len();
            return Some(Err(FieldError::Unterminated { at }));
        };
        self.pos = at + i + 1 + len + 1;
        if !tag_ok || i == 0 {
            return Some(Err(FieldError::BadTag { at }));
        }
        if len == 0 {
            return Some(Err(FieldError::NoValue { tag }));
        }
        Some(Ok((Field { tag, value: &value_rest[..len] }, at + i + 1 + len)))
    }
}

/// Why a value could not be read as the type asked for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ValueError {
    /// Not the format of the type (SessionRejectReason 6).
    #[error("incorrect data format")]
    Format,
    /// The right format but a value outside what is allowed (SessionRejectReason 5).
    #[error("value is out of range")]
    Range,
}

/// An unsigned decimal integer (SeqNum, Length, NumInGroup, u64 ids): digits only.
pub fn get_u64(value: &[u8]) -> Result<u64, ValueError> {
    if value.is_empty() || value.len() > 20 {
        return Err(ValueError::Format);
    }
    let mut n = 0u64;
    for &b in value {
        if !b.is_ascii_digit() {
            return Err(ValueError::Format);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(ValueError::Range)?;
    }
    Ok(n)
}

/// A signed decimal integer (FIX int): an optional `-`, then digits.
pub fn get_i64(value: &[u8]) -> Result<i64, ValueError> {
    let (negative, digits) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    let magnitude = get_u64(digits)?;
    let magnitude = i64::try_from(magnitude).map_err(|_| ValueError::Range)?;
    Ok(if negative { -magnitude } else { magnitude })
}

/// Splits a FIX float (`123`, `123.45`, `-0.5`, `.5`) into sign, whole and fraction
/// digits. Checks the format only.
fn split_decimal(value: &[u8]) -> Result<(bool, &[u8], &[u8]), ValueError> {
    let (negative, body) = match value.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, value),
    };
    let (whole, frac) = match body.iter().position(|&b| b == b'.') {
        Some(dot) => (&body[..dot], &body[dot + 1..]),
        None => (body, &body[body.len()..]),
    };
    let digits_only = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if (whole.is_empty() && frac.is_empty()) || !digits_only(whole) || !digits_only(frac) {
        return Err(ValueError::Format);
    }
    Ok((negative, whole, frac))
}

/// True when `value` has the format of a FIX float (Price, Qty, Amt, ...).
pub fn is_float(value: &[u8]) -> bool {
    split_decimal(value).is_ok()
}

/// A price in 1/10000 CNY: a positive FIX float with at most four significant
/// decimals (trailing zeros beyond them are allowed).
pub fn get_price(value: &[u8]) -> Result<Price, ValueError> {
    let (negative, whole, frac) = split_decimal(value)?;
    if negative {
        return Err(ValueError::Range);
    }
    let mut raw = fixed_whole(whole)?.checked_mul(Price::SCALE as u64).ok_or(ValueError::Range)?;
    for (i, &b) in frac.iter().enumerate() {
        let digit = u64::from(b - b'0');
        if i >= 4 {
            if digit != 0 {
                return Err(ValueError::Range); // Finer than 1/10000 CNY.
            }
            continue;
        }
        raw += digit * 10u64.pow(3 - i as u32);
    }
    i64::try_from(raw).map(Price).map_err(|_| ValueError::Range)
}

/// A quantity in shares: a non-negative FIX float with no fractional part.
pub fn get_qty(value: &[u8]) -> Result<Qty, ValueError> {
    let (negative, whole, frac) = split_decimal(value)?;
    if negative || frac.iter().any(|&b| b != b'0') {
        return Err(ValueError::Range);
    }
    fixed_whole(whole).map(Qty)
}

fn fixed_whole(whole: &[u8]) -> Result<u64, ValueError> {
    if whole.is_empty() { Ok(0) } else { get_u64(whole).map_err(|_| ValueError::Range) }
}

/// A single character.
pub fn get_char(value: &[u8]) -> Result<u8, ValueError> {
    match value {
        [c] if c.is_ascii_graphic() => Ok(*c),
        _ => Err(ValueError::Format),
    }
}

/// A FIX Boolean: `Y` or `N`.
pub fn get_bool(value: &[u8]) -> Result<bool, ValueError> {
    match value {
        b"Y" => Ok(true),
        b"N" => Ok(false),
        _ => Err(ValueError::Format),
    }
}

/// A UTCTimestamp (`YYYYMMDD-HH:MM:SS`, optionally `.sss` or `.ssssss`) as
/// nanoseconds since the Unix epoch.
pub fn get_utc_timestamp_ns(value: &[u8]) -> Result<u64, ValueError> {
    crate::time::parse_utc_timestamp_ns(value).ok_or(ValueError::Format)
}
