//! Snapshots: an exchange restored from a snapshot taken part-way through a random
//! sequence of operations answers the rest of the sequence exactly as the original
//! does (same events, same views, same validation, same next snapshot), and a
//! truncated or damaged snapshot is an error, never a panic.

mod common;

use std::collections::HashMap;

use common::*;
use proptest::prelude::*;
use protocol::{OrderType, Price, Qty, SecurityId, Side, TimeInForce, TradingPhase};
use sim_exchange::{Event, Exchange, ExchangeConfig, Level, Schedule, SnapshotError, VenueOrder};

#[derive(Clone, Debug)]
enum Op {
    New { owner: u32, buy: bool, kind: u8, ticks: i64, lots: u64, second: bool },
    Cancel { pick: usize },
    Replace { pick: usize, ticks: i64, lots: u64, same_price: bool },
    Phase { which: u8, all: bool },
    Halt { all: bool },
    Resume { auction: bool },
    Pause { ns: u64 },
    AckDelay { ns: u64 },
    Wait { ns: u64 },
    EndOfDay,
}

/// `wait_ns`: the longest wait, so that an A-share schedule crosses its boundaries.
fn op(wait_ns: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (0u32..3, any::<bool>(), 0u8..10, -6i64..=6, 1u64..6, prop::bool::weighted(0.2))
            .prop_map(|(owner, buy, kind, ticks, lots, second)| Op::New { owner, buy, kind, ticks, lots, second }),
        3 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        4 => (any::<usize>(), -6i64..=6, 1u64..6, prop::bool::weighted(0.4))
            .prop_map(|(pick, ticks, lots, same_price)| Op::Replace { pick, ticks, lots, same_price }),
        1 => (0u8..7, any::<bool>()).prop_map(|(which, all)| Op::Phase { which, all }),
        1 => any::<bool>().prop_map(|all| Op::Halt { all }),
        1 => any::<bool>().prop_map(|auction| Op::Resume { auction }),
        1 => (1u64..50).prop_map(|ns| Op::Pause { ns }),
        1 => prop_oneof![Just(0u64), 1u64..20].prop_map(|ns| Op::AckDelay { ns }),
        3 => (1u64..wait_ns).prop_map(|ns| Op::Wait { ns }),
        1 => Just(Op::EndOfDay),
    ]
}

/// One call on the exchange, with everything resolved.
#[derive(Clone, Copy, Debug)]
enum Action {
    Submit(VenueOrder),
    Cancel(u64),
    Replace(u64, Price, Qty),
    SetPhase(Option<SecurityId>, TradingPhase),
    Halt(Option<SecurityId>),
    Resume(Option<u64>),
    Pause(u64),
    AckDelay(u64),
    Advance,
    EndOfDay,
}

fn act(ex: &mut Exchange, action: Action, now: u64) -> Vec<Event> {
    let mut out = Vec::new();
    let sink = &mut |e| out.push(e);
    match action {
        Action::Submit(o) => ex.submit(&o, now, sink),
        Action::Cancel(id) => ex.cancel(id, now, sink),
        Action::Replace(id, price, qty) => ex.replace(id, price, qty, now, sink),
        Action::SetPhase(security, phase) => ex.set_phase(security, phase, now, sink),
        Action::Halt(security) => ex.halt(security, now, sink),
        Action::Resume(None) => ex.resume(Some(SEC), now, sink),
        Action::Resume(Some(ns)) => ex.resume_with_auction(Some(SEC), ns, now, sink),
        Action::Pause(until) => ex.pause_matching(until),
        Action::AckDelay(ns) => ex.set_ack_delay(ns),
        Action::Advance => ex.advance(now, sink),
        Action::EndOfDay => ex.end_of_day(now, sink),
    }
    out
}

/// Turns ops into actions: fresh order ids, cancels and replaces of orders seen
/// accepted, the clock.
struct Driver {
    now: u64,
    next_id: u64,
    accepted: Vec<u64>,
    prices: HashMap<u64, Price>,
}

