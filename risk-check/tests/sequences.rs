//! Property test: long random sequences of orders, fills, partial fills, cancels,
//! replaces, venue rejects and day rolls keep every invariant (`validate`) and
//! conserve money and shares: what the test computes independently from the
//! fills it fed in (cash in and out, fees per order from the schedule, shares
//! bought and sold) equals what the engine's books say.

mod util;

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::sample::Index;
use protocol::codec::{NewOrder, ReplaceOrder, order_flags};
use protocol::rules::FeeSchedule;
use protocol::{
    AccountId, Board, CreditTag, OrderType, Price, Qty, RejectCode, SecurityId, Side, TimeInForce,
};
use risk_check::fees::order_fees_total;
use risk_check::{
    AccountConfig, BoardPermissions, ClientClass, LendableConfig, MarketContext, NewOrderVerdict,
    OrderRef, PendingChange, PositionConfig, RiskConfig, RiskEngine, RiskLevel,
};
use util::*;

const SECURITIES: [&str; 3] = ["600000.SH", "688981.SH", "000001.SZ"];
const ACCOUNTS: [&str; 2] = ["A001", "B002"];

fn fixture() -> RiskConfig {
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
    let mut cfg = RiskConfig { accounts: vec![a, b], instruments, ..RiskConfig::default() };
    cfg.capacity.max_orders_per_day = 4_096;
    cfg
}

#[derive(Clone, Debug)]
enum Op {
    New {
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
    DayRoll,
}

fn op() -> impl Strategy<Value = Op> {
    let qty = prop_oneof![
        8 => (1u64..30).prop_map(|lots| lots * 100),
        1 => 1u64..400,
    ];
    let new =
        (0..2usize, 0..3usize, any::<bool>(), 0..6u8, -12..=12i64, qty, 0..10u8, any::<bool>())
            .prop_map(|(account, security, buy, market, off_pct, qty, short, confirm)| Op::New {
                account,
                security,
                buy,
                market: market == 0,
                off_pct,
                qty,
                short: !buy && short == 0,
                confirm,
            });
    prop_oneof![
        10 => new,
        1 => any::<Index>().prop_map(Op::Resend),
        4 => any::<Index>().prop_map(Op::Accept),
        1 => any::<Index>().prop_map(Op::VenueReject),
        8 => (any::<Index>(), any::<u8>(), 1..=100u8)
            .prop_map(|(order, price_step, part_pct)| Op::Fill { order, price_step, part_pct }),
        2 => any::<Index>().prop_map(Op::Cancel),
        2 => (any::<Index>(), 1..=100u8).prop_map(|(order, part_pct)| Op::VenueCancel { order, part_pct }),
        2 => (any::<Index>(), -12..=12i64, -10..=10i64)
            .prop_map(|(order, off_pct, qty_delta)| Op::Replace { order, off_pct, qty_delta }),
        3 => (any::<Index>(), any::<bool>()).prop_map(|(order, apply)| Op::Resolve { order, apply }),
        2 => (1..3_000u64).prop_map(Op::Wait),
        1 => Just(Op::DayRoll),
    ]
}

/// Everything the test knows without asking the engine.
#[derive(Default)]
struct Model {
    initial_cash: HashMap<AccountId, i64>,
    cash_in: HashMap<AccountId, i64>,
    cash_out: HashMap<AccountId, i64>,
    short_value: HashMap<AccountId, i64>,
    fees: HashMap<AccountId, i64>,
    /// (account, security) → (initial, bought, sold, shorted).
    shares: HashMap<(AccountId, SecurityId), (u64, u64, u64, u64)>,
    /// Today's filled value per order, for the fee schedule.
    order_value: HashMap<OrderRef, i64>,
}

struct World {
    engine: RiskEngine,
    model: Model,
    fees: FeeSchedule,
    /// Orders sent today that passed (they may since have closed).
    sent: Vec<(OrderRef, NewOrder)>,
    now_ns: u64,
    next_cl: u64,
}

impl World {
    fn new() -> World {
        let cfg = fixture();
        let mut model = Model::default();
        for a in &cfg.accounts {
            model.initial_cash.insert(a.id, a.cash);
            for p in &a.positions {
                model.shares.insert((a.id, p.security), (p.qty, 0, 0, 0));
            }
        }
        let fees = cfg.fees;
        let mut engine = RiskEngine::new(cfg).unwrap();
        for a in ACCOUNTS {
            engine.bind_login(LOGIN, acct(a)).unwrap();
        }
        World { engine, model, fees, sent: Vec::new(), now_ns: T0, next_cl: 1 }
    }

