//! Matching-engine throughput and latency, three books on one identical stream.
//!
//! ```text
//!   seeded generator ──(one op stream, built once)──┬──> sim-exchange Exchange (ours)
//!                                                   ├──> the same, market-data feed on
//!                                                   ├──> BTreeMap<price, VecDeque> + HashMap (baseline)
//!                                                   └──> orderbook-rs 0.15 OrderBook (peer)
//! ```
//!
//! The mix is exchange-core's published one on one book: 9% new limit (Day/GTC),
//! 3% IOC limit, 6% cancel, 82% replace that moves the price. About 1,000 orders
//! rest over about 750 price levels (a 100.00 CNY main-board stock, ticks of 0.01,
//! prices within ±7.60 CNY of the middle). Above 1,000 resting orders a new order
//! is made aggressive (it crosses and takes several orders), which holds the book
//! near that size without changing the mix; the generator runs the baseline book as it goes so
//! every cancel and move names a live order.
//!
//! Each implementation runs the stream on a fresh book: a prefill of 1,000 orders
//! (not measured), then the measured operations. Throughput is the whole measured
//! stream timed as one batch (best of three runs). Latency is a separate run that
//! times every operation with two `Instant::now()` calls; the median cost of an
//! empty pair of calls is measured first and subtracted from each sample
//! (saturating at 0), and samples go to an HDR histogram.
//!
//! How the operations map:
//! * ours: `Exchange::submit` (Limit/Day or Limit/IOC), `cancel`, `replace(id, new
//!   price, same total qty)`; full venue validation runs on every operation (tick,
//!   lot, max qty, daily limit, phase; the price cage is off because the stream's
//!   prices span ±7.6%, and self-trade prevention is off); events go to a sink that
//!   counts them.
//! * baseline: the obvious book, written below: limit (match, then rest), IOC (match,
//!   drop the rest), cancel (index lookup, linear search in the level's queue), move
//!   (cancel, then re-enter the remaining quantity at the new price, matching first).
//! * orderbook-rs: `add_limit_order` with `TimeInForce::Gtc` / `Ioc`, `cancel_order`,
//!   and a move as `cancel_order` + `add_limit_order` of the remaining quantity at the
//!   new price, which is what its own `update_order(UpdatePrice)` does inside (that
//!   enum lives in the `pricelevel` crate, which is not a dependency here). It is a
//!   thread-safe book (atomics, `Arc` orders, trade listeners, order-state tracking),
//!   so it pays for concurrency the other two do not need.
//!
//! The second row is our exchange with `market_data = true`: the same stream, and
//! every level, trade and order event of the feed delivered to the same sink
//! (which counts them, as a publisher's ring push would touch them). The gap
//! between the two rows is what the feed costs the matcher.
//!
//! Checks (so nothing is silently measured empty): ours and the baseline must end
//! with the same resting orders, resting quantity and traded volume; orderbook-rs
//! must end with the same resting quantity and order count; every run must trade.
//!
//! Run: `cargo bench -p benches --bench matching` (set `MATCHING_OPS` to change the
//! measured stream length, default 2,000,000). A short criterion group of micro
//! operations follows the table.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;
use hdrhistogram::Histogram;
use orderbook_rs::{Id, OrderBook};
use protocol::{Board, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce};
use sim_exchange::{Event, Exchange, ExchangeConfig, InstrumentSpec, Schedule, VenueOrder};
use testkit::Rng;

const SEC: SecurityId = SecurityId { market: Market::Sse, code: 600_000 };
const TICK: i64 = 100;
const MID: i64 = 1_000_000; // 100.00 CNY: daily limits 90.00-110.00
const HALF_RANGE_TICKS: i64 = 760;
const TARGET_RESTING: usize = 1_000;
const PREFILL: usize = 1_000;

// ------------------------------------------------------------------ the stream

