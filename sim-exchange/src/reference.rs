//! The test oracle: a slow, obviously correct twin of [`crate::book::FastMatcher`].
//!
//! Each side of each book is a `Vec` of orders kept sorted by price priority and then
//! by arrival sequence; everything is found by scanning. It implements the same
//! [`Matcher`] contract, so `Exchange<ReferenceMatcher>` runs the same venue logic on
//! it, and the property tests hold both exchanges to identical event streams and
//! identical books. It is public for those tests and is not meant for production.

use crate::Exchange;
use crate::config::ConfigError;
use crate::event::{Event, Level, Uncross};
use crate::matcher::{
    BookSpec, FillSide, Fills, Incoming, Matcher, OrderInfo, auction_better, crosses, emit_match,
};
use protocol::{CancelReason, Liquidity, OrderId, Price, Qty, Side};

/// An exchange running on the reference books.
pub type ReferenceExchange = Exchange<ReferenceMatcher>;

#[derive(Clone, Copy, Debug)]
struct RefOrder {
    order_id: OrderId,
    owner: u32,
    price: Price,
    qty: u64,
    leaves: u64,
    cum: u64,
    seq: u64,
    is_market: bool,
}

#[derive(Clone, Debug)]
struct RefBook {
    spec: BookSpec,
    bids: Vec<RefOrder>,
    asks: Vec<RefOrder>,
}

impl RefBook {
    fn side(&self, side: Side) -> &Vec<RefOrder> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut Vec<RefOrder> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    /// Puts an order in and re-sorts the side into priority order.
    fn insert(&mut self, side: Side, order: RefOrder) {
        let orders = self.side_mut(side);
        orders.push(order);
        match side {
            Side::Buy => orders.sort_by_key(|o| (core::cmp::Reverse(o.price), o.seq)),
            Side::Sell => orders.sort_by_key(|o| (o.price, o.seq)),
        }
    }
}

/// The reference books.
#[derive(Clone, Debug)]
pub struct ReferenceMatcher {
    books: Vec<RefBook>,
    max_orders: usize,
    seq: u64,
}

impl ReferenceMatcher {
    fn live(&self) -> usize {
        self.books.iter().map(|b| b.bids.len() + b.asks.len()).sum()
    }

    fn locate(&self, order_id: OrderId) -> Option<(usize, Side, usize)> {
        for (inst, book) in self.books.iter().enumerate() {
            for side in [Side::Buy, Side::Sell] {
                if let Some(pos) = book.side(side).iter().position(|o| o.order_id == order_id) {
                    return Some((inst, side, pos));
                }
            }
        }
        None
    }

    /// The opposite orders an incoming order may reach, in priority order.
    fn reachable(&self, inst: usize, side: Side, limit: Price, max_levels: u32) -> Vec<RefOrder> {
        let mut prices: Vec<Price> = Vec::new();
        let mut out = Vec::new();
        for o in self.books[inst].side(side.opposite()) {
            if !crosses(side, limit, o.price) {
                break;
            }
            if !prices.contains(&o.price) {
                if prices.len() as u64 >= u64::from(max_levels) {
                    break;
                }
                prices.push(o.price);
            }
            out.push(*o);
        }
        out
    }

    /// Trades an incoming order; returns (leaves, cum).
    #[allow(clippy::too_many_arguments)]
    fn take<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        order_id: OrderId,
        side: Side,
        limit: Price,
        max_levels: u32,
        mut leaves: u64,
        mut cum: u64,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) -> (u64, u64) {
        let mut prices_traded: Vec<Price> = Vec::new();
        let opposite = self.books[inst].side_mut(side.opposite());
        while leaves > 0 && !opposite.is_empty() {
            let price = opposite[0].price;
            if !crosses(side, limit, price) {
                break;
            }
            if !prices_traded.contains(&price) {
                if prices_traded.len() as u64 >= u64::from(max_levels) {
                    break;
                }
                prices_traded.push(price);
            }
            let maker = &mut opposite[0];
            let q = leaves.min(maker.leaves);
            leaves -= q;
            cum += q;
            maker.leaves -= q;
            maker.cum += q;
            let m = *maker;
            emit_match(
                fills,
                price,
                q,
                side,
                FillSide { order_id, leaves, cum, liquidity: Liquidity::Removed },
                FillSide {
                    order_id: m.order_id,
                    leaves: m.leaves,
                    cum: m.cum,
                    liquidity: Liquidity::Added,
                },
                sink,
            );
            if m.leaves == 0 {
                opposite.remove(0);
            }
        }
        (leaves, cum)
    }
}

