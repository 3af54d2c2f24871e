//! The wire format: frames, message layouts, encoding and decoding.
//!
//! A frame is `u16 length | u8 type | body`, all integers little-endian. `length`
//! counts the bytes after itself (type byte plus body), so a whole frame is
//! `2 + length` bytes and never more than [`MAX_FRAME_LEN`]. Every body has a fixed
//! layout (fields at fixed offsets, see `docs/protocol.md`), declared once in
//! [`layout`]: offsets, body lengths and the raw reads and writes all come from
//! those declarations. The two messages that carry text end with
//! `u8 text_len | text`; the paged query answers with their rows.
//!
//! Decoding takes exactly one frame, reads fields in place at their offsets and
//! returns a `Copy` value; it never panics and never reads past the frame. Every
//! malformed input is a [`DecodeError`]. Encoding writes into a caller's buffer and
//! allocates nothing.

use bytes::BufMut;

use crate::query::{
    ANSWER_HEADER_LEN, AnswerHeader, FILL_ROW_LEN, FillFees, FillRow, FillsAnswer, FundsAnswer,
    FundsRow, MAX_FILL_ROWS, MAX_ORDER_ROWS, MAX_POSITION_ROWS, ORDER_ROW_LEN, OrderRow,
    OrderStatus, OrdersAnswer, POSITION_ROW_LEN, PositionRow, PositionsAnswer, Query, QueryAnswer,
    QueryKind, QueryRejected, Rows, query_flags,
};
use crate::reject::{RejectCode, RejectDetail, TextBuf};
use crate::types::{
    AccountId, CancelReason, ClOrdId, CreditTag, ExecId, Liquidity, Market, OrderId, OrderType,
    PendingStatus, Price, Qty, SecurityId, Seq, Side, TimeInForce, Token, TradingPhase, Username,
};
use crate::wire::Reserved;

/// The highest protocol version this crate speaks. Version 2 adds OrderPending
/// (the broker's immediate answer, before the venue's); version 3 adds the queries
/// and FillFees ([`crate::query`]). Every layout of an earlier version is unchanged
/// in a later one.
pub const PROTOCOL_VERSION: u8 = 3;
/// The first version with OrderPending.
pub const VERSION_ORDER_PENDING: u8 = 2;
pub use crate::frame::{FRAME_HEADER_LEN, MAX_FRAME_LEN};
/// Bytes of the header that every sequenced server message starts with (`seq`, `ts_ns`).
pub const SEQ_HEADER_LEN: usize = layout::seq_header::LEN;

/// Why a frame could not be decoded. Small and `Copy`: the error path allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes than the frame header or than the length prefix promises.
    #[error("frame is truncated: need {needed} bytes, have {available}")]
    Truncated {
        /// Bytes the frame needs.
        needed: usize,
        /// Bytes available.
        available: usize,
    },
    /// The length prefix exceeds [`MAX_FRAME_LEN`] (or is zero).
    #[error("frame length {length} is outside 1..={max}")]
    BadFrameLength {
        /// The length prefix.
        length: usize,
        /// The largest allowed length prefix.
        max: usize,
    },
    /// The type byte is not defined for this direction.
    #[error("unknown message type 0x{0:02x}")]
    UnknownType(u8),
    /// The body's length does not fit the type's layout (short or trailing bytes).
    #[error("message type 0x{msg_type:02x} needs a body of {expected} bytes, got {actual}")]
    BadBodyLength {
        /// The message type.
        msg_type: u8,
        /// The layout's body length (for text messages: fixed part plus text length).
        expected: usize,
        /// The body length in the frame.
        actual: usize,
    },
    /// An enumerated field holds an undefined value.
    #[error("field {field} holds undefined value {value}")]
    BadEnum {
        /// The field's name.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// An identifier field is not NUL-padded printable ASCII.
    #[error("field {field} is not NUL-padded printable ASCII")]
    BadIdentifier {
        /// The field's name.
        field: &'static str,
    },
    /// A text field is not UTF-8.
    #[error("text is not valid UTF-8")]
    BadText,
    /// The login asked for a version this crate cannot decode.
    #[error("protocol version {0} is not supported")]
    BadVersion(u8),
    /// A value is out of range for its field.
    #[error("field {field} is out of range")]
    OutOfRange {
        /// The field's name.
        field: &'static str,
    },
}

impl DecodeError {
    /// The reject code a gateway answers with for this error.
    pub const fn reject_code(self) -> RejectCode {
        match self {
            DecodeError::Truncated { .. } | DecodeError::BadBodyLength { .. } => {
                RejectCode::BAD_LENGTH
            }
            DecodeError::BadFrameLength { .. } => RejectCode::FRAME_TOO_LARGE,
            DecodeError::UnknownType(_) => RejectCode::UNKNOWN_MESSAGE_TYPE,
            DecodeError::BadEnum { .. } | DecodeError::OutOfRange { .. } => {
                RejectCode::BAD_ENUM_VALUE
            }
            DecodeError::BadIdentifier { .. } => RejectCode::BAD_IDENTIFIER,
            DecodeError::BadText => RejectCode::BAD_TEXT,
            DecodeError::BadVersion(_) => RejectCode::UNSUPPORTED_VERSION,
        }
    }
}

/// Encoding failed: the output buffer is too small for the frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("output buffer too small: frame needs {needed} bytes, buffer has {available}")]
pub struct EncodeError {
    /// Bytes the frame needs.
    pub needed: usize,
    /// Bytes the buffer has.
    pub available: usize,
}

/// Message type bytes. Client-to-server types are upper case; server-to-client
/// session messages are upper case too, sequenced application messages lower case.
pub mod msg_type {
    /// Client: Login.
    pub const LOGIN: u8 = b'L';
    /// Client: heartbeat.
    pub const CLIENT_HEARTBEAT: u8 = b'R';
    /// Client: logout request.
    pub const LOGOUT: u8 = b'O';
    /// Client: new order.
    pub const NEW_ORDER: u8 = b'N';
    /// Client: cancel order.
    pub const CANCEL_ORDER: u8 = b'X';
    /// Client: replace order.
    pub const REPLACE_ORDER: u8 = b'U';
    /// Client: mass cancel.
    pub const MASS_CANCEL: u8 = b'M';
    /// Client: enable or disable order entry.
    pub const ORDER_ENTRY_CONTROL: u8 = b'E';
    /// Client (version 3): a query (funds, positions, orders or fills).
    pub const QUERY: u8 = b'Q';

    /// Server: login accepted.
    pub const LOGIN_ACCEPTED: u8 = b'A';
    /// Server: login rejected.
    pub const LOGIN_REJECTED: u8 = b'J';
    /// Server: heartbeat.
    pub const SERVER_HEARTBEAT: u8 = b'H';
    /// Server: end of session.
    pub const END_OF_SESSION: u8 = b'Z';
    /// Server, unsequenced (version 3): answer to a funds query.
    pub const FUNDS_ANSWER: u8 = b'F';
    /// Server, unsequenced (version 3): answer to a positions query.
    pub const POSITIONS_ANSWER: u8 = b'P';
    /// Server, unsequenced (version 3): answer to an orders query (the day's orders).
    pub const ORDERS_ANSWER: u8 = b'D';
    /// Server, unsequenced (version 3): answer to a fills query (the day's trades).
    pub const FILLS_ANSWER: u8 = b'T';
    /// Server, unsequenced (version 3): a query was refused.
    pub const QUERY_REJECTED: u8 = b'Q';

    /// Server, sequenced: order accepted.
    pub const ORDER_ACCEPTED: u8 = b'a';
    /// Server, sequenced: order rejected.
    pub const ORDER_REJECTED: u8 = b'r';
    /// Server, sequenced: executed.
    pub const EXECUTED: u8 = b'e';
    /// Server, sequenced: canceled.
    pub const CANCELED: u8 = b'c';
    /// Server, sequenced: cancel or replace rejected.
    pub const CANCEL_REJECTED: u8 = b'k';
    /// Server, sequenced: replaced.
    pub const REPLACED: u8 = b'u';
    /// Server, sequenced: system event.
    pub const SYSTEM_EVENT: u8 = b's';
    /// Server, sequenced: business reject.
    pub const BUSINESS_REJECT: u8 = b'b';
    /// Server, sequenced: mass cancel acknowledged.
    pub const MASS_CANCEL_ACK: u8 = b'm';
    /// Server, sequenced: order-entry state.
    pub const ORDER_ENTRY_STATUS: u8 = b'g';
    /// Server, sequenced (version 2): the broker took an order, cancel or replace;
    /// the venue's answer follows.
    pub const ORDER_PENDING: u8 = b'p';
    /// Server, sequenced (version 3): what a fill was charged; follows its Executed.
    pub const FILL_FEES: u8 = b'f';
}

// ---------------------------------------------------------------------------
// Client-to-server messages
// ---------------------------------------------------------------------------

/// Login: the first message of every connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Login {
    /// The highest protocol version the client speaks.
    pub version: u8,
    /// Login name.
    pub username: Username,
    /// Login secret.
    pub token: Token,
    /// The next server sequence number the client expects: 1 for the whole stream,
    /// `n + 1` after having seen `n`, 0 for "no replay, only new messages".
    pub next_seq: Seq,
}

/// Flags of a NewOrder.
pub mod order_flags {
    /// The client confirms a suitability mismatch (product above its class).
    pub const SUITABILITY_CONFIRMED: u8 = 0x01;
    /// The order is generated by a program (programmatic-trading flag).
    pub const PROGRAMMATIC: u8 = 0x02;
    /// Every defined flag bit.
    pub const ALL: u8 = SUITABILITY_CONFIRMED | PROGRAMMATIC;
}

/// A new order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct NewOrder {
    /// Client order id, unique per account per trading day.
    pub cl_ord_id: ClOrdId,
    /// The account the order trades for.
    pub account: AccountId,
    /// The security.
    pub security: SecurityId,
    /// Buy or sell.
    pub side: Side,
    /// Limit or one of the market order types.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price; zero for market orders.
    pub price: Price,
    /// Quantity in shares.
    pub qty: Qty,
    /// [`order_flags`] bits.
    pub flags: u8,
    /// Cash, margin buy or short sell.
    pub credit: CreditTag,
}

impl NewOrder {
    /// True when the suitability-confirmation flag is set.
    pub const fn suitability_confirmed(&self) -> bool {
        self.flags & order_flags::SUITABILITY_CONFIRMED != 0
    }

    /// True when the programmatic flag is set.
    pub const fn programmatic(&self) -> bool {
        self.flags & order_flags::PROGRAMMATIC != 0
    }

