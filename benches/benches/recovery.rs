//! Recovery time: how long a restart takes to replay a journal of N orders
//! (default 10,000,000; `RECOVERY_ORDERS` to change) into books, accounts,
//! idempotency tables and every login's stream.
//!
//! The journal is written first with the gateway's own writer (the inputs of a
//! two-account flow: a buy rests, a sell crosses it, a buy rests and is cancelled;
//! about 1.33 inputs per order), then `pipeline::recover` is timed end to end:
//! building the engine (its tables are committed at start-up), reading and
//! checking every record, replaying it, and rebuilding the out logs. Baseline in
//! the same run: reading and checking the journal alone (no engine), the floor any
//! replay pays.
//!
//! Run: `cargo bench -p benches --bench recovery` (needs about 4 GB of memory and
//! 1.5 GB of disk in the temp directory).

use std::sync::Arc;
use std::time::Instant;

use gateway::GatewayConfig;
use gateway::config::Durability;
use gateway::input::Input;
use gateway::journal::{Entry, JournalProgress, TailPolicy, Writer, WriterSettings};
use protocol::codec::{CancelOrder, NewOrder};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
};

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("recovery bench: skipped outside `cargo bench`");
        return;
    }
    let orders: u64 =
        std::env::var("RECOVERY_ORDERS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000_000);
    let dir = std::env::temp_dir().join(format!("bw-recovery-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);

    let mut config = GatewayConfig::demo();
    config.journal.durability = Durability::Sync;
    config.journal.dir = dir.clone();
    let limits = &mut config.risk.limits;
    limits.rate_limit_per_s = 0;
    limits.daily_message_limit = 0;
    limits.duplicate_window_ms = 0;
    limits.open_orders_per_security = 0;
    limits.cancels_per_security_per_day = 0;
    limits.hft_rate_flag_per_s = 0;
    limits.hft_daily_flag = 0;
    config.risk.capacity.max_orders_per_day = (orders + 16) as u32;
    let security = SecurityId::new(Market::Sse, 600_036).unwrap();
    for id in ["A001", "B001"] {
        let a = config.risk.accounts.iter_mut().find(|a| a.id.as_str() == id).unwrap();
        a.cash = 1_000_000_000_000 * Price::SCALE;
        a.positions.push(risk_check::PositionConfig {
            security,
            qty: 1_000_000_000,
            cost: Price(400_000),
        });
    }

    // Write the journal.
    let started = Instant::now();
    let settings = WriterSettings {
        dir: dir.clone(),
        segment_bytes: config.journal.segment_bytes,
        sync: false,
        session_id: 1,
        first_input_seq: 1,
    };
    let mut writer = Writer::open(settings, Arc::new(JournalProgress::default())).unwrap();
    let order = |cl_ord_id, account: &str, side, price| NewOrder {
        cl_ord_id,
        account: AccountId::new(account).unwrap(),
        security,
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(price),
        qty: Qty(100),
        flags: 0,
        credit: CreditTag::Cash,
    };
    let (mut seq, mut placed, mut now) = (0u64, 0u64, 1_800_000_000_000_000_000u64);
    while placed < orders {
        for k in 0..4u64 {
            let id = placed + 1;
            let input = match k {
                0 => Input::NewOrder { login: 0, order: order(id, "A001", Side::Buy, 421_000) },
                1 => Input::NewOrder { login: 1, order: order(id, "B001", Side::Sell, 421_000) },
                2 => Input::NewOrder { login: 0, order: order(id, "A001", Side::Buy, 420_000) },
                _ => Input::Cancel {
                    login: 0,
                    cancel: CancelOrder {
                        request_id: id,
                        orig_cl_ord_id: placed,
                        account: AccountId::new("A001").unwrap(),
                    },
                },
            };
            if k < 3 {
                placed += 1;
            }
            seq += 1;
            now += 1_000;
            writer.add(&Entry { input_seq: seq, now_ns: now, arrival_ns: now - 500, input });
            if seq.is_multiple_of(4096) {
                writer.commit(seq).unwrap();
            }
        }
    }
    writer.commit(seq).unwrap();
    drop(writer);
    let bytes: u64 = gateway::journal::segments(&dir)
        .unwrap()
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    println!(
        "journal: {placed} orders, {seq} inputs, {:.1} MB, written in {:.2} s",
        bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    // Baseline: read and check every record, no engine.
    let started = Instant::now();
    let mut count = 0u64;
    let rec = gateway::journal::read_journal(&dir, TailPolicy::ReadOnly, |_| count += 1).unwrap();
    let read_s = started.elapsed().as_secs_f64();
    assert_eq!((count, rec.last_input_seq), (seq, seq));

    // Recovery: engine build + replay + out logs.
    let started = Instant::now();
    let (engine, logs, rec) = gateway::pipeline::recover(&config, TailPolicy::ReadOnly).unwrap();
    let recover_s = started.elapsed().as_secs_f64();
    assert_eq!(rec.last_input_seq, seq);
    let trades = engine.stats().trades.get();
    assert_eq!(trades, placed / 3, "every crossing sell traded");
    engine.risk().validate().unwrap();
    let messages: u64 = logs.iter().map(|l| l.last_seq()).sum();

    println!();
    println!("{:<34} {:>10} {:>16}", "step", "seconds", "inputs/s");
    println!(
        "{:<34} {:>10.3} {:>16.0}",
        "ReadAndCheckBaseline (no engine)",
        read_s,
        seq as f64 / read_s
    );
    println!(
        "{:<34} {:>10.3} {:>16.0}",
        "Recover (engine + replay + logs)",
        recover_s,
        seq as f64 / recover_s
    );
    println!();
    println!(
        "recovered {placed} orders ({seq} inputs, {trades} trades, {messages} stream messages) in {recover_s:.2} s; target <= 5 s"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
