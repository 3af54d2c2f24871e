//! `Feed` (the subscriber's rules without a socket): the cases the TCP tests
//! (`protocol/tests/mdclient.rs`) do not reach (several books of one channel
//! subscription, a new session seen in a snapshot, an unsubscribe), then random
//! server traffic: deltas that follow or skip, old copies, wide gaps, gap
//! notices, refused retransmissions, heartbeats of this and of a new session, and
//! the answers to the client's own Subscribes. After every message: no error, the requests it
//! decided are few and each is a well-formed client message, and a book waits
//! on a retransmission exactly while it is recovering.

use proptest::prelude::*;

use protocol::marketdata::{
    DeltaBody, DeltaHeader, Depth, GapReason, HEARTBEAT_CHANNELS_MAX, Indicative, MdMessage,
    MdReject, Mode, SNAPSHOT_LEVELS_MAX, Snapshot, SyncState, Target, WireLevel, channel_of,
    decode_client,
};
use protocol::mdclient::{Feed, FeedLimits, MdEvent};
use protocol::{Market, Price, Qty, SecurityId, Side, TradingPhase};

const SECURITIES: [SecurityId; 3] = [
    SecurityId { market: Market::Sse, code: 600_519 },
    SecurityId { market: Market::Szse, code: 1 },
    SecurityId { market: Market::Szse, code: 2 },
];

// ------------------------------------------------------------------ cases

const A: SecurityId = SecurityId { market: Market::Szse, code: 1 };
const B: SecurityId = SecurityId { market: Market::Szse, code: 2 };
const SESSION: u64 = 7;

fn snapshot(security: SecurityId, seq: u64, session_id: u64) -> MdMessage {
    MdMessage::Snapshot(Snapshot {
        channel: channel_of(security),
        seq,
        security_seq: seq,
        security,
        flags: 0,
        time_ns: 0,
        session_id,
        phase: TradingPhase::Continuous,
        last: Price(0),
        volume: 0,
        turnover: 0,
        indicative: Indicative::default(),
        bid_count: 0,
        ask_count: 0,
        bids: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
        asks: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
    })
}

fn level(security: SecurityId, seq: u64, prev_seq: u64) -> MdMessage {
    let h = DeltaHeader {
        channel: channel_of(security),
        seq,
        prev_seq,
        security,
        flags: 0,
        time_ns: 0,
    };
    let level = WireLevel { price: Price(100 * seq as i64), qty: Qty(100), orders: 1 };
    MdMessage::Delta(h, DeltaBody::Level { side: Side::Buy, level })
}

/// A feed subscribed to channel 200 with books for A (last 10) and B (last 11).
fn channel_feed() -> Feed {
    let mut feed = Feed::new(SESSION, FeedLimits::default());
    feed.subscribe(Target::Channel(200), Depth::Level2, Mode::RealTime, 0).unwrap();
    let sent: Vec<MdMessage> = feed.take_outgoing().collect();
    assert!(matches!(sent[..], [MdMessage::Subscribe { request_id: 1, .. }]));
    feed.on_message(&MdMessage::SubscribeAck { request_id: 1, channel: 200 }).unwrap();
    assert_eq!(feed.on_message(&snapshot(A, 10, SESSION)).unwrap(), MdEvent::Snapshot(A));
    assert_eq!(feed.on_message(&snapshot(B, 11, SESSION)).unwrap(), MdEvent::Snapshot(B));
    assert!(feed.all_synced());
    feed
}

fn retransmits(feed: &mut Feed) -> Vec<(u32, u64, u32)> {
    feed.take_outgoing()
        .map(|m| match m {
            MdMessage::RetransmitRequest { request_id, from_seq, count, .. } => {
                (request_id, from_seq, count)
            }
            other => panic!("expected a RetransmitRequest, got {other:?}"),
        })
        .collect()
}

#[test]
fn one_gap_notice_for_a_channel_asks_once_for_every_book() {
    let mut feed = channel_feed();
    let notice = MdMessage::GapNotice {
        channel: 200,
        first_seq: 12,
        last_seq: 20,
        reason: GapReason::SlowConsumer,
    };
    feed.on_message(&notice).unwrap();
    // Both books lack 12..=20: one request serves them.
    assert_eq!(retransmits(&mut feed), [(2, 12, 9)]);
    assert_eq!(feed.counters().retransmit_requests, 1);
    for (seq, prev) in [(14, 10), (15, 11)] {
        let security = if seq == 14 { A } else { B };
        let event = feed.on_message(&level(security, seq, prev)).unwrap();
        assert!(matches!(event, MdEvent::Applied(..)));
    }
    for (security, seq, prev) in [(A, 21, 14), (B, 22, 15)] {
        feed.on_message(&level(security, seq, prev)).unwrap();
    }
    assert_eq!(feed.counters().gaps_recovered, 2);
}

