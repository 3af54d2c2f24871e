//! Market-data publisher, encode side: the venue's feed events encoded to wire
//! frames and fanned out to subscribers, beside a naive per-subscriber copy.
//!
//! ```text
//!   venue run (feed on) ──(events captured once)──┬──> encode once into a shared log,
//!                                                 │    each subscriber queues (offset, len)
//!                                                 └──> naive: encode again into every
//!                                                      subscriber's own buffer
//! ```
//!
//! The events are the real feed of a venue run (`Exchange` with `market_data =
//! true`) on a random order stream in continuous trading, captured before timing:
//! level updates, trades and the order stream, as a Level-2 publisher sees them.
//! "Encode" is `MarketEvent::to_wire` then `MdMessage::encode` into a byte buffer
//! (the whole publisher encode path). Shared: one encode per event into a log
//! buffer, then one 8-byte (offset, len) push per subscriber. Naive: per event
//! and per subscriber, the encode again into that subscriber's byte buffer. Every
//! buffer is allocated before timing and reused per batch of events, so neither
//! side measures the allocator. Throughput is events (book updates) per second on
//! one core, best of three runs.
//!
//! Checks (so nothing is measured empty): both sides write the same number of
//! bytes per subscriber; a sample of frames decodes back to the event it came from.
//!
//! Run: `cargo bench -p benches --bench marketdata` (`MD_EVENTS` sets the number of
//! events, default 1,000,000).

use std::hint::black_box;
use std::time::{Duration, Instant};

use protocol::marketdata::decode_server;
use protocol::{
    Board, MAX_FRAME_LEN, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
};
use sim_exchange::{
    Event, Exchange, ExchangeConfig, InstrumentSpec, MarketEvent, Schedule, VenueOrder,
};

const SEC: SecurityId = SecurityId { market: Market::Sse, code: 600_519 };
/// Events encoded between buffer resets (a publisher's write batch).
const BATCH: usize = 4_096;

/// The feed of a venue run on a seeded random stream: new orders around the
/// middle (some crossing), cancels and replaces.
fn capture(events_wanted: usize) -> Vec<MarketEvent> {
    let mut spec = InstrumentSpec::new(SEC, Board::SseMain, Price(1_000_000));
    spec.rules.cage = None;
    let mut ex = Exchange::new(ExchangeConfig {
        instruments: vec![spec],
        max_orders: 1 << 16,
        max_levels_per_side: 4_096,
        overflow_levels_per_side: 64,
        inbound_queue_capacity: 64,
        self_trade_prevention: false,
        schedule: Schedule::AlwaysContinuous,
        holidays: Vec::new(),
        limit_ioc_fok: false,
        market_data: true,
    })
    .expect("valid config");
    let mut out = Vec::with_capacity(events_wanted + 64);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut id = 0u64;
    while out.len() < events_wanted {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        id += 1;
        let mut sink = |e: Event| {
            if let Event::Market(m) = e {
                out.push(m);
            }
        };
        let side = if x & 1 == 0 { Side::Buy } else { Side::Sell };
        let ticks = (x >> 8) as i64 % 60 - 30;
        match (x >> 32) % 10 {
            0..=5 => {
                let o = VenueOrder {
                    order_id: id,
                    owner: 0,
                    security: SEC,
                    side,
                    order_type: OrderType::Limit,
                    tif: TimeInForce::Day,
                    price: Price(1_000_000 + ticks * 100),
                    qty: Qty(100 * (1 + (x >> 40) % 5)),
                };
                ex.submit(&o, id, &mut sink);
            }
            6..=7 => ex.cancel(id - 1 - (x >> 45) % id.min(500), id, &mut sink),
            _ => {
                let target = id - 1 - (x >> 45) % id.min(500);
                ex.replace(target, Price(1_000_000 + ticks * 100), Qty(200), id, &mut sink);
            }
        }
    }
    out.truncate(events_wanted);
    out
}

