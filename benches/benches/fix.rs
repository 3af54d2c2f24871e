//! FIX 4.4: parse a NewOrderSingle and encode an ExecutionReport, each beside a
//! naive tag=value baseline in the same run.
//!
//! ```text
//!   NewOrderSingle (client → gateway, ~170 bytes)      ExecutionReport fill (gateway → client, ~260 bytes)
//!     fix:      frame::scan + parse_into                  fix:      Encoder + outbound::encode_report
//!               + inbound::new_order (→ NewOrder)                   (BodyLength, CheckSum, into a stack buffer)
//!     fix+dict: the same + Dictionary::validate
//!     naive:    split into HashMap<u32, String>          naive:    format! each field into a String,
//!               + the same field conversions                        then BodyLength and CheckSum
//! ```
//!
//! Checks before timing: each parser yields the same NewOrder, and each encoder a
//! message the framer accepts with the same fields. After the criterion run a
//! table prints each median and its ratio to the naive baseline. Target: ≤ 150 ns
//! for each of `parse/fix` and `encode/fix`.
//!
//! Run: `cargo bench -p benches --bench fix`.

use std::collections::HashMap;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use fix::encode::Encoder;
use fix::frame::{Scan, scan};
use fix::message::{FieldPos, Message, parse_into};
use fix::orders::OrderCache;
use fix::outbound::{self, Report};
use protocol::codec::{AppMessage, Executed, NewOrder, OrderAccepted, Sequenced};
use protocol::{
    AccountId, CreditTag, Liquidity, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
};

const NOW_NS: u64 = 1_728_351_000_000_000_000;
const SOH: u8 = 0x01;

fn with_trailer(body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut msg = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
    let sum = msg.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    msg.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    msg
}

fn new_order_single() -> Vec<u8> {
    with_trailer(
        "35=D|49=CLIENT|56=BW|34=1234|52=20241008-01:30:00.000|11=1234567|1=A001|55=600519|\
         207=XSHG|54=1|60=20241008-01:30:00.000|38=100|40=2|44=1500.00|59=0|",
    )
}

// ---------------------------------------------------------------------------
// Parse
// ---------------------------------------------------------------------------

fn fix_parse(bytes: &[u8], table: &mut Vec<FieldPos>, validate: bool) -> Option<NewOrder> {
    let Scan::Message { len, .. } = scan(bytes, 4096) else { return None };
    parse_into(&bytes[..len], table, 64).ok()?;
    let msg = Message::new(&bytes[..len], table);
    if validate {
        fix::dict::dictionary().validate(&msg).ok()?;
    }
    fix::inbound::new_order(&msg).ok()
}

/// The baseline: split on SOH and `=`, collect into a map, convert the same fields.
fn naive_parse(bytes: &[u8]) -> Option<NewOrder> {
    let text = std::str::from_utf8(bytes).ok()?;
    let fields: HashMap<u32, String> = text
        .split('\x01')
        .filter(|f| !f.is_empty())
        .filter_map(|f| f.split_once('='))
        .filter_map(|(t, v)| Some((t.parse().ok()?, v.to_owned())))
        .collect();
    let market = match fields.get(&207)?.as_str() {
        "XSHG" => Market::Sse,
        "XSHE" => Market::Szse,
        _ => return None,
    };
    Some(NewOrder {
        cl_ord_id: fields.get(&11)?.parse().ok()?,
        account: AccountId::new(fields.get(&1)?).ok()?,
        security: SecurityId::new(market, fields.get(&55)?.parse().ok()?)?,
        side: if fields.get(&54)? == "1" { Side::Buy } else { Side::Sell },
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price::parse_cny(fields.get(&44)?)?,
        qty: Qty(fields.get(&38)?.parse().ok()?),
        flags: 0,
        credit: CreditTag::Cash,
    })
}

// ---------------------------------------------------------------------------
// Encode
// ---------------------------------------------------------------------------

fn fill_report() -> Report {
    let account = AccountId::new("A001").expect("valid account");
    let security = SecurityId::new(Market::Sse, 600_519).expect("valid security");
    let mut cache = OrderCache::new(16);
    let accepted = OrderAccepted {
        cl_ord_id: 1_234_567,
        order_id: 1_000_001,
        account,
        security,
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price::from_yuan_fen(1500, 0),
        qty: Qty(200),
        flags: 0,
        credit: CreditTag::Cash,
    };
    let executed = Executed {
        cl_ord_id: 1_234_567,
        order_id: 1_000_001,
        exec_id: 7_000_001,
        account,
        security,
        side: Side::Buy,
        liquidity: Liquidity::Removed,
        price: Price::from_yuan_fen(1500, 0),
        qty: Qty(100),
        leaves: Qty(100),
        cum: Qty(100),
    };
    outbound::map(
        &Sequenced { seq: 1, ts_ns: NOW_NS, msg: AppMessage::OrderAccepted(accepted) },
        &mut cache,
    );
    outbound::map(
        &Sequenced { seq: 2, ts_ns: NOW_NS, msg: AppMessage::Executed(executed) },
        &mut cache,
    )
    .expect("a fill maps to an ExecutionReport")
}

