//! Wire codec: encode and decode of the two hottest messages, each beside its floor.
//!
//! ```text
//!   NewOrder (client → gateway, 59-byte frame)    Executed (gateway → client, 99-byte frame)
//!     encode: NewOrder::encode_to_slice             encode: Sequenced::encode_to_slice
//!     decode: ClientMessage::decode                 decode: ServerMessage::decode
//!             NewOrder::decode_body
//!   floor:    memcpy of 59 bytes                    floor:  memcpy of 99 bytes
//!   contrast: a FIX-style tag=value text codec for the same NewOrder
//! ```
//!
//! Encoding writes into one stack buffer that escapes through `black_box`;
//! decoding reads a frame slice and returns the message (which criterion
//! `black_box`es); inputs pass through `black_box` too, so nothing is folded away.
//! The memcpy floor moves the same number of bytes the same way (into the escaped
//! buffer; out of the frame into a returned value): no codec can do less. The text
//! codec is what the binary layout replaces: the same fields as `tag=value` pairs,
//! formatted with `core::fmt` and parsed by splitting and matching tags.
//!
//! Checks before timing: every codec round-trips its message, so nothing is
//! measured empty. After the criterion run a table prints each figure (median
//! ns per operation) and its ratio to the memcpy floor of the same size.
//!
//! Run: `cargo bench -p benches --bench codec`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::Criterion;
use protocol::codec::{Executed, NewOrder};
use protocol::{
    AccountId, AppMessage, ClientMessage, CreditTag, Liquidity, Market, OrderType, Price, Qty,
    SecurityId, Sequenced, ServerMessage, Side, TimeInForce,
};

const NEW_ORDER_FRAME: usize = 59;
const EXECUTED_FRAME: usize = 99;

fn new_order() -> NewOrder {
    NewOrder {
        cl_ord_id: 1_234_567,
        account: AccountId::new("A001").expect("valid account"),
        security: SecurityId::new(Market::Sse, 600_519).expect("valid security"),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price::from_yuan_fen(1500, 0),
        qty: Qty(100),
        flags: 0,
        credit: CreditTag::Cash,
    }
}

fn executed() -> Sequenced {
    Sequenced {
        seq: 42,
        ts_ns: 1_751_851_800_000_180_000,
        msg: AppMessage::Executed(Executed {
            cl_ord_id: 1_234_567,
            order_id: 1_000_001,
            exec_id: 7_000_001,
            account: AccountId::new("A001").expect("valid account"),
            security: SecurityId::new(Market::Sse, 600_519).expect("valid security"),
            side: Side::Buy,
            liquidity: Liquidity::Removed,
            price: Price::from_yuan_fen(1500, 0),
            qty: Qty(100),
            leaves: Qty(0),
            cum: Qty(100),
        }),
    }
}

// ---------------------------------------------------------------------------
// The contrast: a FIX-style tag=value text codec (SOH-separated)
// ---------------------------------------------------------------------------

/// A `core::fmt::Write` into a fixed buffer.
struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for SliceWriter<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn text_encode(o: &NewOrder, buf: &mut [u8]) -> Option<usize> {
    use core::fmt::Write;
    let mut w = SliceWriter { buf, len: 0 };
    write!(
        w,
        "35=D\x0111={}\x011={}\x0155={}\x01207={}\x0154={}\x0140={}\x0159={}\x0144={}\x0138={}\x01\
         9001={}\x019002={}\x01",
        o.cl_ord_id,
        o.account,
        o.security.code,
        o.security.market.as_u8(),
        o.side.as_u8(),
        o.order_type.as_u8(),
        o.tif.as_u8(),
        o.price,
        o.qty.0,
        o.flags,
        o.credit.as_u8(),
    )
    .ok()?;
    Some(w.len)
}

fn text_decode(bytes: &[u8]) -> Option<NewOrder> {
    let text = core::str::from_utf8(bytes).ok()?;
    let (mut cl_ord_id, mut account, mut code, mut market) = (None, None, None, None);
    let (mut side, mut order_type, mut tif, mut price) = (None, None, None, None);
    let (mut qty, mut flags, mut credit) = (None, None, None);
    for field in text.split('\x01').filter(|f| !f.is_empty()) {
        let (tag, value) = field.split_once('=')?;
        let byte = || value.parse::<u8>().ok();
        match tag {
            "35" if value == "D" => {}
            "11" => cl_ord_id = value.parse().ok(),
            "1" => account = AccountId::new(value).ok(),
            "55" => code = value.parse().ok(),
            "207" => market = byte().and_then(Market::from_u8),
            "54" => side = byte().and_then(Side::from_u8),
            "40" => order_type = byte().and_then(OrderType::from_u8),
            "59" => tif = byte().and_then(TimeInForce::from_u8),
            "44" => price = Price::parse_cny(value),
            "38" => qty = value.parse().ok().map(Qty),
            "9001" => flags = byte(),
            "9002" => credit = byte().and_then(CreditTag::from_u8),
            _ => return None,
        }
    }
    Some(NewOrder {
        cl_ord_id: cl_ord_id?,
        account: account?,
        security: SecurityId::new(market?, code?)?,
        side: side?,
        order_type: order_type?,
        tif: tif?,
        price: price?,
        qty: qty?,
        flags: flags?,
        credit: credit?,
    })
}

