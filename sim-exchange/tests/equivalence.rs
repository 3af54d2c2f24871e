//! Property test: random operation sequences drive the fast books and the reference
//! books through the same venue logic; both must emit identical event streams and
//! hold identical books after every operation, and both must keep their invariants.
//! With the market-data feed on, a subscriber's model replays the feed after every
//! operation and must hold every level, every resting order and every trade of the venue.

mod common;

use common::feed_model::FeedModel;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use protocol::{OrderType, Price, Qty, Side, TimeInForce, TradingPhase};
use sim_exchange::reference::ReferenceMatcher;
use sim_exchange::{Event, Exchange, FastMatcher, Level, Matcher, Schedule, VenueOrder};

#[derive(Clone, Debug)]
enum Op {
    New { owner: u32, side: Side, kind: u8, ticks: i64, lots: u64, odd: bool, second: bool },
    Cancel { pick: usize },
    Replace { pick: usize, ticks: i64, lots: u64, same_price: bool },
    Phase { which: u8, all: bool },
    Halt,
    Resume { auction: bool },
    Pause { ns: u64 },
    AckDelay { ns: u64 },
    Wait { ns: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        14 => trading_op(),
        1 => (0u8..7, any::<bool>()).prop_map(|(which, all)| Op::Phase { which, all }),
        1 => Just(Op::Halt),
        1 => any::<bool>().prop_map(|auction| Op::Resume { auction }),
        1 => (1u64..50).prop_map(|ns| Op::Pause { ns }),
        1 => prop_oneof![Just(0u64), 1u64..20].prop_map(|ns| Op::AckDelay { ns }),
        2 => (1u64..40).prop_map(|ns| Op::Wait { ns }),
    ]
}

/// New orders, cancels and replaces only.
fn trading_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u32..3, any::<bool>(), 0u8..10, -5i64..=5, 1u64..6, prop::bool::weighted(0.05), prop::bool::weighted(0.1))
            .prop_map(|(owner, buy, kind, ticks, lots, odd, second)| Op::New {
                owner,
                side: if buy { Side::Buy } else { Side::Sell },
                kind,
                ticks,
                lots,
                odd,
                second,
            }),
        3 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        6 => (any::<usize>(), -5i64..=5, 1u64..6, prop::bool::weighted(0.4))
            .prop_map(|(pick, ticks, lots, same_price)| Op::Replace { pick, ticks, lots, same_price }),
    ]
}

/// The order a `New` op describes.
fn order(id: u64, op: &Op) -> VenueOrder {
    let Op::New { owner, side, kind, ticks, lots, odd, second } = *op else { unreachable!() };
    let (order_type, tif) = match kind {
        0..=3 => (OrderType::Limit, TimeInForce::Day),
        4 => (OrderType::Limit, TimeInForce::Ioc),
        5 => (OrderType::Limit, TimeInForce::Fok),
        6 => (OrderType::MarketBestOwn, TimeInForce::Day),
        7 => (OrderType::MarketBestCounter, TimeInForce::Day),
        8 => (OrderType::MarketBest5Cancel, TimeInForce::Ioc),
        // Best-5-then-limit is a Shanghai type (SEC), market IOC and FOK Shenzhen ones (SEC2).
        _ => [
            (OrderType::MarketBest5Limit, TimeInForce::Day),
            (OrderType::MarketIoc, TimeInForce::Ioc),
            (OrderType::MarketFok, TimeInForce::Fok),
        ][(id % 3) as usize],
    };
    let second = second || matches!(order_type, OrderType::MarketIoc | OrderType::MarketFok);
    VenueOrder {
        order_id: id,
        owner,
        security: if second { SEC2 } else { SEC },
        side,
        order_type,
        tif,
        price: if order_type.is_market() { Price::ZERO } else { Price(100_000 + ticks * 100) },
        // Market orders come bigger, so that they sweep several levels.
        qty: Qty(if odd {
            50
        } else if kind >= 8 {
            lots * 400
        } else {
            lots * 100
        }),
    }
}

struct Pair {
    fast: Exchange<FastMatcher>,
    reference: Exchange<ReferenceMatcher>,
    now: u64,
    /// Order id → (answered, terminal events seen).
    orders: HashMap<u64, (u32, u32)>,
    accepted: Vec<u64>,
    /// The feed replayed, when it is on.
    model: Option<FeedModel>,
}

