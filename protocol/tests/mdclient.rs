//! `MdClient` against a peer on 127.0.0.1 that plays the server from
//! `docs/marketdata.md` with the crate's own encoders: login, snapshots, every
//! kind of delta, a gap and its retransmission, a refused retransmission, gap
//! notices, a too-wide gap, a new feed session, heartbeats and malformed frames.
//! The peer asserts what the client sends; the test asserts the books it builds.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use protocol::codec::DecodeError;
use protocol::framing::FrameBuffer;
use protocol::marketdata::{
    DeltaBody, DeltaHeader, Depth, FLAG_CONFLATED, FLAG_RETRANSMIT, GapReason,
    HEARTBEAT_CHANNELS_MAX, Indicative, MdMessage, MdReject, Mode, PhaseKind, SNAPSHOT_LEVELS_MAX,
    Snapshot, SyncState, Target, WireLevel, channel_of, decode_client,
};
use protocol::mdclient::{FeedLimits, MdClient, MdClientConfig, MdClientError, MdEvent};
use protocol::{Market, Price, Qty, SecurityId, Side, Token, TradingPhase, Username};

/// A bound on every wait, so a broken client fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(20);
const SEC: SecurityId = SecurityId { market: Market::Sse, code: 600_519 };
const SESSION: u64 = 20_261_207;
/// Long enough that no heartbeat or silence check happens in a test that does not want one.
const QUIET_HEARTBEAT_MS: u32 = 60_000;

// ------------------------------------------------------------------ the peer

/// The server side of one connection.
struct Peer {
    stream: TcpStream,
    rx: FrameBuffer,
}

impl Peer {
    fn send(&mut self, msg: &MdMessage) {
        let mut buf = [0u8; protocol::MAX_FRAME_LEN];
        let n = msg.encode(&mut buf).expect("the peer encodes");
        self.stream.write_all(&buf[..n]).expect("the peer writes");
    }

    /// The client's next message, heartbeats included.
    fn next_any(&mut self) -> Option<MdMessage> {
        loop {
            if let Some(frame) = self.rx.next_frame().expect("the client frames correctly") {
                return Some(decode_client(frame).expect("the client's frames decode"));
            }
            match self.rx.read_from(&mut self.stream) {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => panic!("the peer waited too long for the client: {e}"),
            }
        }
    }

    /// The client's next message other than a heartbeat.
    fn next(&mut self) -> MdMessage {
        loop {
            match self.next_any() {
                Some(MdMessage::ClientHeartbeat) => {}
                Some(msg) => return msg,
                None => panic!("the client closed while the peer waited for a request"),
            }
        }
    }

    /// Expects a Subscribe to `target`; returns its request id.
    fn expect_subscribe(&mut self, target: Target, depth: Depth) -> u32 {
        match self.next() {
            MdMessage::Subscribe { request_id, target: t, depth: d, mode, interval_ms } => {
                assert_eq!((t, d, mode, interval_ms), (target, depth, Mode::RealTime, 0));
                request_id
            }
            other => panic!("expected a Subscribe to {target:?}, got {other:?}"),
        }
    }

    /// Expects a Subscribe, acknowledges it and sends `snapshots`.
    fn serve_subscribe(&mut self, target: Target, depth: Depth, snapshots: &[MdMessage]) {
        let request_id = self.expect_subscribe(target, depth);
        let channel = match target {
            Target::Security(s) => channel_of(s),
            Target::Channel(c) => c,
        };
        self.send(&MdMessage::SubscribeAck { request_id, channel });
        for s in snapshots {
            self.send(s);
        }
    }

    /// Expects a RetransmitRequest for `from_seq` and `count` of channel 160; returns its id.
    fn expect_retransmit(&mut self, from_seq: u64, count: u32) -> u32 {
        match self.next() {
            MdMessage::RetransmitRequest { request_id, channel, from_seq: f, count: c } => {
                assert_eq!((channel, f, c), (channel_of(SEC), from_seq, count));
                request_id
            }
            other => panic!("expected a RetransmitRequest from {from_seq}, got {other:?}"),
        }
    }

    /// Reads until the client closes; nothing but heartbeats may come.
    fn expect_no_more(&mut self) {
        while let Some(msg) = self.next_any() {
            assert_eq!(msg, MdMessage::ClientHeartbeat, "no further request was due");
        }
    }
}

