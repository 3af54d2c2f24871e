//! The steady-state order path allocates nothing: decode, sequence, risk checks,
//! matching, post-trade updates, encode and the out log, and the ring hop between
//! the io and engine threads. A counting global allocator proves it.

use gateway::GatewayConfig;
use gateway::clock::Clock;
use gateway::input::{Arrival, Output, Stamps};
use gateway::metrics::StageRecorder;
use gateway::outlog::OutLog;
use gateway::pipeline::{Sequencer, build_engine};
use gateway::ring::ring;
use gateway::session::{
    ConnState, FrameAction, Gate, LoginSlot, Session, SessionLimits, TimerAction,
};
use protocol::codec::{CancelOrder, ClientMessage, NewOrder, ReplaceOrder, Sequenced};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
};

// Counted per thread (`testkit::thread_allocations`): each test runs on one
// thread, and the tests of this file run side by side.
#[global_allocator]
static GLOBAL: testkit::Counting = testkit::Counting::new();

struct Path {
    sequencer: Sequencer,
    /// A live session for each login.
    sessions: Vec<Session>,
    logins: Vec<OutLog>,
    frame: [u8; 512],
}

impl Path {
    /// One client message from wire bytes to encoded answers in the out logs.
    fn run(&mut self, login: u32, msg: &ClientMessage, via_ring: bool, rings: &mut Rings) {
        let n = msg.encode_to_slice(&mut self.frame).unwrap();
        // The session layer decides what the frame is, as the io loop does.
        let frame = &self.frame[..n];
        let session = &self.sessions[login as usize];
        let input = match session.on_frame(frame, ClientMessage::decode(frame)) {
            FrameAction::Input(input) => input,
            other => panic!("an order message is an input: {other:?}"),
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
        sessions: (0..config.logins.len())
            .map(|i| {
                let mut session = Session::new(0, &session_limits());
                session.state = ConnState::Active { login: i as u32 };
                session
            })
            .collect(),
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
        let before = testkit::thread_allocations();
        for i in 200..2_200 {
            round(&mut path, &mut rings, offset + i, via_ring);
        }
        let allocated = testkit::thread_allocations() - before;
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

fn session_limits() -> SessionLimits {
    SessionLimits {
        max_sessions: 64,
        max_pending_logins: 16,
        max_pending_logins_per_address: 4,
        heartbeat_ns: 1_000_000_000,
        dead_peer_ns: 5_000_000_000,
        login_timeout_ns: 3_000_000_000,
        backlog_limit_bytes: 1 << 20,
        rx_buffer_bytes: 4_096,
        socket_send_buffer_bytes: 0,
        max_login_failures: 1_000_000,
        login_failure_window_ns: 1_000_000_000,
        login_lockout_ns: 1_000_000_000,
        session_id: 1,
        max_failing_addresses: 64,
        unreleased_capacity: 64,
        max_queries_per_second: 1_000_000,
        max_queries_in_flight: 8,
    }
}

/// The session layer without sockets: a connection's life from its Login frame
/// (accepted or refused, a known or an unknown name) through heartbeats, the
/// dead-peer and backlog checks, an order frame and its end, in virtual time.
#[test]
fn the_session_rules_do_not_allocate() {
    let limits = session_limits();
    let mut logins: Vec<LoginSlot> = (0..4)
        .map(|i| {
            let name = protocol::Username::new(&format!("user{i}")).unwrap();
            LoginSlot::new(name, protocol::Token([i as u8 + 1; 32]), OutLog::new(1 << 16, 1 << 10))
        })
        .collect();
    let mut gate = Gate::new(&logins, &limits);
    let peer = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
    let order = order(1, "A001", 600_036, Side::Buy, 100, 420_000);
    let mut frames = [[0u8; 128]; 4];
    let mut lens = [0usize; 4];
    let mut wrong = [0usize; 1];
    let mut wrong_frame = [0u8; 128];
    for i in 0..4 {
        let login = protocol::codec::Login {
            version: protocol::codec::PROTOCOL_VERSION,
            username: logins[i].username,
            token: logins[i].token,
            next_seq: 0,
        };
        lens[i] = ClientMessage::Login(login).encode_to_slice(&mut frames[i]).unwrap();
    }
    let unknown = protocol::codec::Login {
        version: protocol::codec::PROTOCOL_VERSION,
        username: protocol::Username::new("nobody").unwrap(),
        token: protocol::Token([9; 32]),
        next_seq: 0,
    };
    wrong[0] = ClientMessage::Login(unknown).encode_to_slice(&mut wrong_frame).unwrap();
    let mut order_frame = [0u8; 128];
    let order_len = order.encode_to_slice(&mut order_frame).unwrap();
    let life = |round: u64, gate: &mut Gate, logins: &mut [LoginSlot]| -> u64 {
        let t0 = round * 10_000_000_000;
        let mut taken = 0;
        for i in 0..4 {
            let mut session = Session::new(t0, &limits);
            let frame = &frames[i][..lens[i]];
            let FrameAction::Login(request) = session.on_frame(frame, ClientMessage::decode(frame))
            else {
                panic!("a Login asks the gate")
            };
            let admitted = gate.admit(logins, &limits, t0, peer, &request).unwrap();
            session.accept(&admitted, logins[i].log.end_offset());
            let _ = admitted.accepted(&limits);
            assert_eq!(session.on_timer(t0 + 1_000_000_000, &limits), TimerAction::Heartbeat);
            session.sent(t0 + 1_000_000_000);
            let o = &order_frame[..order_len];
            if let FrameAction::Input(_) = session.on_frame(o, ClientMessage::decode(o)) {
                taken += 1;
            }
            assert!(!session.over_backlog(logins[i].log.end_offset(), 0, &limits));
            let silent = session.on_timer(t0 + 5_000_000_000, &limits);
            assert_eq!(silent, TimerAction::DeadPeer { silent_ns: 5_000_000_000 });
            assert_eq!(session.end(protocol::RejectCode::LOGGED_OUT, 1), Some(i as u32));
            let _ = session.end_of_session(0);
            // A refused login: an unknown name.
            let refused = Session::new(t0, &limits);
            let frame = &wrong_frame[..wrong[0]];
            if let FrameAction::Login(request) =
                refused.on_frame(frame, ClientMessage::decode(frame))
            {
                assert!(gate.admit(logins, &limits, t0, peer, &request).is_err());
            }
        }
        taken
    };
    for round in 0..10 {
        life(round, &mut gate, &mut logins);
    }
    let before = testkit::thread_allocations();
    let mut taken = 0;
    for round in 10..1_010 {
        taken += life(round, &mut gate, &mut logins);
    }
    let allocated = testkit::thread_allocations() - before;
    assert_eq!(allocated, 0, "the session rules allocated {allocated} times");
    assert_eq!(taken, 4_000, "every order frame became an input");
}
