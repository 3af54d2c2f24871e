//! Reject and reason codes: numbered ranges per subsystem, each code with a stable
//! name and a sentence a client can show.
//!
//! | range     | family       | raised by                                   |
//! |-----------|--------------|---------------------------------------------|
//! | 1000-1999 | session      | login, sequencing, disconnect reasons       |
//! | 2000-2999 | protocol     | framing and decoding                        |
//! | 3000-3999 | risk         | the broker's pre-trade risk checks          |
//! | 4000-4999 | suitability  | investor suitability and board permission   |
//! | 5000-5999 | exchange     | the venue (sim-exchange)                    |
//!
//! Codes are never renumbered or reused; new codes are appended in their range.

use core::fmt;

/// A reject or reason code (see the module docs for the ranges).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RejectCode(pub u16);

/// The subsystem a code belongs to, from its range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RejectFamily {
    /// 1000-1999.
    Session,
    /// 2000-2999.
    Protocol,
    /// 3000-3999.
    Risk,
    /// 4000-4999.
    Suitability,
    /// 5000-5999.
    Exchange,
    /// Outside every range.
    Unknown,
}

macro_rules! reject_codes {
    ($($(#[$meta:meta])* $konst:ident = $value:literal, $name:literal, $sentence:literal;)+) => {
        impl RejectCode {
            $($(#[$meta])* pub const $konst: RejectCode = RejectCode($value);)+

            /// Every defined code, in numeric order.
            pub const ALL: &'static [RejectCode] = &[$(RejectCode::$konst,)+];

            /// The stable snake_case name, or `None` for an undefined code.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($name),)+
                    _ => None,
                }
            }

            /// The human sentence, or `None` for an undefined code.
            pub const fn sentence(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($sentence),)+
                    _ => None,
                }
            }
        }
    };
}

