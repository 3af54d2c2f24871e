//! Domain types shared by every crate: prices, quantities, identifiers and the
//! small enums that travel on the wire.
//!
//! Every enum that appears on the wire has a `from_u8` that returns `None` for an
//! unknown value, so the decoder can turn it into a typed error instead of a panic.

use core::fmt;

/// A price in fixed point: 1/10000 CNY per unit (`Price(15_000_000)` is CNY 1500.00).
///
/// No floating point is used anywhere on the order path; parsing and printing go
/// through integer arithmetic only.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Price(pub i64);

impl Price {
    /// Units of [`Price`] per CNY.
    pub const SCALE: i64 = 10_000;
    /// Zero: the price field of a market order.
    pub const ZERO: Price = Price(0);
    /// The A-share tick (CNY 0.01).
    pub const CNY_TICK: Price = Price(100);

    /// `yuan` whole CNY plus `fen` hundredths.
    pub const fn from_yuan_fen(yuan: i64, fen: i64) -> Price {
        Price(yuan * Self::SCALE + fen * 100)
    }

    /// The raw fixed-point value (1/10000 CNY).
    pub const fn raw(self) -> i64 {
        self.0
    }

    /// Parses a decimal CNY amount such as `1500`, `1500.5` or `12.3456`.
    ///
    /// At most four decimal places; no sign, exponent or separators. Returns
    /// `None` for anything else or on overflow.
    pub fn parse_cny(text: &str) -> Option<Price> {
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        if whole.is_empty() || frac.len() > 4 {
            return None;
        }
        if !whole.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let whole: i64 = whole.parse().ok()?;
        let mut frac_units: i64 = 0;
        for (i, b) in frac.bytes().enumerate() {
            frac_units += i64::from(b - b'0') * 10i64.pow(3 - i as u32);
        }
        whole.checked_mul(Self::SCALE)?.checked_add(frac_units).map(Price)
    }
}

impl fmt::Display for Price {
    /// Prints CNY with two decimals, or four when the value needs them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let whole = abs / Self::SCALE as u64;
        let frac = abs % Self::SCALE as u64;
        if frac.is_multiple_of(100) {
            write!(f, "{sign}{whole}.{:02}", frac / 100)
        } else {
            write!(f, "{sign}{whole}.{frac:04}")
        }
    }
}

impl fmt::Debug for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Price({self})")
    }
}

/// A quantity of shares.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Qty(pub u64);

impl Qty {
    /// Zero shares.
    pub const ZERO: Qty = Qty(0);
}

impl fmt::Display for Qty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Defines a `#[repr(u8)]` wire enum with `from_u8`, `as_u8` and `name`.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal => $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// Every value, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];

            /// The variant for a wire byte, or `None` if the byte is not defined.
            pub const fn from_u8(value: u8) -> Option<$name> {
                match value {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The wire byte.
            pub const fn as_u8(self) -> u8 {
                self as u8
            }

            /// A stable lower-case name, as used in logs, metrics and the CLI.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }

        // Serialized as the wire byte, which is never renumbered (the variant
        // index serde would use changes if variants are reordered).
        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u8(self.as_u8())
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let byte = <u8 as serde::Deserialize>::deserialize(d)?;
                $name::from_u8(byte).ok_or_else(|| {
                    serde::de::Error::custom(format_args!(
                        concat!("undefined ", stringify!($name), " byte {}"),
                        byte
                    ))
                })
            }
        }
    };
}

pub(crate) use wire_enum;

wire_enum! {
    /// Buy or sell.
    Side {
        /// Buy.
        Buy = 1 => "buy",
        /// Sell.
        Sell = 2 => "sell",
    }
}

impl Side {
    /// The other side.
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

wire_enum! {
    /// Order type: a limit order or one of the A-share market order types.
    OrderType {
        /// Limit order at the given price.
        Limit = 1 => "limit",
        /// Market, best own side (本方最优): priced at the best price on the order's
        /// own side; rejected if that side is empty.
        MarketBestOwn = 2 => "market-best-own",
        /// Market, best counter side (对手方最优): priced at the best opposite price;
        /// rejected if the opposite side is empty.
        MarketBestCounter = 3 => "market-best-counter",
        /// Market, best five levels then cancel (最优五档即时成交剩余撤销).
        MarketBest5Cancel = 4 => "market-best5-cancel",
        /// Market, immediate or cancel (即时成交剩余撤销): sweeps the book, the rest cancelled.
        MarketIoc = 5 => "market-ioc",
        /// Market, fill or kill (全额成交或撤销): fills completely at once or not at all.
        MarketFok = 6 => "market-fok",
        /// Market, best five levels then limit (最优五档即时成交剩余转限价, SSE): trades
        /// through up to five opposite levels; the rest becomes a limit order at its last
        /// trade price, or, when nothing traded, at the best price on its own side, and
        /// is cancelled when that side is empty too.
        MarketBest5Limit = 7 => "market-best5-limit",
    }
}

impl OrderType {
    /// True for every market order type.
    pub const fn is_market(self) -> bool {
        !matches!(self, OrderType::Limit)
    }

