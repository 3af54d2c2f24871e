//! The publisher's core on virtual time, without sockets: frames in, bytes out.

use std::sync::Arc;

use protocol::marketdata::{
    BookBuilder, Depth, FLAG_CONFLATED, FLAG_RETRANSMIT, MdMessage, MdReject, Mode, SyncAction,
    Target, decode_server,
};
use protocol::{Market, Price, Qty, SecurityId, Side, Token, Username};
use sim_exchange::{MarketEvent, MarketEventKind};

use super::publisher::{Limits, MdLogin, Publisher};
use crate::md_feed::MdFeed;
use crate::metrics::MdMetrics;

const MOUTAI: u32 = 600_519;
const PING_AN: u32 = 601_318;

fn sec(code: u32) -> SecurityId {
    SecurityId { market: Market::Sse, code }
}

fn publisher(queue_bytes: usize, history: usize) -> Publisher {
    let limits = Limits {
        max_connections: 4,
        max_subscriptions: 4,
        queue_bytes,
        history_messages: history,
        heartbeat_ns: 1_000_000_000,
        login_timeout_ns: 1_000_000_000,
    };
    let logins = vec![MdLogin {
        username: Username::new("u").unwrap(),
        token: Token::from_text("u-secret-1").unwrap(),
        depth: Some(Depth::Level2),
    }];
    let secs = [sec(MOUTAI), sec(PING_AN)];
    Publisher::new(limits, 77, logins, &secs, 16, Arc::new(MdMetrics::default()))
}

fn frame(msg: &MdMessage) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = msg.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Everything queued for slot `s`, decoded; the queue is then written.
fn drain(p: &mut Publisher, s: usize, now: u64) -> Vec<MdMessage> {
    let mut out = Vec::new();
    loop {
        let bytes = p.pending(s).to_vec();
        if bytes.is_empty() {
            return out;
        }
        let mut at = 0;
        while at < bytes.len() {
            let len = usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]])) + 2;
            out.push(decode_server(&bytes[at..at + len]).unwrap());
            at += len;
        }
        p.written(s, bytes.len(), now);
    }
}

fn login(p: &mut Publisher, s: usize) {
    p.open(s, 0);
    let msg = MdMessage::Login {
        version: 1,
        username: Username::new("u").unwrap(),
        token: Token::from_text("u-secret-1").unwrap(),
    };
    p.on_frame(s, &frame(&msg), 0);
    assert!(matches!(drain(p, s, 0)[..], [MdMessage::LoginAccepted { session_id: 77, .. }]));
}

fn subscribe(p: &mut Publisher, s: usize, target: Target, depth: Depth, mode: Mode, ms: u32) {
    let msg = MdMessage::Subscribe { request_id: 1, target, depth, mode, interval_ms: ms };
    p.on_frame(s, &frame(&msg), 0);
}

/// A venue-like event stream: the channel's sequence and each security's last.
struct Venue {
    seq: u64,
    last: [u64; 2],
}

impl Venue {
    fn event(&mut self, code: u32, kind: MarketEventKind) -> MdFeed {
        self.seq += 1;
        let i = usize::from(code == PING_AN);
        let prev_seq = self.last[i];
        self.last[i] = self.seq;
        MdFeed::Event(MarketEvent {
            channel: 160,
            seq: self.seq,
            prev_seq,
            security: sec(code),
            time_ns: self.seq,
            kind,
        })
    }
}

fn level(side: Side, price: i64, qty: u64) -> MarketEventKind {
    MarketEventKind::Level { side, price: Price(price), qty: Qty(qty), orders: u32::from(qty > 0) }
}

fn trade(price: i64, qty: u64) -> MarketEventKind {
    MarketEventKind::Trade {
        exec_id: 1,
        price: Price(price),
        qty: Qty(qty),
        buy_order_id: 1,
        sell_order_id: 2,
        aggressor: Some(Side::Buy),
    }
}

fn feed(p: &mut Publisher, items: impl IntoIterator<Item = MdFeed>) {
    for i in items {
        p.on_feed(i, 0);
    }
}

fn apply_all(b: &mut BookBuilder, msgs: &[MdMessage]) {
    for m in msgs {
        let a = b.on_message(m);
        assert!(
            !matches!(a, SyncAction::Retransmit { .. } | SyncAction::Resnapshot),
            "{a:?} at {m:?}"
        );
    }
}