    /// Field checks that need no state: a limit order has a positive price, a
    /// market order a price of 0 or more (a STAR protective price; the board's rules
    /// decide which); the quantity is positive; a market order type
    /// carries the time in force it implies. Returns the protocol-range code.
    pub const fn validate(&self) -> Result<(), RejectCode> {
        match self.order_type.implied_tif() {
            None if self.price.0 <= 0 => return Err(RejectCode::INVALID_PRICE),
            Some(_) if self.price.0 < 0 => return Err(RejectCode::INVALID_PRICE),
            Some(tif) if tif as u8 != self.tif as u8 => {
                return Err(RejectCode::INVALID_FIELD_COMBINATION);
            }
            _ => {}
        }
        if self.qty.0 == 0 {
            return Err(RejectCode::INVALID_QUANTITY);
        }
        Ok(())
    }
}

/// Cancel an open order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CancelOrder {
    /// The client's id for this request, echoed in the answer.
    pub request_id: u64,
    /// The cl_ord_id of the order to cancel.
    pub orig_cl_ord_id: ClOrdId,
    /// The order's account.
    pub account: AccountId,
}

/// Replace the price and/or quantity of an open limit order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ReplaceOrder {
    /// The client's id for this request, echoed in the answer.
    pub request_id: u64,
    /// The cl_ord_id of the order to replace; the order keeps it.
    pub orig_cl_ord_id: ClOrdId,
    /// The order's account.
    pub account: AccountId,
    /// New limit price.
    pub price: Price,
    /// New total quantity (filled quantity included).
    pub qty: Qty,
}

/// What a mass cancel covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MassCancelScope {
    /// Every open order of one account.
    Account(AccountId),
    /// Every open order of one account in one security.
    Security(AccountId, SecurityId),
    /// Every open order of every account bound to this login.
    Login,
}

/// Cancel many orders at once; optionally block new orders too (a kill switch).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MassCancel {
    /// The client's id for this request, echoed in the answer.
    pub request_id: u64,
    /// What to cancel.
    pub scope: MassCancelScope,
    /// Also block new orders for the account(s) in scope until order entry is
    /// enabled again (OrderEntryControl, or the risk desk).
    pub block_new: bool,
}

/// Order-entry state of an account.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum EntryState {
    /// New orders accepted.
    Active = 0,
    /// Only orders that reduce a position accepted.
    ReducingOnly = 1,
    /// No new orders accepted.
    Blocked = 2,
}

impl EntryState {
    /// From the wire byte.
    pub const fn from_u8(v: u8) -> Option<EntryState> {
        match v {
            0 => Some(EntryState::Active),
            1 => Some(EntryState::ReducingOnly),
            2 => Some(EntryState::Blocked),
            _ => None,
        }
    }
}

/// The order-entry states' names, as the admin API and the tools spell them.
impl EntryState {
    /// Every state, in wire order.
    pub const ALL: [EntryState; 3] =
        [EntryState::Active, EntryState::ReducingOnly, EntryState::Blocked];

    /// `active`, `reducing-only` or `blocked`.
    pub const fn name(self) -> &'static str {
        match self {
            EntryState::Active => "active",
            EntryState::ReducingOnly => "reducing-only",
            EntryState::Blocked => "blocked",
        }
    }
}

impl core::fmt::Display for EntryState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why text is not an order-entry state name.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
#[error("expected active, reducing-only or blocked")]
pub struct EntryStateError;

impl core::str::FromStr for EntryState {
    type Err = EntryStateError;

    fn from_str(text: &str) -> Result<EntryState, EntryStateError> {
        Self::ALL.into_iter().find(|s| s.name() == text).ok_or(EntryStateError)
    }
}

/// Serialized as the wire byte, like the enums in [`crate::types`].
#[cfg(feature = "serde")]
impl serde::Serialize for EntryState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(*self as u8)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for EntryState {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<EntryState, D::Error> {
        let byte = <u8 as serde::Deserialize>::deserialize(d)?;
        EntryState::from_u8(byte).ok_or_else(|| {
            serde::de::Error::custom(format_args!("undefined EntryState byte {byte}"))
        })
    }
}

/// Enable or disable order entry for one account of this login (OUCH 5.0 style).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderEntryControl {
    /// The client's id for this request, echoed in the answer.
    pub request_id: u64,
    /// The account.
    pub account: AccountId,
    /// True to enable, false to disable (disable does not cancel open orders).
    pub enable: bool,
}

/// A message from client to server.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClientMessage {
    /// Login.
    Login(Login),
    /// Heartbeat.
    Heartbeat,
    /// Logout request.
    Logout,
    /// New order.
    NewOrder(NewOrder),
    /// Cancel.
    CancelOrder(CancelOrder),
    /// Replace.
    ReplaceOrder(ReplaceOrder),
    /// Mass cancel.
    MassCancel(MassCancel),
    /// Order-entry control.
    OrderEntryControl(OrderEntryControl),
    /// A query (version 3).
    Query(Query),
}

// ---------------------------------------------------------------------------
// Server-to-client messages
// ---------------------------------------------------------------------------

/// Login accepted; replay (if asked) follows at once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LoginAccepted {
    /// The protocol version the server will speak.
    pub version: u8,
    /// The server sends a heartbeat after this many milliseconds without sending.
    pub heartbeat_ms: u32,
    /// The server disconnects a client it has not heard from for this long.
    pub dead_peer_ms: u32,
    /// Identifies the trading day's stream; a new value means sequence numbers restarted.
    pub session_id: u64,
    /// The sequence number of the next sequenced message the client will receive.
    pub next_seq: Seq,
}

/// Login rejected; the server closes the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LoginRejected {
    /// Why (a session-range code).
    pub code: RejectCode,
}

/// The server ends the connection (logout, shutdown, end of day, or a disconnect reason).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EndOfSession {
    /// Why (a session-range code).
    pub reason: RejectCode,
    /// The last sequence number the server sent on this login's stream.
    pub last_seq: Seq,
}

/// Flags of OrderAccepted and OrderRejected.
pub mod answer_flags {
    /// OrderAccepted: a suitability confirmation was recorded for this order.
    pub const CONFIRMATION_RECORDED: u8 = 0x01;
    /// This answers a resent order: it repeats the original answer; nothing new happened.
    pub const REPEAT: u8 = 0x02;
}

/// The order passed risk checks and the venue accepted it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderAccepted {
    /// Client order id.
    pub cl_ord_id: ClOrdId,
    /// Gateway order id.
    pub order_id: OrderId,
    /// Account.
    pub account: AccountId,
    /// Security.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// [`answer_flags`] bits.
    pub flags: u8,
    /// Credit tag.
    pub credit: CreditTag,
}

/// The order was refused (by risk, suitability or the venue).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderRejected {
    /// Client order id.
    pub cl_ord_id: ClOrdId,
    /// Account as sent.
    pub account: AccountId,
    /// Why.
    pub code: RejectCode,
    /// [`answer_flags`] bits.
    pub flags: u8,
    /// Specifics for the text.
    pub detail: RejectDetail,
}

impl OrderRejected {
    /// The human text sent on the wire.
    pub fn text(&self) -> TextBuf {
        TextBuf::render(self.code, &self.detail)
    }
}

/// A fill or partial fill.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Executed {
    /// Client order id.
    pub cl_ord_id: ClOrdId,
    /// Gateway order id.
    pub order_id: OrderId,
    /// Execution id, unique per trading day.
    pub exec_id: ExecId,
    /// Account.
    pub account: AccountId,
    /// Security.
    pub security: SecurityId,
    /// Side of this order.
    pub side: Side,
    /// Maker, taker or auction.
    pub liquidity: Liquidity,
    /// Execution price.
    pub price: Price,
    /// Executed quantity.
    pub qty: Qty,
    /// Quantity still open after this execution (0: filled).
    pub leaves: Qty,
    /// Cumulative executed quantity.
    pub cum: Qty,
}

/// The order's open quantity was cancelled; a terminal state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Canceled {
    /// Client order id.
    pub cl_ord_id: ClOrdId,
    /// Gateway order id.
    pub order_id: OrderId,
    /// Account.
    pub account: AccountId,
    /// The CancelOrder or MassCancel request id, 0 when no request caused it.
    pub request_id: u64,
    /// Quantity that was open and is now cancelled.
    pub canceled_qty: Qty,
    /// Cumulative executed quantity (final).
    pub cum: Qty,
    /// Why.
    pub reason: CancelReason,
}

/// Which request a CancelRejected answers.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum RequestKind {
    /// A CancelOrder.
    Cancel = 1,
    /// A ReplaceOrder.
    Replace = 2,
}

/// A cancel or replace was refused; the order is unchanged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CancelRejected {
    /// The request id.
    pub request_id: u64,
    /// The cl_ord_id the request named.
    pub orig_cl_ord_id: ClOrdId,
    /// Account.
    pub account: AccountId,
    /// Why.
    pub code: RejectCode,
    /// Cancel or replace.
    pub kind: RequestKind,
}

/// A replace took effect.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Replaced {
    /// The request id.
    pub request_id: u64,
    /// Client order id (unchanged).
    pub cl_ord_id: ClOrdId,
    /// Gateway order id (unchanged).
    pub order_id: OrderId,
    /// Account.
    pub account: AccountId,
    /// New price.
    pub price: Price,
    /// New total quantity.
    pub qty: Qty,
    /// New open quantity.
    pub leaves: Qty,
    /// True when the order kept its time priority (quantity down, same price).
    pub priority_kept: bool,
}

/// What a SystemEvent reports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[repr(u8)]
pub enum SystemEventKind {
    /// A trading phase began.
    PhaseChange = 1,
    /// Trading halted.
    Halt = 2,
    /// Trading resumed after a halt.
    Resume = 3,
    /// The trading day began.
    StartOfDay = 4,
    /// The trading day ended.
    EndOfDay = 5,
}

/// A venue-wide or per-security event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SystemEvent {
    /// What happened.
    pub kind: SystemEventKind,
    /// The phase now in force.
    pub phase: TradingPhase,
    /// The security concerned; `None` for the whole venue.
    pub security: Option<SecurityId>,
}

/// A message that could not be processed (a malformed or unexpected message).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BusinessReject {
    /// The type byte of the refused message (0 if unknown).
    pub ref_msg_type: u8,
    /// Why.
    pub code: RejectCode,
    /// The refused message's cl_ord_id or request id when it could be read, else 0.
    pub ref_id: u64,
}

impl BusinessReject {
    /// The human text sent on the wire.
    pub fn text(&self) -> TextBuf {
        TextBuf::render(self.code, &RejectDetail::None)
    }
}

/// Answer to a MassCancel: how many orders it cancelled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MassCancelAck {
    /// The request id.
    pub request_id: u64,
    /// The account in scope, `None` for the whole login.
    pub account: Option<AccountId>,
    /// Orders cancelled (each also gets its own Canceled).
    pub canceled_count: u32,
    /// Zero when done; a reject code when refused (nothing was cancelled).
    pub code: RejectCode,
    /// True when new orders are now blocked.
    pub blocked: bool,
}

