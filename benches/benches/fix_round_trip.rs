//! Order → first answer round trip through the FIX door beside the binary door,
//! in the same run, against one in-process gateway over loopback TCP.
//!
//! ```text
//!   FIX:    NewOrderSingle ──► FIX door thread ──► io thread ──► engine ──► login's stream
//!           ExecutionReport(New) ◄── FIX door thread ◄── io thread ◄───────────┘
//!   binary: NewOrder ──► io thread ──► engine ──► OrderAccepted
//! ```
//!
//! Paced at 1,000 orders a second in all, the two doors alternating (trader1
//! over FIX for A001, trader2 over the binary protocol for B001, both buying
//! 600036.SH at 41.00, which rests); each order is cancelled right after its
//! answer (not timed), so the books stay small. Latency runs from just before
//! the order is written to the socket until its answer is read. Every order must
//! be accepted, or the run stops. Target: the FIX round trip within 1.3x the
//! binary one.
//!
//! Run: `cargo bench -p benches --bench fix_round_trip` (about 12 s;
//! `FIX_RTT_ORDERS` sets the orders per door, 5,000 by default).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use benches::run::{env_u64, under_cargo_bench};
use gateway::GatewayConfig;
use hdrhistogram::Histogram;
use protocol::client::{Client, ClientConfig};
use protocol::codec::{AppMessage, CancelOrder, ClientMessage, NewOrder, ServerMessage};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce, Token,
    Username,
};

const FIX_SECTION: &str = r#"
[fix]
listen = "127.0.0.1:0"
sender_comp_id = "BW"

[[fix.sessions]]
comp_id = "BENCH"
login = "trader1"
"#;

fn wall_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64
}

fn utc_timestamp(ns: u64) -> String {
    let mut out = [0u8; 21];
    fix::time::format_utc_timestamp_ms(ns, &mut out);
    String::from_utf8(out.to_vec()).expect("ASCII")
}

/// A FIX client on a blocking socket, enough for this bench.
struct FixClient {
    stream: TcpStream,
    seq: u64,
    rx: Vec<u8>,
}

impl FixClient {
    fn message(&mut self, msg_type: &str, body: &str) -> Vec<u8> {
        let body = format!(
            "35={msg_type}\x0149=BENCH\x0156=BW\x0134={}\x0152={}\x01{body}",
            self.seq,
            utc_timestamp(wall_ns())
        );
        self.seq += 1;
        let mut msg = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
        let sum = msg.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        msg.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
        msg
    }

    /// Reads until an ExecutionReport for `cl_ord_id` comes; returns its ExecType.
    /// Scans fields in place (no allocation), as a FIX engine's parser would.
    fn report_for(&mut self, cl_ord_id: &[u8]) -> u8 {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 8192];
        loop {
            while let fix::frame::Scan::Message { len, .. } = fix::frame::scan(&self.rx, 1 << 16) {
                let (mut report, mut ours, mut exec_type) = (false, false, 0u8);
                for (f, _) in fix::field::FieldIter::new(&self.rx[..len]).filter_map(Result::ok) {
                    match f.tag {
                        35 => report = f.value == b"8",
                        11 => ours = f.value == cl_ord_id,
                        150 => exec_type = f.value.first().copied().unwrap_or(0),
                        _ => {}
                    }
                }
                self.rx.drain(..len);
                if report && ours {
                    return exec_type;
                }
            }
            assert!(Instant::now() < deadline, "no FIX answer within 10 s");
            let n = self.stream.read(&mut buf).expect("read the FIX door");
            assert!(n > 0, "the FIX door closed the connection");
            self.rx.extend_from_slice(&buf[..n]);
        }
    }

    /// Reads until a Logon comes.
    fn logon_answer(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 8192];
        loop {
            if let fix::frame::Scan::Message { len, .. } = fix::frame::scan(&self.rx, 1 << 16) {
                let logon = fix::field::FieldIter::new(&self.rx[..len])
                    .filter_map(Result::ok)
                    .any(|(f, _)| f.tag == 35 && f.value == b"A");
                self.rx.drain(..len);
                assert!(logon, "the first answer is the Logon");
                return;
            }
            assert!(Instant::now() < deadline, "no Logon within 10 s");
            let n = self.stream.read(&mut buf).expect("read the FIX door");
            assert!(n > 0, "the FIX door closed the connection");
            self.rx.extend_from_slice(&buf[..n]);
        }
    }
}

fn config() -> GatewayConfig {
    let mut config = benches::flow::config(1_000_000);
    config.server.listen = vec!["127.0.0.1:0".parse().expect("address")];
    config.admin.listen = None;
    let text = format!("{}\n{FIX_SECTION}", gateway::config::DEMO_TOML);
    let with_fix = GatewayConfig::from_toml_str(&text, "<fix bench>").expect("valid");
    let mut fix = with_fix.fix.expect("a [fix] section");
    fix.listen = "127.0.0.1:0".parse().expect("address");
    config.fix = Some(fix);
    config
}

