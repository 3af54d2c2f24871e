//! Snapshots: an engine restored from a snapshot taken part-way through a random
//! sequence of orders, venue events, settings changes and day rolls answers the
//! rest of the sequence exactly as the original does (same verdicts, same books,
//! same validation, same next snapshot), with its tables at full capacity; a
//! truncated or damaged snapshot is an error, never a panic.

mod util;

use proptest::prelude::*;
use proptest::sample::Index;
use protocol::codec::{EntryState, NewOrder, ReplaceOrder, order_flags};
use protocol::rules::FeeSchedule;
use protocol::{Board, CreditTag, OrderType, Price, Qty, RejectCode, Side, TimeInForce};
use risk_check::{
    AccountConfig, BoardPermissions, ClientClass, LendableConfig, MarketContext, NewOrderVerdict,
    OrderFilter, OrderRef, PendingChange, PositionConfig, RiskConfig, RiskEngine, RiskLevel,
    SnapshotError,
};
use util::*;

const SECURITIES: [&str; 3] = ["600000.SH", "688981.SH", "000001.SZ"];
const ACCOUNTS: [&str; 2] = ["A001", "B002"];
/// A second login, bound to B002 only.
const LOGIN2: u32 = 9;

fn fixture(max_orders: u32) -> RiskConfig {
    let mut cheap = instrument("600000.SH", Board::SseMain, "10.00", RiskLevel::R3);
    cheap.lending_eligible = true;
    let instruments = vec![
        cheap,
        instrument("688981.SH", Board::Star, "50.00", RiskLevel::R4),
        instrument("000001.SZ", Board::SzseMain, "10.00", RiskLevel::R2),
    ];
    let mut a = AccountConfig::new(acct("A001"), cny("1000000").0);
    a.class = ClientClass::C5;
    a.boards = BoardPermissions::ALL;
    a.credit = true;
    a.positions = vec![
        PositionConfig { security: sec("600000.SH"), qty: 5_050, cost: cny("9.00") },
        PositionConfig { security: sec("688981.SH"), qty: 1_000, cost: cny("45.1234") },
    ];
    a.lendable = vec![LendableConfig { security: sec("600000.SH"), qty: 3_000 }];
    let mut b = AccountConfig::new(acct("B002"), cny("200000").0);
    b.boards = BoardPermissions::ALL;
    b.positions =
        vec![PositionConfig { security: sec("000001.SZ"), qty: 2_000, cost: cny("8.00") }];
    b.restricted = vec![sec("688981.SH")];
    let mut cfg = RiskConfig { accounts: vec![a, b], instruments, ..RiskConfig::default() };
    cfg.capacity.max_orders_per_day = max_orders;
    cfg.capacity.max_positions = 64;
    cfg.capacity.max_login_bindings = 8;
    cfg.limits.rate_limit_per_s = 12;
    cfg.limits.open_orders_per_security = 6;
    cfg.limits.cancels_per_security_per_day = 10;
    cfg.limits.hft_rate_flag_per_s = 8;
    cfg.limits.rapid_order_flag_per_s = 5;
    cfg.limits.rapid_cancel_flag_count = 3;
    cfg
}

#[derive(Clone, Debug)]
enum Op {
    New {
        login2: bool,
        account: usize,
        security: usize,
        buy: bool,
        market: bool,
        off_pct: i64,
        qty: u64,
        short: bool,
        confirm: bool,
    },
    Resend(Index),
    Accept(Index),
    VenueReject(Index),
    Fill {
        order: Index,
        price_step: u8,
        part_pct: u8,
    },
    Cancel(Index),
    VenueCancel {
        order: Index,
        part_pct: u8,
    },
    Replace {
        order: Index,
        off_pct: i64,
        qty_delta: i64,
    },
    Resolve {
        order: Index,
        apply: bool,
    },
    Wait(u64),
    FirmState(u8),
    AccountState {
        account: usize,
        state: u8,
    },
    ClientState {
        account: usize,
        blocked: bool,
    },
    Cash {
        account: usize,
        delta: i64,
    },
    Suspend {
        security: usize,
        on: bool,
    },
    Fees(bool),
    DayRoll,
}

