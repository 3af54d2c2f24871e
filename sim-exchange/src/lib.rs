//! A pure, deterministic A-share matching engine.
//!
//! No I/O and no clock: every call takes `now_ns` (nanoseconds since the Unix
//! epoch), so tests run on virtual time and a journal replays exactly. Events are
//! delivered synchronously through the caller's sink in a deterministic order.
//!
//! * [`Exchange`]: the venue — validation with typed `VENUE_*` reject codes, trading
//!   phases (an A-share day schedule or manual control), halts and reopening
//!   auctions, the inbound queue with fault injection (paused matching, late
//!   acknowledgements), market data.
//! * [`book::FastMatcher`]: the books — price levels in a directly indexed array
//!   (the daily price limits bound most books), a bitset to find the next level, a
//!   preallocated pool of overflow levels sorted by price for a book without limits,
//!   and intrusive order queues in a preallocated pool; nothing allocates per order.
//! * [`reference::ReferenceMatcher`]: the slow, obviously correct twin the property
//!   tests compare the fast books with.
//! * [`feed`]: the market-data feed (with [`ExchangeConfig::market_data`]): level,
//!   trade, order, phase and indicative-uncross events as [`Event::Market`],
//!   sequenced per channel, and [`Exchange::market_snapshot`] stamped with the
//!   sequence it reflects; `docs/marketdata.md` is its contract.
//! * [`Exchange::snapshot_to`] and [`Exchange::restore_from`]: the whole venue state
//!   to a byte stream and back, for recovery without replaying the whole day.
//!
//! Memory is committed at start-up from [`ExchangeConfig`]: the order pool and the
//! id index (`max_orders`), one price array per instrument and side (its band's
//! width in ticks) with, for an instrument without limits, its overflow levels
//! (`overflow_levels_per_side`), and the inbound queue (`inbound_queue_capacity`). Events stream
//! straight to the sink, so there is no event buffer. When a pool is full the
//! operation is refused with `VENUE_CAPACITY`; nothing ever grows.
//!
//! Orders, in continuous trading (`DOMAIN.md`):
//! * limit Day rests. Limit orders are day orders on SSE and SZSE: IOC and FOK limit
//!   orders are refused (`VENUE_DAY_ORDERS_ONLY`) unless
//!   [`ExchangeConfig::limit_ioc_fok`] turns on the simulator extension, where limit
//!   IOC cancels its remainder and limit FOK fills whole or is cancelled whole
//!   (Accepted, then Canceled with no executions);
//! * each exchange offers its own market order types
//!   ([`protocol::rules::offers_order_type`]; `VENUE_ORDER_TYPE_NOT_OFFERED`);
//! * market best-own is priced at the best price on its own side and rests there;
//!   best-counter is priced at the best opposite price, trades at that level only and
//!   rests the remainder there (both refused `VENUE_NO_LIQUIDITY` on an empty side);
//!   best-5 trades through at most five opposite levels, IOC sweeps within the daily
//!   limits, FOK fills whole within the limits or not at all; their remainders are
//!   `Canceled` with reason `Venue` (with no executions when the opposite side is empty);
//!   best-5-then-limit (SSE) trades like best-5 and rests its remainder at its last
//!   trade price, or at its own side's best price when it did not trade (cancelled
//!   when that side is empty);
//! * STAR market orders carry a protective price: they trade and rest no worse than
//!   it, and what would go beyond it is cancelled or rests as the type says;
//! * call auctions take day limit orders only; the uncross rule is documented on
//!   [`matcher::auction_better`].
//!
//! Self-trade prevention refuses an incoming order (or a replace that moves price)
//! that would trade against a resting order of the same owner within the quantity it
//! would actually match; the auction uncross does not apply it.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod bits;
pub mod book;
pub mod config;
mod div;
pub mod event;
mod exchange;
pub mod feed;
mod index;
pub mod matcher;
pub mod reference;
pub mod schedule;

pub use book::FastMatcher;
pub use config::{ConfigError, ExchangeConfig, InstrumentSpec, Schedule};
pub use event::{
    Event, L1, Level, MarketEvent, MarketEventKind, MarketSnapshot, PhaseEventKind, Uncross,
    VenueOrder,
};
pub use exchange::Exchange;
pub use exchange::snapshot::SnapshotError;
pub use matcher::Matcher;