#[test]
fn a_level2_channel_subscriber_rebuilds_every_book() {
    let mut p = publisher(1 << 16, 64);
    login(&mut p, 0);
    subscribe(&mut p, 0, Target::Channel(160), Depth::Level2, Mode::RealTime, 0);
    let mut v = Venue { seq: 0, last: [0; 2] };
    let mut items = Vec::new();
    for k in 0..8 {
        items.push(v.event(MOUTAI, level(Side::Buy, 1_000_000 - k * 100, 100 + k as u64)));
        items.push(v.event(PING_AN, level(Side::Sell, 500_000 + k * 100, 200)));
    }
    items.push(v.event(MOUTAI, trade(999_900, 100)));
    items.push(v.event(MOUTAI, level(Side::Buy, 1_000_000, 0)));
    feed(&mut p, items);
    let msgs = drain(&mut p, 0, 0);
    for code in [MOUTAI, PING_AN] {
        let mut b = BookBuilder::new(sec(code), 100);
        apply_all(&mut b, &msgs);
        let image = p.book(sec(code)).unwrap();
        assert_eq!(b.bids(), image.bids());
        assert_eq!(b.asks(), image.asks());
    }
}

#[test]
fn level1_gets_a_snapshot_when_the_sixth_level_moves_up() {
    let mut p = publisher(1 << 16, 64);
    login(&mut p, 0);
    subscribe(&mut p, 0, Target::Security(sec(MOUTAI)), Depth::Level1, Mode::RealTime, 0);
    let mut v = Venue { seq: 0, last: [0; 2] };
    let items: Vec<MdFeed> =
        (0..7).map(|k| v.event(MOUTAI, level(Side::Buy, 1_000_000 - k * 100, 100))).collect();
    feed(&mut p, items);
    let mut b = BookBuilder::new(sec(MOUTAI), 5);
    let first = drain(&mut p, 0, 0);
    // The sixth and seventh levels are not Level-1's.
    assert_eq!(first.iter().filter(|m| matches!(m, MdMessage::Delta(..))).count(), 5);
    apply_all(&mut b, &first);
    feed(&mut p, [v.event(MOUTAI, level(Side::Buy, 1_000_000, 0))]);
    let refresh = drain(&mut p, 0, 0);
    assert!(matches!(refresh[..], [MdMessage::Snapshot(s)] if s.bid_count == 5), "{refresh:?}");
    apply_all(&mut b, &refresh);
    assert_eq!(b.bids(), &p.book(sec(MOUTAI)).unwrap().bids()[..5]);
    // A level beyond the five changes nothing for Level-1; the next one within chains.
    feed(&mut p, [v.event(MOUTAI, level(Side::Buy, 999_100, 300))]);
    feed(&mut p, [v.event(MOUTAI, level(Side::Buy, 999_900, 50))]);
    let more = drain(&mut p, 0, 0);
    assert_eq!(more.len(), 1);
    apply_all(&mut b, &more);
    assert_eq!(b.bids(), &p.book(sec(MOUTAI)).unwrap().bids()[..5]);
}

#[test]
fn a_subscriber_that_does_not_drain_gets_snapshots_and_an_exact_gap_notice() {
    let mut p = publisher(4096, 1024);
    login(&mut p, 0);
    subscribe(&mut p, 0, Target::Channel(160), Depth::Level2, Mode::RealTime, 0);
    let mut b = BookBuilder::new(sec(MOUTAI), 100);
    apply_all(&mut b, &drain(&mut p, 0, 0));
    let mut v = Venue { seq: 0, last: [0; 2] };
    let mut trades = Vec::new();
    for k in 0..200 {
        let kind = if k % 3 == 0 {
            trade(1_000_000, 100)
        } else {
            level(Side::Sell, 1_000_000 + (k % 7) * 100, 100 + k as u64)
        };
        let item = v.event(MOUTAI, kind);
        if k % 3 == 0 {
            trades.push(v.seq);
        }
        feed(&mut p, [item]);
    }
    let msgs = drain(&mut p, 0, 0);
    let notices: Vec<(u64, u64)> = msgs
        .iter()
        .filter_map(|m| match *m {
            MdMessage::GapNotice { first_seq, last_seq, .. } => Some((first_seq, last_seq)),
            _ => None,
        })
        .collect();
    assert_eq!(notices.len(), 1, "{notices:?}");
    let (first, last) = notices[0];
    let delivered: Vec<u64> = msgs
        .iter()
        .filter_map(|m| match m {
            MdMessage::Delta(h, _) => Some(h.seq),
            _ => None,
        })
        .collect();
    // Exact: delivered up to first - 1, withheld first..=last, nothing after.
    assert_eq!(delivered, (1..first).collect::<Vec<_>>());
    assert_eq!(last, v.seq);
    assert!(trades.iter().all(|t| delivered.contains(t) || (first..=last).contains(t)));
    assert!(
        msgs.iter().any(|m| matches!(m, MdMessage::Snapshot(s) if s.flags & FLAG_CONFLATED != 0))
    );
    apply_all(&mut b, &msgs);
    let image = p.book(sec(MOUTAI)).unwrap();
    assert_eq!(b.asks(), &image.asks()[..image.asks().len().min(10)]);
    assert_eq!(b.last_seq(), v.seq);
}