/// The order-entry state of an account after an OrderEntryControl or a kill switch.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderEntryStatus {
    /// The request id (0 when no request of this login caused it).
    pub request_id: u64,
    /// The account.
    pub account: AccountId,
    /// The state now in force.
    pub state: EntryState,
    /// Zero when done; a reject code when refused.
    pub code: RejectCode,
}

/// The broker's immediate answer (protocol version 2): an order, cancel or replace
/// passed the broker's checks and is queued or reported to the venue; the venue's
/// answer (OrderAccepted or OrderRejected; Canceled, Replaced or CancelRejected)
/// follows in the same stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderPending {
    /// Client order id of the order concerned.
    pub cl_ord_id: ClOrdId,
    /// Gateway order id.
    pub order_id: OrderId,
    /// The cancel or replace request id; 0 for a new order.
    pub request_id: u64,
    /// Account.
    pub account: AccountId,
    /// Where it stands.
    pub status: PendingStatus,
    /// The security's trading phase when the broker took it.
    pub phase: TradingPhase,
}

/// A sequenced application message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AppMessage {
    /// Order accepted.
    OrderAccepted(OrderAccepted),
    /// Order rejected.
    OrderRejected(OrderRejected),
    /// Executed.
    Executed(Executed),
    /// Canceled.
    Canceled(Canceled),
    /// Cancel or replace rejected.
    CancelRejected(CancelRejected),
    /// Replaced.
    Replaced(Replaced),
    /// System event.
    SystemEvent(SystemEvent),
    /// Business reject.
    BusinessReject(BusinessReject),
    /// Mass cancel ack.
    MassCancelAck(MassCancelAck),
    /// Order-entry state.
    OrderEntryStatus(OrderEntryStatus),
    /// The broker took a request; the venue's answer follows (version 2).
    OrderPending(OrderPending),
    /// What a fill was charged (version 3).
    FillFees(FillFees),
}

impl AppMessage {
    /// The type byte.
    pub const fn msg_type(&self) -> u8 {
        match self {
            AppMessage::OrderAccepted(_) => msg_type::ORDER_ACCEPTED,
            AppMessage::OrderRejected(_) => msg_type::ORDER_REJECTED,
            AppMessage::Executed(_) => msg_type::EXECUTED,
            AppMessage::Canceled(_) => msg_type::CANCELED,
            AppMessage::CancelRejected(_) => msg_type::CANCEL_REJECTED,
            AppMessage::Replaced(_) => msg_type::REPLACED,
            AppMessage::SystemEvent(_) => msg_type::SYSTEM_EVENT,
            AppMessage::BusinessReject(_) => msg_type::BUSINESS_REJECT,
            AppMessage::MassCancelAck(_) => msg_type::MASS_CANCEL_ACK,
            AppMessage::OrderEntryStatus(_) => msg_type::ORDER_ENTRY_STATUS,
            AppMessage::OrderPending(_) => msg_type::ORDER_PENDING,
            AppMessage::FillFees(_) => msg_type::FILL_FEES,
        }
    }
}

/// A sequenced message: its place in the login's stream, its time, its content.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Sequenced {
    /// Sequence number in this login's stream (first is 1).
    pub seq: Seq,
    /// Gateway time when the message was produced, ns since the Unix epoch.
    pub ts_ns: u64,
    /// The message.
    pub msg: AppMessage,
}

/// A message from server to client.
///
/// `Copy` and as large as its largest variant, a query answer's page (about 500
/// bytes): decoding allocates nothing, and the gateway's order path never builds
/// one (it encodes [`Sequenced`] directly).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum ServerMessage {
    /// Login accepted.
    LoginAccepted(LoginAccepted),
    /// Login rejected.
    LoginRejected(LoginRejected),
    /// Heartbeat.
    Heartbeat,
    /// End of session.
    EndOfSession(EndOfSession),
    /// A sequenced application message.
    App(Sequenced),
    /// An unsequenced answer to a query (version 3).
    Query(QueryAnswer),
}

// ---------------------------------------------------------------------------
// Layouts: every fixed layout, declared once
// ---------------------------------------------------------------------------

/// Every fixed layout of the protocol, field by field in wire order (see
/// [`crate::wire`]). Offsets count from the first body byte (the byte after the
/// type byte); `docs/protocol.md` counts from the frame's first byte, so its
/// offsets are these plus [`FRAME_HEADER_LEN`]. The encoders and decoders below
/// read and write through these declarations only, and `protocol/tests/doc_contract.rs`
/// holds the document's byte tables to them.
pub mod layout {
    crate::wire_layout! {
        /// Login (client). Frozen across versions.
        login {
            version: u8,
            reserved_1: reserved[3],
            username: ascii[16],
            token: bytes[32],
            next_seq: u64,
        }

        /// NewOrder (client).
        new_order {
            cl_ord_id: u64,
            account: ascii[16],
            security_code: u32,
            market: u8,
            side: u8,
            order_type: u8,
            tif: u8,
            price: i64,
            qty: u64,
            flags: u8,
            credit: u8,
            reserved_1: reserved[6],
        }

        /// CancelOrder (client).
        cancel_order {
            request_id: u64,
            orig_cl_ord_id: u64,
            account: ascii[16],
        }

        /// ReplaceOrder (client).
        replace_order {
            request_id: u64,
            orig_cl_ord_id: u64,
            account: ascii[16],
            price: i64,
            qty: u64,
        }

        /// MassCancel (client).
        mass_cancel {
            request_id: u64,
            account: ascii[16],
            scope: u8,
            block_new: u8,
            market: u8,
            reserved_1: reserved[1],
            security_code: u32,
        }

        /// OrderEntryControl (client).
        order_entry_control {
            request_id: u64,
            account: ascii[16],
            action: u8,
            reserved_1: reserved[7],
        }

        /// Query (client, version 3).
        query {
            query_id: u64,
            account: ascii[16],
            cursor: u32,
            kind: u8,
            page_size: u8,
            flags: u8,
            reserved_1: reserved[1],
        }

        /// LoginAccepted (server).
        login_accepted {
            version: u8,
            reserved_1: reserved[3],
            heartbeat_ms: u32,
            dead_peer_ms: u32,
            reserved_2: reserved[4],
            session_id: u64,
            next_seq: u64,
        }

        /// LoginRejected (server).
        login_rejected {
            code: u16,
        }

        /// EndOfSession (server).
        end_of_session {
            reason: u16,
            last_seq: u64,
        }

        /// The header every sequenced message starts with.
        seq_header {
            seq: u64,
            ts_ns: u64,
        }

        /// OrderAccepted (sequenced).
        order_accepted {
            seq: u64,
            ts_ns: u64,
            cl_ord_id: u64,
            order_id: u64,
            account: ascii[16],
            security_code: u32,
            market: u8,
            side: u8,
            order_type: u8,
            tif: u8,
            price: i64,
            qty: u64,
            flags: u8,
            credit: u8,
            reserved_1: reserved[6],
        }

        /// OrderRejected (sequenced): the fixed part, up to `text_len`; the text follows.
        order_rejected {
            seq: u64,
            ts_ns: u64,
            cl_ord_id: u64,
            account: ascii[16],
            code: u16,
            flags: u8,
            detail_kind: u8,
            reserved_1: reserved[4],
            detail_0: i64,
            detail_1: i64,
            detail_2: i64,
            text_len: u8,
        }

        /// Executed (sequenced).
        executed {
            seq: u64,
            ts_ns: u64,
            cl_ord_id: u64,
            order_id: u64,
            exec_id: u64,
            account: ascii[16],
            price: i64,
            qty: u64,
            leaves: u64,
            cum: u64,
            side: u8,
            liquidity: u8,
            market: u8,
            reserved_1: reserved[1],
            security_code: u32,
        }

        /// Canceled (sequenced).
        canceled {
            seq: u64,
            ts_ns: u64,
            cl_ord_id: u64,
            order_id: u64,
            account: ascii[16],
            request_id: u64,
            canceled_qty: u64,
            cum: u64,
            reason: u8,
            reserved_1: reserved[7],
        }

        /// CancelRejected (sequenced).
        cancel_rejected {
            seq: u64,
            ts_ns: u64,
            request_id: u64,
            orig_cl_ord_id: u64,
            account: ascii[16],
            code: u16,
            kind: u8,
            reserved_1: reserved[5],
        }

        /// Replaced (sequenced).
        replaced {
            seq: u64,
            ts_ns: u64,
            request_id: u64,
            cl_ord_id: u64,
            order_id: u64,
            account: ascii[16],
            price: i64,
            qty: u64,
            leaves: u64,
            priority_kept: u8,
            reserved_1: reserved[7],
        }

        /// SystemEvent (sequenced).
        system_event {
            seq: u64,
            ts_ns: u64,
            event: u8,
            phase: u8,
            market: u8,
            reserved_1: reserved[1],
            security_code: u32,
        }

        /// BusinessReject (sequenced): the fixed part, up to `text_len`; the text follows.
        business_reject {
            seq: u64,
            ts_ns: u64,
            ref_msg_type: u8,
            reserved_1: reserved[1],
            code: u16,
            reserved_2: reserved[4],
            ref_id: u64,
            text_len: u8,
        }

        /// MassCancelAck (sequenced).
        mass_cancel_ack {
            seq: u64,
            ts_ns: u64,
            request_id: u64,
            account: ascii[16],
            canceled_count: u32,
            code: u16,
            blocked: u8,
            reserved_1: reserved[1],
        }

        /// OrderEntryStatus (sequenced).
        order_entry_status {
            seq: u64,
            ts_ns: u64,
            request_id: u64,
            account: ascii[16],
            state: u8,
            reserved_1: reserved[1],
            code: u16,
            reserved_2: reserved[4],
        }

        /// OrderPending (sequenced, version 2).
        order_pending {
            seq: u64,
            ts_ns: u64,
            cl_ord_id: u64,
            order_id: u64,
            request_id: u64,
            account: ascii[16],
            status: u8,
            phase: u8,
            reserved_1: reserved[6],
        }

        /// FillFees (sequenced, version 3).
        fill_fees {
            seq: u64,
            ts_ns: u64,
            cl_ord_id: u64,
            order_id: u64,
            exec_id: u64,
            account: ascii[16],
            commission: i64,
            stamp_duty: i64,
            transfer_fee: i64,
            total: i64,
        }

        /// The header every query answer starts with (version 3).
        answer_header {
            query_id: u64,
            as_of_seq: u64,
            account: ascii[16],
            next_cursor: u32,
            row_count: u8,
            flags: u8,
            reserved_1: reserved[2],
        }

        /// The one row of a FundsAnswer, after its answer header.
        funds_row {
            cash_available: i64,
            cash_frozen: i64,
            cash_debit: i64,
            market_value: i64,
            total_assets: i64,
            realized_pnl_today: i64,
            commission_today: i64,
            stamp_duty_today: i64,
            transfer_fee_today: i64,
            fees_today: i64,
        }

        /// One row of a PositionsAnswer.
        position_row {
            security_code: u32,
            market: u8,
            reserved_1: reserved[3],
            qty: u64,
            sellable: u64,
            frozen: u64,
            average_cost: i64,
            last_price: i64,
            market_value: i64,
            unrealized_pnl: i64,
        }

        /// One row of an OrdersAnswer.
        order_row {
            cl_ord_id: u64,
            security_code: u32,
            market: u8,
            side: u8,
            order_type: u8,
            status: u8,
            code: u16,
            reserved_1: reserved[6],
            price: i64,
            qty: u64,
            filled_qty: u64,
            open_qty: u64,
            average_price: i64,
            fees_paid: i64,
            entered_ns: u64,
        }

        /// One row of a FillsAnswer.
        fill_row {
            exec_id: u64,
            cl_ord_id: u64,
            security_code: u32,
            market: u8,
            side: u8,
            reserved_1: reserved[2],
            price: i64,
            qty: u64,
            commission: i64,
            stamp_duty: i64,
            transfer_fee: i64,
            booked_ns: u64,
        }

        /// QueryRejected (server, version 3).
        query_rejected {
            query_id: u64,
            account: ascii[16],
            code: u16,
            kind: u8,
            reserved_1: reserved[5],
        }
    }

