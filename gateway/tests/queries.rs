//! Protocol version 3 over real TCP: the four queries answered from the engine's
//! state (after orders, partial and full fills, a cancel, a rejected order and a
//! kill switch), paging and open-only, FillFees after every Executed to the fen,
//! the refusals (rate limit, account not permitted, page size, version), a
//! version 1 stream unchanged, answers joining the stream at `as_of_seq` in both
//! topologies and under `sync` durability, and the admin endpoint's views.

mod util;

use std::io::{Read, Write};
use std::time::Duration;

use gateway::config::{Durability, Topology};
use protocol::client::Client;
use protocol::codec::{AppMessage, ClientMessage, Executed, MassCancel, MassCancelScope};
use protocol::query::{
    FillFees, FillRow, OrderRow, OrderStatus, PositionRow, Query, QueryAnswer, QueryKind,
    query_flags,
};
use protocol::{RejectCode, Sequenced, ServerMessage, Side};
use util::*;

const QUIET: Duration = Duration::from_millis(300);

/// 1/10000 CNY of a CNY amount.
fn money(text: &str) -> i64 {
    cny(text).0
}

fn connect(addr: std::net::SocketAddr, user: &str, version: u8) -> Client {
    let mut cfg = client_config(addr, user);
    cfg.version = version;
    Client::connect(cfg, 1).expect("login")
}

/// A client and every stream message it received, in order.
struct Session {
    client: Client,
    stream: Vec<Sequenced>,
    next_query: u64,
}

impl Session {
    fn new(addr: std::net::SocketAddr, user: &str, version: u8) -> Session {
        Session { client: connect(addr, user, version), stream: Vec::new(), next_query: 1 }
    }

    fn send(&mut self, msg: ClientMessage) {
        self.client.send(&msg).expect("send");
    }