/// Listens on 127.0.0.1, accepts one client, checks its Login, answers with
/// LoginAccepted and runs `script`.
fn serve(
    heartbeat_ms: u32,
    script: impl FnOnce(&mut Peer) + Send + 'static,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let thread = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        stream.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut peer = Peer { stream, rx: FrameBuffer::new(0) };
        match peer.next() {
            MdMessage::Login { version, username, token } => {
                assert_eq!(version, 1);
                assert_eq!(username, Username::new("screen01").unwrap());
                assert_eq!(token, Token::from_text("correct-horse-battery-staple").unwrap());
            }
            other => panic!("expected a Login, got {other:?}"),
        }
        peer.send(&MdMessage::LoginAccepted { session_id: SESSION, heartbeat_ms });
        script(&mut peer);
    });
    (addr, thread)
}

fn config(addr: SocketAddr) -> MdClientConfig {
    let user = Username::new("screen01").unwrap();
    let token = Token::from_text("correct-horse-battery-staple").unwrap();
    let mut config = MdClientConfig::new(addr, user, token).expect("config");
    config.login_timeout = WAIT;
    config
}

fn connect(addr: SocketAddr) -> MdClient {
    MdClient::connect(&config(addr)).expect("login")
}

/// Polls until `done` holds, collecting the events.
fn pump_until(client: &mut MdClient, events: &mut Vec<MdEvent>, done: impl Fn(&MdClient) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !done(client) {
        assert!(Instant::now() < deadline, "the client never got there; events: {events:#?}");
        match client.poll(Duration::from_millis(100)) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(e) => panic!("poll failed: {e}; events: {events:#?}"),
        }
    }
}

/// Ends a test: the client closes, the peer checks it asked for nothing more.
fn finish(client: MdClient, peer: JoinHandle<()>) {
    drop(client);
    peer.join().expect("the peer's assertions hold");
}

// ------------------------------------------------------------------ messages

fn cny(yuan_fen: i64) -> Price {
    Price(yuan_fen * 100)
}

fn lv(price_fen: i64, qty: u64, orders: u32) -> WireLevel {
    WireLevel { price: cny(price_fen), qty: Qty(qty), orders }
}

fn snapshot_of(
    security: SecurityId,
    seq: u64,
    security_seq: u64,
    session_id: u64,
    bids: &[WireLevel],
    asks: &[WireLevel],
) -> MdMessage {
    let mut s = Snapshot {
        channel: channel_of(security),
        seq,
        security_seq,
        security,
        flags: 0,
        time_ns: 1_796_613_000_000_000_000,
        session_id,
        phase: TradingPhase::Continuous,
        last: cny(148_500),
        volume: 12_300,
        turnover: 182_655_000_000,
        indicative: Indicative::default(),
        bid_count: bids.len() as u8,
        ask_count: asks.len() as u8,
        bids: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
        asks: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
    };
    s.bids[..bids.len()].copy_from_slice(bids);
    s.asks[..asks.len()].copy_from_slice(asks);
    MdMessage::Snapshot(s)
}

fn snapshot(seq: u64, security_seq: u64) -> MdMessage {
    snapshot_of(SEC, seq, security_seq, SESSION, &[lv(148_500, 300, 2)], &[lv(148_501, 500, 3)])
}

fn header(seq: u64, prev_seq: u64, flags: u8) -> DeltaHeader {
    DeltaHeader {
        channel: channel_of(SEC),
        seq,
        prev_seq,
        security: SEC,
        flags,
        time_ns: 1_796_613_000_000_001_000,
    }
}

fn delta(seq: u64, prev_seq: u64, flags: u8, body: DeltaBody) -> MdMessage {
    MdMessage::Delta(header(seq, prev_seq, flags), body)
}

/// A bid level at a price of its own for each sequence, so the book shows which applied.
fn bid_for(seq: u64, prev_seq: u64, flags: u8) -> MdMessage {
    let level = lv(140_000 + seq as i64, 100, 1);
    delta(seq, prev_seq, flags, DeltaBody::Level { side: Side::Buy, level })
}

fn trade(seq: u64, prev_seq: u64, exec_id: u64, price_fen: i64, qty: u64) -> MdMessage {
    let body = DeltaBody::Trade {
        exec_id,
        price: cny(price_fen),
        qty: Qty(qty),
        buy_order_id: 88,
        sell_order_id: 61,
        aggressor: Some(Side::Buy),
    };
    delta(seq, prev_seq, 0, body)
}