fn op() -> impl Strategy<Value = Op> {
    let qty = prop_oneof![8 => (1u64..30).prop_map(|lots| lots * 100), 1 => 1u64..400];
    let new = (
        prop::bool::weighted(0.2),
        0..2usize,
        0..3usize,
        any::<bool>(),
        prop::bool::weighted(0.15),
        -12..=12i64,
        qty,
        prop::bool::weighted(0.1),
        any::<bool>(),
    )
        .prop_map(|(login2, account, security, buy, market, off_pct, qty, short, confirm)| {
            Op::New {
                login2,
                account,
                security,
                buy,
                market,
                off_pct,
                qty,
                short: !buy && short,
                confirm,
            }
        });
    prop_oneof![
        12 => new,
        1 => any::<Index>().prop_map(Op::Resend),
        5 => any::<Index>().prop_map(Op::Accept),
        1 => any::<Index>().prop_map(Op::VenueReject),
        8 => (any::<Index>(), any::<u8>(), 1..=100u8)
            .prop_map(|(order, price_step, part_pct)| Op::Fill { order, price_step, part_pct }),
        3 => any::<Index>().prop_map(Op::Cancel),
        2 => (any::<Index>(), 1..=100u8).prop_map(|(order, part_pct)| Op::VenueCancel { order, part_pct }),
        3 => (any::<Index>(), -12..=12i64, -10..=10i64)
            .prop_map(|(order, off_pct, qty_delta)| Op::Replace { order, off_pct, qty_delta }),
        3 => (any::<Index>(), any::<bool>()).prop_map(|(order, apply)| Op::Resolve { order, apply }),
        3 => prop_oneof![1..200u64, 1..3_000u64].prop_map(Op::Wait),
        1 => (0..3u8).prop_map(Op::FirmState),
        1 => (0..2usize, 0..3u8).prop_map(|(account, state)| Op::AccountState { account, state }),
        1 => (0..2usize, any::<bool>())
            .prop_map(|(account, blocked)| Op::ClientState { account, blocked }),
        1 => (0..2usize, -50_000..100_000i64).prop_map(|(account, delta)| Op::Cash { account, delta }),
        1 => (0..3usize, any::<bool>()).prop_map(|(security, on)| Op::Suspend { security, on }),
        1 => any::<bool>().prop_map(Op::Fees),
        1 => Just(Op::DayRoll),
    ]
}

/// An order that passed: its record, login and message.
type Sent = (OrderRef, u32, NewOrder);

/// What the sequence has sent, shared by both engines (their answers are equal).
struct Driver {
    now_ns: u64,
    next_cl: u64,
    /// Orders that passed today.
    sent: Vec<Sent>,
}

fn ctx() -> MarketContext {
    MarketContext {
        phase: protocol::TradingPhase::Continuous,
        cage_reference: None,
        last_price: Price::ZERO,
    }
}

/// Applies `op` to `engine`; returns what the engine answered, as text, and a new
/// order that passed.
fn apply(engine: &mut RiskEngine, d: &Driver, op: &Op) -> (String, Option<Sent>) {
    let mut passed = None;
    let answer = answer(engine, d, op, &mut passed);
    (answer, passed)
}