#[test]
fn an_unsubscribe_drops_its_books_and_what_still_arrives_for_them() {
    let mut feed = channel_feed();
    let id = feed.unsubscribe(Target::Channel(200));
    let sent: Vec<MdMessage> = feed.take_outgoing().collect();
    assert!(
        matches!(sent[..], [MdMessage::Unsubscribe { request_id, target: Target::Channel(200) }] if request_id == id),
        "{sent:?}"
    );
    assert!(feed.books().is_empty());
    assert_eq!(feed.on_message(&snapshot(A, 20, SESSION)).unwrap(), MdEvent::NotSubscribed(A));
    assert!(matches!(feed.on_message(&level(A, 21, 20)).unwrap(), MdEvent::Skipped(_)));
    assert!(feed.books().is_empty());
}

#[test]
fn a_retransmit_reject_resets_only_the_book_that_asked() {
    let mut feed = channel_feed();
    // A misses 11..=12; B is fine.
    assert!(matches!(feed.on_message(&level(A, 13, 12)).unwrap(), MdEvent::Skipped(_)));
    assert_eq!(retransmits(&mut feed), [(2, 11, 3)]);
    let reject = MdMessage::RetransmitReject {
        request_id: 2,
        code: MdReject::RANGE_UNAVAILABLE,
        channel: 200,
        first_available: 100,
    };
    feed.on_message(&reject).unwrap();
    assert_eq!(feed.book(A).unwrap().state(), SyncState::Unsynced);
    assert_eq!(feed.book(B).unwrap().state(), SyncState::Synced);
    let sent: Vec<MdMessage> = feed.take_outgoing().collect();
    assert!(
        matches!(
            sent[..],
            [MdMessage::Subscribe { request_id: 3, target: Target::Channel(200), .. }]
        ),
        "{sent:?}"
    );
    // B keeps applying meanwhile.
    assert!(matches!(feed.on_message(&level(B, 14, 11)).unwrap(), MdEvent::Applied(..)));
    assert_eq!(feed.counters().resnapshots, 1);
}

#[test]
fn a_snapshot_of_a_new_session_resubscribes_everything_else() {
    let mut feed = channel_feed();
    let c = SecurityId { market: Market::Sse, code: 600_519 };
    feed.subscribe(Target::Security(c), Depth::Level1, Mode::Conflated, 500).unwrap();
    let _ = feed.take_outgoing();
    // The security's answer arrives in a new session: the channel is stale.
    feed.on_message(&snapshot(c, 3, SESSION + 1)).unwrap();
    assert_eq!(feed.session_id(), SESSION + 1);
    assert_eq!(feed.book(c).unwrap().state(), SyncState::Synced);
    assert_eq!(feed.book(A).unwrap().state(), SyncState::Unsynced);
    let sent: Vec<MdMessage> = feed.take_outgoing().collect();
    assert!(
        matches!(sent[..], [MdMessage::Subscribe { target: Target::Channel(200), .. }]),
        "{sent:?}"
    );
    let counters = feed.counters();
    assert_eq!((counters.session_changes, counters.resnapshots), (1, 1));
    // A stale book applies nothing and asks for nothing: its snapshot is coming.
    feed.on_message(&level(B, 12, 11)).unwrap();
    assert_eq!(feed.take_outgoing().count(), 0);
}

// ------------------------------------------------------------------ random traffic

#[derive(Clone, Debug)]
enum Op {
    /// A live delta `step` after the channel's last; following the book or not.
    Delta { sec: usize, step: u64, follows: bool },
    /// A copy of something at or before the book's last sequence.
    Old { sec: usize, back: u64 },
    /// A delta far beyond what one request may ask for.
    Wide { sec: usize },
    /// A GapNotice from `back` before the channel's last, `len` long.
    Notice { sec: usize, back: u64, len: u64 },
    /// The latest RetransmitRequest refused.
    Reject,
    /// A heartbeat, of a new session or not.
    Heartbeat { new_session: bool },
    /// The latest Subscribe answered: its ack and snapshots.
    Answer,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, 1..4u64, proptest::bool::weighted(0.8))
            .prop_map(|(sec, step, follows)| Op::Delta { sec, step, follows }),
        1 => (0..3usize, 0..5u64).prop_map(|(sec, back)| Op::Old { sec, back }),
        1 => (0..3usize).prop_map(|sec| Op::Wide { sec }),
        1 => (0..3usize, 0..6u64, 1..6u64).prop_map(|(sec, back, len)| Op::Notice { sec, back, len }),
        1 => Just(Op::Reject),
        1 => proptest::bool::weighted(0.3).prop_map(|new_session| Op::Heartbeat { new_session }),
        2 => Just(Op::Answer),
    ]
}

