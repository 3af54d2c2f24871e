//! Pre-trade risk: the full check of one order, beside the same checks written the
//! obvious way.
//!
//! ```text
//!   pass/check+undo   check_new_order (checks 1-21, freeze, record, link)
//!                     + on_venue_rejected (unlink, release): state stays bounded
//!   pass/check        check_new_order alone; the day roll that empties the order
//!                     table runs untimed between batches
//!   reject/funds      check_new_order → INSUFFICIENT_FUNDS (check 12; recorded)
//!   reject/limit      check_new_order → PRICE_LIMIT (check 8; recorded)
//!   baseline/*        the same scenarios through a naive engine: String-keyed std
//!                     HashMaps (SipHash), a String built per lookup, Vec-based
//!                     open-order lists and a VecDeque of timestamps per account
//! ```
//!
//! The market: 2,000 instruments, 1,000 accounts, all bound to one login; orders
//! rotate over 16 accounts and 4 securities, 100 µs of virtual time apart (each
//! account sees ~625 messages a second: over the 300/s flag, under the 1,000/s
//! limit), with quantities cycling so no two identical orders of one account fall
//! within the 100 ms duplicate window. Each account numbers its orders 1, 2, 3, ...
//! (`pass_check_undo_scattered_ids` hashes them instead: the idempotency index's
//! worst case). The order table is the default 262,144 orders and takes two
//! batches of 100,000 before an untimed day roll empties it: a day's table is far
//! larger than the cache, as in production. Default limits otherwise.
//!
//! Checks before timing: each scenario's first order gets the verdict it is meant
//! to (pass, or the named reject) from both engines, so nothing is measured empty.
//! After the criterion run a table prints each figure (median ns per order) beside
//! its baseline.
//!
//! Run: `cargo bench -p benches --bench risk`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use criterion::Criterion;
use protocol::codec::NewOrder;
use protocol::rules::{BoardRules, FeeSchedule, daily_price_band, notional};
use protocol::{
    AccountId, Board, CreditTag, Market, OrderType, Price, Qty, RejectCode, SecurityId, Side,
    TimeInForce, TradingPhase,
};
use risk_check::{
    AccountConfig, BoardPermissions, ClientClass, Instrument, MarketContext, NewOrderVerdict,
    RiskConfig, RiskEngine, RiskLevel,
};

const LOGIN: u32 = 1;
const ACCOUNTS: usize = 1_000;
const ACTIVE_ACCOUNTS: usize = 16;
const INSTRUMENTS: u32 = 2_000;
const TRADED: [u32; 4] = [600_000, 600_001, 600_002, 600_003];
const STEP_NS: u64 = 100_000;
const T0: u64 = 1_728_351_000_000_000_000;
/// Orders per timed batch; the order table holds more than this.
const BATCH: u64 = 100_000;
const TABLE: u32 = 262_144;

/// Account ids, built once: formatting one per order would be timed with it.
static ACCOUNT_IDS: LazyLock<Vec<AccountId>> = LazyLock::new(|| {
    (0..ACCOUNTS)
        .map(|i| AccountId::new(&format!("ACC{i:04}")).expect("valid account id"))
        .collect()
});

fn account_id(i: usize) -> AccountId {
    ACCOUNT_IDS[i]
}

fn security(code: u32) -> SecurityId {
    SecurityId::new(Market::Sse, code).expect("valid security")
}

fn ctx() -> MarketContext {
    MarketContext {
        phase: TradingPhase::Continuous,
        cage_reference: Some(Price::from_yuan_fen(10, 0)),
        last_price: Price::from_yuan_fen(10, 0),
    }
}

/// The engine's market: every account rich (or poor), every instrument at 10.00.
fn config(cash_cny: i64, open_order_limit: u32) -> RiskConfig {
    let instruments = (0..INSTRUMENTS)
        .map(|i| {
            let mut x = Instrument::new(
                security(600_000 + i),
                "bench",
                Board::SseMain,
                Price::from_yuan_fen(10, 0),
            );
            x.risk_level = RiskLevel::R3;
            x
        })
        .collect();
    let accounts = (0..ACCOUNTS)
        .map(|i| {
            let mut a = AccountConfig::new(account_id(i), cash_cny * Price::SCALE);
            a.class = ClientClass::C4;
            a.boards = BoardPermissions::ALL;
            a
        })
        .collect();
    let mut cfg = RiskConfig { accounts, instruments, ..RiskConfig::default() };
    cfg.capacity.max_orders_per_day = TABLE;
    cfg.limits.open_orders_per_security = open_order_limit;
    cfg
}

