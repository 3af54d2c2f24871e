//! Shared fixtures: a small market, one well-funded account, and a harness that
//! sends orders on virtual time and checks the engine's invariants after each step.
#![allow(dead_code)]

use protocol::codec::{NewOrder, ReplaceOrder, order_flags};
use protocol::{
    AccountId, Board, CreditTag, OrderType, Price, Qty, RejectCode, SecurityId, Side, TimeInForce,
    TradingPhase,
};
use risk_check::{
    AccountConfig, BoardPermissions, ClientClass, Instrument, LendableConfig, LoginIdx,
    MarketContext, NewOrderVerdict, OrderRef, PositionConfig, Reject, RiskConfig, RiskEngine,
    RiskLevel, parse_security,
};

pub const LOGIN: LoginIdx = 7;
pub const MS: u64 = 1_000_000;
/// 2024-10-08 09:30:00 +08:00.
pub const T0: u64 = 1_728_351_000_000_000_000;

pub fn cny(text: &str) -> Price {
    Price::parse_cny(text).unwrap()
}

/// `prev_close` moved by `off_pct` percent, on the cent (what the random order
/// sequences price their orders at).
pub fn price_at(prev_close: Price, off_pct: i64) -> Price {
    Price((prev_close.0 * (100 + off_pct) / 100) / 100 * 100)
}

pub fn sec(text: &str) -> SecurityId {
    parse_security(text).unwrap()
}

pub fn acct(text: &str) -> AccountId {
    AccountId::new(text).unwrap()
}

/// The main account of the fixtures.
pub fn main_account() -> AccountId {
    acct("A001")
}

pub fn instrument(code: &str, board: Board, prev_close: &str, level: RiskLevel) -> Instrument {
    let mut x = Instrument::new(sec(code), code, board, cny(prev_close));
    x.risk_level = level;
    x
}

/// Instruments: a cheap main-board stock (lending eligible), Moutai, a STAR, a
/// ChiNext, a BSE, a Shenzhen R2, an ST, an IPO-day STAR without limits, a
/// suspended and a restricted stock.
pub fn market() -> Vec<Instrument> {
    let mut cheap = instrument("600000.SH", Board::SseMain, "10.00", RiskLevel::R3);
    cheap.lending_eligible = true;
    let mut st = instrument("600001.SH", Board::SseMain, "3.33", RiskLevel::R4);
    st.st = true;
    let mut ipo = instrument("688001.SH", Board::Star, "30.00", RiskLevel::R4);
    ipo.no_price_limit = true;
    let mut suspended = instrument("600002.SH", Board::SseMain, "10.00", RiskLevel::R3);
    suspended.suspended = true;
    let mut restricted = instrument("600003.SH", Board::SseMain, "10.00", RiskLevel::R3);
    restricted.restricted = true;
    vec![
        cheap,
        instrument("600519.SH", Board::SseMain, "1500.00", RiskLevel::R3),
        instrument("688981.SH", Board::Star, "50.00", RiskLevel::R4),
        instrument("300750.SZ", Board::ChiNext, "200.00", RiskLevel::R4),
        instrument("830799.BJ", Board::Bse, "20.00", RiskLevel::R4),
        instrument("000001.SZ", Board::SzseMain, "10.00", RiskLevel::R2),
        instrument("600004.SH", Board::SseMain, "1.00", RiskLevel::R1),
        st,
        ipo,
        suspended,
        restricted,
    ]
}

/// A001: C5 credit account, every board, CNY 1,000,000, 10,050 shares of
/// 600000.SH at 9.00 (so a 50-share odd lot), a 5,000-share lending line on it.
/// B002: a C3 cash account with CNY 100,000 and nothing else.
pub fn accounts() -> Vec<AccountConfig> {
    let mut a = AccountConfig::new(main_account(), cny("1000000").0);
    a.class = ClientClass::C5;
    a.boards = BoardPermissions::ALL;
    a.credit = true;
    a.positions =
        vec![PositionConfig { security: sec("600000.SH"), qty: 10_050, cost: cny("9.00") }];
    a.lendable = vec![LendableConfig { security: sec("600000.SH"), qty: 5_000 }];
    let b = AccountConfig::new(acct("B002"), cny("100000").0);
    vec![a, b]
}

pub fn config() -> RiskConfig {
    RiskConfig {
        accounts: accounts(),
        instruments: market(),
        origin: "test".into(),
        ..RiskConfig::default()
    }
}

