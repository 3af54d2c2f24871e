//! End-to-end behaviour over real TCP on 127.0.0.1, for both topologies.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use gateway::config::Topology;
use protocol::client::{Client, ClientError};
use protocol::codec::{
    AppMessage, CancelOrder, ClientMessage, EntryState, MassCancel, MassCancelScope,
    OrderEntryControl, ReplaceOrder, ServerMessage, answer_flags, order_flags,
};
use protocol::{CancelReason, OrderType, Qty, RejectCode, RejectDetail, Side, TimeInForce};
use util::*;

macro_rules! both_topologies {
    ($($name:ident),* $(,)?) => {
        mod fused {
            $( #[test] fn $name() { super::$name(gateway::config::Topology::Fused) } )*
        }
        mod pipelined {
            $( #[test] fn $name() { super::$name(gateway::config::Topology::Pipelined) } )*
        }
    };
}

both_topologies!(
    an_order_fills_against_another_sessions_resting_order,
    cancel_and_replace,
    each_reject_family_answers_with_its_code,
    suitability_confirmation_round_trip,
    replay_after_reconnect,
    duplicate_cl_ord_id_is_answered_not_executed_twice,
    cancel_on_disconnect,
    a_client_that_sends_and_closes_at_once_is_seen_gone,
    kill_switch_cancels_and_blocks,
    malformed_frames_are_answered_without_harm,
    wrong_token_and_login_throttle,
    a_cancel_of_another_accounts_order_is_refused,
    logout_ends_the_session_cleanly,
    shutdown_ends_every_session,
);

fn accepted_id(msg: &AppMessage, cl_ord_id: u64) -> Option<u64> {
    match msg {
        AppMessage::OrderAccepted(a) if a.cl_ord_id == cl_ord_id => Some(a.order_id),
        AppMessage::OrderRejected(r) if r.cl_ord_id == cl_ord_id => {
            panic!("order {cl_ord_id} rejected: {} {}", r.code, r.text().as_str())
        }
        _ => None,
    }
}

fn rejected(msg: &AppMessage, cl_ord_id: u64) -> Option<(RejectCode, RejectDetail)> {
    match msg {
        AppMessage::OrderRejected(r) if r.cl_ord_id == cl_ord_id => Some((r.code, r.detail)),
        AppMessage::OrderAccepted(a) if a.cl_ord_id == cl_ord_id => {
            panic!("order {cl_ord_id} was accepted: {a:?}")
        }
        _ => None,
    }
}

fn an_order_fills_against_another_sessions_resting_order(topology: Topology) {
    let gw = start(&config(topology));
    let mut seller = login(gw.addr(), "trader1");
    let mut buyer = login(gw.addr(), "trader2");
    seller
        .send(&ClientMessage::NewOrder(limit(1, "A001", 600519, Side::Sell, 100, "1498.00")))
        .unwrap();
    expect(&mut seller, "sell accepted", |m| accepted_id(m, 1));
    buyer
        .send(&ClientMessage::NewOrder(limit(7, "B001", 600519, Side::Buy, 300, "1499.00")))
        .unwrap();
    expect(&mut buyer, "buy accepted", |m| accepted_id(m, 7));
    let fill = expect(&mut buyer, "buy executed", |m| match m {
        AppMessage::Executed(e) if e.cl_ord_id == 7 => Some(*e),
        _ => None,
    });
    assert_eq!(fill.price, cny("1498.00"), "trades at the resting order's price");
    assert_eq!((fill.qty, fill.leaves, fill.cum), (Qty(100), Qty(200), Qty(100)));
    assert_eq!(fill.liquidity, protocol::Liquidity::Removed);
    let maker = expect(&mut seller, "sell executed", |m| match m {
        AppMessage::Executed(e) if e.cl_ord_id == 1 => Some(*e),
        _ => None,
    });
    assert_eq!((maker.qty, maker.leaves, maker.exec_id), (Qty(100), Qty(0), fill.exec_id));
    assert_eq!(maker.liquidity, protocol::Liquidity::Added);
    let stopped = gw.shutdown().unwrap();
    let engine = stopped.sequencer.engine();
    engine.risk().validate().unwrap();
    engine.exchange().validate().unwrap();
    let seller_pos = engine.risk().account_snapshot(&acct("A001")).unwrap();
    assert_eq!(seller_pos.position(sec(600519)).unwrap().holding, 900);
}

fn cancel_and_replace(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "trader1");
    c.send(&ClientMessage::NewOrder(limit(10, "A001", 600036, Side::Buy, 500, "41.80"))).unwrap();
    expect(&mut c, "accepted", |m| accepted_id(m, 10));
    let replace = ReplaceOrder {
        request_id: 11,
        orig_cl_ord_id: 10,
        account: acct("A001"),
        price: cny("41.80"),
        qty: Qty(300),
    };
    c.send(&ClientMessage::ReplaceOrder(replace)).unwrap();
    let replaced = expect(&mut c, "replaced", |m| match m {
        AppMessage::Replaced(r) if r.request_id == 11 => Some(*r),
        _ => None,
    });
    assert_eq!((replaced.qty, replaced.leaves, replaced.priority_kept), (Qty(300), Qty(300), true));
    let cancel = CancelOrder { request_id: 12, orig_cl_ord_id: 10, account: acct("A001") };
    c.send(&ClientMessage::CancelOrder(cancel)).unwrap();
    let canceled = expect(&mut c, "canceled", |m| match m {
        AppMessage::Canceled(x) if x.cl_ord_id == 10 => Some(*x),
        _ => None,
    });
    assert_eq!(
        (canceled.request_id, canceled.canceled_qty, canceled.reason),
        (12, Qty(300), CancelReason::Client)
    );
    // A second cancel of the same order is refused: it is closed.
    c.send(&ClientMessage::CancelOrder(CancelOrder { request_id: 13, ..cancel })).unwrap();
    let refused = expect(&mut c, "cancel refused", |m| match m {
        AppMessage::CancelRejected(x) if x.request_id == 13 => Some(*x),
        _ => None,
    });
    assert_eq!(refused.code, RejectCode::ORDER_CLOSED);
    gw.shutdown().unwrap();
}

fn each_reject_family_answers_with_its_code(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "trader1");
    // Protocol: a zero quantity.
    let mut zero = limit(20, "A001", 600519, Side::Buy, 100, "1498.00");
    zero.qty = Qty(0);
    c.send(&ClientMessage::NewOrder(zero)).unwrap();
    assert_eq!(expect(&mut c, "zero qty", |m| rejected(m, 20)).0, RejectCode::INVALID_QUANTITY);
    // Risk: outside the daily price limit (1,498.00 ± 10%).
    c.send(&ClientMessage::NewOrder(limit(21, "A001", 600519, Side::Buy, 100, "1700.00"))).unwrap();
    let (code, detail) = expect(&mut c, "price limit", |m| rejected(m, 21));
    assert_eq!(code, RejectCode::PRICE_LIMIT);
    assert!(
        matches!(detail, RejectDetail::PriceBand { upper, .. } if upper == cny("1647.80")),
        "{detail:?}"
    );
    // Risk: not enough cash (A002 holds CNY 500,000).
    c.send(&ClientMessage::NewOrder(limit(22, "A002", 601398, Side::Buy, 100_000, "7.05")))
        .unwrap();
    assert_eq!(expect(&mut c, "funds", |m| rejected(m, 22)).0, RejectCode::INSUFFICIENT_FUNDS);
    // Suitability: A002 has no ChiNext permission (a hard gate).
    c.send(&ClientMessage::NewOrder(limit(23, "A002", 300750, Side::Buy, 100, "265.00"))).unwrap();
    assert_eq!(expect(&mut c, "board", |m| rejected(m, 23)).0, RejectCode::BOARD_NOT_PERMITTED);
    // Exchange: a best-counter market order into an empty book.
    let mut market = limit(24, "A001", 601318, Side::Buy, 100, "0");
    market.order_type = OrderType::MarketBestCounter;
    market.price = protocol::Price::ZERO;
    c.send(&ClientMessage::NewOrder(market)).unwrap();
    assert_eq!(expect(&mut c, "venue", |m| rejected(m, 24)).0, RejectCode::VENUE_NO_LIQUIDITY);
    // Session: a wrong token.
    let mut bad = client_config(gw.addr(), "trader2");
    bad.token = protocol::Token::from_text("not-the-token").unwrap();
    match Client::connect(bad, 1) {
        Err(ClientError::LoginRejected(code)) => assert_eq!(code, RejectCode::INVALID_CREDENTIALS),
        other => panic!("expected a login reject, got {other:?}"),
    }
    // The lowest category may buy only R1 (601398 is R2).
    let mut retail = login(gw.addr(), "retail");
    retail
        .send(&ClientMessage::NewOrder(limit(25, "C001", 601398, Side::Buy, 100, "7.05")))
        .unwrap();
    assert_eq!(
        expect(&mut retail, "lowest category", |m| rejected(m, 25)).0,
        RejectCode::LOWEST_CATEGORY_REFUSED
    );
    gw.shutdown().unwrap();
}

