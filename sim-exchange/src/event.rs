//! What the engine tells its caller: order events, trade prints, phase changes,
//! and the market-data views.

use protocol::{
    CancelReason, ExecId, Liquidity, OrderId, OrderType, Price, Qty, RejectCode, RejectDetail,
    SecurityId, Side, TimeInForce, TradingPhase,
};

/// An order as the venue receives it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct VenueOrder {
    /// Caller-assigned id, unique among live orders (an id may be reused once its order is closed).
    pub order_id: OrderId,
    /// The owning account's index, for self-trade prevention.
    pub owner: u32,
    /// The security.
    pub security: SecurityId,
    /// Buy or sell.
    pub side: Side,
    /// Limit or one of the market types.
    pub order_type: OrderType,
    /// Time in force; a market type must carry its `implied_tif()`.
    pub tif: TimeInForce,
    /// Limit price; ignored for market orders.
    pub price: Price,
    /// Quantity in shares.
    pub qty: Qty,
}

/// What a [`Event::Phase`] reports.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PhaseEventKind {
    /// A scheduled or manual phase change.
    PhaseChange,
    /// Trading halted.
    Halt,
    /// Trading resumed after a halt.
    Resume,
}

/// One thing that happened, delivered through the caller's sink in a deterministic order.
///
/// Every order gets exactly one `Accepted` or `Rejected`; every accepted order ends in
/// exactly one terminal event: an `Executed` with `leaves == 0`, or a `Canceled`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// The venue took the order.
    Accepted {
        /// The order.
        order_id: OrderId,
    },
    /// The venue refused the order; nothing else follows for it.
    Rejected {
        /// The order.
        order_id: OrderId,
        /// Why (a `VENUE_*` code).
        code: RejectCode,
        /// The facts behind the code.
        detail: RejectDetail,
    },
    /// One side of a match. Both sides share the `exec_id`; continuous trading reports
    /// the incoming order first, an auction the buy side first; a [`Event::Trade`] follows.
    Executed {
        /// The order.
        order_id: OrderId,
        /// Trade id, unique per day, shared with the other side.
        exec_id: ExecId,
        /// Execution price.
        price: Price,
        /// Executed quantity.
        qty: Qty,
        /// Still open after this execution (0: filled, terminal).
        leaves: Qty,
        /// Executed so far, this one included.
        cum: Qty,
        /// Maker, taker or auction.
        liquidity: Liquidity,
    },
    /// The public trade print, after both `Executed`.
    Trade {
        /// The security.
        security: SecurityId,
        /// Trade id.
        exec_id: ExecId,
        /// Price.
        price: Price,
        /// Quantity.
        qty: Qty,
        /// The buy order.
        buy_order_id: OrderId,
        /// The sell order.
        sell_order_id: OrderId,
    },
    /// The order's open quantity was cancelled; terminal.
    Canceled {
        /// The order.
        order_id: OrderId,
        /// What was open.
        canceled_qty: Qty,
        /// Executed in total.
        cum: Qty,
        /// Client request, venue (IOC/FOK/market remainder) or expiry.
        reason: CancelReason,
    },
    /// A cancel was refused; the order is unchanged.
    CancelRejected {
        /// The order named.
        order_id: OrderId,
        /// Why.
        code: RejectCode,
    },
    /// A replace took effect; executions may follow when the new price crosses.
    Replaced {
        /// The order.
        order_id: OrderId,
        /// New price.
        price: Price,
        /// New total quantity.
        qty: Qty,
        /// New open quantity (`qty - cum`).
        leaves: Qty,
        /// True when the order kept its place in the queue (same price, quantity not up).
        priority_kept: bool,
    },
    /// A replace was refused; the order is unchanged.
    ReplaceRejected {
        /// The order named.
        order_id: OrderId,
        /// Why.
        code: RejectCode,
    },
    /// A phase change, halt or resume.
    Phase {
        /// The instrument; `None` for every instrument.
        security: Option<SecurityId>,
        /// The phase now in force.
        phase: TradingPhase,
        /// What happened.
        kind: PhaseEventKind,
    },
    /// A market-data event (only with [`crate::ExchangeConfig::market_data`] on).
    Market(MarketEvent),
}

