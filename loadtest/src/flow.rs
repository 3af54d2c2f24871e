//! The order flow: which message, for which account and instrument, at what price.
//!
//! Prices sit around a per-instrument mid that follows the scenario's target move
//! (a crash walks toward limit-down) but never strays more than 1% from the last
//! trade the harness saw, so ordinary orders stay inside the price cage and the
//! fat-finger collar and the deliberate rejects are the only ones. Quantities cycle
//! per account, so the 100 ms duplicate-order guard does not fire on the flow's own
//! repetition.

use protocol::codec::{NewOrder, order_flags};
use protocol::rules::needs_protective_price;
use protocol::{CreditTag, Market, OrderType, Price, Qty, Side, TimeInForce};

use crate::clock::Rng;
use crate::scenario::{FlowOverride, RawFlow};
use crate::tracker::Intent;
use crate::universe::{Universe, Use};

/// The flow's settings in force now (scenario flow plus the segment's overrides).
#[derive(Clone, Copy, Debug)]
pub struct Mix {
    /// Cancels among messages.
    pub cancel_share: f64,
    /// Replaces among messages.
    pub replace_share: f64,
    /// Deliberate rejects among new orders.
    pub reject_share: f64,
    /// Confirmations among new orders.
    pub confirm_share: f64,
    /// Limit IOC among new orders.
    pub ioc_share: f64,
    /// Market types among new orders.
    pub market_share: f64,
    /// Buys among new orders.
    pub buy_share: f64,
    /// Crossing limit orders.
    pub aggressive_share: f64,
    /// Queries among session actions.
    pub query_share: f64,
}

impl Mix {
    /// The mix of `flow` with a segment's overrides.
    pub fn of(flow: &RawFlow, o: &FlowOverride) -> Mix {
        Mix {
            cancel_share: o.cancel_share.unwrap_or(flow.cancel_share),
            replace_share: o.replace_share.unwrap_or(flow.replace_share),
            reject_share: o.reject_share.unwrap_or(flow.reject_share),
            confirm_share: flow.confirm_share,
            ioc_share: flow.ioc_share,
            market_share: o.market_share.unwrap_or(flow.market_share),
            buy_share: o.buy_share.unwrap_or(flow.buy_share),
            aggressive_share: o.aggressive_share.unwrap_or(flow.aggressive_share),
            query_share: flow.query_share,
        }
    }
}

/// Per session: the (account, instrument) pairs good for each use.
#[derive(Clone, Debug, Default)]
struct Pairs {
    buy: Vec<(u16, u16)>,
    sell: Vec<(u16, u16)>,
    funds: Vec<(u16, u16)>,
    board: Vec<(u16, u16)>,
    confirm: Vec<(u16, u16)>,
}

/// What kind of message comes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// A new order.
    New,
    /// Cancel an open order.
    Cancel,
    /// Replace an open order.
    Replace,
    /// Ask a query.
    Query,
}

/// A new order and what it is meant to do.
#[derive(Clone, Copy, Debug)]
pub struct Built {
    /// The order (its `cl_ord_id` is filled in by the caller).
    pub order: NewOrder,
    /// Account index.
    pub account: u16,
    /// Instrument index.
    pub instr: u16,
    /// Meant outcome.
    pub intent: Intent,
    /// Ends at once (IOC or FOK time in force): its terminal state is expected right
    /// after its answer.
    pub marketable: bool,
}

/// The flow generator.
#[derive(Debug)]
pub struct Flow {
    rng: Rng,
    pairs: Vec<Pairs>,
    /// Last trade seen per instrument (1/10000 CNY).
    last: Vec<i64>,
    qty_cycle: Vec<u32>,
    spread_ticks: i64,
}

