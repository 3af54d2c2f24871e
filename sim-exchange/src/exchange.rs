//! The venue: validation, trading phases, the inbound queue and fault injection,
//! in front of a [`Matcher`] that keeps the books.

use std::collections::VecDeque;

use crate::book::FastMatcher;
use crate::config::{ConfigError, ExchangeConfig, InstrumentSpec, Schedule};
use crate::div::Divisor;
use crate::event::{
    Event, L1, Level, MarketEventKind, MarketSnapshot, PhaseEventKind, Uncross, VenueOrder,
};
use crate::feed::{Feed, Tap};
use crate::matcher::{BookSpec, Fills, Incoming, MarketStats, Matcher, OrderInfo};
use crate::schedule::{self, is_auction, is_queueing};

pub(crate) mod snapshot;
use protocol::rules::{
    PriceBand, cage_band, daily_price_band, needs_protective_price, offers_order_type, on_tick,
};
use protocol::{
    CancelReason, ExecId, OrderId, OrderType, Price, Qty, RejectCode, RejectDetail, SecurityId,
    Side, TimeInForce, TradingPhase,
};

const NO_INST: u32 = u32::MAX;
/// The highest price an instrument without daily limits may carry: CNY 100,000,000
/// a share, where a price times the largest quantity per order still fits an i64.
const PRICE_MAX: i64 = 1_000_000_000_000;
const NEVER: u64 = u64::MAX;

/// One instrument's venue state.
#[derive(Clone, Debug)]
struct Instrument {
    spec: InstrumentSpec,
    /// Prices an order may carry: the daily limits, or every positive price on the
    /// tick for an instrument without limits.
    band: PriceBand,
    /// The phase without a halt.
    phase: TradingPhase,
    halted: bool,
    /// End of a reopening call auction, `NEVER` when none runs.
    reopen_at_ns: u64,
    stats: MarketStats,
    /// The tick and the lot step as multiplies (see [`Divisor`]).
    tick_div: Divisor,
    lot_step_div: Option<Divisor>,
}

impl Instrument {
    /// `rules::on_tick`, without a hardware divide.
    #[inline]
    fn on_tick(&self, price: Price) -> bool {
        let fast = price.0 > 0 && self.tick_div.div_rem(price.0 as u64).1 == 0;
        debug_assert_eq!(fast, on_tick(price, self.spec.rules.tick));
        fast
    }

    /// `LotRule::buy_ok` / `venue_sell_ok`, without a hardware divide.
    #[inline]
    fn lot_ok(&self, side: Side, qty: u64) -> bool {
        let lot = &self.spec.rules.lot;
        let buy_ok = match self.lot_step_div {
            Some(div) => qty >= lot.min_qty && div.div_rem(qty - lot.min_qty).1 == 0,
            None => lot.buy_ok(qty),
        };
        let ok = match side {
            Side::Buy => buy_ok,
            Side::Sell => lot.venue_sell_ok(qty),
        };
        debug_assert_eq!(
            ok,
            if side == Side::Buy { lot.buy_ok(qty) } else { lot.venue_sell_ok(qty) }
        );
        ok
    }

    fn effective_phase(&self) -> TradingPhase {
        if self.halted { TradingPhase::Halted } else { self.phase }
    }

    fn last_price(&self) -> Price {
        self.stats.last.unwrap_or(self.spec.prev_close)
    }
}

/// An operation that waits in the inbound queue.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
enum Op {
    Submit(VenueOrder),
    Cancel(OrderId),
    Replace { order_id: OrderId, price: Price, qty: Qty },
}

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Pending {
    op: Op,
    /// The instrument it concerns when known at arrival (`NO_INST` otherwise); the
    /// queue waits while that instrument is in a queueing phase.
    inst: u32,
    /// Not processed before this time (arrival plus the acknowledgement delay).
    release_ns: u64,
}

type Refusal = (RejectCode, RejectDetail);

/// The simulated A-share venue. `M` is the book implementation: [`FastMatcher`]
/// in production, [`crate::reference::ReferenceMatcher`] as the test oracle.
///
/// Pure and deterministic: no I/O and no clock. Each call takes `now_ns` and first
/// catches up with everything due by then (scheduled phase changes, auction
/// uncrosses, the end of a reopening auction, released queued operations), exactly
/// as [`Exchange::advance`] would, then does its own work. Events go to `sink` in order.
#[derive(Debug)]
pub struct Exchange<M: Matcher = FastMatcher> {
    instruments: Vec<Instrument>,
    /// (market << 32 | code, instrument index), sorted.
    lookup: Vec<(u64, u32)>,
    matcher: M,
    queue: VecDeque<Pending>,
    queue_capacity: usize,
    pause_until_ns: u64,
    ack_delay_ns: u64,
    last_release_ns: u64,
    schedule: Schedule,
    /// Next scheduled boundary under `Schedule::AShare`, once time has been seen.
    next_boundary: Option<(u64, TradingPhase)>,
    next_reopen_ns: u64,
    next_exec_id: ExecId,
    self_trade_prevention: bool,
    /// Simulator extension: IOC and FOK limit orders are taken.
    limit_ioc_fok: bool,
    /// Exchange holidays as sorted local day numbers (days since 1970-01-01).
    holidays: Vec<i64>,
    /// The same, as configured (`yyyymmdd`), for snapshots.
    holiday_dates: Vec<u32>,
    max_orders: usize,
    /// From the configuration, kept so that a snapshot can rebuild the price arrays.
    max_levels_per_side: usize,
    overflow_levels_per_side: usize,
    /// The market-data feed (see [`crate::feed`]).
    feed: Feed,
}

fn security_key(s: SecurityId) -> u64 {
    (u64::from(s.market.as_u8()) << 32) | u64::from(s.code)
}

fn refuse<T>(code: RejectCode, detail: RejectDetail) -> Result<T, Refusal> {
    Err((code, detail))
}

impl Exchange<FastMatcher> {
    /// An exchange on the fast books.
    pub fn new(cfg: ExchangeConfig) -> Result<Exchange, ConfigError> {
        Exchange::with_matcher(cfg)
    }