reject_codes! {
    // ---- session: 1000-1999 ----
    /// A message other than Login arrived before login.
    NOT_LOGGED_IN = 1001, "not_logged_in", "Log in before sending this message.";
    /// Unknown username or wrong token.
    INVALID_CREDENTIALS = 1002, "invalid_credentials", "Unknown username or wrong token.";
    /// Too many failed logins recently.
    LOGIN_THROTTLED = 1003, "login_throttled", "Too many failed logins; wait before trying again.";
    /// The username already has a live session.
    ALREADY_LOGGED_IN = 1004, "already_logged_in", "This username already has a live session.";
    /// The requested sequence number is no longer retained.
    SEQUENCE_UNAVAILABLE = 1005, "sequence_unavailable", "The requested sequence number is older than the retained stream.";
    /// The requested sequence number is beyond the stream's end.
    SEQUENCE_AHEAD = 1006, "sequence_ahead", "The requested sequence number is beyond the last message sent.";
    /// The login asked for a protocol version the gateway does not speak.
    UNSUPPORTED_VERSION = 1007, "unsupported_version", "The requested protocol version is not supported.";
    /// Every session slot is taken.
    SESSION_LIMIT = 1008, "session_limit", "The gateway has no free session slot.";
    /// The session is configured to answer instead of pushing back, and the gateway is busy.
    THROTTLED = 1009, "throttled", "The gateway is busy and did not process this message; send it again.";
    /// The gateway is shutting down.
    SHUTTING_DOWN = 1010, "shutting_down", "The gateway is shutting down.";
    /// A query beyond the login's queries per second (`limits.max_queries_per_second`).
    QUERY_RATE_LIMITED = 1011, "query_rate_limited", "Too many queries per second for this login; wait and ask again.";
    /// A query on a login whose stream is older than version 3.
    QUERY_NEEDS_VERSION_3 = 1012, "query_needs_version_3", "Queries need a stream of protocol version 3 or later.";
    /// Disconnect: no Login within the login timeout.
    LOGIN_TIMEOUT = 1020, "login_timeout", "No login arrived in time.";
    /// Disconnect: nothing heard from the peer within the dead-peer timeout.
    DEAD_PEER = 1021, "dead_peer", "Nothing was heard from the peer within the dead-peer timeout.";
    /// Disconnect: the client stopped reading and its backlog passed the limit.
    BACKLOG_EXCEEDED = 1022, "backlog_exceeded", "The client did not read its messages and its backlog passed the limit; log in again to resume.";
    /// Disconnect: the client logged out.
    LOGGED_OUT = 1023, "logged_out", "The session logged out.";
    /// Disconnect: the byte stream could not be framed (bad length prefix).
    MALFORMED_STREAM = 1024, "malformed_stream", "The byte stream could not be split into frames.";
    /// Disconnect: the trading day ended.
    END_OF_DAY = 1025, "end_of_day", "The trading day has ended.";

    // ---- protocol: 2000-2999 ----
    /// The message type byte is not defined for this direction.
    UNKNOWN_MESSAGE_TYPE = 2001, "unknown_message_type", "The message type is not defined.";
    /// The length prefix exceeds the maximum frame size.
    FRAME_TOO_LARGE = 2002, "frame_too_large", "The frame is larger than the maximum frame size.";
    /// The frame is shorter or longer than the message type's layout.
    BAD_LENGTH = 2003, "bad_length", "The frame length does not match the message layout.";
    /// An enumerated field holds an undefined value.
    BAD_ENUM_VALUE = 2004, "bad_enum_value", "A field holds a value that is not defined for it.";
    /// An identifier field is not NUL-padded printable ASCII.
    BAD_IDENTIFIER = 2005, "bad_identifier", "An identifier field is not printable ASCII padded with NUL bytes.";
    /// A price field is out of range for the order type.
    INVALID_PRICE = 2006, "invalid_price", "The price is not valid for this order type.";
    /// A quantity field is zero or out of range.
    INVALID_QUANTITY = 2007, "invalid_quantity", "The quantity must be positive.";
    /// The combination of fields is not valid (e.g. a time in force that the order type forbids).
    INVALID_FIELD_COMBINATION = 2008, "invalid_field_combination", "The combination of order type and time in force is not valid.";
    /// A message that is valid but not expected now (a second Login, say).
    UNEXPECTED_MESSAGE = 2009, "unexpected_message", "This message is not expected in the session's current state.";
    /// A text field is not UTF-8.
    BAD_TEXT = 2010, "bad_text", "A text field is not valid UTF-8.";
    /// A query's page size is larger than one answer frame holds.
    BAD_PAGE_SIZE = 2011, "bad_page_size", "The page size is larger than one answer holds.";

    // ---- risk: 3000-3999, in the order the checks run ----
    /// Check 1: the login may not trade for this account.
    ACCOUNT_NOT_PERMITTED = 3001, "account_not_permitted", "This session may not trade for this account.";
    /// Check 1: the account is unknown.
    UNKNOWN_ACCOUNT = 3002, "unknown_account", "The account is unknown.";
    /// Check 2: the account's kill switch is engaged or its state is halted.
    ACCOUNT_HALTED = 3003, "account_halted", "Trading is halted for this account.";
    /// Check 2: the firm-wide kill switch is engaged.
    FIRM_HALTED = 3004, "firm_halted", "Trading is halted firm-wide.";
    /// Check 2: the account may only reduce positions.
    REDUCING_ONLY = 3005, "reducing_only", "This account may only reduce its positions.";
    /// Check 3: the cl_ord_id was used before with different content.
    DUPLICATE_CL_ORD_ID = 3006, "duplicate_cl_ord_id", "This cl_ord_id was already used today for a different order.";
    /// Check 3: the same order (account, security, side, price, quantity) arrived within the duplicate window.
    DUPLICATE_ORDER = 3007, "duplicate_order", "An identical order was sent moments ago.";
    /// Check 4: the security is not known.
    UNKNOWN_SECURITY = 3008, "unknown_security", "The security is not known.";
    /// Check 4: the security is halted.
    SECURITY_HALTED = 3009, "security_halted", "Trading in this security is halted.";
    /// Check 4: the security is suspended.
    SECURITY_SUSPENDED = 3010, "security_suspended", "This security is suspended.";
    /// Check 4: the market is closed for this security.
    MARKET_CLOSED = 3011, "market_closed", "The market is closed for this security.";
    /// Check 4: cancels are not allowed now (9:20-9:25, 14:57-15:00).
    NO_CANCEL_PHASE = 3012, "no_cancel_phase", "Cancels are not accepted in this phase of the call auction.";
    /// Check 5: the price is not a multiple of the tick.
    TICK_VIOLATION = 3013, "tick_violation", "The price is not a multiple of the tick size.";
    /// Check 6: the quantity breaks the board-lot rule.
    LOT_VIOLATION = 3014, "lot_violation", "The quantity breaks the board-lot rule.";
    /// Check 6: an odd lot may only be sold whole.
    ODD_LOT_SELL = 3015, "odd_lot_sell", "An odd-lot remainder may only be sold whole, in one order.";
    /// Check 7: the quantity exceeds the per-order maximum.
    MAX_QUANTITY = 3016, "max_quantity", "The quantity exceeds the maximum per order.";
    /// Check 8: the price is outside the daily price limit.
    PRICE_LIMIT = 3017, "price_limit", "The price is outside today's price limits.";
    /// Check 9: the price is outside the price cage.
    PRICE_CAGE = 3018, "price_cage", "The price is outside the price cage around the reference price.";
    /// Check 10: the price is too far from the reference price (fat finger).
    FAT_FINGER = 3019, "fat_finger", "The price is too far from the reference price.";
    /// Check 11: the order's notional exceeds the maximum.
    MAX_NOTIONAL = 3020, "max_notional", "The order's value exceeds the maximum per order.";
    /// Check 12: not enough cash for value plus fees.
    INSUFFICIENT_FUNDS = 3021, "insufficient_funds", "Available cash does not cover the order's value and fees.";
    /// Check 13: not enough sellable shares (T+1).
    INSUFFICIENT_POSITION = 3022, "insufficient_position", "Not enough sellable shares (shares bought today are sellable tomorrow).";
    /// Check 14: short sale without a securities-lending credit tag or account.
    SHORT_SELL_NOT_PERMITTED = 3023, "short_sell_not_permitted", "Short sales are allowed only through securities lending on a credit account.";
    /// Check 14: the security is not eligible for securities lending.
    SHORT_SELL_INELIGIBLE = 3024, "short_sell_ineligible", "This security is not eligible for securities lending.";
    /// Check 15: the security is on the restricted list for this account.
    RESTRICTED_SECURITY = 3025, "restricted_security", "This security is restricted for this account.";
    /// Check 17: per-second message limit.
    RATE_LIMITED = 3026, "rate_limited", "Too many messages per second for this account.";
    /// Check 17: daily message limit.
    DAILY_LIMIT = 3027, "daily_limit", "The account's daily message limit is reached.";
    /// Check 19: the order would trade against the account's own resting order.
    SELF_TRADE = 3028, "self_trade", "The order would trade against the account's own resting order.";
    /// Check 20: too many open orders in this security.
    OPEN_ORDER_LIMIT = 3029, "open_order_limit", "Too many open orders in this security.";
    /// Check 20: too many cancels in this security today.
    CANCEL_LIMIT = 3030, "cancel_limit", "Too many cancels in this security today.";
    /// Check 21: programmatic flag from an account not reported for programmatic trading.
    PROGRAMMATIC_NOT_REPORTED = 3031, "programmatic_not_reported", "The account is not reported for programmatic trading.";
    /// The gateway's order table is full.
    ORDER_CAPACITY = 3032, "order_capacity", "The gateway's order capacity for today is used up.";
    /// Cancel or replace of an order the gateway does not know.
    UNKNOWN_ORDER = 3033, "unknown_order", "No open order with this cl_ord_id for this account.";
    /// Cancel or replace of an order that is already closed.
    ORDER_CLOSED = 3034, "order_closed", "The order is already filled, cancelled or rejected.";
    /// A replace that is not valid (new quantity not above the filled quantity, or a market order).
    INVALID_REPLACE = 3035, "invalid_replace", "The replace is not valid for this order.";
    /// A cancel or replace is already in flight for this order.
    PENDING_CHANGE = 3036, "pending_change", "A cancel or replace for this order is still in flight.";
    /// Check 4: the market does not offer this order type (market IOC and FOK on SSE, best-5-then-limit on SZSE).
    ORDER_TYPE_NOT_OFFERED = 3037, "order_type_not_offered", "This order type is not offered on this market.";

    // ---- suitability: 4000-4999 ----
    /// The client is in the lowest risk category; anything above R1 is refused.
    LOWEST_CATEGORY_REFUSED = 4001, "lowest_category_refused", "The client is in the lowest risk category and may buy only R1 products.";
    /// The product is above the client's class: confirm to proceed.
    CONFIRMATION_REQUIRED = 4002, "confirmation_required", "The product's risk level is above the client's class; send the order again with the confirmation flag to proceed.";
    /// The account lacks permission for this board (hard gate).
    BOARD_NOT_PERMITTED = 4003, "board_not_permitted", "The account is not permitted to trade on this board.";

    // ---- exchange: 5000-5999 ----
    /// Venue: unknown security.
    VENUE_UNKNOWN_SECURITY = 5001, "venue_unknown_security", "The venue does not list this security.";
    /// Venue: tick size.
    VENUE_TICK_VIOLATION = 5002, "venue_tick_violation", "The venue refused the price: not a multiple of the tick size.";
    /// Venue: board lot.
    VENUE_LOT_VIOLATION = 5003, "venue_lot_violation", "The venue refused the quantity: it breaks the board-lot rule.";
    /// Venue: maximum quantity.
    VENUE_MAX_QUANTITY = 5004, "venue_max_quantity", "The venue refused the quantity: above the maximum per order.";
    /// Venue: daily price limit.
    VENUE_PRICE_LIMIT = 5005, "venue_price_limit", "The venue refused the price: outside today's price limits.";
    /// Venue: price cage.
    VENUE_PRICE_CAGE = 5006, "venue_price_cage", "The venue refused the price: outside the price cage.";
    /// Venue: security halted.
    VENUE_HALTED = 5007, "venue_halted", "The venue has halted trading in this security.";
    /// Venue: security suspended.
    VENUE_SUSPENDED = 5008, "venue_suspended", "The security is suspended at the venue.";
    /// Venue: cancels not accepted now (9:20-9:25, 14:57-15:00).
    VENUE_NO_CANCEL_PHASE = 5009, "venue_no_cancel_phase", "The venue accepts no cancels in this phase.";
    /// Venue: the market is closed.
    VENUE_CLOSED = 5010, "venue_closed", "The venue is closed for this security.";
    /// Venue: a market order found no price to trade at.
    VENUE_NO_LIQUIDITY = 5011, "venue_no_liquidity", "The market order found no price to trade at.";
    /// Venue: market orders are not accepted in this phase (call auctions).
    VENUE_MARKET_ORDER_NOT_ALLOWED = 5012, "venue_market_order_not_allowed", "The venue accepts only limit orders in this phase.";
    /// Venue: unknown order.
    VENUE_UNKNOWN_ORDER = 5013, "venue_unknown_order", "The venue does not know this order.";
    /// Venue: order already closed.
    VENUE_ORDER_CLOSED = 5014, "venue_order_closed", "The order is already closed at the venue.";
    /// Venue: self-trade prevention refused the order.
    VENUE_SELF_TRADE = 5015, "venue_self_trade", "The venue's self-trade prevention refused the order.";
    /// Venue: the venue's order capacity is full.
    VENUE_CAPACITY = 5016, "venue_capacity", "The venue's order capacity is full.";
    /// Venue: the replace is not valid.
    VENUE_INVALID_REPLACE = 5017, "venue_invalid_replace", "The venue refused the replace.";
    /// Venue: the order type and time in force do not fit together.
    VENUE_INVALID_ORDER = 5018, "venue_invalid_order", "The venue refused the order type or time in force.";
    /// Venue: odd-lot sell rule.
    VENUE_ODD_LOT_SELL = 5019, "venue_odd_lot_sell", "The venue refused the quantity: an odd lot may only be sold whole.";
    /// Venue: price is not positive.
    VENUE_INVALID_PRICE = 5020, "venue_invalid_price", "The venue refused the price.";
    /// Venue: the market does not offer this order type.
    VENUE_ORDER_TYPE_NOT_OFFERED = 5021, "venue_order_type_not_offered", "The venue does not offer this order type on this market.";
    /// Venue: a limit order with IOC or FOK time in force; limit orders are day orders.
    VENUE_DAY_ORDERS_ONLY = 5022, "venue_day_orders_only", "The venue takes limit orders as day orders only.";
}

