//! The four queries (protocol version 3): funds, positions, the day's orders and
//! the day's fills, and the FillFees companion of every Executed.
//!
//! A [`Query`] is a client message. Its answer is an unsequenced server message
//! ([`QueryAnswer`], like LoginAccepted: not in the stream, never replayed) that
//! names the stream sequence number it is consistent with (`as_of_seq`: it
//! reflects every stream message up to and including that one). An answer is one
//! frame: a 40-byte header and fixed-size rows, at most as many as fit
//! [`crate::MAX_FRAME_LEN`] ([`MAX_POSITION_ROWS`], [`MAX_ORDER_ROWS`],
//! [`MAX_FILL_ROWS`]). Orders, fills and positions are paged by a cursor; the
//! answer's `next_cursor` starts the next page, 0 when there is none.
//!
//! The row types are the vocabulary the CLI and the admin endpoint's JSON share
//! (serde derives behind the `serde` feature). Money is in 1/10000 CNY.

use core::fmt;

use crate::frame::{FRAME_HEADER_LEN, MAX_FRAME_LEN};
use crate::reject::RejectCode;
use crate::types::{AccountId, ClOrdId, ExecId, Market, OrderType, Price, Qty, SecurityId, Side};
use crate::types::{OrderId, wire_enum};

/// The first protocol version with queries and FillFees.
pub const VERSION_QUERIES: u8 = 3;

/// Bytes of the header every answer starts with (query id, as-of sequence
/// number, account, next cursor, row count, flags).
pub const ANSWER_HEADER_LEN: usize = 40;
/// Bytes of the funds row.
pub const FUNDS_ROW_LEN: usize = 80;
/// Bytes of a positions row.
pub const POSITION_ROW_LEN: usize = 64;
/// Bytes of an orders row.
pub const ORDER_ROW_LEN: usize = 80;
/// Bytes of a fills row.
pub const FILL_ROW_LEN: usize = 72;

/// Bytes an answer frame has for rows: the maximum frame less the frame header
/// and the answer header.
const ROW_SPACE: usize = MAX_FRAME_LEN - FRAME_HEADER_LEN - ANSWER_HEADER_LEN;
/// Most positions rows in one answer (7).
pub const MAX_POSITION_ROWS: usize = ROW_SPACE / POSITION_ROW_LEN;
/// Most orders rows in one answer (5).
pub const MAX_ORDER_ROWS: usize = ROW_SPACE / ORDER_ROW_LEN;
/// Most fills rows in one answer (6).
pub const MAX_FILL_ROWS: usize = ROW_SPACE / FILL_ROW_LEN;

wire_enum! {
    /// What a query asks for.
    QueryKind {
        /// The account's funds (查询资金); one row, not paged.
        Funds = 1 => "funds",
        /// The account's holdings (查询持仓), paged.
        Positions = 2 => "positions",
        /// The account's orders of the day (查询委托), paged.
        Orders = 3 => "orders",
        /// The account's fills of the day (查询成交), paged.
        Fills = 4 => "fills",
    }
}

impl QueryKind {
    /// The most rows one answer of this kind carries.
    pub const fn max_rows(self) -> usize {
        match self {
            QueryKind::Funds => 1,
            QueryKind::Positions => MAX_POSITION_ROWS,
            QueryKind::Orders => MAX_ORDER_ROWS,
            QueryKind::Fills => MAX_FILL_ROWS,
        }
    }
}

/// Flags of a [`Query`].
pub mod query_flags {
    /// Orders query: only orders that may still trade (可撤单).
    pub const OPEN_ONLY: u8 = 0x01;
    /// Every defined flag bit.
    pub const ALL: u8 = OPEN_ONLY;
}

/// Flags of an answer header.
pub mod answer_header_flags {
    /// Fills answer: the gateway's fills table was full today and some fills are
    /// missing from it (their money is booked all the same).
    pub const INCOMPLETE: u8 = 0x01;
}

/// A query (version 3): where an account stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Query {
    /// The client's id for this query, echoed in the answer.
    pub query_id: u64,
    /// What is asked.
    pub kind: QueryKind,
    /// The account.
    pub account: AccountId,
    /// Where the page starts: 0 for the first page, else an answer's `next_cursor`.
    /// Ignored by the funds query.
    pub cursor: u32,
    /// Rows wanted, 1 up to the kind's maximum ([`QueryKind::max_rows`]); 0 asks
    /// for the maximum. Larger values are rejected (`bad_page_size`).
    pub page_size: u8,
    /// [`query_flags`] bits.
    pub flags: u8,
}

impl Query {
    /// True when the orders query asks for open orders only.
    pub const fn open_only(&self) -> bool {
        self.flags & query_flags::OPEN_ONLY != 0
    }

    /// The number of rows to answer with: the page size, 0 meaning the maximum;
    /// `None` when it exceeds the maximum.
    pub const fn rows_wanted(&self) -> Option<usize> {
        let max = self.kind.max_rows();
        match self.page_size as usize {
            0 => Some(max),
            n if n <= max => Some(n),
            _ => None,
        }
    }
}