fn bid_prices(client: &MdClient) -> Vec<i64> {
    client.book(SEC).expect("a book").bids().iter().map(|l| l.price.0 / 100).collect()
}

// ------------------------------------------------------------------ tests

#[test]
fn the_book_follows_a_snapshot_and_every_kind_of_delta() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        let snap = snapshot_of(
            SEC,
            1200,
            1187,
            SESSION,
            &[lv(148_500, 300, 2), lv(148_499, 100, 1)],
            &[lv(148_501, 500, 3)],
        );
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[snap]);
        let ask = DeltaBody::Level { side: Side::Sell, level: lv(148_501, 300, 2) };
        p.send(&delta(1201, 1187, 0, ask));
        p.send(&trade(1202, 1201, 5001, 148_501, 200));
        let added = DeltaBody::OrderAdded {
            order_id: 89,
            side: Side::Buy,
            price: cny(148_500),
            qty: Qty(400),
        };
        p.send(&delta(1203, 1202, 0, added));
        p.send(&delta(1204, 1203, 0, DeltaBody::OrderRemoved { order_id: 89, qty: Qty(0) }));
        let halt = DeltaBody::Phase { phase: TradingPhase::Halted, kind: PhaseKind::Halt };
        p.send(&delta(1205, 1204, 0, halt));
        let ind = Indicative { price: cny(148_500), qty: Qty(1200), imbalance: 300 };
        p.send(&delta(1206, 1205, 0, DeltaBody::Indicative(ind)));
        let merged = DeltaBody::Level { side: Side::Buy, level: lv(148_498, 200, 1) };
        p.send(&delta(1207, 1206, FLAG_CONFLATED, merged));
        p.expect_no_more();
    });
    let mut client = connect(addr);
    assert_eq!(client.session_id(), SESSION);
    let request_id =
        client.subscribe(Target::Security(SEC), Depth::Level2, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| c.book(SEC).is_some_and(|b| b.last_seq() == 1207));
    assert_eq!(events[0], MdEvent::Subscribed { request_id, channel: 160 });
    assert_eq!(events[1], MdEvent::Snapshot(SEC));
    assert_eq!(events.iter().filter(|e| matches!(e, MdEvent::Applied(..))).count(), 7);

    let book = client.book(SEC).unwrap();
    assert_eq!(book.state(), SyncState::Synced);
    assert_eq!(book.asks(), &[lv(148_501, 300, 2)]);
    assert_eq!(book.bids(), &[lv(148_500, 300, 2), lv(148_499, 100, 1), lv(148_498, 200, 1)]);
    assert_eq!(book.last(), cny(148_501));
    assert_eq!(book.volume(), 12_500);
    assert_eq!(book.turnover(), 182_655_000_000 + 14_850_100 * 200);
    assert_eq!(book.phase(), TradingPhase::Halted);
    assert_eq!(book.indicative().qty, Qty(1200));
    let tape: Vec<(u64, u64)> = book.trades().map(|t| (t.exec_id, t.qty.0)).collect();
    assert_eq!(tape, [(5001, 200)]);
    let counters = client.counters();
    assert_eq!(counters.conflated_updates, 1);
    assert_eq!((counters.retransmit_requests, counters.resnapshots), (0, 0));
    finish(client, peer);
}

#[test]
fn a_gap_is_asked_for_once_and_filled_by_the_retransmission() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[snapshot(100, 100)]);
        p.send(&bid_for(101, 100, 0));
        // 102 and 103 are lost: 104 shows the gap, 105 arrives while it is asked for.
        p.send(&bid_for(104, 103, 0));
        p.send(&bid_for(105, 104, 0));
        // One request, for everything after 101 up to the delta that showed the gap.
        p.expect_retransmit(102, 3);
        for (seq, prev) in [(102, 101), (103, 102), (104, 103)] {
            p.send(&bid_for(seq, prev, FLAG_RETRANSMIT));
        }
        // A live copy of something already applied is a duplicate.
        p.send(&bid_for(104, 103, 0));
        // 105 was dropped during the recovery: the next delta shows it missing.
        p.send(&bid_for(106, 105, 0));
        p.expect_retransmit(105, 2);
        p.send(&bid_for(105, 104, FLAG_RETRANSMIT));
        p.send(&bid_for(106, 105, FLAG_RETRANSMIT));
        p.expect_no_more();
    });
    let mut client = connect(addr);
    client.subscribe(Target::Security(SEC), Depth::Level2, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| {
        c.book(SEC).is_some_and(|b| b.last_seq() == 106 && b.state() == SyncState::Synced)
    });
    let fen = |seq: i64| 140_000 + seq;
    assert_eq!(
        bid_prices(&client),
        [148_500, fen(106), fen(105), fen(104), fen(103), fen(102), fen(101)]
    );
    let counters = client.counters();
    assert_eq!(counters.retransmit_requests, 2);
    assert_eq!(counters.gaps_recovered, 2);
    assert_eq!(counters.duplicates, 1);
    assert_eq!(counters.resnapshots, 0);
    finish(client, peer);
}

