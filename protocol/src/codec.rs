//! The wire format: frames, message layouts, encoding and decoding.
//!
//! A frame is `u16 length | u8 type | body`, all integers little-endian. `length`
//! counts the bytes after itself (type byte plus body), so a whole frame is
//! `2 + length` bytes and never more than [`MAX_FRAME_LEN`]. Every body has a fixed
//! layout (fields at fixed offsets, see `docs/protocol.md`); the two messages that
//! carry text end with `u8 text_len | text`.
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

/// The highest protocol version this crate speaks. Version 2 adds OrderPending
/// (the broker's immediate answer, before the venue's); version 3 adds the queries
/// and FillFees ([`crate::query`]). Every layout of an earlier version is unchanged
/// in a later one.
pub const PROTOCOL_VERSION: u8 = 3;
/// The first version with OrderPending.
pub const VERSION_ORDER_PENDING: u8 = 2;
pub use crate::frame::{FRAME_HEADER_LEN, MAX_FRAME_LEN};
/// Bytes of the header that every sequenced server message starts with (`seq`, `ts_ns`).
pub const SEQ_HEADER_LEN: usize = 16;

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
// Body lengths (bytes after the type byte)
// ---------------------------------------------------------------------------

/// Body lengths of the fixed-size messages.
pub mod body_len {
    /// Login.
    pub const LOGIN: usize = 60;
    /// NewOrder.
    pub const NEW_ORDER: usize = 56;
    /// CancelOrder.
    pub const CANCEL_ORDER: usize = 32;
    /// ReplaceOrder.
    pub const REPLACE_ORDER: usize = 48;
    /// MassCancel.
    pub const MASS_CANCEL: usize = 32;
    /// OrderEntryControl.
    pub const ORDER_ENTRY_CONTROL: usize = 32;
    /// LoginAccepted.
    pub const LOGIN_ACCEPTED: usize = 32;
    /// LoginRejected.
    pub const LOGIN_REJECTED: usize = 2;
    /// EndOfSession.
    pub const END_OF_SESSION: usize = 10;
    /// OrderAccepted (sequenced header included).
    pub const ORDER_ACCEPTED: usize = 16 + 64;
    /// OrderRejected fixed part (sequenced header included), before the text.
    pub const ORDER_REJECTED_FIXED: usize = 16 + 57;
    /// Executed (sequenced header included).
    pub const EXECUTED: usize = 16 + 80;
    /// Canceled (sequenced header included).
    pub const CANCELED: usize = 16 + 64;
    /// CancelRejected (sequenced header included).
    pub const CANCEL_REJECTED: usize = 16 + 40;
    /// Replaced (sequenced header included).
    pub const REPLACED: usize = 16 + 72;
    /// SystemEvent (sequenced header included).
    pub const SYSTEM_EVENT: usize = 16 + 8;
    /// BusinessReject fixed part (sequenced header included), before the text.
    pub const BUSINESS_REJECT_FIXED: usize = 16 + 17;
    /// MassCancelAck (sequenced header included).
    pub const MASS_CANCEL_ACK: usize = 16 + 32;
    /// OrderEntryStatus (sequenced header included).
    pub const ORDER_ENTRY_STATUS: usize = 16 + 32;
    /// OrderPending (sequenced header included).
    pub const ORDER_PENDING: usize = 16 + 48;
    /// Query.
    pub const QUERY: usize = 32;
    /// FundsAnswer (answer header and the funds row).
    pub const FUNDS_ANSWER: usize = crate::query::ANSWER_HEADER_LEN + crate::query::FUNDS_ROW_LEN;
    /// QueryRejected.
    pub const QUERY_REJECTED: usize = 32;
    /// FillFees (sequenced header included).
    pub const FILL_FEES: usize = 16 + 72;
}

// ---------------------------------------------------------------------------
// Low-level field access
// ---------------------------------------------------------------------------

/// Reads fields at fixed offsets of a body whose length was already checked.
/// Out-of-range offsets (a bug in this module) read zeros rather than panic.
#[derive(Clone, Copy)]
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn array<const N: usize>(self, at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = self.0.get(at..at + N) {
            out.copy_from_slice(src);
        }
        out
    }
    fn u8(self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }
    fn u16(self, at: usize) -> u16 {
        u16::from_le_bytes(self.array(at))
    }
    fn u32(self, at: usize) -> u32 {
        u32::from_le_bytes(self.array(at))
    }
    fn u64(self, at: usize) -> u64 {
        u64::from_le_bytes(self.array(at))
    }
    fn i64(self, at: usize) -> i64 {
        i64::from_le_bytes(self.array(at))
    }
    fn account(self, at: usize, field: &'static str) -> Result<AccountId, DecodeError> {
        AccountId::from_wire(self.array(at)).map_err(|_| DecodeError::BadIdentifier { field })
    }
    fn optional_account(
        self,
        at: usize,
        field: &'static str,
    ) -> Result<Option<AccountId>, DecodeError> {
        let raw: [u8; 16] = self.array(at);
        if raw == [0; 16] {
            return Ok(None);
        }
        AccountId::from_wire(raw).map(Some).map_err(|_| DecodeError::BadIdentifier { field })
    }
    fn security(self, market_at: usize, code_at: usize) -> Result<SecurityId, DecodeError> {
        let market = enum_field(Market::from_u8(self.u8(market_at)), "market", self.u8(market_at))?;
        SecurityId::new(market, self.u32(code_at))
            .ok_or(DecodeError::OutOfRange { field: "security_code" })
    }
    fn text(self, at: usize) -> Result<&'a str, DecodeError> {
        let bytes = self.0.get(at..).ok_or(DecodeError::BadText)?;
        core::str::from_utf8(bytes).map_err(|_| DecodeError::BadText)
    }
}