    /// Offset of the id a BusinessReject echoes as `ref_id`: the same in every
    /// client message that carries one (cl_ord_id, request_id or query_id).
    pub const REF_ID_AT: usize = new_order::AT.cl_ord_id;

    // Each sequenced layout starts with the sequenced header, and every client id
    // a BusinessReject echoes sits at REF_ID_AT.
    const _: () = {
        let heads = [
            (order_accepted::AT.seq, order_accepted::AT.ts_ns),
            (order_rejected::AT.seq, order_rejected::AT.ts_ns),
            (executed::AT.seq, executed::AT.ts_ns),
            (canceled::AT.seq, canceled::AT.ts_ns),
            (cancel_rejected::AT.seq, cancel_rejected::AT.ts_ns),
            (replaced::AT.seq, replaced::AT.ts_ns),
            (system_event::AT.seq, system_event::AT.ts_ns),
            (business_reject::AT.seq, business_reject::AT.ts_ns),
            (mass_cancel_ack::AT.seq, mass_cancel_ack::AT.ts_ns),
            (order_entry_status::AT.seq, order_entry_status::AT.ts_ns),
            (order_pending::AT.seq, order_pending::AT.ts_ns),
            (fill_fees::AT.seq, fill_fees::AT.ts_ns),
        ];
        let mut i = 0;
        while i < heads.len() {
            assert!(heads[i].0 == seq_header::AT.seq && heads[i].1 == seq_header::AT.ts_ns);
            i += 1;
        }
        let ids = [
            new_order::AT.cl_ord_id,
            cancel_order::AT.request_id,
            replace_order::AT.request_id,
            mass_cancel::AT.request_id,
            order_entry_control::AT.request_id,
            query::AT.query_id,
        ];
        let mut i = 0;
        while i < ids.len() {
            assert!(ids[i] == REF_ID_AT);
            i += 1;
        }
    };
}

// ---------------------------------------------------------------------------
// Body lengths (bytes after the type byte)
// ---------------------------------------------------------------------------

/// Body lengths of the fixed-size messages, from their [`layout`]s.
pub mod body_len {
    use super::layout;

    /// Login.
    pub const LOGIN: usize = layout::login::LEN;
    /// NewOrder.
    pub const NEW_ORDER: usize = layout::new_order::LEN;
    /// CancelOrder.
    pub const CANCEL_ORDER: usize = layout::cancel_order::LEN;
    /// ReplaceOrder.
    pub const REPLACE_ORDER: usize = layout::replace_order::LEN;
    /// MassCancel.
    pub const MASS_CANCEL: usize = layout::mass_cancel::LEN;
    /// OrderEntryControl.
    pub const ORDER_ENTRY_CONTROL: usize = layout::order_entry_control::LEN;
    /// LoginAccepted.
    pub const LOGIN_ACCEPTED: usize = layout::login_accepted::LEN;
    /// LoginRejected.
    pub const LOGIN_REJECTED: usize = layout::login_rejected::LEN;
    /// EndOfSession.
    pub const END_OF_SESSION: usize = layout::end_of_session::LEN;
    /// OrderAccepted (sequenced header included).
    pub const ORDER_ACCEPTED: usize = layout::order_accepted::LEN;
    /// OrderRejected fixed part (sequenced header included), before the text.
    pub const ORDER_REJECTED_FIXED: usize = layout::order_rejected::LEN;
    /// Executed (sequenced header included).
    pub const EXECUTED: usize = layout::executed::LEN;
    /// Canceled (sequenced header included).
    pub const CANCELED: usize = layout::canceled::LEN;
    /// CancelRejected (sequenced header included).
    pub const CANCEL_REJECTED: usize = layout::cancel_rejected::LEN;
    /// Replaced (sequenced header included).
    pub const REPLACED: usize = layout::replaced::LEN;
    /// SystemEvent (sequenced header included).
    pub const SYSTEM_EVENT: usize = layout::system_event::LEN;
    /// BusinessReject fixed part (sequenced header included), before the text.
    pub const BUSINESS_REJECT_FIXED: usize = layout::business_reject::LEN;
    /// MassCancelAck (sequenced header included).
    pub const MASS_CANCEL_ACK: usize = layout::mass_cancel_ack::LEN;
    /// OrderEntryStatus (sequenced header included).
    pub const ORDER_ENTRY_STATUS: usize = layout::order_entry_status::LEN;
    /// OrderPending (sequenced header included).
    pub const ORDER_PENDING: usize = layout::order_pending::LEN;
    /// Query.
    pub const QUERY: usize = layout::query::LEN;
    /// FundsAnswer (answer header and the funds row).
    pub const FUNDS_ANSWER: usize = layout::answer_header::LEN + layout::funds_row::LEN;
    /// QueryRejected.
    pub const QUERY_REJECTED: usize = layout::query_rejected::LEN;
    /// FillFees (sequenced header included).
    pub const FILL_FEES: usize = layout::fill_fees::LEN;
}

// ---------------------------------------------------------------------------
// Field values: what the raw bytes of a layout mean
// ---------------------------------------------------------------------------

/// Reads the text that follows a text message's fixed part.
#[derive(Clone, Copy)]
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn text(self, at: usize) -> Result<&'a str, DecodeError> {
        let bytes = self.0.get(at..).ok_or(DecodeError::BadText)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError::BadText)
    }
}

fn account(raw: [u8; 16], field: &'static str) -> Result<AccountId, DecodeError> {
    AccountId::from_wire(raw).map_err(|_| DecodeError::BadIdentifier { field })
}

/// An account that may be absent: all zero bytes.
fn optional_account(raw: [u8; 16], field: &'static str) -> Result<Option<AccountId>, DecodeError> {
    if raw == [0; 16] {
        return Ok(None);
    }
    account(raw, field).map(Some)
}

/// The market is checked before the code, as every decoder has always done.
fn security(market: u8, code: u32) -> Result<SecurityId, DecodeError> {
    let market = enum_field(Market::from_u8(market), "market", market)?;
    SecurityId::new(market, code).ok_or(DecodeError::OutOfRange { field: "security_code" })
}

fn enum_field<T>(value: Option<T>, field: &'static str, raw: u8) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::BadEnum { field, value: u64::from(raw) })
}

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

/// Looks at the start of a byte stream and says whether a whole frame is there.
///
/// Returns `Ok(Some(n))` when the first `n` bytes are one complete frame,
/// `Ok(None)` when more bytes are needed, and an error when the length prefix is
/// invalid (the stream cannot be re-synchronised and the connection should close).
pub fn frame_len(stream: &[u8]) -> Result<Option<usize>, DecodeError> {
    let Some(prefix) = stream.get(..2) else { return Ok(None) };
    let length = usize::from(u16::from_le_bytes([prefix[0], prefix[1]]));
    if length == 0 || length + 2 > MAX_FRAME_LEN {
        return Err(DecodeError::BadFrameLength { length, max: MAX_FRAME_LEN - 2 });
    }
    if stream.len() < length + 2 { Ok(None) } else { Ok(Some(length + 2)) }
}

/// Splits one frame into its type byte and body, checking the length prefix.
fn split_frame(frame: &[u8]) -> Result<(u8, &[u8]), DecodeError> {
    if frame.len() < FRAME_HEADER_LEN {
        return Err(DecodeError::Truncated { needed: FRAME_HEADER_LEN, available: frame.len() });
    }
    let length = usize::from(u16::from_le_bytes([frame[0], frame[1]]));
    if length == 0 || length + 2 > MAX_FRAME_LEN {
        return Err(DecodeError::BadFrameLength { length, max: MAX_FRAME_LEN - 2 });
    }
    if frame.len() < length + 2 {
        return Err(DecodeError::Truncated { needed: length + 2, available: frame.len() });
    }
    if frame.len() > length + 2 {
        return Err(DecodeError::BadBodyLength {
            msg_type: frame[2],
            expected: length - 1,
            actual: frame.len() - FRAME_HEADER_LEN,
        });
    }
    Ok((frame[2], &frame[FRAME_HEADER_LEN..]))
}

fn expect_len(msg_type: u8, body: &[u8], expected: usize) -> Result<&[u8], DecodeError> {
    if body.len() != expected {
        return Err(DecodeError::BadBodyLength { msg_type, expected, actual: body.len() });
    }
    Ok(body)
}

/// Writes the frame header plus a body produced by `fill` into `out`; `fill`
/// gets the body zeroed, exactly `body_len` bytes long.
fn write_frame(
    out: &mut [u8],
    msg_type: u8,
    body_len: usize,
    fill: impl FnOnce(&mut [u8]),
) -> Result<usize, EncodeError> {
    let total = FRAME_HEADER_LEN + body_len;
    debug_assert!(total <= MAX_FRAME_LEN, "layout exceeds the maximum frame");
    if out.len() < total {
        return Err(EncodeError { needed: total, available: out.len() });
    }
    let frame = &mut out[..total];
    frame[..2].copy_from_slice(&((body_len + 1) as u16).to_le_bytes());
    frame[2] = msg_type;
    let body = &mut frame[FRAME_HEADER_LEN..];
    body.fill(0);
    fill(body);
    Ok(total)
}