fn answer(engine: &mut RiskEngine, d: &Driver, op: &Op, passed: &mut Option<Sent>) -> String {
    let now = d.now_ns;
    let pick = |i: &Index| (!d.sent.is_empty()).then(|| d.sent[i.index(d.sent.len())]);
    let entry =
        |s: u8| [EntryState::Active, EntryState::ReducingOnly, EntryState::Blocked][s as usize];
    match *op {
        Op::New { login2, account, security, buy, market, off_pct, qty, short, confirm } => {
            let sid = sec(SECURITIES[security]);
            let prev = engine.instruments().get(sid).unwrap().prev_close;
            let o = NewOrder {
                cl_ord_id: d.next_cl,
                account: acct(ACCOUNTS[account]),
                security: sid,
                side: if buy { Side::Buy } else { Side::Sell },
                order_type: if market { OrderType::MarketBest5Cancel } else { OrderType::Limit },
                tif: if market { TimeInForce::Ioc } else { TimeInForce::Day },
                price: if market { Price::ZERO } else { price_at(prev, off_pct) },
                qty: Qty(qty),
                flags: if confirm { order_flags::SUITABILITY_CONFIRMED } else { 0 },
                credit: if short { CreditTag::ShortSell } else { CreditTag::Cash },
            };
            let login = if login2 { LOGIN2 } else { LOGIN };
            let verdict = engine.check_new_order(login, &o, &ctx(), now);
            if let NewOrderVerdict::Pass { order, .. } = verdict {
                *passed = Some((order, login, o));
            }
            format!("{verdict:?}")
        }
        Op::Resend(ref i) => match pick(i) {
            Some((_, login, o)) => format!("{:?}", engine.check_new_order(login, &o, &ctx(), now)),
            None => String::new(),
        },
        Op::Accept(ref i) => {
            if let Some((r, ..)) = pick(i) {
                engine.on_venue_accepted(r);
            }
            String::new()
        }
        Op::VenueReject(ref i) => {
            if let Some((r, ..)) = pick(i)
                && engine.order(r).is_open()
            {
                engine.on_venue_rejected(r, RejectCode::VENUE_CAPACITY);
            }
            String::new()
        }
        Op::Fill { ref order, price_step, part_pct } => {
            let Some((r, _, o)) = pick(order) else { return String::new() };
            let rec = *engine.order(r);
            if !rec.is_open() {
                return String::new();
            }
            let band = engine.instruments().get(o.security).unwrap().price_band();
            let step = i64::from(price_step % 20) * 100;
            let price = match (rec.side, rec.order_type) {
                (Side::Buy, _) => Price((rec.freeze_price.0 - step).max(band.lower.0)),
                (Side::Sell, OrderType::Limit) => Price((rec.price.0 + step).min(band.upper.0)),
                (Side::Sell, _) => Price((band.lower.0 + step).min(band.upper.0)),
            };
            let qty = (rec.leaves.0 * u64::from(part_pct)).div_ceil(100);
            engine.on_fill(r, price, Qty(qty), now);
            String::new()
        }
        Op::Cancel(ref i) => match pick(i) {
            Some((_, login, o)) => {
                format!("{:?}", engine.check_cancel(login, &o.account, o.cl_ord_id, &ctx(), now))
            }
            None => String::new(),
        },
        Op::VenueCancel { ref order, part_pct } => {
            if let Some((r, ..)) = pick(order) {
                let rec = *engine.order(r);
                if rec.is_open() {
                    engine.on_canceled(r, Qty((rec.leaves.0 * u64::from(part_pct)).div_ceil(100)));
                }
            }
            String::new()
        }
        Op::Replace { ref order, off_pct, qty_delta } => {
            let Some((r, login, o)) = pick(order) else { return String::new() };
            let rec = *engine.order(r);
            let prev = engine.instruments().get(o.security).unwrap().prev_close;
            let req = ReplaceOrder {
                request_id: 0,
                orig_cl_ord_id: o.cl_ord_id,
                account: o.account,
                price: price_at(prev, off_pct),
                qty: Qty((rec.qty.0 as i64 + qty_delta * 100).max(1) as u64),
            };
            format!("{:?}", engine.check_replace(login, &req, &ctx(), now))
        }
        Op::Resolve { ref order, apply } => {
            let Some((r, ..)) = pick(order) else { return String::new() };
            let rec = *engine.order(r);
            match (rec.pending, apply) {
                (PendingChange::Cancel, true) => engine.on_canceled(r, rec.leaves),
                (PendingChange::Cancel, false) => engine.on_cancel_rejected(r),
                (PendingChange::Replace { qty, .. }, true) if qty.0 <= rec.cum.0 => {
                    engine.on_replace_rejected(r)
                }
                (PendingChange::Replace { price, qty }, true) => {
                    engine.on_replaced(r, price, qty, Qty(qty.0.saturating_sub(rec.cum.0)))
                }
                (PendingChange::Replace { .. }, false) => engine.on_replace_rejected(r),
                (PendingChange::None, _) => {}
            }
            String::new()
        }
        Op::Wait(_) => String::new(),
        Op::FirmState(s) => {
            engine.set_firm_state(entry(s));
            String::new()
        }
        Op::AccountState { account, state } => {
            format!("{:?}", engine.set_account_state(&acct(ACCOUNTS[account]), entry(state)))
        }
        Op::ClientState { account, blocked } => {
            let state = if blocked { EntryState::Blocked } else { EntryState::Active };
            format!("{:?}", engine.set_client_state(&acct(ACCOUNTS[account]), state))
        }
        Op::Cash { account, delta } => {
            format!("{:?}", engine.adjust_cash(&acct(ACCOUNTS[account]), delta * Price::SCALE))
        }
        Op::Suspend { security, on } => {
            format!("{:?}", engine.set_suspended(sec(SECURITIES[security]), on))
        }
        Op::Fees(high) => {
            let mut fees = FeeSchedule::DEFAULT;
            if high {
                fees.commission_cbp *= 3;
                fees.commission_min = 0;
            }
            engine.set_fees(fees);
            String::new()
        }
        Op::DayRoll => {
            engine.start_trading_day(now);
            String::new()
        }
    }
}

