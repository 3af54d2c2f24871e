//! The venue's market-data feed: [`crate::MarketEvent`]s derived from the matching
//! path and sequenced per channel, delivered as [`Event::Market`] through the same
//! sink as the order events, right after the events that caused them.
//!
//! The feed does not keep a copy of the books. It taps the events an operation
//! produces (trades, and the cancels of an end of day), remembers which price
//! levels they touched, and after the operation reads those levels' totals back
//! from the matcher, so a level event always states the book as it is. What an
//! operation touches is known from the operation: a taker touches the opposite
//! levels it trades at and the level it rests at; a cancel or a reduce its own
//! level. An uncross and an end of day touch many levels at once: for those the
//! feed reads the whole book before and compares after (rare, twice a day).
//!
//! Every buffer is sized at start-up from the largest book (its price array plus
//! its overflow levels per side), so the feed allocates nothing while trading.
//! With the feed off ([`crate::ExchangeConfig::market_data`] false) every hook
//! returns at its first line.

use protocol::marketdata::{
    DeltaBody, DeltaHeader, Indicative, MdMessage, PhaseKind, SNAPSHOT_LEVELS_MAX, Snapshot,
    WireLevel, channel_of,
};
use protocol::{Price, SecurityId, Side, TradingPhase};

use crate::event::{
    Event, Level, MarketEvent, MarketEventKind, MarketSnapshot, PhaseEventKind, Uncross,
};
use crate::matcher::Matcher;

/// The feed's state inside the exchange.
#[derive(Clone, Debug)]
pub(crate) struct Feed {
    on: bool,
    /// Venue time of the call in progress.
    now_ns: u64,
    /// Per instrument: index into `channels`/`seqs`.
    channel_index: Vec<u16>,
    /// The distinct channels of the configured instruments, sorted.
    channels: Vec<u16>,
    /// The last sequence number used on each channel.
    seqs: Vec<u64>,
    /// Per instrument: the sequence of its last event.
    last_seq: Vec<u64>,
    /// Per instrument: the indicative uncross last published.
    indicative: Vec<Option<Uncross>>,
    /// (side, price) of the levels the operation in progress touched.
    touched: Vec<(Side, Price)>,
    /// The book before an uncross or an end of day.
    before_bids: Vec<Level>,
    before_asks: Vec<Level>,
}

/// What the tap needs to know about the operation in progress.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tap {
    pub inst: usize,
    /// The incoming order's side (continuous matching); `None` for an uncross.
    pub aggressor: Option<Side>,
    /// Cancels remove resting orders (end of day), rather than an incoming remainder.
    pub cancels_rest: bool,
}