impl RejectCode {
    /// The family this code belongs to, from its range.
    pub const fn family(self) -> RejectFamily {
        match self.0 {
            1000..=1999 => RejectFamily::Session,
            2000..=2999 => RejectFamily::Protocol,
            3000..=3999 => RejectFamily::Risk,
            4000..=4999 => RejectFamily::Suitability,
            5000..=5999 => RejectFamily::Exchange,
            _ => RejectFamily::Unknown,
        }
    }

    /// True when the code is in the table.
    pub const fn is_defined(self) -> bool {
        self.name().is_some()
    }
}

impl fmt::Debug for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RejectCode({} {})", self.0, self.name().unwrap_or("undefined"))
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.name().unwrap_or("undefined"))
    }
}

/// Structured facts that make a reject's text specific ("price 11.50 is outside
/// 9.00-11.00"). Travels on the wire as a kind byte plus three i64 values, and the
/// human text is rendered from the code and the detail.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RejectDetail {
    /// Nothing beyond the code's sentence.
    #[default]
    None,
    /// A price against an allowed band (limit, cage, collar).
    PriceBand {
        /// The order's price.
        price: crate::Price,
        /// Lowest allowed.
        lower: crate::Price,
        /// Highest allowed.
        upper: crate::Price,
    },
    /// A quantity against a limit or a step.
    Quantity {
        /// The order's quantity.
        qty: u64,
        /// The limit, step or available amount it was compared with.
        limit: u64,
    },
    /// An amount of money in 1/10000 CNY: needed against available or allowed.
    Amount {
        /// Needed (or the order's value).
        needed: i64,
        /// Available (or the maximum allowed).
        available: i64,
    },
    /// A count against its limit (open orders, messages, cancels).
    Count {
        /// The count the order would reach.
        count: u64,
        /// The limit.
        limit: u64,
    },
    /// Suitability: the client's class against the product's risk level.
    Suitability {
        /// Client class 1..=5 (C1..C5).
        client_class: u8,
        /// Product risk level 1..=5 (R1..R5).
        product_level: u8,
    },
}

