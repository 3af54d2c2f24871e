//! How fast a full order table snapshots and restores, beside the plain serde
//! baseline for the same table.
//!
//! ```text
//! cargo run --release -p risk-check --example snapshot_speed [orders] [file dir]
//! ```
//!
//! Fills an engine with `orders` records (default 10,000,000: most filled, some
//! cancelled, rejected or still open, over 200 accounts and 50 securities), then
//! times, each once:
//!
//! * `snapshot_to` into memory and `restore_from` out of it (the engine's cost);
//! * the same through a file with 1 MiB buffers, when a directory is given;
//! * baseline: the order table alone as `Vec<OrderRecord>` through bincode's serde
//!   path, the way a plain derive would write it.
//!
//! and checks the restored engine against the original (every record, every
//! account, `validate`).

use std::fs::File;
use std::hash::{DefaultHasher, Hasher};
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use bincode::config;
use serde::{Serialize, Serializer};

use protocol::codec::NewOrder;
use protocol::{
    AccountId, Board, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
    TradingPhase,
};
use risk_check::{
    AccountConfig, Instrument, Limits, MarketContext, NewOrderVerdict, OrderRecord, OrderRef,
    RiskConfig, RiskEngine,
};

const ACCOUNTS: u64 = 200;
const SECURITIES: u32 = 50;
const MS: u64 = 1_000_000;

fn build(orders: usize) -> (RiskEngine, RiskConfig) {
    let instruments: Vec<Instrument> = (0..SECURITIES)
        .map(|i| {
            let security = SecurityId::new(Market::Sse, 600_000 + i).unwrap();
            Instrument::new(security, "stock", Board::SseMain, Price::from_yuan_fen(10, 0))
        })
        .collect();
    let accounts: Vec<AccountConfig> = (0..ACCOUNTS)
        .map(|i| {
            let id = AccountId::new(&format!("ACC{i:05}")).unwrap();
            AccountConfig::new(id, 1_000_000_000 * Price::SCALE)
        })
        .collect();
    // Every throttle, collar and count limit off: this measures table size only.
    let limits = Limits {
        max_notional: 0,
        fat_finger_bp: 0,
        duplicate_window_ms: 0,
        rate_limit_per_s: 0,
        daily_message_limit: 0,
        hft_rate_flag_per_s: 0,
        hft_daily_flag: 0,
        open_orders_per_security: 0,
        cancels_per_security_per_day: 0,
        rapid_cancel_window_ms: 0,
        rapid_cancel_flag_count: 0,
        rapid_order_flag_per_s: 0,
        ..Limits::default()
    };
    let mut cfg = RiskConfig { limits, accounts, instruments, ..RiskConfig::default() };
    cfg.capacity.max_orders_per_day = orders as u32;
    let mut engine = RiskEngine::new(cfg.clone()).expect("a valid configuration");
    let ids: Vec<AccountId> = engine.account_ids().collect();
    for id in &ids {
        engine.bind_login(1, *id).unwrap();
    }
    let ctx = MarketContext {
        phase: TradingPhase::Continuous,
        cage_reference: None,
        last_price: Price::ZERO,
    };
    let mut now_ns = 1_728_351_000_000_000_000u64;
    for i in 0..orders as u64 {
        now_ns += MS / 10;
        let o = NewOrder {
            cl_ord_id: i / ACCOUNTS + 1,
            account: ids[(i % ACCOUNTS) as usize],
            security: SecurityId::new(Market::Sse, 600_000 + (i % u64::from(SECURITIES)) as u32)
                .unwrap(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Day,
            // One in 50 off the tick: recorded as a reject.
            price: Price(100_000 + if i % 50 == 7 { 1 } else { (i % 9) as i64 * 100 }),
            qty: Qty(100 * (1 + i % 7)),
            flags: 0,
            credit: CreditTag::Cash,
        };
        if let NewOrderVerdict::Pass { order, .. } = engine.check_new_order(1, &o, &ctx, now_ns) {
            engine.on_venue_accepted(order);
            match i % 10 {
                0 => engine.on_canceled(order, o.qty),
                1 => {}
                _ => {
                    engine.on_fill(order, o.price, o.qty, now_ns);
                }
            }
        }
    }
    assert_eq!(engine.orders_today(), orders, "every order recorded");
    (engine, cfg)
}

fn rate(bytes: u64, secs: f64) -> String {
    format!("{:7.3} s  {:6.0} MB/s", secs, bytes as f64 / 1e6 / secs)
}

/// Hashes what is written, to compare two engines' snapshots without keeping either.
struct HashWriter(DefaultHasher, u64);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf);
        self.1 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn digest(engine: &RiskEngine) -> (u64, u64) {
    let mut h = HashWriter(DefaultHasher::new(), 0);
    engine.snapshot_to(&mut h).unwrap();
    (h.0.finish(), h.1)
}