#[derive(Clone, Copy, Debug)]
enum Op {
    New {
        id: u64,
        side: Side,
        price: i64,
        qty: u64,
    },
    Ioc {
        id: u64,
        side: Side,
        price: i64,
        qty: u64,
    },
    Cancel {
        id: u64,
    },
    /// `qty` is the order's original total (ours keeps it; the others move what remains).
    Move {
        id: u64,
        price: i64,
        qty: u64,
    },
}

/// Builds the prefill and the measured stream, running the baseline as the oracle
/// of which orders are alive.
fn generate(measured: usize, seed: u64) -> (Vec<Op>, Vec<Op>) {
    let mut rng = Rng::new(seed);
    let mut book = Baseline::default();
    let mut live: Vec<u64> = Vec::new();
    let mut pos: HashMap<u64, usize> = HashMap::new();
    let mut orders: HashMap<u64, (Side, i64, u64)> = HashMap::new();
    let mut filled = Vec::new();
    let mut next_id = 1u64;
    let lo = MID - HALF_RANGE_TICKS * TICK;
    let hi = MID + HALF_RANGE_TICKS * TICK;
    let mut out = Vec::with_capacity(PREFILL + measured);
    for n in 0..PREFILL + measured {
        let roll = if n < PREFILL { 0 } else { rng.below(100) };
        let mut kind = match roll {
            0..=8 => 0,   // new
            9..=11 => 1,  // ioc
            12..=17 => 2, // cancel
            _ => 3,       // move
        };
        if live.is_empty() && kind >= 2 {
            kind = 0;
        }
        let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
        let op = match kind {
            0 => {
                // Passive around the book, a few ticks of overlap so some trade; above the
                // target size, a new order is aggressive instead (it crosses and takes
                // several resting orders), which holds the book near its size without
                // changing the mix.
                let (away, qty) = if live.len() > TARGET_RESTING && n >= PREFILL {
                    (-(rng.below(10) as i64), 100 * (5 + rng.below(20)))
                } else {
                    (rng.below(HALF_RANGE_TICKS as u64 + 3) as i64 - 2, 100 * (1 + rng.below(10)))
                };
                let price = match side {
                    Side::Buy => MID - away * TICK,
                    Side::Sell => MID + away * TICK,
                };
                let id = next_id;
                next_id += 1;
                orders.insert(id, (side, price, qty));
                Op::New { id, side, price, qty }
            }
            1 => {
                let into = rng.below(10) as i64;
                let price = match side {
                    Side::Buy => MID + into * TICK,
                    Side::Sell => MID - into * TICK,
                };
                let id = next_id;
                next_id += 1;
                Op::Ioc { id, side, price, qty: 100 * (1 + rng.below(10)) }
            }
            2 => Op::Cancel { id: live[rng.below(live.len() as u64) as usize] },
            _ => {
                let id = live[rng.below(live.len() as u64) as usize];
                let (side, old, qty) = orders[&id];
                let step = (1 + rng.below(8) as i64) * TICK;
                let mut price = if rng.below(2) == 0 { old + step } else { old - step };
                if price < lo || price > hi {
                    price = if price < lo { old + step } else { old - step };
                }
                orders.insert(id, (side, price, qty));
                Op::Move { id, price, qty }
            }
        };
        filled.clear();
        book.apply(&op, Some(&mut filled));
        let drop_live = |id: u64, live: &mut Vec<u64>, pos: &mut HashMap<u64, usize>| {
            if let Some(i) = pos.remove(&id) {
                live.swap_remove(i);
                if i < live.len() {
                    pos.insert(live[i], i);
                }
            }
        };
        for &id in &filled {
            drop_live(id, &mut live, &mut pos);
        }
        match op {
            Op::New { id, .. } | Op::Move { id, .. } => {
                let resting = book.index.contains_key(&id);
                if resting && !pos.contains_key(&id) {
                    pos.insert(id, live.len());
                    live.push(id);
                } else if !resting {
                    drop_live(id, &mut live, &mut pos);
                }
            }
            Op::Cancel { id } => drop_live(id, &mut live, &mut pos),
            Op::Ioc { .. } => {}
        }
        out.push(op);
    }
    let measured_ops = out.split_off(PREFILL);
    (out, measured_ops)
}

