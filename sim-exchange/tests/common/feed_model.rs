//! A subscriber's model of the market-data feed, obviously correct and slow: it
//! replays the [`MarketEvent`]s into price levels and an order-by-order book,
//! checks every channel's sequence, and compares itself with the venue.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};

use protocol::{OrderId, Price, SecurityId, Side, TradingPhase};
use sim_exchange::{Event, Exchange, Level, MarketEventKind, Matcher, Uncross};

/// One security as the feed describes it.
#[derive(Default, Debug)]
pub struct ModelBook {
    /// (side, price) → (qty, orders), from the level events.
    pub levels: BTreeMap<(u8, i64), (u64, u32)>,
    /// order id → (side, price, open qty), from the order and trade events.
    pub orders: HashMap<OrderId, (Side, Price, u64)>,
    pub volume: u64,
    pub turnover: i64,
    pub last: Option<Price>,
    pub phase: Option<TradingPhase>,
    pub indicative: Option<Uncross>,
    /// The channel sequence of its last event.
    pub last_seq: u64,
}

/// A trade as (security, exec id, price, qty, buy order, sell order).
pub type TradeRow = (SecurityId, u64, i64, u64, u64, u64);

/// Every security and channel the feed has spoken of.
#[derive(Default, Debug)]
pub struct FeedModel {
    pub books: HashMap<SecurityId, ModelBook>,
    pub seqs: HashMap<u16, u64>,
    /// (security, exec id, price, qty, buy, sell) of every trade, in order.
    pub trades: Vec<TradeRow>,
}

impl FeedModel {
    /// Applies the market-data events among `events`; returns the venue's own trade
    /// prints among them, for comparison with the feed's.
    pub fn apply(&mut self, events: &[Event]) -> Result<Vec<TradeRow>, String> {
        let mut venue_trades = Vec::new();
        for e in events {
            match *e {
                Event::Trade { security, exec_id, price, qty, buy_order_id, sell_order_id } => {
                    venue_trades.push((
                        security,
                        exec_id,
                        price.0,
                        qty.0,
                        buy_order_id,
                        sell_order_id,
                    ))
                }
                Event::Market(m) => {
                    let seq = self.seqs.entry(m.channel).or_insert(0);
                    if m.seq != *seq + 1 {
                        return Err(format!("channel {} seq {} after {}", m.channel, m.seq, seq));
                    }
                    *seq = m.seq;
                    if m.channel != protocol::marketdata::channel_of(m.security) {
                        return Err(format!("{} on channel {}", m.security, m.channel));
                    }
                    let book = self.books.entry(m.security).or_default();
                    if m.prev_seq != book.last_seq {
                        return Err(format!(
                            "{} prev_seq {} after {}",
                            m.security, m.prev_seq, book.last_seq
                        ));
                    }
                    book.last_seq = m.seq;
                    apply_one(book, m.kind)?;
                    if let MarketEventKind::Trade {
                        exec_id,
                        price,
                        qty,
                        buy_order_id,
                        sell_order_id,
                        ..
                    } = m.kind
                    {
                        self.trades.push((
                            m.security,
                            exec_id,
                            price.0,
                            qty.0,
                            buy_order_id,
                            sell_order_id,
                        ));
                    }
                }
                _ => {}
            }
        }
        Ok(venue_trades)
    }