fn engine(cash_cny: i64, open_order_limit: u32) -> RiskEngine {
    let mut e = RiskEngine::new(config(cash_cny, open_order_limit)).expect("valid bench config");
    for i in 0..ACCOUNTS {
        e.bind_login(LOGIN, account_id(i)).expect("room for bindings");
    }
    e
}

/// How a stream numbers its orders.
#[derive(Clone, Copy, Debug)]
enum Ids {
    /// Each account counts 1, 2, 3, ... (a client session per account: the usual case).
    PerAccount,
    /// Every id a hash: the worst case for the idempotency index's locality.
    Scattered,
}

/// The i-th order of a stream: rotating accounts and securities, cycling quantity.
fn order(i: u64, price: Price, ids: Ids) -> NewOrder {
    let account = account_id((i % ACTIVE_ACCOUNTS as u64) as usize);
    let round = i / ACTIVE_ACCOUNTS as u64;
    let cl_ord_id = match ids {
        Ids::PerAccount => round + 1,
        Ids::Scattered => (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 1,
    };
    NewOrder {
        cl_ord_id,
        account,
        security: security(TRADED[(round % 4) as usize]),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price,
        qty: Qty(100 * (1 + (round / 4) % 128)),
        flags: 0,
        credit: CreditTag::Cash,
    }
}

/// A stream of orders through one engine, the order table emptied between batches.
struct Stream {
    engine: RiskEngine,
    next: u64,
    now_ns: u64,
    price: Price,
    ids: Ids,
}

impl Stream {
    fn new(engine: RiskEngine, price: Price) -> Stream {
        Stream { engine, next: 0, now_ns: T0, price, ids: Ids::PerAccount }
    }

    /// Starts a new day (untimed) when the next batch would not fit.
    fn make_room(&mut self, n: u64) {
        if self.engine.orders_today() as u64 + n > u64::from(TABLE) {
            self.engine.start_trading_day(self.now_ns);
            self.next = 0;
        }
    }

    #[inline]
    fn check(&mut self) -> NewOrderVerdict {
        let o = order(self.next, self.price, self.ids);
        self.next += 1;
        self.now_ns += STEP_NS;
        self.engine.check_new_order(LOGIN, black_box(&o), &ctx(), self.now_ns)
    }

    /// Times `iters` orders through `each`, in batches with room made between them.
    fn time(&mut self, iters: u64, mut each: impl FnMut(&mut Stream)) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(BATCH);
            self.make_room(n);
            let start = Instant::now();
            for _ in 0..n {
                each(self);
            }
            total += start.elapsed();
            left -= n;
        }
        total
    }
}

fn pass_and_undo(s: &mut Stream) {
    match s.check() {
        NewOrderVerdict::Pass { order, .. } => s.engine.on_venue_rejected(order, RejectCode(5016)),
        other => panic!("expected a pass, got {other:?}"),
    }
}

fn expect_reject(s: &mut Stream) {
    if let v @ NewOrderVerdict::Pass { .. } = s.check() {
        panic!("expected a reject, got {v:?}");
    }
}

// ---------------------------------------------------------------------------
// The baseline: the same checks written the obvious way
// ---------------------------------------------------------------------------

struct NaiveInstrument {
    board: String,
    prev_close: i64,
    risk_level: u8,
    suspended: bool,
    restricted: bool,
    rules: BoardRules,
}

struct NaivePosition {
    sellable: u64,
    frozen: u64,
    open: Vec<(u64, Side, i64)>,
    cancels: u32,
}

struct NaiveAccount {
    cash: i64,
    frozen: i64,
    class: u8,
    boards: Vec<String>,
    state: String,
    positions: HashMap<String, NaivePosition>,
    messages: VecDeque<u64>,
    messages_today: u32,
    recent: VecDeque<(String, Side, i64, u64, u64)>,
}