    /// The time in force a market order type implies; `None` for a limit order,
    /// which may carry any.
    pub const fn implied_tif(self) -> Option<TimeInForce> {
        match self {
            OrderType::Limit => None,
            OrderType::MarketBestOwn
            | OrderType::MarketBestCounter
            | OrderType::MarketBest5Limit => Some(TimeInForce::Day),
            OrderType::MarketBest5Cancel | OrderType::MarketIoc => Some(TimeInForce::Ioc),
            OrderType::MarketFok => Some(TimeInForce::Fok),
        }
    }
}

wire_enum! {
    /// Time in force.
    TimeInForce {
        /// Rests until filled, cancelled or the end of the trading day.
        Day = 1 => "day",
        /// Immediate or cancel: what does not trade at once is cancelled.
        Ioc = 2 => "ioc",
        /// Fill or kill: trades completely at once or is cancelled whole.
        Fok = 3 => "fok",
    }
}

wire_enum! {
    /// The exchange a security is listed on.
    Market {
        /// Shanghai Stock Exchange (XSHG).
        Sse = 1 => "sse",
        /// Shenzhen Stock Exchange (XSHE).
        Szse = 2 => "szse",
        /// Beijing Stock Exchange (BJSE).
        Bse = 3 => "bse",
    }
}

wire_enum! {
    /// The listing board, which decides lot, quantity, price-limit and cage rules.
    Board {
        /// Shanghai main board.
        SseMain = 1 => "sse-main",
        /// Shenzhen main board.
        SzseMain = 2 => "szse-main",
        /// ChiNext (Shenzhen growth board).
        ChiNext = 3 => "chinext",
        /// STAR Market (Shanghai science and technology board).
        Star = 4 => "star",
        /// Beijing Stock Exchange.
        Bse = 5 => "bse",
    }
}

impl Board {
    /// The exchange that lists this board.
    pub const fn market(self) -> Market {
        match self {
            Board::SseMain | Board::Star => Market::Sse,
            Board::SzseMain | Board::ChiNext => Market::Szse,
            Board::Bse => Market::Bse,
        }
    }
}

wire_enum! {
    /// Credit tag of an order: a cash order, a margin purchase, or a short sale
    /// through securities lending.
    CreditTag {
        /// Ordinary cash account order.
        Cash = 0 => "cash",
        /// Margin financing purchase (融资买入).
        MarginBuy = 1 => "margin-buy",
        /// Short sale through securities lending (融券卖出).
        ShortSell = 2 => "short-sell",
    }
}

wire_enum! {
    /// Why an order was cancelled.
    CancelReason {
        /// The client asked (CancelOrder or MassCancel).
        Client = 1 => "client",
        /// The session dropped and cancel-on-disconnect was on.
        CancelOnDisconnect = 2 => "cancel-on-disconnect",
        /// A kill switch was engaged (mass cancel with block, or the risk desk).
        KillSwitch = 3 => "kill-switch",
        /// The venue cancelled it (an IOC/FOK/market remainder, self-trade prevention).
        Venue = 4 => "venue",
        /// The order expired at the end of the trading day.
        Expired = 5 => "expired",
    }
}

wire_enum! {
    /// The trading phase of an instrument (or of the whole venue).
    TradingPhase {
        /// Before the open or after the close: orders are refused.
        Closed = 0 => "closed",
        /// Opening call auction, cancels allowed (9:15-9:20).
        OpeningAuction = 1 => "opening-auction",
        /// Opening call auction, no cancels (9:20-9:25).
        OpeningAuctionNoCancel = 2 => "opening-auction-no-cancel",
        /// After the opening uncross, before continuous trading (9:25-9:30): orders
        /// are accepted and queued, nothing matches.
        PreContinuous = 3 => "pre-continuous",
        /// Continuous trading (9:30-11:30, 13:00-14:57).
        Continuous = 4 => "continuous",
        /// Midday break (11:30-13:00): orders are accepted and queued, nothing matches.
        Break = 5 => "break",
        /// Closing call auction (14:57-15:00).
        ClosingAuction = 6 => "closing-auction",
        /// Trading halted (circuit breaker or instrument halt): orders refused.
        Halted = 7 => "halted",
    }
}

wire_enum! {
    /// Whether an execution added or removed liquidity.
    Liquidity {
        /// The order was resting on the book (maker).
        Added = 1 => "added",
        /// The order was the incoming aggressor (taker).
        Removed = 2 => "removed",
        /// The execution came from a call auction uncross.
        Auction = 3 => "auction",
    }
}

wire_enum! {
    /// Where an order or a request stands between the broker's acceptance and the
    /// venue's answer (protocol version 2, OrderPending). The A-share terms a
    /// client's screen shows are given with each.
    PendingStatus {
        /// Passed the broker's checks and held by the broker until the venue takes
        /// orders again (待报: the midday break).
        Queued = 1 => "queued",
        /// Passed the broker's checks and reported to the venue; its confirmation
        /// follows (已报).
        Reported = 2 => "reported",
        /// A cancel passed the broker's checks and was sent to the venue; the
        /// venue's Canceled or CancelRejected follows (已报待撤).
        CancelPending = 3 => "cancel-pending",
        /// A replace passed the broker's checks and was sent to the venue; the
        /// venue's Replaced or CancelRejected follows.
        ReplacePending = 4 => "replace-pending",
    }
}

/// A listed security: its market plus its six-digit code.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SecurityId {
    /// Listing exchange.
    pub market: Market,
    /// Security code, at most six decimal digits (600519, 000001, 688981).
    pub code: u32,
}

