//! Finds message boundaries in a byte stream.
//!
//! A message is `8=BeginString<SOH>9=BodyLength<SOH>35=...<SOH>...10=nnn<SOH>`:
//! BodyLength counts the bytes from the one after its own SOH up to and including
//! the SOH before `10=`, and CheckSum is the sum of every byte before `10=` modulo
//! 256, written as three digits. A message that breaks any of this is garbled and,
//! as the FIX session specification says, ignored: the scanner skips to the next
//! `<SOH>8=` and the session neither answers it nor counts its sequence number.

use crate::SOH;

/// Smallest possible message: `8=X|9=5|35=0|10=000|` is 20 bytes.
const MIN_MESSAGE_LEN: usize = 20;
/// Longest BeginString accepted before the message is judged garbled.
const BEGIN_STRING_LEN_MAX: usize = 16;
/// `10=nnn<SOH>`.
const TRAILER_LEN: usize = 7;

/// What [`scan`] found at the start of the bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scan {
    /// A whole, well-formed message of `len` bytes; its BeginString is at
    /// `begin_string` (a range into the bytes).
    Message {
        /// Length of the message, trailer included.
        len: usize,
        /// Start and end of the BeginString value.
        begin_string: (usize, usize),
    },
    /// The bytes start with something that is not a well-formed message: drop
    /// `skip` bytes (up to the next possible message start) and scan again.
    Garbled {
        /// Bytes to drop.
        skip: usize,
        /// What was wrong.
        why: Garble,
    },
    /// The bytes are the beginning of a message: wait for more.
    Incomplete,
}

/// Why bytes were judged garbled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Garble {
    /// The bytes do not start with `8=`.
    NoBeginString,
    /// The second field is not `9=<digits>`.
    BadBodyLength,
    /// The message would be longer than the configured maximum.
    TooLong,
    /// BodyLength does not end at `10=nnn<SOH>`.
    NoCheckSum,
    /// The checksum does not match.
    BadCheckSum,
    /// The third field is not `35=`.
    NoMsgType,
}

/// Looks at the start of `buf` for one message of at most `max_len` bytes.
pub fn scan(buf: &[u8], max_len: usize) -> Scan {
    if buf.is_empty() {
        return Scan::Incomplete;
    }
    if !b"8=".starts_with(&buf[..buf.len().min(2)]) {
        return garbled(buf, Garble::NoBeginString);
    }
    let Some(begin_end) = find_soh(buf, 2, BEGIN_STRING_LEN_MAX + 2) else {
        return if buf.len() < BEGIN_STRING_LEN_MAX + 2 {
            Scan::Incomplete
        } else {
            garbled(buf, Garble::NoBeginString)
        };
    };
    let len_field = begin_end + 1;
    let body_length = match read_body_length(buf, len_field) {
        Ok(Some(v)) => v,
        Ok(None) => return Scan::Incomplete,
        Err(()) => return garbled(buf, Garble::BadBodyLength),
    };
    let (body_len, body_start) = body_length;
    let len = match body_start.checked_add(body_len).and_then(|n| n.checked_add(TRAILER_LEN)) {
        Some(len) if len <= max_len && len >= MIN_MESSAGE_LEN => len,
        _ => return garbled(buf, Garble::TooLong),
    };
    if buf.len() < len {
        return Scan::Incomplete;
    }
    check_whole(&buf[..len], body_start, body_len, (2, begin_end))
}

fn check_whole(msg: &[u8], body_start: usize, body_len: usize, begin: (usize, usize)) -> Scan {
    let trailer = &msg[body_start + body_len..];
    let digits = &trailer[3..6];
    if &trailer[..3] != b"10=" || trailer[6] != SOH || !digits.iter().all(u8::is_ascii_digit) {
        return garbled(msg, Garble::NoCheckSum);
    }
    let stated = digits.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    if stated != u32::from(checksum(&msg[..body_start + body_len])) {
        return garbled(msg, Garble::BadCheckSum);
    }
    if !msg[body_start..].starts_with(b"35=") {
        return garbled(msg, Garble::NoMsgType);
    }
    Scan::Message { len: msg.len(), begin_string: begin }
}

/// `9=<digits><SOH>` at `at`: Ok(Some((BodyLength, offset of the body))), Ok(None)
/// when more bytes are needed, Err when it is not there.
fn read_body_length(buf: &[u8], at: usize) -> Result<Option<(usize, usize)>, ()> {
    const DIGITS_MAX: usize = 7;
    let prefix = &buf[at.min(buf.len())..buf.len().min(at + 2)];
    if !b"9=".starts_with(prefix) {
        return Err(());
    }
    let digits_at = at + 2;
    let Some(end) = find_soh(buf, digits_at, DIGITS_MAX + 1) else {
        return if buf.len() < digits_at + DIGITS_MAX + 1 { Ok(None) } else { Err(()) };
    };
    let digits = &buf[digits_at..end];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(());
    }
    let value = digits.iter().fold(0usize, |n, &d| n * 10 + usize::from(d - b'0'));
    Ok(Some((value, end + 1)))
}

/// The first SOH in `buf[from..from + within]`, as an offset into `buf`.
fn find_soh(buf: &[u8], from: usize, within: usize) -> Option<usize> {
    let end = buf.len().min(from.saturating_add(within));
    buf.get(from..end)?.iter().position(|&b| b == SOH).map(|i| from + i)
}

/// Skips to the next `<SOH>8=` after the first byte (or keeps a possible partial
/// start at the very end).
fn garbled(buf: &[u8], why: Garble) -> Scan {
    let next = buf.windows(3).skip(1).position(|w| w == [SOH, b'8', b'=']).map(|i| i + 2);
    let skip = match next {
        Some(at) => at,
        // Keep a trailing "<SOH>8" or "<SOH>" that may begin the next message.
        None if buf.ends_with(&[SOH, b'8']) => buf.len() - 1,
        None => buf.len(),
    };
    Scan::Garbled { skip: skip.max(1), why }
}

/// The FIX checksum: the sum of the bytes modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |sum, &b| sum.wrapping_add(b))
}
