//! The steady-state order path allocates nothing: decode, sequence, risk checks,
//! matching, post-trade updates, encode and the out log, and the ring hop between
//! the io and engine threads. A counting global allocator proves it.

use gateway::GatewayConfig;
use gateway::clock::Clock;
use gateway::input::{Arrival, Input, Output, Stamps};
use gateway::metrics::StageRecorder;
use gateway::outlog::OutLog;
use gateway::pipeline::{Sequencer, build_engine};
use gateway::ring::ring;
use protocol::codec::{CancelOrder, ClientMessage, NewOrder, ReplaceOrder, Sequenced};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
};

#[global_allocator]
static GLOBAL: testkit::Counting = testkit::Counting::new();

struct Path {
    sequencer: Sequencer,
    logins: Vec<OutLog>,
    frame: [u8; 512],
}

impl Path {
    /// One client message from wire bytes to encoded answers in the out logs.
    fn run(&mut self, login: u32, msg: &ClientMessage, via_ring: bool, rings: &mut Rings) {
        let n = msg.encode_to_slice(&mut self.frame).unwrap();
        let decoded = ClientMessage::decode(&self.frame[..n]).unwrap();
        let input = match decoded {
            ClientMessage::NewOrder(order) => Input::NewOrder { login, order },
            ClientMessage::CancelOrder(cancel) => Input::Cancel { login, cancel },
            ClientMessage::ReplaceOrder(replace) => Input::Replace { login, replace },
            other => panic!("not an order message: {other:?}"),
        };
        let arrival = Arrival { input, stamps: Stamps { read_ns: 1, decoded_ns: 2 } };
        let logins = &mut self.logins;
        let mut append = |o: Output| {
            let mut buf = [0u8; 512];
            let s = Sequenced { seq: o.seq, ts_ns: o.ts_ns, msg: o.msg };
            let len = s.encode_to_slice(&mut buf).unwrap();
            logins[o.login as usize].append(o.seq, &buf[..len]);
        };
        if via_ring {
            rings.to_engine.push(arrival).unwrap();
            let arrival = rings.from_io.pop().unwrap();
            let to_io = &mut rings.to_io;
            self.sequencer.process(&arrival, &mut |o| to_io.push(o).unwrap());
            while let Some(o) = rings.from_engine.pop() {
                append(o);
            }
        } else {
            self.sequencer.process(&arrival, &mut append);
        }
    }
}

struct Rings {
    to_engine: gateway::ring::Producer<Arrival>,
    from_io: gateway::ring::Consumer<Arrival>,
    to_io: gateway::ring::Producer<Output>,
    from_engine: gateway::ring::Consumer<Output>,
}

fn order(
    cl_ord_id: u64,
    account: &str,
    code: u32,
    side: Side,
    qty: u64,
    price: i64,
) -> ClientMessage {
    ClientMessage::NewOrder(NewOrder {
        cl_ord_id,
        account: AccountId::new(account).unwrap(),
        security: SecurityId::new(if code >= 600_000 { Market::Sse } else { Market::Szse }, code)
            .unwrap(),
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(price),
        qty: Qty(qty),
        flags: 0,
        credit: CreditTag::Cash,
    })
}

/// A mix that rests, trades, replaces, cancels and is rejected.
fn round(path: &mut Path, rings: &mut Rings, i: u64, via_ring: bool) {
    let base = i * 10;
    let ring = via_ring;
    // trader1 (login 0) rests a buy; trader2 (login 1) sells into it.
    path.run(
        0,
        &order(base + 1, "A001", 600_036, Side::Buy, 200, 421_000 - (i as i64 % 5) * 100),
        ring,
        rings,
    );
    path.run(1, &order(base + 2, "B001", 600_036, Side::Sell, 100, 419_000), ring, rings);
    // Replace the rest to a lower price (losing priority), then cancel it.
    let account = AccountId::new("A001").unwrap();
    let replace = ReplaceOrder {
        request_id: base + 3,
        orig_cl_ord_id: base + 1,
        account,
        price: Price(420_000),
        qty: Qty(200),
    };
    path.run(0, &ClientMessage::ReplaceOrder(replace), ring, rings);
    path.run(
        0,
        &ClientMessage::CancelOrder(CancelOrder {
            request_id: base + 4,
            orig_cl_ord_id: base + 1,
            account,
        }),
        ring,
        rings,
    );
    // A price-limit reject (text rendered at encode time) and a confirmation reject.
    path.run(0, &order(base + 5, "A001", 600_519, Side::Buy, 100, 20_000_000), ring, rings);
    path.run(0, &order(base + 6, "A002", 600_519, Side::Buy, 100, 14_900_000), ring, rings);
}

#[test]
fn the_order_path_does_not_allocate() {
    let mut config = GatewayConfig::demo();
    config.risk.limits.rate_limit_per_s = 0;
    config.risk.limits.duplicate_window_ms = 0;
    config.risk.limits.open_orders_per_security = 0;
    config.risk.limits.cancels_per_security_per_day = 0;
    let seller = config.risk.accounts.iter_mut().find(|a| a.id.as_str() == "B001").unwrap();
    let security = SecurityId::new(Market::Sse, 600_036).unwrap();
    seller.positions.push(risk_check::PositionConfig {
        security,
        qty: 10_000_000,
        cost: Price(400_000),
    });
    let buyer = config.risk.accounts.iter_mut().find(|a| a.id.as_str() == "A001").unwrap();
    buyer.cash = 10_000_000_000 * Price::SCALE;
    let engine = build_engine(&config).unwrap();
    let mut path = Path {
        // Stage latencies on, as by default, with a short interval so the
        // recorder's swaps happen inside the measured window too.
        sequencer: Sequencer::with_recorder(
            engine,
            Clock::new(),
            StageRecorder::new(true, 100_000).0,
        ),
        logins: config.logins.iter().map(|_| OutLog::new(8 << 20, 1 << 16)).collect(),
        frame: [0; 512],
    };
    let (to_engine, from_io) = ring::<Arrival>(1024);
    let (to_io, from_engine) = ring::<Output>(1024);
    let mut rings = Rings { to_engine, from_io, to_io, from_engine };
    for via_ring in [false, true] {
        let offset = if via_ring { 1_000_000 } else { 0 };
        for i in 0..200 {
            round(&mut path, &mut rings, offset + i, via_ring);
        }
        let before = GLOBAL.allocations();
        for i in 200..2_200 {
            round(&mut path, &mut rings, offset + i, via_ring);
        }
        let allocated = GLOBAL.allocations() - before;
        assert_eq!(
            allocated, 0,
            "the steady-state order path allocated {allocated} times (via ring: {via_ring})"
        );
    }
    let engine = path.sequencer.engine();
    let stats = engine.stats();
    let (trades, rejects) = (stats.trades.get(), stats.rejects.get());
    let by_code: Vec<_> =
        engine.risk().counters().reject_counts().filter(|(_, n)| *n > 0).collect();
    assert!(trades >= 4_000, "the mix trades: {trades} trades, {rejects} rejects: {by_code:?}");
    assert_eq!(
        rejects,
        2 * 4_400,
        "the mix rejects exactly its two bad orders a round: {by_code:?}"
    );
    engine.risk().validate().unwrap();
    engine.exchange().validate().unwrap();
}