fn suitability_confirmation_round_trip(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "trader1");
    // A002 is C2; 600519 is R3.
    c.send(&ClientMessage::NewOrder(limit(30, "A002", 600519, Side::Buy, 100, "1490.00"))).unwrap();
    let (code, detail) = expect(&mut c, "confirmation required", |m| rejected(m, 30));
    assert_eq!(code, RejectCode::CONFIRMATION_REQUIRED);
    assert_eq!(detail, RejectDetail::Suitability { client_class: 2, product_level: 3 });
    let mut confirmed = limit(31, "A002", 600519, Side::Buy, 100, "1490.00");
    confirmed.flags = order_flags::SUITABILITY_CONFIRMED;
    c.send(&ClientMessage::NewOrder(confirmed)).unwrap();
    let flags = expect(&mut c, "accepted with confirmation", |m| match m {
        AppMessage::OrderAccepted(a) if a.cl_ord_id == 31 => Some(a.flags),
        AppMessage::OrderRejected(r) if r.cl_ord_id == 31 => {
            panic!("rejected: {}", r.text().as_str())
        }
        _ => None,
    });
    assert_ne!(flags & answer_flags::CONFIRMATION_RECORDED, 0, "the confirmation is recorded");
    gw.shutdown().unwrap();
}

fn replay_after_reconnect(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "trader1");
    for i in 0..20 {
        // Distinct quantities: identical orders within 100 ms are refused as duplicates.
        c.send(&ClientMessage::NewOrder(limit(
            100 + i,
            "A001",
            600036,
            Side::Buy,
            100 * (i + 1),
            "41.00",
        )))
        .unwrap();
    }
    // Read about half, then drop the connection without logging out.
    let first: Vec<AppMessage> =
        (0..10).map(|_| expect(&mut c, "an answer", |m| Some(*m))).collect();
    let resume_at = c.last_seq() + 1;
    c.stream().shutdown(std::net::Shutdown::Both).unwrap();
    drop(c);
    // The rest of the stream holds the remaining accepts (trader1 keeps its orders
    // on disconnect).
    let mut again = reconnect_until_free(gw.addr(), "trader1", resume_at);
    assert_eq!(again.login_accepted().next_seq, resume_at);
    let rest = drain(&mut again, Duration::from_millis(500));
    let accepted_after: Vec<u64> = rest
        .iter()
        .filter_map(|m| if let AppMessage::OrderAccepted(a) = m { Some(a.cl_ord_id) } else { None })
        .collect();
    let accepted_before =
        first.iter().filter(|m| matches!(m, AppMessage::OrderAccepted(_))).count();
    assert_eq!(
        accepted_before + accepted_after.len(),
        20,
        "every order answered exactly once across the reconnect"
    );
    // A full replay from 1 equals what was seen, message for message.
    let full_end = again.last_seq();
    again.logout(WAIT).unwrap();
    let mut full = Client::connect(client_config(gw.addr(), "trader1"), 1).unwrap();
    let mut replayed = Vec::new();
    while full.last_seq() < full_end {
        replayed.push(expect(&mut full, "replayed message", |m| Some(*m)));
    }
    assert_eq!(&replayed[..10], &first[..]);
    assert_eq!(&replayed[10..10 + rest.len()], &rest[..]);
    gw.shutdown().unwrap();
}