/// Writes a frame built by `encode_to_slice`-style function into any `BufMut`.
fn put_frame<B: BufMut>(
    buf: &mut B,
    encode: impl FnOnce(&mut [u8]) -> Result<usize, EncodeError>,
) -> Result<usize, EncodeError> {
    let mut scratch = [0u8; MAX_FRAME_LEN];
    let n = encode(&mut scratch)?;
    if buf.remaining_mut() < n {
        return Err(EncodeError { needed: n, available: buf.remaining_mut() });
    }
    buf.put_slice(&scratch[..n]);
    Ok(n)
}

// ---------------------------------------------------------------------------
// Client messages: encode / decode
// ---------------------------------------------------------------------------

impl ClientMessage {
    /// The type byte.
    pub const fn msg_type(&self) -> u8 {
        match self {
            ClientMessage::Login(_) => msg_type::LOGIN,
            ClientMessage::Heartbeat => msg_type::CLIENT_HEARTBEAT,
            ClientMessage::Logout => msg_type::LOGOUT,
            ClientMessage::NewOrder(_) => msg_type::NEW_ORDER,
            ClientMessage::CancelOrder(_) => msg_type::CANCEL_ORDER,
            ClientMessage::ReplaceOrder(_) => msg_type::REPLACE_ORDER,
            ClientMessage::MassCancel(_) => msg_type::MASS_CANCEL,
            ClientMessage::OrderEntryControl(_) => msg_type::ORDER_ENTRY_CONTROL,
            ClientMessage::Query(_) => msg_type::QUERY,
        }
    }

    /// Encodes one whole frame into `out`, returning its length.
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let t = self.msg_type();
        match self {
            ClientMessage::Login(m) => write_frame(out, t, layout::login::LEN, |b| {
                layout::login::Wire {
                    version: m.version,
                    reserved_1: Reserved,
                    username: m.username.to_wire(),
                    token: m.token.0,
                    next_seq: m.next_seq,
                }
                .write(b)
            }),
            ClientMessage::Heartbeat | ClientMessage::Logout => write_frame(out, t, 0, |_| {}),
            ClientMessage::NewOrder(m) => m.encode_to_slice(out),
            ClientMessage::CancelOrder(m) => write_frame(out, t, layout::cancel_order::LEN, |b| {
                layout::cancel_order::Wire {
                    request_id: m.request_id,
                    orig_cl_ord_id: m.orig_cl_ord_id,
                    account: m.account.to_wire(),
                }
                .write(b)
            }),
            ClientMessage::ReplaceOrder(m) => {
                write_frame(out, t, layout::replace_order::LEN, |b| {
                    layout::replace_order::Wire {
                        request_id: m.request_id,
                        orig_cl_ord_id: m.orig_cl_ord_id,
                        account: m.account.to_wire(),
                        price: m.price.0,
                        qty: m.qty.0,
                    }
                    .write(b)
                })
            }
            ClientMessage::MassCancel(m) => {
                write_frame(out, t, layout::mass_cancel::LEN, |b| m.to_wire().write(b))
            }
            ClientMessage::OrderEntryControl(m) => {
                write_frame(out, t, layout::order_entry_control::LEN, |b| {
                    layout::order_entry_control::Wire {
                        request_id: m.request_id,
                        account: m.account.to_wire(),
                        action: if m.enable { 1 } else { 2 },
                        reserved_1: Reserved,
                    }
                    .write(b)
                })
            }
            ClientMessage::Query(m) => write_frame(out, t, layout::query::LEN, |b| {
                layout::query::Wire {
                    query_id: m.query_id,
                    account: m.account.to_wire(),
                    cursor: m.cursor,
                    kind: m.kind.as_u8(),
                    page_size: m.page_size,
                    flags: m.flags,
                    reserved_1: Reserved,
                }
                .write(b)
            }),
        }
    }

    /// Encodes one whole frame into a `BufMut`.
    pub fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        put_frame(buf, |out| self.encode_to_slice(out))
    }

    /// Decodes exactly one whole frame (length prefix included).
    pub fn decode(frame: &[u8]) -> Result<ClientMessage, DecodeError> {
        let (t, body) = split_frame(frame)?;
        match t {
            msg_type::LOGIN => {
                let w = layout::login::Wire::read(expect_len(t, body, layout::login::LEN)?);
                if w.version == 0 {
                    return Err(DecodeError::BadVersion(w.version));
                }
                let username = Username::from_wire(w.username)
                    .map_err(|_| DecodeError::BadIdentifier { field: "username" })?;
                Ok(ClientMessage::Login(Login {
                    version: w.version,
                    username,
                    token: Token(w.token),
                    next_seq: w.next_seq,
                }))
            }
            msg_type::CLIENT_HEARTBEAT => expect_len(t, body, 0).map(|_| ClientMessage::Heartbeat),
            msg_type::LOGOUT => expect_len(t, body, 0).map(|_| ClientMessage::Logout),
            msg_type::NEW_ORDER => NewOrder::decode_body(body).map(ClientMessage::NewOrder),
            msg_type::CANCEL_ORDER => {
                let body = expect_len(t, body, layout::cancel_order::LEN)?;
                let w = layout::cancel_order::Wire::read(body);
                Ok(ClientMessage::CancelOrder(CancelOrder {
                    request_id: w.request_id,
                    orig_cl_ord_id: w.orig_cl_ord_id,
                    account: account(w.account, "account")?,
                }))
            }
            msg_type::REPLACE_ORDER => {
                let body = expect_len(t, body, layout::replace_order::LEN)?;
                let w = layout::replace_order::Wire::read(body);
                Ok(ClientMessage::ReplaceOrder(ReplaceOrder {
                    request_id: w.request_id,
                    orig_cl_ord_id: w.orig_cl_ord_id,
                    account: account(w.account, "account")?,
                    price: Price(w.price),
                    qty: Qty(w.qty),
                }))
            }
            msg_type::MASS_CANCEL => {
                let body = expect_len(t, body, layout::mass_cancel::LEN)?;
                MassCancel::from_wire(layout::mass_cancel::Wire::read(body))
                    .map(ClientMessage::MassCancel)
            }
            msg_type::ORDER_ENTRY_CONTROL => {
                let body = expect_len(t, body, layout::order_entry_control::LEN)?;
                let w = layout::order_entry_control::Wire::read(body);
                let enable = match w.action {
                    1 => true,
                    2 => false,
                    v => return Err(DecodeError::BadEnum { field: "action", value: u64::from(v) }),
                };
                Ok(ClientMessage::OrderEntryControl(OrderEntryControl {
                    request_id: w.request_id,
                    account: account(w.account, "account")?,
                    enable,
                }))
            }
            msg_type::QUERY => {
                let body = expect_len(t, body, layout::query::LEN)?;
                decode_query(layout::query::Wire::read(body))
            }
            other => Err(DecodeError::UnknownType(other)),
        }
    }
}

impl MassCancel {
    fn to_wire(self) -> layout::mass_cancel::Wire {
        let (scope, account, security) = match self.scope {
            MassCancelScope::Account(a) => (1, Some(a), None),
            MassCancelScope::Security(a, s) => (2, Some(a), Some(s)),
            MassCancelScope::Login => (3, None, None),
        };
        layout::mass_cancel::Wire {
            request_id: self.request_id,
            account: account.map_or([0; 16], |a| a.to_wire()),
            scope,
            block_new: u8::from(self.block_new),
            market: security.map_or(0, |s| s.market.as_u8()),
            reserved_1: Reserved,
            security_code: security.map_or(0, |s| s.code),
        }
    }

    fn from_wire(w: layout::mass_cancel::Wire) -> Result<MassCancel, DecodeError> {
        let scope = match w.scope {
            1 => MassCancelScope::Account(account(w.account, "account")?),
            2 => MassCancelScope::Security(
                account(w.account, "account")?,
                security(w.market, w.security_code)?,
            ),
            3 => MassCancelScope::Login,
            v => return Err(DecodeError::BadEnum { field: "scope", value: u64::from(v) }),
        };
        // Named after its field, as every other enum error is.
        let block_new = bool_field(w.block_new, "block_new")?;
        Ok(MassCancel { request_id: w.request_id, scope, block_new })
    }
}

impl NewOrder {
    /// Encodes one whole NewOrder frame into `out` (the hot path: no match on type).
    #[inline]
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        write_frame(out, msg_type::NEW_ORDER, layout::new_order::LEN, |b| {
            layout::new_order::Wire {
                cl_ord_id: self.cl_ord_id,
                account: self.account.to_wire(),
                security_code: self.security.code,
                market: self.security.market.as_u8(),
                side: self.side.as_u8(),
                order_type: self.order_type.as_u8(),
                tif: self.tif.as_u8(),
                price: self.price.0,
                qty: self.qty.0,
                flags: self.flags,
                credit: self.credit.as_u8(),
                reserved_1: Reserved,
            }
            .write(b)
        })
    }

    /// Decodes a NewOrder body (the bytes after the type byte).
    #[inline]
    pub fn decode_body(body: &[u8]) -> Result<NewOrder, DecodeError> {
        let body = expect_len(msg_type::NEW_ORDER, body, layout::new_order::LEN)?;
        let w = layout::new_order::Wire::read(body);
        if w.flags & !order_flags::ALL != 0 {
            return Err(DecodeError::BadEnum { field: "flags", value: u64::from(w.flags) });
        }
        Ok(NewOrder {
            cl_ord_id: w.cl_ord_id,
            account: account(w.account, "account")?,
            security: security(w.market, w.security_code)?,
            side: enum_field(Side::from_u8(w.side), "side", w.side)?,
            order_type: enum_field(OrderType::from_u8(w.order_type), "order_type", w.order_type)?,
            tif: enum_field(TimeInForce::from_u8(w.tif), "tif", w.tif)?,
            price: Price(w.price),
            qty: Qty(w.qty),
            flags: w.flags,
            credit: enum_field(CreditTag::from_u8(w.credit), "credit", w.credit)?,
        })
    }
}

// ---------------------------------------------------------------------------
// Server messages: encode / decode
// ---------------------------------------------------------------------------

impl ServerMessage {
    /// The type byte.
    pub const fn msg_type(&self) -> u8 {
        match self {
            ServerMessage::LoginAccepted(_) => msg_type::LOGIN_ACCEPTED,
            ServerMessage::LoginRejected(_) => msg_type::LOGIN_REJECTED,
            ServerMessage::Heartbeat => msg_type::SERVER_HEARTBEAT,
            ServerMessage::EndOfSession(_) => msg_type::END_OF_SESSION,
            ServerMessage::App(s) => s.msg.msg_type(),
            ServerMessage::Query(a) => a.msg_type(),
        }
    }