#[test]
fn a_refused_retransmission_brings_a_new_snapshot() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[snapshot(100, 100)]);
        p.send(&bid_for(103, 102, 0));
        let request_id = p.expect_retransmit(101, 3);
        p.send(&MdMessage::RetransmitReject {
            request_id,
            code: MdReject::RANGE_UNAVAILABLE,
            channel: 160,
            first_available: 500,
        });
        let fresh = snapshot_of(SEC, 600, 590, SESSION, &[lv(149_000, 700, 4)], &[]);
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[fresh]);
        p.send(&bid_for(601, 590, 0));
        p.expect_no_more();
    });
    let mut client = connect(addr);
    client.subscribe(Target::Security(SEC), Depth::Level2, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| c.book(SEC).is_some_and(|b| b.last_seq() == 601));
    assert!(events.iter().any(|e| matches!(
        e,
        MdEvent::RetransmitRejected { code: MdReject::RANGE_UNAVAILABLE, .. }
    )));
    assert_eq!(bid_prices(&client), [149_000, 140_601]);
    assert!(client.book(SEC).unwrap().asks().is_empty());
    let counters = client.counters();
    assert_eq!((counters.retransmit_rejects, counters.resnapshots), (1, 1));
    assert_eq!(counters.gaps_recovered, 0);
    finish(client, peer);
}

#[test]
fn a_gap_notice_beyond_the_book_is_asked_for_and_one_within_it_is_not() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[snapshot(100, 100)]);
        let notice = |channel, first_seq, last_seq| MdMessage::GapNotice {
            channel,
            first_seq,
            last_seq,
            reason: GapReason::SlowConsumer,
        };
        // Already behind the book, and another channel's: nothing to ask for.
        p.send(&notice(160, 50, 90));
        p.send(&notice(200, 95, 120));
        // Beyond the book: asked for from the first sequence the book lacks.
        p.send(&notice(160, 95, 120));
        p.expect_retransmit(101, 20);
        p.send(&bid_for(110, 100, FLAG_RETRANSMIT));
        p.send(&bid_for(120, 110, FLAG_RETRANSMIT));
        p.expect_no_more();
    });
    let mut client = connect(addr);
    client.subscribe(Target::Security(SEC), Depth::Level2, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| {
        c.book(SEC).is_some_and(|b| b.last_seq() == 120 && b.state() == SyncState::Synced)
    });
    assert_eq!(events.iter().filter(|e| matches!(e, MdEvent::GapNotice { .. })).count(), 3);
    assert_eq!(bid_prices(&client), [148_500, 140_120, 140_110]);
    let counters = client.counters();
    assert_eq!((counters.gap_notices, counters.retransmit_requests), (3, 1));
    assert_eq!(counters.gaps_recovered, 1);
    finish(client, peer);
}

#[test]
fn a_gap_wider_than_one_request_subscribes_again() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[snapshot(100, 100)]);
        // 100 + 10,001 would need more than RETRANSMIT_COUNT_MAX messages.
        p.send(&bid_for(10_101, 10_050, 0));
        p.send(&bid_for(10_102, 10_101, 0));
        let fresh = snapshot_of(SEC, 10_200, 10_190, SESSION, &[lv(150_000, 100, 1)], &[]);
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[fresh]);
        p.expect_no_more();
    });
    let mut client = connect(addr);
    client.subscribe(Target::Security(SEC), Depth::Level2, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| {
        c.book(SEC).is_some_and(|b| b.last_seq() == 10_190 && b.state() == SyncState::Synced)
    });
    assert_eq!(bid_prices(&client), [150_000]);
    let counters = client.counters();
    assert_eq!((counters.resnapshots, counters.retransmit_requests), (1, 0));
    finish(client, peer);
}

