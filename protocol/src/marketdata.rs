//! The market-data protocol: channels, the wire messages, and a book builder.
//!
//! `docs/marketdata.md` at the repository root is the contract this module
//! implements; `protocol/tests/marketdata_doc.rs` holds the two together.

/// The channel of a security: `market × 100 + code / 10,000`, so each channel holds
/// the codes that share their first two digits on one market (SSE 600000–609999 is
/// channel 160, STAR 688xxx is 168, SZSE 000xxx is 200, ChiNext 300xxx is 230).
/// Sequence numbers count per channel.
pub const fn channel_of(security: crate::SecurityId) -> u16 {
    security.market.as_u8() as u16 * 100 + (security.code / 10_000) as u16
}