    /// Encodes one whole frame into `out`, returning its length.
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let t = self.msg_type();
        match self {
            ServerMessage::LoginAccepted(m) => {
                write_frame(out, t, layout::login_accepted::LEN, |b| {
                    layout::login_accepted::Wire {
                        version: m.version,
                        reserved_1: Reserved,
                        heartbeat_ms: m.heartbeat_ms,
                        dead_peer_ms: m.dead_peer_ms,
                        reserved_2: Reserved,
                        session_id: m.session_id,
                        next_seq: m.next_seq,
                    }
                    .write(b)
                })
            }
            ServerMessage::LoginRejected(m) => {
                write_frame(out, t, layout::login_rejected::LEN, |b| {
                    layout::login_rejected::Wire { code: m.code.0 }.write(b)
                })
            }
            ServerMessage::Heartbeat => write_frame(out, t, 0, |_| {}),
            ServerMessage::EndOfSession(m) => {
                write_frame(out, t, layout::end_of_session::LEN, |b| {
                    layout::end_of_session::Wire { reason: m.reason.0, last_seq: m.last_seq }
                        .write(b)
                })
            }
            ServerMessage::App(s) => s.encode_to_slice(out),
            ServerMessage::Query(a) => a.encode_to_slice(out),
        }
    }

    /// Encodes one whole frame into a `BufMut`.
    pub fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        put_frame(buf, |out| self.encode_to_slice(out))
    }

    /// Decodes exactly one whole frame (length prefix included).
    pub fn decode(frame: &[u8]) -> Result<ServerMessage, DecodeError> {
        let (t, body) = split_frame(frame)?;
        match t {
            msg_type::LOGIN_ACCEPTED => {
                let body = expect_len(t, body, layout::login_accepted::LEN)?;
                let w = layout::login_accepted::Wire::read(body);
                Ok(ServerMessage::LoginAccepted(LoginAccepted {
                    version: w.version,
                    heartbeat_ms: w.heartbeat_ms,
                    dead_peer_ms: w.dead_peer_ms,
                    session_id: w.session_id,
                    next_seq: w.next_seq,
                }))
            }
            msg_type::LOGIN_REJECTED => {
                let body = expect_len(t, body, layout::login_rejected::LEN)?;
                let w = layout::login_rejected::Wire::read(body);
                Ok(ServerMessage::LoginRejected(LoginRejected { code: RejectCode(w.code) }))
            }
            msg_type::SERVER_HEARTBEAT => expect_len(t, body, 0).map(|_| ServerMessage::Heartbeat),
            msg_type::END_OF_SESSION => {
                let body = expect_len(t, body, layout::end_of_session::LEN)?;
                let w = layout::end_of_session::Wire::read(body);
                Ok(ServerMessage::EndOfSession(EndOfSession {
                    reason: RejectCode(w.reason),
                    last_seq: w.last_seq,
                }))
            }
            msg_type::FUNDS_ANSWER
            | msg_type::POSITIONS_ANSWER
            | msg_type::ORDERS_ANSWER
            | msg_type::FILLS_ANSWER
            | msg_type::QUERY_REJECTED => {
                QueryAnswer::decode_body(t, body).map(ServerMessage::Query)
            }
            _ => Sequenced::decode_body(t, body).map(ServerMessage::App),
        }
    }
}

impl Sequenced {
    /// Encodes one whole frame into `out`, returning its length.
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let t = self.msg.msg_type();
        let (seq, ts_ns) = (self.seq, self.ts_ns);
        match &self.msg {
            AppMessage::OrderAccepted(m) => write_frame(out, t, layout::order_accepted::LEN, |b| {
                layout::order_accepted::Wire {
                    seq,
                    ts_ns,
                    cl_ord_id: m.cl_ord_id,
                    order_id: m.order_id,
                    account: m.account.to_wire(),
                    security_code: m.security.code,
                    market: m.security.market.as_u8(),
                    side: m.side.as_u8(),
                    order_type: m.order_type.as_u8(),
                    tif: m.tif.as_u8(),
                    price: m.price.0,
                    qty: m.qty.0,
                    flags: m.flags,
                    credit: m.credit.as_u8(),
                    reserved_1: Reserved,
                }
                .write(b)
            }),
            AppMessage::OrderRejected(m) => {
                let text = m.text();
                let text = text.as_bytes();
                let fixed = layout::order_rejected::LEN;
                write_frame(out, t, fixed + text.len(), |b| {
                    let [detail_0, detail_1, detail_2] = m.detail.values();
                    layout::order_rejected::Wire {
                        seq,
                        ts_ns,
                        cl_ord_id: m.cl_ord_id,
                        account: m.account.to_wire(),
                        code: m.code.0,
                        flags: m.flags,
                        detail_kind: m.detail.kind(),
                        reserved_1: Reserved,
                        detail_0,
                        detail_1,
                        detail_2,
                        text_len: text.len() as u8,
                    }
                    .write(b);
                    b[fixed..].copy_from_slice(text);
                })
            }
            AppMessage::Executed(m) => {
                write_frame(out, t, layout::executed::LEN, |b| m.to_wire(seq, ts_ns).write(b))
            }
            AppMessage::Canceled(m) => write_frame(out, t, layout::canceled::LEN, |b| {
                layout::canceled::Wire {
                    seq,
                    ts_ns,
                    cl_ord_id: m.cl_ord_id,
                    order_id: m.order_id,
                    account: m.account.to_wire(),
                    request_id: m.request_id,
                    canceled_qty: m.canceled_qty.0,
                    cum: m.cum.0,
                    reason: m.reason.as_u8(),
                    reserved_1: Reserved,
                }
                .write(b)
            }),
            AppMessage::CancelRejected(m) => {
                write_frame(out, t, layout::cancel_rejected::LEN, |b| {
                    layout::cancel_rejected::Wire {
                        seq,
                        ts_ns,
                        request_id: m.request_id,
                        orig_cl_ord_id: m.orig_cl_ord_id,
                        account: m.account.to_wire(),
                        code: m.code.0,
                        kind: m.kind as u8,
                        reserved_1: Reserved,
                    }
                    .write(b)
                })
            }
            AppMessage::Replaced(m) => write_frame(out, t, layout::replaced::LEN, |b| {
                layout::replaced::Wire {
                    seq,
                    ts_ns,
                    request_id: m.request_id,
                    cl_ord_id: m.cl_ord_id,
                    order_id: m.order_id,
                    account: m.account.to_wire(),
                    price: m.price.0,
                    qty: m.qty.0,
                    leaves: m.leaves.0,
                    priority_kept: u8::from(m.priority_kept),
                    reserved_1: Reserved,
                }
                .write(b)
            }),
            AppMessage::SystemEvent(m) => write_frame(out, t, layout::system_event::LEN, |b| {
                layout::system_event::Wire {
                    seq,
                    ts_ns,
                    event: m.kind as u8,
                    phase: m.phase.as_u8(),
                    market: m.security.map_or(0, |s| s.market.as_u8()),
                    reserved_1: Reserved,
                    security_code: m.security.map_or(0, |s| s.code),
                }
                .write(b)
            }),
            AppMessage::BusinessReject(m) => {
                let text = m.text();
                let text = text.as_bytes();
                let fixed = layout::business_reject::LEN;
                write_frame(out, t, fixed + text.len(), |b| {
                    layout::business_reject::Wire {
                        seq,
                        ts_ns,
                        ref_msg_type: m.ref_msg_type,
                        reserved_1: Reserved,
                        code: m.code.0,
                        reserved_2: Reserved,
                        ref_id: m.ref_id,
                        text_len: text.len() as u8,
                    }
                    .write(b);
                    b[fixed..].copy_from_slice(text);
                })
            }
            AppMessage::MassCancelAck(m) => {
                write_frame(out, t, layout::mass_cancel_ack::LEN, |b| {
                    layout::mass_cancel_ack::Wire {
                        seq,
                        ts_ns,
                        request_id: m.request_id,
                        account: m.account.map_or([0; 16], |a| a.to_wire()),
                        canceled_count: m.canceled_count,
                        code: m.code.0,
                        blocked: u8::from(m.blocked),
                        reserved_1: Reserved,
                    }
                    .write(b)
                })
            }
            AppMessage::OrderEntryStatus(m) => {
                write_frame(out, t, layout::order_entry_status::LEN, |b| {
                    layout::order_entry_status::Wire {
                        seq,
                        ts_ns,
                        request_id: m.request_id,
                        account: m.account.to_wire(),
                        state: m.state as u8,
                        reserved_1: Reserved,
                        code: m.code.0,
                        reserved_2: Reserved,
                    }
                    .write(b)
                })
            }
            AppMessage::OrderPending(m) => write_frame(out, t, layout::order_pending::LEN, |b| {
                layout::order_pending::Wire {
                    seq,
                    ts_ns,
                    cl_ord_id: m.cl_ord_id,
                    order_id: m.order_id,
                    request_id: m.request_id,
                    account: m.account.to_wire(),
                    status: m.status.as_u8(),
                    phase: m.phase.as_u8(),
                    reserved_1: Reserved,
                }
                .write(b)
            }),
            AppMessage::FillFees(m) => write_frame(out, t, layout::fill_fees::LEN, |b| {
                layout::fill_fees::Wire {
                    seq,
                    ts_ns,
                    cl_ord_id: m.cl_ord_id,
                    order_id: m.order_id,
                    exec_id: m.exec_id,
                    account: m.account.to_wire(),
                    commission: m.commission,
                    stamp_duty: m.stamp_duty,
                    transfer_fee: m.transfer_fee,
                    total: m.total(),
                }
                .write(b)
            }),
        }
    }

    /// Encodes one whole frame into a `BufMut`.
    pub fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        put_frame(buf, |out| self.encode_to_slice(out))
    }

    fn decode_body(t: u8, body: &[u8]) -> Result<Sequenced, DecodeError> {
        let msg = match t {
            msg_type::ORDER_ACCEPTED => {
                let w = layout::order_accepted::Wire::read(expect_len(
                    t,
                    body,
                    layout::order_accepted::LEN,
                )?);
                AppMessage::OrderAccepted(OrderAccepted {
                    cl_ord_id: w.cl_ord_id,
                    order_id: w.order_id,
                    account: account(w.account, "account")?,
                    security: security(w.market, w.security_code)?,
                    side: enum_field(Side::from_u8(w.side), "side", w.side)?,
                    order_type: enum_field(
                        OrderType::from_u8(w.order_type),
                        "order_type",
                        w.order_type,
                    )?,
                    tif: enum_field(TimeInForce::from_u8(w.tif), "tif", w.tif)?,
                    price: Price(w.price),
                    qty: Qty(w.qty),
                    flags: w.flags,
                    credit: enum_field(CreditTag::from_u8(w.credit), "credit", w.credit)?,
                })
            }
            msg_type::ORDER_REJECTED => {
                let fixed = layout::order_rejected::LEN;
                let text_len = usize::from(layout::order_rejected::Wire::read(body).text_len);
                let body = expect_len(t, body, fixed + text_len)?;
                Fields(body).text(fixed)?;
                let w = layout::order_rejected::Wire::read(body);
                let detail =
                    RejectDetail::from_wire(w.detail_kind, [w.detail_0, w.detail_1, w.detail_2])
                        .ok_or(DecodeError::BadEnum {
                            field: "detail_kind",
                            value: u64::from(w.detail_kind),
                        })?;
                AppMessage::OrderRejected(OrderRejected {
                    cl_ord_id: w.cl_ord_id,
                    account: account(w.account, "account")?,
                    code: RejectCode(w.code),
                    flags: w.flags,
                    detail,
                })
            }
            msg_type::EXECUTED => Executed::from_wire(layout::executed::Wire::read(expect_len(
                t,
                body,
                layout::executed::LEN,
            )?))?,
            msg_type::CANCELED => {
                let body = expect_len(t, body, layout::canceled::LEN)?;
                let w = layout::canceled::Wire::read(body);
                AppMessage::Canceled(Canceled {
                    cl_ord_id: w.cl_ord_id,
                    order_id: w.order_id,
                    account: account(w.account, "account")?,
                    request_id: w.request_id,
                    canceled_qty: Qty(w.canceled_qty),
                    cum: Qty(w.cum),
                    reason: enum_field(CancelReason::from_u8(w.reason), "reason", w.reason)?,
                })
            }
            msg_type::CANCEL_REJECTED => {
                let body = expect_len(t, body, layout::cancel_rejected::LEN)?;
                let w = layout::cancel_rejected::Wire::read(body);
                let kind = match w.kind {
                    1 => RequestKind::Cancel,
                    2 => RequestKind::Replace,
                    v => return Err(DecodeError::BadEnum { field: "kind", value: u64::from(v) }),
                };
                AppMessage::CancelRejected(CancelRejected {
                    request_id: w.request_id,
                    orig_cl_ord_id: w.orig_cl_ord_id,
                    account: account(w.account, "account")?,
                    code: RejectCode(w.code),
                    kind,
                })
            }
            msg_type::REPLACED => {
                let body = expect_len(t, body, layout::replaced::LEN)?;
                let w = layout::replaced::Wire::read(body);
                AppMessage::Replaced(Replaced {
                    request_id: w.request_id,
                    cl_ord_id: w.cl_ord_id,
                    order_id: w.order_id,
                    account: account(w.account, "account")?,
                    price: Price(w.price),
                    qty: Qty(w.qty),
                    leaves: Qty(w.leaves),
                    priority_kept: bool_field(w.priority_kept, "priority_kept")?,
                })
            }
            msg_type::SYSTEM_EVENT => {
                let body = expect_len(t, body, layout::system_event::LEN)?;
                let w = layout::system_event::Wire::read(body);
                let kind = match w.event {
                    1 => SystemEventKind::PhaseChange,
                    2 => SystemEventKind::Halt,
                    3 => SystemEventKind::Resume,
                    4 => SystemEventKind::StartOfDay,
                    5 => SystemEventKind::EndOfDay,
                    v => return Err(DecodeError::BadEnum { field: "event", value: u64::from(v) }),
                };
                let security = if w.market == 0 && w.security_code == 0 {
                    None
                } else {
                    Some(security(w.market, w.security_code)?)
                };
                AppMessage::SystemEvent(SystemEvent {
                    kind,
                    phase: enum_field(TradingPhase::from_u8(w.phase), "phase", w.phase)?,
                    security,
                })
            }
            msg_type::BUSINESS_REJECT => {
                let fixed = layout::business_reject::LEN;
                let text_len = usize::from(layout::business_reject::Wire::read(body).text_len);
                let body = expect_len(t, body, fixed + text_len)?;
                Fields(body).text(fixed)?;
                let w = layout::business_reject::Wire::read(body);
                AppMessage::BusinessReject(BusinessReject {
                    ref_msg_type: w.ref_msg_type,
                    code: RejectCode(w.code),
                    ref_id: w.ref_id,
                })
            }
            msg_type::MASS_CANCEL_ACK => {
                let body = expect_len(t, body, layout::mass_cancel_ack::LEN)?;
                let w = layout::mass_cancel_ack::Wire::read(body);
                AppMessage::MassCancelAck(MassCancelAck {
                    request_id: w.request_id,
                    account: optional_account(w.account, "account")?,
                    canceled_count: w.canceled_count,
                    code: RejectCode(w.code),
                    blocked: bool_field(w.blocked, "blocked")?,
                })
            }
            msg_type::ORDER_ENTRY_STATUS => {
                let body = expect_len(t, body, layout::order_entry_status::LEN)?;
                let w = layout::order_entry_status::Wire::read(body);
                AppMessage::OrderEntryStatus(OrderEntryStatus {
                    request_id: w.request_id,
                    account: account(w.account, "account")?,
                    state: enum_field(EntryState::from_u8(w.state), "state", w.state)?,
                    code: RejectCode(w.code),
                })
            }
            msg_type::ORDER_PENDING => {
                let body = expect_len(t, body, layout::order_pending::LEN)?;
                let w = layout::order_pending::Wire::read(body);
                AppMessage::OrderPending(OrderPending {
                    cl_ord_id: w.cl_ord_id,
                    order_id: w.order_id,
                    request_id: w.request_id,
                    account: account(w.account, "account")?,
                    status: enum_field(PendingStatus::from_u8(w.status), "status", w.status)?,
                    phase: enum_field(TradingPhase::from_u8(w.phase), "phase", w.phase)?,
                })
            }
            msg_type::FILL_FEES => {
                let body = expect_len(t, body, layout::fill_fees::LEN)?;
                let w = layout::fill_fees::Wire::read(body);
                let fees = FillFees {
                    cl_ord_id: w.cl_ord_id,
                    order_id: w.order_id,
                    exec_id: w.exec_id,
                    account: account(w.account, "account")?,
                    commission: w.commission,
                    stamp_duty: w.stamp_duty,
                    transfer_fee: w.transfer_fee,
                };
                if fees.total() != w.total {
                    return Err(DecodeError::OutOfRange { field: "total" });
                }
                AppMessage::FillFees(fees)
            }
            other => return Err(DecodeError::UnknownType(other)),
        };
        let header = layout::seq_header::Wire::read(body);
        Ok(Sequenced { seq: header.seq, ts_ns: header.ts_ns, msg })
    }
}