impl Matcher for ReferenceMatcher {
    type Handle = OrderId;

    fn build(books: &[BookSpec], max_orders: usize) -> Result<Self, ConfigError> {
        if max_orders == 0 {
            return Err(ConfigError::BadMaxOrders { got: 0, max: usize::MAX });
        }
        Ok(ReferenceMatcher {
            books: books
                .iter()
                .map(|&spec| RefBook { spec, bids: Vec::new(), asks: Vec::new() })
                .collect(),
            max_orders,
            seq: 0,
        })
    }

    fn free_slots(&self) -> usize {
        self.max_orders - self.live()
    }

    fn find(&self, order_id: OrderId) -> Option<OrderId> {
        self.locate(order_id).map(|_| order_id)
    }

    fn info(&self, order_id: OrderId) -> OrderInfo {
        let (inst, side, pos) = self.locate(order_id).expect("a handle names a live order");
        let o = self.books[inst].side(side)[pos];
        OrderInfo {
            order_id,
            inst,
            owner: o.owner,
            side,
            price: o.price,
            qty: Qty(o.qty),
            leaves: Qty(o.leaves),
            cum: Qty(o.cum),
            is_market: o.is_market,
        }
    }

    fn best(&self, inst: usize, side: Side) -> Option<Level> {
        let orders = self.books[inst].side(side);
        let price = orders.first()?.price;
        let at: Vec<&RefOrder> = orders.iter().filter(|o| o.price == price).collect();
        Some(Level { price, qty: Qty(at.iter().map(|o| o.leaves).sum()), orders: at.len() as u32 })
    }

    fn self_trade(
        &self,
        inst: usize,
        owner: u32,
        side: Side,
        limit: Price,
        max_levels: u32,
        qty: u64,
    ) -> bool {
        let mut remaining = qty;
        for o in self.reachable(inst, side, limit, max_levels) {
            if remaining == 0 {
                return false;
            }
            if o.owner == owner {
                return true;
            }
            remaining -= remaining.min(o.leaves);
        }
        false
    }

    fn can_rest(&self, inst: usize, side: Side, price: Price) -> bool {
        let book = &self.books[inst];
        let spec = book.spec;
        let outside = |p: Price| p < spec.lower || p > spec.upper;
        if !outside(price) || book.side(side).iter().any(|o| o.price == price) {
            return true;
        }
        let mut prices: Vec<Price> =
            book.side(side).iter().map(|o| o.price).filter(|&p| outside(p)).collect();
        prices.dedup();
        prices.len() < spec.overflow_levels as usize
    }

    fn available(&self, inst: usize, side: Side, limit: Price, max_levels: u32, want: u64) -> u64 {
        let total: u64 =
            self.reachable(inst, side, limit, max_levels).iter().map(|o| o.leaves).sum();
        total.min(want)
    }