impl RejectDetail {
    /// Wire kind byte.
    pub const fn kind(&self) -> u8 {
        match self {
            RejectDetail::None => 0,
            RejectDetail::PriceBand { .. } => 1,
            RejectDetail::Quantity { .. } => 2,
            RejectDetail::Amount { .. } => 3,
            RejectDetail::Count { .. } => 4,
            RejectDetail::Suitability { .. } => 5,
        }
    }

    /// The three wire values (unused ones are zero).
    pub const fn values(&self) -> [i64; 3] {
        match *self {
            RejectDetail::None => [0, 0, 0],
            RejectDetail::PriceBand { price, lower, upper } => [price.0, lower.0, upper.0],
            // u64 values travel as their bit pattern (above i64::MAX they read negative as i64).
            RejectDetail::Quantity { qty, limit } => [qty as i64, limit as i64, 0],
            RejectDetail::Amount { needed, available } => [needed, available, 0],
            RejectDetail::Count { count, limit } => [count as i64, limit as i64, 0],
            RejectDetail::Suitability { client_class, product_level } => {
                [client_class as i64, product_level as i64, 0]
            }
        }
    }

    /// Rebuilds a detail from its wire kind and values; `None` for an unknown kind
    /// or values out of range for the kind.
    pub fn from_wire(kind: u8, v: [i64; 3]) -> Option<RejectDetail> {
        let level = |x: i64| u8::try_from(x).ok().filter(|l| (1..=5).contains(l));
        let detail = match kind {
            0 => RejectDetail::None,
            1 => RejectDetail::PriceBand {
                price: crate::Price(v[0]),
                lower: crate::Price(v[1]),
                upper: crate::Price(v[2]),
            },
            // Quantities and counts are u64 carried in the i64 slots bit for bit (see
            // `values`), so every u64 the encoder can write reads back unchanged.
            2 => RejectDetail::Quantity { qty: v[0] as u64, limit: v[1] as u64 },
            3 => RejectDetail::Amount { needed: v[0], available: v[1] },
            4 => RejectDetail::Count { count: v[0] as u64, limit: v[1] as u64 },
            5 => RejectDetail::Suitability {
                client_class: level(v[0])?,
                product_level: level(v[1])?,
            },
            _ => return None,
        };
        // Unused values must be zero so that decode(encode(x)) == x holds byte for byte.
        if detail.values() != v {
            return None;
        }
        Some(detail)
    }
}