// ------------------------------------------------------------------ the baseline

#[derive(Clone, Copy, Debug)]
struct BOrder {
    id: u64,
    qty: u64,
}

/// The obvious book: a BTreeMap of FIFO queues per side and a HashMap id index.
#[derive(Default)]
struct Baseline {
    bids: BTreeMap<i64, VecDeque<BOrder>>,
    asks: BTreeMap<i64, VecDeque<BOrder>>,
    index: HashMap<u64, (Side, i64)>,
    volume: u64,
    trades: u64,
}

impl Baseline {
    fn apply(&mut self, op: &Op, filled: Option<&mut Vec<u64>>) {
        match *op {
            Op::New { id, side, price, qty } => self.limit(id, side, price, qty, true, filled),
            Op::Ioc { id, side, price, qty } => self.limit(id, side, price, qty, false, filled),
            Op::Cancel { id } => {
                self.cancel(id);
            }
            Op::Move { id, price, .. } => {
                if let Some((side, remaining)) = self.cancel(id) {
                    self.limit(id, side, price, remaining, true, filled);
                }
            }
        }
    }

    fn limit(
        &mut self,
        id: u64,
        side: Side,
        price: i64,
        mut qty: u64,
        rest: bool,
        mut filled: Option<&mut Vec<u64>>,
    ) {
        loop {
            if qty == 0 {
                return;
            }
            let entry = match side {
                Side::Buy => self.asks.first_entry(),
                Side::Sell => self.bids.last_entry(),
            };
            let Some(mut entry) = entry else { break };
            let level = *entry.key();
            let crosses = match side {
                Side::Buy => level <= price,
                Side::Sell => level >= price,
            };
            if !crosses {
                break;
            }
            let queue = entry.get_mut();
            while qty > 0 {
                let Some(front) = queue.front_mut() else { break };
                let q = qty.min(front.qty);
                qty -= q;
                front.qty -= q;
                self.volume += q;
                self.trades += 1;
                if front.qty == 0 {
                    self.index.remove(&front.id);
                    if let Some(f) = filled.as_deref_mut() {
                        f.push(front.id);
                    }
                    queue.pop_front();
                }
            }
            if queue.is_empty() {
                entry.remove();
            }
        }
        if rest {
            let book = match side {
                Side::Buy => &mut self.bids,
                Side::Sell => &mut self.asks,
            };
            book.entry(price).or_default().push_back(BOrder { id, qty });
            self.index.insert(id, (side, price));
        }
    }

    fn cancel(&mut self, id: u64) -> Option<(Side, u64)> {
        let (side, price) = self.index.remove(&id)?;
        let book = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        let queue = book.get_mut(&price).expect("an indexed order's level exists");
        let at = queue.iter().position(|o| o.id == id).expect("an indexed order is in its level");
        let order = queue.remove(at).expect("position found");
        if queue.is_empty() {
            book.remove(&price);
        }
        Some((side, order.qty))
    }

    fn resting(&self) -> (usize, u64) {
        let qty = self.bids.values().chain(self.asks.values()).flatten().map(|o| o.qty).sum();
        (self.index.len(), qty)
    }
}

// ------------------------------------------------------------------ the three runners

trait Runner {
    const NAME: &'static str;
    fn new() -> Self;
    fn apply(&mut self, op: &Op);
    /// (resting orders, resting quantity, traded volume or 0 when unknown).
    fn summary(&self) -> (usize, u64, u64);
}

/// Our exchange; `FEED` switches the market-data feed on.
struct Ours<const FEED: bool> {
    ex: Exchange,
    events: u64,
    volume: u64,
}