    fn pick(&self, i: &Index) -> Option<(OrderRef, NewOrder)> {
        (!self.sent.is_empty()).then(|| self.sent[i.index(self.sent.len())])
    }

    fn ctx(&self) -> MarketContext {
        MarketContext {
            phase: protocol::TradingPhase::Continuous,
            cage_reference: None,
            last_price: Price::ZERO,
        }
    }

    fn apply(&mut self, op: &Op) {
        self.now_ns += 7 * MS;
        let now = self.now_ns;
        let ctx = self.ctx();
        match *op {
            Op::New { account, security, buy, market, off_pct, qty, short, confirm } => {
                let sid = sec(SECURITIES[security]);
                let prev = self.engine.instruments().get(sid).unwrap().prev_close;
                let o = NewOrder {
                    cl_ord_id: self.next_cl,
                    account: acct(ACCOUNTS[account]),
                    security: sid,
                    side: if buy { Side::Buy } else { Side::Sell },
                    order_type: if market {
                        OrderType::MarketBest5Cancel
                    } else {
                        OrderType::Limit
                    },
                    tif: if market { TimeInForce::Ioc } else { TimeInForce::Day },
                    price: if market { Price::ZERO } else { price_at(prev, off_pct) },
                    qty: Qty(qty),
                    flags: if confirm { order_flags::SUITABILITY_CONFIRMED } else { 0 },
                    credit: if short { CreditTag::ShortSell } else { CreditTag::Cash },
                };
                self.next_cl += 1;
                if let NewOrderVerdict::Pass { order, .. } =
                    self.engine.check_new_order(LOGIN, &o, &ctx, now)
                {
                    self.sent.push((order, o));
                }
            }
            Op::Resend(ref i) => {
                if let Some((r, o)) = self.pick(i) {
                    let before = self.engine.account_snapshot(&o.account);
                    let v = self.engine.check_new_order(LOGIN, &o, &ctx, now);
                    assert_eq!(v, NewOrderVerdict::Repeat { order: r });
                    assert_eq!(
                        self.engine.account_snapshot(&o.account),
                        before,
                        "a repeat changes nothing"
                    );
                }
            }
            Op::Accept(ref i) => {
                if let Some((r, _)) = self.pick(i) {
                    self.engine.on_venue_accepted(r);
                }
            }
            Op::VenueReject(ref i) => {
                if let Some((r, _)) = self.pick(i)
                    && self.engine.order(r).is_open()
                {
                    self.engine.on_venue_rejected(r, RejectCode::VENUE_CAPACITY);
                }
            }
            Op::Fill { ref order, price_step, part_pct } => self.fill(order, price_step, part_pct),
            Op::Cancel(ref i) => {
                if let Some((_, o)) = self.pick(i) {
                    let _ = self.engine.check_cancel(LOGIN, &o.account, o.cl_ord_id, &ctx, now);
                }
            }
            Op::VenueCancel { ref order, part_pct } => {
                if let Some((r, _)) = self.pick(order) {
                    let rec = *self.engine.order(r);
                    if rec.is_open() {
                        let q = (rec.leaves.0 * u64::from(part_pct)).div_ceil(100);
                        self.engine.on_canceled(r, Qty(q));
                    }
                }
            }
            Op::Replace { ref order, off_pct, qty_delta } => {
                if let Some((r, o)) = self.pick(order) {
                    let rec = *self.engine.order(r);
                    let prev = self.engine.instruments().get(o.security).unwrap().prev_close;
                    let qty = (rec.qty.0 as i64 + qty_delta * 100).max(1) as u64;
                    let req = ReplaceOrder {
                        request_id: 0,
                        orig_cl_ord_id: o.cl_ord_id,
                        account: o.account,
                        price: price_at(prev, off_pct),
                        qty: Qty(qty),
                    };
                    let _ = self.engine.check_replace(LOGIN, &req, &ctx, now);
                }
            }
            Op::Resolve { ref order, apply } => self.resolve(order, apply),
            Op::Wait(ms) => self.now_ns += ms * MS,
            Op::DayRoll => {
                self.engine.start_trading_day(self.now_ns);
                self.sent.clear();
                self.model.order_value.clear();
            }
        }
    }