impl SecurityId {
    /// Largest valid security code.
    pub const CODE_MAX: u32 = 999_999;

    /// A security id; `None` if `code` has more than six digits.
    pub const fn new(market: Market, code: u32) -> Option<SecurityId> {
        if code > Self::CODE_MAX { None } else { Some(SecurityId { market, code }) }
    }
}

impl fmt::Display for SecurityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = match self.market {
            Market::Sse => "SH",
            Market::Szse => "SZ",
            Market::Bse => "BJ",
        };
        write!(f, "{:06}.{suffix}", self.code)
    }
}

/// Why text is not a security (`600519.SH`, `000001.SZ`, `430047.BJ`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("expected a security like 600519.SH, 000001.SZ or 430047.BJ")]
pub struct SecurityIdError;

/// Parses what [`Display`](fmt::Display) prints: six digits, a dot, then `SH`,
/// `SZ` or `BJ` (upper case). The one parser of the spelling; configuration, the
/// admin API and the tools all use it.
impl core::str::FromStr for SecurityId {
    type Err = SecurityIdError;

    fn from_str(text: &str) -> Result<SecurityId, SecurityIdError> {
        let (code, suffix) = text.split_once('.').ok_or(SecurityIdError)?;
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SecurityIdError);
        }
        let market = match suffix {
            "SH" => Market::Sse,
            "SZ" => Market::Szse,
            "BJ" => Market::Bse,
            _ => return Err(SecurityIdError),
        };
        let number = code.parse().map_err(|_| SecurityIdError)?;
        SecurityId::new(market, number).ok_or(SecurityIdError)
    }
}

impl fmt::Debug for SecurityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecurityId({self})")
    }
}

/// Serialized as `(market, code)`; reading checks the code like [`SecurityId::new`].
#[cfg(feature = "serde")]
impl serde::Serialize for SecurityId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&(self.market, self.code), s)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SecurityId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SecurityId, D::Error> {
        let (market, code) = <(Market, u32) as serde::Deserialize>::deserialize(d)?;
        SecurityId::new(market, code).ok_or_else(|| {
            serde::de::Error::custom(format_args!("security code {code} has more than six digits"))
        })
    }
}

/// Error from building a fixed-width ASCII identifier.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum IdError {
    /// Empty text.
    #[error("identifier is empty")]
    Empty,
    /// Longer than the field.
    #[error("identifier is longer than {max} bytes")]
    TooLong {
        /// The field width.
        max: usize,
    },
    /// A byte outside printable ASCII (0x21..=0x7e), or a space.
    #[error("identifier must be printable ASCII without spaces")]
    NotPrintable,
}

