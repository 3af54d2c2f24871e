//! The contract between the venue logic ([`crate::Exchange`]) and an order-book
//! implementation: the fast books in [`crate::book`] and the naive oracle in
//! [`crate::reference`] implement it, and one test suite holds them equal.
//!
//! The exchange validates everything (phase, tick, lot, limits, cage, capacity,
//! self-trade prevention) before it calls a matcher, so a matcher only keeps books
//! and matches; its preconditions are stated on each method and a broken one is a bug.

use crate::config::ConfigError;
use crate::event::{Event, Level, Uncross};
use protocol::{ExecId, Liquidity, OrderId, Price, Qty, SecurityId, Side};

/// The price array of one instrument's book, and the overflow levels beyond it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BookSpec {
    /// The security.
    pub security: SecurityId,
    /// Lowest price of the array (on tick).
    pub lower: Price,
    /// Highest price of the array (on tick).
    pub upper: Price,
    /// Tick.
    pub tick: Price,
    /// Price levels per side outside the array (0 when the daily limits bound the
    /// book); an order can rest outside the array only at an occupied level or while
    /// one of these is free.
    pub overflow_levels: u32,
}

impl BookSpec {
    /// Number of price levels per side.
    pub const fn levels(&self) -> u64 {
        ((self.upper.0 - self.lower.0) / self.tick.0) as u64 + 1
    }
}

/// An order that passed validation and is about to match and perhaps rest.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Incoming {
    /// Its id (not live in the book).
    pub order_id: OrderId,
    /// Owner.
    pub owner: u32,
    /// Side.
    pub side: Side,
    /// The worst price it may trade at, and the price it rests at; inside the book's array.
    pub price: Price,
    /// How many opposite price levels it may trade at (`u32::MAX`: no limit).
    pub max_levels: u32,
    /// Quantity (positive).
    pub qty: Qty,
    /// The remainder rests (Day) rather than being cancelled by the venue (IOC).
    pub rests: bool,
    /// Best-5-then-limit: the remainder rests at the order's last trade price instead
    /// of at `price`, or at `own_best` when nothing traded (cancelled when that is `None`).
    pub to_limit: bool,
    /// The best price on the order's own side at entry (capped by a protective price),
    /// where a best-5-then-limit order that did not trade rests.
    pub own_best: Option<Price>,
    /// A market order priced by the venue; it cannot be replaced.
    pub is_market: bool,
    /// Match on entry; false in a call auction, where it only rests.
    pub matches: bool,
}

impl Incoming {
    /// Where the remainder rests once the order has matched `cum` shares, given the
    /// instrument's last trade price; `None`: the venue cancels it.
    #[inline]
    pub fn rest_price(&self, cum: u64, last_trade: Option<Price>) -> Option<Price> {
        match (self.rests, self.to_limit) {
            (false, _) => None,
            (true, false) => Some(self.price),
            // A trade of this order set the last price just now.
            (true, true) if cum > 0 => last_trade,
            (true, true) => self.own_best,
        }
    }
}

/// A resting order as the book holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderInfo {
    /// Its id.
    pub order_id: OrderId,
    /// Index of its instrument in the configuration.
    pub inst: usize,
    /// Owner.
    pub owner: u32,
    /// Side.
    pub side: Side,
    /// Resting price.
    pub price: Price,
    /// Total quantity.
    pub qty: Qty,
    /// Open quantity.
    pub leaves: Qty,
    /// Executed quantity.
    pub cum: Qty,
    /// A market order priced by the venue.
    pub is_market: bool,
}

/// The day's trading in one instrument.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct MarketStats {
    /// Last trade price.
    pub last: Option<Price>,
    /// Shares traded.
    pub volume: u64,
    /// Value traded, 1/10000 CNY.
    pub turnover: i64,
    /// Trades.
    pub trades: u64,
}

/// Where a matcher records trades: the venue-wide trade-id counter and the
/// instrument's statistics.
#[derive(Debug)]
pub struct Fills<'a> {
    /// The instrument.
    pub security: SecurityId,
    /// The next trade id to hand out.
    pub next_exec_id: &'a mut ExecId,
    /// The instrument's statistics.
    pub stats: &'a mut MarketStats,
}

impl Fills<'_> {
    /// Records one trade and returns its id.
    #[inline]
    pub fn record(&mut self, price: Price, qty: u64) -> ExecId {
        let id = *self.next_exec_id;
        *self.next_exec_id += 1;
        self.stats.last = Some(price);
        self.stats.volume += qty;
        self.stats.turnover =
            self.stats.turnover.saturating_add(price.0.saturating_mul(qty as i64));
        self.stats.trades += 1;
        id
    }
}

/// One side of a match, for [`emit_match`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FillSide {
    /// The order.
    pub order_id: OrderId,
    /// Open after the match.
    pub leaves: u64,
    /// Executed after the match.
    pub cum: u64,
    /// Maker, taker or auction.
    pub liquidity: Liquidity,
}

/// Records a trade and reports it: `Executed` for `first`, `Executed` for `second`,
/// then the `Trade` print. `first_side` is the side of `first`.
#[inline]
pub fn emit_match<S: FnMut(Event)>(
    fills: &mut Fills<'_>,
    price: Price,
    qty: u64,
    first_side: Side,
    first: FillSide,
    second: FillSide,
    sink: &mut S,
) {
    debug_assert!(qty > 0, "a match moves shares");
    let exec_id = fills.record(price, qty);
    for f in [first, second] {
        sink(Event::Executed {
            order_id: f.order_id,
            exec_id,
            price,
            qty: Qty(qty),
            leaves: Qty(f.leaves),
            cum: Qty(f.cum),
            liquidity: f.liquidity,
        });
    }
    let (buy_order_id, sell_order_id) = match first_side {
        Side::Buy => (first.order_id, second.order_id),
        Side::Sell => (second.order_id, first.order_id),
    };
    sink(Event::Trade {
        security: fills.security,
        exec_id,
        price,
        qty: Qty(qty),
        buy_order_id,
        sell_order_id,
    });
}