struct NaiveOrder {
    account: String,
    security: String,
    side: Side,
    price: i64,
    qty: u64,
    frozen: i64,
    rejected: Option<u16>,
}

/// One engine, every key a `String`, every map std's SipHash `HashMap`.
struct Naive {
    accounts: HashMap<String, NaiveAccount>,
    bindings: HashSet<(u32, String)>,
    instruments: HashMap<String, NaiveInstrument>,
    orders: HashMap<(String, u64), NaiveOrder>,
    fees: FeeSchedule,
}

impl Naive {
    fn new(cash_cny: i64) -> Naive {
        let mut accounts = HashMap::new();
        let mut bindings = HashSet::new();
        for i in 0..ACCOUNTS {
            let id = account_id(i).as_str().to_string();
            bindings.insert((LOGIN, id.clone()));
            accounts.insert(
                id,
                NaiveAccount {
                    cash: cash_cny * Price::SCALE,
                    frozen: 0,
                    class: 4,
                    boards: vec!["star".into(), "chinext".into(), "bse".into()],
                    state: "active".into(),
                    positions: HashMap::new(),
                    messages: VecDeque::new(),
                    messages_today: 0,
                    recent: VecDeque::new(),
                },
            );
        }
        let instruments = (0..INSTRUMENTS)
            .map(|i| {
                let x = NaiveInstrument {
                    board: "sse-main".into(),
                    prev_close: 100_000,
                    risk_level: 3,
                    suspended: false,
                    restricted: false,
                    rules: BoardRules::default_for(Board::SseMain),
                };
                (security(600_000 + i).to_string(), x)
            })
            .collect();
        Naive {
            accounts,
            bindings,
            instruments,
            orders: HashMap::new(),
            fees: FeeSchedule::DEFAULT,
        }
    }

    fn check(&mut self, login: u32, o: &NewOrder, now_ns: u64) -> Result<(String, u64), u16> {
        let account = o.account.as_str().to_string();
        let key = (account.clone(), o.cl_ord_id);
        if let Some(prev) = self.orders.get(&key) {
            return match prev.rejected {
                Some(code) => Err(code),
                None => Ok(key),
            };
        }
        let verdict = self.evaluate(login, &account, o, now_ns);
        let security = o.security.to_string();
        let (frozen, rejected) = match verdict {
            Ok(frozen) => (frozen, None),
            Err(code) => (0, Some(code)),
        };
        if rejected.is_none() {
            let a = self.accounts.get_mut(&account).expect("checked");
            let p = a.positions.entry(security.clone()).or_insert(NaivePosition {
                sellable: 0,
                frozen: 0,
                open: Vec::new(),
                cancels: 0,
            });
            p.open.push((o.cl_ord_id, o.side, o.price.0));
            a.recent.push_back((security.clone(), o.side, o.price.0, o.qty.0, now_ns));
        }
        self.orders.insert(
            key.clone(),
            NaiveOrder {
                account,
                security,
                side: o.side,
                price: o.price.0,
                qty: o.qty.0,
                frozen,
                rejected,
            },
        );
        match rejected {
            Some(code) => Err(code),
            None => Ok(key),
        }
    }