/// The order table as a serde sequence, without copying it.
struct Table<'a>(&'a RiskEngine);

impl Serialize for Table<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq((0..self.0.orders_today() as u32).map(|i| self.0.order(OrderRef(i))))
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let orders: usize = args.next().map_or(10_000_000, |a| a.parse().expect("an order count"));
    let dir =
        PathBuf::from(args.next().unwrap_or_else(|| std::env::temp_dir().display().to_string()));
    let path = dir.join("risk-snapshot-speed.bws");
    let baseline_path = dir.join("risk-snapshot-speed.serde");

    let t = Instant::now();
    let (engine, cfg) = build(orders);
    println!("filled {orders} orders in {:.1} s", t.elapsed().as_secs_f64());
    let (want, size) = digest(&engine);
    println!("snapshot: {:.1} MB ({} bytes per order)", size as f64 / 1e6, size / orders as u64);

    let t = Instant::now();
    engine.snapshot_to(&mut std::io::sink()).unwrap();
    println!("  write, encoding only         {}", rate(size, t.elapsed().as_secs_f64()));
    let t = Instant::now();
    {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path).unwrap());
        engine.snapshot_to(&mut w).unwrap();
        w.into_inner().unwrap().sync_all().unwrap();
    }
    println!("  write to a file, fsync       {}", rate(size, t.elapsed().as_secs_f64()));

    // Only the restored engine in memory from here, as in a gateway restarting.
    drop(engine);

    let t = Instant::now();
    let restored = {
        let mut r = BufReader::with_capacity(1 << 20, File::open(&path).unwrap());
        RiskEngine::restore_from(&mut r).unwrap()
    };
    println!("  restore from a file (cached) {}", rate(size, t.elapsed().as_secs_f64()));
    assert_eq!(digest(&restored), (want, size), "the restored engine snapshots the same bytes");
    restored.validate().expect("the restored engine is consistent");

    let t = Instant::now();
    let serde_size = {
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&baseline_path).unwrap());
        let n = bincode::serde::encode_into_std_write(Table(&restored), &mut w, config::standard())
            .unwrap();
        w.into_inner().unwrap().sync_all().unwrap();
        n as u64
    };
    let serde_write_s = t.elapsed().as_secs_f64();
    drop(restored);
    std::fs::remove_file(&path).unwrap();

    let t = Instant::now();
    let empty = RiskEngine::new(cfg).unwrap();
    println!(
        "  RiskEngine::new, same capacity (commits the same memory): {:.3} s",
        t.elapsed().as_secs_f64()
    );
    drop(empty);

    println!(
        "baseline, the order table alone through serde: {:.1} MB ({} bytes per order)",
        serde_size as f64 / 1e6,
        serde_size / orders as u64
    );
    println!("  write to a file, fsync       {}", rate(serde_size, serde_write_s));
    let t = Instant::now();
    let table: Vec<OrderRecord> = {
        let mut r = BufReader::with_capacity(1 << 20, File::open(&baseline_path).unwrap());
        bincode::serde::decode_from_std_read(&mut r, config::standard()).unwrap()
    };
    println!("  read from a file (cached)    {}", rate(serde_size, t.elapsed().as_secs_f64()));
    assert_eq!(table.len(), orders);
    std::fs::remove_file(&baseline_path).unwrap();
}
