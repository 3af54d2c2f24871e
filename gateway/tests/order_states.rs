//! Protocol version 2: the broker answers at once (OrderPending) and the venue's
//! answer follows, in every phase; a version 1 stream carries no OrderPending; a
//! login's stream keeps one version for the day, across a restart.
//!
//! The gateway runs the A-share schedule on the test clock (`[clock] start_at`),
//! started a few seconds before the midday break ends, so an order sent during
//! the break is answered by the broker before 13:00 and by the venue after it.
//! Times are checked on the messages' own `ts_ns`, never on the wall clock.

mod util;

use std::time::Duration;

use gateway::config::{Durability, Topology};
use protocol::client::{Client, ClientError};
use protocol::codec::{AppMessage, CancelOrder, ClientMessage, OrderPending, ServerMessage};
use protocol::{PendingStatus, RejectCode, Side, TradingPhase};
use sim_exchange::Schedule;
use util::*;

const BEIJING: i32 = 8 * 3600;

/// 13:00:00 Beijing on the test day, as Unix ns.
fn afternoon_open_ns() -> u64 {
    gateway::clock::parse_local_time("2026-12-07 13:00:00", BEIJING).unwrap()
}

fn config_at(topology: Topology, local_time: &str) -> gateway::GatewayConfig {
    let mut c = config(topology);
    c.exchange.schedule = Schedule::AShare { utc_offset_s: BEIJING };
    c.set_clock_start(local_time).expect("a valid local time");
    c
}

fn connect(addr: std::net::SocketAddr, user: &str, version: u8) -> Result<Client, ClientError> {
    let mut cfg = client_config(addr, user);
    cfg.version = version;
    Client::connect(cfg, 1)
}

/// The next sequenced message that is not a SystemEvent, with its time.
#[track_caller]
fn next_answer(client: &mut Client) -> (u64, AppMessage) {
    let deadline = std::time::Instant::now() + 3 * WAIT;
    let mut seen = Vec::new();
    while std::time::Instant::now() < deadline {
        match client.recv(Duration::from_millis(100)).expect("recv") {
            Some(ServerMessage::App(s)) if !matches!(s.msg, AppMessage::SystemEvent(_)) => {
                return (s.ts_ns, s.msg);
            }
            Some(other) => seen.push(other),
            None => {}
        }
    }
    panic!("no answer within {:?}; seen {seen:?}", 3 * WAIT);
}

fn pending(msg: &AppMessage) -> OrderPending {
    match msg {
        AppMessage::OrderPending(p) => *p,
        other => panic!("expected OrderPending, got {other:?}"),
    }
}

#[test]
fn the_broker_answers_at_once_and_the_venue_after_the_break() {
    for topology in [Topology::Fused, Topology::Pipelined] {
        // Fifteen seconds of break: room for a slow, busy machine to start and log in.
        let gw = start(&config_at(topology, "2026-12-07 12:59:45"));
        let open = afternoon_open_ns();
        let mut v2 = connect(gw.addr(), "trader1", 2).unwrap();
        assert_eq!(v2.login_accepted().version, 2);
        let mut v1 = connect(gw.addr(), "trader2", 1).unwrap();
        assert_eq!(v1.login_accepted().version, 1);

        let sell = limit(1, "A001", 600519, Side::Sell, 100, "1498.00");
        v2.send(&ClientMessage::NewOrder(sell)).unwrap();
        let (ts, msg) = next_answer(&mut v2);
        let p = pending(&msg);
        assert_eq!((p.cl_ord_id, p.request_id), (1, 0));
        assert_eq!((p.status, p.phase), (PendingStatus::Queued, TradingPhase::Break));
        assert!(ts < open, "the broker answered during the break");
        let (ts, msg) = next_answer(&mut v2);
        match msg {
            AppMessage::OrderAccepted(a) => assert_eq!(a.order_id, p.order_id),
            other => panic!("expected OrderAccepted, got {other:?}"),
        }
        assert!(ts >= open, "the venue answered when it opened");

        // A version 1 stream gets the venue's answer alone, as before.
        let buy = limit(2, "B001", 600519, Side::Buy, 100, "1498.00");
        v1.send(&ClientMessage::NewOrder(buy)).unwrap();
        let (_, msg) = next_answer(&mut v1);
        assert!(matches!(msg, AppMessage::OrderAccepted(a) if a.cl_ord_id == 2), "{msg:?}");
        let fill = expect(&mut v1, "the fill", |m| match m {
            AppMessage::Executed(e) => Some(*e),
            AppMessage::OrderPending(p) => panic!("a version 1 stream got {p:?}"),
            _ => None,
        });
        assert_eq!(fill.qty.0, 100);

        // In continuous trading: pending then accepted, and a cancel's pending.
        let rest = limit(3, "A001", 600519, Side::Sell, 100, "1550.00");
        v2.send(&ClientMessage::NewOrder(rest)).unwrap();
        let p = loop {
            match next_answer(&mut v2).1 {
                AppMessage::Executed(e) if e.cl_ord_id == 1 => {} // the break's order filled
                other => break pending(&other),
            }
        };
        assert_eq!(p.cl_ord_id, 3);
        assert_eq!((p.status, p.phase), (PendingStatus::Reported, TradingPhase::Continuous));
        let (_, msg) = next_answer(&mut v2);
        assert!(matches!(msg, AppMessage::OrderAccepted(a) if a.cl_ord_id == 3), "{msg:?}");
        let cancel = CancelOrder { request_id: 77, orig_cl_ord_id: 3, account: acct("A001") };
        v2.send(&ClientMessage::CancelOrder(cancel)).unwrap();
        let p = pending(&next_answer(&mut v2).1);
        assert_eq!((p.status, p.request_id, p.cl_ord_id), (PendingStatus::CancelPending, 77, 3));
        let (_, msg) = next_answer(&mut v2);
        assert!(matches!(msg, AppMessage::Canceled(c) if c.request_id == 77), "{msg:?}");

        // A refused order gets OrderRejected alone, in either version.
        let refused = limit(4, "A002", 600519, Side::Buy, 150, "1498.00");
        v2.send(&ClientMessage::NewOrder(refused)).unwrap();
        let (_, msg) = next_answer(&mut v2);
        assert!(matches!(msg, AppMessage::OrderRejected(r) if r.cl_ord_id == 4), "{msg:?}");
        gw.shutdown().unwrap();
    }
}