    /// Receives until nothing arrives for a while.
    fn settle(&mut self) {
        while let Some(msg) = self.client.recv(QUIET).expect("recv") {
            match msg {
                ServerMessage::App(s) => self.stream.push(s),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Receives until `pick` finds a stream message.
    fn wait_for<T>(&mut self, mut pick: impl FnMut(&AppMessage) -> Option<T>) -> T {
        if let Some(found) = self.stream.iter().find_map(|s| pick(&s.msg)) {
            return found;
        }
        let deadline = std::time::Instant::now() + WAIT;
        while std::time::Instant::now() < deadline {
            if let Some(ServerMessage::App(s)) = self.client.recv(QUIET).expect("recv") {
                self.stream.push(s);
                if let Some(found) = pick(&s.msg) {
                    return found;
                }
            }
        }
        panic!("not received; stream: {:#?}", self.stream);
    }

    fn ask(
        &mut self,
        kind: QueryKind,
        account: &str,
        cursor: u32,
        page: u8,
        flags: u8,
    ) -> QueryAnswer {
        let query = Query {
            query_id: self.next_query,
            kind,
            account: acct(account),
            cursor,
            page_size: page,
            flags,
        };
        self.next_query += 1;
        let answer = self.client.query(&query, WAIT, &mut self.stream).expect("an answer");
        assert_eq!(answer.query_id(), query.query_id);
        if let Some(h) = answer.header() {
            // Joining: everything the answer reflects arrives in the stream.
            self.client.recv_until(h.as_of_seq, WAIT, &mut self.stream).expect("join");
            assert_eq!(h.account, acct(account));
        }
        answer
    }

    fn orders(&mut self, account: &str, cursor: u32, page: u8, flags: u8) -> (Vec<OrderRow>, u32) {
        match self.ask(QueryKind::Orders, account, cursor, page, flags) {
            QueryAnswer::Orders(a) => (a.rows.as_slice().to_vec(), a.header.next_cursor),
            other => panic!("expected orders, got {other:?}"),
        }
    }

    fn all_orders(&mut self, account: &str, page: u8, flags: u8) -> Vec<Vec<OrderRow>> {
        let mut pages = Vec::new();
        let mut cursor = 0;
        loop {
            let (rows, next) = self.orders(account, cursor, page, flags);
            pages.push(rows);
            if next == 0 {
                return pages;
            }
            cursor = next;
        }
    }

    fn fills(&mut self, account: &str) -> Vec<FillRow> {
        match self.ask(QueryKind::Fills, account, 0, 0, 0) {
            QueryAnswer::Fills(a) => {
                assert_eq!(a.header.next_cursor, 0, "one page holds these fills");
                a.rows.as_slice().to_vec()
            }
            other => panic!("expected fills, got {other:?}"),
        }
    }

    fn positions(&mut self, account: &str, cursor: u32, page: u8) -> (Vec<PositionRow>, u32) {
        match self.ask(QueryKind::Positions, account, cursor, page, 0) {
            QueryAnswer::Positions(a) => (a.rows.as_slice().to_vec(), a.header.next_cursor),
            other => panic!("expected positions, got {other:?}"),
        }
    }

    fn funds(&mut self, account: &str) -> (u64, protocol::query::FundsRow) {
        match self.ask(QueryKind::Funds, account, 0, 0, 0) {
            QueryAnswer::Funds(a) => (a.header.as_of_seq, a.funds),
            other => panic!("expected funds, got {other:?}"),
        }
    }

    fn refused(&mut self, kind: QueryKind, account: &str, page: u8) -> RejectCode {
        match self.ask(kind, account, 0, page, 0) {
            QueryAnswer::Rejected(r) => {
                assert_eq!(r.kind, kind.as_u8());
                r.code
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    /// The Executed and FillFees pairs of the stream, in order.
    fn fills_with_fees(&self) -> Vec<(Executed, FillFees)> {
        let mut out = Vec::new();
        for (i, s) in self.stream.iter().enumerate() {
            if let AppMessage::Executed(e) = s.msg {
                let next = self.stream.get(i + 1).map(|n| (n.seq, n.msg));
                match next {
                    Some((seq, AppMessage::FillFees(f))) => {
                        assert_eq!(seq, s.seq + 1, "FillFees follows its Executed");
                        assert_eq!(
                            (f.exec_id, f.cl_ord_id, f.order_id),
                            (e.exec_id, e.cl_ord_id, e.order_id)
                        );
                        out.push((e, f));
                    }
                    other => panic!("Executed {e:?} not followed by FillFees: {other:?}"),
                }
            }
        }
        out
    }
}

fn fees(commission: &str, stamp_duty: &str, transfer_fee: &str) -> (i64, i64, i64) {
    (money(commission), money(stamp_duty), money(transfer_fee))
}

fn fee_triple(f: &FillFees) -> (i64, i64, i64) {
    (f.commission, f.stamp_duty, f.transfer_fee)
}

fn row_of(rows: &[OrderRow], cl_ord_id: u64) -> OrderRow {
    *rows
        .iter()
        .find(|r| r.cl_ord_id == cl_ord_id)
        .unwrap_or_else(|| panic!("order {cl_ord_id} in {rows:#?}"))
}

fn config_with(topology: Topology, durability: Durability, name: &str) -> gateway::GatewayConfig {
    let mut c = config(topology);
    if durability != Durability::None {
        let dir = std::env::temp_dir()
            .join(format!("bw-queries-{name}-{topology:?}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        c.journal.durability = durability;
        c.journal.dir = dir;
    }
    c
}

/// The whole scenario on one gateway; every figure is computed by hand from the
/// demo fees: commission 0.025% (CNY 5 minimum per order), stamp duty 0.05% on
/// sells, transfer fee 0.001%, each rounded half up to the fen on the order's
/// cumulative value.
fn scenario(topology: Topology, durability: Durability) {
    let gw = start(&config_with(topology, durability, "scenario"));
    let mut t1 = Session::new(gw.addr(), "trader1", 3);
    let mut t2 = Session::new(gw.addr(), "trader2", 3);
    assert_eq!(t1.client.login_accepted().version, 3);

    // A buy of 300 rests, then fills 100 (partial) and 200 (full).
    t1.send(ClientMessage::NewOrder(limit(1, "A001", 600519, Side::Buy, 300, "1500.00")));
    t1.wait_for(|m| matches!(m, AppMessage::OrderAccepted(a) if a.cl_ord_id == 1).then_some(()));
    t2.send(ClientMessage::NewOrder(limit(101, "B001", 600519, Side::Sell, 100, "1500.00")));
    t1.wait_for(|m| matches!(m, AppMessage::FillFees(f) if f.cl_ord_id == 1).then_some(()));
    let (rows, _) = t1.orders("A001", 0, 0, 0);
    let partial = row_of(&rows, 1);
    assert_eq!(partial.status, OrderStatus::PartlyFilled);
    assert_eq!((partial.filled_qty.0, partial.open_qty.0), (100, 200));
    assert_eq!(partial.average_price, cny("1500.00"));

    t2.send(ClientMessage::NewOrder(limit(102, "B001", 600519, Side::Sell, 200, "1500.00")));
    t1.wait_for(|m| {
        matches!(m, AppMessage::Executed(e) if e.cl_ord_id == 1 && e.leaves.0 == 0).then_some(())
    });
    // A small trade between two accounts of one login: the CNY 5 minimum, and
    // stamp duty on the sell only.
    t1.send(ClientMessage::NewOrder(limit(2, "A002", 601398, Side::Sell, 100, "7.05")));
    t1.send(ClientMessage::NewOrder(limit(3, "A001", 601398, Side::Buy, 100, "7.05")));
    // A cancel, an open order, and an order the risk checks refuse (price limit).
    t1.send(ClientMessage::NewOrder(limit(4, "A001", 600519, Side::Buy, 100, "1450.00")));
    t1.wait_for(|m| matches!(m, AppMessage::OrderAccepted(a) if a.cl_ord_id == 4).then_some(()));
    let cancel =
        protocol::codec::CancelOrder { request_id: 9, orig_cl_ord_id: 4, account: acct("A001") };
    t1.send(ClientMessage::CancelOrder(cancel));
    t1.send(ClientMessage::NewOrder(limit(5, "A001", 600519, Side::Buy, 100, "1460.00")));
    t1.send(ClientMessage::NewOrder(limit(6, "A001", 600519, Side::Buy, 100, "2000.00")));
    t1.wait_for(|m| matches!(m, AppMessage::OrderRejected(r) if r.cl_ord_id == 6).then_some(()));
    t1.settle();
    t2.settle();

    // FillFees after every Executed, to the fen.
    let a = t1.fills_with_fees();
    let figures: Vec<_> = a.iter().map(|(e, f)| (e.cl_ord_id, e.qty.0, fee_triple(f))).collect();
    assert_eq!(
        figures,
        [
            (1, 100, fees("37.50", "0", "1.50")),
            (1, 200, fees("75.00", "0", "3.00")),
            // The venue reports the incoming order's side of a trade first.
            (3, 100, fees("5.00", "0", "0.01")),
            (2, 100, fees("5.00", "0.35", "0.01")),
        ]
    );
    assert!(a.iter().all(|(_, f)| f.total() == f.commission + f.stamp_duty + f.transfer_fee));
    let b: Vec<_> =
        t2.fills_with_fees().iter().map(|(e, f)| (e.cl_ord_id, fee_triple(f))).collect();
    assert_eq!(b, [(101, fees("37.50", "75.00", "1.50")), (102, fees("75.00", "150.00", "3.00"))]);

    // Fills: the day's executions with the same fees.
    let fills = t1.fills("A001");
    let got: Vec<_> = fills
        .iter()
        .map(|f| (f.cl_ord_id, f.qty.0, (f.commission, f.stamp_duty, f.transfer_fee)))
        .collect();
    assert_eq!(
        got,
        [
            (1, 100, fees("37.50", "0", "1.50")),
            (1, 200, fees("75.00", "0", "3.00")),
            (3, 100, fees("5.00", "0", "0.01"))
        ]
    );
    let exec_ids: Vec<_> =
        a.iter().filter(|(e, _)| e.account == acct("A001")).map(|(e, _)| e.exec_id).collect();
    assert_eq!(fills.iter().map(|f| f.exec_id).collect::<Vec<_>>(), exec_ids);

    // Orders, two a page: every order of the day in A-share states.
    let pages = t1.all_orders("A001", 2, 0);
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 1]);
    let rows: Vec<OrderRow> = pages.concat();
    let states: Vec<_> = rows.iter().map(|r| (r.cl_ord_id, r.status, r.code)).collect();
    assert_eq!(
        states,
        [
            (1, OrderStatus::Filled, RejectCode(0)),
            (3, OrderStatus::Filled, RejectCode(0)),
            (4, OrderStatus::Canceled, RejectCode(0)),
            (5, OrderStatus::Open, RejectCode(0)),
            (6, OrderStatus::Rejected, RejectCode::PRICE_LIMIT),
        ]
    );
    let filled = row_of(&rows, 1);
    assert_eq!(
        (filled.filled_qty.0, filled.open_qty.0, filled.fees_paid),
        (300, 0, money("117.00"))
    );
    let open = t1.all_orders("A001", 0, query_flags::OPEN_ONLY).concat();
    assert_eq!(open.iter().map(|r| r.cl_ord_id).collect::<Vec<_>>(), [5]);

    // Positions, three a page: T+1 (bought today is not sellable).
    let (first, next) = t1.positions("A001", 0, 3);
    assert_eq!((first.len(), next), (3, 3));
    let (second, next) = t1.positions("A001", next, 3);
    assert_eq!((second.len(), next), (1, 0));
    let held = [first, second].concat();
    let mut codes: Vec<u32> = held.iter().map(|p| p.security.code).collect();
    codes.sort_unstable();
    assert_eq!(codes, [1, 300750, 600519, 601398], "every holding once");
    let moutai = held.iter().find(|p| p.security == sec(600519)).expect("600519 held");
    assert_eq!((moutai.qty, moutai.sellable, moutai.frozen), (1300, 1000, 0));
    assert_eq!(moutai.last_price, cny("1500.00"));
    assert_eq!(moutai.market_value, money("1950000.00"));
    let icbc = held.iter().find(|p| p.security == sec(601398)).expect("601398 bought");
    assert_eq!((icbc.qty, icbc.sellable), (100, 0));

    // Funds: cash less what was bought and its fees; the open buy's cash frozen.
    let (as_of, funds) = t1.funds("A001");
    assert_eq!(as_of, t1.client.last_seq(), "quiet: the answer reflects the whole stream");
    assert_eq!(funds.cash_available + funds.cash_frozen, money("9549172.99"));
    assert!(funds.cash_frozen >= money("146000.00"), "the open buy of 100 at 1460");
    assert_eq!(
        (funds.commission_today, funds.stamp_duty_today, funds.transfer_fee_today),
        fees("117.50", "0", "4.51")
    );
    assert_eq!(funds.fees_today, money("122.01"));
    let (_, a002) = t1.funds("A002");
    assert_eq!(a002.stamp_duty_today, money("0.35"));
    assert!(a002.realized_pnl_today != 0, "the sell realised P&L");

    // The kill switch: the open order is cancelled, nothing is open or frozen.
    let kill = MassCancel {
        request_id: 11,
        scope: MassCancelScope::Account(acct("A001")),
        block_new: true,
    };
    t1.send(ClientMessage::MassCancel(kill));
    // Asked at once, answered after the mass cancel: no race, nothing to wait for.
    let open = t1.all_orders("A001", 0, query_flags::OPEN_ONLY).concat();
    assert!(open.is_empty(), "{open:?}");
    let (_, after) = t1.funds("A001");
    assert_eq!((after.cash_frozen, after.cash_available), (0, money("9549172.99")));
    let rows = t1.all_orders("A001", 0, 0).concat();
    assert_eq!(row_of(&rows, 5).status, OrderStatus::Canceled);
    drop(gw);
}

/// A suitability confirmation and a T+1 day roll, as the queries show them: the
/// refused order (4002) and its confirmed resend are both in the day's orders;
/// shares bought today become sellable after the operator's end and start of day.
#[test]
fn a_confirmed_order_and_a_day_roll_show_in_the_queries() {
    let gw = start(&config_with(Topology::Fused, Durability::None, "roll"));
    let mut t1 = Session::new(gw.addr(), "trader1", 3);
    // A002 is a C2 client, 600519 an R3 product: confirmation required.
    t1.send(ClientMessage::NewOrder(limit(40, "A002", 600519, Side::Buy, 100, "1490.00")));
    t1.wait_for(|m| matches!(m, AppMessage::OrderRejected(r) if r.cl_ord_id == 40).then_some(()));
    let mut confirmed = limit(41, "A002", 600519, Side::Buy, 100, "1490.00");
    confirmed.flags = protocol::codec::order_flags::SUITABILITY_CONFIRMED;
    t1.send(ClientMessage::NewOrder(confirmed));
    t1.wait_for(|m| matches!(m, AppMessage::OrderAccepted(a) if a.cl_ord_id == 41).then_some(()));
    // A001 buys 100 601398 from A002 (both trader1's): bought today.
    t1.send(ClientMessage::NewOrder(limit(42, "A002", 601398, Side::Sell, 100, "7.05")));
    t1.send(ClientMessage::NewOrder(limit(43, "A001", 601398, Side::Buy, 100, "7.05")));
    t1.wait_for(|m| matches!(m, AppMessage::FillFees(f) if f.cl_ord_id == 43).then_some(()));
    t1.settle();

    let rows = t1.all_orders("A002", 0, 0).concat();
    let states: Vec<_> = rows.iter().map(|r| (r.cl_ord_id, r.status, r.code)).collect();
    assert_eq!(
        states,
        [
            (40, OrderStatus::Rejected, RejectCode::CONFIRMATION_REQUIRED),
            (41, OrderStatus::Open, RejectCode(0)),
            (42, OrderStatus::Filled, RejectCode(0)),
        ]
    );
    let bought = |t: &mut Session| {
        let (held, _) = t.positions("A001", 0, 7);
        let p = held.into_iter().find(|p| p.security == sec(601398)).expect("601398 held");
        (p.qty, p.sellable)
    };
    assert_eq!(bought(&mut t1), (100, 0), "T+1: bought today, not sellable today");

    // The operator ends the day and starts the next.
    let admin = gw.admin();
    admin.submit(gateway::input::AdminCommand::EndOfDay).expect("queued");
    admin.submit(gateway::input::AdminCommand::StartOfDay).expect("queued");
    t1.wait_for(|m| {
        matches!(
            m,
            AppMessage::SystemEvent(e) if e.kind == protocol::codec::SystemEventKind::StartOfDay
        )
        .then_some(())
    });
    t1.settle();
    assert_eq!(bought(&mut t1), (100, 100), "the next day the shares are sellable");
    let open = t1.all_orders("A002", 0, query_flags::OPEN_ONLY).concat();
    assert!(open.is_empty(), "a day order does not outlive its day: {open:?}");
    drop(gw);
}

#[test]
fn queries_answer_from_the_engine_in_the_fused_topology() {
    scenario(Topology::Fused, Durability::None);
}

#[test]
fn queries_answer_from_the_engine_in_the_pipelined_topology() {
    scenario(Topology::Pipelined, Durability::None);
}

#[test]
fn queries_answer_under_sync_durability() {
    scenario(Topology::Pipelined, Durability::Sync);
}

#[test]
fn an_answer_names_the_stream_message_it_reflects() {
    for topology in [Topology::Fused, Topology::Pipelined] {
        let gw = start(&config(topology));
        let mut t1 = Session::new(gw.addr(), "trader1", 3);
        t1.settle();
        // The order and the query go out back to back, nothing read in between.
        t1.send(ClientMessage::NewOrder(limit(1, "A001", 600519, Side::Buy, 100, "1490.00")));
        let (rows, _) = t1.orders("A001", 0, 0, 0);
        assert_eq!(rows.len(), 1, "the order is in the answer");
        let QueryAnswer::Funds(f) = t1.ask(QueryKind::Funds, "A001", 0, 0, 0) else { panic!() };
        let as_of = f.header.as_of_seq;
        let accepted = t1
            .stream
            .iter()
            .find(|s| matches!(s.msg, AppMessage::OrderAccepted(a) if a.cl_ord_id == 1))
            .expect("joined: the answer's messages are in the stream");
        assert!(accepted.seq <= as_of);
        assert_eq!(t1.stream.last().map(|s| s.seq), Some(as_of), "nothing after as_of_seq yet");
    }
}

#[test]
fn refusals_are_answered_with_their_codes() {
    let mut c = config(Topology::Fused);
    c.server.max_queries_per_second = 3;
    let gw = start(&c);
    let mut t1 = Session::new(gw.addr(), "trader1", 3);
    assert_eq!(t1.refused(QueryKind::Funds, "B001", 0), RejectCode::ACCOUNT_NOT_PERMITTED);
    assert_eq!(t1.refused(QueryKind::Orders, "A001", 6), RejectCode::BAD_PAGE_SIZE);
    assert_eq!(t1.refused(QueryKind::Positions, "A001", 8), RejectCode::BAD_PAGE_SIZE);

    // A burst past the rate: the first three in the second are answered.
    let mut t2 = Session::new(gw.addr(), "trader2", 3);
    for id in 1..=6 {
        let q = Query {
            query_id: id,
            kind: QueryKind::Funds,
            account: acct("B001"),
            cursor: 0,
            page_size: 0,
            flags: 0,
        };
        t2.client.send_query(&q).unwrap();
    }
    let mut answers = Vec::new();
    while answers.len() < 6 {
        match t2.client.recv(WAIT).expect("recv") {
            Some(ServerMessage::Query(a)) => answers.push(a),
            Some(_) => {}
            None => panic!("answers missing: {answers:?}"),
        }
    }
    let codes: Vec<_> = answers
        .iter()
        .map(|a| match a {
            QueryAnswer::Funds(_) => None,
            QueryAnswer::Rejected(r) => Some(r.code),
            other => panic!("{other:?}"),
        })
        .collect();
    let limited = Some(RejectCode::QUERY_RATE_LIMITED);
    assert_eq!(codes, [None, None, None, limited, limited, limited]);
    assert_eq!(answers.iter().map(QueryAnswer::query_id).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6]);

    // A version 1 stream has no queries.
    let mut v1 = Session::new(gw.addr(), "algo", 1);
    assert_eq!(v1.refused(QueryKind::Funds, "B002", 0), RejectCode::QUERY_NEEDS_VERSION_3);
}

#[test]
fn a_version_1_stream_carries_no_fill_fees() {
    let gw = start(&config(Topology::Fused));
    let mut t1 = Session::new(gw.addr(), "trader1", 3);
    let mut v1 = Session::new(gw.addr(), "trader2", 1);
    v1.send(ClientMessage::NewOrder(limit(1, "B001", 600519, Side::Sell, 100, "1498.00")));
    v1.wait_for(|m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
    t1.send(ClientMessage::NewOrder(limit(1, "A001", 600519, Side::Buy, 100, "1498.00")));
    v1.wait_for(|m| matches!(m, AppMessage::Executed(_)).then_some(()));
    v1.settle();
    t1.settle();
    let types: Vec<u8> = v1.stream.iter().map(|s| s.msg.msg_type()).collect();
    assert!(types.contains(&b'e'), "{types:?}");
    assert!(types.iter().all(|t| b"arecksubmg".contains(t)), "version 1 types only: {types:?}");
    assert_eq!(t1.fills_with_fees().len(), 1, "the version 3 side gets its FillFees");
}

/// One HTTP request to the admin endpoint: (status, body).
fn http_get(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[test]
fn the_risk_desk_sees_the_same_views_at_the_admin_endpoint() {
    let mut c = config(Topology::Pipelined);
    c.admin.listen = Some("127.0.0.1:0".parse().unwrap());
    c.admin.token = Some("desk-token".into());
    let gw = start(&c);
    let admin = gw.admin_addr().expect("admin endpoint");
    let mut t1 = Session::new(gw.addr(), "trader1", 3);
    t1.send(ClientMessage::NewOrder(limit(1, "A001", 600519, Side::Buy, 100, "1490.00")));
    t1.wait_for(|m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
    let (_, funds) = t1.funds("A001");

    let token = Some("desk-token");
    let (status, body) = http_get(admin, "/accounts/A001/funds", token);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["account"], "A001");
    assert!(json["as_of_seq"].as_u64().unwrap() > 0);
    assert_eq!(json["funds"]["cash_available"], funds.cash_available);
    assert_eq!(json["funds"]["cash_frozen"], funds.cash_frozen);

    let (status, body) = http_get(admin, "/accounts/A001/orders?open=1&limit=2", token);
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["orders"].as_array().unwrap().len(), 1);
    assert_eq!(json["orders"][0]["cl_ord_id"], 1);
    assert_eq!(json["orders"][0]["status"], OrderStatus::Open.as_u8());
    let (status, body) = http_get(admin, "/accounts/A001/positions", token);
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_get(admin, "/accounts/A001/fills?cursor=0&limit=6", token);
    assert_eq!(status, 200);

    assert_eq!(http_get(admin, "/accounts/A001/funds", None).0, 401);
    assert_eq!(http_get(admin, "/accounts/A001/funds", Some("wrong")).0, 401);
    assert_eq!(http_get(admin, "/accounts/Z999/funds", token).0, 404);
    assert_eq!(http_get(admin, "/accounts/A001/orders?limit=9", token).0, 400);
}