fn bool_field(v: u8, field: &'static str) -> Result<bool, DecodeError> {
    match v {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(DecodeError::BadEnum { field, value: u64::from(v) }),
    }
}

impl Executed {
    fn to_wire(self, seq: Seq, ts_ns: u64) -> layout::executed::Wire {
        layout::executed::Wire {
            seq,
            ts_ns,
            cl_ord_id: self.cl_ord_id,
            order_id: self.order_id,
            exec_id: self.exec_id,
            account: self.account.to_wire(),
            price: self.price.0,
            qty: self.qty.0,
            leaves: self.leaves.0,
            cum: self.cum.0,
            side: self.side.as_u8(),
            liquidity: self.liquidity.as_u8(),
            market: self.security.market.as_u8(),
            reserved_1: Reserved,
            security_code: self.security.code,
        }
    }

    fn from_wire(w: layout::executed::Wire) -> Result<AppMessage, DecodeError> {
        Ok(AppMessage::Executed(Executed {
            cl_ord_id: w.cl_ord_id,
            order_id: w.order_id,
            exec_id: w.exec_id,
            account: account(w.account, "account")?,
            price: Price(w.price),
            qty: Qty(w.qty),
            leaves: Qty(w.leaves),
            cum: Qty(w.cum),
            side: enum_field(Side::from_u8(w.side), "side", w.side)?,
            liquidity: enum_field(Liquidity::from_u8(w.liquidity), "liquidity", w.liquidity)?,
            security: security(w.market, w.security_code)?,
        }))
    }
}

/// Reads the text of an OrderRejected or BusinessReject frame as sent, without
/// re-rendering it; `None` for other frames or malformed text.
pub fn wire_text(frame: &[u8]) -> Option<&str> {
    let (t, body) = split_frame(frame).ok()?;
    let (fixed, text_len_at) = match t {
        msg_type::ORDER_REJECTED => {
            (layout::order_rejected::LEN, layout::order_rejected::AT.text_len)
        }
        msg_type::BUSINESS_REJECT => {
            (layout::business_reject::LEN, layout::business_reject::AT.text_len)
        }
        _ => return None,
    };
    let text_len = usize::from(*body.get(text_len_at)?);
    core::str::from_utf8(body.get(fixed..fixed + text_len)?).ok()
}

// ---------------------------------------------------------------------------
// Queries (version 3): requests and unsequenced answers
// ---------------------------------------------------------------------------

fn decode_query(w: layout::query::Wire) -> Result<ClientMessage, DecodeError> {
    if w.flags & !query_flags::ALL != 0 {
        return Err(DecodeError::BadEnum { field: "flags", value: u64::from(w.flags) });
    }
    Ok(ClientMessage::Query(Query {
        query_id: w.query_id,
        account: account(w.account, "account")?,
        cursor: w.cursor,
        kind: enum_field(QueryKind::from_u8(w.kind), "kind", w.kind)?,
        page_size: w.page_size,
        flags: w.flags,
    }))
}

impl QueryAnswer {
    /// The type byte.
    pub const fn msg_type(&self) -> u8 {
        match self {
            QueryAnswer::Funds(_) => msg_type::FUNDS_ANSWER,
            QueryAnswer::Positions(_) => msg_type::POSITIONS_ANSWER,
            QueryAnswer::Orders(_) => msg_type::ORDERS_ANSWER,
            QueryAnswer::Fills(_) => msg_type::FILLS_ANSWER,
            QueryAnswer::Rejected(_) => msg_type::QUERY_REJECTED,
        }
    }