/// What every answer starts with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct AnswerHeader {
    /// The query's id.
    pub query_id: u64,
    /// The answer reflects every stream message of this login up to and including
    /// this sequence number (and none after it).
    pub as_of_seq: u64,
    /// The account.
    pub account: AccountId,
    /// Where the next page starts; 0 when this page is the last.
    pub next_cursor: u32,
    /// [`answer_header_flags`] bits.
    pub flags: u8,
}

/// An account's funds (查询资金).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FundsRow {
    /// Cash free for new orders.
    pub cash_available: i64,
    /// Cash frozen by open orders (open buys' value and fees).
    pub cash_frozen: i64,
    /// Cash owed by the account.
    pub cash_debit: i64,
    /// Holdings at the last trade prices.
    pub market_value: i64,
    /// Cash available + frozen − debit + market value.
    pub total_assets: i64,
    /// P&L realised today, after fees.
    pub realized_pnl_today: i64,
    /// Commission paid today.
    pub commission_today: i64,
    /// Stamp duty paid today.
    pub stamp_duty_today: i64,
    /// Transfer fees paid today.
    pub transfer_fee_today: i64,
    /// All fees paid today.
    pub fees_today: i64,
}

/// One holding (查询持仓).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PositionRow {
    /// The security.
    pub security: SecurityId,
    /// Shares held.
    pub qty: u64,
    /// Shares a sell may use today (T+1: bought today is not sellable).
    pub sellable: u64,
    /// Shares frozen by open sells.
    pub frozen: u64,
    /// Cost per share, fees included.
    pub average_cost: Price,
    /// Last trade price (previous close before any trade).
    pub last_price: Price,
    /// Holding at the last price.
    pub market_value: i64,
    /// Market value − cost.
    pub unrealized_pnl: i64,
}

impl PositionRow {
    /// A zero row (fills unused array slots).
    pub const EMPTY: PositionRow = PositionRow {
        security: SecurityId { market: Market::Sse, code: 0 },
        qty: 0,
        sellable: 0,
        frozen: 0,
        average_cost: Price::ZERO,
        last_price: Price::ZERO,
        market_value: 0,
        unrealized_pnl: 0,
    };
}

wire_enum! {
    /// Where an order of the day stands, in A-share terminal terms.
    OrderStatus {
        /// Taken by the broker, not yet acknowledged by the venue (待报).
        PendingVenue = 1 => "pending_venue",
        /// Working, nothing filled (已报).
        Open = 2 => "open",
        /// Working, partly filled (部成).
        PartlyFilled = 3 => "partly_filled",
        /// Completely filled (已成).
        Filled = 4 => "filled",
        /// Cancelled after partial fills (部撤).
        PartlyFilledCanceled = 5 => "partly_filled_canceled",
        /// Cancelled with nothing filled (已撤).
        Canceled = 6 => "canceled",
        /// Refused by the broker's checks (废单); the row's code says why.
        Rejected = 7 => "rejected",
        /// Refused by the venue (废单); the row's code says why.
        VenueRejected = 8 => "venue_rejected",
    }
}

impl OrderStatus {
    /// True while the order may still trade.
    pub const fn is_open(self) -> bool {
        matches!(self, OrderStatus::PendingVenue | OrderStatus::Open | OrderStatus::PartlyFilled)
    }
}

/// One order of the day (查询委托).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OrderRow {
    /// Client order id.
    pub cl_ord_id: ClOrdId,
    /// Security.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Status.
    pub status: OrderStatus,
    /// Reject code for the rejected states, else 0.
    pub code: RejectCode,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// Total quantity.
    pub qty: Qty,
    /// Filled quantity.
    pub filled_qty: Qty,
    /// Open quantity.
    pub open_qty: Qty,
    /// Average fill price, rounded half up (zero before a fill).
    pub average_price: Price,
    /// Fees charged so far.
    pub fees_paid: i64,
    /// When the gateway took it, ns since the Unix epoch.
    pub entered_ns: u64,
}

impl OrderRow {
    /// A zero row (fills unused array slots).
    pub const EMPTY: OrderRow = OrderRow {
        cl_ord_id: 0,
        security: SecurityId { market: Market::Sse, code: 0 },
        side: Side::Buy,
        order_type: OrderType::Limit,
        status: OrderStatus::PendingVenue,
        code: RejectCode(0),
        price: Price::ZERO,
        qty: Qty::ZERO,
        filled_qty: Qty::ZERO,
        open_qty: Qty::ZERO,
        average_price: Price::ZERO,
        fees_paid: 0,
        entered_ns: 0,
    };
}

/// One fill of the day (查询成交), with what it was charged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FillRow {
    /// Execution id (as in the Executed).
    pub exec_id: ExecId,
    /// Client order id.
    pub cl_ord_id: ClOrdId,
    /// Security.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// Price.
    pub price: Price,
    /// Quantity.
    pub qty: Qty,
    /// Commission charged for this fill.
    pub commission: i64,
    /// Stamp duty (sells only).
    pub stamp_duty: i64,
    /// Transfer fee.
    pub transfer_fee: i64,
    /// When the gateway booked it, ns since the Unix epoch.
    pub booked_ns: u64,
}