    fn evaluate(
        &mut self,
        login: u32,
        account: &str,
        o: &NewOrder,
        now_ns: u64,
    ) -> Result<i64, u16> {
        if !self.bindings.contains(&(login, account.to_string())) {
            return Err(3001);
        }
        let a = self.accounts.get_mut(account).ok_or(3002u16)?;
        if a.state == "blocked" {
            return Err(3003);
        }
        let security = o.security.to_string();
        a.recent.retain(|r| now_ns - r.4 < 100_000_000);
        if a.recent
            .iter()
            .any(|r| r.0 == security && r.1 == o.side && r.2 == o.price.0 && r.3 == o.qty.0)
        {
            return Err(3007);
        }
        let x = self.instruments.get(&security).ok_or(3008u16)?;
        if x.suspended {
            return Err(3010);
        }
        if o.price.0 % x.rules.tick.0 != 0 {
            return Err(3013);
        }
        if o.side == Side::Buy && !x.rules.lot.buy_ok(o.qty.0) {
            return Err(3014);
        }
        if o.qty.0 > x.rules.max_qty(o.order_type) {
            return Err(3016);
        }
        let band = daily_price_band(Price(x.prev_close), x.rules.limit_bp, x.rules.tick);
        if !band.contains(o.price) {
            return Err(3017);
        }
        let value = notional(o.price, o.qty.0).ok_or(3020u16)?;
        if value > 5_000_000 * Price::SCALE {
            return Err(3020);
        }
        let need = value + self.fees.fees(o.side, value);
        if o.side == Side::Buy && need > a.cash {
            return Err(3021);
        }
        if x.restricted {
            return Err(3025);
        }
        let board_ok = x.board == "sse-main" || a.boards.contains(&x.board);
        if !board_ok {
            return Err(4003);
        }
        if x.risk_level > a.class {
            return Err(4002);
        }
        a.messages.push_back(now_ns);
        while a.messages.front().is_some_and(|t| now_ns - t >= 1_000_000_000) {
            a.messages.pop_front();
        }
        a.messages_today += 1;
        if a.messages.len() > 1_000 || a.messages_today > 200_000 {
            return Err(3026);
        }
        if let Some(p) = a.positions.get(&security) {
            if p.open.len() >= 50 {
                return Err(3029);
            }
            let _ = (p.sellable, p.frozen, p.cancels);
        }
        a.cash -= need;
        a.frozen += need;
        Ok(need)
    }

    fn venue_rejected(&mut self, key: &(String, u64)) {
        let o = self.orders.get_mut(key).expect("recorded");
        let a = self.accounts.get_mut(&o.account).expect("known");
        a.cash += o.frozen;
        a.frozen -= o.frozen;
        o.frozen = 0;
        let p = a.positions.get_mut(&o.security).expect("linked");
        p.open.retain(|(id, side, price)| !(*id == key.1 && *side == o.side && *price == o.price));
        let _ = o.qty;
    }

    fn new_day(&mut self) {
        self.orders.clear();
        for a in self.accounts.values_mut() {
            a.messages_today = 0;
            a.messages.clear();
            a.recent.clear();
            for p in a.positions.values_mut() {
                p.open.clear();
            }
        }
    }
}

struct NaiveStream {
    engine: Naive,
    next: u64,
    now_ns: u64,
    price: Price,
}

impl NaiveStream {
    fn new(cash_cny: i64, price: Price) -> NaiveStream {
        NaiveStream { engine: Naive::new(cash_cny), next: 0, now_ns: T0, price }
    }

    fn check(&mut self) -> Result<(String, u64), u16> {
        let o = order(self.next, self.price, Ids::PerAccount);
        self.next += 1;
        self.now_ns += STEP_NS;
        self.engine.check(LOGIN, black_box(&o), self.now_ns)
    }

    fn time(&mut self, iters: u64, mut each: impl FnMut(&mut NaiveStream)) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(BATCH);
            if self.engine.orders.len() as u64 + n > u64::from(TABLE) {
                self.engine.new_day();
                self.next = 0;
            }
            let start = Instant::now();
            for _ in 0..n {
                each(self);
            }
            total += start.elapsed();
            left -= n;
        }
        total
    }
}

fn naive_pass_and_undo(s: &mut NaiveStream) {
    let key = s.check().expect("the baseline passes it too");
    s.engine.venue_rejected(&key);
}