/// Writes the human text for a code and its detail: the code's sentence, then the
/// specifics. Uses `core::fmt` only, so it can write into a fixed buffer.
pub fn write_text(
    out: &mut impl fmt::Write,
    code: RejectCode,
    detail: &RejectDetail,
) -> fmt::Result {
    out.write_str(code.sentence().unwrap_or("Rejected."))?;
    match *detail {
        RejectDetail::None => Ok(()),
        RejectDetail::PriceBand { price, lower, upper } => {
            write!(out, " Price {price} is outside {lower}-{upper}.")
        }
        RejectDetail::Quantity { qty, limit } => write!(out, " Quantity {qty}, limit {limit}."),
        RejectDetail::Amount { needed, available } => write!(
            out,
            " Needed CNY {}, available CNY {}.",
            crate::Price(needed),
            crate::Price(available)
        ),
        RejectDetail::Count { count, limit } => write!(out, " Count {count}, limit {limit}."),
        RejectDetail::Suitability { client_class, product_level } => write!(
            out,
            " This product suits R{product_level}+ clients (C{product_level} and above); you are C{client_class}."
        ),
    }
}

/// A fixed-capacity text buffer for rendering reject texts without allocating.
/// Text past the capacity is cut at a character boundary.
#[derive(Clone, Copy)]
pub struct TextBuf {
    bytes: [u8; TextBuf::CAPACITY],
    len: usize,
}