fn order(cl_ord_id: u64, account: &str, qty: u64) -> NewOrder {
    NewOrder {
        cl_ord_id,
        account: AccountId::new(account).expect("account"),
        security: SecurityId::new(Market::Sse, benches::flow::SECURITY_CODE).expect("security"),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price::from_yuan_fen(41, 0),
        qty: Qty(qty),
        flags: 0,
        credit: CreditTag::Cash,
    }
}

fn print_row(name: &str, h: &Histogram<u64>) {
    let us = |q: f64| h.value_at_quantile(q) as f64 / 1_000.0;
    println!(
        "{name:<8} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        h.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        h.max() as f64 / 1_000.0
    );
}

fn main() {
    if !under_cargo_bench("fix_round_trip") {
        return;
    }
    let per_door = env_u64("FIX_RTT_ORDERS", 5_000);
    let running = gateway::start(&config()).expect("gateway starts");

    let stream = TcpStream::connect(running.fix_addr().expect("a FIX door")).expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let mut fix = FixClient { stream, seq: 1, rx: Vec::with_capacity(1 << 16) };
    let logon = fix.message("A", "98=0\x01108=30\x01141=Y\x01");
    fix.stream.write_all(&logon).expect("logon");
    fix.logon_answer();

    let username = Username::new("trader2").expect("username");
    let token = Token::from_text("trader2-secret").expect("token");
    let mut binary =
        Client::connect(ClientConfig::new(running.addr(), username, token).expect("config"), 0)
            .expect("binary login");

    let mut fix_rtt = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("histogram");
    let mut binary_rtt = fix_rtt.clone();
    let interval = Duration::from_micros(1_000);
    let mut next = Instant::now();
    for i in 0..2 * per_door {
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        next += interval;
        let cl_ord_id = 1_000 + i;
        let qty = 100 * (1 + i % 50);
        if i % 2 == 0 {
            let body = format!(
                "11={cl_ord_id}\x011=A001\x0155=600036\x01207=XSHG\x0154=1\x0160={}\x0138={qty}\x0140=2\x0144=41.00\x0159=0\x01",
                utc_timestamp(wall_ns())
            );
            let msg = fix.message("D", &body);
            let id = cl_ord_id.to_string();
            let sent = Instant::now();
            fix.stream.write_all(&msg).expect("send");
            let exec_type = fix.report_for(id.as_bytes());
            fix_rtt.record(sent.elapsed().as_nanos() as u64).expect("in range");
            assert_eq!(
                exec_type, b'0',
                "FIX order {id} not accepted (ExecType {})",
                exec_type as char
            );
            let cancel = format!(
                "11={}\x0141={cl_ord_id}\x011=A001\x0155=600036\x01207=XSHG\x0154=1\x0160={}\x01",
                cl_ord_id + 1_000_000_000,
                utc_timestamp(wall_ns())
            );
            let cancel = fix.message("F", &cancel);
            fix.stream.write_all(&cancel).expect("cancel");
        } else {
            let sent = Instant::now();
            binary.send(&ClientMessage::NewOrder(order(cl_ord_id, "B001", qty))).expect("send");
            loop {
                let msg = binary.recv(Duration::from_secs(10)).expect("stream").expect("answer");
                if let ServerMessage::App(s) = msg {
                    match s.msg {
                        AppMessage::OrderAccepted(a) if a.cl_ord_id == cl_ord_id => break,
                        AppMessage::OrderRejected(r) if r.cl_ord_id == cl_ord_id => {
                            panic!("binary order {cl_ord_id} rejected: code {}", r.code)
                        }
                        _ => {}
                    }
                }
            }
            binary_rtt.record(sent.elapsed().as_nanos() as u64).expect("in range");
            let cancel = CancelOrder {
                request_id: cl_ord_id + 1_000_000_000,
                orig_cl_ord_id: cl_ord_id,
                account: AccountId::new("B001").expect("account"),
            };
            binary.send(&ClientMessage::CancelOrder(cancel)).expect("cancel");
        }
    }
    drop(binary);
    drop(fix);
    running.shutdown().expect("clean stop");

    println!();
    println!("order -> first answer, µs ({} orders per door, 1,000/s in all)", per_door);
    println!(
        "{:<8} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "door", "orders", "p50", "p90", "p99", "p99.9", "max"
    );
    print_row("binary", &binary_rtt);
    print_row("FIX", &fix_rtt);
    let ratio =
        |q: f64| fix_rtt.value_at_quantile(q) as f64 / binary_rtt.value_at_quantile(q) as f64;
    println!("FIX / binary: p50 {:.2}x, p99 {:.2}x (target: within 1.3x)", ratio(0.5), ratio(0.99));
}