/// An engine, virtual time, and order builders.
pub struct Harness {
    pub engine: RiskEngine,
    pub now_ns: u64,
    pub next_cl_ord_id: u64,
    pub ctx: MarketContext,
    /// Step between messages: more than the 100 ms duplicate window, and five a
    /// second stays far below every throttle.
    pub step_ns: u64,
}

impl Harness {
    pub fn new(cfg: RiskConfig) -> Harness {
        let accounts: Vec<AccountId> = cfg.accounts.iter().map(|a| a.id).collect();
        let mut engine = RiskEngine::new(cfg).expect("valid test config");
        for a in accounts {
            engine.bind_login(LOGIN, a).unwrap();
        }
        engine.start_trading_day(T0 - 3_600_000 * MS);
        Harness {
            engine,
            now_ns: T0,
            next_cl_ord_id: 1,
            ctx: MarketContext {
                phase: TradingPhase::Continuous,
                cage_reference: None,
                last_price: Price::ZERO,
            },
            step_ns: 200 * MS,
        }
    }

    pub fn default_market() -> Harness {
        Harness::new(config())
    }

    /// A limit day cash order for A001 with a fresh cl_ord_id.
    pub fn limit(&mut self, side: Side, security: &str, price: &str, qty: u64) -> NewOrder {
        let cl_ord_id = self.next_cl_ord_id;
        self.next_cl_ord_id += 1;
        NewOrder {
            cl_ord_id,
            account: main_account(),
            security: sec(security),
            side,
            order_type: OrderType::Limit,
            tif: TimeInForce::Day,
            price: cny(price),
            qty: Qty(qty),
            flags: 0,
            credit: CreditTag::Cash,
        }
    }

    /// A market (best five then cancel) order for A001.
    pub fn market(&mut self, side: Side, security: &str, qty: u64) -> NewOrder {
        let mut o = self.limit(side, security, "1", qty);
        o.order_type = OrderType::MarketBest5Cancel;
        o.tif = TimeInForce::Ioc;
        o.price = Price::ZERO;
        o
    }

    pub fn send(&mut self, o: &NewOrder) -> NewOrderVerdict {
        self.now_ns += self.step_ns;
        let ctx = self.ctx;
        let verdict = self.engine.check_new_order(LOGIN, o, &ctx, self.now_ns);
        self.validate();
        verdict
    }

    /// Sends and expects a pass; returns the order.
    #[track_caller]
    pub fn pass(&mut self, o: &NewOrder) -> OrderRef {
        match self.send(o) {
            NewOrderVerdict::Pass { order, .. } => order,
            other => panic!("expected a pass for {o:?}, got {other:?}"),
        }
    }

    /// Sends and expects a reject with `code`; returns it.
    #[track_caller]
    pub fn reject(&mut self, o: &NewOrder, code: RejectCode) -> Reject {
        match self.send(o) {
            NewOrderVerdict::Reject { reject, .. } if reject.code == code => reject,
            other => panic!("expected {code:?} for {o:?}, got {other:?}"),
        }
    }

    pub fn cancel(&mut self, o: OrderRef) -> Result<OrderRef, Reject> {
        self.now_ns += self.step_ns;
        let rec = *self.engine.order(o);
        let ctx = self.ctx;
        let result =
            self.engine.check_cancel(LOGIN, &rec.account, rec.cl_ord_id, &ctx, self.now_ns);
        self.validate();
        result
    }

    pub fn replace(&mut self, o: OrderRef, price: &str, qty: u64) -> Result<OrderRef, Reject> {
        self.now_ns += self.step_ns;
        let rec = *self.engine.order(o);
        let req = ReplaceOrder {
            request_id: 1,
            orig_cl_ord_id: rec.cl_ord_id,
            account: rec.account,
            price: cny(price),
            qty: Qty(qty),
        };
        let ctx = self.ctx;
        let result = self.engine.check_replace(LOGIN, &req, &ctx, self.now_ns);
        self.validate();
        result
    }

    pub fn fill(&mut self, o: OrderRef, price: &str, qty: u64) {
        self.engine.on_fill(o, cny(price), Qty(qty), self.now_ns);
        self.validate();
    }

    #[track_caller]
    pub fn validate(&self) {
        if let Err(e) = self.engine.validate() {
            panic!("invariant broken: {e}");
        }
    }

    pub fn snapshot(&self) -> risk_check::AccountSnapshot {
        self.engine.account_snapshot(&main_account()).unwrap()
    }
}

/// Sets the confirmation flag.
pub fn confirmed(mut o: NewOrder) -> NewOrder {
    o.flags |= order_flags::SUITABILITY_CONFIRMED;
    o
}