    fn submit<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        o: &Incoming,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) {
        let (mut leaves, mut cum) = (o.qty.0, 0);
        if o.matches {
            (leaves, cum) = self.take(
                inst,
                o.order_id,
                o.side,
                o.price,
                o.max_levels,
                leaves,
                cum,
                fills,
                sink,
            );
        }
        if leaves == 0 {
            return;
        }
        let rest_at = o.rest_price(cum, fills.stats.last);
        if let Some(price) = rest_at.filter(|&p| self.can_rest(inst, o.side, p)) {
            assert!(self.live() < self.max_orders, "capacity checked by the exchange");
            self.seq += 1;
            let order = RefOrder {
                order_id: o.order_id,
                owner: o.owner,
                price,
                qty: o.qty.0,
                leaves,
                cum,
                seq: self.seq,
                is_market: o.is_market,
            };
            self.books[inst].insert(o.side, order);
        } else {
            sink(Event::Canceled {
                order_id: o.order_id,
                canceled_qty: Qty(leaves),
                cum: Qty(cum),
                reason: CancelReason::Venue,
            });
        }
    }

    fn reduce(&mut self, order_id: OrderId, qty: u64) {
        let (inst, side, pos) = self.locate(order_id).expect("a live order");
        let o = &mut self.books[inst].side_mut(side)[pos];
        assert!(qty > o.cum && qty <= o.qty);
        o.leaves -= o.qty - qty;
        o.qty = qty;
    }

    fn reprice<S: FnMut(Event)>(
        &mut self,
        order_id: OrderId,
        price: Price,
        qty: u64,
        matches: bool,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) {
        let (inst, side, pos) = self.locate(order_id).expect("a live order");
        let mut o = self.books[inst].side_mut(side).remove(pos);
        assert!(qty > o.cum);
        let (mut leaves, mut cum) = (qty - o.cum, o.cum);
        if matches {
            (leaves, cum) =
                self.take(inst, order_id, side, price, u32::MAX, leaves, cum, fills, sink);
        }
        if leaves > 0 {
            self.seq += 1;
            o.price = price;
            o.qty = qty;
            o.leaves = leaves;
            o.cum = cum;
            o.seq = self.seq;
            self.books[inst].insert(side, o);
        }
    }

    fn remove(&mut self, order_id: OrderId) -> OrderInfo {
        let info = self.info(order_id);
        let (inst, side, pos) = self.locate(order_id).expect("a live order");
        self.books[inst].side_mut(side).remove(pos);
        info
    }

    fn indicative(&self, inst: usize, reference: Price) -> Option<Uncross> {
        let book = &self.books[inst];
        let highest_bid = book.bids.iter().map(|o| o.price).max()?;
        let lowest_ask = book.asks.iter().map(|o| o.price).min()?;
        let mut best = None;
        let mut p = lowest_ask;
        while p <= highest_bid {
            let buy: u64 = book.bids.iter().filter(|o| o.price >= p).map(|o| o.leaves).sum();
            let sell: u64 = book.asks.iter().filter(|o| o.price <= p).map(|o| o.leaves).sum();
            let candidate =
                Uncross { price: p, qty: Qty(buy.min(sell)), imbalance: buy.abs_diff(sell) };
            if candidate.qty.0 > 0 && auction_better(candidate, best, reference) {
                best = Some(candidate);
            }
            p = Price(p.0 + book.spec.tick.0);
        }
        best
    }

    fn uncross<S: FnMut(Event)>(
        &mut self,
        inst: usize,
        reference: Price,
        fills: &mut Fills<'_>,
        sink: &mut S,
    ) -> Option<Uncross> {
        let result = self.indicative(inst, reference)?;
        let mut volume = result.qty.0;
        let book = &mut self.books[inst];
        while volume > 0 {
            let (b, a) = (&mut book.bids[0], &mut book.asks[0]);
            assert!(
                b.price >= result.price && a.price <= result.price,
                "only crossed orders trade"
            );
            let q = volume.min(b.leaves).min(a.leaves);
            volume -= q;
            b.leaves -= q;
            b.cum += q;
            a.leaves -= q;
            a.cum += q;
            let (b, a) = (*b, *a);
            emit_match(
                fills,
                result.price,
                q,
                Side::Buy,
                FillSide {
                    order_id: b.order_id,
                    leaves: b.leaves,
                    cum: b.cum,
                    liquidity: Liquidity::Auction,
                },
                FillSide {
                    order_id: a.order_id,
                    leaves: a.leaves,
                    cum: a.cum,
                    liquidity: Liquidity::Auction,
                },
                sink,
            );
            if b.leaves == 0 {
                book.bids.remove(0);
            }
            if a.leaves == 0 {
                book.asks.remove(0);
            }
        }
        Some(result)
    }

    fn cancel_all<S: FnMut(Event)>(&mut self, inst: usize, reason: CancelReason, sink: &mut S) {
        let book = &mut self.books[inst];
        for o in book.bids.drain(..).chain(book.asks.drain(..)) {
            sink(Event::Canceled {
                order_id: o.order_id,
                canceled_qty: Qty(o.leaves),
                cum: Qty(o.cum),
                reason,
            });
        }
    }

    fn level_at(&self, inst: usize, side: Side, price: Price) -> Level {
        let at: Vec<&RefOrder> =
            self.books[inst].side(side).iter().filter(|o| o.price == price).collect();
        Level { price, qty: Qty(at.iter().map(|o| o.leaves).sum()), orders: at.len() as u32 }
    }

    fn depth(&self, inst: usize, side: Side, out: &mut [Level]) -> usize {
        let mut n = 0;
        for o in self.books[inst].side(side) {
            if n > 0 && out[n - 1].price == o.price {
                out[n - 1].qty.0 += o.leaves;
                out[n - 1].orders += 1;
            } else {
                if n == out.len() {
                    break;
                }
                out[n] = Level { price: o.price, qty: Qty(o.leaves), orders: 1 };
                n += 1;
            }
        }
        n
    }

    fn validate(&self) -> Result<(), String> {
        if self.live() > self.max_orders {
            return Err("more resting orders than max_orders".into());
        }
        for book in &self.books {
            for o in book.bids.iter().chain(&book.asks) {
                if o.leaves == 0 || o.leaves + o.cum != o.qty {
                    return Err(format!("reference order {} is inconsistent", o.order_id));
                }
            }
        }
        Ok(())
    }
}
