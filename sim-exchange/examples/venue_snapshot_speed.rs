//! How fast a full venue snapshots and restores, beside building the same venue
//! from its configuration (which commits the same memory).
//!
//! ```text
//! cargo run --release -p sim-exchange --example venue_snapshot_speed [resting orders] [dir]
//! ```
//!
//! The gateway's default venue (a pool of 2^20 orders, 4,096 levels a side for
//! instruments without limits, a queue of 2^16) with 2,000 instruments at prices
//! from 1 to 200 CNY, filled with `resting orders` (default: the whole pool) on
//! both sides of every book, a few hundred price levels deep, and a queue of
//! operations waiting behind a pause. Times `snapshot_to` into memory (encoding
//! alone) and into a file, `restore_from` the file, and `Exchange::new` on the same
//! configuration, and checks that the restored venue snapshots the same bytes.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;
use std::time::Instant;

use protocol::{Board, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce};
use sim_exchange::{Exchange, ExchangeConfig, InstrumentSpec, Schedule, VenueOrder};

const INSTRUMENTS: u32 = 2_000;

fn config() -> ExchangeConfig {
    let instruments = (0..INSTRUMENTS)
        .map(|i| {
            let security = SecurityId::new(Market::Sse, 600_000 + i).unwrap();
            // 1.00 to 200.00 CNY: a ±10% band of 21 to 4,001 ticks a side.
            let prev_close = Price::from_yuan_fen(1 + i64::from(i % 200), 0);
            InstrumentSpec::new(security, Board::SseMain, prev_close)
        })
        .collect();
    ExchangeConfig {
        instruments,
        max_orders: 1 << 20,
        max_levels_per_side: 4_096,
        overflow_levels_per_side: 1_024,
        inbound_queue_capacity: 1 << 16,
        self_trade_prevention: true,
        schedule: Schedule::AlwaysContinuous,
        holidays: Vec::new(),
        limit_ioc_fok: false,
        market_data: false,
    }
}

fn build(resting: u64) -> Exchange {
    let cfg = config();
    let specs = cfg.instruments.clone();
    let mut ex = Exchange::new(cfg).unwrap();
    let mut sink = |_| {};
    let mut now = 1u64;
    for id in 1..=resting {
        let spec = &specs[(id % u64::from(INSTRUMENTS)) as usize];
        // Bids below the close and asks above it, up to 150 ticks away: nothing trades.
        let away = 1 + (id / u64::from(INSTRUMENTS)) as i64 % 150;
        let (side, ticks) = if id % 2 == 0 { (Side::Buy, -away) } else { (Side::Sell, away) };
        let price = Price(spec.prev_close.0 + ticks * spec.rules.tick.0);
        let band = ex.price_band(spec.security).unwrap();
        let price = Price(price.0.clamp(band.lower.0, band.upper.0));
        let o = VenueOrder {
            order_id: id,
            owner: (id % 500) as u32,
            security: spec.security,
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Day,
            price,
            qty: Qty(100 * (1 + id % 9)),
        };
        now += 1;
        ex.submit(&o, now, &mut sink);
    }
    // Cancels waiting behind a pause: the queue is part of the state too.
    ex.pause_matching(u64::MAX);
    for id in 1..=10_000.min(resting) {
        ex.cancel(id, now, &mut sink);
    }
    ex
}

fn rate(bytes: u64, secs: f64) -> String {
    format!("{:7.3} s  {:6.0} MB/s", secs, bytes as f64 / 1e6 / secs)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let resting: u64 = args.next().map_or(1 << 20, |a| a.parse().expect("an order count"));
    let dir =
        PathBuf::from(args.next().unwrap_or_else(|| std::env::temp_dir().display().to_string()));
    let path = dir.join("venue-snapshot-speed.bws");

    let t = Instant::now();
    let ex = build(resting);
    println!(
        "{} resting orders in {INSTRUMENTS} books, {} queued, in {:.1} s; pools {:.0} MB",
        ex.open_orders(),
        ex.queued(),
        t.elapsed().as_secs_f64(),
        ex.memory_bytes() as f64 / 1e6
    );

    let mut bytes = Vec::new();
    let t = Instant::now();
    ex.snapshot_to(&mut bytes).unwrap();
    let size = bytes.len() as u64;
    println!("snapshot: {:.1} MB", size as f64 / 1e6);
    println!("  write to memory              {}", rate(size, t.elapsed().as_secs_f64()));
    let t = Instant::now();
    {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path).unwrap());
        ex.snapshot_to(&mut w).unwrap();
        w.into_inner().unwrap().sync_all().unwrap();
    }
    println!("  write to a file, fsync       {}", rate(size, t.elapsed().as_secs_f64()));
    drop(ex);

    let t = Instant::now();
    let restored = {
        let mut r = BufReader::with_capacity(1 << 20, File::open(&path).unwrap());
        Exchange::restore_from(&mut r).unwrap()
    };
    println!("  restore from a file (cached) {}", rate(size, t.elapsed().as_secs_f64()));
    let mut again = Vec::new();
    restored.snapshot_to(&mut again).unwrap();
    assert!(again == bytes, "the restored venue snapshots the same bytes");
    drop(restored);
    std::fs::remove_file(&path).unwrap();

    let t = Instant::now();
    let empty = Exchange::new(config()).unwrap();
    println!(
        "  Exchange::new, same configuration (commits the same memory): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    drop(empty);
}