impl Pair {
    fn step(
        &mut self,
        f: impl Fn(&mut dyn FnMutExchange, u64, &mut Vec<Event>),
    ) -> Result<(), TestCaseError> {
        let mut a = Vec::new();
        let mut b = Vec::new();
        f(&mut self.fast, self.now, &mut a);
        f(&mut self.reference, self.now, &mut b);
        prop_assert_eq!(&a, &b);
        self.fast.validate().map_err(TestCaseError::fail)?;
        self.reference.validate().map_err(TestCaseError::fail)?;
        for security in [SEC, SEC2] {
            prop_assert_eq!(depth(&self.fast, security), depth(&self.reference, security));
            prop_assert_eq!(self.fast.l1(security), self.reference.l1(security));
            prop_assert_eq!(
                self.fast.indicative_uncross(security),
                self.reference.indicative_uncross(security)
            );
        }
        prop_assert_eq!(self.fast.open_orders(), self.reference.open_orders());
        prop_assert_eq!(self.fast.next_deadline(), self.reference.next_deadline());
        if let Some(model) = &mut self.model {
            let before = model.trades.len();
            let venue_trades = model.apply(&a).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&model.trades[before..], &venue_trades[..]);
            for security in [SEC, SEC2] {
                model.check(&self.fast, security).map_err(TestCaseError::fail)?;
            }
        } else {
            prop_assert!(!a.iter().any(|e| matches!(e, Event::Market(_))), "feed off, events on");
        }
        for e in &a {
            match *e {
                Event::Accepted { order_id } | Event::Rejected { order_id, .. } => {
                    let entry = self.orders.entry(order_id).or_default();
                    entry.0 += 1;
                    prop_assert_eq!(entry.0, 1, "order {} answered twice", order_id);
                    if matches!(e, Event::Accepted { .. }) {
                        self.accepted.push(order_id);
                    }
                }
                Event::Executed { order_id, leaves, .. } if leaves.0 == 0 => {
                    self.terminal(order_id)?
                }
                Event::Canceled { order_id, .. } => self.terminal(order_id)?,
                _ => {}
            }
        }
        Ok(())
    }

    fn terminal(&mut self, order_id: u64) -> Result<(), TestCaseError> {
        let entry = self.orders.entry(order_id).or_default();
        entry.1 += 1;
        prop_assert_eq!(entry.0, 1, "order {} ended before it was answered", order_id);
        prop_assert_eq!(entry.1, 1, "order {} ended twice", order_id);
        Ok(())
    }
}

fn depth<M: Matcher>(ex: &Exchange<M>, security: protocol::SecurityId) -> (Vec<Level>, Vec<Level>) {
    let mut bids = [Level::default(); 64];
    let mut asks = [Level::default(); 64];
    let (nb, na) = ex.l2(security, &mut bids, &mut asks).unwrap();
    (bids[..nb].to_vec(), asks[..na].to_vec())
}

/// The operations both exchanges take, as an object-safe trait so one closure drives both.
trait FnMutExchange {
    fn submit(&mut self, o: &VenueOrder, now: u64, out: &mut Vec<Event>);
    fn cancel(&mut self, id: u64, now: u64, out: &mut Vec<Event>);
    fn replace(&mut self, id: u64, price: Price, qty: Qty, now: u64, out: &mut Vec<Event>);
    fn set_phase(&mut self, all: bool, phase: TradingPhase, now: u64, out: &mut Vec<Event>);
    fn halt(&mut self, now: u64, out: &mut Vec<Event>);
    fn resume(&mut self, auction: bool, now: u64, out: &mut Vec<Event>);
    fn pause(&mut self, until: u64);
    fn ack_delay(&mut self, ns: u64);
    fn advance(&mut self, now: u64, out: &mut Vec<Event>);
    fn end_of_day(&mut self, now: u64, out: &mut Vec<Event>);
}

impl<M: Matcher> FnMutExchange for Exchange<M> {
    fn submit(&mut self, o: &VenueOrder, now: u64, out: &mut Vec<Event>) {
        Exchange::submit(self, o, now, &mut |e| out.push(e));
    }
    fn cancel(&mut self, id: u64, now: u64, out: &mut Vec<Event>) {
        Exchange::cancel(self, id, now, &mut |e| out.push(e));
    }
    fn replace(&mut self, id: u64, price: Price, qty: Qty, now: u64, out: &mut Vec<Event>) {
        Exchange::replace(self, id, price, qty, now, &mut |e| out.push(e));
    }
    fn set_phase(&mut self, all: bool, phase: TradingPhase, now: u64, out: &mut Vec<Event>) {
        let security = if all { None } else { Some(SEC) };
        Exchange::set_phase(self, security, phase, now, &mut |e| out.push(e));
    }
    fn halt(&mut self, now: u64, out: &mut Vec<Event>) {
        Exchange::halt(self, Some(SEC), now, &mut |e| out.push(e));
    }
    fn resume(&mut self, auction: bool, now: u64, out: &mut Vec<Event>) {
        if auction {
            Exchange::resume_with_auction(self, Some(SEC), 25, now, &mut |e| out.push(e));
        } else {
            Exchange::resume(self, Some(SEC), now, &mut |e| out.push(e));
        }
    }
    fn pause(&mut self, until: u64) {
        self.pause_matching(until);
    }
    fn ack_delay(&mut self, ns: u64) {
        self.set_ack_delay(ns);
    }
    fn advance(&mut self, now: u64, out: &mut Vec<Event>) {
        Exchange::advance(self, now, &mut |e| out.push(e));
    }
    fn end_of_day(&mut self, now: u64, out: &mut Vec<Event>) {
        Exchange::end_of_day(self, now, &mut |e| out.push(e));
    }
}