/// The server's side of the run: channel counters, the session, what the client asked.
struct Server {
    session_id: u64,
    /// Last sequence of channels 160 and 200.
    channel_seq: [u64; 2],
    subscribes: Vec<(u32, Target)>,
    retransmits: Vec<(u32, u16)>,
}

impl Server {
    fn slot(security: SecurityId) -> usize {
        usize::from(channel_of(security) != 160)
    }

    fn next_seq(&mut self, security: SecurityId, step: u64) -> u64 {
        let s = &mut self.channel_seq[Self::slot(security)];
        *s += step;
        *s
    }

    fn snapshot(&mut self, security: SecurityId) -> MdMessage {
        let seq = self.next_seq(security, 1);
        let mut bids = [WireLevel::default(); SNAPSHOT_LEVELS_MAX];
        bids[0] = WireLevel { price: Price(1_000_000), qty: Qty(100), orders: 1 };
        MdMessage::Snapshot(Snapshot {
            channel: channel_of(security),
            seq,
            security_seq: seq,
            security,
            flags: 0,
            time_ns: 0,
            session_id: self.session_id,
            phase: TradingPhase::Continuous,
            last: Price(1_000_000),
            volume: 0,
            turnover: 0,
            indicative: Indicative::default(),
            bid_count: 1,
            ask_count: 0,
            bids,
            asks: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
        })
    }
}

fn delta(security: SecurityId, seq: u64, prev_seq: u64) -> MdMessage {
    let h = DeltaHeader {
        channel: channel_of(security),
        seq,
        prev_seq,
        security,
        flags: 0,
        time_ns: 0,
    };
    let level =
        WireLevel { price: Price(1_000_000 + seq as i64 % 50 * 100), qty: Qty(100), orders: 1 };
    MdMessage::Delta(h, DeltaBody::Level { side: Side::Buy, level })
}

/// The server messages an operation sends.
fn messages(op: &Op, server: &mut Server, feed: &Feed) -> Vec<MdMessage> {
    let last_of = |sec: usize| feed.book(SECURITIES[sec]).map_or(0, |b| b.last_seq());
    match *op {
        Op::Delta { sec, step, follows } => {
            let security = SECURITIES[sec];
            let seq = server.next_seq(security, step);
            let last = last_of(sec);
            let prev = if follows && last < seq { last } else { seq - 1 };
            vec![delta(security, seq, prev)]
        }
        Op::Old { sec, back } => {
            let last = last_of(sec);
            if last < 2 + back {
                return Vec::new();
            }
            vec![delta(SECURITIES[sec], last - back, last - back - 1)]
        }
        Op::Wide { sec } => {
            let security = SECURITIES[sec];
            let seq = server.next_seq(security, 20_000);
            vec![delta(security, seq, seq - 1)]
        }
        Op::Notice { sec, back, len } => {
            let security = SECURITIES[sec];
            let last = server.channel_seq[Server::slot(security)];
            let first_seq = last.saturating_sub(back).max(1);
            let last_seq = server.next_seq(security, len);
            let reason = GapReason::SlowConsumer;
            vec![MdMessage::GapNotice {
                channel: channel_of(security),
                first_seq,
                last_seq,
                reason,
            }]
        }
        Op::Reject => match server.retransmits.pop() {
            Some((request_id, channel)) => vec![MdMessage::RetransmitReject {
                request_id,
                code: MdReject::RANGE_UNAVAILABLE,
                channel,
                first_available: 1,
            }],
            None => Vec::new(),
        },
        Op::Heartbeat { new_session } => {
            if new_session {
                server.session_id += 1;
                server.channel_seq = [0, 0];
            }
            let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
            channels[0] = (160, server.channel_seq[0]);
            channels[1] = (200, server.channel_seq[1]);
            vec![MdMessage::Heartbeat { session_id: server.session_id, count: 2, channels }]
        }
        Op::Answer => {
            let Some((request_id, target)) = server.subscribes.pop() else { return Vec::new() };
            let (channel, covered): (u16, &[SecurityId]) = match target {
                Target::Security(_) => (160, &SECURITIES[..1]),
                Target::Channel(c) => (c, &SECURITIES[1..]),
            };
            let mut out = vec![MdMessage::SubscribeAck { request_id, channel }];
            out.extend(covered.iter().map(|s| server.snapshot(*s)));
            out
        }
    }
}

