//! Runs the engine alone on a simple two-account flow, for profilers:
//! `cargo build --release -p gateway --example engine_profile && perf record ... target/release/examples/engine_profile`.

use gateway::GatewayConfig;
use gateway::clock::Clock;
use gateway::input::{Arrival, Input, Stamps};
use gateway::pipeline::{Sequencer, build_engine};
use protocol::codec::{CancelOrder, NewOrder};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
};

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let mut c = GatewayConfig::demo();
    let limits = &mut c.risk.limits;
    limits.rate_limit_per_s = 0;
    limits.daily_message_limit = 0;
    limits.duplicate_window_ms = 0;
    limits.open_orders_per_security = 0;
    limits.cancels_per_security_per_day = 0;
    c.risk.capacity.max_orders_per_day = n as u32 + 16;
    let security = SecurityId::new(Market::Sse, 600_036).unwrap();
    for id in ["A001", "B001"] {
        let a = c.risk.accounts.iter_mut().find(|a| a.id.as_str() == id).unwrap();
        a.cash = 1_000_000_000_000 * Price::SCALE;
        a.positions.push(risk_check::PositionConfig {
            security,
            qty: 1_000_000_000,
            cost: Price(400_000),
        });
    }
    let mut seq = Sequencer::new(build_engine(&c).unwrap(), Clock::new());
    let order = |cl_ord_id, account: &str, side, price| NewOrder {
        cl_ord_id,
        account: AccountId::new(account).unwrap(),
        security,
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(price),
        qty: Qty(100),
        flags: 0,
        credit: CreditTag::Cash,
    };
    let start = std::time::Instant::now();
    let mut outputs = 0u64;
    for i in 0..n {
        let input = match i % 4 {
            0 => Input::NewOrder { login: 0, order: order(i, "A001", Side::Buy, 421_000) },
            1 => Input::NewOrder { login: 1, order: order(i, "B001", Side::Sell, 421_000) },
            2 => Input::NewOrder { login: 0, order: order(i, "A001", Side::Buy, 420_000) },
            _ => Input::Cancel {
                login: 0,
                cancel: CancelOrder {
                    request_id: i,
                    orig_cl_ord_id: i - 1,
                    account: AccountId::new("A001").unwrap(),
                },
            },
        };
        let arrival = Arrival { input, stamps: Stamps { read_ns: 0, decoded_ns: 0 } };
        seq.process(&arrival, &mut |_| outputs += 1);
    }
    let elapsed = start.elapsed();
    println!(
        "{n} inputs, {outputs} outputs in {elapsed:?}: {:.0} inputs/s",
        n as f64 / elapsed.as_secs_f64()
    );
}
