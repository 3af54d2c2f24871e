//! Tens of thousands of orders from several sessions at once: every order gets
//! exactly one answer and, if accepted, exactly one terminal state; afterwards the
//! books and accounts balance (shares and cash are conserved, fees aside).

mod util;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gateway::config::Topology;
use protocol::codec::{
    AppMessage, CancelOrder, ClientMessage, MassCancel, MassCancelScope, ServerMessage,
};
use protocol::{AccountId, Price, Qty, SecurityId, Side};
use testkit::Rng;
use util::*;

const ORDERS_PER_SESSION: u64 = 8_000;
const BATCH: u64 = 200;

#[derive(Default, Clone, Copy, Debug)]
struct Tally {
    answers: u32,
    accepted: bool,
    terminals: u32,
}

struct Session {
    user: &'static str,
    account: &'static str,
    /// Securities this account trades, with their reference prices.
    book: &'static [(u32, &'static str)],
}

const SESSIONS: &[Session] = &[
    Session {
        user: "trader1",
        account: "A001",
        book: &[(600519, "1498.00"), (1, "11.50"), (600036, "42.10")],
    },
    Session {
        user: "trader2",
        account: "B001",
        book: &[(600519, "1498.00"), (601318, "52.30"), (1, "11.50")],
    },
    Session { user: "pro", account: "P001", book: &[(688981, "88.50"), (600036, "42.10")] },
    Session { user: "algo", account: "B002", book: &[(600036, "42.10"), (601318, "52.30")] },
];

fn run_session(addr: std::net::SocketAddr, index: usize) -> HashMap<u64, Tally> {
    let s = &SESSIONS[index];
    let mut rng = Rng::new(index as u64 + 1);
    let mut client = login(addr, s.user);
    let account = AccountId::new(s.account).unwrap();
    let mut tally: HashMap<u64, Tally> = HashMap::new();
    let mut open: Vec<u64> = Vec::new();
    let base = (index as u64 + 1) * 1_000_000;
    let mut next_request = 1u64;
    for batch_start in (0..ORDERS_PER_SESSION).step_by(BATCH as usize) {
        for k in batch_start..batch_start + BATCH {
            let cl_ord_id = base + k;
            if rng.below(3) == 0 && !open.is_empty() {
                let victim = open.swap_remove(rng.below(open.len() as u64) as usize);
                let cancel =
                    CancelOrder { request_id: next_request, orig_cl_ord_id: victim, account };
                next_request += 1;
                client.send(&ClientMessage::CancelOrder(cancel)).unwrap();
            }
            let j = rng.below(s.book.len() as u64) as usize;
            let (code, reference) = s.book[j];
            let reference = Price::parse_cny(reference).unwrap();
            // Within ±1% of the reference, on the tick.
            let ticks = reference.0 / 100;
            let offset = rng.below(ticks as u64 / 50 + 1) as i64 - ticks / 100;
            let price = Price((ticks + offset) * 100);
            // Mostly one side per account and security, so accounts trade with each
            // other instead of running into their own resting orders (self-trade).
            let buys = (index + j).is_multiple_of(2);
            let side = if buys ^ (rng.below(10) == 0) { Side::Buy } else { Side::Sell };
            let lot = if (688_000..689_000).contains(&code) { 200 } else { 100 };
            let qty = lot * (1 + rng.below(5));
            let mut order = limit(cl_ord_id, s.account, code, side, qty, "1");
            order.price = price;
            order.security = SecurityId::new(sec(code).market, code).unwrap();
            client.send(&ClientMessage::NewOrder(order)).unwrap();
            tally.insert(cl_ord_id, Tally::default());
        }
        let want = batch_start + BATCH;
        read_until(&mut client, &mut tally, &mut open, |t| {
            (base..base + want).all(|id| t.get(&id).is_some_and(|x| x.answers > 0))
        });
    }
    // Close what is still open, then wait for every accepted order's terminal state.
    let mass = MassCancel {
        request_id: next_request,
        scope: MassCancelScope::Account(account),
        block_new: false,
    };
    client.send(&ClientMessage::MassCancel(mass)).unwrap();
    read_until(&mut client, &mut tally, &mut open, |t| {
        t.values().all(|x| !x.accepted || x.terminals > 0)
    });
    client.logout(WAIT).unwrap();
    tally
}

