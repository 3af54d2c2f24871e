//! Helpers shared by the integration tests: a standard instrument, order builders,
//! and a venue wrapper that collects each call's events and validates after it.
#![allow(dead_code)]

pub mod feed_model;

use protocol::{
    Board, Market, OrderId, OrderType, Price, Qty, SecurityId, Side, TimeInForce, TradingPhase,
};
use sim_exchange::{
    Event, Exchange, ExchangeConfig, InstrumentSpec, Level, Matcher, Schedule, VenueOrder,
};

/// 600000.SH, previous close 10.00: limits 9.00-11.00, cage 2% or 10 ticks.
pub const SEC: SecurityId = SecurityId { market: Market::Sse, code: 600_000 };
/// 000001.SZ, a second instrument.
pub const SEC2: SecurityId = SecurityId { market: Market::Szse, code: 1 };
/// Not listed.
pub const UNLISTED: SecurityId = SecurityId { market: Market::Sse, code: 999_999 };

/// Beijing.
pub const BEIJING: i32 = 8 * 3600;

/// Every phase a random operation sequence may set.
pub const PHASES: [TradingPhase; 7] = [
    TradingPhase::Continuous,
    TradingPhase::OpeningAuction,
    TradingPhase::OpeningAuctionNoCancel,
    TradingPhase::ClosingAuction,
    TradingPhase::PreContinuous,
    TradingPhase::Break,
    TradingPhase::Closed,
];
/// 2024-10-08 00:00 Beijing, in ns since the epoch.
pub const DAY0_NS: u64 = 1_728_316_800 * 1_000_000_000;

/// Local time `h:m:s` on the test day, in ns.
pub fn at(h: u64, m: u64, s: u64) -> u64 {
    DAY0_NS + ((h * 3600 + m * 60 + s) * 1_000_000_000)
}

/// A price from text (CNY).
pub fn p(text: &str) -> Price {
    Price::parse_cny(text).expect("a valid CNY amount")
}

/// The standard instrument on its market's main board, with the cage switched off
/// unless a test turns it on.
pub fn spec(security: SecurityId, prev_close: &str) -> InstrumentSpec {
    let board = match security.market {
        Market::Sse => Board::SseMain,
        Market::Szse => Board::SzseMain,
        Market::Bse => Board::Bse,
    };
    let mut s = InstrumentSpec::new(security, board, p(prev_close));
    s.rules.cage = None;
    s
}

/// A configuration around `instruments`.
pub fn config(instruments: Vec<InstrumentSpec>, schedule: Schedule) -> ExchangeConfig {
    ExchangeConfig {
        instruments,
        max_orders: 1_000,
        max_levels_per_side: 2_000,
        overflow_levels_per_side: 64,
        inbound_queue_capacity: 64,
        self_trade_prevention: false,
        schedule,
        holidays: Vec::new(),
        // The simulator extension on, so that the IOC and FOK limit paths stay covered
        // (`venue.rs` checks the default, off).
        limit_ioc_fok: true,
        market_data: false,
    }
}

/// A limit order.
pub fn limit(id: OrderId, side: Side, price: &str, qty: u64) -> VenueOrder {
    VenueOrder {
        order_id: id,
        owner: 1,
        security: SEC,
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: p(price),
        qty: Qty(qty),
    }
}

/// A limit order with a time in force.
pub fn limit_tif(id: OrderId, side: Side, price: &str, qty: u64, tif: TimeInForce) -> VenueOrder {
    VenueOrder { tif, ..limit(id, side, price, qty) }
}

/// `o` on `security`.
pub fn on(security: SecurityId, o: VenueOrder) -> VenueOrder {
    VenueOrder { security, ..o }
}

/// A market order of `order_type` with its implied time in force.
pub fn market(id: OrderId, side: Side, order_type: OrderType, qty: u64) -> VenueOrder {
    VenueOrder {
        order_id: id,
        owner: 1,
        security: SEC,
        side,
        order_type,
        tif: order_type.implied_tif().expect("a market type"),
        price: Price::ZERO,
        qty: Qty(qty),
    }
}

/// `(price, qty)` per level, best first.
pub type Sides = Vec<(Price, u64)>;

/// An exchange plus a clock, returning each call's events and validating after each.
pub struct Venue<M: Matcher> {
    /// The exchange.
    pub ex: Exchange<M>,
    /// The time given to the next call.
    pub now: u64,
}