#[test]
fn retransmission_answers_flagged_or_refuses_with_the_documented_codes() {
    let mut p = publisher(1 << 16, 16);
    login(&mut p, 0);
    subscribe(&mut p, 0, Target::Channel(160), Depth::Level2, Mode::RealTime, 0);
    let mut v = Venue { seq: 0, last: [0; 2] };
    let items: Vec<MdFeed> =
        (0..40).map(|k| v.event(PING_AN, level(Side::Buy, 500_000, 100 + k))).collect();
    feed(&mut p, items);
    drain(&mut p, 0, 0);
    let ask = |p: &mut Publisher, from_seq, count| {
        let req = MdMessage::RetransmitRequest { request_id: 5, channel: 160, from_seq, count };
        p.on_frame(0, &frame(&req), 0);
        drain(p, 0, 0)
    };
    let answer = ask(&mut p, 30, 5);
    assert_eq!(answer.len(), 5);
    for (m, seq) in answer.iter().zip(30..) {
        assert!(
            matches!(m, MdMessage::Delta(h, _) if h.seq == seq && h.flags == FLAG_RETRANSMIT && h.prev_seq == seq - 1)
        );
    }
    let gone = ask(&mut p, 1, 5);
    assert!(
        matches!(
            gone[..],
            [MdMessage::RetransmitReject {
                code: MdReject::RANGE_UNAVAILABLE,
                first_available: 25,
                ..
            }]
        ),
        "{gone:?}"
    );
    let ahead = ask(&mut p, 40, 2);
    assert!(
        matches!(ahead[..], [MdMessage::RetransmitReject { code: MdReject::RANGE_AHEAD, .. }]),
        "{ahead:?}"
    );
}

#[test]
fn events_lost_before_the_publisher_are_a_gap_notice_and_a_range_gone() {
    let mut p = publisher(1 << 16, 64);
    login(&mut p, 0);
    subscribe(&mut p, 0, Target::Security(sec(PING_AN)), Depth::Level2, Mode::RealTime, 0);
    let mut v = Venue { seq: 0, last: [0; 2] };
    let items: Vec<MdFeed> =
        (0..5).map(|k| v.event(PING_AN, level(Side::Buy, 500_000, 100 + k))).collect();
    feed(&mut p, items);
    drain(&mut p, 0, 0);
    // Three events never reach the publisher (the engine's ring was full).
    for _ in 0..3 {
        v.event(PING_AN, level(Side::Buy, 500_100, 100));
    }
    feed(&mut p, [v.event(PING_AN, level(Side::Buy, 500_000, 1))]);
    let msgs = drain(&mut p, 0, 0);
    assert!(matches!(msgs[0], MdMessage::GapNotice { first_seq: 6, last_seq: 8, .. }), "{msgs:?}");
    let req = MdMessage::RetransmitRequest { request_id: 6, channel: 160, from_seq: 6, count: 3 };
    p.on_frame(0, &frame(&req), 0);
    let answer = drain(&mut p, 0, 0);
    assert!(
        matches!(
            answer[..],
            [MdMessage::RetransmitReject {
                code: MdReject::RANGE_UNAVAILABLE,
                first_available: 9,
                ..
            }]
        ),
        "{answer:?}"
    );
}

#[test]
fn a_conflated_subscription_gets_one_snapshot_per_interval() {
    let mut p = publisher(1 << 16, 64);
    login(&mut p, 0);
    subscribe(&mut p, 0, Target::Security(sec(MOUTAI)), Depth::Level1, Mode::Conflated, 100);
    assert!(matches!(
        drain(&mut p, 0, 0)[..],
        [MdMessage::SubscribeAck { .. }, MdMessage::Snapshot(_)]
    ));
    let mut v = Venue { seq: 0, last: [0; 2] };
    let items: Vec<MdFeed> =
        (0..10).map(|k| v.event(MOUTAI, level(Side::Buy, 1_000_000, 100 + k))).collect();
    feed(&mut p, items);
    assert!(drain(&mut p, 0, 0).is_empty(), "nothing before the interval");
    p.tick(100_000_000);
    let msgs = drain(&mut p, 0, 100_000_000);
    assert!(
        matches!(msgs[..], [MdMessage::Snapshot(s)] if s.flags & FLAG_CONFLATED != 0 && s.bids[0].qty == Qty(109)),
        "{msgs:?}"
    );
}