impl<const FEED: bool> Ours<FEED> {
    fn order(id: u64, side: Side, price: i64, qty: u64, tif: TimeInForce) -> VenueOrder {
        VenueOrder {
            order_id: id,
            owner: 0,
            security: SEC,
            side,
            order_type: OrderType::Limit,
            tif,
            price: Price(price),
            qty: Qty(qty),
        }
    }
}

impl<const FEED: bool> Runner for Ours<FEED> {
    const NAME: &'static str = if FEED { "ours + market data" } else { "sim-exchange (ours)" };

    fn new() -> Self {
        let mut spec = InstrumentSpec::new(SEC, Board::SseMain, Price(MID));
        spec.rules.cage = None;
        let ex = Exchange::new(ExchangeConfig {
            instruments: vec![spec],
            max_orders: 16_384,
            max_levels_per_side: 4_096,
            overflow_levels_per_side: 1_024,
            inbound_queue_capacity: 1_024,
            self_trade_prevention: false,
            schedule: Schedule::AlwaysContinuous,
            holidays: Vec::new(),
            // The stream's IOC limit orders stand for taking flow; on SSE and SZSE
            // they are a simulator extension, switched on here.
            limit_ioc_fok: true,
            market_data: FEED,
        })
        .expect("bench config is valid");
        Ours { ex, events: 0, volume: 0 }
    }

    #[inline]
    fn apply(&mut self, op: &Op) {
        let (events, volume) = (&mut self.events, &mut self.volume);
        let mut sink = |e: Event| {
            *events += 1;
            match e {
                Event::Trade { qty, .. } => *volume += qty.0,
                Event::Market(m) => {
                    black_box(m);
                }
                _ => {}
            }
        };
        match *op {
            Op::New { id, side, price, qty } => {
                self.ex.submit(&Self::order(id, side, price, qty, TimeInForce::Day), 0, &mut sink)
            }
            Op::Ioc { id, side, price, qty } => {
                self.ex.submit(&Self::order(id, side, price, qty, TimeInForce::Ioc), 0, &mut sink)
            }
            Op::Cancel { id } => self.ex.cancel(id, 0, &mut sink),
            Op::Move { id, price, qty } => {
                self.ex.replace(id, Price(price), Qty(qty), 0, &mut sink)
            }
        }
    }

    fn summary(&self) -> (usize, u64, u64) {
        let mut bids = [sim_exchange::Level::default(); 1024];
        let mut asks = [sim_exchange::Level::default(); 1024];
        let (nb, na) = self.ex.l2(SEC, &mut bids, &mut asks).expect("listed");
        let qty = bids[..nb].iter().chain(&asks[..na]).map(|l| l.qty.0).sum();
        (self.ex.open_orders(), qty, self.volume)
    }
}

struct Obvious(Baseline);

impl Runner for Obvious {
    const NAME: &'static str = "BTreeMap baseline";
    fn new() -> Self {
        Obvious(Baseline::default())
    }
    #[inline]
    fn apply(&mut self, op: &Op) {
        self.0.apply(op, None);
    }
    fn summary(&self) -> (usize, u64, u64) {
        let (n, q) = self.0.resting();
        (n, q, self.0.volume)
    }
}

struct Peer(OrderBook<()>);