impl<M: Matcher> Venue<M> {
    /// A venue on `cfg`, starting at `now`.
    pub fn new(cfg: ExchangeConfig, now: u64) -> Venue<M> {
        Venue { ex: Exchange::with_matcher(cfg).expect("a valid config"), now }
    }

    /// The standard single-instrument continuous venue.
    pub fn continuous() -> Venue<M> {
        Venue::continuous_on(SEC)
    }

    /// The standard continuous venue listing `security` alone, previous close 10.00.
    pub fn continuous_on(security: SecurityId) -> Venue<M> {
        Venue::new(config(vec![spec(security, "10.00")], Schedule::AlwaysContinuous), 1)
    }

    fn run(&mut self, f: impl FnOnce(&mut Exchange<M>, u64, &mut dyn FnMut(Event))) -> Vec<Event> {
        let mut events = Vec::new();
        f(&mut self.ex, self.now, &mut |e| events.push(e));
        if let Err(e) = self.ex.validate() {
            panic!("invariant broken: {e}\nevents: {events:#?}");
        }
        events
    }

    /// Submits an order.
    pub fn submit(&mut self, o: VenueOrder) -> Vec<Event> {
        self.run(|ex, now, sink| ex.submit(&o, now, &mut |e| sink(e)))
    }

    /// Cancels an order.
    pub fn cancel(&mut self, id: OrderId) -> Vec<Event> {
        self.run(|ex, now, sink| ex.cancel(id, now, &mut |e| sink(e)))
    }

    /// Replaces an order.
    pub fn replace(&mut self, id: OrderId, price: &str, qty: u64) -> Vec<Event> {
        let price = p(price);
        self.run(|ex, now, sink| ex.replace(id, price, Qty(qty), now, &mut |e| sink(e)))
    }

    /// Advances the clock to `now` and runs what is due.
    pub fn advance(&mut self, now: u64) -> Vec<Event> {
        self.now = now;
        self.run(|ex, now, sink| ex.advance(now, &mut |e| sink(e)))
    }

    /// Sets a phase by hand.
    pub fn set_phase(&mut self, security: Option<SecurityId>, phase: TradingPhase) -> Vec<Event> {
        self.run(|ex, now, sink| ex.set_phase(security, phase, now, &mut |e| sink(e)))
    }

    /// Halts.
    pub fn halt(&mut self, security: Option<SecurityId>) -> Vec<Event> {
        self.run(|ex, now, sink| ex.halt(security, now, &mut |e| sink(e)))
    }

    /// Resumes.
    pub fn resume(&mut self, security: Option<SecurityId>) -> Vec<Event> {
        self.run(|ex, now, sink| ex.resume(security, now, &mut |e| sink(e)))
    }

    /// Resumes through a call auction of `auction_ns`.
    pub fn resume_with_auction(
        &mut self,
        security: Option<SecurityId>,
        auction_ns: u64,
    ) -> Vec<Event> {
        self.run(|ex, now, sink| {
            ex.resume_with_auction(security, auction_ns, now, &mut |e| sink(e))
        })
    }

    /// Ends the day.
    pub fn end_of_day(&mut self) -> Vec<Event> {
        self.run(|ex, now, sink| ex.end_of_day(now, &mut |e| sink(e)))
    }

    /// Up to 10 levels per side of `security`.
    pub fn l2(&self, security: SecurityId) -> (Vec<Level>, Vec<Level>) {
        let mut bids = [Level::default(); 10];
        let mut asks = [Level::default(); 10];
        let (nb, na) = self.ex.l2(security, &mut bids, &mut asks).expect("a listed security");
        (bids[..nb].to_vec(), asks[..na].to_vec())
    }

    /// `(price, qty)` per level of both sides of SEC, for compact assertions.
    pub fn book(&self) -> (Sides, Sides) {
        self.book_of(SEC)
    }

    /// `(price, qty)` per level of both sides of `security`.
    pub fn book_of(&self, security: SecurityId) -> (Sides, Sides) {
        let (b, a) = self.l2(security);
        (
            b.iter().map(|l| (l.price, l.qty.0)).collect(),
            a.iter().map(|l| (l.price, l.qty.0)).collect(),
        )
    }
}
