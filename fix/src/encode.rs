//! Writes a message into a caller's buffer, computing BodyLength and CheckSum.
//!
//! The encoder writes `8=FIX.4.4<SOH>9=` and reserves room for the longest
//! BodyLength, then the fields; `finish` writes BodyLength, moves the body up
//! against it if it has fewer digits than reserved (a few hundred bytes of
//! `copy_within`), and appends `10=nnn<SOH>`. Nothing is allocated; a buffer that
//! is too small is reported once, at `finish`.

use protocol::{Price, Qty};

use crate::frame::checksum;
use crate::time::format_utc_timestamp_ms;
use crate::{BEGIN_STRING, SOH};

/// Digits reserved for BodyLength: bodies up to 999,999 bytes.
const BODY_LENGTH_DIGITS_MAX: usize = 6;

/// The buffer was too small for the message.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("output buffer of {available} bytes is too small for the message")]
pub struct EncodeError {
    /// The buffer's length.
    pub available: usize,
}

/// Writes one message into a caller's buffer.
#[derive(Debug)]
pub struct Encoder<'a> {
    buf: &'a mut [u8],
    pos: usize,
    body_start: usize,
    overflow: bool,
}

impl<'a> Encoder<'a> {
    /// Starts a message of `msg_type`: BeginString, room for BodyLength, MsgType.
    pub fn new(buf: &'a mut [u8], msg_type: &[u8]) -> Encoder<'a> {
        let mut enc = Encoder { buf, pos: 0, body_start: 0, overflow: false };
        enc.put(b"8=");
        enc.put(BEGIN_STRING);
        enc.put(&[SOH]);
        enc.put(b"9=");
        enc.pos += BODY_LENGTH_DIGITS_MAX + 1;
        enc.body_start = enc.pos;
        enc.bytes(crate::tag::MSG_TYPE, msg_type);
        enc
    }

    fn put(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + bytes.len()) {
            Some(dst) if !self.overflow => dst.copy_from_slice(bytes),
            _ => self.overflow = true,
        }
        self.pos += bytes.len();
    }

    /// A field with raw value bytes (the caller keeps SOH out of them): one
    /// bounds check, then the tag, `=`, the value and SOH written in place.
    pub fn bytes(&mut self, tag: u32, value: &[u8]) {
        let mut digits = [0u8; 20];
        let tag_len = write_u64(u64::from(tag), &mut digits);
        let need = tag_len + value.len() + 2;
        let end = self.pos + need;
        match self.buf.get_mut(self.pos..end) {
            Some(out) if !self.overflow => {
                out[..tag_len].copy_from_slice(&digits[..tag_len]);
                out[tag_len] = b'=';
                out[tag_len + 1..need - 1].copy_from_slice(value);
                out[need - 1] = SOH;
            }
            _ => self.overflow = true,
        }
        self.pos = end;
    }

    /// An unsigned integer field.
    pub fn u64(&mut self, tag: u32, value: u64) {
        let mut digits = [0u8; 20];
        let n = write_u64(value, &mut digits);
        self.bytes(tag, &digits[..n]);
    }

    /// A single-character field.
    pub fn char(&mut self, tag: u32, value: u8) {
        self.bytes(tag, &[value]);
    }

    /// A Boolean field (`Y`/`N`).
    pub fn bool(&mut self, tag: u32, value: bool) {
        self.char(tag, if value { b'Y' } else { b'N' });
    }

    /// A price field from 1/10000 CNY: `12.34`, `12.3456`, `12`, `-0.5`.
    pub fn price(&mut self, tag: u32, price: Price) {
        let mut text = [0u8; 32];
        let n = write_price(price, &mut text);
        self.bytes(tag, &text[..n]);
    }

    /// A quantity field (whole shares).
    pub fn qty(&mut self, tag: u32, qty: Qty) {
        self.u64(tag, qty.0);
    }

    /// A UTCTimestamp field with milliseconds.
    pub fn timestamp(&mut self, tag: u32, ns: u64) {
        let mut text = [0u8; 21];
        format_utc_timestamp_ms(ns, &mut text);
        self.bytes(tag, &text);
    }

    /// Writes BodyLength and CheckSum; returns the message's length in the buffer.
    pub fn finish(mut self) -> Result<usize, EncodeError> {
        let available = self.buf.len();
        let body_len = self.pos - self.body_start;
        let mut digits = [0u8; 20];
        let n = write_u64(body_len as u64, &mut digits);
        if self.overflow || n > BODY_LENGTH_DIGITS_MAX {
            return Err(EncodeError { available });
        }
        let len_at = BEGIN_STRING.len() + 5; // "8=" BeginString SOH "9="
        let new_body_start = len_at + n + 1;
        self.buf.copy_within(self.body_start..self.pos, new_body_start);
        self.buf[len_at..len_at + n].copy_from_slice(&digits[..n]);
        self.buf[len_at + n] = SOH;
        self.pos = new_body_start + body_len;
        let sum = checksum(&self.buf[..self.pos]);
        self.put(b"10=");
        self.put(&[b'0' + sum / 100, b'0' + sum / 10 % 10, b'0' + sum % 10, SOH]);
        if self.overflow { Err(EncodeError { available }) } else { Ok(self.pos) }
    }
}

/// Writes `value` in decimal at the start of `out`; returns the digit count.
pub fn write_u64(value: u64, out: &mut [u8; 20]) -> usize {
    let n = decimal_len(value);
    let mut v = value;
    for slot in out[..n].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    n
}

/// Decimal digits of `value` (1 for zero).
fn decimal_len(value: u64) -> usize {
    let mut n = 1;
    let mut v = value;
    while v >= 10 {
        v /= 10;
        n += 1;
    }
    n
}

/// Writes a price as a FIX float with no trailing zeros; returns the length.
pub fn write_price(price: Price, out: &mut [u8; 32]) -> usize {
    let mut n = 0;
    if price.0 < 0 {
        out[0] = b'-';
        n = 1;
    }
    let abs = price.0.unsigned_abs();
    let scale = Price::SCALE as u64;
    let mut whole = [0u8; 20];
    let w = write_u64(abs / scale, &mut whole);
    out[n..n + w].copy_from_slice(&whole[..w]);
    n += w;
    let mut frac = abs % scale;
    if frac != 0 {
        out[n] = b'.';
        n += 1;
        let mut divisor = scale / 10;
        while frac != 0 {
            out[n] = b'0' + (frac / divisor) as u8;
            n += 1;
            frac %= divisor;
            divisor /= 10;
        }
    }
    n
}