#[test]
fn a_new_session_id_discards_the_books_and_subscribes_again() {
    let sz1 = SecurityId { market: Market::Szse, code: 1 };
    let sz2 = SecurityId { market: Market::Szse, code: 2 };
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, move |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level1, &[snapshot(100, 100)]);
        let channel = [
            snapshot_of(sz1, 50, 40, SESSION, &[lv(1_200, 1_000, 5)], &[]),
            snapshot_of(sz2, 50, 50, SESSION, &[], &[lv(900, 2_000, 7)]),
        ];
        p.serve_subscribe(Target::Channel(200), Depth::Level2, &channel);
        let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
        channels[0] = (160, 100);
        channels[1] = (200, 50);
        // The same session: nothing to do.
        p.send(&MdMessage::Heartbeat { session_id: SESSION, count: 2, channels });
        // A new session: every subscription again, in order, and the books from scratch.
        channels[0] = (160, 1);
        p.send(&MdMessage::Heartbeat { session_id: SESSION + 1, count: 1, channels });
        let fresh = snapshot_of(SEC, 1, 1, SESSION + 1, &[lv(148_000, 100, 1)], &[]);
        p.serve_subscribe(Target::Security(SEC), Depth::Level1, &[fresh]);
        let channel = [
            snapshot_of(sz1, 2, 1, SESSION + 1, &[lv(1_210, 100, 1)], &[]),
            snapshot_of(sz2, 2, 2, SESSION + 1, &[], &[lv(910, 100, 1)]),
        ];
        p.serve_subscribe(Target::Channel(200), Depth::Level2, &channel);
        p.expect_no_more();
    });
    let mut client = connect(addr);
    client.subscribe(Target::Security(SEC), Depth::Level1, Mode::RealTime, 0).unwrap();
    client.subscribe(Target::Channel(200), Depth::Level2, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| {
        c.feed().books().len() == 3 && c.book(sz2).is_some_and(|b| b.last_seq() == 2)
    });
    assert_eq!(client.session_id(), SESSION + 1);
    assert_eq!(client.feed().channel_last_seq(160), Some(1));
    assert_eq!(bid_prices(&client), [148_000]);
    assert_eq!(client.book(sz1).unwrap().bids(), &[lv(1_210, 100, 1)]);
    assert_eq!(client.book(sz2).unwrap().asks(), &[lv(910, 100, 1)]);
    assert!(client.feed().all_synced());
    let counters = client.counters();
    assert_eq!((counters.session_changes, counters.resnapshots), (1, 2));
    finish(client, peer);
}

#[test]
fn idle_links_exchange_heartbeats() {
    let (addr, peer) = serve(500, |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level1, &[snapshot(100, 100)]);
        // The client has nothing to say: after an interval it sends a heartbeat.
        assert_eq!(p.next_any(), Some(MdMessage::ClientHeartbeat));
        let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
        channels[0] = (160, 140);
        p.send(&MdMessage::Heartbeat { session_id: SESSION, count: 1, channels });
        p.expect_no_more();
    });
    let mut client = connect(addr);
    assert_eq!(client.heartbeat(), Duration::from_millis(500));
    client.subscribe(Target::Security(SEC), Depth::Level1, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| c.feed().channel_last_seq(160).is_some());
    assert!(events.contains(&MdEvent::Heartbeat { session_id: SESSION }));
    assert_eq!(client.feed().channel_last_seq(160), Some(140));
    assert_eq!(client.counters().resnapshots, 0);
    finish(client, peer);
}

#[test]
fn a_server_that_falls_silent_is_an_error() {
    let (addr, peer) = serve(50, |p| {
        // Say nothing; only the client's heartbeats come until it gives up.
        while let Some(msg) = p.next_any() {
            assert_eq!(msg, MdMessage::ClientHeartbeat);
        }
    });
    let mut client = connect(addr);
    let deadline = Instant::now() + WAIT;
    let err = loop {
        match client.poll(Duration::from_millis(100)) {
            Err(e) => break e,
            Ok(_) => assert!(Instant::now() < deadline, "the client never gave up"),
        }
    };
    assert!(matches!(err, MdClientError::ServerSilent { .. }), "{err}");
    finish(client, peer);
}