fn enum_field<T>(value: Option<T>, field: &'static str, raw: u8) -> Result<T, DecodeError> {
    value.ok_or(DecodeError::BadEnum { field, value: u64::from(raw) })
}

/// Writes fields at fixed offsets into a zeroed body buffer.
struct Out<'a>(&'a mut [u8]);

impl Out<'_> {
    fn bytes(&mut self, at: usize, src: &[u8]) {
        self.0[at..at + src.len()].copy_from_slice(src);
    }
    fn u8(&mut self, at: usize, v: u8) {
        self.0[at] = v;
    }
    fn u16(&mut self, at: usize, v: u16) {
        self.bytes(at, &v.to_le_bytes());
    }
    fn u32(&mut self, at: usize, v: u32) {
        self.bytes(at, &v.to_le_bytes());
    }
    fn u64(&mut self, at: usize, v: u64) {
        self.bytes(at, &v.to_le_bytes());
    }
    fn i64(&mut self, at: usize, v: i64) {
        self.bytes(at, &v.to_le_bytes());
    }
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

fn expect_len(msg_type: u8, body: &[u8], expected: usize) -> Result<Fields<'_>, DecodeError> {
    if body.len() != expected {
        return Err(DecodeError::BadBodyLength { msg_type, expected, actual: body.len() });
    }
    Ok(Fields(body))
}

/// Writes the frame header plus a body produced by `fill` into `out`.
fn write_frame(
    out: &mut [u8],
    msg_type: u8,
    body_len: usize,
    fill: impl FnOnce(&mut Out<'_>),
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
    fill(&mut Out(body));
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
            ClientMessage::Login(m) => write_frame(out, t, body_len::LOGIN, |o| {
                o.u8(0, m.version);
                o.bytes(4, &m.username.to_wire());
                o.bytes(20, &m.token.0);
                o.u64(52, m.next_seq);
            }),
            ClientMessage::Heartbeat | ClientMessage::Logout => write_frame(out, t, 0, |_| {}),
            ClientMessage::NewOrder(m) => m.encode_to_slice(out),
            ClientMessage::CancelOrder(m) => write_frame(out, t, body_len::CANCEL_ORDER, |o| {
                o.u64(0, m.request_id);
                o.u64(8, m.orig_cl_ord_id);
                o.bytes(16, &m.account.to_wire());
            }),
            ClientMessage::ReplaceOrder(m) => write_frame(out, t, body_len::REPLACE_ORDER, |o| {
                o.u64(0, m.request_id);
                o.u64(8, m.orig_cl_ord_id);
                o.bytes(16, &m.account.to_wire());
                o.i64(32, m.price.0);
                o.u64(40, m.qty.0);
            }),
            ClientMessage::MassCancel(m) => write_frame(out, t, body_len::MASS_CANCEL, |o| {
                o.u64(0, m.request_id);
                let (scope, account, security) = match m.scope {
                    MassCancelScope::Account(a) => (1, Some(a), None),
                    MassCancelScope::Security(a, s) => (2, Some(a), Some(s)),
                    MassCancelScope::Login => (3, None, None),
                };
                if let Some(a) = account {
                    o.bytes(8, &a.to_wire());
                }
                o.u8(24, scope);
                o.u8(25, u8::from(m.block_new));
                if let Some(s) = security {
                    o.u8(26, s.market.as_u8());
                    o.u32(28, s.code);
                }
            }),
            ClientMessage::OrderEntryControl(m) => {
                write_frame(out, t, body_len::ORDER_ENTRY_CONTROL, |o| {
                    o.u64(0, m.request_id);
                    o.bytes(8, &m.account.to_wire());
                    o.u8(24, if m.enable { 1 } else { 2 });
                })
            }
            ClientMessage::Query(m) => write_frame(out, t, body_len::QUERY, |o| {
                o.u64(0, m.query_id);
                o.bytes(8, &m.account.to_wire());
                o.u32(24, m.cursor);
                o.u8(28, m.kind.as_u8());
                o.u8(29, m.page_size);
                o.u8(30, m.flags);
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
                let f = expect_len(t, body, body_len::LOGIN)?;
                let version = f.u8(0);
                if version == 0 {
                    return Err(DecodeError::BadVersion(version));
                }
                let username = Username::from_wire(f.array(4))
                    .map_err(|_| DecodeError::BadIdentifier { field: "username" })?;
                Ok(ClientMessage::Login(Login {
                    version,
                    username,
                    token: Token(f.array(20)),
                    next_seq: f.u64(52),
                }))
            }
            msg_type::CLIENT_HEARTBEAT => expect_len(t, body, 0).map(|_| ClientMessage::Heartbeat),
            msg_type::LOGOUT => expect_len(t, body, 0).map(|_| ClientMessage::Logout),
            msg_type::NEW_ORDER => NewOrder::decode_body(body).map(ClientMessage::NewOrder),
            msg_type::CANCEL_ORDER => {
                let f = expect_len(t, body, body_len::CANCEL_ORDER)?;
                Ok(ClientMessage::CancelOrder(CancelOrder {
                    request_id: f.u64(0),
                    orig_cl_ord_id: f.u64(8),
                    account: f.account(16, "account")?,
                }))
            }
            msg_type::REPLACE_ORDER => {
                let f = expect_len(t, body, body_len::REPLACE_ORDER)?;
                Ok(ClientMessage::ReplaceOrder(ReplaceOrder {
                    request_id: f.u64(0),
                    orig_cl_ord_id: f.u64(8),
                    account: f.account(16, "account")?,
                    price: Price(f.i64(32)),
                    qty: Qty(f.u64(40)),
                }))
            }
            msg_type::MASS_CANCEL => {
                let f = expect_len(t, body, body_len::MASS_CANCEL)?;
                let scope = match f.u8(24) {
                    1 => MassCancelScope::Account(f.account(8, "account")?),
                    2 => MassCancelScope::Security(f.account(8, "account")?, f.security(26, 28)?),
                    3 => MassCancelScope::Login,
                    v => return Err(DecodeError::BadEnum { field: "scope", value: u64::from(v) }),
                };
                // Named after its field, as every other enum error is.
                let block_new = bool_field(f.u8(25), "block_new")?;
                Ok(ClientMessage::MassCancel(MassCancel { request_id: f.u64(0), scope, block_new }))
            }
            msg_type::ORDER_ENTRY_CONTROL => {
                let f = expect_len(t, body, body_len::ORDER_ENTRY_CONTROL)?;
                let enable = match f.u8(24) {
                    1 => true,
                    2 => false,
                    v => return Err(DecodeError::BadEnum { field: "action", value: u64::from(v) }),
                };
                Ok(ClientMessage::OrderEntryControl(OrderEntryControl {
                    request_id: f.u64(0),
                    account: f.account(8, "account")?,
                    enable,
                }))
            }
            msg_type::QUERY => decode_query(expect_len(t, body, body_len::QUERY)?),
            other => Err(DecodeError::UnknownType(other)),
        }
    }
}