#[test]
fn a_logins_stream_keeps_its_version_for_the_day_across_a_restart() {
    let dir = std::env::temp_dir().join(format!("bw-order-states-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut c = config_at(Topology::Fused, "2026-12-07 10:00:00");
    c.journal.durability = Durability::Sync;
    c.journal.dir = dir.clone();
    let gw = start(&c);
    let v2 = connect(gw.addr(), "trader1", 2).unwrap();
    let v1 = connect(gw.addr(), "trader2", 1).unwrap();
    v2.logout(WAIT).unwrap();
    v1.logout(WAIT).unwrap();
    // The same day: a version 1 client cannot read trader1's stream; a version 2
    // client reads trader2's version 1 stream as version 1.
    match connect(gw.addr(), "trader1", 1) {
        Err(ClientError::LoginRejected(code)) => assert_eq!(code, RejectCode::UNSUPPORTED_VERSION),
        other => panic!("expected UNSUPPORTED_VERSION, got {:?}", other.map(|_| ())),
    }
    let again = connect(gw.addr(), "trader2", 2).unwrap();
    assert_eq!(again.login_accepted().version, 1);
    again.logout(WAIT).unwrap();
    gw.shutdown().unwrap();

    // After a restart from the journal, the same.
    let gw = start(&c);
    match connect(gw.addr(), "trader1", 1) {
        Err(ClientError::LoginRejected(code)) => assert_eq!(code, RejectCode::UNSUPPORTED_VERSION),
        other => panic!("expected UNSUPPORTED_VERSION, got {:?}", other.map(|_| ())),
    }
    let v2 = connect(gw.addr(), "trader1", 2).unwrap();
    assert_eq!(v2.login_accepted().version, 2);
    let again = connect(gw.addr(), "trader2", 2).unwrap();
    assert_eq!(again.login_accepted().version, 1);
    drop((v2, again));
    gw.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The afternoon's last transition on the test clock: at 14:57 the closing call
/// auction begins, and a cancel is refused there (as 9:20-9:25), by the broker.
#[test]
fn the_closing_auction_refuses_cancels() {
    let gw = start(&config_at(Topology::Fused, "2026-12-07 14:56:45"));
    let mut v2 = connect(gw.addr(), "trader1", 2).unwrap();
    let rest = limit(1, "A001", 600519, Side::Sell, 100, "1550.00");
    v2.send(&ClientMessage::NewOrder(rest)).unwrap();
    let p = pending(&next_answer(&mut v2).1);
    assert_eq!((p.status, p.phase), (PendingStatus::Reported, TradingPhase::Continuous));
    let (_, msg) = next_answer(&mut v2);
    assert!(matches!(msg, AppMessage::OrderAccepted(a) if a.cl_ord_id == 1), "{msg:?}");
    let deadline = std::time::Instant::now() + 3 * WAIT;
    let auction = loop {
        assert!(std::time::Instant::now() < deadline, "no closing auction by 14:57");
        if let Some(ServerMessage::App(s)) = v2.recv(Duration::from_millis(100)).expect("recv")
            && let AppMessage::SystemEvent(e) = s.msg
            && e.phase == TradingPhase::ClosingAuction
        {
            break e;
        }
    };
    assert_eq!(auction.security, None, "the whole venue");
    let cancel = CancelOrder { request_id: 5, orig_cl_ord_id: 1, account: acct("A001") };
    v2.send(&ClientMessage::CancelOrder(cancel)).unwrap();
    match next_answer(&mut v2).1 {
        AppMessage::CancelRejected(k) => {
            assert_eq!((k.request_id, k.code), (5, RejectCode::NO_CANCEL_PHASE));
        }
        other => panic!("expected CancelRejected, got {other:?}"),
    }
    gw.shutdown().unwrap();
}