    /// Bytes held by the books, the order pool and the id index (all sized at start-up).
    pub fn memory_bytes(&self) -> usize {
        self.matcher.memory_bytes()
            + self.queue.capacity() * size_of::<Pending>()
            + self.feed.memory_bytes()
    }
}

impl<M: Matcher> Exchange<M> {
    /// An exchange on any [`Matcher`].
    pub fn with_matcher(cfg: ExchangeConfig) -> Result<Self, ConfigError> {
        if cfg.instruments.len() >= NO_INST as usize {
            return Err(ConfigError::TooManyInstruments);
        }
        let mut instruments = Vec::with_capacity(cfg.instruments.len());
        let mut books = Vec::with_capacity(cfg.instruments.len());
        let mut lookup = Vec::with_capacity(cfg.instruments.len());
        let initial = match cfg.schedule {
            Schedule::AlwaysContinuous => TradingPhase::Continuous,
            Schedule::AShare { .. } => TradingPhase::Closed,
        };
        for (i, spec) in cfg.instruments.iter().enumerate() {
            let (band, array) = price_array(spec, cfg.max_levels_per_side)?;
            let unlimited = band != array;
            let overflow = if unlimited { cfg.overflow_levels_per_side } else { 0 };
            books.push(BookSpec {
                security: spec.security,
                lower: array.lower,
                upper: array.upper,
                tick: spec.rules.tick,
                overflow_levels: u32::try_from(overflow)
                    .ok()
                    .filter(|&n| n <= u32::MAX / 4)
                    .ok_or(ConfigError::BadLevelCount {
                        security: spec.security,
                        levels: overflow as u64,
                        max: u64::from(u32::MAX / 4),
                    })?,
            });
            lookup.push((security_key(spec.security), i as u32));
            instruments.push(Instrument {
                spec: *spec,
                band,
                phase: initial,
                halted: false,
                reopen_at_ns: NEVER,
                stats: MarketStats::default(),
                tick_div: Divisor::new(spec.rules.tick.0 as u64),
                lot_step_div: (spec.rules.lot.step > 0).then(|| Divisor::new(spec.rules.lot.step)),
            });
        }
        lookup.sort_unstable();
        let holidays = schedule::holiday_days(&cfg.holidays)?;
        if let Some(w) = lookup.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(ConfigError::DuplicateSecurity(instruments[w[0].1 as usize].spec.security));
        }
        let levels_per_side_max =
            books.iter().map(|b| b.levels() as usize + b.overflow_levels as usize).max();
        let securities: Vec<SecurityId> = instruments.iter().map(|i| i.spec.security).collect();
        let feed = Feed::new(cfg.market_data, &securities, levels_per_side_max.unwrap_or(0));
        Ok(Exchange {
            feed,
            instruments,
            lookup,
            matcher: M::build(&books, cfg.max_orders)?,
            queue: VecDeque::with_capacity(cfg.inbound_queue_capacity),
            queue_capacity: cfg.inbound_queue_capacity,
            pause_until_ns: 0,
            ack_delay_ns: 0,
            last_release_ns: 0,
            schedule: cfg.schedule,
            next_boundary: None,
            next_reopen_ns: NEVER,
            next_exec_id: 1,
            self_trade_prevention: cfg.self_trade_prevention,
            limit_ioc_fok: cfg.limit_ioc_fok,
            holidays,
            holiday_dates: cfg.holidays,
            max_orders: cfg.max_orders,
            max_levels_per_side: cfg.max_levels_per_side,
            overflow_levels_per_side: cfg.overflow_levels_per_side,
        })
    }

    #[inline]
    fn inst_of(&self, security: SecurityId) -> Option<usize> {
        let key = security_key(security);
        if let [(k, i)] = self.lookup.as_slice() {
            return (*k == key).then_some(*i as usize);
        }
        self.lookup
            .binary_search_by_key(&key, |&(k, _)| k)
            .ok()
            .map(|pos| self.lookup[pos].1 as usize)
    }

    // ---------------------------------------------------------------- operations

    /// A new order. Answered by `Accepted` or `Rejected` (now, or when the inbound
    /// queue releases it), then its executions and terminal event.
    pub fn submit(&mut self, o: &VenueOrder, now_ns: u64, sink: &mut impl FnMut(Event)) {
        self.advance(now_ns, sink);
        let inst = self.inst_of(o.security);
        if self.must_queue(inst, now_ns) {
            self.enqueue(Op::Submit(*o), inst, now_ns, sink);
        } else {
            self.process_submit(o, sink);
        }
    }

    /// Cancels an order: `Canceled` (reason `Client`) or `CancelRejected`.
    pub fn cancel(&mut self, order_id: OrderId, now_ns: u64, sink: &mut impl FnMut(Event)) {
        self.advance(now_ns, sink);
        let inst = self.matcher.find(order_id).map(|h| self.matcher.info(h).inst);
        if self.must_queue(inst, now_ns) {
            self.enqueue(Op::Cancel(order_id), inst, now_ns, sink);
        } else {
            self.process_cancel(order_id, sink);
        }
    }

    /// Replaces an order's price and total quantity: `Replaced` (then executions when
    /// the new price crosses in continuous trading) or `ReplaceRejected`.
    pub fn replace(
        &mut self,
        order_id: OrderId,
        price: Price,
        qty: Qty,
        now_ns: u64,
        sink: &mut impl FnMut(Event),
    ) {
        self.advance(now_ns, sink);
        let inst = self.matcher.find(order_id).map(|h| self.matcher.info(h).inst);
        if self.must_queue(inst, now_ns) {
            self.enqueue(Op::Replace { order_id, price, qty }, inst, now_ns, sink);
        } else {
            self.process_replace(order_id, price, qty, sink);
        }
    }

    /// Does everything due by `now_ns`, in time order: scheduled phase changes (with
    /// their uncrosses), the end of reopening auctions, and queued operations whose
    /// release time has come and whose instrument trades continuously again.
    /// At equal times: schedule, then reopenings, then the queue.
    pub fn advance(&mut self, now_ns: u64, sink: &mut impl FnMut(Event)) {
        self.feed.set_time(now_ns);
        self.start_schedule(now_ns, sink);
        loop {
            let boundary = self.next_boundary.map_or(NEVER, |(t, _)| t);
            let queue = self.queue_due_ns();
            let due = boundary.min(self.next_reopen_ns).min(queue);
            if due > now_ns {
                return;
            }
            if due == boundary {
                self.apply_boundary(sink);
            } else if due == self.next_reopen_ns {
                self.end_reopen_auctions(due, sink);
            } else {
                let pending = self.queue.pop_front().expect("a due queue entry");
                match pending.op {
                    Op::Submit(o) => self.process_submit(&o, sink),
                    Op::Cancel(id) => self.process_cancel(id, sink),
                    Op::Replace { order_id, price, qty } => {
                        self.process_replace(order_id, price, qty, sink)
                    }
                }
            }
        }
    }

    /// When [`Exchange::advance`] next has work; `None` when nothing is pending (and,
    /// under `Schedule::AShare`, before the first call that told the engine the time).
    pub fn next_deadline(&self) -> Option<u64> {
        let boundary = self.next_boundary.map_or(NEVER, |(t, _)| t);
        let due = boundary.min(self.next_reopen_ns).min(self.queue_due_ns());
        (due != NEVER).then_some(due)
    }

    // ---------------------------------------------------------------- control

    /// Halts one instrument or all (`None`): new orders and replaces are refused with
    /// `VENUE_HALTED`, cancels still work. An unknown security is ignored.
    pub fn halt(
        &mut self,
        security: Option<SecurityId>,
        now_ns: u64,
        sink: &mut impl FnMut(Event),
    ) {
        self.advance(now_ns, sink);
        let Some(targets) = self.targets(security) else { return };
        for inst in targets {
            let ins = &mut self.instruments[inst];
            ins.halted = true;
            ins.reopen_at_ns = NEVER;
        }
        self.refresh_reopen();
        self.publish_phase(security, TradingPhase::Halted, PhaseEventKind::Halt, sink);
    }

    /// Ends a halt: the instrument goes back to the phase the schedule prescribes now
    /// (`Continuous` under `Schedule::AlwaysContinuous`). A book left crossed by the
    /// halt is uncrossed on its way into continuous trading. Not halted: no effect.
    pub fn resume(
        &mut self,
        security: Option<SecurityId>,
        now_ns: u64,
        sink: &mut impl FnMut(Event),
    ) {
        self.advance(now_ns, sink);
        let Some(targets) = self.targets(security) else { return };
        let phase = self.scheduled_phase(now_ns);
        let mut any = false;
        for inst in targets {
            if self.instruments[inst].halted {
                any = true;
                self.instruments[inst].halted = false;
                self.transition(inst, phase, sink);
            }
        }
        if any {
            self.publish_phase(security, phase, PhaseEventKind::Resume, sink);
        }
        self.advance(now_ns, sink);
    }

    /// Reopens through a call auction (the 2016 circuit-breaker reopen, the 2020 reopen
    /// auction): orders collect for `auction_ns` in `OpeningAuction` (cancels allowed),
    /// then the book uncrosses and each instrument moves to the scheduled phase with a
    /// `PhaseChange` event of its own.
    pub fn resume_with_auction(
        &mut self,
        security: Option<SecurityId>,
        auction_ns: u64,
        now_ns: u64,
        sink: &mut impl FnMut(Event),
    ) {
        self.advance(now_ns, sink);
        let Some(targets) = self.targets(security) else { return };
        let until = now_ns.saturating_add(auction_ns.max(1));
        for inst in targets {
            self.instruments[inst].halted = false;
            self.transition(inst, TradingPhase::OpeningAuction, sink);
            self.instruments[inst].reopen_at_ns = until;
        }
        self.refresh_reopen();
        self.publish_phase(security, TradingPhase::OpeningAuction, PhaseEventKind::Resume, sink);
    }

    /// Sets the phase by hand (tests, load scenarios). Leaving a call auction for a
    /// non-auction phase uncrosses it first; `Halted` is [`Exchange::halt`]. The
    /// schedule takes over again at its next boundary.
    pub fn set_phase(
        &mut self,
        security: Option<SecurityId>,
        phase: TradingPhase,
        now_ns: u64,
        sink: &mut impl FnMut(Event),
    ) {
        if phase == TradingPhase::Halted {
            self.halt(security, now_ns, sink);
            return;
        }
        self.advance(now_ns, sink);
        let Some(targets) = self.targets(security) else { return };
        for inst in targets {
            self.instruments[inst].halted = false;
            self.instruments[inst].reopen_at_ns = NEVER;
            self.transition(inst, phase, sink);
        }
        self.refresh_reopen();
        self.publish_phase(security, phase, PhaseEventKind::PhaseChange, sink);
        self.advance(now_ns, sink);
    }

    /// Fault injection: operations arriving before `until_ns` wait in the inbound queue
    /// and are processed in arrival order at `until_ns`.
    pub fn pause_matching(&mut self, until_ns: u64) {
        self.pause_until_ns = until_ns;
    }

    /// Fault injection (2024-09-27): each operation is processed `delay_ns` after it
    /// arrives, in arrival order, so its acknowledgement and matching are late. 0 turns it off.
    pub fn set_ack_delay(&mut self, delay_ns: u64) {
        self.ack_delay_ns = delay_ns;
    }

    /// Closes the day: queued operations are refused with `VENUE_CLOSED`, every resting
    /// order is `Canceled` with reason `Expired` (instrument by instrument, bids then
    /// asks, each in priority order), halts end and every instrument is in the phase
    /// the schedule prescribes now (`Closed` after 15:00 or on a non-trading day,
    /// `Continuous` under `Schedule::AlwaysContinuous`), so a new day can trade.
    pub fn end_of_day(&mut self, now_ns: u64, sink: &mut impl FnMut(Event)) {
        self.advance(now_ns, sink);
        while let Some(pending) = self.queue.pop_front() {
            let code = RejectCode::VENUE_CLOSED;
            sink(match pending.op {
                Op::Submit(o) => {
                    Event::Rejected { order_id: o.order_id, code, detail: RejectDetail::None }
                }
                Op::Cancel(order_id) => Event::CancelRejected { order_id, code },
                Op::Replace { order_id, .. } => Event::ReplaceRejected { order_id, code },
            });
        }
        let phase = self.scheduled_phase(now_ns);
        for inst in 0..self.instruments.len() {
            let before = self.feed.read_before(inst, &self.matcher);
            let security = self.instruments[inst].spec.security;
            let tap = Tap { inst, aggressor: None, cancels_rest: true };
            let feed = &mut self.feed;
            self.matcher
                .cancel_all(inst, CancelReason::Expired, &mut |e| feed.tap(tap, security, e, sink));
            self.feed.publish_changed(inst, security, before, &self.matcher, sink);
            let ins = &mut self.instruments[inst];
            ins.halted = false;
            ins.reopen_at_ns = NEVER;
            // The books are empty: no uncross is due.
            ins.phase = phase;
        }
        self.refresh_reopen();
        self.publish_phase(None, phase, PhaseEventKind::PhaseChange, sink);
    }

    // ---------------------------------------------------------------- views

    /// The phase in force (`Halted` while halted).
    pub fn phase(&self, security: SecurityId) -> Option<TradingPhase> {
        Some(self.instruments[self.inst_of(security)?].effective_phase())
    }

    /// The price-cage reference: for a buy the best ask, else the best bid, else the
    /// last trade, else the previous close; for a sell the best bid, else the best
    /// ask, else the last trade, else the previous close.
    pub fn reference_price(&self, security: SecurityId, side: Side) -> Option<Price> {
        Some(self.reference_of(self.inst_of(security)?, side))
    }

    /// Last trade, else the previous close.
    pub fn last_price(&self, security: SecurityId) -> Option<Price> {
        Some(self.instruments[self.inst_of(security)?].last_price())
    }

    /// Best bid and ask with their quantities, last price, volume and turnover.
    pub fn l1(&self, security: SecurityId) -> Option<L1> {
        let inst = self.inst_of(security)?;
        let ins = &self.instruments[inst];
        Some(L1 {
            bid: self.matcher.best(inst, Side::Buy),
            ask: self.matcher.best(inst, Side::Sell),
            last: ins.last_price(),
            volume: Qty(ins.stats.volume),
            turnover: ins.stats.turnover,
            trades: ins.stats.trades,
            phase: ins.effective_phase(),
        })
    }

    /// The best `bids.len()` bid levels and `asks.len()` ask levels into the caller's
    /// buffers, best first; returns how many of each were written. No allocation.
    pub fn l2(
        &self,
        security: SecurityId,
        bids: &mut [Level],
        asks: &mut [Level],
    ) -> Option<(usize, usize)> {
        let inst = self.inst_of(security)?;
        Some((
            self.matcher.depth(inst, Side::Buy, bids),
            self.matcher.depth(inst, Side::Sell, asks),
        ))
    }

    /// True when an order of `owner` on `side` at `price` could trade against a
    /// resting order of the same owner (any own order it crosses, whatever the size).
    pub fn would_self_trade(
        &self,
        owner: u32,
        security: SecurityId,
        side: Side,
        price: Price,
    ) -> bool {
        self.inst_of(security).is_some_and(|inst| {
            self.matcher.self_trade(inst, owner, side, price, u32::MAX, u64::MAX)
        })
    }

    /// A market-data snapshot of one instrument: the best `bids.len()` and
    /// `asks.len()` levels into the caller's buffers (best first), top of book and
    /// the day's trading, and the channel sequence it reflects: the book is exactly
    /// the result of every event on the channel up to and including `seq`. No allocation.
    pub fn market_snapshot(
        &self,
        security: SecurityId,
        bids: &mut [Level],
        asks: &mut [Level],
    ) -> Option<MarketSnapshot> {
        let inst = self.inst_of(security)?;
        let (channel, seq) = self.feed.channel_seq(inst);
        let (bid_levels, ask_levels) = self.l2(security, bids, asks)?;
        Some(MarketSnapshot {
            channel,
            seq,
            security_seq: self.feed.security_seq(inst),
            l1: self.l1(security)?,
            bid_levels,
            ask_levels,
            indicative: self.feed.indicative(inst),
        })
    }

    /// The call-auction result the book would give now (meaningful in auction phases).
    pub fn indicative_uncross(&self, security: SecurityId) -> Option<Uncross> {
        let inst = self.inst_of(security)?;
        self.matcher.indicative(inst, self.instruments[inst].last_price())
    }

    /// The prices an order may carry: the daily limits, or for an instrument without
    /// limits every positive price on the tick (up to CNY 100,000,000).
    pub fn price_band(&self, security: SecurityId) -> Option<PriceBand> {
        Some(self.instruments[self.inst_of(security)?].band)
    }

    /// Live resting orders across all instruments.
    pub fn open_orders(&self) -> usize {
        self.max_orders - self.matcher.free_slots()
    }

    /// Operations waiting in the inbound queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Checks every internal invariant: the books (sorted, totals equal order sums,
    /// index and pool accounting), no crossed book in continuous trading, the queue
    /// within its capacity.
    pub fn validate(&self) -> Result<(), String> {
        self.matcher.validate()?;
        if self.queue.len() > self.queue_capacity {
            return Err("inbound queue above its capacity".into());
        }
        for (inst, ins) in self.instruments.iter().enumerate() {
            if ins.effective_phase() != TradingPhase::Continuous {
                continue;
            }
            if let (Some(b), Some(a)) =
                (self.matcher.best(inst, Side::Buy), self.matcher.best(inst, Side::Sell))
                && b.price >= a.price
            {
                return Err(format!(
                    "{} is crossed in continuous trading: {b:?} / {a:?}",
                    ins.spec.security
                ));
            }
        }
        Ok(())
    }

    // ---------------------------------------------------------------- internals

    fn targets(&self, security: Option<SecurityId>) -> Option<std::ops::Range<usize>> {
        match security {
            None => Some(0..self.instruments.len()),
            Some(s) => self.inst_of(s).map(|i| i..i + 1),
        }
    }

    /// The phase the schedule prescribes at `now_ns` (weekends and holidays closed).
    pub fn scheduled_phase(&self, now_ns: u64) -> TradingPhase {
        match self.schedule {
            Schedule::AlwaysContinuous => TradingPhase::Continuous,
            Schedule::AShare { utc_offset_s } => {
                schedule::phase_at(now_ns, utc_offset_s, &self.holidays)
            }
        }
    }

    fn reference_of(&self, inst: usize, side: Side) -> Price {
        let (first, second) = match side {
            Side::Buy => (Side::Sell, Side::Buy),
            Side::Sell => (Side::Buy, Side::Sell),
        };
        self.matcher
            .best(inst, first)
            .or_else(|| self.matcher.best(inst, second))
            .map_or_else(|| self.instruments[inst].last_price(), |l| l.price)
    }

    /// On the first call that carries a time under `Schedule::AShare`, puts every
    /// instrument in the phase of that moment.
    fn start_schedule(&mut self, now_ns: u64, sink: &mut impl FnMut(Event)) {
        let Schedule::AShare { utc_offset_s } = self.schedule else { return };
        if self.next_boundary.is_some() {
            return;
        }
        let phase = schedule::phase_at(now_ns, utc_offset_s, &self.holidays);
        for ins in &mut self.instruments {
            ins.phase = phase;
        }
        self.next_boundary = Some(schedule::next_boundary(now_ns, utc_offset_s, &self.holidays));
        self.publish_phase(None, phase, PhaseEventKind::PhaseChange, sink);
    }

    fn apply_boundary(&mut self, sink: &mut impl FnMut(Event)) {
        let Schedule::AShare { utc_offset_s } = self.schedule else {
            unreachable!("boundaries need a schedule")
        };
        let (at, phase) = self.next_boundary.expect("a pending boundary");
        for inst in 0..self.instruments.len() {
            self.instruments[inst].reopen_at_ns = NEVER;
            if self.instruments[inst].halted {
                // A halted book does not uncross; resuming into continuous trading will.
                self.instruments[inst].phase = phase;
            } else {
                self.transition(inst, phase, sink);
            }
        }
        self.refresh_reopen();
        self.next_boundary = Some(schedule::next_boundary(at, utc_offset_s, &self.holidays));
        self.publish_phase(None, phase, PhaseEventKind::PhaseChange, sink);
    }

    fn end_reopen_auctions(&mut self, at_ns: u64, sink: &mut impl FnMut(Event)) {
        let phase = self.scheduled_phase(at_ns);
        for inst in 0..self.instruments.len() {
            if self.instruments[inst].reopen_at_ns <= at_ns {
                self.instruments[inst].reopen_at_ns = NEVER;
                self.transition(inst, phase, sink);
                let security = Some(self.instruments[inst].spec.security);
                self.publish_phase(security, phase, PhaseEventKind::PhaseChange, sink);
            }
        }
        self.refresh_reopen();
    }

    fn refresh_reopen(&mut self) {
        self.next_reopen_ns =
            self.instruments.iter().map(|i| i.reopen_at_ns).min().unwrap_or(NEVER);
    }

    /// Moves a (not halted) instrument's phase, uncrossing when it leaves a call auction
    /// or enters continuous trading with a crossed book.
    fn transition(&mut self, inst: usize, phase: TradingPhase, sink: &mut impl FnMut(Event)) {
        let old = self.instruments[inst].phase;
        let leaving_auction = is_auction(old) && !is_auction(phase);
        self.instruments[inst].phase = phase;
        if leaving_auction || (phase == TradingPhase::Continuous && self.is_crossed(inst)) {
            self.uncross(inst, sink);
        }
    }

    fn is_crossed(&self, inst: usize) -> bool {
        match (self.matcher.best(inst, Side::Buy), self.matcher.best(inst, Side::Sell)) {
            (Some(b), Some(a)) => b.price >= a.price,
            _ => false,
        }
    }

    fn uncross(&mut self, inst: usize, sink: &mut impl FnMut(Event)) {
        let reference = self.instruments[inst].last_price();
        let before = self.feed.read_before(inst, &self.matcher);
        let ins = &mut self.instruments[inst];
        let security = ins.spec.security;
        let mut fills =
            Fills { security, next_exec_id: &mut self.next_exec_id, stats: &mut ins.stats };
        let tap = Tap { inst, aggressor: None, cancels_rest: false };
        let feed = &mut self.feed;
        self.matcher
            .uncross(inst, reference, &mut fills, &mut |e| feed.tap(tap, security, e, sink));
        self.feed.publish_changed(inst, security, before, &self.matcher, sink);
    }

    /// Reports a phase event, and on the feed each instrument's phase in force and
    /// its indicative uncross (cleared outside call auctions).
    fn publish_phase(
        &mut self,
        security: Option<SecurityId>,
        phase: TradingPhase,
        kind: PhaseEventKind,
        sink: &mut impl FnMut(Event),
    ) {
        sink(Event::Phase { security, phase, kind });
        if !self.feed.is_on() {
            return;
        }
        let Some(targets) = self.targets(security) else { return };
        for inst in targets {
            let ins = &self.instruments[inst];
            self.feed.phase(inst, ins.spec.security, ins.effective_phase(), kind, sink);
            self.refresh_indicative(inst, sink);
        }
    }

    /// Publishes the indicative uncross when it changed (call auctions only).
    fn refresh_indicative(&mut self, inst: usize, sink: &mut impl FnMut(Event)) {
        if !self.feed.is_on() {
            return;
        }
        let ins = &self.instruments[inst];
        let current = if is_auction(ins.effective_phase()) {
            self.matcher.indicative(inst, ins.last_price())
        } else {
            None
        };
        self.feed.refresh_indicative(inst, ins.spec.security, current, sink);
    }

    /// After an order entered the matcher (new, or moved by a replace): its resting
    /// remainder, the levels it touched, the indicative uncross.
    fn publish_entry(&mut self, inst: usize, order_id: OrderId, sink: &mut impl FnMut(Event)) {
        if !self.feed.is_on() {
            return;
        }
        let security = self.instruments[inst].spec.security;
        if let Some(h) = self.matcher.find(order_id) {
            let info = self.matcher.info(h);
            let (side, price, qty) = (info.side, info.price, info.leaves);
            self.feed.emit(
                inst,
                security,
                MarketEventKind::OrderAdded { order_id, side, price, qty },
                sink,
            );
            self.feed.touch(side, price);
        }
        self.feed.flush_levels(inst, security, &self.matcher, sink);
        self.refresh_indicative(inst, sink);
    }

    /// After a resting order was cancelled or reduced in place.
    fn publish_change(
        &mut self,
        info: &OrderInfo,
        kind: MarketEventKind,
        sink: &mut impl FnMut(Event),
    ) {
        if !self.feed.is_on() {
            return;
        }
        let security = self.instruments[info.inst].spec.security;
        self.feed.emit(info.inst, security, kind, sink);
        self.feed.touch(info.side, info.price);
        self.feed.flush_levels(info.inst, security, &self.matcher, sink);
        self.refresh_indicative(info.inst, sink);
    }

    #[inline]
    fn must_queue(&self, inst: Option<usize>, now_ns: u64) -> bool {
        now_ns < self.pause_until_ns
            || self.ack_delay_ns > 0
            || !self.queue.is_empty()
            || inst.is_some_and(|i| is_queueing(self.instruments[i].effective_phase()))
    }

    fn enqueue(&mut self, op: Op, inst: Option<usize>, now_ns: u64, sink: &mut impl FnMut(Event)) {
        if self.queue.len() >= self.queue_capacity {
            let code = RejectCode::VENUE_CAPACITY;
            sink(match op {
                Op::Submit(o) => Event::Rejected {
                    order_id: o.order_id,
                    code,
                    detail: RejectDetail::Count {
                        count: self.queue.len() as u64 + 1,
                        limit: self.queue_capacity as u64,
                    },
                },
                Op::Cancel(order_id) => Event::CancelRejected { order_id, code },
                Op::Replace { order_id, .. } => Event::ReplaceRejected { order_id, code },
            });
            return;
        }
        let release_ns = now_ns.saturating_add(self.ack_delay_ns).max(self.last_release_ns);
        self.last_release_ns = release_ns;
        self.queue.push_back(Pending { op, inst: inst.map_or(NO_INST, |i| i as u32), release_ns });
    }

    /// When the queue's head may be processed: `NEVER` while empty or while its
    /// instrument waits for continuous trading (a phase change releases it).
    fn queue_due_ns(&self) -> u64 {
        let Some(front) = self.queue.front() else { return NEVER };
        if front.inst != NO_INST
            && is_queueing(self.instruments[front.inst as usize].effective_phase())
        {
            return NEVER;
        }
        front.release_ns.max(self.pause_until_ns)
    }

    fn process_submit(&mut self, o: &VenueOrder, sink: &mut impl FnMut(Event)) {
        let Some(inst) = self.inst_of(o.security) else {
            sink(Event::Rejected {
                order_id: o.order_id,
                code: RejectCode::VENUE_UNKNOWN_SECURITY,
                detail: RejectDetail::None,
            });
            return;
        };
        let incoming = match self.check_submit(inst, o) {
            Ok(incoming) => incoming,
            Err((code, detail)) => {
                sink(Event::Rejected { order_id: o.order_id, code, detail });
                return;
            }
        };
        sink(Event::Accepted { order_id: o.order_id });
        if o.tif == TimeInForce::Fok && incoming.matches {
            let available =
                self.matcher.available(inst, o.side, incoming.price, incoming.max_levels, o.qty.0);
            if available < o.qty.0 {
                sink(Event::Canceled {
                    order_id: o.order_id,
                    canceled_qty: o.qty,
                    cum: Qty::ZERO,
                    reason: CancelReason::Venue,
                });
                return;
            }
        }
        let ins = &mut self.instruments[inst];
        let security = ins.spec.security;
        let mut fills =
            Fills { security, next_exec_id: &mut self.next_exec_id, stats: &mut ins.stats };
        let tap = Tap { inst, aggressor: Some(o.side), cancels_rest: false };
        let feed = &mut self.feed;
        self.matcher.submit(inst, &incoming, &mut fills, &mut |e| feed.tap(tap, security, e, sink));
        self.publish_entry(inst, o.order_id, sink);
    }

    /// Phase checks shared by new orders and replaces.
    fn check_phase(&self, ins: &Instrument) -> Result<TradingPhase, Refusal> {
        if ins.spec.suspended {
            return refuse(RejectCode::VENUE_SUSPENDED, RejectDetail::None);
        }
        match ins.effective_phase() {
            TradingPhase::Halted => refuse(RejectCode::VENUE_HALTED, RejectDetail::None),
            // Queueing phases never reach here (their operations wait); treat as closed.
            TradingPhase::Closed | TradingPhase::PreContinuous | TradingPhase::Break => {
                refuse(RejectCode::VENUE_CLOSED, RejectDetail::None)
            }
            phase => Ok(phase),
        }
    }

    /// Tick, lot, maximum quantity, daily limit and (in continuous trading) cage.
    fn check_price_qty(
        &self,
        inst: usize,
        side: Side,
        order_type: OrderType,
        price: Price,
        qty: u64,
        cage: bool,
    ) -> Result<(), Refusal> {
        let ins = &self.instruments[inst];
        let rules = &ins.spec.rules;
        let is_market = order_type.is_market();
        // A limit price, or a STAR market order's protective price; other market
        // orders carry 0.
        let priced = !is_market || needs_protective_price(ins.spec.board);
        if priced {
            if price.0 <= 0 {
                return refuse(RejectCode::VENUE_INVALID_PRICE, RejectDetail::None);
            }
            if !ins.on_tick(price) {
                return refuse(RejectCode::VENUE_TICK_VIOLATION, RejectDetail::None);
            }
        } else if price.0 != 0 {
            return refuse(RejectCode::VENUE_INVALID_PRICE, RejectDetail::None);
        }
        let lot_detail = RejectDetail::Quantity { qty, limit: rules.lot.min_qty };
        if !ins.lot_ok(side, qty) {
            let code = match side {
                Side::Buy => RejectCode::VENUE_LOT_VIOLATION,
                Side::Sell => RejectCode::VENUE_ODD_LOT_SELL,
            };
            return refuse(code, lot_detail);
        }
        let max = rules.max_qty(order_type);
        if qty > max {
            return refuse(
                RejectCode::VENUE_MAX_QUANTITY,
                RejectDetail::Quantity { qty, limit: max },
            );
        }
        if !priced {
            return Ok(());
        }
        let band = ins.band;
        if !band.contains(price) {
            return refuse(
                RejectCode::VENUE_PRICE_LIMIT,
                RejectDetail::PriceBand { price, lower: band.lower, upper: band.upper },
            );
        }
        if let (true, false, Some(rule)) = (cage, is_market, rules.cage) {
            let b = cage_band(side, self.reference_of(inst, side), rule, rules.tick);
            if !b.contains(price) {
                return refuse(
                    RejectCode::VENUE_PRICE_CAGE,
                    RejectDetail::PriceBand { price, lower: b.lower, upper: b.upper },
                );
            }
        }
        Ok(())
    }

    fn check_submit(&self, inst: usize, o: &VenueOrder) -> Result<Incoming, Refusal> {
        let ins = &self.instruments[inst];
        let phase = self.check_phase(ins)?;
        if o.order_type.implied_tif().is_some_and(|tif| tif != o.tif) {
            return refuse(RejectCode::VENUE_INVALID_ORDER, RejectDetail::None);
        }
        if !offers_order_type(ins.spec.board, o.order_type) {
            return refuse(RejectCode::VENUE_ORDER_TYPE_NOT_OFFERED, RejectDetail::None);
        }
        // Limit orders are day orders on SSE and SZSE; IOC and FOK limit orders are a
        // simulator extension behind `ExchangeConfig::limit_ioc_fok`.
        if o.order_type == OrderType::Limit && o.tif != TimeInForce::Day && !self.limit_ioc_fok {
            return refuse(RejectCode::VENUE_DAY_ORDERS_ONLY, RejectDetail::None);
        }
        let continuous = phase == TradingPhase::Continuous;
        if !continuous {
            // Call auctions take day limit orders only.
            if o.order_type.is_market() {
                return refuse(RejectCode::VENUE_MARKET_ORDER_NOT_ALLOWED, RejectDetail::None);
            }
            if o.tif != TimeInForce::Day {
                return refuse(RejectCode::VENUE_INVALID_ORDER, RejectDetail::None);
            }
        }
        self.check_price_qty(inst, o.side, o.order_type, o.price, o.qty.0, continuous)?;
        if self.matcher.find(o.order_id).is_some() {
            return refuse(RejectCode::VENUE_INVALID_ORDER, RejectDetail::None);
        }
        let rests = o.tif == TimeInForce::Day;
        if rests && self.matcher.free_slots() == 0 {
            let limit = self.max_orders as u64;
            return refuse(
                RejectCode::VENUE_CAPACITY,
                RejectDetail::Count { count: limit + 1, limit },
            );
        }
        let (price, max_levels, own_best) = match o.order_type {
            OrderType::Limit => (o.price, u32::MAX, None),
            _ => self.market_terms(inst, o)?,
        };
        // A price outside a no-limit book's array needs a level: refused before it
        // trades rather than cancelled after (best-5-then-limit, whose price is known
        // only after it trades, is cancelled instead).
        let priced_rest = rests && o.order_type != OrderType::MarketBest5Limit;
        if priced_rest && !self.matcher.can_rest(inst, o.side, price) {
            return refuse(RejectCode::VENUE_CAPACITY, RejectDetail::None);
        }
        if self.self_trade_prevention
            && continuous
            && self.matcher.self_trade(inst, o.owner, o.side, price, max_levels, o.qty.0)
        {
            return refuse(RejectCode::VENUE_SELF_TRADE, RejectDetail::None);
        }
        Ok(Incoming {
            order_id: o.order_id,
            owner: o.owner,
            side: o.side,
            price,
            max_levels,
            qty: o.qty,
            rests,
            to_limit: o.order_type == OrderType::MarketBest5Limit,
            own_best,
            is_market: o.order_type.is_market(),
            matches: continuous,
        })
    }

    /// A market order's price (the worst it trades at, and where a remainder that
    /// rests rests), how many levels it may take, and its own side's best price.
    fn market_terms(
        &self,
        inst: usize,
        o: &VenueOrder,
    ) -> Result<(Price, u32, Option<Price>), Refusal> {
        let band = self.instruments[inst].band;
        // Its protective price (STAR; validated), else the daily limit.
        let worst = match (o.price.0 > 0, o.side) {
            (true, _) => o.price,
            (false, Side::Buy) => band.upper,
            (false, Side::Sell) => band.lower,
        };
        let capped = |p: Price| match o.side {
            Side::Buy => p.min(worst),
            Side::Sell => p.max(worst),
        };
        let own_best = self.matcher.best(inst, o.side).map(|l| capped(l.price));
        let no_liquidity = (RejectCode::VENUE_NO_LIQUIDITY, RejectDetail::None);
        Ok(match o.order_type {
            OrderType::Limit => (o.price, u32::MAX, None),
            OrderType::MarketBestOwn => (own_best.ok_or(no_liquidity)?, u32::MAX, own_best),
            OrderType::MarketBestCounter => {
                let counter = self.matcher.best(inst, o.side.opposite()).ok_or(no_liquidity)?;
                (capped(counter.price), 1, own_best)
            }
            OrderType::MarketBest5Cancel | OrderType::MarketBest5Limit => (worst, 5, own_best),
            OrderType::MarketIoc | OrderType::MarketFok => (worst, u32::MAX, own_best),
        })
    }

    fn process_cancel(&mut self, order_id: OrderId, sink: &mut impl FnMut(Event)) {
        let Some(h) = self.matcher.find(order_id) else {
            sink(Event::CancelRejected { order_id, code: RejectCode::VENUE_UNKNOWN_ORDER });
            return;
        };
        let inst = self.matcher.info(h).inst;
        let code = match self.instruments[inst].effective_phase() {
            TradingPhase::Closed => Some(RejectCode::VENUE_CLOSED),
            TradingPhase::OpeningAuctionNoCancel | TradingPhase::ClosingAuction => {
                Some(RejectCode::VENUE_NO_CANCEL_PHASE)
            }
            _ => None,
        };
        if let Some(code) = code {
            sink(Event::CancelRejected { order_id, code });
            return;
        }
        let info = self.matcher.remove(h);
        sink(Event::Canceled {
            order_id,
            canceled_qty: info.leaves,
            cum: info.cum,
            reason: CancelReason::Client,
        });
        self.publish_change(&info, MarketEventKind::OrderRemoved { order_id }, sink);
    }

    fn process_replace(
        &mut self,
        order_id: OrderId,
        price: Price,
        qty: Qty,
        sink: &mut impl FnMut(Event),
    ) {
        match self.check_replace(order_id, price, qty) {
            Err(code) => sink(Event::ReplaceRejected { order_id, code }),
            Ok((h, info, keep, matches)) => {
                sink(Event::Replaced {
                    order_id,
                    price,
                    qty,
                    leaves: Qty(qty.0 - info.cum.0),
                    priority_kept: keep,
                });
                if keep {
                    self.matcher.reduce(h, qty.0);
                    let kind =
                        MarketEventKind::OrderReduced { order_id, qty: Qty(qty.0 - info.cum.0) };
                    self.publish_change(&info, kind, sink);
                } else {
                    self.move_order(h, &info, price, qty, matches, sink);
                }
            }
        }
    }

    /// A replace that loses priority: out of the book, perhaps trades, rests again.
    fn move_order(
        &mut self,
        h: M::Handle,
        info: &OrderInfo,
        price: Price,
        qty: Qty,
        matches: bool,
        sink: &mut impl FnMut(Event),
    ) {
        let inst = info.inst;
        let ins = &mut self.instruments[inst];
        let security = ins.spec.security;
        if self.feed.is_on() {
            let kind = MarketEventKind::OrderRemoved { order_id: info.order_id };
            self.feed.emit(inst, security, kind, sink);
            self.feed.touch(info.side, info.price);
        }
        let mut fills =
            Fills { security, next_exec_id: &mut self.next_exec_id, stats: &mut ins.stats };
        let tap = Tap { inst, aggressor: Some(info.side), cancels_rest: false };
        let feed = &mut self.feed;
        self.matcher.reprice(h, price, qty.0, matches, &mut fills, &mut |e| {
            feed.tap(tap, security, e, sink)
        });
        self.publish_entry(inst, info.order_id, sink);
    }

    /// Returns the handle, the order, whether priority is kept, and whether the move matches.
    fn check_replace(
        &self,
        order_id: OrderId,
        price: Price,
        qty: Qty,
    ) -> Result<(M::Handle, OrderInfo, bool, bool), RejectCode> {
        let h = self.matcher.find(order_id).ok_or(RejectCode::VENUE_UNKNOWN_ORDER)?;
        let info = self.matcher.info(h);
        let phase = self.check_phase(&self.instruments[info.inst]).map_err(|(code, _)| code)?;
        if matches!(phase, TradingPhase::OpeningAuctionNoCancel | TradingPhase::ClosingAuction) {
            return Err(RejectCode::VENUE_NO_CANCEL_PHASE);
        }
        if info.is_market || qty.0 <= info.cum.0 {
            return Err(RejectCode::VENUE_INVALID_REPLACE);
        }
        let continuous = phase == TradingPhase::Continuous;
        let price_moves = price != info.price;
        self.check_price_qty(
            info.inst,
            info.side,
            OrderType::Limit,
            price,
            qty.0,
            continuous && price_moves,
        )
        .map_err(|(code, _)| code)?;
        let keep = !price_moves && qty.0 <= info.qty.0;
        if !keep && !self.matcher.can_rest(info.inst, info.side, price) {
            return Err(RejectCode::VENUE_CAPACITY);
        }
        if !keep
            && continuous
            && self.self_trade_prevention
            && self.matcher.self_trade(
                info.inst,
                info.owner,
                info.side,
                price,
                u32::MAX,
                qty.0 - info.cum.0,
            )
        {
            return Err(RejectCode::VENUE_SELF_TRADE);
        }
        Ok((h, info, keep, continuous))
    }
}