impl NewOrder {
    /// Encodes one whole NewOrder frame into `out` (the hot path: no match on type).
    #[inline]
    pub fn encode_to_slice(&self, out: &mut [u8]) -> Result<usize, EncodeError> {
        write_frame(out, msg_type::NEW_ORDER, body_len::NEW_ORDER, |o| {
            o.u64(0, self.cl_ord_id);
            o.bytes(8, &self.account.to_wire());
            o.u32(24, self.security.code);
            o.u8(28, self.security.market.as_u8());
            o.u8(29, self.side.as_u8());
            o.u8(30, self.order_type.as_u8());
            o.u8(31, self.tif.as_u8());
            o.i64(32, self.price.0);
            o.u64(40, self.qty.0);
            o.u8(48, self.flags);
            o.u8(49, self.credit.as_u8());
        })
    }

    /// Decodes a NewOrder body (the bytes after the type byte).
    #[inline]
    pub fn decode_body(body: &[u8]) -> Result<NewOrder, DecodeError> {
        let f = expect_len(msg_type::NEW_ORDER, body, body_len::NEW_ORDER)?;
        let flags = f.u8(48);
        if flags & !order_flags::ALL != 0 {
            return Err(DecodeError::BadEnum { field: "flags", value: u64::from(flags) });
        }
        Ok(NewOrder {
            cl_ord_id: f.u64(0),
            account: f.account(8, "account")?,
            security: f.security(28, 24)?,
            side: enum_field(Side::from_u8(f.u8(29)), "side", f.u8(29))?,
            order_type: enum_field(OrderType::from_u8(f.u8(30)), "order_type", f.u8(30))?,
            tif: enum_field(TimeInForce::from_u8(f.u8(31)), "tif", f.u8(31))?,
            price: Price(f.i64(32)),
            qty: Qty(f.u64(40)),
            flags,
            credit: enum_field(CreditTag::from_u8(f.u8(49)), "credit", f.u8(49))?,
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
            ServerMessage::LoginAccepted(m) => write_frame(out, t, body_len::LOGIN_ACCEPTED, |o| {
                o.u8(0, m.version);
                o.u32(4, m.heartbeat_ms);
                o.u32(8, m.dead_peer_ms);
                o.u64(16, m.session_id);
                o.u64(24, m.next_seq);
            }),
            ServerMessage::LoginRejected(m) => {
                write_frame(out, t, body_len::LOGIN_REJECTED, |o| o.u16(0, m.code.0))
            }
            ServerMessage::Heartbeat => write_frame(out, t, 0, |_| {}),
            ServerMessage::EndOfSession(m) => write_frame(out, t, body_len::END_OF_SESSION, |o| {
                o.u16(0, m.reason.0);
                o.u64(2, m.last_seq);
            }),
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
                let f = expect_len(t, body, body_len::LOGIN_ACCEPTED)?;
                Ok(ServerMessage::LoginAccepted(LoginAccepted {
                    version: f.u8(0),
                    heartbeat_ms: f.u32(4),
                    dead_peer_ms: f.u32(8),
                    session_id: f.u64(16),
                    next_seq: f.u64(24),
                }))
            }
            msg_type::LOGIN_REJECTED => {
                let f = expect_len(t, body, body_len::LOGIN_REJECTED)?;
                Ok(ServerMessage::LoginRejected(LoginRejected { code: RejectCode(f.u16(0)) }))
            }
            msg_type::SERVER_HEARTBEAT => expect_len(t, body, 0).map(|_| ServerMessage::Heartbeat),
            msg_type::END_OF_SESSION => {
                let f = expect_len(t, body, body_len::END_OF_SESSION)?;
                Ok(ServerMessage::EndOfSession(EndOfSession {
                    reason: RejectCode(f.u16(0)),
                    last_seq: f.u64(2),
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
        let (seq, ts) = (self.seq, self.ts_ns);
        let header = |o: &mut Out<'_>| {
            o.u64(0, seq);
            o.u64(8, ts);
        };
        match &self.msg {
            AppMessage::OrderAccepted(m) => write_frame(out, t, body_len::ORDER_ACCEPTED, |o| {
                header(o);
                o.u64(16, m.cl_ord_id);
                o.u64(24, m.order_id);
                o.bytes(32, &m.account.to_wire());
                o.u32(48, m.security.code);
                o.u8(52, m.security.market.as_u8());
                o.u8(53, m.side.as_u8());
                o.u8(54, m.order_type.as_u8());
                o.u8(55, m.tif.as_u8());
                o.i64(56, m.price.0);
                o.u64(64, m.qty.0);
                o.u8(72, m.flags);
                o.u8(73, m.credit.as_u8());
            }),
            AppMessage::OrderRejected(m) => {
                let text = m.text();
                let text = text.as_bytes();
                write_frame(out, t, body_len::ORDER_REJECTED_FIXED + text.len(), |o| {
                    header(o);
                    o.u64(16, m.cl_ord_id);
                    o.bytes(24, &m.account.to_wire());
                    o.u16(40, m.code.0);
                    o.u8(42, m.flags);
                    o.u8(43, m.detail.kind());
                    let [a, b, c] = m.detail.values();
                    o.i64(48, a);
                    o.i64(56, b);
                    o.i64(64, c);
                    o.u8(72, text.len() as u8);
                    o.bytes(73, text);
                })
            }
            AppMessage::Executed(m) => write_frame(out, t, body_len::EXECUTED, |o| {
                header(o);
                m.write_fields(o);
            }),
            AppMessage::Canceled(m) => write_frame(out, t, body_len::CANCELED, |o| {
                header(o);
                o.u64(16, m.cl_ord_id);
                o.u64(24, m.order_id);
                o.bytes(32, &m.account.to_wire());
                o.u64(48, m.request_id);
                o.u64(56, m.canceled_qty.0);
                o.u64(64, m.cum.0);
                o.u8(72, m.reason.as_u8());
            }),
            AppMessage::CancelRejected(m) => write_frame(out, t, body_len::CANCEL_REJECTED, |o| {
                header(o);
                o.u64(16, m.request_id);
                o.u64(24, m.orig_cl_ord_id);
                o.bytes(32, &m.account.to_wire());
                o.u16(48, m.code.0);
                o.u8(50, m.kind as u8);
            }),
            AppMessage::Replaced(m) => write_frame(out, t, body_len::REPLACED, |o| {
                header(o);
                o.u64(16, m.request_id);
                o.u64(24, m.cl_ord_id);
                o.u64(32, m.order_id);
                o.bytes(40, &m.account.to_wire());
                o.i64(56, m.price.0);
                o.u64(64, m.qty.0);
                o.u64(72, m.leaves.0);
                o.u8(80, u8::from(m.priority_kept));
            }),
            AppMessage::SystemEvent(m) => write_frame(out, t, body_len::SYSTEM_EVENT, |o| {
                header(o);
                o.u8(16, m.kind as u8);
                o.u8(17, m.phase.as_u8());
                if let Some(s) = m.security {
                    o.u8(18, s.market.as_u8());
                    o.u32(20, s.code);
                }
            }),
            AppMessage::BusinessReject(m) => {
                let text = m.text();
                let text = text.as_bytes();
                write_frame(out, t, body_len::BUSINESS_REJECT_FIXED + text.len(), |o| {
                    header(o);
                    o.u8(16, m.ref_msg_type);
                    o.u16(18, m.code.0);
                    o.u64(24, m.ref_id);
                    o.u8(32, text.len() as u8);
                    o.bytes(33, text);
                })
            }
            AppMessage::MassCancelAck(m) => write_frame(out, t, body_len::MASS_CANCEL_ACK, |o| {
                header(o);
                o.u64(16, m.request_id);
                if let Some(a) = m.account {
                    o.bytes(24, &a.to_wire());
                }
                o.u32(40, m.canceled_count);
                o.u16(44, m.code.0);
                o.u8(46, u8::from(m.blocked));
            }),
            AppMessage::OrderEntryStatus(m) => {
                write_frame(out, t, body_len::ORDER_ENTRY_STATUS, |o| {
                    header(o);
                    o.u64(16, m.request_id);
                    o.bytes(24, &m.account.to_wire());
                    o.u8(40, m.state as u8);
                    o.u16(42, m.code.0);
                })
            }
            AppMessage::OrderPending(m) => write_frame(out, t, body_len::ORDER_PENDING, |o| {
                header(o);
                o.u64(16, m.cl_ord_id);
                o.u64(24, m.order_id);
                o.u64(32, m.request_id);
                o.bytes(40, &m.account.to_wire());
                o.u8(56, m.status.as_u8());
                o.u8(57, m.phase.as_u8());
            }),
            AppMessage::FillFees(m) => write_frame(out, t, body_len::FILL_FEES, |o| {
                header(o);
                o.u64(16, m.cl_ord_id);
                o.u64(24, m.order_id);
                o.u64(32, m.exec_id);
                o.bytes(40, &m.account.to_wire());
                o.i64(56, m.commission);
                o.i64(64, m.stamp_duty);
                o.i64(72, m.transfer_fee);
                o.i64(80, m.total());
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
                let f = expect_len(t, body, body_len::ORDER_ACCEPTED)?;
                AppMessage::OrderAccepted(OrderAccepted {
                    cl_ord_id: f.u64(16),
                    order_id: f.u64(24),
                    account: f.account(32, "account")?,
                    security: f.security(52, 48)?,
                    side: enum_field(Side::from_u8(f.u8(53)), "side", f.u8(53))?,
                    order_type: enum_field(OrderType::from_u8(f.u8(54)), "order_type", f.u8(54))?,
                    tif: enum_field(TimeInForce::from_u8(f.u8(55)), "tif", f.u8(55))?,
                    price: Price(f.i64(56)),
                    qty: Qty(f.u64(64)),
                    flags: f.u8(72),
                    credit: enum_field(CreditTag::from_u8(f.u8(73)), "credit", f.u8(73))?,
                })
            }
            msg_type::ORDER_REJECTED => {
                let fixed = body_len::ORDER_REJECTED_FIXED;
                let text_len = usize::from(body.get(fixed - 1).copied().unwrap_or(0));
                let f = expect_len(t, body, fixed + text_len)?;
                f.text(fixed)?;
                let detail =
                    RejectDetail::from_wire(f.u8(43), [f.i64(48), f.i64(56), f.i64(64)]).ok_or(
                        DecodeError::BadEnum { field: "detail_kind", value: u64::from(f.u8(43)) },
                    )?;
                AppMessage::OrderRejected(OrderRejected {
                    cl_ord_id: f.u64(16),
                    account: f.account(24, "account")?,
                    code: RejectCode(f.u16(40)),
                    flags: f.u8(42),
                    detail,
                })
            }
            msg_type::EXECUTED => {
                Executed::decode_fields(expect_len(t, body, body_len::EXECUTED)?)?
            }
            msg_type::CANCELED => {
                let f = expect_len(t, body, body_len::CANCELED)?;
                AppMessage::Canceled(Canceled {
                    cl_ord_id: f.u64(16),
                    order_id: f.u64(24),
                    account: f.account(32, "account")?,
                    request_id: f.u64(48),
                    canceled_qty: Qty(f.u64(56)),
                    cum: Qty(f.u64(64)),
                    reason: enum_field(CancelReason::from_u8(f.u8(72)), "reason", f.u8(72))?,
                })
            }
            msg_type::CANCEL_REJECTED => {
                let f = expect_len(t, body, body_len::CANCEL_REJECTED)?;
                let kind = match f.u8(50) {
                    1 => RequestKind::Cancel,
                    2 => RequestKind::Replace,
                    v => return Err(DecodeError::BadEnum { field: "kind", value: u64::from(v) }),
                };
                AppMessage::CancelRejected(CancelRejected {
                    request_id: f.u64(16),
                    orig_cl_ord_id: f.u64(24),
                    account: f.account(32, "account")?,
                    code: RejectCode(f.u16(48)),
                    kind,
                })
            }
            msg_type::REPLACED => {
                let f = expect_len(t, body, body_len::REPLACED)?;
                AppMessage::Replaced(Replaced {
                    request_id: f.u64(16),
                    cl_ord_id: f.u64(24),
                    order_id: f.u64(32),
                    account: f.account(40, "account")?,
                    price: Price(f.i64(56)),
                    qty: Qty(f.u64(64)),
                    leaves: Qty(f.u64(72)),
                    priority_kept: bool_field(f.u8(80), "priority_kept")?,
                })
            }
            msg_type::SYSTEM_EVENT => {
                let f = expect_len(t, body, body_len::SYSTEM_EVENT)?;
                let kind = match f.u8(16) {
                    1 => SystemEventKind::PhaseChange,
                    2 => SystemEventKind::Halt,
                    3 => SystemEventKind::Resume,
                    4 => SystemEventKind::StartOfDay,
                    5 => SystemEventKind::EndOfDay,
                    v => return Err(DecodeError::BadEnum { field: "event", value: u64::from(v) }),
                };
                let security =
                    if f.u8(18) == 0 && f.u32(20) == 0 { None } else { Some(f.security(18, 20)?) };
                AppMessage::SystemEvent(SystemEvent {
                    kind,
                    phase: enum_field(TradingPhase::from_u8(f.u8(17)), "phase", f.u8(17))?,
                    security,
                })
            }
            msg_type::BUSINESS_REJECT => {
                let fixed = body_len::BUSINESS_REJECT_FIXED;
                let text_len = usize::from(body.get(fixed - 1).copied().unwrap_or(0));
                let f = expect_len(t, body, fixed + text_len)?;
                f.text(fixed)?;
                AppMessage::BusinessReject(BusinessReject {
                    ref_msg_type: f.u8(16),
                    code: RejectCode(f.u16(18)),
                    ref_id: f.u64(24),
                })
            }
            msg_type::MASS_CANCEL_ACK => {
                let f = expect_len(t, body, body_len::MASS_CANCEL_ACK)?;
                AppMessage::MassCancelAck(MassCancelAck {
                    request_id: f.u64(16),
                    account: f.optional_account(24, "account")?,
                    canceled_count: f.u32(40),
                    code: RejectCode(f.u16(44)),
                    blocked: bool_field(f.u8(46), "blocked")?,
                })
            }
            msg_type::ORDER_ENTRY_STATUS => {
                let f = expect_len(t, body, body_len::ORDER_ENTRY_STATUS)?;
                AppMessage::OrderEntryStatus(OrderEntryStatus {
                    request_id: f.u64(16),
                    account: f.account(24, "account")?,
                    state: enum_field(EntryState::from_u8(f.u8(40)), "state", f.u8(40))?,
                    code: RejectCode(f.u16(42)),
                })
            }
            msg_type::ORDER_PENDING => {
                let f = expect_len(t, body, body_len::ORDER_PENDING)?;
                AppMessage::OrderPending(OrderPending {
                    cl_ord_id: f.u64(16),
                    order_id: f.u64(24),
                    request_id: f.u64(32),
                    account: f.account(40, "account")?,
                    status: enum_field(PendingStatus::from_u8(f.u8(56)), "status", f.u8(56))?,
                    phase: enum_field(TradingPhase::from_u8(f.u8(57)), "phase", f.u8(57))?,
                })
            }
            msg_type::FILL_FEES => {
                let f = expect_len(t, body, body_len::FILL_FEES)?;
                let fees = FillFees {
                    cl_ord_id: f.u64(16),
                    order_id: f.u64(24),
                    exec_id: f.u64(32),
                    account: f.account(40, "account")?,
                    commission: f.i64(56),
                    stamp_duty: f.i64(64),
                    transfer_fee: f.i64(72),
                };
                if fees.total() != f.i64(80) {
                    return Err(DecodeError::OutOfRange { field: "total" });
                }
                AppMessage::FillFees(fees)
            }
            other => return Err(DecodeError::UnknownType(other)),
        };
        let f = Fields(body);
        Ok(Sequenced { seq: f.u64(0), ts_ns: f.u64(8), msg })
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
    fn write_fields(&self, o: &mut Out<'_>) {
        o.u64(16, self.cl_ord_id);
        o.u64(24, self.order_id);
        o.u64(32, self.exec_id);
        o.bytes(40, &self.account.to_wire());
        o.i64(56, self.price.0);
        o.u64(64, self.qty.0);
        o.u64(72, self.leaves.0);
        o.u64(80, self.cum.0);
        o.u8(88, self.side.as_u8());
        o.u8(89, self.liquidity.as_u8());
        o.u8(90, self.security.market.as_u8());
        o.u32(92, self.security.code);
    }

    fn decode_fields(f: Fields<'_>) -> Result<AppMessage, DecodeError> {
        Ok(AppMessage::Executed(Executed {
            cl_ord_id: f.u64(16),
            order_id: f.u64(24),
            exec_id: f.u64(32),
            account: f.account(40, "account")?,
            price: Price(f.i64(56)),
            qty: Qty(f.u64(64)),
            leaves: Qty(f.u64(72)),
            cum: Qty(f.u64(80)),
            side: enum_field(Side::from_u8(f.u8(88)), "side", f.u8(88))?,
            liquidity: enum_field(Liquidity::from_u8(f.u8(89)), "liquidity", f.u8(89))?,
            security: f.security(90, 92)?,
        }))
    }
}

/// Reads the text of an OrderRejected or BusinessReject frame as sent, without
/// re-rendering it; `None` for other frames or malformed text.
pub fn wire_text(frame: &[u8]) -> Option<&str> {
    let (t, body) = split_frame(frame).ok()?;
    let fixed = match t {
        msg_type::ORDER_REJECTED => body_len::ORDER_REJECTED_FIXED,
        msg_type::BUSINESS_REJECT => body_len::BUSINESS_REJECT_FIXED,
        _ => return None,
    };
    let text_len = usize::from(*body.get(fixed - 1)?);
    core::str::from_utf8(body.get(fixed..fixed + text_len)?).ok()
}

// ---------------------------------------------------------------------------
// Queries (version 3): requests and unsequenced answers
// ---------------------------------------------------------------------------

fn decode_query(f: Fields<'_>) -> Result<ClientMessage, DecodeError> {
    let flags = f.u8(30);
    if flags & !query_flags::ALL != 0 {
        return Err(DecodeError::BadEnum { field: "flags", value: u64::from(flags) });
    }
    Ok(ClientMessage::Query(Query {
        query_id: f.u64(0),
        account: f.account(8, "account")?,
        cursor: f.u32(24),
        kind: enum_field(QueryKind::from_u8(f.u8(28)), "kind", f.u8(28))?,
        page_size: f.u8(29),
        flags,
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
            QueryAnswer::Funds(a) => write_frame(out, t, body_len::FUNDS_ANSWER, |o| {
                a.header.write(o, 1);
                write_funds(o, ANSWER_HEADER_LEN, &a.funds);
            }),
            QueryAnswer::Positions(a) => write_rows(out, t, &a.header, &a.rows, write_position),
            QueryAnswer::Orders(a) => write_rows(out, t, &a.header, &a.rows, write_order),
            QueryAnswer::Fills(a) => write_rows(out, t, &a.header, &a.rows, write_fill),
            QueryAnswer::Rejected(r) => write_frame(out, t, body_len::QUERY_REJECTED, |o| {
                o.u64(0, r.query_id);
                if let Some(a) = r.account {
                    o.bytes(8, &a.to_wire());
                }
                o.u16(24, r.code.0);
                o.u8(26, r.kind);
            }),
        }
    }

    fn decode_body(t: u8, body: &[u8]) -> Result<QueryAnswer, DecodeError> {
        match t {
            msg_type::FUNDS_ANSWER => {
                let f = expect_len(t, body, body_len::FUNDS_ANSWER)?;
                if f.u8(36) != 1 {
                    return Err(DecodeError::OutOfRange { field: "row_count" });
                }
                Ok(QueryAnswer::Funds(FundsAnswer {
                    header: AnswerHeader::read(f)?,
                    funds: read_funds(f, ANSWER_HEADER_LEN),
                }))
            }
            msg_type::POSITIONS_ANSWER => {
                let (header, rows) =
                    read_rows(t, body, POSITION_ROW_LEN, PositionRow::EMPTY, |f, at| {
                        Ok(PositionRow {
                            security: f.security(at + 4, at)?,
                            qty: f.u64(at + 8),
                            sellable: f.u64(at + 16),
                            frozen: f.u64(at + 24),
                            average_cost: Price(f.i64(at + 32)),
                            last_price: Price(f.i64(at + 40)),
                            market_value: f.i64(at + 48),
                            unrealized_pnl: f.i64(at + 56),
                        })
                    })?;
                Ok(QueryAnswer::Positions(PositionsAnswer { header, rows }))
            }
            msg_type::ORDERS_ANSWER => {
                let (header, rows) =
                    read_rows(t, body, ORDER_ROW_LEN, OrderRow::EMPTY, read_order)?;
                Ok(QueryAnswer::Orders(OrdersAnswer { header, rows }))
            }
            msg_type::FILLS_ANSWER => {
                let (header, rows) = read_rows(t, body, FILL_ROW_LEN, FillRow::EMPTY, read_fill)?;
                Ok(QueryAnswer::Fills(FillsAnswer { header, rows }))
            }
            _ => {
                let f = expect_len(t, body, body_len::QUERY_REJECTED)?;
                Ok(QueryAnswer::Rejected(QueryRejected {
                    query_id: f.u64(0),
                    account: f.optional_account(8, "account")?,
                    code: RejectCode(f.u16(24)),
                    kind: f.u8(26),
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
    fn write(&self, o: &mut Out<'_>, row_count: usize) {
        o.u64(0, self.query_id);
        o.u64(8, self.as_of_seq);
        o.bytes(16, &self.account.to_wire());
        o.u32(32, self.next_cursor);
        o.u8(36, row_count as u8);
        o.u8(37, self.flags);
    }

    fn read(f: Fields<'_>) -> Result<AnswerHeader, DecodeError> {
        Ok(AnswerHeader {
            query_id: f.u64(0),
            as_of_seq: f.u64(8),
            account: f.account(16, "account")?,
            next_cursor: f.u32(32),
            flags: f.u8(37),
        })
    }
}

fn write_rows<T: Copy, const N: usize>(
    out: &mut [u8],
    t: u8,
    header: &AnswerHeader,
    rows: &Rows<T, N>,
    write_row: fn(&mut Out<'_>, usize, &T),
) -> Result<usize, EncodeError> {
    let row_len = match t {
        msg_type::POSITIONS_ANSWER => POSITION_ROW_LEN,
        msg_type::ORDERS_ANSWER => ORDER_ROW_LEN,
        _ => FILL_ROW_LEN,
    };
    let rows = rows.as_slice();
    write_frame(out, t, ANSWER_HEADER_LEN + rows.len() * row_len, |o| {
        header.write(o, rows.len());
        for (i, row) in rows.iter().enumerate() {
            write_row(o, ANSWER_HEADER_LEN + i * row_len, row);
        }
    })
}

fn read_rows<T: Copy, const N: usize>(
    t: u8,
    body: &[u8],
    row_len: usize,
    empty: T,
    read_row: fn(Fields<'_>, usize) -> Result<T, DecodeError>,
) -> Result<(AnswerHeader, Rows<T, N>), DecodeError> {
    let count = usize::from(body.get(36).copied().unwrap_or(0));
    if count > N {
        return Err(DecodeError::OutOfRange { field: "row_count" });
    }
    let f = expect_len(t, body, ANSWER_HEADER_LEN + count * row_len)?;
    let header = AnswerHeader::read(f)?;
    let mut rows = Rows::new(empty);
    for i in 0..count {
        rows.push(read_row(f, ANSWER_HEADER_LEN + i * row_len)?);
    }
    Ok((header, rows))
}

fn write_funds(o: &mut Out<'_>, at: usize, r: &FundsRow) {
    let values = [
        r.cash_available,
        r.cash_frozen,
        r.cash_debit,
        r.market_value,
        r.total_assets,
        r.realized_pnl_today,
        r.commission_today,
        r.stamp_duty_today,
        r.transfer_fee_today,
        r.fees_today,
    ];
    for (i, v) in values.iter().enumerate() {
        o.i64(at + 8 * i, *v);
    }
}

fn read_funds(f: Fields<'_>, at: usize) -> FundsRow {
    FundsRow {
        cash_available: f.i64(at),
        cash_frozen: f.i64(at + 8),
        cash_debit: f.i64(at + 16),
        market_value: f.i64(at + 24),
        total_assets: f.i64(at + 32),
        realized_pnl_today: f.i64(at + 40),
        commission_today: f.i64(at + 48),
        stamp_duty_today: f.i64(at + 56),
        transfer_fee_today: f.i64(at + 64),
        fees_today: f.i64(at + 72),
    }
}

fn write_position(o: &mut Out<'_>, at: usize, r: &PositionRow) {
    o.u32(at, r.security.code);
    o.u8(at + 4, r.security.market.as_u8());
    o.u64(at + 8, r.qty);
    o.u64(at + 16, r.sellable);
    o.u64(at + 24, r.frozen);
    o.i64(at + 32, r.average_cost.0);
    o.i64(at + 40, r.last_price.0);
    o.i64(at + 48, r.market_value);
    o.i64(at + 56, r.unrealized_pnl);
}

fn write_order(o: &mut Out<'_>, at: usize, r: &OrderRow) {
    o.u64(at, r.cl_ord_id);
    o.u32(at + 8, r.security.code);
    o.u8(at + 12, r.security.market.as_u8());
    o.u8(at + 13, r.side.as_u8());
    o.u8(at + 14, r.order_type.as_u8());
    o.u8(at + 15, r.status.as_u8());
    o.u16(at + 16, r.code.0);
    o.i64(at + 24, r.price.0);
    o.u64(at + 32, r.qty.0);
    o.u64(at + 40, r.filled_qty.0);
    o.u64(at + 48, r.open_qty.0);
    o.i64(at + 56, r.average_price.0);
    o.i64(at + 64, r.fees_paid);
    o.u64(at + 72, r.entered_ns);
}

fn read_order(f: Fields<'_>, at: usize) -> Result<OrderRow, DecodeError> {
    let byte = |off: usize| f.u8(at + off);
    Ok(OrderRow {
        cl_ord_id: f.u64(at),
        security: f.security(at + 12, at + 8)?,
        side: enum_field(Side::from_u8(byte(13)), "side", byte(13))?,
        order_type: enum_field(OrderType::from_u8(byte(14)), "order_type", byte(14))?,
        status: enum_field(OrderStatus::from_u8(byte(15)), "status", byte(15))?,
        code: RejectCode(f.u16(at + 16)),
        price: Price(f.i64(at + 24)),
        qty: Qty(f.u64(at + 32)),
        filled_qty: Qty(f.u64(at + 40)),
        open_qty: Qty(f.u64(at + 48)),
        average_price: Price(f.i64(at + 56)),
        fees_paid: f.i64(at + 64),
        entered_ns: f.u64(at + 72),
    })
}

fn write_fill(o: &mut Out<'_>, at: usize, r: &FillRow) {
    o.u64(at, r.exec_id);
    o.u64(at + 8, r.cl_ord_id);
    o.u32(at + 16, r.security.code);
    o.u8(at + 20, r.security.market.as_u8());
    o.u8(at + 21, r.side.as_u8());
    o.i64(at + 24, r.price.0);
    o.u64(at + 32, r.qty.0);
    o.i64(at + 40, r.commission);
    o.i64(at + 48, r.stamp_duty);
    o.i64(at + 56, r.transfer_fee);
    o.u64(at + 64, r.booked_ns);
}

fn read_fill(f: Fields<'_>, at: usize) -> Result<FillRow, DecodeError> {
    Ok(FillRow {
        exec_id: f.u64(at),
        cl_ord_id: f.u64(at + 8),
        security: f.security(at + 20, at + 16)?,
        side: enum_field(Side::from_u8(f.u8(at + 21)), "side", f.u8(at + 21))?,
        price: Price(f.i64(at + 24)),
        qty: Qty(f.u64(at + 32)),
        commission: f.i64(at + 40),
        stamp_duty: f.i64(at + 48),
        transfer_fee: f.i64(at + 56),
        booked_ns: f.u64(at + 64),
    })
}

// Every page of the largest size fits one frame.
const _: () = {
    assert!(
        FRAME_HEADER_LEN + ANSWER_HEADER_LEN + MAX_POSITION_ROWS * POSITION_ROW_LEN
            <= MAX_FRAME_LEN
    );
    assert!(FRAME_HEADER_LEN + ANSWER_HEADER_LEN + MAX_ORDER_ROWS * ORDER_ROW_LEN <= MAX_FRAME_LEN);
    assert!(FRAME_HEADER_LEN + ANSWER_HEADER_LEN + MAX_FILL_ROWS * FILL_ROW_LEN <= MAX_FRAME_LEN);
};