fn run(ops: &[Op], stp: bool, max_orders: usize, market_data: bool) -> Result<(), TestCaseError> {
    // SEC2 has no daily limit, an array of four ticks (9.98-10.01) and three overflow
    // levels a side, so that random prices fill the overflow and meet its capacity.
    let mut ipo = spec(SEC2, "10.00");
    ipo.no_price_limit = true;
    let mut cfg = config(vec![spec(SEC, "10.00"), ipo], Schedule::AlwaysContinuous);
    cfg.max_levels_per_side = 4;
    cfg.overflow_levels_per_side = 3;
    cfg.max_orders = max_orders;
    cfg.inbound_queue_capacity = 6;
    cfg.self_trade_prevention = stp;
    cfg.market_data = market_data;
    let mut pair = Pair {
        fast: Exchange::with_matcher(cfg.clone()).unwrap(),
        reference: Exchange::with_matcher(cfg).unwrap(),
        now: 1,
        orders: HashMap::new(),
        accepted: Vec::new(),
        model: market_data.then(FeedModel::default),
    };
    let mut next_id = 1u64;
    // The last price each order was sent with, so a replace can keep it.
    let mut prices: HashMap<u64, Price> = HashMap::new();
    for op in ops {
        pair.now += 1;
        // Cancels and replaces mostly name orders that were accepted, sometimes any id.
        let pick = |pick: usize, pair: &Pair| {
            if pick.is_multiple_of(8) || pair.accepted.is_empty() {
                (pick % (next_id as usize + 2)) as u64
            } else {
                pair.accepted[pick % pair.accepted.len()]
            }
        };
        match op {
            Op::New { .. } => {
                let o = order(next_id, op);
                next_id += 1;
                prices.insert(o.order_id, o.price);
                pair.step(|ex, now, out| ex.submit(&o, now, out))?;
            }
            Op::Cancel { pick: n } => {
                let id = pick(*n, &pair);
                pair.step(|ex, now, out| ex.cancel(id, now, out))?;
            }
            Op::Replace { pick: n, ticks, lots, same_price } => {
                let id = pick(*n, &pair);
                let price = match (same_price, prices.get(&id)) {
                    (true, Some(&price)) => price,
                    _ => Price(100_000 + ticks * 100),
                };
                prices.insert(id, price);
                pair.step(|ex, now, out| ex.replace(id, price, Qty(lots * 100), now, out))?;
            }
            Op::Phase { which, all } => {
                let phase = PHASES[*which as usize];
                pair.step(|ex, now, out| ex.set_phase(*all, phase, now, out))?;
            }
            Op::Halt => pair.step(|ex, now, out| ex.halt(now, out))?,
            Op::Resume { auction } => pair.step(|ex, now, out| ex.resume(*auction, now, out))?,
            Op::Pause { ns } => {
                let until = pair.now + ns;
                pair.step(|ex, _, _| ex.pause(until))?;
            }
            Op::AckDelay { ns } => pair.step(|ex, _, _| ex.ack_delay(*ns))?,
            Op::Wait { ns } => {
                pair.now += ns;
                pair.step(|ex, now, out| ex.advance(now, out))?;
            }
        }
    }
    // Drain everything, then close the day: every order is answered, every accepted one ended once.
    pair.now += 1_000;
    pair.step(|ex, now, out| {
        ex.ack_delay(0);
        ex.set_phase(true, TradingPhase::Continuous, now, out);
    })?;
    pair.step(|ex, now, out| ex.end_of_day(now, out))?;
    for (id, (answered, ended)) in &pair.orders {
        prop_assert_eq!(*answered, 1, "order {} answered {} times", id, answered);
        if pair.accepted.contains(id) {
            prop_assert_eq!(*ended, 1, "accepted order {} ended {} times", id, ended);
        }
    }
    prop_assert_eq!(pair.orders.len() as u64, next_id - 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn fast_and_reference_books_agree(ops in prop::collection::vec(op(), 1..200), stp in any::<bool>()) {
        run(&ops, stp, 24, false)?;
    }

    /// Phases, halts, auctions, queues and the end of day, with the feed on.
    #[test]
    fn market_data_replays_to_the_venue_books(ops in prop::collection::vec(op(), 1..200), stp in any::<bool>()) {
        run(&ops, stp, 24, true)?;
    }

    /// Deep continuous books with the feed on.
    #[test]
    fn market_data_replays_deep_books(ops in prop::collection::vec(trading_op(), 1..300), stp in any::<bool>()) {
        run(&ops, stp, 400, true)?;
    }

    /// Continuous trading only, with room for deep books.
    #[test]
    fn fast_and_reference_books_agree_on_deep_books(ops in prop::collection::vec(trading_op(), 1..300), stp in any::<bool>()) {
        run(&ops, stp, 400, false)?;
    }
}