impl Flow {
    /// A flow over `u` with `seed`.
    pub fn new(u: &Universe, flow: &RawFlow, seed: u64) -> Flow {
        let mut pairs = Vec::with_capacity(u.logins.len());
        for login in &u.logins {
            let mut p = Pairs::default();
            for &a in &login.accounts {
                for i in 0..u.instruments.len() {
                    let uses = u.uses(a, i);
                    // An account that may both buy and sell an instrument trades only
                    // one side of it (by parity), so the flow never crosses its own
                    // resting orders: self-trade prevention stays live but quiet.
                    let both = uses.contains(&Use::Buy) && uses.contains(&Use::Sell);
                    for use_ in uses {
                        let pair = (a as u16, i as u16);
                        let parity_buy = (a + i) % 2 == 0;
                        if both
                            && ((use_ == Use::Buy) != parity_buy)
                            && matches!(use_, Use::Buy | Use::Sell)
                        {
                            continue;
                        }
                        match use_ {
                            Use::Buy => p.buy.push(pair),
                            Use::Sell => p.sell.push(pair),
                            Use::FundsReject => p.funds.push(pair),
                            Use::BoardReject => p.board.push(pair),
                            Use::Confirm => p.confirm.push(pair),
                        }
                    }
                }
            }
            pairs.push(p);
        }
        Flow {
            rng: Rng::new(seed),
            pairs,
            last: u.instruments.iter().map(|i| i.prev_close.0).collect(),
            qty_cycle: vec![0; u.accounts.len()],
            spread_ticks: i64::from(flow.spread_ticks),
        }
    }

    /// The random source (shared with the schedule's choices).
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    /// A trade was seen.
    pub fn on_trade(&mut self, instr: usize, price: i64) {
        if let Some(l) = self.last.get_mut(instr) {
            *l = price;
        }
    }

    /// Last trade per instrument.
    pub fn last_prices(&self) -> &[i64] {
        &self.last
    }

    /// True when the session can send ordinary orders at all.
    pub fn can_trade(&self, session: usize) -> bool {
        let p = &self.pairs[session];
        !p.buy.is_empty() || !p.sell.is_empty()
    }

    /// Picks the next message kind.
    pub fn next_kind(&mut self, mix: &Mix, open: usize, max_open: usize) -> Next {
        // No draw without queries, so a flow without them is the flow it always was.
        if mix.query_share > 0.0 && self.rng.unit() < mix.query_share {
            return Next::Query;
        }
        if open >= max_open {
            return Next::Cancel;
        }
        let x = self.rng.unit();
        if open > 0 && x < mix.cancel_share {
            Next::Cancel
        } else if open > 0 && x < mix.cancel_share + mix.replace_share {
            Next::Replace
        } else {
            Next::New
        }
    }

    fn mid(&self, u: &Universe, instr: usize, target_pct: f64) -> i64 {
        let x = &u.instruments[instr];
        let tick = x.rules.tick.0;
        let target = (x.prev_close.0 as f64 * (1.0 + target_pct / 100.0)) as i64;
        let last = self.last[instr];
        let lo = last - last / 100;
        let hi = last + last / 100;
        let mid = target.clamp(lo.min(hi), hi.max(lo)).clamp(x.lower.0, x.upper.0);
        (mid / tick) * tick
    }

    fn qty(&mut self, u: &Universe, account: usize, instr: usize, price: i64) -> u64 {
        let x = &u.instruments[instr];
        let lot = x.rules.lot.min_qty.max(x.rules.lot.step).max(100);
        // Keep the notional under CNY 2,000,000 (the default cap is 5,000,000).
        let value_lot = (price.max(1) as u64).saturating_mul(lot) / Price::SCALE as u64;
        let max_k = (2_000_000 / value_lot.max(1)).clamp(1, 97);
        let c = &mut self.qty_cycle[account];
        *c = c.wrapping_add(1);
        lot * (1 + u64::from(*c) % max_k)
    }