// ---------------------------------------------------------------------------
// Checks and benches
// ---------------------------------------------------------------------------

/// Every codec measured below must round-trip its message; fail loudly otherwise.
fn check_codecs() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let order = new_order();
    let mut buf = [0u8; 64];
    let n = order.encode_to_slice(&mut buf).expect("NewOrder fits");
    assert_eq!(n, NEW_ORDER_FRAME);
    assert_eq!(ClientMessage::decode(&buf[..n]), Ok(ClientMessage::NewOrder(order)));
    assert_eq!(NewOrder::decode_body(&buf[3..n]), Ok(order));
    let order_frame = buf[..n].to_vec();

    let exec = executed();
    let mut buf = [0u8; 128];
    let n = exec.encode_to_slice(&mut buf).expect("Executed fits");
    assert_eq!(n, EXECUTED_FRAME);
    assert_eq!(ServerMessage::decode(&buf[..n]), Ok(ServerMessage::App(exec)));
    let exec_frame = buf[..n].to_vec();

    let mut text = [0u8; 256];
    let n = text_encode(&order, &mut text).expect("text fits");
    assert_eq!(text_decode(&text[..n]), Some(order), "the text codec round-trips");
    (order_frame, exec_frame, text[..n].to_vec())
}

fn bench_encode(c: &mut Criterion) {
    let order = new_order();
    let exec = executed();
    // One output buffer on the stack, as a connection's send buffer would be; it
    // escapes through `black_box`, so every store is kept.
    let mut buf = [0u8; protocol::MAX_FRAME_LEN];
    let mut g = c.benchmark_group("encode");
    g.bench_function("new_order", |b| {
        b.iter(|| black_box(&order).encode_to_slice(black_box(&mut buf[..])))
    });
    g.bench_function("executed", |b| {
        b.iter(|| black_box(&exec).encode_to_slice(black_box(&mut buf[..])))
    });
    let src59 = [0x5au8; NEW_ORDER_FRAME];
    g.bench_function("memcpy_59B", |b| {
        b.iter(|| black_box(&mut buf[..])[..NEW_ORDER_FRAME].copy_from_slice(black_box(&src59)))
    });
    let src99 = [0x5au8; EXECUTED_FRAME];
    g.bench_function("memcpy_99B", |b| {
        b.iter(|| black_box(&mut buf[..])[..EXECUTED_FRAME].copy_from_slice(black_box(&src99)))
    });
    g.bench_function("new_order_text", |b| {
        b.iter(|| text_encode(black_box(&order), black_box(&mut buf[..])))
    });
    g.finish();
}

fn bench_decode(c: &mut Criterion, order_frame: &[u8], exec_frame: &[u8], text: &[u8]) {
    let mut g = c.benchmark_group("decode");
    g.bench_function("new_order", |b| b.iter(|| ClientMessage::decode(black_box(order_frame))));
    g.bench_function("new_order_body", |b| {
        b.iter(|| NewOrder::decode_body(black_box(&order_frame[3..])))
    });
    g.bench_function("executed", |b| b.iter(|| ServerMessage::decode(black_box(exec_frame))));
    let mut src59 = [0u8; NEW_ORDER_FRAME];
    src59.copy_from_slice(order_frame);
    // The decode floor: read the frame's bytes into a value, as a decoder must.
    g.bench_function("memcpy_59B", |b| {
        b.iter(|| {
            let mut out = [0u8; NEW_ORDER_FRAME];
            out.copy_from_slice(black_box(&src59));
            out
        })
    });
    let mut src99 = [0u8; EXECUTED_FRAME];
    src99.copy_from_slice(exec_frame);
    g.bench_function("memcpy_99B", |b| {
        b.iter(|| {
            let mut out = [0u8; EXECUTED_FRAME];
            out.copy_from_slice(black_box(&src99));
            out
        })
    });
    g.bench_function("new_order_text", |b| b.iter(|| text_decode(black_box(text))));
    g.finish();
}

// ---------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------

/// Where criterion writes its estimates (its own rule: `CRITERION_HOME`, else
/// `CARGO_TARGET_DIR/criterion`, else the workspace's `target/criterion`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return home.into();
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

/// The median point estimate, in ns, of one benchmark of the last run.
fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let path = criterion_dir().join(group).join(bench).join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

fn print_summary() {
    println!("\ncodec summary (median ns per operation; × = multiple of the memcpy floor)");
    println!("{:<8} {:<16} {:>9} {:>9}", "op", "bench", "ns/op", "× floor");
    for group in ["encode", "decode"] {
        for (bench, floor) in [
            ("new_order", "memcpy_59B"),
            ("new_order_body", "memcpy_59B"),
            ("executed", "memcpy_99B"),
            ("new_order_text", "memcpy_59B"),
            ("memcpy_59B", "memcpy_59B"),
            ("memcpy_99B", "memcpy_99B"),
        ] {
            let Some(ns) = median_ns(group, bench) else { continue };
            let ratio = median_ns(group, floor).map_or(f64::NAN, |f| ns / f);
            println!("{group:<8} {bench:<16} {ns:>9.2} {ratio:>8.1}×");
        }
    }
}

fn main() {
    let (order_frame, exec_frame, text) = check_codecs();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_encode(&mut c);
    bench_decode(&mut c, &order_frame, &exec_frame, &text);
    c.final_summary();
    print_summary();
}