/// Takes what the feed decided and checks it; remembers what the server must answer.
fn take_requests(feed: &mut Feed, server: &mut Server) -> Result<(), TestCaseError> {
    let books = feed.books().len();
    let sent: Vec<MdMessage> = feed.take_outgoing().collect();
    prop_assert!(sent.len() <= books + 2, "{} requests for one message: {sent:?}", sent.len());
    for msg in sent {
        let mut buf = [0u8; protocol::MAX_FRAME_LEN];
        let n = msg.encode(&mut buf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(decode_client(&buf[..n]), Ok(msg), "a well-formed request");
        match msg {
            MdMessage::Subscribe { request_id, target, .. } => {
                server.subscribes.push((request_id, target))
            }
            MdMessage::RetransmitRequest { request_id, channel, .. } => {
                server.retransmits.push((request_id, channel))
            }
            other => prop_assert!(false, "unexpected request {other:?}"),
        }
    }
    for book in feed.books() {
        let recovering = matches!(book.state(), SyncState::Recovering(_));
        prop_assert_eq!(book.retransmit_request().is_some(), recovering, "{:?}", book.security());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_feed_stays_consistent_on_random_traffic(ops in proptest::collection::vec(op(), 1..120)) {
        let mut feed = Feed::new(1, FeedLimits::default());
        let mut server =
            Server { session_id: 1, channel_seq: [0, 0], subscribes: Vec::new(), retransmits: Vec::new() };
        feed.subscribe(Target::Security(SECURITIES[0]), Depth::Level1, Mode::RealTime, 0).unwrap();
        feed.subscribe(Target::Channel(200), Depth::Level2, Mode::Conflated, 100).unwrap();
        take_requests(&mut feed, &mut server)?;
        server.subscribes.reverse(); // answered in the order sent
        for _ in 0..2 {
            for msg in messages(&Op::Answer, &mut server, &feed) {
                feed.on_message(&msg).unwrap();
            }
        }
        prop_assert!(feed.all_synced());
        for op in &ops {
            for msg in messages(op, &mut server, &feed) {
                if let Err(e) = feed.on_message(&msg) {
                    return Err(TestCaseError::fail(format!("{op:?}: {e}")));
                }
                take_requests(&mut feed, &mut server)?;
            }
        }
        prop_assert_eq!(feed.books().len(), 3);
    }
}

/// A session on more than 32 channels gets one Heartbeat per 32: each channel's
/// last sequence is what the latest Heartbeat listing it said, and a new
/// session's Heartbeat forgets the old session's channels.
#[test]
fn heartbeats_in_several_frames_add_up_and_a_new_session_starts_over() {
    let limits = FeedLimits { books_max: 4, subscriptions_max: 40, trades_kept: 4 };
    let mut feed = Feed::new(SESSION, limits);
    let heartbeat = |session_id: u64, from: u16, n: usize, seq: u64| {
        let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
        for (k, c) in channels.iter_mut().take(n).enumerate() {
            *c = (from + k as u16, seq);
        }
        MdMessage::Heartbeat { session_id, count: n as u8, channels }
    };
    feed.on_message(&heartbeat(SESSION, 0, 32, 5)).unwrap();
    feed.on_message(&heartbeat(SESSION, 32, 8, 6)).unwrap();
    assert_eq!(feed.channel_last_seq(0), Some(5));
    assert_eq!(feed.channel_last_seq(31), Some(5));
    assert_eq!(feed.channel_last_seq(39), Some(6));
    assert_eq!(feed.channel_last_seq(40), None);
    // The next round updates in place.
    feed.on_message(&heartbeat(SESSION, 0, 32, 9)).unwrap();
    assert_eq!((feed.channel_last_seq(0), feed.channel_last_seq(39)), (Some(9), Some(6)));
    // A new session: only what it lists.
    feed.on_message(&heartbeat(SESSION + 1, 32, 2, 1)).unwrap();
    assert_eq!(feed.channel_last_seq(0), None);
    assert_eq!(feed.channel_last_seq(33), Some(1));
}