/// Logs in, retrying while the old connection is still being torn down.
fn reconnect_until_free(addr: std::net::SocketAddr, user: &str, next_seq: u64) -> Client {
    reconnect_within(addr, user, next_seq, Duration::from_secs(2))
}

/// Logs in, retrying for at most `budget` while the old session is still live.
fn reconnect_within(
    addr: std::net::SocketAddr,
    user: &str,
    next_seq: u64,
    budget: Duration,
) -> Client {
    let deadline = std::time::Instant::now() + budget;
    loop {
        match Client::connect(client_config(addr, user), next_seq) {
            Ok(c) => return c,
            Err(ClientError::LoginRejected(RejectCode::ALREADY_LOGGED_IN))
                if std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10))
            }
            Err(e) => panic!("reconnect failed ({budget:?} after the close): {e}"),
        }
    }
}

fn duplicate_cl_ord_id_is_answered_not_executed_twice(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "trader1");
    let order = limit(40, "A001", 600036, Side::Buy, 200, "41.50");
    c.send(&ClientMessage::NewOrder(order)).unwrap();
    let order_id = expect(&mut c, "first answer", |m| accepted_id(m, 40));
    c.send(&ClientMessage::NewOrder(order)).unwrap();
    let repeat = expect(&mut c, "repeat", |m| match m {
        AppMessage::OrderAccepted(a) if a.cl_ord_id == 40 => Some(*a),
        _ => None,
    });
    assert_eq!(repeat.order_id, order_id);
    assert_ne!(repeat.flags & answer_flags::REPEAT, 0);
    // Same id, different content: refused.
    c.send(&ClientMessage::NewOrder(limit(40, "A001", 600036, Side::Buy, 300, "41.50"))).unwrap();
    assert_eq!(expect(&mut c, "duplicate", |m| rejected(m, 40)).0, RejectCode::DUPLICATE_CL_ORD_ID);
    let stopped = gw.shutdown().unwrap();
    let book = stopped.sequencer.engine().exchange().l1(sec(600036)).unwrap();
    assert_eq!(book.bid.map(|l| l.qty), Some(Qty(200)), "one order of 200 rests, not two");
}

