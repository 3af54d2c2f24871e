//! The publisher's own image of one book, kept from the venue's events, so that
//! snapshots never need the engine thread: every level of both sides (not only
//! the ten a snapshot carries: when the best levels go, the next ones move up),
//! last price, volume, turnover, phase and the indicative uncross.

use protocol::marketdata::{
    Indicative, SNAPSHOT_LEVELS_MAX, Snapshot, WireLevel, channel_of, level_position,
};
use protocol::{Price, SecurityId, Side, TradingPhase};
use sim_exchange::{Level, MarketEvent, MarketEventKind, MarketSnapshot, Uncross};

/// Levels a side a Level-1 subscriber sees.
pub const L1_LEVELS: usize = 5;

/// What a Level-1 subscriber gets for an event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum L1View {
    /// The delta itself.
    Send,
    /// Nothing: a level beyond the best five, or the order stream.
    Skip,
    /// A snapshot of the five levels: a level within them went and the sixth moved
    /// up, which no single LevelUpdate can say.
    Refresh,
}

/// One security's book and day as the publisher knows it.
#[derive(Clone, Debug)]
pub struct BookImage {
    /// The security.
    pub security: SecurityId,
    /// Its channel.
    pub channel: u16,
    /// The channel sequence of the security's last event (0: none this session).
    pub security_seq: u64,
    /// Best first.
    bids: Vec<WireLevel>,
    /// Best first.
    asks: Vec<WireLevel>,
    last: Price,
    volume: u64,
    turnover: i64,
    phase: TradingPhase,
    indicative: Indicative,
}

fn wire_indicative(u: Option<Uncross>) -> Indicative {
    u.map_or(Indicative::default(), |u| Indicative {
        price: u.price,
        qty: u.qty,
        imbalance: u.imbalance,
    })
}

fn wire(l: &Level) -> WireLevel {
    WireLevel { price: l.price, qty: l.qty, orders: l.orders }
}

impl BookImage {
    /// An empty book with room for `levels_reserved` levels a side before it grows.
    pub fn new(security: SecurityId, levels_reserved: usize) -> BookImage {
        BookImage {
            security,
            channel: channel_of(security),
            security_seq: 0,
            bids: Vec::with_capacity(levels_reserved),
            asks: Vec::with_capacity(levels_reserved),
            last: Price::ZERO,
            volume: 0,
            turnover: 0,
            phase: TradingPhase::Closed,
            indicative: Indicative::default(),
        }
    }

    /// Replaces the image with the venue's snapshot and its full levels.
    pub fn reset(&mut self, s: &MarketSnapshot, bids: &[Level], asks: &[Level]) {
        self.security_seq = s.security_seq;
        self.bids.clear();
        self.asks.clear();
        self.bids.extend(bids.iter().map(wire));
        self.asks.extend(asks.iter().map(wire));
        self.last = s.l1.last;
        self.volume = s.l1.volume.0;
        self.turnover = s.l1.turnover;
        self.phase = s.l1.phase;
        self.indicative = wire_indicative(s.indicative);
    }

    /// The bids, best first.
    pub fn bids(&self) -> &[WireLevel] {
        &self.bids
    }

    /// The asks, best first.
    pub fn asks(&self) -> &[WireLevel] {
        &self.asks
    }

    /// Applies one event of this security; says what a Level-1 subscriber gets.
    pub fn apply(&mut self, ev: &MarketEvent) -> L1View {
        debug_assert_eq!(ev.security, self.security, "events are routed by security");
        self.security_seq = ev.seq;
        match ev.kind {
            MarketEventKind::Level { side, price, qty, orders } => {
                self.set_level(side, WireLevel { price, qty, orders })
            }
            MarketEventKind::Trade { price, qty, .. } => {
                self.last = price;
                self.volume += qty.0;
                self.turnover = self.turnover.saturating_add(price.0.saturating_mul(qty.0 as i64));
                L1View::Send
            }
            MarketEventKind::Phase { phase, .. } => {
                self.phase = phase;
                L1View::Send
            }
            MarketEventKind::Indicative(u) => {
                self.indicative = wire_indicative(u);
                L1View::Send
            }
            MarketEventKind::OrderAdded { .. }
            | MarketEventKind::OrderReduced { .. }
            | MarketEventKind::OrderRemoved { .. } => L1View::Skip,
        }
    }

    fn set_level(&mut self, side: Side, level: WireLevel) -> L1View {
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        match (level_position(levels, side, level.price), level.qty.0) {
            (Ok(i), 0) => {
                levels.remove(i);
                if i >= L1_LEVELS {
                    L1View::Skip
                } else if levels.len() >= L1_LEVELS {
                    L1View::Refresh
                } else {
                    L1View::Send
                }
            }
            (Ok(i), _) => {
                levels[i] = level;
                if i < L1_LEVELS { L1View::Send } else { L1View::Skip }
            }
            (Err(_), 0) => L1View::Skip,
            (Err(i), _) => {
                levels.insert(i, level);
                if i < L1_LEVELS { L1View::Send } else { L1View::Skip }
            }
        }
    }

    /// The book as a Snapshot of `levels` levels a side (at most ten).
    pub fn snapshot(
        &self,
        seq: u64,
        security_seq: u64,
        session_id: u64,
        levels: usize,
    ) -> Snapshot {
        debug_assert!(security_seq <= seq, "a snapshot's security_seq is at most its seq");
        let n = levels.min(SNAPSHOT_LEVELS_MAX);
        let mut s = Snapshot {
            channel: self.channel,
            seq,
            security_seq,
            security: self.security,
            flags: 0,
            time_ns: 0,
            session_id,
            phase: self.phase,
            last: self.last,
            volume: self.volume,
            turnover: self.turnover,
            indicative: self.indicative,
            bid_count: 0,
            ask_count: 0,
            bids: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
            asks: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
        };
        let nb = self.bids.len().min(n);
        let na = self.asks.len().min(n);
        s.bids[..nb].copy_from_slice(&self.bids[..nb]);
        s.asks[..na].copy_from_slice(&self.asks[..na]);
        s.bid_count = nb as u8;
        s.ask_count = na as u8;
        s
    }
}