impl Driver {
    fn resolve(&mut self, op: &Op) -> Action {
        self.now += 1;
        let pick = |pick: usize, d: &Driver| {
            if pick.is_multiple_of(8) || d.accepted.is_empty() {
                (pick % (d.next_id as usize + 2)) as u64
            } else {
                d.accepted[pick % d.accepted.len()]
            }
        };
        match *op {
            Op::New { owner, buy, kind, ticks, lots, second } => {
                let (order_type, tif) = match kind {
                    0..=3 => (OrderType::Limit, TimeInForce::Day),
                    4 => (OrderType::Limit, TimeInForce::Ioc),
                    5 => (OrderType::Limit, TimeInForce::Fok),
                    6 => (OrderType::MarketBestOwn, TimeInForce::Day),
                    7 => (OrderType::MarketBestCounter, TimeInForce::Day),
                    8 => (OrderType::MarketBest5Cancel, TimeInForce::Ioc),
                    // Market IOC is a Shenzhen type (SEC2), best-5-then-limit a Shanghai one.
                    _ if second => (OrderType::MarketIoc, TimeInForce::Ioc),
                    _ => (OrderType::MarketBest5Limit, TimeInForce::Day),
                };
                let o = VenueOrder {
                    order_id: self.next_id,
                    owner,
                    security: if second { SEC2 } else { SEC },
                    side: if buy { Side::Buy } else { Side::Sell },
                    order_type,
                    tif,
                    price: if order_type.is_market() {
                        Price::ZERO
                    } else {
                        Price(100_000 + ticks * 100)
                    },
                    qty: Qty(lots * if kind >= 8 { 400 } else { 100 }),
                };
                self.next_id += 1;
                self.prices.insert(o.order_id, o.price);
                Action::Submit(o)
            }
            Op::Cancel { pick: n } => Action::Cancel(pick(n, self)),
            Op::Replace { pick: n, ticks, lots, same_price } => {
                let id = pick(n, self);
                let price = match (same_price, self.prices.get(&id)) {
                    (true, Some(&price)) => price,
                    _ => Price(100_000 + ticks * 100),
                };
                self.prices.insert(id, price);
                Action::Replace(id, price, Qty(lots * 100))
            }
            Op::Phase { which, all } => {
                Action::SetPhase((!all).then_some(SEC), PHASES[which as usize])
            }
            Op::Halt { all } => Action::Halt((!all).then_some(SEC)),
            Op::Resume { auction } => Action::Resume(auction.then_some(25)),
            Op::Pause { ns } => Action::Pause(self.now + ns),
            Op::AckDelay { ns } => Action::AckDelay(ns),
            Op::Wait { ns } => {
                self.now += ns;
                Action::Advance
            }
            Op::EndOfDay => Action::EndOfDay,
        }
    }

    fn observe(&mut self, events: &[Event]) {
        for e in events {
            if let Event::Accepted { order_id } = e {
                self.accepted.push(*order_id);
            }
        }
    }
}

fn depth(ex: &Exchange, security: SecurityId) -> (Vec<Level>, Vec<Level>) {
    let mut bids = [Level::default(); 64];
    let mut asks = [Level::default(); 64];
    let (nb, na) = ex.l2(security, &mut bids, &mut asks).unwrap();
    (bids[..nb].to_vec(), asks[..na].to_vec())
}

/// Everything a caller can see of an exchange.
fn views(ex: &Exchange) -> String {
    let mut out = format!(
        "validate {:?} open {} queued {} deadline {:?} memory {}\n",
        ex.validate(),
        ex.open_orders(),
        ex.queued(),
        ex.next_deadline(),
        ex.memory_bytes()
    );
    for s in [SEC, SEC2] {
        out += &format!(
            "{s}: {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}\n",
            ex.phase(s),
            ex.l1(s),
            depth(ex, s),
            ex.indicative_uncross(s),
            ex.reference_price(s, Side::Buy),
            ex.reference_price(s, Side::Sell),
            ex.last_price(s),
            ex.price_band(s),
        );
    }
    out
}

fn snapshot(ex: &Exchange) -> Vec<u8> {
    let mut bytes = Vec::new();
    ex.snapshot_to(&mut bytes).unwrap();
    bytes
}

/// Restores from `bytes` followed by other data, which must be left unread.
fn restore(bytes: &[u8]) -> Exchange {
    let mut stream = [bytes, b"next"].concat();
    let mut r = stream.as_slice();
    let ex = Exchange::restore_from(&mut r).expect("a snapshot restores");
    assert_eq!(r, b"next", "restoring reads exactly the snapshot");
    stream.clear();
    ex
}

fn run(cfg: ExchangeConfig, start_ns: u64, ops: &[Op], split: usize) -> Result<(), TestCaseError> {
    let mut original = Exchange::new(cfg).unwrap();
    let mut restored: Option<Exchange> = None;
    let mut d = Driver { now: start_ns, next_id: 1, accepted: Vec::new(), prices: HashMap::new() };
    for (i, op) in ops.iter().enumerate() {
        if i == split {
            let bytes = snapshot(&original);
            let copy = restore(&bytes);
            prop_assert_eq!(views(&copy), views(&original));
            prop_assert!(snapshot(&copy) == bytes, "a restored exchange snapshots the same bytes");
            restored = Some(copy);
        }
        let action = d.resolve(op);
        let events = act(&mut original, action, d.now);
        prop_assert!(original.validate().is_ok(), "{:?}", original.validate());
        if let Some(copy) = restored.as_mut() {
            prop_assert_eq!(&act(copy, action, d.now), &events, "after {:?}", action);
            prop_assert_eq!(views(copy), views(&original));
        }
        d.observe(&events);
    }
    if let Some(copy) = restored {
        prop_assert!(snapshot(&copy) == snapshot(&original), "the same state at the end");
    }
    Ok(())
}