fn naive_expect_reject(s: &mut NaiveStream) {
    assert!(s.check().is_err(), "the baseline rejects it too");
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

const RICH: i64 = 100_000_000_000;
const POOR: i64 = 1;

fn ten() -> Price {
    Price::from_yuan_fen(10, 0)
}

fn over_limit() -> Price {
    Price::from_yuan_fen(11, 1)
}

/// Each scenario's first order gets its intended verdict from both engines.
fn check_scenarios() {
    let mut s = Stream::new(engine(RICH, 50), ten());
    assert!(matches!(s.check(), NewOrderVerdict::Pass { .. }), "pass scenario");
    let mut s = Stream::new(engine(POOR, 50), ten());
    match s.check() {
        NewOrderVerdict::Reject { reject, .. } => {
            assert_eq!(reject.code, RejectCode::INSUFFICIENT_FUNDS)
        }
        v => panic!("funds scenario: {v:?}"),
    }
    let mut s = Stream::new(engine(RICH, 50), over_limit());
    match s.check() {
        NewOrderVerdict::Reject { reject, .. } => assert_eq!(reject.code, RejectCode::PRICE_LIMIT),
        v => panic!("limit scenario: {v:?}"),
    }
    assert!(NaiveStream::new(RICH, ten()).check().is_ok());
    assert_eq!(NaiveStream::new(POOR, ten()).check().unwrap_err(), 3021);
    assert_eq!(NaiveStream::new(RICH, over_limit()).check().unwrap_err(), 3017);
}

fn bench_engine(c: &mut Criterion) {
    let mut g = c.benchmark_group("risk");
    let mut s = Stream::new(engine(RICH, 50), ten());
    g.bench_function("pass_check_undo", |b| b.iter_custom(|n| s.time(n, pass_and_undo)));
    let mut s = Stream::new(engine(RICH, 50), ten());
    s.ids = Ids::Scattered;
    g.bench_function("pass_check_undo_scattered_ids", |b| {
        b.iter_custom(|n| s.time(n, pass_and_undo))
    });
    // Without the undo the open orders pile up, so the open-order limit is off here.
    let mut s = Stream::new(engine(RICH, 0), ten());
    g.bench_function("pass_check", |b| {
        b.iter_custom(|n| {
            s.time(n, |s| {
                let v = s.check();
                assert!(matches!(v, NewOrderVerdict::Pass { .. }), "expected a pass, got {v:?}");
            })
        })
    });
    let mut s = Stream::new(engine(POOR, 50), ten());
    g.bench_function("reject_funds", |b| b.iter_custom(|n| s.time(n, expect_reject)));
    let mut s = Stream::new(engine(RICH, 50), over_limit());
    g.bench_function("reject_limit", |b| b.iter_custom(|n| s.time(n, expect_reject)));
    g.finish();
}

fn bench_baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("baseline");
    let mut s = NaiveStream::new(RICH, ten());
    g.bench_function("pass_check_undo", |b| b.iter_custom(|n| s.time(n, naive_pass_and_undo)));
    let mut s = NaiveStream::new(POOR, ten());
    g.bench_function("reject_funds", |b| b.iter_custom(|n| s.time(n, naive_expect_reject)));
    let mut s = NaiveStream::new(RICH, over_limit());
    g.bench_function("reject_limit", |b| b.iter_custom(|n| s.time(n, naive_expect_reject)));
    g.finish();
}

/// Where criterion writes its estimates (its own rule: `CRITERION_HOME`, else
/// `CARGO_TARGET_DIR/criterion`, else the workspace's `target/criterion`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/criterion")
}

fn median_ns(group: &str, bench: &str) -> Option<f64> {
    let path = criterion_dir().join(group).join(bench).join("new/estimates.json");
    let json = std::fs::read_to_string(path).ok()?;
    let median = &json[json.find("\"median\"")?..];
    let value = &median[median.find("\"point_estimate\":")? + "\"point_estimate\":".len()..];
    let end = value.find([',', '}'])?;
    value[..end].trim().parse().ok()
}

fn print_summary() {
    println!("\nrisk summary (median ns per order; baseline = String keys + SipHash)");
    println!("{:<30} {:>9} {:>12} {:>9}", "scenario", "ns/order", "baseline ns", "speed-up");
    for bench in [
        "pass_check_undo",
        "pass_check_undo_scattered_ids",
        "pass_check",
        "reject_funds",
        "reject_limit",
    ] {
        let Some(ns) = median_ns("risk", bench) else { continue };
        match median_ns("baseline", bench) {
            Some(base) => println!("{bench:<30} {ns:>9.1} {base:>12.1} {:>8.1}×", base / ns),
            None => println!("{bench:<30} {ns:>9.1} {:>12} {:>9}", "-", "-"),
        }
    }
}

fn main() {
    check_scenarios();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench_engine(&mut c);
    bench_baseline(&mut c);
    c.final_summary();
    print_summary();
}