impl TextBuf {
    /// Largest text carried on the wire, in bytes.
    pub const CAPACITY: usize = 255;

    /// An empty buffer.
    pub const fn new() -> TextBuf {
        TextBuf { bytes: [0; TextBuf::CAPACITY], len: 0 }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        // Only whole `&str` pieces are ever appended (see `write_str`).
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// The text as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// Renders the text of a reject.
    pub fn render(code: RejectCode, detail: &RejectDetail) -> TextBuf {
        let mut buf = TextBuf::new();
        // `write_str` below never fails; truncation is silent by design.
        let _ = write_text(&mut buf, code, detail);
        buf
    }
}

impl Default for TextBuf {
    fn default() -> Self {
        TextBuf::new()
    }
}

impl fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = Self::CAPACITY - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.bytes[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

impl fmt::Debug for TextBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TextBuf({:?})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_unique_number_and_name_in_its_range() {
        let mut numbers: Vec<u16> = RejectCode::ALL.iter().map(|c| c.0).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), RejectCode::ALL.len(), "duplicate code number");
        let mut names: Vec<&str> = RejectCode::ALL.iter().map(|c| c.name().unwrap()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RejectCode::ALL.len(), "duplicate code name");
        for code in RejectCode::ALL {
            assert_ne!(code.family(), RejectFamily::Unknown, "{code:?} outside every range");
            let sentence = code.sentence().unwrap();
            assert!(sentence.ends_with('.'), "{code:?} sentence must be a sentence");
        }
        assert_eq!(RejectCode(999).family(), RejectFamily::Unknown);
        assert!(!RejectCode(3999).is_defined());
    }

    #[test]
    fn text_names_both_suitability_levels() {
        let text = TextBuf::render(
            RejectCode::CONFIRMATION_REQUIRED,
            &RejectDetail::Suitability { client_class: 2, product_level: 3 },
        );
        assert!(text.as_str().contains("R3+"), "{}", text.as_str());
        assert!(text.as_str().contains("you are C2"), "{}", text.as_str());
    }

    #[test]
    fn text_buffer_truncates_at_char_boundary() {
        use core::fmt::Write;
        let mut buf = TextBuf::new();
        for _ in 0..100 {
            buf.write_str("价格").unwrap();
        }
        assert!(buf.as_bytes().len() <= TextBuf::CAPACITY);
        assert!(buf.as_str().chars().all(|c| c == '价' || c == '格'));
    }

    #[test]
    fn detail_wire_form_round_trips_and_rejects_junk() {
        let details = [
            RejectDetail::None,
            RejectDetail::PriceBand {
                price: crate::Price(1),
                lower: crate::Price(2),
                upper: crate::Price(3),
            },
            RejectDetail::Quantity { qty: 5, limit: 6 },
            RejectDetail::Amount { needed: -7, available: 8 },
            RejectDetail::Count { count: 9, limit: 10 },
            RejectDetail::Suitability { client_class: 1, product_level: 5 },
        ];
        for d in details {
            assert_eq!(RejectDetail::from_wire(d.kind(), d.values()), Some(d));
        }
        assert_eq!(RejectDetail::from_wire(6, [0; 3]), None);
        assert_eq!(RejectDetail::from_wire(5, [0, 1, 0]), None);
        assert_eq!(RejectDetail::from_wire(0, [1, 0, 0]), None);
    }

    #[test]
    fn detail_quantities_above_i64_max_round_trip() {
        // A client may send any u64 quantity; the reject naming it must decode.
        for d in [
            RejectDetail::Quantity { qty: u64::MAX, limit: 1_000_000 },
            RejectDetail::Count { count: 1 << 63, limit: u64::MAX },
        ] {
            assert_eq!(RejectDetail::from_wire(d.kind(), d.values()), Some(d));
        }
        assert_eq!(
            RejectDetail::from_wire(2, [-1, 0, 0]),
            Some(RejectDetail::Quantity { qty: u64::MAX, limit: 0 })
        );
    }
}