/// True when a 16-byte identifier field is valid: 1 to 16 printable ASCII bytes
/// (0x21..=0x7e), then NUL bytes only. Same answer as the obvious byte loop (which
/// `tests/identifiers.rs` holds it to), computed on all 16 bytes at once as one
/// `u128`, with no per-byte branch: this runs on every decode.
#[inline]
const fn padded_ascii_ok(bytes: [u8; 16]) -> bool {
    const HIGH: u128 = u128::from_ne_bytes([0x80; 16]);
    const LOW7: u128 = u128::from_ne_bytes([0x7f; 16]);
    const ADD_5F: u128 = u128::from_ne_bytes([0x5f; 16]);
    const ADD_01: u128 = u128::from_ne_bytes([0x01; 16]);
    // Byte i of the field is byte i of `x`, so later bytes are more significant.
    let x = u128::from_le_bytes(bytes);
    let low = x & LOW7; // Each byte below 0x80: the sums below cannot carry across bytes.
    // Per byte, the top bit of each mask answers one question exactly.
    let nul = !((low + LOW7) | x) & HIGH; // byte == 0
    let at_least_21 = (low + ADD_5F) & HIGH; // low 7 bits >= 0x21
    let at_most_7e = !(low + ADD_01) & HIGH; // low 7 bits <= 0x7e
    let printable = at_least_21 & at_most_7e & !(x & HIGH);
    // The NULs must be a suffix that leaves at least the first byte.
    let from_first_nul = match u128::MAX.checked_shl(nul.trailing_zeros()) {
        Some(mask) => mask & HIGH,
        None => 0, // No NUL at all: the identifier fills the field.
    };
    (printable | nul) == HIGH && nul == from_first_nul && bytes[0] != 0
}

/// Defines a fixed-width, NUL-padded ASCII identifier.
macro_rules! ascii_id {
    ($(#[$meta:meta])* $name:ident, $len:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        // Aligned like the u64s around it, so a decoded message keeps its 16 bytes in
        // two aligned words; at an odd offset the compiler wrote them in pieces and
        // every later read stalled on store forwarding (see the codec bench).
        #[repr(align(8))]
        pub struct $name([u8; $len]);

        impl $name {
            /// Width of the field on the wire, in bytes.
            pub const LEN: usize = $len;

            /// Builds the identifier from text: 1 to `LEN` printable ASCII bytes.
            pub fn new(text: &str) -> Result<$name, IdError> {
                Self::from_padded_prefix(text.as_bytes())
            }

            fn from_padded_prefix(text: &[u8]) -> Result<$name, IdError> {
                if text.is_empty() {
                    return Err(IdError::Empty);
                }
                if text.len() > $len {
                    return Err(IdError::TooLong { max: $len });
                }
                if !text.iter().all(|b| (0x21..=0x7e).contains(b)) {
                    return Err(IdError::NotPrintable);
                }
                let mut bytes = [0u8; $len];
                bytes[..text.len()].copy_from_slice(text);
                Ok($name(bytes))
            }

            /// Validates the raw wire bytes: printable ASCII, then NUL padding only.
            ///
            /// This is on every decode's path, so it checks the 16 bytes at once (see
            /// [`padded_ascii_ok`]) and keeps them as they are: they already are the
            /// padded form, so there is nothing to copy.
            #[inline]
            pub fn from_wire(bytes: [u8; $len]) -> Result<$name, IdError> {
                if padded_ascii_ok(bytes) {
                    Ok($name(bytes))
                } else if bytes == [0; $len] {
                    Err(IdError::Empty)
                } else {
                    Err(IdError::NotPrintable)
                }
            }

            /// The raw wire bytes.
            pub const fn to_wire(self) -> [u8; $len] {
                self.0
            }

            /// The identifier as text, without padding.
            pub fn as_str(&self) -> &str {
                let used = self.0.iter().position(|&b| b == 0).unwrap_or($len);
                // Construction admits printable ASCII only, which is valid UTF-8.
                core::str::from_utf8(&self.0[..used]).unwrap_or("")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.as_str())
            }
        }

        impl core::str::FromStr for $name {
            type Err = IdError;
            fn from_str(text: &str) -> Result<$name, IdError> {
                $name::new(text)
            }
        }

        /// Serialized as the raw wire bytes; reading validates them like
        /// [`Self::from_wire`].
        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&self.0, s)
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let bytes = <[u8; $len] as serde::Deserialize>::deserialize(d)?;
                $name::from_wire(bytes).map_err(|e| {
                    serde::de::Error::custom(format_args!(concat!(stringify!($name), ": {}"), e))
                })
            }
        }
    };
}

ascii_id!(
    /// A trading account (up to 16 printable ASCII bytes, NUL padded on the wire).
    AccountId,
    16
);

ascii_id!(
    /// A login name (up to 16 printable ASCII bytes, NUL padded on the wire).
    Username,
    16
);

/// A login secret: exactly 32 bytes, any values. Compared in constant time by the
/// gateway; never printed.
#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Token(pub [u8; 32]);