/// One market-data event: sequenced per channel, stamped with the venue time of
/// the call that caused it. See `docs/marketdata.md` and [`crate::feed`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MarketEvent {
    /// The channel ([`protocol::marketdata::channel_of`] of the security).
    pub channel: u16,
    /// The channel's sequence number: 1 for its first event of the session, then
    /// every event one more, across the whole day.
    pub seq: u64,
    /// The channel sequence of the security's previous event (0: none this session),
    /// so that a subscriber to one security finds its gaps in a channel's sequence.
    pub prev_seq: u64,
    /// The security.
    pub security: SecurityId,
    /// Venue time of the call that caused it, nanoseconds since the Unix epoch.
    pub time_ns: u64,
    /// What happened.
    pub kind: MarketEventKind,
}

/// What a [`MarketEvent`] reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MarketEventKind {
    /// A price level's new totals after an operation: added when the receiver has no
    /// level at the price, removed when `qty` is 0 (then `orders` is 0 too).
    Level {
        /// Bid or ask.
        side: Side,
        /// The level's price.
        price: Price,
        /// Open quantity now at the price.
        qty: Qty,
        /// Orders now at the price.
        orders: u32,
    },
    /// A trade, tick by tick. Both orders' open quantities fall by `qty`; an order
    /// whose open quantity reaches 0 leaves the book with no further event.
    Trade {
        /// Trade id (shared with the order events).
        exec_id: ExecId,
        /// Price.
        price: Price,
        /// Quantity.
        qty: Qty,
        /// The buy order.
        buy_order_id: OrderId,
        /// The sell order.
        sell_order_id: OrderId,
        /// The incoming order's side; `None` for a call-auction uncross.
        aggressor: Option<Side>,
    },
    /// An order came to rest in the book (its remainder after it traded on entry).
    OrderAdded {
        /// The order.
        order_id: OrderId,
        /// Its side.
        side: Side,
        /// Its price.
        price: Price,
        /// Its open quantity.
        qty: Qty,
    },
    /// A resting order's open quantity was lowered in place (priority kept).
    OrderReduced {
        /// The order.
        order_id: OrderId,
        /// Its open quantity now.
        qty: Qty,
    },
    /// A resting order left the book other than by trading: cancelled, expired, or
    /// moved by a replace (an `OrderAdded` follows when it rests again).
    OrderRemoved {
        /// The order.
        order_id: OrderId,
    },
    /// The instrument's phase in force (`Halted` while halted).
    Phase {
        /// The phase.
        phase: TradingPhase,
        /// Scheduled or manual change, halt, or resume.
        kind: PhaseEventKind,
    },
    /// The call-auction result the book would give now, whenever it changes during
    /// a call auction; `None` when there is none (nothing crosses, or the auction ended).
    Indicative(Option<Uncross>),
}

/// One aggregated price level.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Level {
    /// Price.
    pub price: Price,
    /// Open quantity at the price.
    pub qty: Qty,
    /// Number of orders at the price.
    pub orders: u32,
}

/// Top of book and the day's trading so far.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct L1 {
    /// Best bid.
    pub bid: Option<Level>,
    /// Best ask.
    pub ask: Option<Level>,
    /// Last trade price, else the previous close.
    pub last: Price,
    /// Shares traded today.
    pub volume: Qty,
    /// Value traded today, in 1/10000 CNY.
    pub turnover: i64,
    /// Trades today.
    pub trades: u64,
    /// The phase in force.
    pub phase: TradingPhase,
}

/// An indicative or final call-auction result.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Uncross {
    /// The single price every crossed order trades at.
    pub price: Price,
    /// Shares matched.
    pub qty: Qty,
    /// `|buy volume at or above - sell volume at or below|` at that price.
    pub imbalance: u64,
}

/// One instrument's market-data snapshot ([`crate::Exchange::market_snapshot`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MarketSnapshot {
    /// Its channel.
    pub channel: u16,
    /// The channel sequence the snapshot reflects (0: nothing published yet).
    pub seq: u64,
    /// The sequence of the security's last event (at most `seq`; 0: none yet): the
    /// `prev_seq` its next event will carry.
    pub security_seq: u64,
    /// Top of book, last price, volume, turnover, phase.
    pub l1: L1,
    /// Bid levels written into the caller's buffer.
    pub bid_levels: usize,
    /// Ask levels written into the caller's buffer.
    pub ask_levels: usize,
    /// The indicative uncross published last (call auctions).
    pub indicative: Option<Uncross>,
}