/// Frames from the network, well-formed or not, in any state, never panic the
/// publisher; every request is answered or acted on.
#[test]
fn random_frames_never_panic() {
    let mut p = publisher(8192, 32);
    let mut v = Venue { seq: 0, last: [0; 2] };
    let mut rng = testkit::Rng::new(7);
    let mut now = 0;
    for round in 0..4_000u64 {
        let s = (round % 3) as usize;
        if round % 97 == 0 {
            p.close(s);
            p.open(s, now);
            if round % 2 == 0 {
                login(&mut p, s);
            }
        }
        let kind = rng.below(4);
        let bytes = if kind == 0 {
            // Any type byte, any body.
            let len = 1 + rng.below(40) as usize;
            let mut f = vec![0u8; len + 2];
            f[..2].copy_from_slice(&(len as u16).to_le_bytes());
            for b in &mut f[2..] {
                *b = rng.below(256) as u8;
            }
            if rng.below(2) == 0 {
                f[2] = [b'L', b'R', b'S', b'U', b'T'][rng.below(5) as usize];
            }
            f
        } else {
            let channel = [160u16, 200, 999, 0][rng.below(4) as usize];
            let msg = match kind {
                1 => MdMessage::RetransmitRequest {
                    request_id: rng.below(100) as u32,
                    channel,
                    from_seq: 1 + rng.below(u64::MAX - 1),
                    count: 1 + rng.below(10_000) as u32,
                },
                2 => MdMessage::Subscribe {
                    request_id: 1,
                    target: if rng.below(2) == 0 {
                        Target::Channel(channel)
                    } else {
                        Target::Security(sec(MOUTAI))
                    },
                    depth: if rng.below(2) == 0 { Depth::Level1 } else { Depth::Level2 },
                    mode: Mode::Conflated,
                    interval_ms: 1 + rng.below(1_000) as u32,
                },
                _ => MdMessage::Unsubscribe { request_id: 2, target: Target::Channel(channel) },
            };
            frame(&msg)
        };
        p.on_frame(s, &bytes, now);
        let code = if rng.below(2) == 0 { MOUTAI } else { PING_AN };
        let side = if rng.below(2) == 0 { Side::Buy } else { Side::Sell };
        let price = 1_000_000 + rng.below(20) as i64 * 100;
        let item = v.event(code, level(side, price, rng.below(3) * 100));
        p.on_feed(item, now);
        now += 1_000_000;
        p.tick(now);
        if rng.below(3) > 0 {
            let n = p.pending(s).len();
            p.written(s, n, now);
        }
    }
}

/// A session on more channels than one Heartbeat lists gets one Heartbeat per
/// 32 channels, together covering every channel it takes, with its last sequence.
#[test]
fn a_session_on_forty_channels_gets_its_heartbeat_in_two_frames() {
    let limits = Limits {
        max_connections: 1,
        max_subscriptions: 40,
        queue_bytes: 1 << 20,
        history_messages: 16,
        heartbeat_ns: 1_000_000_000,
        login_timeout_ns: 1_000_000_000,
    };
    let logins = vec![MdLogin {
        username: Username::new("u").unwrap(),
        token: Token::from_text("u-secret-1").unwrap(),
        depth: Some(Depth::Level1),
    }];
    // Forty securities, each alone on its channel (SZSE 000001, 010001, ...).
    let secs: Vec<SecurityId> =
        (0..40).map(|k| SecurityId { market: Market::Szse, code: k * 10_000 + 1 }).collect();
    let mut p = Publisher::new(limits, 77, logins, &secs, 16, Arc::new(MdMetrics::default()));
    login(&mut p, 0);
    for s in &secs {
        subscribe(&mut p, 0, Target::Security(*s), Depth::Level1, Mode::RealTime, 0);
    }
    let answers = drain(&mut p, 0, 0);
    let acks = answers.iter().filter(|m| matches!(m, MdMessage::SubscribeAck { .. })).count();
    assert_eq!(acks, 40);
    p.on_frame(0, &frame(&MdMessage::ClientHeartbeat), 1_000_000_000);
    p.tick(1_000_000_000);
    let beats: Vec<Vec<(u16, u64)>> = drain(&mut p, 0, 1_000_000_000)
        .into_iter()
        .filter_map(|m| match m {
            MdMessage::Heartbeat { session_id: 77, count, channels } => {
                Some(channels[..usize::from(count)].to_vec())
            }
            _ => None,
        })
        .collect();
    assert_eq!(beats.iter().map(Vec::len).collect::<Vec<_>>(), vec![32, 8]);
    let mut listed: Vec<u16> = beats.concat().iter().map(|c| c.0).collect();
    listed.sort_unstable();
    let mut expected: Vec<u16> =
        secs.iter().map(|s| protocol::marketdata::channel_of(*s)).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);
}