fn read_until(
    client: &mut protocol::client::Client,
    tally: &mut HashMap<u64, Tally>,
    open: &mut Vec<u64>,
    done: impl Fn(&HashMap<u64, Tally>) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(tally) {
        assert!(Instant::now() < deadline, "answers missing after 60 s");
        let Some(ServerMessage::App(m)) = client.recv(Duration::from_millis(200)).unwrap() else {
            continue;
        };
        match m.msg {
            AppMessage::OrderAccepted(a) => {
                let t = tally.get_mut(&a.cl_ord_id).expect("answer for an order we sent");
                t.answers += 1;
                t.accepted = true;
                open.push(a.cl_ord_id);
            }
            AppMessage::OrderRejected(r) => {
                tally.get_mut(&r.cl_ord_id).expect("answer for an order we sent").answers += 1
            }
            AppMessage::Executed(e) if e.leaves == Qty(0) => {
                tally.get_mut(&e.cl_ord_id).unwrap().terminals += 1
            }
            AppMessage::Canceled(c) => tally.get_mut(&c.cl_ord_id).unwrap().terminals += 1,
            _ => {}
        }
    }
}

fn many_orders(topology: Topology) {
    let mut config = config(topology);
    // Let the flow through: the per-account throttles and per-security counts are
    // tested elsewhere; here they would only turn orders into rejects.
    config.risk.limits.rate_limit_per_s = 0;
    config.risk.limits.daily_message_limit = 0;
    config.risk.limits.open_orders_per_security = 100_000;
    config.risk.limits.cancels_per_security_per_day = 100_000;
    config.risk.limits.duplicate_window_ms = 0;
    // Deep pockets and holdings, so most orders pass and the books stay busy.
    for session in SESSIONS {
        let account =
            config.risk.accounts.iter_mut().find(|a| a.id.as_str() == session.account).unwrap();
        account.cash = 1_000_000_000 * Price::SCALE;
        for &(code, reference) in session.book {
            let security = sec(code);
            account.positions.retain(|p| p.security != security);
            let cost = Price::parse_cny(reference).unwrap();
            account.positions.push(risk_check::PositionConfig { security, qty: 10_000_000, cost });
        }
    }
    let gw = start(&config);
    let addr = gw.addr();
    let initial: HashMap<AccountId, (i64, HashMap<SecurityId, u64>)> = config
        .risk
        .accounts
        .iter()
        .map(|a| (a.id, (a.cash, a.positions.iter().map(|p| (p.security, p.qty)).collect())))
        .collect();
    let handles: Vec<_> =
        (0..SESSIONS.len()).map(|i| std::thread::spawn(move || run_session(addr, i))).collect();
    let mut answered = 0usize;
    let mut accepted = 0usize;
    for h in handles {
        let tally = h.join().expect("session thread");
        for (id, t) in tally {
            assert_eq!(t.answers, 1, "order {id}: exactly one answer");
            if t.accepted {
                accepted += 1;
                assert_eq!(t.terminals, 1, "order {id}: exactly one terminal state");
            } else {
                assert_eq!(t.terminals, 0, "order {id}: rejected orders have no terminal state");
            }
            answered += 1;
        }
    }
    assert_eq!(answered as u64, ORDERS_PER_SESSION * SESSIONS.len() as u64);
    let stopped = gw.shutdown().unwrap();
    let engine = stopped.sequencer.engine();
    let rejects: Vec<_> =
        engine.risk().counters().reject_counts().filter(|(_, n)| *n > 0).collect();
    assert!(
        accepted > answered / 4,
        "most orders should pass risk ({accepted} of {answered}); rejects {rejects:?}"
    );
    engine.risk().validate().unwrap();
    engine.exchange().validate().unwrap();
    let (trades, executions) = (engine.stats().trades.get(), engine.stats().executions.get());
    assert!(trades > 100, "the flow should trade: {trades} trades, {executions} executions");
    let mut cash_before = 0i64;
    let mut cash_after = 0i64;
    let mut shares_before: HashMap<SecurityId, u64> = HashMap::new();
    let mut shares_after: HashMap<SecurityId, u64> = HashMap::new();
    for (id, (cash, positions)) in &initial {
        cash_before += cash;
        for (s, q) in positions {
            *shares_before.entry(*s).or_default() += q;
        }
        let snap = engine.risk().account_snapshot(id).unwrap();
        cash_after += snap.cash_total() + snap.fees_paid;
        assert_eq!(snap.cash_frozen, 0, "{id}: nothing frozen once every order is closed");
        for p in &snap.positions {
            *shares_after.entry(p.security).or_default() += p.holding;
            assert_eq!(p.frozen_for_sells, 0, "{id} {}: no shares frozen", p.security);
        }
    }
    assert_eq!(cash_before, cash_after, "cash is conserved (fees counted)");
    shares_before.retain(|_, q| *q > 0);
    shares_after.retain(|_, q| *q > 0);
    assert_eq!(shares_before, shares_after, "shares are conserved");
}

#[test]
fn many_orders_fused() {
    many_orders(Topology::Fused);
}

#[test]
fn many_orders_pipelined() {
    many_orders(Topology::Pipelined);
}