impl Runner for Peer {
    const NAME: &'static str = "orderbook-rs 0.15";
    fn new() -> Self {
        Peer(OrderBook::new("600000.SH"))
    }
    #[inline]
    fn apply(&mut self, op: &Op) {
        use orderbook_rs::{Side as S, TimeInForce as T};
        let side = |s: Side| if s == Side::Buy { S::Buy } else { S::Sell };
        let book = &self.0;
        match *op {
            Op::New { id, side: s, price, qty } => {
                let _ = book.add_limit_order(
                    Id::from_u64(id),
                    price as u128,
                    qty,
                    side(s),
                    T::Gtc,
                    None,
                );
            }
            Op::Ioc { id, side: s, price, qty } => {
                let _ = book.add_limit_order(
                    Id::from_u64(id),
                    price as u128,
                    qty,
                    side(s),
                    T::Ioc,
                    None,
                );
            }
            Op::Cancel { id } => {
                let _ = book.cancel_order(Id::from_u64(id));
            }
            Op::Move { id, price, .. } => {
                if let Ok(Some(old)) = book.cancel_order(Id::from_u64(id)) {
                    let remaining =
                        old.visible_quantity().as_u64() + old.hidden_quantity().as_u64();
                    let _ = book.add_limit_order(
                        Id::from_u64(id),
                        price as u128,
                        remaining,
                        old.side(),
                        T::Gtc,
                        None,
                    );
                }
            }
        }
    }
    fn summary(&self) -> (usize, u64, u64) {
        let orders = self.0.get_all_orders();
        let qty = orders
            .iter()
            .map(|o| o.visible_quantity().as_u64() + o.hidden_quantity().as_u64())
            .sum();
        (orders.len(), qty, 0)
    }
}

// ------------------------------------------------------------------ measuring

struct Result {
    name: &'static str,
    ops_per_s: f64,
    hist: Histogram<u64>,
    summary: (usize, u64, u64),
}

