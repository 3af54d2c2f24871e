//! The `bw` command line against a live gateway: orders, cancels and mass cancels
//! print their answers in words. And `bw-journal`'s account views of a journal
//! replayed to any input.

mod util;

use gateway::config::Topology;
use util::*;

fn bw(addr: std::net::SocketAddr, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bw"))
        .arg("--addr")
        .arg(addr.to_string())
        .arg("--wait-ms")
        .arg("300")
        .args(args)
        .output()
        .expect("run bw");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

#[test]
fn orders_cancels_and_errors_read_as_words() {
    let gw = start(&config(Topology::Fused));
    let addr = gw.addr();
    let (ok, out) = bw(
        addr,
        &[
            "order",
            "--account",
            "A001",
            "--cl-ord-id",
            "42",
            "buy",
            "600519",
            "100",
            "@",
            "1490.00",
        ],
    );
    assert!(ok && out.contains("accepted: buy 100 600519.SH @ 1490.00"), "{out}");
    let (ok, out) = bw(
        addr,
        &[
            "-u",
            "trader2",
            "--token",
            "trader2-secret",
            "order",
            "--account",
            "B001",
            "sell",
            "600519",
            "100",
            "@",
            "1490.00",
        ],
    );
    assert!(ok && out.contains("executed: sell 100 600519.SH @ 1490.00"), "{out}");
    let (ok, out) =
        bw(addr, &["order", "--account", "A002", "buy", "600519.SH", "100", "@", "1490.00"]);
    assert!(
        ok && out.contains("4002 confirmation_required") && out.contains("you are C2"),
        "{out}"
    );
    let (ok, out) = bw(
        addr,
        &["order", "--account", "A001", "--cl-ord-id", "43", "buy", "600036", "100", "@", "41.00"],
    );
    assert!(ok && out.contains("accepted"), "{out}");
    let (ok, out) = bw(addr, &["cancel", "--account", "A001", "43"]);
    assert!(ok && out.contains("canceled: cl_ord_id 43") && out.contains("reason client"), "{out}");
    let (ok, out) = bw(addr, &["mass-cancel", "--account", "A001", "--block"]);
    assert!(ok && out.contains("mass cancel: 0 orders cancelled, new orders blocked"), "{out}");
    let (ok, out) = bw(addr, &["enable", "--account", "A001"]);
    assert!(ok && out.contains("order entry for A001: Active"), "{out}");
    // Bad input is an error message, not a panic.
    let (ok, out) = bw(addr, &["order", "--account", "A001", "buy", "60051", "100", "@", "1.00"]);
    assert!(!ok && out.contains("6-digit code"), "{out}");
    let (ok, out) = bw(addr, &["--token", "wrong-token", "watch"]);
    assert!(!ok && out.contains("login rejected: 1002 invalid_credentials"), "{out}");
    gw.shutdown().unwrap();
}

/// The demo configuration with a synchronous journal in `dir`, written to a file
/// (bw-journal reads the configuration as the gateway does).
fn journaled_config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let text = gateway::config::DEMO_TOML
        .replace(r#"listen = ["127.0.0.1:9100"]"#, r#"listen = ["127.0.0.1:0"]"#)
        .replace(r#"durability = "none""#, r#"durability = "sync""#)
        .replace(
            r#"dir = "breakwater-journal""#,
            &format!("dir = {:?}", dir.join("journal").display().to_string()),
        )
        .replace(r#"listen = "127.0.0.1:9180""#, r#"listen = "off""#);
    assert!(text.contains(r#"durability = "sync""#), "demo.toml changed shape");
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn bw_journal(args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bw-journal"))
        .args(args)
        .output()
        .expect("run bw-journal");
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A001 buys 100 600519 at 1490.00 from B001 (cl_ord_id 42, filled) and rests a
/// buy of 100 600036 at 41.00 (cl_ord_id 43).
fn trade_for_views(addr: std::net::SocketAddr) {
    use protocol::Side;
    use protocol::codec::{AppMessage, ClientMessage};
    let mut a = login(addr, "trader1");
    let mut b = login(addr, "trader2");
    a.send(&ClientMessage::NewOrder(limit(42, "A001", 600519, Side::Buy, 100, "1490.00"))).unwrap();
    expect(&mut a, "accepted 42", |m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
    b.send(&ClientMessage::NewOrder(limit(7, "B001", 600519, Side::Sell, 100, "1490.00"))).unwrap();
    expect(&mut a, "fill of 42", |m| matches!(m, AppMessage::Executed(_)).then_some(()));
    a.send(&ClientMessage::NewOrder(limit(43, "A001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    expect(&mut a, "accepted 43", |m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
    a.logout(WAIT).unwrap();
    b.logout(WAIT).unwrap();
}

/// True if a line of `table` reads `row` with its padding collapsed.
fn has_row(table: &str, row: &str) -> bool {
    table.lines().any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == row)
}

#[test]
fn bw_journal_prints_an_accounts_views_at_any_input() {
    let dir = std::env::temp_dir().join(format!("bw-cli-views-{}", std::process::id()));
    let config_path = journaled_config_file(&dir);
    let config = gateway::GatewayConfig::from_file(&config_path).unwrap();
    let gw = start(&config);
    trade_for_views(gw.addr());
    gw.shutdown().unwrap();
    let cfg = config_path.to_str().unwrap();
    let view = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--config", cfg, "--account", "A001"]);
        bw_journal(&all)
    };

    // 149,000.00 bought, fees 37.25 commission + 1.49 transfer; 4,100.00 + 5.00 +
    // 0.04 frozen for the resting buy.
    let (ok, out) = view(&["funds"]);
    assert!(ok && out.starts_with("funds of account A001, after journal input "), "{out}");
    for row in [
        "cash available 9846856.22",
        "cash frozen 4105.04",
        "fees today 38.74",
        "commission 37.25",
        "transfer fee 1.49",
        "realized P&L today 0.00",
    ] {
        assert!(has_row(&out, row), "no row {row:?} in\n{out}");
    }
    let (ok, out) = view(&["positions"]);
    assert!(ok, "{out}");
    // 1,000 held at 1,450.00 and 100 bought today (not sellable until tomorrow);
    // cost 1,599,038.74 with fees, valued at the last trade, 1,490.00.
    assert!(has_row(&out, "600519.SH 1100 1000 0 1453.67 1490.00 1639000.00 +39961.26"), "{out}");
    let (ok, out) = view(&["orders", "--open"]);
    assert!(ok && out.contains(" 43  600036.SH") && !out.contains(" 42  600519.SH"), "{out}");
    let (ok, out) = view(&["orders"]);
    assert!(ok && out.contains(" 43  600036.SH") && out.contains(" 42  600519.SH"), "{out}");
    assert!(out.contains("filled") && out.contains("open"), "{out}");
    let (ok, out) = view(&["fills", "--json"]);
    assert!(ok && out.contains("\"cl_ord_id\":42,"), "{out}");
    assert!(
        out.contains(
            "\"commission\":37.25,\"stamp_duty\":0.00,\"transfer_fee\":1.49,\"fees\":38.74,"
        ),
        "{out}"
    );

    // The state before B001's sell: order 42 open, nothing filled.
    let (ok, dump) = bw_journal(&["dump", dir.join("journal").to_str().unwrap()]);
    assert!(ok, "{dump}");
    let sell = dump
        .lines()
        .find(|l| l.contains("NewOrder") && l.contains("B001"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no B001 order in {dump}"));
    let before: u64 = sell.parse::<u64>().unwrap() - 1;
    let before_text = before.to_string();
    let (ok, out) = view(&["fills", "--to", &before_text]);
    assert!(ok && out.contains(&format!("after journal input {before}\n")), "{out}");
    assert!(out.ends_with("(none)\n"), "{out}");
    let (ok, out) = view(&["orders", "--open", "--to", &before_text, "--json"]);
    assert!(
        ok && out.contains("\"cl_ord_id\":42,") && out.contains("\"status\":\"open\""),
        "{out}"
    );
    let (ok, out) = view(&["fills", "--to", sell]);
    assert!(ok && out.contains(" 42 ") && out.contains("1490.00"), "{out}");

    // Bad input is an error message.
    let (ok, out) = view(&["funds", "--to", "999999"]);
    assert!(!ok && out.contains("the journal ends at input"), "{out}");
    let (ok, out) = bw_journal(&["funds", "--config", cfg, "--account", "Z999"]);
    assert!(!ok && out.contains("account Z999 is not in the configuration"), "{out}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scripted gateway on 127.0.0.1 for one session: accepts the login at the
/// version asked for, answers every query with `answer` (a heartbeat first, which
/// `bw` must skip), and ends the session on logout. The thread returns what the
/// client sent.
fn scripted_gateway(
    answer: impl Fn(&protocol::query::Query) -> protocol::query::QueryAnswer + Send + 'static,
) -> (std::net::SocketAddr, std::thread::JoinHandle<Vec<protocol::codec::ClientMessage>>) {
    use protocol::codec::{ClientMessage, EndOfSession, LoginAccepted, ServerMessage};
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut rx = protocol::framing::FrameBuffer::new(4 * protocol::MAX_FRAME_LEN);
        let mut seen = Vec::new();
        let send = |stream: &mut std::net::TcpStream, msg: ServerMessage| {
            let mut buf = [0u8; protocol::MAX_FRAME_LEN];
            let n = msg.encode_to_slice(&mut buf).unwrap();
            stream.write_all(&buf[..n]).unwrap();
        };
        loop {
            while let Some(frame) = rx.next_frame().unwrap() {
                let msg = ClientMessage::decode(frame).unwrap();
                seen.push(msg);
                match msg {
                    ClientMessage::Login(l) => send(
                        &mut stream,
                        ServerMessage::LoginAccepted(LoginAccepted {
                            version: l.version.min(protocol::query::VERSION_QUERIES),
                            heartbeat_ms: 1000,
                            dead_peer_ms: 15_000,
                            session_id: 1,
                            next_seq: 1,
                        }),
                    ),
                    ClientMessage::Query(q) => {
                        send(&mut stream, ServerMessage::Heartbeat);
                        send(&mut stream, ServerMessage::Query(answer(&q)));
                    }
                    ClientMessage::Logout => {
                        let end = EndOfSession { reason: protocol::RejectCode(0), last_seq: 0 };
                        send(&mut stream, ServerMessage::EndOfSession(end));
                        return seen;
                    }
                    _ => {}
                }
            }
            match rx.read_from(&mut stream) {
                Ok(0) | Err(_) => return seen,
                Ok(_) => {}
            }
        }
    });
    (addr, thread)
}

fn header(
    q: &protocol::query::Query,
    as_of_seq: u64,
    next_cursor: u32,
) -> protocol::query::AnswerHeader {
    protocol::query::AnswerHeader {
        query_id: q.query_id,
        as_of_seq,
        account: q.account,
        next_cursor,
        flags: 0,
    }
}

fn open_order(cl_ord_id: u64) -> protocol::query::OrderRow {
    protocol::query::OrderRow {
        cl_ord_id,
        security: sec(600036),
        side: protocol::Side::Buy,
        order_type: protocol::OrderType::Limit,
        status: protocol::query::OrderStatus::Open,
        price: cny("41.00"),
        qty: protocol::Qty(100 * cl_ord_id),
        open_qty: protocol::Qty(100 * cl_ord_id),
        ..protocol::query::OrderRow::EMPTY
    }
}

#[test]
fn bw_orders_pages_through_every_answer() {
    use protocol::query::{OrdersAnswer, QueryAnswer, Rows};
    // Twelve open orders: pages of five at cursors 0, 5 and 10.
    let (addr, seen) = scripted_gateway(|q| {
        let mut rows = Rows::new(protocol::query::OrderRow::EMPTY);
        let end = (q.cursor + 5).min(12);
        for id in q.cursor..end {
            rows.push(open_order(u64::from(id) + 1));
        }
        let next = if end < 12 { end } else { 0 };
        QueryAnswer::Orders(OrdersAnswer {
            header: header(q, 100 + u64::from(q.cursor), next),
            rows,
        })
    });
    let (ok, out) = bw(addr, &["orders", "--account", "A001", "--open"]);
    assert!(ok, "{out}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("orders of account A001, as of stream seq 110"), "{out}");
    let ids: Vec<u64> =
        lines.skip(1).map(|l| l.split_whitespace().nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(ids, (1..=12).collect::<Vec<_>>(), "{out}");
    let sent = seen.join().unwrap();
    let protocol::codec::ClientMessage::Login(login) = sent[0] else { panic!("{sent:?}") };
    assert_eq!(login.version, 3, "queries log in with version 3");
    let queries: Vec<_> = sent
        .iter()
        .filter_map(|m| match m {
            protocol::codec::ClientMessage::Query(q) => Some(*q),
            _ => None,
        })
        .collect();
    assert_eq!(queries.iter().map(|q| q.cursor).collect::<Vec<_>>(), [0, 5, 10]);
    assert!(queries.iter().all(|q| q.open_only() && q.account == acct("A001")), "{queries:?}");
}

#[test]
fn bw_fills_json_and_refusals() {
    use protocol::query::{
        FillRow, FillsAnswer, QueryAnswer, QueryRejected, Rows, answer_header_flags,
    };
    let (addr, _) = scripted_gateway(|q| {
        let mut rows = Rows::new(FillRow::EMPTY);
        rows.push(FillRow {
            exec_id: 9,
            cl_ord_id: 42,
            security: sec(600519),
            side: protocol::Side::Sell,
            price: cny("1498.00"),
            qty: protocol::Qty(100),
            commission: cny("37.45").0,
            stamp_duty: cny("74.90").0,
            transfer_fee: cny("1.50").0,
            booked_ns: 0,
        });
        let mut header = header(q, 7, 0);
        header.flags = answer_header_flags::INCOMPLETE;
        QueryAnswer::Fills(FillsAnswer { header, rows })
    });
    let (ok, out) = bw(addr, &["fills", "--account", "A001", "--json"]);
    assert!(ok, "{out}");
    assert_eq!(
        out,
        "{\"account\":\"A001\",\"as_of_stream_seq\":7,\"fills\":[{\"exec_id\":9,\
         \"cl_ord_id\":42,\"security\":\"600519.SH\",\"side\":\"sell\",\"price\":1498.00,\
         \"qty\":100,\"value\":149800.00,\"commission\":37.45,\"stamp_duty\":74.90,\
         \"transfer_fee\":1.50,\"fees\":113.85,\"booked_ns\":0}],\"incomplete\":true}\n"
    );
    let (addr, _) = scripted_gateway(|q| {
        QueryAnswer::Rejected(QueryRejected {
            query_id: q.query_id,
            account: Some(q.account),
            kind: q.kind.as_u8(),
            code: protocol::RejectCode::QUERY_RATE_LIMITED,
        })
    });
    let (ok, out) = bw(addr, &["funds", "--account", "A001"]);
    assert!(!ok && out.contains("the funds query was refused: 1011 query_rate_limited"), "{out}");
}

#[test]
fn bw_queries_a_live_gateway_through_every_page() {
    use protocol::Side;
    use protocol::codec::{AppMessage, ClientMessage};
    let gw = start(&config(Topology::Fused));
    let addr = gw.addr();
    // A stream keeps the version of its login's first session: version 3 from the
    // start, so bw's queries (version 3) are answered on the same stream.
    let login_v3 = |user: &str| {
        let mut c = client_config(addr, user);
        c.version = protocol::query::VERSION_QUERIES;
        protocol::client::Client::connect(c, 1).expect("login")
    };
    let mut a = login_v3("trader1");
    let mut b = login_v3("trader2");
    a.send(&ClientMessage::NewOrder(limit(42, "A001", 600519, Side::Buy, 100, "1490.00"))).unwrap();
    expect(&mut a, "accepted 42", |m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
    b.send(&ClientMessage::NewOrder(limit(7, "B001", 600519, Side::Sell, 100, "1490.00"))).unwrap();
    expect(&mut a, "fill of 42", |m| matches!(m, AppMessage::Executed(_)).then_some(()));
    // Seven resting buys: two pages of orders (five to a page).
    for i in 1..=7 {
        let order = limit(100 + i, "A001", 600036, Side::Buy, 100 * i, "41.00");
        a.send(&ClientMessage::NewOrder(order)).unwrap();
    }
    for _ in 1..=7 {
        expect(&mut a, "a resting buy", |m| {
            matches!(m, AppMessage::OrderAccepted(_)).then_some(())
        });
    }
    // bw logs in as trader1 itself (one session per login; trader1's orders stay
    // when it logs out).
    a.logout(WAIT).unwrap();
    b.logout(WAIT).unwrap();

    // 149,000.00 bought for fees of 37.25 commission and 1.49 transfer fee.
    let (ok, out) = bw(addr, &["funds", "--account", "A001"]);
    assert!(ok && out.starts_with("funds of account A001, as of stream seq "), "{out}");
    for row in ["fees today 38.74", "commission 37.25", "transfer fee 1.49", "cash debit 0.00"] {
        assert!(has_row(&out, row), "no row {row:?} in\n{out}");
    }
    let (ok, out) = bw(addr, &["positions", "--account", "A001"]);
    assert!(ok, "{out}");
    assert!(has_row(&out, "600519.SH 1100 1000 0 1453.67 1490.00 1639000.00 +39961.26"), "{out}");
    let (ok, out) = bw(addr, &["orders", "--account", "A001", "--open"]);
    assert!(ok, "{out}");
    let open: Vec<&str> = out.lines().skip(2).collect();
    assert_eq!(open.len(), 7, "every page: {out}");
    assert!(open.iter().all(|l| l.contains("600036.SH") && l.ends_with(" open")), "{out}");
    let (ok, out) = bw(addr, &["orders", "--account", "A001", "--json"]);
    assert!(ok && out.matches("\"cl_ord_id\":").count() == 8, "{out}");
    assert!(out.contains("\"cl_ord_id\":42,") && out.contains("\"status\":\"filled\""), "{out}");
    let (ok, out) = bw(addr, &["fills", "--account", "A001", "--json"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("\"cl_ord_id\":42,\"security\":\"600519.SH\",\"side\":\"buy\",\"price\":1490.00,\"qty\":100,\"value\":149000.00,\"commission\":37.25,\"stamp_duty\":0.00,\"transfer_fee\":1.49,\"fees\":38.74,"),
        "{out}"
    );
    assert!(out.ends_with("\"incomplete\":false}\n"), "{out}");
    // An account the login may not trade for is refused with its code.
    let (ok, out) = bw(addr, &["funds", "--account", "B001"]);
    assert!(!ok && out.contains("the funds query was refused: 3001"), "{out}");
    gw.shutdown().unwrap();
}

// ------------------------------------------------------------------ bw quotes

/// A scripted market-data server for one `bw quotes` run: accepts the login
/// (session 20261207), answers each Subscribe with `answer(request_id, target)`,
/// and reads until the client leaves. The thread returns what the client sent.
fn scripted_md_server(
    answer: impl Fn(u32, protocol::marketdata::Target) -> Vec<protocol::marketdata::MdMessage>
    + Send
    + 'static,
) -> (std::net::SocketAddr, std::thread::JoinHandle<Vec<protocol::marketdata::MdMessage>>) {
    use protocol::marketdata::{MdMessage, decode_client};
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut rx = protocol::framing::FrameBuffer::new(0);
        let mut seen = Vec::new();
        let send = |stream: &mut std::net::TcpStream, msg: &MdMessage| {
            let mut buf = [0u8; protocol::MAX_FRAME_LEN];
            let n = msg.encode(&mut buf).unwrap();
            stream.write_all(&buf[..n]).unwrap();
        };
        loop {
            while let Some(frame) = rx.next_frame().unwrap() {
                let msg = decode_client(frame).unwrap();
                seen.push(msg);
                let replies = match msg {
                    MdMessage::Login { .. } => {
                        vec![MdMessage::LoginAccepted {
                            session_id: 20_261_207,
                            heartbeat_ms: 1000,
                        }]
                    }
                    MdMessage::Subscribe { request_id, target, .. } => answer(request_id, target),
                    _ => Vec::new(),
                };
                for r in &replies {
                    send(&mut stream, r);
                }
            }
            match rx.read_from(&mut stream) {
                Ok(0) | Err(_) => return seen,
                Ok(_) => {}
            }
        }
    });
    (addr, thread)
}

/// A real-time subscription's acknowledgement and snapshot of `security`.
fn md_snapshot(
    request_id: u32,
    security: protocol::SecurityId,
    bids: &[(&str, u64, u32)],
    asks: &[(&str, u64, u32)],
) -> Vec<protocol::marketdata::MdMessage> {
    use protocol::marketdata::{MdMessage, SNAPSHOT_LEVELS_MAX, Snapshot, WireLevel, channel_of};
    let level = |&(price, qty, orders): &(&str, u64, u32)| WireLevel {
        price: cny(price),
        qty: protocol::Qty(qty),
        orders,
    };
    let mut s = Snapshot {
        channel: channel_of(security),
        seq: 1200,
        security_seq: 1187,
        security,
        flags: 0,
        time_ns: 1_796_613_000_000_000_000,
        session_id: 20_261_207,
        phase: protocol::TradingPhase::Continuous,
        last: cny("1485.00"),
        volume: 12_300,
        turnover: 182_655_000_000,
        indicative: Default::default(),
        bid_count: bids.len() as u8,
        ask_count: asks.len() as u8,
        bids: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
        asks: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
    };
    for (to, from) in s.bids.iter_mut().zip(bids) {
        *to = level(from);
    }
    for (to, from) in s.asks.iter_mut().zip(asks) {
        *to = level(from);
    }
    vec![
        MdMessage::SubscribeAck { request_id, channel: channel_of(security) },
        MdMessage::Snapshot(s),
    ]
}

fn md_security(target: protocol::marketdata::Target) -> protocol::SecurityId {
    match target {
        protocol::marketdata::Target::Security(s) => s,
        other => panic!("bw quotes subscribes per security, not {other:?}"),
    }
}

#[test]
fn bw_quotes_once_prints_a_ladder_per_security() {
    use protocol::marketdata::{Depth, MdMessage, Mode, Target};
    let (md_addr, server) = scripted_md_server(|request_id, target| {
        let s = md_security(target);
        if s.code == 600_519 {
            md_snapshot(
                request_id,
                s,
                &[("1485.00", 300, 2), ("1484.99", 100, 1)],
                &[("1485.01", 500, 3)],
            )
        } else {
            md_snapshot(request_id, s, &[("12.00", 1000, 5)], &[])
        }
    });
    let md = md_addr.to_string();
    let (ok, out) = bw(md_addr, &["quotes", "--md-addr", &md, "--once", "600519", "000001.SZ"]);
    assert!(ok, "{out}");
    assert!(!out.contains('\x1b'), "--once prints without redrawing: {out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("session 20261207  gaps recovered 0"), "{out}");
    assert!(
        out.contains("600519.SH  continuous  last 1485.00  volume 12300  turnover 18265500.00\n"),
        "{out}"
    );
    assert!(out.contains("\nAsk5           -\n"), "{out}");
    assert!(out.contains("\nAsk1     1485.01         500       3\nBid1     1485.00         300       2\nBid2     1484.99         100       1\n"), "{out}");
    assert!(out.contains("\n000001.SZ  continuous"), "{out}");
    assert!(out.contains("\nBid1       12.00        1000       5\n"), "{out}");
    assert!(!out.contains("Ask6"), "five levels by default: {out}");
    let seen = server.join().unwrap();
    assert!(
        matches!(seen[0], MdMessage::Login { version: 1, username, .. } if username.as_str() == "trader1")
    );
    let subscribed: Vec<String> = seen[1..]
        .iter()
        .map(|m| match m {
            MdMessage::Subscribe {
                target: Target::Security(s),
                depth: Depth::Level1,
                mode: Mode::RealTime,
                ..
            } => s.to_string(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(subscribed, ["600519.SH", "000001.SZ"]);
}

#[test]
fn bw_quotes_ticks_prints_the_trade_and_order_stream() {
    use protocol::marketdata::{DeltaBody, DeltaHeader, Depth, MdMessage, channel_of};
    let (md_addr, server) = scripted_md_server(|request_id, target| {
        let s = md_security(target);
        let mut out = md_snapshot(request_id, s, &[("1485.00", 300, 2)], &[("1485.01", 500, 3)]);
        let h = |seq, prev_seq| DeltaHeader {
            channel: channel_of(s),
            seq,
            prev_seq,
            security: s,
            flags: 0,
            time_ns: 1_796_613_000_000_001_000,
        };
        out.push(MdMessage::Delta(
            h(1201, 1187),
            DeltaBody::Trade {
                exec_id: 5001,
                price: cny("1485.01"),
                qty: protocol::Qty(200),
                buy_order_id: 88,
                sell_order_id: 61,
                aggressor: Some(protocol::Side::Buy),
            },
        ));
        out.push(MdMessage::Delta(
            h(1202, 1201),
            DeltaBody::OrderAdded {
                order_id: 89,
                side: protocol::Side::Buy,
                price: cny("1485.00"),
                qty: protocol::Qty(400),
            },
        ));
        out
    });
    let md = md_addr.to_string();
    let (ok, out) = bw(md_addr, &["quotes", "--md-addr", &md, "--ticks", "--once", "600519"]);
    assert!(ok, "{out}");
    assert!(out.contains("600519.SH  11:10:00.000  #1201  trade 200 @ 1485.01 buy (exec 5001, buy order 88, sell order 61)\n"), "{out}");
    assert!(out.contains("600519.SH  11:10:00.000  #1202  order 89 buy 400 @ 1485.00\n"), "{out}");
    assert!(!out.contains("Ask1"), "ticks instead of the ladder: {out}");
    let seen = server.join().unwrap();
    assert!(matches!(seen[1], MdMessage::Subscribe { depth: Depth::Level2, .. }), "{seen:?}");
}

#[test]
fn bw_quotes_reports_refusals_and_bad_arguments() {
    use protocol::marketdata::{MdMessage, MdReject};
    let (md_addr, server) = scripted_md_server(|request_id, _| {
        vec![MdMessage::SubscribeReject { request_id, code: MdReject::NOT_ENTITLED }]
    });
    let md = md_addr.to_string();
    let (ok, out) = bw(md_addr, &["quotes", "--md-addr", &md, "--depth", "10", "--once", "600519"]);
    assert!(
        !ok && out.contains("600519.SH refused by the market-data server: 7 not_entitled"),
        "{out}"
    );
    server.join().unwrap();
    let (ok, out) = bw(md_addr, &["quotes", "--once", "600519"]);
    assert!(!ok && out.contains("--md-addr"), "{out}");
    let (ok, out) = bw(md_addr, &["quotes", "--md-addr", &md, "--depth", "7", "600519"]);
    assert!(!ok && out.contains("--depth 7: expected 5 (Level-1) or 10 (Level-2)"), "{out}");
}