impl Driver {
    /// Moves the clock and records what `op` left behind (answers are equal on both
    /// engines, so reading one is enough).
    fn before(&mut self, op: &Op) {
        self.now_ns += 7 * MS;
        if let Op::Wait(ms) = *op {
            self.now_ns += ms * MS;
        }
    }

    fn after(&mut self, op: &Op, passed: Option<Sent>) {
        match op {
            Op::New { .. } => self.next_cl += 1,
            Op::DayRoll => self.sent.clear(),
            _ => {}
        }
        self.sent.extend(passed);
    }
}

/// Everything a caller can see of an engine.
fn views(e: &RiskEngine) -> String {
    let mut out = format!(
        "validate {:?} firm {:?} orders {} day {} limits {:?} fees {:?} capacity {:?}\ncounters {:?}\n",
        e.validate(),
        e.firm_state(),
        e.orders_today(),
        e.day_start_ns(),
        e.limits(),
        e.fees(),
        e.capacity(),
        e.counters(),
    );
    for i in 0..e.orders_today() as u32 {
        out += &format!("{:?}\n", e.order(OrderRef(i)));
    }
    for id in e.account_ids() {
        let mut open = Vec::new();
        e.open_orders(&id, None, &mut open);
        for s in SECURITIES {
            e.open_orders(&id, Some(sec(s)), &mut open);
        }
        out += &format!(
            "{:?} {:?} {open:?} {:?}\n",
            e.account_snapshot(&id),
            e.account_state(&id),
            (0..40).map(|cl| e.lookup(&id, cl)).collect::<Vec<_>>(),
        );
    }
    for login in [LOGIN, LOGIN2] {
        let mut open = Vec::new();
        e.open_orders_of_login(login, &mut open);
        out += &format!("login {login}: {open:?} bound {}\n", e.is_bound(login, &acct("A001")));
    }
    for x in e.instruments().iter() {
        out += &format!("{x:?} last {:?}\n", e.last_price(x.security));
    }
    // The four queries' views (format 3: fees by kind, the fills table).
    out += &format!("fills {:?} missing {}\n", e.fills_today(), e.fills_not_recorded());
    for id in e.account_ids() {
        let mut positions = Vec::new();
        e.positions(&id, &mut positions);
        let mut orders = Vec::new();
        e.orders_page(&id, OrderFilter::All, 0, usize::MAX, &mut orders);
        let mut fills = Vec::new();
        e.fills_page(&id, 0, usize::MAX, &mut fills);
        out += &format!("{:?}\n{positions:?}\n{orders:?}\n{fills:?}\n", e.funds(&id));
    }
    out
}

fn snapshot(e: &RiskEngine) -> Vec<u8> {
    let mut bytes = Vec::new();
    e.snapshot_to(&mut bytes).unwrap();
    bytes
}

