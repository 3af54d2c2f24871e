//! The book a subscriber's must equal: the venue's own (read from the in-process
//! gateway's exchange after it stopped), or a fresh snapshot taken through a new
//! subscription once the flow has ended.

use protocol::marketdata::WireLevel;
use protocol::mdclient::SecurityBook;
use protocol::{Price, SecurityId, TradingPhase};

use crate::operator::format_security;

/// One security's book and day as the truth holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reference {
    /// The security.
    pub security: SecurityId,
    /// The channel sequence of its last event (the `prev_seq` its next would carry).
    pub security_seq: u64,
    /// Bid levels, best first (every level for the venue, ten for a snapshot).
    pub bids: Vec<WireLevel>,
    /// Ask levels, best first.
    pub asks: Vec<WireLevel>,
    /// Last trade price, else the previous close.
    pub last: Price,
    /// Shares traded today.
    pub volume: u64,
    /// Value traded today, 1/10000 CNY.
    pub turnover: i64,
    /// Trades today (the venue knows it; a snapshot does not carry it).
    pub trades: Option<u64>,
    /// The phase in force.
    pub phase: TradingPhase,
}

impl Reference {
    /// The venue's book of `security`, every level.
    pub fn from_venue(venue: &sim_exchange::Exchange, security: SecurityId) -> Option<Reference> {
        let depth = venue.open_orders().max(1);
        let mut bids = vec![sim_exchange::Level::default(); depth];
        let mut asks = vec![sim_exchange::Level::default(); depth];
        let snap = venue.market_snapshot(security, &mut bids, &mut asks)?;
        let wire =
            |l: &sim_exchange::Level| WireLevel { price: l.price, qty: l.qty, orders: l.orders };
        Some(Reference {
            security,
            security_seq: snap.security_seq,
            bids: bids[..snap.bid_levels].iter().map(wire).collect(),
            asks: asks[..snap.ask_levels].iter().map(wire).collect(),
            last: snap.l1.last,
            volume: snap.l1.volume.0,
            turnover: snap.l1.turnover,
            trades: Some(snap.l1.trades),
            phase: snap.l1.phase,
        })
    }

    /// A book just built from a snapshot (a fresh Level-2 subscription).
    pub fn from_snapshot_book(b: &SecurityBook) -> Reference {
        Reference {
            security: b.security(),
            security_seq: b.last_seq(),
            bids: b.bids().to_vec(),
            asks: b.asks().to_vec(),
            last: b.last(),
            volume: b.volume(),
            turnover: b.turnover(),
            trades: None,
            phase: b.phase(),
        }
    }

    /// Where a subscriber's book differs from this one, in words (empty: equal).
    /// Every level the book holds must be the reference's at the same rank, and it
    /// may hold no level the reference lacks; a Level-2 book may hold fewer than
    /// its ten (see [`Reference::short`]). Last price, volume, turnover and phase
    /// must be equal.
    pub fn differences(&self, b: &SecurityBook) -> Vec<String> {
        let mut out = Vec::new();
        let name = format_security(self.security);
        for (side, held, truth) in [("bid", b.bids(), &self.bids), ("ask", b.asks(), &self.asks)] {
            if held.len() > truth.len() {
                out.push(format!(
                    "{name}: holds {} {side} levels, the truth {}",
                    held.len(),
                    truth.len()
                ));
            }
            for (rank, (h, t)) in held.iter().zip(truth.iter()).enumerate() {
                if h != t {
                    out.push(format!(
                        "{name}: {side} level {rank}: {} x {} ({} orders), the truth {} x {} ({} orders)",
                        h.price.0, h.qty.0, h.orders, t.price.0, t.qty.0, t.orders
                    ));
                }
            }
        }
        let day = (b.last(), b.volume(), b.turnover(), b.phase());
        let truth = (self.last, self.volume, self.turnover, self.phase);
        if day != truth {
            out.push(format!("{name}: last, volume, turnover, phase {day:?}, the truth {truth:?}"));
        }
        out
    }

    /// Levels the book lacks on either side below the ones it holds, within its
    /// depth: a Level-2 book that lost its best level keeps the next ten only once
    /// a deeper level is announced again, so a short book is not wrong, and is
    /// counted apart.
    pub fn short(&self, b: &SecurityBook, levels_max: usize) -> usize {
        let lack = |held: usize, truth: usize| truth.min(levels_max).saturating_sub(held);
        lack(b.bids().len(), self.bids.len()) + lack(b.asks().len(), self.asks.len())
    }
}