fn two_instruments(schedule: Schedule) -> ExchangeConfig {
    // SEC2 without daily limits: an array of four ticks and three overflow levels a
    // side, so that snapshots carry overflow levels.
    let mut ipo = spec(SEC2, "10.00");
    ipo.no_price_limit = true;
    let mut cfg = config(vec![spec(SEC, "10.00"), ipo], schedule);
    cfg.max_levels_per_side = 4;
    cfg.overflow_levels_per_side = 3;
    cfg.max_orders = 40;
    cfg.inbound_queue_capacity = 8;
    cfg
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn restored_exchange_continues_identically(
        ops in prop::collection::vec(op(40), 1..160),
        split in any::<prop::sample::Index>(),
        stp in any::<bool>(),
    ) {
        let mut cfg = two_instruments(Schedule::AlwaysContinuous);
        cfg.self_trade_prevention = stp;
        run(cfg, 1, &ops, split.index(ops.len()))?;
    }

    /// On the A-share clock from 9:14, with waits of up to a minute: auctions,
    /// their uncrosses and the breaks fall on both sides of the snapshot.
    #[test]
    fn restored_exchange_keeps_the_schedule(
        ops in prop::collection::vec(op(60_000_000_000), 1..160),
        split in any::<prop::sample::Index>(),
    ) {
        let cfg = two_instruments(Schedule::AShare { utc_offset_s: BEIJING });
        run(cfg, at(9, 14, 0), &ops, split.index(ops.len()))?;
    }
}

/// A venue with resting orders on both sides of two books, queued operations, a
/// halt with a reopening auction pending and statistics.
fn busy() -> Exchange {
    let mut ex = Exchange::new(two_instruments(Schedule::AlwaysContinuous)).unwrap();
    let sink = &mut |_| {};
    for i in 0..12u64 {
        let side = if i % 2 == 0 { Side::Buy } else { Side::Sell };
        let ticks = if side == Side::Buy { -(i as i64) - 1 } else { i as i64 + 1 };
        let mut o = limit(i + 1, side, "10.00", 100 * (i + 1));
        o.price = Price(100_000 + ticks * 100);
        o.security = if i % 3 == 0 { SEC2 } else { SEC };
        ex.submit(&o, 10 + i, sink);
    }
    ex.submit(&limit(50, Side::Buy, "10.05", 300), 30, sink);
    ex.resume_with_auction(Some(SEC), 1_000, 31, sink);
    ex.halt(Some(SEC2), 32, sink);
    ex.set_ack_delay(5);
    ex.submit(&limit(51, Side::Sell, "10.10", 100), 33, sink);
    ex.cancel(3, 34, sink);
    assert!(ex.queued() > 0 && ex.open_orders() > 0);
    ex
}

#[test]
fn a_cut_short_snapshot_is_an_error() {
    let bytes = snapshot(&busy());
    for len in 0..bytes.len() {
        match Exchange::restore_from(&mut &bytes[..len]) {
            Err(SnapshotError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            other => panic!("{len} of {} bytes: {other:?}", bytes.len()),
        }
    }
}

#[test]
fn a_damaged_snapshot_is_an_error() {
    let ex = busy();
    let bytes = snapshot(&ex);
    for at in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[at] ^= flip;
            // Header, state (under its checksum) and end marker: any change is caught.
            assert!(Exchange::restore_from(&mut bad.as_slice()).is_err(), "byte {at} ^ {flip:#x}");
        }
    }
    let mut wrong_version = bytes.clone();
    wrong_version[8] = 4;
    assert!(matches!(
        Exchange::restore_from(&mut wrong_version.as_slice()),
        Err(SnapshotError::Version { found: 4, expected: 3 })
    ));
    assert!(matches!(
        Exchange::restore_from(&mut &b"not a snapshot at all"[..]),
        Err(SnapshotError::NotASnapshot)
    ));
}

#[test]
fn pools_come_back_at_full_size() {
    let mut cfg = two_instruments(Schedule::AlwaysContinuous);
    cfg.max_orders = 5_000;
    cfg.inbound_queue_capacity = 300;
    let mut ex = Exchange::new(cfg).unwrap();
    let sink = &mut |_| {};
    for i in 0..100u64 {
        ex.submit(&limit(i + 1, Side::Buy, "9.50", 100), 10 + i, sink);
    }
    let copy = restore(&snapshot(&ex));
    assert_eq!(copy.memory_bytes(), ex.memory_bytes());
    assert_eq!(copy.open_orders(), 100);
    // The restored pool takes the rest of its capacity without growing.
    let mut copy = copy;
    let mut refused = 0;
    for i in 100..5_001u64 {
        copy.submit(&limit(i + 1, Side::Buy, "9.50", 100), 1_000 + i, &mut |e| {
            if matches!(e, Event::Rejected { .. }) {
                refused += 1;
            }
        });
    }
    assert_eq!((copy.open_orders(), refused), (5_000, 1));
    assert_eq!(copy.memory_bytes(), ex.memory_bytes());
}
