//! Benchmarks live in `benches/benches/`; this library holds what several of them
//! share.

pub mod run {
    //! What every custom-harness bench does before it measures anything.

    use std::path::PathBuf;

    /// True under `cargo bench` (which passes `--bench`); otherwise (`cargo test
    /// --benches`, the test suite) prints that `name` was skipped and returns false.
    pub fn under_cargo_bench(name: &str) -> bool {
        let benching = std::env::args().any(|a| a == "--bench");
        if !benching {
            println!("{name} bench: skipped outside `cargo bench`");
        }
        benching
    }

    /// The number in environment variable `var`, or `default` when it is unset.
    /// A value that is not a number stops the bench with a message naming it,
    /// rather than quietly measuring the default.
    pub fn env_u64(var: &str, default: u64) -> u64 {
        match std::env::var(var) {
            Err(_) => default,
            Ok(v) => v.trim().parse().unwrap_or_else(|_| {
                eprintln!("{var}={v:?} is not a whole number");
                std::process::exit(2)
            }),
        }
    }

    /// An empty scratch directory for this process under the temp directory
    /// (`bw-<name>-bench-<pid>`); the caller removes it when done.
    pub fn scratch_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bw-{name}-bench-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}

pub mod flow {
    //! The order flow the gateway benchmarks (pipeline, metrics, recovery) replay:
    //! two accounts trade one security back and forth. Input `i` is, by `i % 4`:
    //! a buy that rests (A001, login 0), a sell that crosses it (B001, login 1), a
    //! buy that rests, and the cancel of that buy; every order and cancel is
    //! answered, and every crossing sell trades.

    use gateway::GatewayConfig;
    use gateway::input::{Input, Output};
    use protocol::codec::{AppMessage, CancelOrder, NewOrder};
    use protocol::{
        AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
    };

    /// The security traded (600036.SH).
    pub const SECURITY_CODE: u32 = 600_036;

    /// The demo configuration with throttles and per-security caps off, an order
    /// table for `max_orders` orders, and the two accounts funded for a long day.
    pub fn config(max_orders: u64) -> GatewayConfig {
        let mut c = GatewayConfig::demo();
        let limits = &mut c.risk.limits;
        limits.rate_limit_per_s = 0;
        limits.daily_message_limit = 0;
        limits.duplicate_window_ms = 0;
        limits.open_orders_per_security = 0;
        limits.cancels_per_security_per_day = 0;
        limits.hft_rate_flag_per_s = 0;
        limits.hft_daily_flag = 0;
        c.risk.capacity.max_orders_per_day = (max_orders + 16) as u32;
        let security = SecurityId::new(Market::Sse, SECURITY_CODE).unwrap();
        for id in ["A001", "B001"] {
            let a = c.risk.accounts.iter_mut().find(|a| a.id.as_str() == id).unwrap();
            a.cash = 1_000_000_000_000 * Price::SCALE;
            a.positions.push(risk_check::PositionConfig {
                security,
                qty: 1_000_000_000,
                cost: Price(400_000),
            });
        }
        c
    }

    /// The i-th input of the flow (its `cl_ord_id` or `request_id` is `i`).
    pub fn input(i: u64) -> Input {
        let security = SecurityId::new(Market::Sse, SECURITY_CODE).unwrap();
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
        match i % 4 {
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
        }
    }

    /// True for the inputs that are orders (the rest are cancels).
    pub fn is_order(i: u64) -> bool {
        i % 4 != 3
    }

    /// The id an output answers (an order's acceptance or rejection, a cancel's
    /// outcome), or `None` for the rest (executions, passive cancels).
    pub fn answered_id(o: &Output) -> Option<u64> {
        match o.msg {
            AppMessage::OrderAccepted(a) if a.flags == 0 => Some(a.cl_ord_id),
            AppMessage::OrderRejected(r) => Some(r.cl_ord_id),
            AppMessage::Canceled(c) if c.request_id != 0 => Some(c.request_id),
            AppMessage::CancelRejected(c) => Some(c.request_id),
            _ => None,
        }
    }
}