    /// A fill the venue could really send: never above a buy's freeze price,
    /// never below a limit sell's price, inside the daily band.
    fn fill(&mut self, order: &Index, price_step: u8, part_pct: u8) {
        let Some((r, o)) = self.pick(order) else { return };
        let rec = *self.engine.order(r);
        if !rec.is_open() {
            return;
        }
        let band = self.engine.instruments().get(o.security).unwrap().price_band();
        let step = i64::from(price_step % 20) * 100;
        let price = match (rec.side, rec.order_type) {
            (Side::Buy, _) => Price((rec.freeze_price.0 - step).max(band.lower.0)),
            (Side::Sell, OrderType::Limit) => Price((rec.price.0 + step).min(band.upper.0)),
            (Side::Sell, _) => Price((band.lower.0 + step).min(band.upper.0)),
        };
        let qty = (rec.leaves.0 * u64::from(part_pct)).div_ceil(100);
        self.engine.on_fill(r, price, Qty(qty), self.now_ns);
        let value = price.0 * qty as i64;
        let cum = self.model.order_value.entry(r).or_insert(0);
        // An order's fees are the schedule applied to its total value so far (the
        // minimum commission once); nothing is charged before its first fill.
        let charged = if *cum == 0 { 0 } else { order_fees_total(&self.fees, rec.side, *cum) };
        let fee = order_fees_total(&self.fees, rec.side, *cum + value) - charged;
        *cum += value;
        let m = &mut self.model;
        *m.fees.entry(o.account).or_default() += fee;
        let shares = m.shares.entry((o.account, o.security)).or_default();
        match (rec.side, rec.credit) {
            (Side::Buy, _) => {
                *m.cash_out.entry(o.account).or_default() += value;
                shares.1 += qty;
            }
            (Side::Sell, CreditTag::ShortSell) => {
                *m.short_value.entry(o.account).or_default() += value;
                shares.3 += qty;
            }
            (Side::Sell, _) => {
                *m.cash_in.entry(o.account).or_default() += value;
                shares.2 += qty;
            }
        }
    }

    /// The venue answers whatever change is in flight.
    fn resolve(&mut self, order: &Index, apply: bool) {
        let Some((r, _)) = self.pick(order) else { return };
        let rec = *self.engine.order(r);
        match (rec.pending, apply) {
            (PendingChange::Cancel, true) => self.engine.on_canceled(r, rec.leaves),
            (PendingChange::Cancel, false) => self.engine.on_cancel_rejected(r),
            // A venue refuses a replace to no more than has traded.
            (PendingChange::Replace { qty, .. }, true) if qty.0 <= rec.cum.0 => {
                self.engine.on_replace_rejected(r)
            }
            (PendingChange::Replace { price, qty }, true) => {
                let leaves = Qty(qty.0.saturating_sub(rec.cum.0));
                self.engine.on_replaced(r, price, qty, leaves);
            }
            (PendingChange::Replace { .. }, false) => self.engine.on_replace_rejected(r),
            (PendingChange::None, _) => {}
        }
    }

    fn check_conservation(&self) {
        let m = &self.model;
        for id in ACCOUNTS.map(acct) {
            let snap = self.engine.account_snapshot(&id).unwrap();
            let get = |map: &HashMap<AccountId, i64>| map.get(&id).copied().unwrap_or(0);
            let expect = m.initial_cash[&id] + get(&m.cash_in) + get(&m.short_value)
                - get(&m.cash_out)
                - get(&m.fees);
            assert_eq!(snap.cash_total(), expect, "{id}: cash in = cash out + fees");
            assert_eq!(snap.fees_paid, get(&m.fees), "{id}: fees");
            assert_eq!(snap.short_proceeds, get(&m.short_value), "{id}: short proceeds");
            for p in &snap.positions {
                let (initial, bought, sold, shorted) =
                    m.shares.get(&(id, p.security)).copied().unwrap_or_default();
                assert_eq!(p.holding, initial + bought - sold, "{id} {}: shares", p.security);
                assert_eq!(p.short_qty, shorted, "{id} {}: short", p.security);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_sequences_keep_the_books(ops in prop::collection::vec(op(), 1..300)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
            if let Err(e) = world.engine.validate() {
                panic!("after {op:?}: {e}");
            }
            world.check_conservation();
        }
    }
}