#[test]
fn a_refused_login_is_a_typed_error() {
    for code in [MdReject::BAD_CREDENTIALS, MdReject::UNSUPPORTED_VERSION] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            stream.set_read_timeout(Some(WAIT)).unwrap();
            let mut p = Peer { stream, rx: FrameBuffer::new(0) };
            assert!(matches!(p.next(), MdMessage::Login { .. }));
            p.send(&MdMessage::LoginRejected { code });
        });
        let err = MdClient::connect(&config(addr)).expect_err("refused");
        assert!(matches!(err, MdClientError::LoginRejected(c) if c == code), "{err}");
        assert!(err.to_string().contains(code.name().unwrap()), "{err}");
        peer.join().unwrap();
    }
}

#[test]
fn a_refused_subscription_is_reported_and_its_book_dropped() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        let request_id = p.expect_subscribe(Target::Security(SEC), Depth::Level2);
        p.send(&MdMessage::SubscribeReject { request_id, code: MdReject::NOT_ENTITLED });
        p.expect_no_more();
    });
    let mut client = connect(addr);
    let request_id =
        client.subscribe(Target::Security(SEC), Depth::Level2, Mode::RealTime, 0).unwrap();
    assert!(client.book(SEC).is_some());
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| c.book(SEC).is_none());
    let target = Some(Target::Security(SEC));
    let refused = MdEvent::SubscribeRejected { request_id, target, code: MdReject::NOT_ENTITLED };
    assert_eq!(events, [refused]);
    finish(client, peer);
}

#[test]
fn the_tape_keeps_the_latest_trades() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level1, &[snapshot(100, 100)]);
        for i in 1..=5u64 {
            p.send(&trade(100 + i, 99 + i, i, 148_500 + i as i64, 100 * i));
        }
        p.expect_no_more();
    });
    let mut config = config(addr);
    config.limits = FeedLimits { trades_kept: 3, ..FeedLimits::default() };
    let mut client = MdClient::connect(&config).unwrap();
    client.subscribe(Target::Security(SEC), Depth::Level1, Mode::RealTime, 0).unwrap();
    let mut events = Vec::new();
    pump_until(&mut client, &mut events, |c| c.book(SEC).is_some_and(|b| b.last_seq() == 105));
    let book = client.book(SEC).unwrap();
    let tape: Vec<u64> = book.trades().map(|t| t.exec_id).collect();
    assert_eq!(tape, [3, 4, 5]);
    assert_eq!(book.volume(), 12_300 + 1_500);
    assert_eq!(book.last(), cny(148_505));
    finish(client, peer);
}

#[test]
fn requests_the_client_will_not_send_are_refused_before_the_wire() {
    let (addr, peer) = serve(QUIET_HEARTBEAT_MS, |p| {
        // Only the one valid Subscribe reaches the wire.
        p.expect_subscribe(Target::Security(SEC), Depth::Level1);
        p.expect_no_more();
    });
    let mut config = config(addr);
    config.limits = FeedLimits { books_max: 1, ..FeedLimits::default() };
    let mut client = MdClient::connect(&config).unwrap();
    let err = client.subscribe(Target::Security(SEC), Depth::Level1, Mode::Conflated, 0);
    assert!(matches!(err, Err(MdClientError::InvalidRequest(_))), "{err:?}");
    let err = client.subscribe(Target::Security(SEC), Depth::Level1, Mode::RealTime, 500);
    assert!(matches!(err, Err(MdClientError::InvalidRequest(_))), "{err:?}");
    client.subscribe(Target::Security(SEC), Depth::Level1, Mode::RealTime, 0).unwrap();
    let other = SecurityId { market: Market::Szse, code: 1 };
    let err = client.subscribe(Target::Security(other), Depth::Level1, Mode::RealTime, 0);
    assert!(matches!(err, Err(MdClientError::TooManyBooks { max: 1 })), "{err:?}");
    finish(client, peer);
}