fn fix_encode(report: &Report, seq: u64, buf: &mut [u8]) -> usize {
    let mut enc = Encoder::new(buf, report.msg_type());
    enc.bytes(49, b"BW");
    enc.bytes(56, b"CLIENT");
    enc.u64(34, seq);
    enc.timestamp(52, NOW_NS);
    outbound::encode_report(report, &mut enc);
    enc.finish().expect("the buffer holds an ExecutionReport")
}

/// The baseline: `format!` every field into a String, then BodyLength and CheckSum.
fn naive_encode(report: &Report, seq: u64) -> Vec<u8> {
    let Report::Exec(er) = report else { return Vec::new() };
    let (px, qty) = er.last.unwrap_or((Price::ZERO, Qty::ZERO));
    let order = er.order.expect("fill has order fields");
    let mut body = String::new();
    let mut field = |tag: u32, value: String| body.push_str(&format!("{tag}={value}\x01"));
    field(35, "8".into());
    field(49, "BW".into());
    field(56, "CLIENT".into());
    field(34, seq.to_string());
    field(52, "20241008-01:30:00.000".into());
    field(37, er.order_id.to_string());
    field(11, er.cl_ord_id.to_string());
    field(17, format!("T{}", 7_000_001));
    field(150, (er.exec_type as char).to_string());
    field(39, (er.ord_status as char).to_string());
    field(1, er.account.to_string());
    field(55, format!("{:06}", order.security.code));
    field(207, "XSHG".into());
    field(54, (order.side.as_u8() + b'0').to_string());
    field(40, "2".into());
    field(38, er.order_qty.unwrap_or(Qty::ZERO).0.to_string());
    field(44, er.price.unwrap_or(Price::ZERO).to_string());
    field(31, px.to_string());
    field(32, qty.0.to_string());
    field(151, er.leaves.0.to_string());
    field(14, er.cum.0.to_string());
    field(6, er.avg_px.to_string());
    field(60, "20241008-01:30:00.000".into());
    let mut msg = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
    let sum = msg.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    msg.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    msg
}

fn tags(msg: &[u8]) -> Vec<u32> {
    msg.split(|&b| b == SOH)
        .filter(|f| !f.is_empty())
        .filter_map(|f| std::str::from_utf8(f).ok()?.split_once('=')?.0.parse().ok())
        .collect()
}

fn check() -> (Vec<u8>, Report) {
    let nos = new_order_single();
    let mut table = Vec::with_capacity(64);
    let fast = fix_parse(&nos, &mut table, true).expect("the NewOrderSingle parses and validates");
    assert_eq!(Some(fast), naive_parse(&nos), "both parsers read the same order");
    let report = fill_report();
    let mut buf = [0u8; 512];
    let len = fix_encode(&report, 2, &mut buf);
    assert!(matches!(scan(&buf[..len], 4096), Scan::Message { .. }));
    let naive = naive_encode(&report, 2);
    assert!(matches!(scan(&naive, 4096), Scan::Message { .. }));
    let mut a = tags(&buf[..len]);
    let mut b = tags(&naive);
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b, "both encoders write the same fields");
    println!("NewOrderSingle {} bytes; ExecutionReport {} bytes", nos.len(), len);
    (nos, report)
}

fn bench(c: &mut Criterion, nos: &[u8], report: &Report) {
    let mut g = c.benchmark_group("parse");
    let mut table = Vec::with_capacity(64);
    g.bench_function("fix", |b| b.iter(|| fix_parse(black_box(nos), &mut table, false)));
    g.bench_function("fix_validated", |b| b.iter(|| fix_parse(black_box(nos), &mut table, true)));
    g.bench_function("naive", |b| b.iter(|| naive_parse(black_box(nos))));
    g.finish();
    let mut g = c.benchmark_group("encode");
    let mut buf = [0u8; 512];
    g.bench_function("fix", |b| {
        b.iter(|| {
            let len = fix_encode(black_box(report), 2, &mut buf);
            black_box(&buf[..len]);
        })
    });
    g.bench_function("naive", |b| b.iter(|| naive_encode(black_box(report), 2)));
    g.finish();
}

fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let path = criterion_dir().join(group).join(bench).join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

fn print_summary() {
    println!(
        "\nfix summary (median ns per operation; × = multiple of the naive baseline; target ≤ 150 ns)"
    );
    println!("{:<8} {:<14} {:>9} {:>9}", "op", "bench", "ns/op", "× naive");
    for (group, benches) in
        [("parse", &["fix", "fix_validated", "naive"][..]), ("encode", &["fix", "naive"][..])]
    {
        for bench in benches {
            let Some(ns) = median_ns(group, bench) else { continue };
            let ratio = median_ns(group, "naive").map_or(f64::NAN, |n| ns / n);
            println!("{group:<8} {bench:<14} {ns:>9.1} {ratio:>8.2}×");
        }
    }
}

fn main() {
    let (nos, report) = check();
    if !benches::run::under_cargo_bench("fix") {
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c, &nos, &report);
    c.final_summary();
    print_summary();
}