    /// Every level, both books of the model (levels and orders) and the day's
    /// trading equal the venue's.
    pub fn check<M: Matcher>(&self, ex: &Exchange<M>, security: SecurityId) -> Result<(), String> {
        let mut bids = vec![Level::default(); 4096];
        let mut asks = vec![Level::default(); 4096];
        let snap = ex.market_snapshot(security, &mut bids, &mut asks).ok_or("unlisted")?;
        let empty = ModelBook::default();
        let book = self.books.get(&security).unwrap_or(&empty);
        let seq = self.seqs.get(&snap.channel).copied().unwrap_or(0);
        if snap.seq != seq {
            return Err(format!("snapshot seq {} but the feed is at {seq}", snap.seq));
        }
        if snap.security_seq != book.last_seq {
            return Err(format!(
                "snapshot security seq {} vs {}",
                snap.security_seq, book.last_seq
            ));
        }
        let venue: BTreeMap<(u8, i64), (u64, u32)> = bids[..snap.bid_levels]
            .iter()
            .map(|l| ((Side::Buy.as_u8(), l.price.0), (l.qty.0, l.orders)))
            .chain(
                asks[..snap.ask_levels]
                    .iter()
                    .map(|l| ((Side::Sell.as_u8(), l.price.0), (l.qty.0, l.orders))),
            )
            .collect();
        if venue != book.levels {
            return Err(format!(
                "{security}: venue levels {venue:?}\nfeed levels {:?}",
                book.levels
            ));
        }
        let mut from_orders: BTreeMap<(u8, i64), (u64, u32)> = BTreeMap::new();
        for &(side, price, qty) in book.orders.values() {
            let l = from_orders.entry((side.as_u8(), price.0)).or_default();
            l.0 += qty;
            l.1 += 1;
        }
        if from_orders != book.levels {
            return Err(format!(
                "{security}: orders make {from_orders:?}\nlevels say {:?}",
                book.levels
            ));
        }
        let l1 = snap.l1;
        if (l1.volume.0, l1.turnover) != (book.volume, book.turnover) {
            return Err(format!("{security}: volume/turnover {l1:?} vs {book:?}"));
        }
        if book.last.is_some() && book.last != Some(l1.last) {
            return Err(format!("{security}: last {:?} vs {:?}", l1.last, book.last));
        }
        if let Some(phase) = book.phase
            && phase != l1.phase
        {
            return Err(format!("{security}: phase {:?} vs {phase:?}", l1.phase));
        }
        let auction = matches!(
            l1.phase,
            TradingPhase::OpeningAuction
                | TradingPhase::OpeningAuctionNoCancel
                | TradingPhase::ClosingAuction
        );
        let indicative = if auction { ex.indicative_uncross(security) } else { None };
        if indicative != book.indicative {
            return Err(format!(
                "{security}: indicative {indicative:?} vs feed {:?}",
                book.indicative
            ));
        }
        Ok(())
    }
}

fn apply_one(book: &mut ModelBook, kind: MarketEventKind) -> Result<(), String> {
    match kind {
        MarketEventKind::Level { side, price, qty, orders } => {
            if (qty.0 == 0) != (orders == 0) {
                return Err(format!("level {price} qty {qty} with {orders} orders"));
            }
            if qty.0 == 0 {
                book.levels.remove(&(side.as_u8(), price.0));
            } else {
                book.levels.insert((side.as_u8(), price.0), (qty.0, orders));
            }
        }
        MarketEventKind::Trade { price, qty, buy_order_id, sell_order_id, .. } => {
            for id in [buy_order_id, sell_order_id] {
                // The incoming order is not in the book yet: only resting orders fall.
                if let Some(o) = book.orders.get_mut(&id) {
                    o.2 = o.2.checked_sub(qty.0).ok_or("a trade above an order's open qty")?;
                    if o.2 == 0 {
                        book.orders.remove(&id);
                    }
                }
            }
            book.volume += qty.0;
            book.turnover += price.0 * qty.0 as i64;
            book.last = Some(price);
        }
        MarketEventKind::OrderAdded { order_id, side, price, qty } => {
            if book.orders.insert(order_id, (side, price, qty.0)).is_some() {
                return Err(format!("order {order_id} added twice"));
            }
        }
        MarketEventKind::OrderReduced { order_id, qty } => {
            let o = book.orders.get_mut(&order_id).ok_or("reduce of an unknown order")?;
            o.2 = qty.0;
        }
        MarketEventKind::OrderRemoved { order_id } => {
            book.orders.remove(&order_id).ok_or(format!("removal of unknown order {order_id}"))?;
        }
        MarketEventKind::Phase { phase, .. } => book.phase = Some(phase),
        MarketEventKind::Indicative(u) => book.indicative = u,
    }
    Ok(())
}