fn instant_overhead_ns() -> u64 {
    let mut samples: Vec<u64> = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            let u = Instant::now();
            (u - t).as_nanos() as u64
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn measure<R: Runner>(prefill: &[Op], ops: &[Op], overhead_ns: u64) -> Result {
    let mut best = Duration::MAX;
    let mut summary = (0, 0, 0);
    for _ in 0..3 {
        let mut r = R::new();
        for op in prefill {
            r.apply(op);
        }
        let t = Instant::now();
        for op in ops {
            r.apply(black_box(op));
        }
        best = best.min(t.elapsed());
        summary = r.summary();
    }
    let mut hist =
        Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds");
    let mut r = R::new();
    for op in prefill {
        r.apply(op);
    }
    for op in ops {
        let t = Instant::now();
        r.apply(black_box(op));
        let ns = (t.elapsed().as_nanos() as u64).saturating_sub(overhead_ns).max(1);
        hist.record(ns).expect("in range");
    }
    Result { name: R::NAME, ops_per_s: ops.len() as f64 / best.as_secs_f64(), hist, summary }
}

fn comparison() {
    let measured = benches::run::env_u64("MATCHING_OPS", 2_000_000) as usize;
    let (prefill, ops) = generate(measured, 0x00C0_FFEE_D00D_F00D);
    let mut counts = [0usize; 4];
    for op in &ops {
        counts[match op {
            Op::New { .. } => 0,
            Op::Ioc { .. } => 1,
            Op::Cancel { .. } => 2,
            Op::Move { .. } => 3,
        }] += 1;
    }
    let pct = |n: usize| 100.0 * n as f64 / ops.len() as f64;
    let overhead = instant_overhead_ns();
    println!(
        "\nmatching: {} measured ops after a {}-order prefill; mix new {:.1}% / IOC {:.1}% / cancel {:.1}% / move {:.1}%",
        ops.len(),
        PREFILL,
        pct(counts[0]),
        pct(counts[1]),
        pct(counts[2]),
        pct(counts[3])
    );
    println!(
        "Instant::now() pair overhead (median, subtracted from each latency sample): {overhead} ns"
    );

    let ours = measure::<Ours<false>>(&prefill, &ops, overhead);
    let feed = measure::<Ours<true>>(&prefill, &ops, overhead);
    let base = measure::<Obvious>(&prefill, &ops, overhead);
    let peer = measure::<Peer>(&prefill, &ops, overhead);

    // Correctness: the same stream must leave the same book.
    assert!(ours.summary.2 > 0, "the stream must trade");
    assert_eq!(feed.summary, ours.summary, "the feed must not change the book");
    assert_eq!(
        ours.summary, base.summary,
        "ours and the baseline disagree on (resting orders, resting qty, volume)"
    );
    assert_eq!(
        (peer.summary.0, peer.summary.1),
        (base.summary.0, base.summary.1),
        "orderbook-rs disagrees on (resting orders, resting qty)"
    );
    let mut levels = [sim_exchange::Level::default(); 4096];
    let mut r = Ours::<true>::new();
    prefill.iter().chain(&ops).for_each(|op| r.apply(op));
    let mut last = [sim_exchange::Level::default(); 1];
    let published = r.ex.market_snapshot(SEC, &mut last, &mut []).expect("listed").seq;
    assert!(published > ops.len() as u64, "the feed published");
    let (bids, asks) = levels.split_at_mut(2048);
    let (nb, na) = r.ex.l2(SEC, bids, asks).expect("listed");
    r.ex.validate().expect("our book's invariants hold after the stream");
    println!(
        "end state (all three agree): {} resting orders, {} shares resting over {} price levels; {} shares traded",
        ours.summary.0,
        ours.summary.1,
        nb + na,
        ours.summary.2
    );

    println!(
        "\n{:<22} {:>12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "implementation", "ops/s", "vs BTree", "p50 ns", "p90 ns", "p99 ns", "p99.9 ns", "max ns"
    );
    for r in [&ours, &feed, &base, &peer] {
        let h = &r.hist;
        println!(
            "{:<22} {:>12.0} {:>8.2}x {:>8} {:>8} {:>8} {:>8} {:>10}",
            r.name,
            r.ops_per_s,
            r.ops_per_s / base.ops_per_s,
            h.value_at_quantile(0.50),
            h.value_at_quantile(0.90),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max()
        );
    }
    println!(
        "market-data feed: {} events for {} operations ({:.2} a operation); throughput {:+.1}%, p50 {:+} ns, p99 {:+} ns with the feed on",
        published,
        prefill.len() + ops.len(),
        published as f64 / (prefill.len() + ops.len()) as f64,
        100.0 * (feed.ops_per_s / ours.ops_per_s - 1.0),
        feed.hist.value_at_quantile(0.50) as i64 - ours.hist.value_at_quantile(0.50) as i64,
        feed.hist.value_at_quantile(0.99) as i64 - ours.hist.value_at_quantile(0.99) as i64,
    );
    println!();
}

// ------------------------------------------------------------------ micro operations

fn micro(c: &mut Criterion) {
    let (prefill, _) = generate(0, 7);
    let mut group = c.benchmark_group("matching-micro");
    group
        .measurement_time(Duration::from_secs(1))
        .warm_up_time(Duration::from_millis(300))
        .sample_size(30);
    let mut ours = Ours::<false>::new();
    prefill.iter().for_each(|op| ours.apply(op));
    let mut id = 10_000_000u64;
    group.bench_function("ours: passive new + cancel", |b| {
        b.iter(|| {
            id += 1;
            ours.apply(&Op::New { id, side: Side::Buy, price: MID - 200 * TICK, qty: 100 });
            ours.apply(&Op::Cancel { id });
        })
    });
    let mut base = Obvious::new();
    prefill.iter().for_each(|op| base.apply(op));
    group.bench_function("baseline: passive new + cancel", |b| {
        b.iter(|| {
            id += 1;
            base.apply(&Op::New { id, side: Side::Buy, price: MID - 200 * TICK, qty: 100 });
            base.apply(&Op::Cancel { id });
        })
    });
    id += 1;
    let mover = id;
    ours.apply(&Op::New { id: mover, side: Side::Buy, price: MID - 300 * TICK, qty: 100 });
    let mut up = false;
    group.bench_function("ours: replace moving price (no cross)", |b| {
        b.iter(|| {
            up = !up;
            let price = if up { MID - 299 * TICK } else { MID - 300 * TICK };
            ours.apply(&Op::Move { id: mover, price, qty: 100 });
        })
    });
    group.finish();
}

fn main() {
    comparison();
    let mut c = Criterion::default().configure_from_args();
    micro(&mut c);
    c.final_summary();
}