fn cancel_on_disconnect(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "algo");
    c.send(&ClientMessage::NewOrder(limit(50, "B002", 600036, Side::Buy, 100, "41.00"))).unwrap();
    expect(&mut c, "accepted", |m| accepted_id(m, 50));
    let mut pro = login(gw.addr(), "pro");
    pro.send(&ClientMessage::NewOrder(limit(51, "P001", 688981, Side::Sell, 200, "88.60")))
        .unwrap();
    expect(&mut pro, "pro accepted", |m| accepted_id(m, 51));
    let resume = c.last_seq() + 1;
    drop(c);
    drop(pro);
    let mut again = reconnect_until_free(gw.addr(), "algo", resume);
    let canceled = expect(&mut again, "canceled on disconnect", |m| match m {
        AppMessage::Canceled(x) if x.cl_ord_id == 50 => Some(*x),
        _ => None,
    });
    assert_eq!(canceled.reason, CancelReason::CancelOnDisconnect);
    again.logout(WAIT).unwrap();
    let stopped = gw.shutdown().unwrap();
    let star = stopped.sequencer.engine().exchange().l1(sec(688981)).unwrap();
    assert_eq!(
        star.ask.map(|l| l.qty),
        Some(Qty(200)),
        "the pro login has cancel-on-disconnect off"
    );
}

/// A message and the end of the stream reach the gateway together (one epoll
/// event carrying data and the peer's close): the message is handled and the close
/// is seen at once, not 15 s later when the peer is declared dead. A heartbeat
/// draws no answer, so nothing the gateway writes back can reveal the close.
fn a_client_that_sends_and_closes_at_once_is_seen_gone(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "algo");
    for round in 0..20u64 {
        let resume = c.last_seq() + 1;
        if round % 2 == 0 {
            c.send(&ClientMessage::Heartbeat).unwrap();
            drop(c);
            // The old session must be gone well before the next heartbeat (1 s)
            // could reveal the close by drawing a reset, and long before
            // dead_peer_ms (15 s).
            c = reconnect_within(gw.addr(), "algo", resume, Duration::from_millis(500));
            continue;
        }
        // An order: handled, then canceled because its session ended. A different
        // quantity each round keeps the duplicate-order guard out of it.
        let cl_ord_id = 70 + round;
        let order = limit(cl_ord_id, "B002", 600036, Side::Buy, 100 * round, "41.00");
        c.send(&ClientMessage::NewOrder(order)).unwrap();
        drop(c);
        c = reconnect_within(gw.addr(), "algo", resume, Duration::from_millis(500));
        expect(&mut c, "accepted before the close", |m| accepted_id(m, cl_ord_id));
        let canceled = expect(&mut c, "canceled on disconnect", |m| match m {
            AppMessage::Canceled(x) if x.cl_ord_id == cl_ord_id => Some(*x),
            _ => None,
        });
        assert_eq!(canceled.reason, CancelReason::CancelOnDisconnect, "round {round}");
    }
    c.logout(WAIT).unwrap();
    gw.shutdown().unwrap();
}