impl Token {
    /// Width of the field on the wire, in bytes.
    pub const LEN: usize = 32;

    /// A token from text of at most 32 bytes, NUL padded.
    pub fn from_text(text: &str) -> Option<Token> {
        let bytes = text.as_bytes();
        if bytes.len() > Self::LEN {
            return None;
        }
        let mut token = [0u8; 32];
        token[..bytes.len()].copy_from_slice(bytes);
        Some(Token(token))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The client's order id: unique per account per trading day.
pub type ClOrdId = u64;
/// The gateway's order id: unique per trading day across the gateway.
pub type OrderId = u64;
/// An execution id: unique per trading day across the venue.
pub type ExecId = u64;
/// A sequence number of the server-to-client stream of one login (first is 1).
pub type Seq = u64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_parses_and_prints_cny() {
        assert_eq!(Price::parse_cny("1500.00"), Some(Price(15_000_000)));
        assert_eq!(Price::parse_cny("1500"), Some(Price(15_000_000)));
        assert_eq!(Price::parse_cny("12.3456"), Some(Price(123_456)));
        assert_eq!(Price::parse_cny("0.5"), Some(Price(5_000)));
        assert_eq!(Price::parse_cny("1.23456"), None);
        assert_eq!(Price::parse_cny("-1"), None);
        assert_eq!(Price::parse_cny(".5"), None);
        assert_eq!(Price::parse_cny("1e3"), None);
        assert_eq!(Price::parse_cny("99999999999999999999"), None);
        assert_eq!(Price(15_000_000).to_string(), "1500.00");
        assert_eq!(Price(123_456).to_string(), "12.3456");
        assert_eq!(Price(-5_000).to_string(), "-0.50");
    }

    #[test]
    fn security_ids_parse_what_they_print() {
        for text in ["600519.SH", "000001.SZ", "430047.BJ", "688981.SH"] {
            let id: SecurityId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
        }
        assert_eq!("600519.SH".parse(), Ok(SecurityId { market: Market::Sse, code: 600_519 }));
        for bad in ["600519", "60051.SH", "6005190.SH", "600519.XX", "600519.sh", "60051a.SZ", ""] {
            assert_eq!(bad.parse::<SecurityId>(), Err(SecurityIdError), "{bad}");
        }
    }

    #[test]
    fn entry_states_parse_what_they_print() {
        use crate::codec::{EntryState, EntryStateError};
        for state in EntryState::ALL {
            assert_eq!(state.to_string().parse(), Ok(state));
        }
        assert_eq!("reducing-only".parse(), Ok(EntryState::ReducingOnly));
        assert_eq!("Active".parse::<EntryState>(), Err(EntryStateError));
    }

    #[test]
    fn ascii_ids_validate() {
        assert_eq!(AccountId::new("A001").unwrap().as_str(), "A001");
        assert_eq!(AccountId::new(""), Err(IdError::Empty));
        assert_eq!(AccountId::new("A0123456789012345"), Err(IdError::TooLong { max: 16 }));
        assert_eq!(AccountId::new("A 1"), Err(IdError::NotPrintable));
        let mut wire = AccountId::new("A001").unwrap().to_wire();
        assert_eq!(AccountId::from_wire(wire).unwrap().as_str(), "A001");
        wire[10] = b'x';
        assert_eq!(AccountId::from_wire(wire), Err(IdError::NotPrintable));
        assert_eq!(AccountId::from_wire([0; 16]), Err(IdError::Empty));
    }

    #[test]
    fn security_id_prints_with_suffix() {
        let kweichow = SecurityId::new(Market::Sse, 600_519).unwrap();
        assert_eq!(kweichow.to_string(), "600519.SH");
        let pingan = SecurityId::new(Market::Szse, 1).unwrap();
        assert_eq!(pingan.to_string(), "000001.SZ");
        assert!(SecurityId::new(Market::Sse, 1_000_000).is_none());
    }

    #[test]
    fn enums_round_trip_and_reject_unknown_bytes() {
        for side in Side::ALL {
            assert_eq!(Side::from_u8(side.as_u8()), Some(*side));
        }
        for ot in OrderType::ALL {
            assert_eq!(OrderType::from_u8(ot.as_u8()), Some(*ot));
        }
        assert_eq!(Side::from_u8(0), None);
        assert_eq!(OrderType::from_u8(7), Some(OrderType::MarketBest5Limit));
        assert_eq!(OrderType::from_u8(8), None);
        assert_eq!(TradingPhase::from_u8(8), None);
    }
}