    /// Encodes one whole frame into `out`, returning its length (at most
    /// [`MAX_FRAME_LEN`]: every page fits one frame).
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        let t = self.msg_type();
        match self {
            QueryAnswer::Funds(a) => write_frame(out, t, body_len::FUNDS_ANSWER, |b| {
                let (header, row) = b.split_at_mut(layout::answer_header::LEN);
                a.header.to_wire(1).write(header);
                write_funds(row, &a.funds);
            }),
            QueryAnswer::Positions(a) => write_rows(out, t, &a.header, &a.rows, write_position),
            QueryAnswer::Orders(a) => write_rows(out, t, &a.header, &a.rows, write_order),
            QueryAnswer::Fills(a) => write_rows(out, t, &a.header, &a.rows, write_fill),
            QueryAnswer::Rejected(r) => write_frame(out, t, layout::query_rejected::LEN, |b| {
                layout::query_rejected::Wire {
                    query_id: r.query_id,
                    account: r.account.map_or([0; 16], |a| a.to_wire()),
                    code: r.code.0,
                    kind: r.kind,
                    reserved_1: Reserved,
                }
                .write(b)
            }),
        }
    }

    fn decode_body(t: u8, body: &[u8]) -> Result<QueryAnswer, DecodeError> {
        match t {
            msg_type::FUNDS_ANSWER => {
                let body = expect_len(t, body, body_len::FUNDS_ANSWER)?;
                let header = layout::answer_header::Wire::read(body);
                if header.row_count != 1 {
                    return Err(DecodeError::OutOfRange { field: "row_count" });
                }
                let row = body.get(layout::answer_header::LEN..).unwrap_or_default();
                Ok(QueryAnswer::Funds(FundsAnswer {
                    header: AnswerHeader::from_wire(header)?,
                    funds: read_funds(row),
                }))
            }
            msg_type::POSITIONS_ANSWER => {
                let (header, rows) = read_rows(t, body, PositionRow::EMPTY, read_position)?;
                Ok(QueryAnswer::Positions(PositionsAnswer { header, rows }))
            }
            msg_type::ORDERS_ANSWER => {
                let (header, rows) = read_rows(t, body, OrderRow::EMPTY, read_order)?;
                Ok(QueryAnswer::Orders(OrdersAnswer { header, rows }))
            }
            msg_type::FILLS_ANSWER => {
                let (header, rows) = read_rows(t, body, FillRow::EMPTY, read_fill)?;
                Ok(QueryAnswer::Fills(FillsAnswer { header, rows }))
            }
            _ => {
                let body = expect_len(t, body, layout::query_rejected::LEN)?;
                let w = layout::query_rejected::Wire::read(body);
                Ok(QueryAnswer::Rejected(QueryRejected {
                    query_id: w.query_id,
                    account: optional_account(w.account, "account")?,
                    code: RejectCode(w.code),
                    kind: w.kind,
                }))
            }
        }
    }

    /// Encodes one whole frame into a `BufMut`.
    pub fn encode<B: BufMut>(&self, buf: &mut B) -> Result<usize, EncodeError> {
        put_frame(buf, |out| self.encode_to_slice(out))
    }
}

impl AnswerHeader {
    fn to_wire(self, row_count: usize) -> layout::answer_header::Wire {
        layout::answer_header::Wire {
            query_id: self.query_id,
            as_of_seq: self.as_of_seq,
            account: self.account.to_wire(),
            next_cursor: self.next_cursor,
            row_count: row_count as u8,
            flags: self.flags,
            reserved_1: Reserved,
        }
    }

    fn from_wire(w: layout::answer_header::Wire) -> Result<AnswerHeader, DecodeError> {
        Ok(AnswerHeader {
            query_id: w.query_id,
            as_of_seq: w.as_of_seq,
            account: account(w.account, "account")?,
            next_cursor: w.next_cursor,
            flags: w.flags,
        })
    }
}

/// A row type of a paged answer and its declared layout's length.
trait PagedRow: Copy {
    /// Bytes of one row.
    const LEN: usize;
}

impl PagedRow for PositionRow {
    const LEN: usize = layout::position_row::LEN;
}

impl PagedRow for OrderRow {
    const LEN: usize = layout::order_row::LEN;
}

impl PagedRow for FillRow {
    const LEN: usize = layout::fill_row::LEN;
}

fn write_rows<T: PagedRow, const N: usize>(
    out: &mut [u8],
    t: u8,
    header: &AnswerHeader,
    rows: &Rows<T, N>,
    write_row: fn(&mut [u8], &T),
) -> Result<usize, EncodeError> {
    let rows = rows.as_slice();
    write_frame(out, t, layout::answer_header::LEN + rows.len() * T::LEN, |b| {
        let (head, page) = b.split_at_mut(layout::answer_header::LEN);
        header.to_wire(rows.len()).write(head);
        for (dst, row) in page.chunks_exact_mut(T::LEN).zip(rows) {
            write_row(dst, row);
        }
    })
}

fn read_rows<T: PagedRow, const N: usize>(
    t: u8,
    body: &[u8],
    empty: T,
    read_row: fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<(AnswerHeader, Rows<T, N>), DecodeError> {
    let count = usize::from(layout::answer_header::Wire::read(body).row_count);
    if count > N {
        return Err(DecodeError::OutOfRange { field: "row_count" });
    }
    let body = expect_len(t, body, layout::answer_header::LEN + count * T::LEN)?;
    let header = AnswerHeader::from_wire(layout::answer_header::Wire::read(body))?;
    let mut rows = Rows::new(empty);
    let page = body.get(layout::answer_header::LEN..).unwrap_or_default();
    for src in page.chunks_exact(T::LEN) {
        rows.push(read_row(src)?);
    }
    Ok((header, rows))
}

fn write_funds(dst: &mut [u8], r: &FundsRow) {
    layout::funds_row::Wire {
        cash_available: r.cash_available,
        cash_frozen: r.cash_frozen,
        cash_debit: r.cash_debit,
        market_value: r.market_value,
        total_assets: r.total_assets,
        realized_pnl_today: r.realized_pnl_today,
        commission_today: r.commission_today,
        stamp_duty_today: r.stamp_duty_today,
        transfer_fee_today: r.transfer_fee_today,
        fees_today: r.fees_today,
    }
    .write(dst)
}

fn read_funds(src: &[u8]) -> FundsRow {
    let w = layout::funds_row::Wire::read(src);
    FundsRow {
        cash_available: w.cash_available,
        cash_frozen: w.cash_frozen,
        cash_debit: w.cash_debit,
        market_value: w.market_value,
        total_assets: w.total_assets,
        realized_pnl_today: w.realized_pnl_today,
        commission_today: w.commission_today,
        stamp_duty_today: w.stamp_duty_today,
        transfer_fee_today: w.transfer_fee_today,
        fees_today: w.fees_today,
    }
}

fn write_position(dst: &mut [u8], r: &PositionRow) {
    layout::position_row::Wire {
        security_code: r.security.code,
        market: r.security.market.as_u8(),
        reserved_1: Reserved,
        qty: r.qty,
        sellable: r.sellable,
        frozen: r.frozen,
        average_cost: r.average_cost.0,
        last_price: r.last_price.0,
        market_value: r.market_value,
        unrealized_pnl: r.unrealized_pnl,
    }
    .write(dst)
}

fn read_position(src: &[u8]) -> Result<PositionRow, DecodeError> {
    let w = layout::position_row::Wire::read(src);
    Ok(PositionRow {
        security: security(w.market, w.security_code)?,
        qty: w.qty,
        sellable: w.sellable,
        frozen: w.frozen,
        average_cost: Price(w.average_cost),
        last_price: Price(w.last_price),
        market_value: w.market_value,
        unrealized_pnl: w.unrealized_pnl,
    })
}

fn write_order(dst: &mut [u8], r: &OrderRow) {
    layout::order_row::Wire {
        cl_ord_id: r.cl_ord_id,
        security_code: r.security.code,
        market: r.security.market.as_u8(),
        side: r.side.as_u8(),
        order_type: r.order_type.as_u8(),
        status: r.status.as_u8(),
        code: r.code.0,
        reserved_1: Reserved,
        price: r.price.0,
        qty: r.qty.0,
        filled_qty: r.filled_qty.0,
        open_qty: r.open_qty.0,
        average_price: r.average_price.0,
        fees_paid: r.fees_paid,
        entered_ns: r.entered_ns,
    }
    .write(dst)
}

fn read_order(src: &[u8]) -> Result<OrderRow, DecodeError> {
    let w = layout::order_row::Wire::read(src);
    Ok(OrderRow {
        cl_ord_id: w.cl_ord_id,
        security: security(w.market, w.security_code)?,
        side: enum_field(Side::from_u8(w.side), "side", w.side)?,
        order_type: enum_field(OrderType::from_u8(w.order_type), "order_type", w.order_type)?,
        status: enum_field(OrderStatus::from_u8(w.status), "status", w.status)?,
        code: RejectCode(w.code),
        price: Price(w.price),
        qty: Qty(w.qty),
        filled_qty: Qty(w.filled_qty),
        open_qty: Qty(w.open_qty),
        average_price: Price(w.average_price),
        fees_paid: w.fees_paid,
        entered_ns: w.entered_ns,
    })
}

fn write_fill(dst: &mut [u8], r: &FillRow) {
    layout::fill_row::Wire {
        exec_id: r.exec_id,
        cl_ord_id: r.cl_ord_id,
        security_code: r.security.code,
        market: r.security.market.as_u8(),
        side: r.side.as_u8(),
        reserved_1: Reserved,
        price: r.price.0,
        qty: r.qty.0,
        commission: r.commission,
        stamp_duty: r.stamp_duty,
        transfer_fee: r.transfer_fee,
        booked_ns: r.booked_ns,
    }
    .write(dst)
}

fn read_fill(src: &[u8]) -> Result<FillRow, DecodeError> {
    let w = layout::fill_row::Wire::read(src);
    Ok(FillRow {
        exec_id: w.exec_id,
        cl_ord_id: w.cl_ord_id,
        security: security(w.market, w.security_code)?,
        side: enum_field(Side::from_u8(w.side), "side", w.side)?,
        price: Price(w.price),
        qty: Qty(w.qty),
        commission: w.commission,
        stamp_duty: w.stamp_duty,
        transfer_fee: w.transfer_fee,
        booked_ns: w.booked_ns,
    })
}

// The lengths `query` sizes its pages by are the declared layouts' lengths, and
// every page of the largest size fits one frame.
const _: () = {
    assert!(ANSWER_HEADER_LEN == layout::answer_header::LEN);
    assert!(crate::query::FUNDS_ROW_LEN == layout::funds_row::LEN);
    assert!(POSITION_ROW_LEN == layout::position_row::LEN);
    assert!(ORDER_ROW_LEN == layout::order_row::LEN);
    assert!(FILL_ROW_LEN == layout::fill_row::LEN);
    assert!(SEQ_HEADER_LEN == layout::seq_header::LEN);
    assert!(
        FRAME_HEADER_LEN + ANSWER_HEADER_LEN + MAX_POSITION_ROWS * POSITION_ROW_LEN
            <= MAX_FRAME_LEN
    );
    assert!(FRAME_HEADER_LEN + ANSWER_HEADER_LEN + MAX_ORDER_ROWS * ORDER_ROW_LEN <= MAX_FRAME_LEN);
    assert!(FRAME_HEADER_LEN + ANSWER_HEADER_LEN + MAX_FILL_ROWS * FILL_ROW_LEN <= MAX_FRAME_LEN);
};