/// Frames the client must refuse with an error (and no panic).
#[test]
fn malformed_frames_are_errors_not_panics() {
    let mut short_trade = Vec::new();
    let mut buf = [0u8; protocol::MAX_FRAME_LEN];
    let n = trade(101, 100, 1, 148_500, 100).encode(&mut buf).unwrap();
    short_trade.extend_from_slice(&[(n - 3) as u8, 0]);
    short_trade.extend_from_slice(&buf[2..n - 1]);
    let n = bid_for(101, 100, 0).encode(&mut buf).unwrap();
    let mut bad_level = buf[..n].to_vec();
    bad_level[n - 8..].fill(0); // qty 0 with orders 1
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("an unknown type", vec![1, 0, b'Z']),
        ("a client's type", vec![1, 0, b'R']),
        ("a zero length prefix", vec![0, 0, b'h']),
        ("a length prefix past the maximum", vec![0x58, 0x02, b'w', 0]),
        ("a trade one byte short", short_trade),
        ("a level with qty 0 and orders", bad_level),
    ];
    for (what, bytes) in cases {
        let (addr, peer) = serve(QUIET_HEARTBEAT_MS, move |p| {
            p.serve_subscribe(Target::Security(SEC), Depth::Level1, &[snapshot(100, 100)]);
            p.stream.write_all(&bytes).unwrap();
            // The client closes the connection on the error.
            let mut rest = Vec::new();
            let _ = p.stream.read_to_end(&mut rest);
        });
        let mut client = connect(addr);
        client.subscribe(Target::Security(SEC), Depth::Level1, Mode::RealTime, 0).unwrap();
        let deadline = Instant::now() + WAIT;
        let err = loop {
            match client.poll(Duration::from_millis(100)) {
                Err(e) => break e,
                Ok(_) => assert!(Instant::now() < deadline, "{what}: no error"),
            }
        };
        assert!(matches!(err, MdClientError::Malformed(_)), "{what}: {err}");
        assert!(err.to_string().starts_with("malformed frame"), "{what}: {err}");
        if what == "a length prefix past the maximum" {
            assert!(matches!(err, MdClientError::Malformed(DecodeError::BadFrameLength { .. })));
        }
        peer.join().expect("the peer's assertions hold");
    }
}

/// Non-blocking mode, as a readiness loop drives it: `try_poll` never waits
/// (None: the socket would block), a gap's request still goes out and its
/// retransmission fills the book, `keep_alive` heartbeats an idle link, and
/// `try_poll` refuses a blocking client.
#[test]
fn a_non_blocking_client_never_waits_and_still_recovers() {
    let (addr, peer) = serve(500, |p| {
        p.serve_subscribe(Target::Security(SEC), Depth::Level2, &[snapshot(100, 100)]);
        p.send(&bid_for(101, 100, 0));
        p.send(&bid_for(103, 102, 0));
        p.expect_retransmit(102, 2);
        p.send(&bid_for(102, 101, FLAG_RETRANSMIT));
        p.send(&bid_for(103, 102, FLAG_RETRANSMIT));
        // Nothing more to say: the client's keep-alive heartbeats.
        assert_eq!(p.next_any(), Some(MdMessage::ClientHeartbeat));
        p.expect_no_more();
    });
    let mut client = connect(addr);
    // Refused without touching the connection: it still works afterwards.
    assert!(matches!(client.try_poll(), Err(MdClientError::InvalidRequest(_))));
    client.set_nonblocking(true).unwrap();
    client.subscribe(Target::Security(SEC), Depth::Level2, Mode::RealTime, 0).unwrap();
    let deadline = Instant::now() + WAIT;
    let mut would_block = 0;
    while !client.book(SEC).is_some_and(|b| b.last_seq() == 103 && b.state() == SyncState::Synced) {
        assert!(Instant::now() < deadline, "the book never recovered");
        match client.try_poll() {
            Ok(Some(_)) => {}
            Ok(None) => {
                would_block += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("try_poll failed: {e}"),
        }
    }
    assert!(would_block > 0, "try_poll returned while the socket had nothing");
    assert_eq!(client.counters().gaps_recovered, 1);
    let idle_until = Instant::now() + Duration::from_millis(600);
    while Instant::now() < idle_until {
        client.keep_alive().expect("the link is alive");
        std::thread::sleep(Duration::from_millis(50));
    }
    finish(client, peer);
}

/// In non-blocking mode silence counts only once a read found the socket
/// empty: a loop that comes back late to a client is not told the server died.
#[test]
fn a_non_blocking_client_counts_silence_only_on_an_empty_socket() {
    let (addr, peer) = serve(50, |p| {
        while let Some(msg) = p.next_any() {
            assert_eq!(msg, MdMessage::ClientHeartbeat);
        }
    });
    let mut client = connect(addr);
    client.set_nonblocking(true).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    client.keep_alive().expect("not read since: no silence counted");
    assert!(client.try_poll().unwrap().is_none(), "the server sent nothing");
    let err = client.keep_alive().unwrap_err();
    assert!(matches!(err, MdClientError::ServerSilent { .. }), "{err}");
    finish(client, peer);
}