/// True when a buy at `buy` and a sell at `sell` cross.
#[inline]
pub const fn crosses(side: Side, limit: Price, resting: Price) -> bool {
    match side {
        Side::Buy => resting.0 <= limit.0,
        Side::Sell => resting.0 >= limit.0,
    }
}

/// The call-auction price rule, shared by every matcher so they agree by construction.
///
/// Candidates are every tick from the lowest sell price to the highest buy price.
/// The winner maximises matched volume; then minimises the imbalance
/// `|buy volume at or above - sell volume at or below|`; then is nearest the
/// reference price (last trade, else previous close); a candidate still tied
/// (equally far above and below the reference) is broken to the higher price.
pub fn auction_better(candidate: Uncross, best: Option<Uncross>, reference: Price) -> bool {
    let Some(best) = best else { return true };
    if candidate.qty != best.qty {
        return candidate.qty > best.qty;
    }
    if candidate.imbalance != best.imbalance {
        return candidate.imbalance < best.imbalance;
    }
    let dc = (candidate.price.0 - reference.0).unsigned_abs();
    let db = (best.price.0 - reference.0).unsigned_abs();
    if dc != db {
        return dc < db;
    }
    candidate.price > best.price
}

/// A set of order books, one per instrument, with one shared order pool.
pub trait Matcher: Sized + core::fmt::Debug {
    /// Where a live order is, valid until the book next changes.
    type Handle: Copy + core::fmt::Debug;

    /// Builds empty books; `max_orders` bounds the resting orders of all books together.
    fn build(books: &[BookSpec], max_orders: usize) -> Result<Self, ConfigError>;

    /// Resting orders that can still be added.
    fn free_slots(&self) -> usize;

    /// The live order with this id.
    fn find(&self, order_id: OrderId) -> Option<Self::Handle>;

    /// The order behind a handle.
    fn info(&self, handle: Self::Handle) -> OrderInfo;

    /// The best level on one side.
    fn best(&self, inst: usize, side: Side) -> Option<Level>;

    /// True when an order of `owner` on `side` limited to `limit` and `max_levels`
    /// would trade against a resting order of the same owner within its first `qty`
    /// shares of matching (`u64::MAX`: anything it could reach).
    fn self_trade(
        &self,
        inst: usize,
        owner: u32,
        side: Side,
        limit: Price,
        max_levels: u32,
        qty: u64,
    ) -> bool;

    /// True when an order on `side` can rest at `price` (positive, on tick): inside
    /// the price array, at an occupied level, or with an overflow level free.
    fn can_rest(&self, inst: usize, side: Side, price: Price) -> bool;

    /// Opposite-side quantity an order on `side` could take within `limit` and
    /// `max_levels`, counted up to `want`.
    fn available(&self, inst: usize, side: Side, limit: Price, max_levels: u32, want: u64) -> u64;

    /// Matches `order` (when `order.matches`), then rests the remainder at
    /// [`Incoming::rest_price`] (a free slot is guaranteed by the caller, and a level
    /// for a limit order's price) or cancels it with reason `Venue` (also when a
    /// best-5-then-limit remainder finds no level: [`Matcher::can_rest`]).
    /// The caller has already emitted `Accepted`.
    fn submit<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        order: &Incoming,
        fills: &mut Fills<'_>,
        sink: &mut S,
    );

    /// Lowers the order's total quantity to `qty` (`cum < qty <= current qty`) in place,
    /// keeping its time priority.
    fn reduce(&mut self, handle: Self::Handle, qty: u64);

    /// Moves the order to `price` with total `qty` (`qty > cum`) at the back of the
    /// queue; when `matches`, it first trades as an incoming order. The caller has
    /// already emitted `Replaced`.
    fn reprice<S: FnMut(Event)>(
        &mut self,
        handle: Self::Handle,
        price: Price,
        qty: u64,
        matches: bool,
        fills: &mut Fills<'_>,
        sink: &mut S,
    );

    /// Removes the order and returns it as it was.
    fn remove(&mut self, handle: Self::Handle) -> OrderInfo;

    /// The call-auction result the book would give now (see [`auction_better`]).
    fn indicative(&self, inst: usize, reference: Price) -> Option<Uncross>;

    /// Runs the call auction: every crossed order trades at the single price, in
    /// price-time priority, with `Liquidity::Auction`.
    fn uncross<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        reference: Price,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) -> Option<Uncross>;

    /// Cancels every resting order of the instrument with `reason`, bids then asks,
    /// each in priority order.
    fn cancel_all<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        reason: protocol::CancelReason,
        sink: &mut S,
    );

    /// The level at `price` (on tick) on one side; `qty` and `orders` are 0 when no
    /// order rests there.
    fn level_at(&self, inst: usize, side: Side, price: Price) -> Level;

    /// Writes the best levels of one side into `out`; returns how many.
    fn depth(&self, inst: usize, side: Side, out: &mut [Level]) -> usize;

    /// Checks every internal invariant.
    fn validate(&self) -> Result<(), String>;
}