/// The prices an instrument's orders may carry, and its book's price array: both
/// the daily limits, or for an instrument without limits every positive price on
/// the tick, and an array of `max_levels_per_side` ticks around the previous close.
fn price_array(
    spec: &InstrumentSpec,
    max_levels_per_side: usize,
) -> Result<(PriceBand, PriceBand), ConfigError> {
    let tick = spec.rules.tick.0;
    if tick <= 0 {
        return Err(ConfigError::BadTick(spec.security));
    }
    if spec.prev_close.0 <= 0 {
        return Err(ConfigError::BadPrevClose(spec.security));
    }
    let limit_bp = spec.rules.limit_bp_for(spec.is_st);
    if !spec.no_price_limit && limit_bp > 0 {
        let band = daily_price_band(spec.prev_close, limit_bp, spec.rules.tick);
        return Ok((band, band));
    }
    let bad = ConfigError::BadLevelCount {
        security: spec.security,
        levels: max_levels_per_side as u64,
        max: u64::from(u32::MAX / 2),
    };
    let width = i64::try_from(max_levels_per_side).map_err(|_| bad)?;
    if width == 0 || width > i64::from(u32::MAX / 2) {
        return Err(bad);
    }
    let lower_ticks = (spec.prev_close.0 / tick - width / 2).max(1);
    let upper = (lower_ticks + width - 1).checked_mul(tick).ok_or(bad)?;
    let array = PriceBand { lower: Price(lower_ticks * tick), upper: Price(upper) };
    // Any price on the tick, up to `PRICE_MAX`.
    let band = PriceBand { lower: Price(tick), upper: Price(PRICE_MAX / tick * tick) };
    Ok((band, array))
}