impl FillRow {
    /// A zero row (fills unused array slots).
    pub const EMPTY: FillRow = FillRow {
        exec_id: 0,
        cl_ord_id: 0,
        security: SecurityId { market: Market::Sse, code: 0 },
        side: Side::Buy,
        price: Price::ZERO,
        qty: Qty::ZERO,
        commission: 0,
        stamp_duty: 0,
        transfer_fee: 0,
        booked_ns: 0,
    };

    /// The fill's fees together.
    pub const fn fees_total(&self) -> i64 {
        self.commission + self.stamp_duty + self.transfer_fee
    }
}

/// Up to `N` rows in a fixed array: an answer's page, `Copy` and allocation-free.
#[derive(Clone, Copy, Debug)]
pub struct Rows<T: Copy, const N: usize> {
    len: u8,
    rows: [T; N],
}

impl<T: Copy, const N: usize> Rows<T, N> {
    /// No rows; `empty` fills the unused slots.
    pub const fn new(empty: T) -> Self {
        Rows { len: 0, rows: [empty; N] }
    }

    /// Adds a row; false (and nothing added) when the page is full.
    pub fn push(&mut self, row: T) -> bool {
        match self.rows.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = row;
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The rows.
    pub fn as_slice(&self) -> &[T] {
        &self.rows[..usize::from(self.len)]
    }

    /// How many rows.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every row.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl<T: Copy + PartialEq, const N: usize> PartialEq for Rows<T, N> {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl<T: Copy + Eq, const N: usize> Eq for Rows<T, N> {}

/// Answer to a funds query.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FundsAnswer {
    /// Header (`next_cursor` is always 0).
    pub header: AnswerHeader,
    /// The funds.
    pub funds: FundsRow,
}

/// Answer to a positions query: one page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PositionsAnswer {
    /// Header.
    pub header: AnswerHeader,
    /// The page.
    pub rows: Rows<PositionRow, MAX_POSITION_ROWS>,
}

/// Answer to an orders query: one page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrdersAnswer {
    /// Header.
    pub header: AnswerHeader,
    /// The page.
    pub rows: Rows<OrderRow, MAX_ORDER_ROWS>,
}

/// Answer to a fills query: one page.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FillsAnswer {
    /// Header.
    pub header: AnswerHeader,
    /// The page.
    pub rows: Rows<FillRow, MAX_FILL_ROWS>,
}

/// A query was refused; nothing was answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct QueryRejected {
    /// The query's id (0 when it could not be read).
    pub query_id: u64,
    /// The account as sent.
    pub account: Option<AccountId>,
    /// What was asked (the raw kind byte; 0 when it could not be read).
    pub kind: u8,
    /// Why.
    pub code: RejectCode,
}

/// An unsequenced answer to a [`Query`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum QueryAnswer {
    /// Funds.
    Funds(FundsAnswer),
    /// Positions.
    Positions(PositionsAnswer),
    /// Orders.
    Orders(OrdersAnswer),
    /// Fills.
    Fills(FillsAnswer),
    /// Refused.
    Rejected(QueryRejected),
}

impl QueryAnswer {
    /// The query id it answers.
    pub const fn query_id(&self) -> u64 {
        match self {
            QueryAnswer::Funds(a) => a.header.query_id,
            QueryAnswer::Positions(a) => a.header.query_id,
            QueryAnswer::Orders(a) => a.header.query_id,
            QueryAnswer::Fills(a) => a.header.query_id,
            QueryAnswer::Rejected(r) => r.query_id,
        }
    }

    /// The header, `None` for a rejection.
    pub const fn header(&self) -> Option<&AnswerHeader> {
        match self {
            QueryAnswer::Funds(a) => Some(&a.header),
            QueryAnswer::Positions(a) => Some(&a.header),
            QueryAnswer::Orders(a) => Some(&a.header),
            QueryAnswer::Fills(a) => Some(&a.header),
            QueryAnswer::Rejected(_) => None,
        }
    }
}

/// What one fill was charged (version 3): follows its Executed in the stream, with
/// the same exec id.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FillFees {
    /// Client order id.
    pub cl_ord_id: ClOrdId,
    /// Gateway order id.
    pub order_id: OrderId,
    /// The Executed's exec id.
    pub exec_id: ExecId,
    /// Account.
    pub account: AccountId,
    /// Broker commission for this fill.
    pub commission: i64,
    /// Stamp duty (sells only).
    pub stamp_duty: i64,
    /// Transfer fee.
    pub transfer_fee: i64,
}

impl FillFees {
    /// The fees together (sent on the wire as `total`).
    pub const fn total(&self) -> i64 {
        self.commission.wrapping_add(self.stamp_duty).wrapping_add(self.transfer_fee)
    }
}
