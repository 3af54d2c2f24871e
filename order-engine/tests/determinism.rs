//! The engine is a pure function of its inputs: two engines fed the same
//! sequenced inputs answer byte for byte alike, and what a market sink sees
//! changes nothing on the order path.

use std::sync::{Arc, Mutex};

use gateway::GatewayConfig;
use order_engine::engine::NoProbe;
use order_engine::input::{Input, Output};
use order_engine::{Engine, MarketSink};
use protocol::codec::{AppMessage, NewOrder};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
};
use sim_exchange::{Exchange, MarketEvent};

const SECURITY: SecurityId = SecurityId { market: Market::Sse, code: 600_036 };

fn config(market_data: bool) -> GatewayConfig {
    let mut config = GatewayConfig::demo();
    config.exchange.market_data = market_data;
    // Orders a millisecond apart from one login: no rate or count limits here.
    config.risk.limits.rate_limit_per_s = 0;
    config.risk.limits.duplicate_window_ms = 0;
    config.risk.limits.open_orders_per_security = 0;
    let seller = config.risk.accounts.iter_mut().find(|a| a.id.as_str() == "B001").unwrap();
    seller.positions.push(risk_check::PositionConfig {
        security: SECURITY,
        qty: 1_000_000,
        cost: Price(400_000),
    });
    config
}

fn engine(market_data: bool) -> Engine {
    gateway::pipeline::build_engine(&config(market_data)).unwrap()
}

fn order(cl_ord_id: u64, account: &str, side: Side, qty: u64, price: i64) -> NewOrder {
    NewOrder {
        cl_ord_id,
        account: AccountId::new(account).unwrap(),
        security: SECURITY,
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(price),
        qty: Qty(qty),
        flags: 0,
        credit: CreditTag::Cash,
    }
}

/// A day's worth of inputs: both logins log in, then orders that rest, trade
/// and are rejected.
fn inputs() -> Vec<Input> {
    let mut v =
        vec![Input::LoggedIn { login: 0, version: 3 }, Input::LoggedIn { login: 1, version: 3 }];
    for i in 0..50u64 {
        let price = 420_000 - (i as i64 % 5) * 100;
        v.push(Input::NewOrder {
            login: 0,
            order: order(2 * i + 1, "A001", Side::Buy, 200, price),
        });
        v.push(Input::NewOrder {
            login: 1,
            order: order(2 * i + 2, "B001", Side::Sell, 100, 419_000),
        });
    }
    // Far outside the price limits: rejected.
    v.push(Input::NewOrder { login: 0, order: order(1_000, "A001", Side::Buy, 100, 9_000_000) });
    v
}

/// Runs `inputs` from a fixed start time, one millisecond apart.
fn run(engine: &mut Engine, inputs: &[Input]) -> Vec<Output> {
    let mut outputs = Vec::new();
    let start_ns = engine_start_ns();
    for (k, input) in inputs.iter().enumerate() {
        let now = start_ns + k as u64 * 1_000_000;
        engine.handle(k as u64 + 1, now, now, input, &mut |o| outputs.push(o), &mut NoProbe);
    }
    outputs
}

/// 2024-10-08 10:00 Beijing time (continuous trading), as Unix ns.
fn engine_start_ns() -> u64 {
    1_728_352_800_000_000_000
}

#[derive(Debug, Default)]
struct Seen {
    events: Vec<MarketEvent>,
    operations: u64,
}

#[derive(Debug)]
struct Recorder(Arc<Mutex<Seen>>);

impl MarketSink for Recorder {
    fn offer(&mut self, event: MarketEvent) {
        self.0.lock().unwrap().events.push(event);
    }

    fn operation_done(&mut self, _venue: &Exchange, _now_ns: u64) {
        self.0.lock().unwrap().operations += 1;
    }
}

#[test]
fn the_same_inputs_give_the_same_outputs() {
    let inputs = inputs();
    let a = run(&mut engine(false), &inputs);
    let b = run(&mut engine(false), &inputs);
    assert_eq!(a, b);
    let trades = a.iter().filter(|o| matches!(o.msg, AppMessage::Executed(_))).count();
    let rejects = a.iter().filter(|o| matches!(o.msg, AppMessage::OrderRejected(_))).count();
    assert_eq!(trades, 100, "every sell fills against a resting buy, both sides told");
    assert_eq!(rejects, 1, "the order outside the limits: {a:#?}");
    // Each stream is numbered 1, 2, 3, ... without a gap.
    for login in 0..2 {
        let seqs: Vec<u64> = a.iter().filter(|o| o.login == login).map(|o| o.seq).collect();
        assert!(!seqs.is_empty());
        assert!(
            seqs.iter().enumerate().all(|(i, s)| *s == i as u64 + 1),
            "login {login}: {seqs:?}"
        );
    }
}

#[test]
fn a_market_sink_sees_the_venue_and_changes_nothing() {
    let inputs = inputs();
    let plain = run(&mut engine(true), &inputs);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut tapped = engine(true);
    tapped.attach_market_sink(Box::new(Recorder(Arc::clone(&seen))));
    let with_sink = run(&mut tapped, &inputs);
    assert_eq!(plain, with_sink, "the order path answers alike with a sink attached");
    let seen = seen.lock().unwrap();
    let trades = seen
        .events
        .iter()
        .filter(|e| matches!(e.kind, sim_exchange::MarketEventKind::Trade { .. }))
        .count();
    assert_eq!(trades, 50, "one trade event per trade");
    assert_eq!(
        seen.operations, 100,
        "told once after each order the venue took (the rejected one never reached it)"
    );
    // Channel sequences run without a gap.
    let seqs: Vec<u64> = seen.events.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");
}