/// Restores from `bytes` followed by other data, which must be left unread.
fn restore(bytes: &[u8]) -> RiskEngine {
    let stream = [bytes, b"next"].concat();
    let mut r = stream.as_slice();
    let e = RiskEngine::restore_from(&mut r).expect("a snapshot restores");
    assert_eq!(r, b"next", "restoring reads exactly the snapshot");
    e
}

fn new_engine(max_orders: u32) -> RiskEngine {
    let mut e = RiskEngine::new(fixture(max_orders)).unwrap();
    for a in ACCOUNTS {
        e.bind_login(LOGIN, acct(a)).unwrap();
    }
    e.bind_login(LOGIN2, acct("B002")).unwrap();
    e.start_trading_day(T0 - 3_600_000 * MS);
    e
}

fn run(ops: &[Op], split: usize) -> Result<(), TestCaseError> {
    let mut original = new_engine(512);
    let mut restored: Option<RiskEngine> = None;
    let mut d = Driver { now_ns: T0, next_cl: 1, sent: Vec::new() };
    for (i, op) in ops.iter().enumerate() {
        if i == split {
            let bytes = snapshot(&original);
            let copy = restore(&bytes);
            prop_assert_eq!(views(&copy), views(&original));
            prop_assert!(snapshot(&copy) == bytes, "a restored engine snapshots the same bytes");
            restored = Some(copy);
        }
        d.before(op);
        let answer = apply(&mut original, &d, op);
        if let Some(copy) = restored.as_mut() {
            prop_assert_eq!(&apply(copy, &d, op), &answer, "after {:?}", op);
            prop_assert_eq!(views(copy), views(&original), "after {:?}", op);
        } else {
            prop_assert!(original.validate().is_ok(), "{:?}", original.validate());
        }
        d.after(op, answer.1);
    }
    if let Some(copy) = restored {
        prop_assert!(snapshot(&copy) == snapshot(&original), "the same state at the end");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn restored_engine_continues_identically(
        ops in prop::collection::vec(op(), 1..250),
        split in any::<Index>(),
    ) {
        run(&ops, split.index(ops.len()))?;
    }
}

/// An engine with open, filled, cancelled and rejected orders, pending changes,
/// flags and a suitability confirmation on record.
fn busy() -> RiskEngine {
    let mut h = Harness::new(fixture(64));
    let a = h.limit(Side::Buy, "600000.SH", "10.00", 300);
    let a = h.pass(&a);
    h.engine.on_venue_accepted(a);
    h.fill(a, "10.00", 100);
    let b = h.limit(Side::Sell, "600000.SH", "10.10", 200);
    let b = h.pass(&b);
    h.engine.on_venue_accepted(b);
    let c = h.limit(Side::Buy, "688981.SH", "50.00", 200);
    let c = h.pass(&c);
    h.cancel(c).unwrap();
    h.replace(a, "9.90", 400).unwrap();
    let bad = h.limit(Side::Buy, "600000.SH", "10.001", 100);
    h.reject(&bad, RejectCode::TICK_VIOLATION);
    let mut short = h.limit(Side::Sell, "600000.SH", "10.20", 500);
    short.credit = CreditTag::ShortSell;
    h.pass(&short);
    h.engine.on_trade(sec("688981.SH"), cny("51.00"));
    h.engine
}

#[test]
fn the_queries_state_survives_a_snapshot() {
    let mut cfg = fixture(64);
    cfg.capacity.max_fills_per_day = 1;
    let mut h = Harness::new(cfg);
    let a = h.limit(Side::Buy, "600000.SH", "10.00", 300);
    let a = h.pass(&a);
    h.fill(a, "10.00", 100);
    h.fill(a, "9.99", 100);
    h.engine.on_trade(sec("000001.SZ"), cny("10.05"));
    let copy = restore(&snapshot(&h.engine));
    assert_eq!(views(&copy), views(&h.engine));
    assert_eq!(copy.fills_today(), h.engine.fills_today());
    assert_eq!((copy.fills_today().len(), copy.fills_not_recorded()), (1, 1));
    assert_eq!(copy.last_price(sec("000001.SZ")), Some(cny("10.05")));
    assert_eq!(copy.funds(&acct("A001")), h.engine.funds(&acct("A001")));
}

#[test]
fn a_cut_short_snapshot_is_an_error() {
    let bytes = snapshot(&busy());
    for len in 0..bytes.len() {
        match RiskEngine::restore_from(&mut &bytes[..len]) {
            Err(SnapshotError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof),
            other => panic!("{len} of {} bytes: {:?}", bytes.len(), other.map(|_| ())),
        }
    }
}

#[test]
fn a_damaged_snapshot_is_an_error_or_a_consistent_engine() {
    let e = busy();
    let bytes = snapshot(&e);
    // Where the order records start: before them the header, the state and the
    // table's count and record length; after them the end marker.
    let records = bytes.len() - 8 - e.orders_today() * 196;
    let (mut refused, mut accepted) = (0, 0);
    for at in 0..bytes.len() {
        for flip in [0x01, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[at] ^= flip;
            match RiskEngine::restore_from(&mut bad.as_slice()) {
                Err(_) => refused += 1,
                // Only the order records carry no checksum of their own (the caller's
                // covers them): a change there that still makes a consistent engine
                // (a different timestamp, say) restores as that engine.
                Ok(e) => {
                    assert!((records..bytes.len() - 8).contains(&at), "byte {at} ^ {flip:#x}");
                    assert_eq!(e.validate(), Ok(()), "byte {at} ^ {flip:#x}");
                    accepted += 1;
                }
            }
        }
    }
    assert!(refused > accepted, "{refused} refused, {accepted} restored");
    // Format 1 kept one entry state per account; it is refused by name rather
    // than read as if the risk desk's block were the client's (or lost).
    let mut wrong_version = bytes.clone();
    wrong_version[8] = 1;
    assert!(matches!(
        RiskEngine::restore_from(&mut wrong_version.as_slice()),
        Err(SnapshotError::Version { found: 1, expected: 3 })
    ));
    // Format 2 had no fills table, fees by kind or last trade prices.
    wrong_version[8] = 2;
    assert!(matches!(
        RiskEngine::restore_from(&mut wrong_version.as_slice()),
        Err(SnapshotError::Version { found: 2, expected: 3 })
    ));
    assert!(matches!(
        RiskEngine::restore_from(&mut &b"not a snapshot at all"[..]),
        Err(SnapshotError::NotASnapshot)
    ));
}

#[test]
fn tables_come_back_at_full_capacity() {
    let e = busy();
    let copy = restore(&snapshot(&e));
    assert_eq!(copy.capacity(), e.capacity());
    assert_eq!(views(&copy), views(&e));
    // The order table takes the rest of its capacity, then refuses: no growth.
    let mut h = Harness { engine: copy, next_cl_ord_id: 1_000, ..Harness::new(fixture(64)) };
    h.step_ns = 1_000 * MS;
    while h.engine.orders_today() < 64 {
        let o = h.limit(Side::Buy, "000001.SZ", "10.00", 100);
        h.send(&o);
    }
    let o = h.limit(Side::Buy, "000001.SZ", "10.00", 100);
    h.reject(&o, RejectCode::ORDER_CAPACITY);
}

#[test]
fn two_records_with_one_key_are_refused() {
    let e = busy();
    let mut bytes = snapshot(&e);
    // Give the second record the first one's cl_ord_id (bytes 20..28 of a record):
    // both are A001's.
    let first = bytes.len() - 8 - e.orders_today() * 196;
    let (a, b) = (first + 20, first + 196 + 20);
    let id: [u8; 8] = bytes[a..a + 8].try_into().unwrap();
    bytes[b..b + 8].copy_from_slice(&id);
    match RiskEngine::restore_from(&mut bytes.as_slice()) {
        Err(SnapshotError::Inconsistent(why)) => assert!(why.contains("share"), "{why}"),
        other => panic!("{:?}", other.map(|_| ())),
    }
}