/// Encode once into a shared log; each subscriber queues where its frame is.
fn shared(events: &[MarketEvent], log: &mut [u8], queues: &mut [Vec<(u32, u32)>]) -> u64 {
    let mut bytes = 0u64;
    for batch in events.chunks(BATCH) {
        queues.iter_mut().for_each(Vec::clear);
        let mut at = 0;
        for e in batch {
            let n = e.to_wire().encode(&mut log[at..]).expect("fits");
            for q in queues.iter_mut() {
                q.push((at as u32, n as u32));
            }
            at += n;
        }
        bytes += black_box(&log[..at]).len() as u64;
        black_box(&*queues);
    }
    bytes
}

/// Encode again into every subscriber's own buffer.
fn naive(events: &[MarketEvent], bufs: &mut [Vec<u8>], ends: &mut [usize]) -> u64 {
    let mut bytes = 0u64;
    for batch in events.chunks(BATCH) {
        ends.iter_mut().for_each(|e| *e = 0);
        for e in batch {
            for (buf, end) in bufs.iter_mut().zip(ends.iter_mut()) {
                *end += e.to_wire().encode(&mut buf[*end..]).expect("fits");
            }
        }
        bytes += black_box(&bufs[0][..ends[0]]).len() as u64;
    }
    bytes
}

fn best_of_three(mut f: impl FnMut() -> u64) -> (Duration, u64) {
    let mut best = Duration::MAX;
    let mut out = 0;
    for _ in 0..3 {
        let t = Instant::now();
        out = f();
        best = best.min(t.elapsed());
    }
    (best, out)
}

fn check(events: &[MarketEvent]) {
    let mut buf = [0u8; MAX_FRAME_LEN];
    for e in events.iter().step_by(997) {
        let msg = e.to_wire();
        let n = msg.encode(&mut buf).expect("fits");
        assert_eq!(decode_server(&buf[..n]), Ok(msg), "a frame decodes to its event");
    }
}

fn main() {
    if !benches::run::under_cargo_bench("marketdata") {
        return;
    }
    let wanted = benches::run::env_u64("MD_EVENTS", 1_000_000) as usize;
    let events = capture(wanted);
    check(&events);
    let levels = events
        .iter()
        .filter(|e| matches!(e.kind, sim_exchange::MarketEventKind::Level { .. }))
        .count();
    println!(
        "\nmarketdata: {} feed events of a venue run ({:.0}% level updates), batches of {BATCH}",
        events.len(),
        100.0 * levels as f64 / events.len() as f64
    );
    println!(
        "\n{:>11} {:>26} {:>26} {:>9}",
        "subscribers", "shared: events/s (MB/s)", "naive copy: events/s (MB/s)", "shared/naive"
    );
    for subscribers in [1usize, 10, 100] {
        let mut log = vec![0u8; BATCH * MAX_FRAME_LEN];
        let mut queues: Vec<Vec<(u32, u32)>> =
            (0..subscribers).map(|_| Vec::with_capacity(BATCH)).collect();
        let mut bufs: Vec<Vec<u8>> =
            (0..subscribers).map(|_| vec![0u8; BATCH * MAX_FRAME_LEN]).collect();
        let mut ends = vec![0usize; subscribers];
        let (t_shared, bytes_shared) = best_of_three(|| shared(&events, &mut log, &mut queues));
        let (t_naive, bytes_naive) = best_of_three(|| naive(&events, &mut bufs, &mut ends));
        assert_eq!(bytes_shared, bytes_naive, "both write the same frames");
        let rate = |t: Duration| events.len() as f64 / t.as_secs_f64();
        let mbps = |t: Duration| bytes_shared as f64 * subscribers as f64 / t.as_secs_f64() / 1e6;
        println!(
            "{:>11} {:>17.0} ({:>6.0}) {:>17.0} ({:>6.0}) {:>8.1}x",
            subscribers,
            rate(t_shared),
            mbps(t_shared),
            rate(t_naive),
            mbps(t_naive),
            rate(t_shared) / rate(t_naive)
        );
    }
    println!();
}