impl Feed {
    /// A feed for these instruments; `levels_per_side_max` is the largest number of
    /// price levels one side of one book can hold.
    pub fn new(on: bool, securities: &[SecurityId], levels_per_side_max: usize) -> Feed {
        let mut channels: Vec<u16> = securities.iter().map(|s| channel_of(*s)).collect();
        channels.sort_unstable();
        channels.dedup();
        let channel_index = securities
            .iter()
            .map(|s| channels.binary_search(&channel_of(*s)).expect("a listed channel") as u16)
            .collect();
        // One more than a side can hold, so that a full read shows it is whole.
        let scratch = if on { levels_per_side_max + 1 } else { 0 };
        Feed {
            on,
            now_ns: 0,
            channel_index,
            seqs: vec![0; channels.len()],
            channels,
            indicative: vec![None; securities.len()],
            last_seq: vec![0; securities.len()],
            // A taker touches at most every level of the other side and one of its own.
            touched: Vec::with_capacity(if on { levels_per_side_max + 2 } else { 0 }),
            before_bids: vec![Level::default(); scratch],
            before_asks: vec![Level::default(); scratch],
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Bytes the feed holds (all sized at start-up).
    pub fn memory_bytes(&self) -> usize {
        self.touched.capacity() * size_of::<(Side, Price)>()
            + (self.before_bids.len() + self.before_asks.len()) * size_of::<Level>()
            + self.seqs.len() * (size_of::<u64>() + size_of::<u16>())
            + self.indicative.len() * (size_of::<Option<Uncross>>() + size_of::<u64>())
    }

    pub fn set_time(&mut self, now_ns: u64) {
        self.now_ns = now_ns;
    }

    /// The last sequence number used on the instrument's channel.
    pub fn channel_seq(&self, inst: usize) -> (u16, u64) {
        let ci = self.channel_index[inst] as usize;
        (self.channels[ci], self.seqs[ci])
    }

    /// The sequence of the instrument's last event.
    pub fn security_seq(&self, inst: usize) -> u64 {
        self.last_seq[inst]
    }

    /// The indicative uncross last published for the instrument.
    pub fn indicative(&self, inst: usize) -> Option<Uncross> {
        self.indicative[inst]
    }

    /// Stamps and delivers one event.
    pub fn emit(
        &mut self,
        inst: usize,
        security: SecurityId,
        kind: MarketEventKind,
        sink: &mut impl FnMut(Event),
    ) {
        let ci = self.channel_index[inst] as usize;
        self.seqs[ci] += 1;
        let channel = self.channels[ci];
        let seq = self.seqs[ci];
        let prev_seq = std::mem::replace(&mut self.last_seq[inst], seq);
        let time_ns = self.now_ns;
        sink(Event::Market(MarketEvent { channel, seq, prev_seq, security, time_ns, kind }));
    }

    /// Remembers a touched level; consecutive touches of one level count once.
    pub fn touch(&mut self, side: Side, price: Price) {
        if !self.on || self.touched.last() == Some(&(side, price)) {
            return;
        }
        // Sized for the worst operation at start-up: growing here would allocate on
        // the order path, and losing a touch would leave subscribers a stale level.
        assert!(self.touched.len() < self.touched.capacity(), "touched levels within capacity");
        self.touched.push((side, price));
    }

    /// Passes an event through to `sink`, and with the feed on publishes what it
    /// means for the book.
    pub fn tap(&mut self, tap: Tap, security: SecurityId, e: Event, sink: &mut impl FnMut(Event)) {
        sink(e);
        if !self.on {
            return;
        }
        match e {
            Event::Trade { exec_id, price, qty, buy_order_id, sell_order_id, .. } => {
                if let Some(side) = tap.aggressor {
                    // Continuous trading: the resting order's level is the trade price.
                    self.touch(side.opposite(), price);
                }
                let aggressor = tap.aggressor;
                let kind = MarketEventKind::Trade {
                    exec_id,
                    price,
                    qty,
                    buy_order_id,
                    sell_order_id,
                    aggressor,
                };
                self.emit(tap.inst, security, kind, sink);
            }
            Event::Canceled { order_id, .. } if tap.cancels_rest => {
                self.emit(tap.inst, security, MarketEventKind::OrderRemoved { order_id }, sink);
            }
            _ => {}
        }
    }

    /// Publishes the touched levels' totals as they are now, then forgets them.
    pub fn flush_levels<M: Matcher>(
        &mut self,
        inst: usize,
        security: SecurityId,
        matcher: &M,
        sink: &mut impl FnMut(Event),
    ) {
        if !self.on {
            return;
        }
        for i in 0..self.touched.len() {
            let (side, price) = self.touched[i];
            let l = matcher.level_at(inst, side, price);
            let kind = MarketEventKind::Level { side, price, qty: l.qty, orders: l.orders };
            self.emit(inst, security, kind, sink);
        }
        self.touched.clear();
    }

    /// Reads the whole book before an operation that touches many levels.
    pub fn read_before<M: Matcher>(&mut self, inst: usize, matcher: &M) -> (usize, usize) {
        if !self.on {
            return (0, 0);
        }
        let bids = matcher.depth(inst, Side::Buy, &mut self.before_bids);
        let asks = matcher.depth(inst, Side::Sell, &mut self.before_asks);
        // The buffers hold a whole side of the largest book: a full read is the whole book.
        assert!(bids < self.before_bids.len() || self.before_bids.is_empty(), "bids fit");
        assert!(asks < self.before_asks.len() || self.before_asks.is_empty(), "asks fit");
        (bids, asks)
    }

    /// After such an operation: publishes every level read before that changed. (An
    /// uncross and an end of day only take orders away, so no level appears.)
    pub fn publish_changed<M: Matcher>(
        &mut self,
        inst: usize,
        security: SecurityId,
        before: (usize, usize),
        matcher: &M,
        sink: &mut impl FnMut(Event),
    ) {
        if !self.on {
            return;
        }
        for (side, n) in [(Side::Buy, before.0), (Side::Sell, before.1)] {
            for i in 0..n {
                let old = match side {
                    Side::Buy => self.before_bids[i],
                    Side::Sell => self.before_asks[i],
                };
                let now = matcher.level_at(inst, side, old.price);
                if now != old {
                    let kind = MarketEventKind::Level {
                        side,
                        price: old.price,
                        qty: now.qty,
                        orders: now.orders,
                    };
                    self.emit(inst, security, kind, sink);
                }
            }
        }
    }

    /// Publishes the instrument's indicative uncross when it differs from the last
    /// one published (`current` is `None` outside call auctions).
    pub fn refresh_indicative(
        &mut self,
        inst: usize,
        security: SecurityId,
        current: Option<Uncross>,
        sink: &mut impl FnMut(Event),
    ) {
        if !self.on || self.indicative[inst] == current {
            return;
        }
        self.indicative[inst] = current;
        self.emit(inst, security, MarketEventKind::Indicative(current), sink);
    }

    /// Publishes an instrument's phase.
    pub fn phase(
        &mut self,
        inst: usize,
        security: SecurityId,
        phase: TradingPhase,
        kind: PhaseEventKind,
        sink: &mut impl FnMut(Event),
    ) {
        if self.on {
            self.emit(inst, security, MarketEventKind::Phase { phase, kind }, sink);
        }
    }
}

// ------------------------------------------------------------------ wire form

impl MarketEvent {
    /// The event as a market-data protocol delta (`docs/marketdata.md`), flags 0.
    pub fn to_wire(&self) -> MdMessage {
        let header = DeltaHeader {
            channel: self.channel,
            seq: self.seq,
            prev_seq: self.prev_seq,
            security: self.security,
            flags: 0,
            time_ns: self.time_ns,
        };
        let body = match self.kind {
            MarketEventKind::Level { side, price, qty, orders } => {
                DeltaBody::Level { side, level: WireLevel { price, qty, orders } }
            }
            MarketEventKind::Trade {
                exec_id,
                price,
                qty,
                buy_order_id,
                sell_order_id,
                aggressor,
            } => DeltaBody::Trade { exec_id, price, qty, buy_order_id, sell_order_id, aggressor },
            MarketEventKind::OrderAdded { order_id, side, price, qty } => {
                DeltaBody::OrderAdded { order_id, side, price, qty }
            }
            MarketEventKind::OrderReduced { order_id, qty } => {
                DeltaBody::OrderRemoved { order_id, qty }
            }
            MarketEventKind::OrderRemoved { order_id } => {
                DeltaBody::OrderRemoved { order_id, qty: protocol::Qty::ZERO }
            }
            MarketEventKind::Phase { phase, kind } => DeltaBody::Phase {
                phase,
                kind: match kind {
                    PhaseEventKind::PhaseChange => PhaseKind::PhaseChange,
                    PhaseEventKind::Halt => PhaseKind::Halt,
                    PhaseEventKind::Resume => PhaseKind::Resume,
                },
            },
            MarketEventKind::Indicative(u) => DeltaBody::Indicative(wire_indicative(u)),
        };
        MdMessage::Delta(header, body)
    }
}

fn wire_indicative(u: Option<Uncross>) -> Indicative {
    u.map_or(Indicative::default(), |u| Indicative {
        price: u.price,
        qty: u.qty,
        imbalance: u.imbalance,
    })
}

impl MarketSnapshot {
    /// The snapshot as a market-data protocol message: the first `levels` of the
    /// caller's level buffers (at most [`SNAPSHOT_LEVELS_MAX`] a side).
    pub fn to_wire(
        &self,
        security: SecurityId,
        session_id: u64,
        time_ns: u64,
        bids: &[Level],
        asks: &[Level],
    ) -> MdMessage {
        let mut s = Snapshot {
            channel: self.channel,
            seq: self.seq,
            security_seq: self.security_seq,
            security,
            flags: 0,
            time_ns,
            session_id,
            phase: self.l1.phase,
            last: self.l1.last,
            volume: self.l1.volume.0,
            turnover: self.l1.turnover,
            indicative: wire_indicative(self.indicative),
            bid_count: 0,
            ask_count: 0,
            bids: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
            asks: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
        };
        let nb = self.bid_levels.min(bids.len()).min(SNAPSHOT_LEVELS_MAX);
        let na = self.ask_levels.min(asks.len()).min(SNAPSHOT_LEVELS_MAX);
        for (w, l) in s.bids.iter_mut().zip(&bids[..nb]) {
            *w = WireLevel { price: l.price, qty: l.qty, orders: l.orders };
        }
        for (w, l) in s.asks.iter_mut().zip(&asks[..na]) {
            *w = WireLevel { price: l.price, qty: l.qty, orders: l.orders };
        }
        s.bid_count = nb as u8;
        s.ask_count = na as u8;
        MdMessage::Snapshot(s)
    }
}