    /// Builds a new order for `session`.
    pub fn new_order(
        &mut self,
        u: &Universe,
        session: usize,
        mix: &Mix,
        target_pct: f64,
    ) -> Option<Built> {
        let r = self.rng.unit();
        if r < mix.reject_share {
            return self.reject_order(u, session, target_pct);
        }
        if r < mix.reject_share + mix.confirm_share
            && let Some(b) = self.confirm_order(u, session, target_pct)
        {
            return Some(b);
        }
        let p = &self.pairs[session];
        let want_buy = self.rng.chance(mix.buy_share);
        let (list, side) = match (want_buy, p.buy.is_empty(), p.sell.is_empty()) {
            (_, true, true) => return None,
            (true, false, _) | (false, false, true) => (&p.buy, Side::Buy),
            _ => (&p.sell, Side::Sell),
        };
        let (account, instr) = list[self.rng.below(list.len() as u64) as usize];
        let (a, i) = (account as usize, instr as usize);
        let tick = u.instruments[i].rules.tick.0;
        let mid = self.mid(u, i, target_pct);
        let kind = self.rng.unit();
        let mut marketable = true;
        let (order_type, tif, price) = if kind < mix.market_share {
            // The market order types the instrument's exchange offers.
            let x = &u.instruments[i];
            let offered: &[OrderType] = match x.board.market() {
                Market::Sse => &[
                    OrderType::MarketBestCounter,
                    OrderType::MarketBest5Cancel,
                    OrderType::MarketBest5Limit,
                ],
                Market::Szse | Market::Bse => &[
                    OrderType::MarketBestCounter,
                    OrderType::MarketBest5Cancel,
                    OrderType::MarketIoc,
                    OrderType::MarketFok,
                ],
            };
            let t = offered[self.rng.below(offered.len() as u64) as usize];
            // STAR market orders carry a protective price: here the daily limit.
            let price = match (needs_protective_price(x.board), side) {
                (false, _) => 0,
                (true, Side::Buy) => x.upper.0,
                (true, Side::Sell) => x.lower.0,
            };
            (t, t.implied_tif().unwrap_or(TimeInForce::Day), price)
        } else {
            let aggressive = self.rng.chance(mix.aggressive_share);
            let away = if aggressive {
                -(self.rng.below(3) as i64)
            } else {
                1 + self.rng.below(self.spread_ticks as u64) as i64
            };
            let price = match side {
                Side::Buy => mid - away * tick,
                Side::Sell => mid + away * tick,
            };
            let x = &u.instruments[i];
            let price = price.clamp(x.lower.0, x.upper.0);
            let tif = if kind < mix.market_share + mix.ioc_share {
                TimeInForce::Ioc
            } else {
                TimeInForce::Day
            };
            (OrderType::Limit, tif, price)
        };
        let qty = self.qty(u, a, i, if price > 0 { price } else { mid });
        // Immediate-or-cancel and fill-or-kill orders end at once, whatever the book.
        marketable &= tif != TimeInForce::Day;
        Some(Built {
            order: order(u, a, i, side, order_type, tif, price, qty, 0),
            account,
            instr,
            intent: Intent::Normal,
            marketable,
        })
    }

    fn reject_order(&mut self, u: &Universe, session: usize, target_pct: f64) -> Option<Built> {
        let p = &self.pairs[session];
        // Whichever kinds this session's accounts allow, chosen evenly.
        let mut kinds: [Option<&Vec<(u16, u16)>>; 3] = [None, None, None];
        if !p.funds.is_empty() {
            kinds[0] = Some(&p.funds);
        }
        if !p.board.is_empty() {
            kinds[1] = Some(&p.board);
        }
        if !p.buy.is_empty() {
            kinds[2] = Some(&p.buy);
        }
        let choices: Vec<usize> = (0..3).filter(|&k| kinds[k].is_some()).collect();
        if choices.is_empty() {
            return None;
        }
        let k = choices[self.rng.below(choices.len() as u64) as usize];
        let list = kinds[k].expect("chosen from the present kinds");
        let (account, instr) = list[self.rng.below(list.len() as u64) as usize];
        let (a, i) = (account as usize, instr as usize);
        let x = &u.instruments[i];
        let mid = self.mid(u, i, target_pct);
        let lot = x.rules.lot.min_qty.max(100);
        let (price, qty) = match k {
            // Buying power: a poor account buys a few lots.
            0 => (mid, lot * 10),
            // Board permission.
            1 => (mid, lot),
            // Price limit: a buy above limit-up.
            _ => (x.upper.0 + 5 * x.rules.tick.0, lot),
        };
        Some(Built {
            order: order(u, a, i, Side::Buy, OrderType::Limit, TimeInForce::Day, price, qty, 0),
            account,
            instr,
            intent: Intent::Reject,
            marketable: false,
        })
    }

    fn confirm_order(&mut self, u: &Universe, session: usize, target_pct: f64) -> Option<Built> {
        let p = &self.pairs[session];
        if p.confirm.is_empty() {
            return None;
        }
        let (account, instr) = p.confirm[self.rng.below(p.confirm.len() as u64) as usize];
        let (a, i) = (account as usize, instr as usize);
        let tick = u.instruments[i].rules.tick.0;
        // Passive, so the confirmed order rests and is cancelled later like any other.
        let price = self.mid(u, i, target_pct) - (1 + self.rng.below(5) as i64) * tick;
        let qty = self.qty(u, a, i, price);
        Some(Built {
            order: order(u, a, i, Side::Buy, OrderType::Limit, TimeInForce::Day, price, qty, 0),
            account,
            instr,
            intent: Intent::Confirm,
            marketable: false,
        })
    }