fn kill_switch_cancels_and_blocks(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "trader1");
    c.send(&ClientMessage::NewOrder(limit(60, "A001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    c.send(&ClientMessage::NewOrder(limit(61, "A001", 1, Side::Sell, 100, "11.60"))).unwrap();
    expect(&mut c, "accepted", |m| accepted_id(m, 60));
    expect(&mut c, "accepted", |m| accepted_id(m, 61));
    let kill = MassCancel {
        request_id: 62,
        scope: MassCancelScope::Account(acct("A001")),
        block_new: true,
    };
    c.send(&ClientMessage::MassCancel(kill)).unwrap();
    let mut reasons = Vec::new();
    let ack = expect(&mut c, "mass cancel ack", |m| match m {
        AppMessage::Canceled(x) => {
            reasons.push(x.reason);
            None
        }
        AppMessage::MassCancelAck(a) => Some(*a),
        _ => None,
    });
    assert_eq!((ack.canceled_count, ack.blocked, ack.code), (2, true, RejectCode(0)));
    assert_eq!(reasons, vec![CancelReason::KillSwitch; 2]);
    c.send(&ClientMessage::NewOrder(limit(63, "A001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    assert_eq!(expect(&mut c, "blocked", |m| rejected(m, 63)).0, RejectCode::ACCOUNT_HALTED);
    let enable = OrderEntryControl { request_id: 64, account: acct("A001"), enable: true };
    c.send(&ClientMessage::OrderEntryControl(enable)).unwrap();
    let status = expect(&mut c, "enabled", |m| match m {
        AppMessage::OrderEntryStatus(s) if s.request_id == 64 => Some(*s),
        _ => None,
    });
    assert_eq!(status.state, EntryState::Active);
    c.send(&ClientMessage::NewOrder(limit(65, "A001", 600036, Side::Buy, 100, "41.01"))).unwrap();
    expect(&mut c, "accepted again", |m| accepted_id(m, 65));
    gw.shutdown().unwrap();
}

fn business_reject(c: &mut Client) -> (u8, RejectCode) {
    expect(c, "business reject", |m| match m {
        AppMessage::BusinessReject(b) => Some((b.ref_msg_type, b.code)),
        _ => None,
    })
}

fn malformed_frames_are_answered_without_harm(topology: Topology) {
    let gw = start(&config(topology));
    let mut bystander = login(gw.addr(), "trader2");
    let mut c = login(gw.addr(), "trader1");
    let mut good = [0u8; 64];
    let n = ClientMessage::NewOrder(limit(70, "A001", 600036, Side::Buy, 100, "41.00"))
        .encode_to_slice(&mut good)
        .unwrap();
    let good = &good[..n];
    // Unknown type ('Q' is Query since protocol version 3).
    c.send_raw(&[1, 0, b'W']).unwrap();
    assert_eq!(business_reject(&mut c), (b'W', RejectCode::UNKNOWN_MESSAGE_TYPE));
    // Short body.
    let mut short = good[..n - 4].to_vec();
    short[0] -= 4;
    c.send_raw(&short).unwrap();
    assert_eq!(business_reject(&mut c), (b'N', RejectCode::BAD_LENGTH));
    // Trailing bytes.
    let mut long = good.to_vec();
    long.extend_from_slice(&[0; 4]);
    long[0] += 4;
    c.send_raw(&long).unwrap();
    assert_eq!(business_reject(&mut c), (b'N', RejectCode::BAD_LENGTH));
    // Bad enum (side = 9).
    let mut bad_side = good.to_vec();
    bad_side[3 + 29] = 9;
    c.send_raw(&bad_side).unwrap();
    assert_eq!(business_reject(&mut c), (b'N', RejectCode::BAD_ENUM_VALUE));
    // Bad identifier (non-ASCII account).
    let mut bad_account = good.to_vec();
    bad_account[3 + 8] = 0xff;
    c.send_raw(&bad_account).unwrap();
    assert_eq!(business_reject(&mut c), (b'N', RejectCode::BAD_IDENTIFIER));
    // The session still works.
    c.send_raw(good).unwrap();
    expect(&mut c, "good order after bad ones", |m| accepted_id(m, 70));
    // A broken length prefix cannot be re-framed: the session ends.
    c.send_raw(&[0xff, 0xff, b'N', 0, 0]).unwrap();
    let end = loop {
        match c.recv(WAIT) {
            Ok(Some(ServerMessage::EndOfSession(e))) => break e,
            Ok(Some(_)) => continue,
            other => panic!("expected EndOfSession, got {other:?}"),
        }
    };
    assert_eq!(end.reason, RejectCode::MALFORMED_STREAM);
    // Nobody else noticed.
    bystander
        .send(&ClientMessage::NewOrder(limit(71, "B001", 600036, Side::Buy, 100, "41.00")))
        .unwrap();
    expect(&mut bystander, "bystander unaffected", |m| accepted_id(m, 71));
    gw.shutdown().unwrap();
}

fn wrong_token_and_login_throttle(topology: Topology) {
    let gw = start(&config(topology));
    let mut bad = client_config(gw.addr(), "retail");
    bad.token = protocol::Token::from_text("wrong").unwrap();
    let mut codes = Vec::new();
    for _ in 0..6 {
        match Client::connect(bad.clone(), 1) {
            Err(ClientError::LoginRejected(code)) => codes.push(code),
            other => panic!("expected a reject, got {other:?}"),
        }
    }
    assert_eq!(&codes[..5], &[RejectCode::INVALID_CREDENTIALS; 5]);
    assert_eq!(codes[5], RejectCode::LOGIN_THROTTLED);
    // Locked out even with the right token, for the lockout period.
    match Client::connect(client_config(gw.addr(), "retail"), 1) {
        Err(ClientError::LoginRejected(code)) => assert_eq!(code, RejectCode::LOGIN_THROTTLED),
        other => panic!("expected the lockout, got {other:?}"),
    }
    // Other logins are not affected.
    login(gw.addr(), "trader1");
    // A raw connection that sends nothing but garbage before login is refused.
    let mut raw = TcpStream::connect(gw.addr()).unwrap();
    raw.write_all(&[0, 0]).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    let _ = raw.read_to_end(&mut buf);
    assert!(!buf.is_empty(), "the server answers before closing");
    gw.shutdown().unwrap();
}

fn a_cancel_of_another_accounts_order_is_refused(topology: Topology) {
    let gw = start(&config(topology));
    let mut owner = login(gw.addr(), "trader1");
    owner
        .send(&ClientMessage::NewOrder(limit(80, "A001", 600036, Side::Buy, 100, "41.00")))
        .unwrap();
    expect(&mut owner, "accepted", |m| accepted_id(m, 80));
    let mut other = login(gw.addr(), "trader2");
    other
        .send(&ClientMessage::CancelOrder(CancelOrder {
            request_id: 81,
            orig_cl_ord_id: 80,
            account: acct("A001"),
        }))
        .unwrap();
    let refused = expect(&mut other, "refused", |m| match m {
        AppMessage::CancelRejected(x) if x.request_id == 81 => Some(*x),
        _ => None,
    });
    assert_eq!(refused.code, RejectCode::ACCOUNT_NOT_PERMITTED);
    // And an order for another login's account is refused too.
    other
        .send(&ClientMessage::NewOrder(limit(82, "A001", 600036, Side::Buy, 100, "41.00")))
        .unwrap();
    assert_eq!(
        expect(&mut other, "not permitted", |m| rejected(m, 82)).0,
        RejectCode::ACCOUNT_NOT_PERMITTED
    );
    let stopped = gw.shutdown().unwrap();
    let book = stopped.sequencer.engine().exchange().l1(sec(600036)).unwrap();
    assert_eq!(book.bid.map(|l| l.qty), Some(Qty(100)));
}

fn logout_ends_the_session_cleanly(topology: Topology) {
    let gw = start(&config(topology));
    let mut c = login(gw.addr(), "pro");
    c.send(&ClientMessage::NewOrder(limit(90, "P001", 688981, Side::Sell, 200, "89.00"))).unwrap();
    let (end, before) = c.logout(WAIT).unwrap();
    assert_eq!(end.reason, RejectCode::LOGGED_OUT);
    assert!(before.iter().any(
        |m| matches!(m, ServerMessage::App(s) if matches!(s.msg, AppMessage::OrderAccepted(_)))
    ));
    assert!(end.last_seq >= 1);
    gw.shutdown().unwrap();
}

fn shutdown_ends_every_session(topology: Topology) {
    let gw = start(&config(topology));
    let mut a = login(gw.addr(), "trader1");
    let mut b = login(gw.addr(), "trader2");
    let flag = gw.shutdown_flag();
    flag.store(true, std::sync::atomic::Ordering::SeqCst);
    for c in [&mut a, &mut b] {
        let end = loop {
            match c.recv(WAIT) {
                Ok(Some(ServerMessage::EndOfSession(e))) => break e,
                Ok(Some(_)) => continue,
                other => panic!("expected EndOfSession, got {other:?}"),
            }
        };
        assert_eq!(end.reason, RejectCode::SHUTTING_DOWN);
    }
    gw.shutdown().unwrap();
}

#[test]
fn market_order_types_reach_the_venue() {
    let gw = start(&config(Topology::Fused));
    let mut maker = login(gw.addr(), "pro");
    maker
        .send(&ClientMessage::NewOrder(limit(1, "P001", 688981, Side::Sell, 300, "88.50")))
        .unwrap();
    expect(&mut maker, "maker", |m| accepted_id(m, 1));
    let mut taker = login(gw.addr(), "trader2");
    // A STAR best-5-then-cancel order with its protective price.
    let mut ioc = limit(2, "B001", 688981, Side::Buy, 500, "89.00");
    ioc.order_type = OrderType::MarketBest5Cancel;
    ioc.tif = TimeInForce::Ioc;
    taker.send(&ClientMessage::NewOrder(ioc)).unwrap();
    expect(&mut taker, "ioc accepted", |m| accepted_id(m, 2));
    let fill = expect(&mut taker, "fill", |m| match m {
        AppMessage::Executed(e) if e.cl_ord_id == 2 => Some(*e),
        _ => None,
    });
    assert_eq!((fill.qty, fill.price), (Qty(300), cny("88.50")));
    let rest = expect(&mut taker, "remainder cancelled", |m| match m {
        AppMessage::Canceled(c) if c.cl_ord_id == 2 => Some(*c),
        _ => None,
    });
    assert_eq!((rest.canceled_qty, rest.reason), (Qty(200), CancelReason::Venue));
    gw.shutdown().unwrap();
}

/// A login configured to answer THROTTLED instead of queueing: when a burst waits
/// in the gateway longer than its limit, the late orders are refused at once, and
/// every order still gets exactly one answer.
#[test]
fn a_throttle_mode_login_gets_answers_not_waits() {
    let mut config = config(Topology::Fused);
    let trader1 = config.logins.iter_mut().find(|l| l.username.as_str() == "trader1").unwrap();
    trader1.throttle_queue_us = 1;
    config.risk.limits.rate_limit_per_s = 0;
    config.risk.limits.open_orders_per_security = 0;
    config.risk.limits.duplicate_window_ms = 0;
    let gw = start(&config);
    let mut c = login(gw.addr(), "trader1");
    let mut burst = Vec::new();
    for i in 0..1_000u64 {
        let mut frame = [0u8; 64];
        let price = if i % 2 == 0 { "41.00" } else { "41.01" };
        let n = ClientMessage::NewOrder(limit(i + 1, "A001", 600036, Side::Buy, 100, price))
            .encode_to_slice(&mut frame)
            .unwrap();
        burst.extend_from_slice(&frame[..n]);
    }
    c.send_raw(&burst).unwrap();
    let (mut accepted, mut throttled) = (0, 0);
    while accepted + throttled < 1_000 {
        match expect(&mut c, "an answer", |m| Some(*m)) {
            AppMessage::OrderAccepted(_) => accepted += 1,
            AppMessage::OrderRejected(r) if r.code == RejectCode::THROTTLED => throttled += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(throttled > 0, "a 1 µs queue limit throttles part of a 1,000-order burst");
    assert!(drain(&mut c, Duration::from_millis(200)).is_empty(), "no second answers");
    gw.shutdown().unwrap();
}

/// Operator commands are sequenced with client input and take effect on live sessions.
#[test]
fn operator_halt_and_kill_switch_reach_live_sessions() {
    use gateway::input::AdminCommand;
    let gw = start(&config(Topology::Pipelined));
    let mut c = login(gw.addr(), "trader1");
    let admin = gw.admin();
    admin.submit(AdminCommand::Halt(Some(sec(600036)))).unwrap();
    let event = expect(&mut c, "halt event", |m| match m {
        AppMessage::SystemEvent(e) => Some(*e),
        _ => None,
    });
    assert_eq!(
        (event.kind, event.security),
        (protocol::codec::SystemEventKind::Halt, Some(sec(600036)))
    );
    c.send(&ClientMessage::NewOrder(limit(1, "A001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    assert_eq!(expect(&mut c, "halted", |m| rejected(m, 1)).0, RejectCode::SECURITY_HALTED);
    admin.submit(AdminCommand::Resume(Some(sec(600036)))).unwrap();
    admin.submit(AdminCommand::AccountState(acct("A001"), EntryState::Blocked)).unwrap();
    let status = expect(&mut c, "kill switch", |m| match m {
        AppMessage::OrderEntryStatus(s) => Some(*s),
        _ => None,
    });
    assert_eq!((status.account, status.state), (acct("A001"), EntryState::Blocked));
    c.send(&ClientMessage::NewOrder(limit(2, "A001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    assert_eq!(expect(&mut c, "blocked", |m| rejected(m, 2)).0, RejectCode::ACCOUNT_HALTED);
    c.send(&ClientMessage::NewOrder(limit(3, "A002", 601398, Side::Buy, 100, "7.05"))).unwrap();
    expect(&mut c, "other account trades on", |m| accepted_id(m, 3));
    gw.shutdown().unwrap();
}

/// Every stage of the order path records latencies that the collector can merge.
#[test]
fn stage_latencies_are_recorded_for_every_stage() {
    use gateway::metrics::Stage;
    for topology in [Topology::Fused, Topology::Pipelined] {
        let mut config = config(topology);
        config.risk.limits.open_orders_per_security = 0;
        config.admin.stage_sample_every = 1;
        let mut gw = start(&config);
        let mut collector = gw.take_stage_collector().expect("stage metrics are on by default");
        let mut c = login(gw.addr(), "trader1");
        for i in 0..200u64 {
            // Distinct quantities: identical orders within 100 ms are duplicates.
            let qty = 100 * (1 + i % 20);
            let order = limit(i + 1, "A001", 600036, Side::Buy, qty, "41.00");
            c.send(&ClientMessage::NewOrder(order)).unwrap();
            let _ = expect(&mut c, "answer", |m| Some(*m));
        }
        // Each thread hands its interval over once a second; keep a little traffic
        // going until every stage has its samples.
        let deadline = std::time::Instant::now() + WAIT;
        let mut extra = 1_000;
        loop {
            collector.collect(|_| {});
            let counts: Vec<u64> =
                Stage::ALL.iter().map(|s| collector.total.hist[*s as usize].len()).collect();
            if counts.iter().all(|&n| n >= 200) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{topology:?}: too few samples: {counts:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
            extra += 1;
            let order = limit(extra, "A002", 601398, Side::Buy, 100 * (extra % 7 + 1), "7.00");
            c.send(&ClientMessage::NewOrder(order)).unwrap();
            let _ = expect(&mut c, "answer", |m| Some(*m));
        }
        let e2e = &collector.total.hist[Stage::EndToEnd as usize];
        assert!(e2e.value_at_quantile(0.5) > 0);
        gw.shutdown().unwrap();
    }
}