    /// The confirmed resend of an order refused with CONFIRMATION_REQUIRED.
    pub fn confirmed(
        u: &Universe,
        account: usize,
        instr: usize,
        side: u8,
        price: i64,
        qty: u64,
    ) -> NewOrder {
        let side = Side::from_u8(side).unwrap_or(Side::Buy);
        order(
            u,
            account,
            instr,
            side,
            OrderType::Limit,
            TimeInForce::Day,
            price,
            qty,
            order_flags::SUITABILITY_CONFIRMED,
        )
    }

    /// A replace for an open limit order: one tick away, or one lot less.
    pub fn replace_terms(
        &mut self,
        u: &Universe,
        instr: usize,
        price: i64,
        qty: u64,
        cum: u64,
    ) -> (i64, u64) {
        let x = &u.instruments[instr];
        let lot = x.rules.lot.min_qty.max(100);
        if qty > cum + lot && qty - lot > 0 && self.rng.chance(0.5) {
            (price, qty - lot)
        } else {
            let tick = x.rules.tick.0;
            let p = if self.rng.chance(0.5) { price + tick } else { price - tick };
            (p.clamp(x.lower.0, x.upper.0), qty)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn order(
    u: &Universe,
    account: usize,
    instr: usize,
    side: Side,
    order_type: OrderType,
    tif: TimeInForce,
    price: i64,
    qty: u64,
    flags: u8,
) -> NewOrder {
    NewOrder {
        cl_ord_id: 0,
        account: u.accounts[account].id,
        security: u.instruments[instr].security,
        side,
        order_type,
        tif,
        price: Price(price),
        qty: Qty(qty),
        flags,
        credit: CreditTag::Cash,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    #[test]
    fn orders_are_valid_and_rejects_are_built_to_fail() {
        let s = Scenario::load("smoke").unwrap();
        let text = crate::universe::generate_gateway_toml(&s);
        let u = Universe::from_gateway_toml(&text, "gen").unwrap();
        let mut f = Flow::new(&u, &s.flow, 3);
        let mix =
            Mix { reject_share: 0.3, confirm_share: 0.1, ..Mix::of(&s.flow, &Default::default()) };
        let mut intents = [0u32; 4];
        for _ in 0..5_000 {
            let b = f.new_order(&u, 0, &mix, -3.0).unwrap();
            assert!(b.order.validate().is_ok(), "{:?}", b.order);
            let x = &u.instruments[b.instr as usize];
            if b.intent == Intent::Normal && b.order.order_type == OrderType::Limit {
                assert!(x.lower <= b.order.price && b.order.price <= x.upper);
                assert_eq!(b.order.price.0 % x.rules.tick.0, 0);
                assert!(b.order.qty.0.is_multiple_of(100));
            }
            intents[b.intent as usize] += 1;
        }
        assert!(intents[Intent::Reject as usize] > 1_000, "{intents:?}");
        assert!(intents[Intent::Confirm as usize] > 200, "{intents:?}");
    }

    #[test]
    fn queries_take_their_share_and_none_leaves_the_flow_as_it_was() {
        let s = Scenario::load("smoke").unwrap();
        let text = crate::universe::generate_gateway_toml(&s);
        let u = Universe::from_gateway_toml(&text, "gen").unwrap();
        let plain = Mix::of(&s.flow, &Default::default());
        let kinds = |mix: &Mix| {
            let mut f = Flow::new(&u, &s.flow, 7);
            (0..10_000).map(|_| f.next_kind(mix, 10, 100)).collect::<Vec<_>>()
        };
        let before = kinds(&plain);
        assert!(!before.contains(&Next::Query));
        assert_eq!(kinds(&Mix { query_share: 0.0, ..plain }), before, "same draws");
        let queries = kinds(&Mix { query_share: 0.25, ..plain });
        let n = queries.iter().filter(|k| **k == Next::Query).count();
        assert!((2_000..3_000).contains(&n), "{n} of 10,000");
    }
}
