//! The market-data feed end to end, without sockets: the venue's events and
//! snapshots go through the wire encoding into a `BookBuilder`, which must hold the
//! venue's book after every operation; lost deltas are found and recovered by a
//! retransmitted range or by a new snapshot.

mod common;

use common::*;
use proptest::prelude::*;
use protocol::marketdata::{
    BookBuilder, FLAG_RETRANSMIT, GapReason, MdMessage, MdReject, SyncAction, SyncState, WireLevel,
    channel_of, decode_server,
};
use protocol::{OrderType, Price, Qty, SecurityId, Side, TimeInForce, TradingPhase};
use sim_exchange::{Event, Exchange, Level, MarketEvent, Schedule, VenueOrder};

const SESSION: u64 = 20_261_207;

/// Through the wire: encode, then decode as a subscriber would.
fn wire(msg: &MdMessage) -> MdMessage {
    let mut buf = [0u8; protocol::MAX_FRAME_LEN];
    let n = msg.encode(&mut buf).expect("fits a frame");
    decode_server(&buf[..n]).expect("decodes")
}

fn snapshot(ex: &Exchange, security: SecurityId) -> MdMessage {
    let mut bids = [Level::default(); 10];
    let mut asks = [Level::default(); 10];
    let snap = ex.market_snapshot(security, &mut bids, &mut asks).unwrap();
    wire(&snap.to_wire(security, SESSION, 0, &bids, &asks))
}

/// The builder holds the venue's levels (all of them: the test books stay within
/// ten prices a side) and its day.
fn same_book(b: &BookBuilder, ex: &Exchange, security: SecurityId) -> Result<(), String> {
    let mut bids = [Level::default(); 16];
    let mut asks = [Level::default(); 16];
    let (nb, na) = ex.l2(security, &mut bids, &mut asks).unwrap();
    let w = |l: &[Level]| -> Vec<WireLevel> {
        l.iter().map(|l| WireLevel { price: l.price, qty: l.qty, orders: l.orders }).collect()
    };
    if b.bids() != w(&bids[..nb]).as_slice() || b.asks() != w(&asks[..na]).as_slice() {
        return Err(format!(
            "builder {:?} / {:?}\nvenue {:?} / {:?}",
            b.bids(),
            b.asks(),
            &bids[..nb],
            &asks[..na]
        ));
    }
    let l1 = ex.l1(security).unwrap();
    if (b.volume, b.turnover, b.phase) != (l1.volume.0, l1.turnover, l1.phase) {
        return Err(format!("builder day {:?} vs venue {l1:?}", (b.volume, b.turnover, b.phase)));
    }
    if l1.trades > 0 && b.last != l1.last {
        return Err(format!("last {:?} vs {:?}", b.last, l1.last));
    }
    Ok(())
}

#[derive(Clone, Debug)]
enum Op {
    New { buy: bool, ticks: i64, lots: u64, market: bool },
    Cancel(usize),
    Replace { pick: usize, ticks: i64, lots: u64 },
    Auction,
    Continuous,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (any::<bool>(), -4i64..=5, 1u64..6, prop::bool::weighted(0.1))
            .prop_map(|(buy, ticks, lots, market)| Op::New { buy, ticks, lots, market }),
        3 => any::<usize>().prop_map(Op::Cancel),
        3 => (any::<usize>(), -4i64..=5, 1u64..6).prop_map(|(pick, ticks, lots)| Op::Replace { pick, ticks, lots }),
        1 => Just(Op::Auction),
        1 => Just(Op::Continuous),
    ]
}

/// A venue with the feed on, one security, prices within ten ticks.
struct Feed {
    ex: Exchange,
    now: u64,
    next_id: u64,
    ids: Vec<u64>,
}

impl Feed {
    fn new() -> Feed {
        let mut cfg = config(vec![spec(SEC, "10.00")], Schedule::AlwaysContinuous);
        cfg.market_data = true;
        Feed { ex: Exchange::new(cfg).unwrap(), now: 1, next_id: 1, ids: Vec::new() }
    }

    /// Runs one operation; returns its market-data events.
    fn step(&mut self, op: &Op) -> Vec<MarketEvent> {
        self.now += 1;
        let mut out = Vec::new();
        let mut sink = |e: Event| {
            if let Event::Market(m) = e {
                out.push(m);
            }
        };
        let pick = |n: usize, ids: &[u64]| if ids.is_empty() { 0 } else { ids[n % ids.len()] };
        match *op {
            Op::New { buy, ticks, lots, market } => {
                let id = self.next_id;
                self.next_id += 1;
                self.ids.push(id);
                let side = if buy { Side::Buy } else { Side::Sell };
                let o = if market {
                    VenueOrder {
                        order_id: id,
                        ..common::market(id, side, OrderType::MarketBest5Cancel, lots * 300)
                    }
                } else {
                    VenueOrder {
                        order_id: id,
                        owner: 1,
                        security: SEC,
                        side,
                        order_type: OrderType::Limit,
                        tif: TimeInForce::Day,
                        price: Price(100_000 + ticks * 100),
                        qty: Qty(lots * 100),
                    }
                };
                self.ex.submit(&o, self.now, &mut sink);
            }
            Op::Cancel(n) => self.ex.cancel(pick(n, &self.ids), self.now, &mut sink),
            Op::Replace { pick: n, ticks, lots } => {
                let price = Price(100_000 + ticks * 100);
                self.ex.replace(pick(n, &self.ids), price, Qty(lots * 100), self.now, &mut sink)
            }
            Op::Auction => {
                self.ex.set_phase(None, TradingPhase::OpeningAuction, self.now, &mut sink)
            }
            Op::Continuous => {
                self.ex.set_phase(None, TradingPhase::Continuous, self.now, &mut sink)
            }
        }
        out
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A subscriber that joins at any moment, takes the snapshot and applies every
    /// delta after it through the wire encoding, holds the venue's book after every
    /// operation.
    #[test]
    fn snapshot_then_deltas_equal_the_venue_book(
        ops in prop::collection::vec(op(), 1..150),
        join in 0usize..150,
    ) {
        let mut feed = Feed::new();
        let mut builder = BookBuilder::new(SEC, 64);
        for (i, op) in ops.iter().enumerate() {
            if i == join {
                prop_assert_eq!(builder.on_message(&snapshot(&feed.ex, SEC)), SyncAction::Applied);
                same_book(&builder, &feed.ex, SEC).map_err(TestCaseError::fail)?;
            }
            for m in feed.step(op) {
                let action = builder.on_message(&wire(&m.to_wire()));
                let expected = if i < join { SyncAction::None } else { SyncAction::Applied };
                prop_assert_eq!(action, expected);
            }
            if i >= join {
                same_book(&builder, &feed.ex, SEC).map_err(TestCaseError::fail)?;
            }
        }
    }
}

/// A book with some depth and a few trades, and the events that built it.
fn busy_feed() -> (Feed, Vec<MarketEvent>) {
    let mut feed = Feed::new();
    let mut history = Vec::new();
    for i in 0..40u64 {
        let op =
            Op::New { buy: i % 2 == 0, ticks: (i % 7) as i64 - 3, lots: 1 + i % 3, market: false };
        history.extend(feed.step(&op));
    }
    (feed, history)
}

#[test]
fn a_lost_delta_is_found_and_recovered_by_range() {
    let (mut feed, mut history) = busy_feed();
    let mut b = BookBuilder::new(SEC, 64);
    assert_eq!(b.on_message(&snapshot(&feed.ex, SEC)), SyncAction::Applied);
    let applied = b.last_seq();
    let mut live = Vec::new();
    for i in 0..10u64 {
        live.extend(feed.step(&Op::New { buy: i % 2 == 1, ticks: 1, lots: 1, market: false }));
    }
    history.extend(live.iter().copied());
    // The first live delta is lost; the next one reveals the gap.
    let lost = live[0];
    let revealing = live[1];
    let action = b.on_message(&wire(&revealing.to_wire()));
    assert_eq!(
        action,
        SyncAction::Retransmit {
            channel: channel_of(SEC),
            from_seq: applied + 1,
            count: (revealing.seq - applied) as u32
        }
    );
    assert_eq!(lost.seq, applied + 1, "the range starts at the lost delta");
    assert_eq!(b.state(), SyncState::Recovering(revealing.seq));
    // Live deltas that cannot apply wait for the recovery; no second request.
    for m in &live[2..] {
        assert_eq!(b.on_message(&wire(&m.to_wire())), SyncAction::Waiting);
    }
    // The retransmission: the requested range, flagged, then the rest again.
    for m in history.iter().filter(|m| m.seq > applied) {
        let mut msg = m.to_wire();
        if let MdMessage::Delta(h, _) = &mut msg {
            h.flags = FLAG_RETRANSMIT;
        }
        assert_eq!(b.on_message(&wire(&msg)), SyncAction::Applied);
    }
    assert_eq!(b.state(), SyncState::Synced);
    same_book(&b, &feed.ex, SEC).unwrap();
    // Live again; a late duplicate is ignored.
    for m in feed.step(&Op::Cancel(3)) {
        assert_eq!(b.on_message(&wire(&m.to_wire())), SyncAction::Applied);
    }
    assert_eq!(b.on_message(&wire(&revealing.to_wire())), SyncAction::Duplicate);
    same_book(&b, &feed.ex, SEC).unwrap();
}

#[test]
fn a_range_gone_from_history_is_recovered_by_a_new_snapshot() {
    let (mut feed, _) = busy_feed();
    let mut b = BookBuilder::new(SEC, 64);
    b.on_message(&snapshot(&feed.ex, SEC));
    let live: Vec<MarketEvent> = (0..5)
        .flat_map(|_| feed.step(&Op::New { buy: true, ticks: -2, lots: 1, market: false }))
        .collect();
    let action = b.on_message(&wire(&live[3].to_wire()));
    let SyncAction::Retransmit { channel, .. } = action else { panic!("a gap: {action:?}") };
    let reject = MdMessage::RetransmitReject {
        request_id: 7,
        code: MdReject::RANGE_UNAVAILABLE,
        channel,
        first_available: live[4].seq,
    };
    assert_eq!(b.on_message(&wire(&reject)), SyncAction::Resnapshot);
    assert_eq!(b.state(), SyncState::Unsynced);
    // Deltas are not applied until the new snapshot.
    assert_eq!(b.on_message(&wire(&live[4].to_wire())), SyncAction::None);
    assert_eq!(b.on_message(&snapshot(&feed.ex, SEC)), SyncAction::Applied);
    for m in feed.step(&Op::New { buy: false, ticks: 5, lots: 2, market: false }) {
        assert_eq!(b.on_message(&wire(&m.to_wire())), SyncAction::Applied);
    }
    same_book(&b, &feed.ex, SEC).unwrap();
}

#[test]
fn a_gap_notice_asks_for_exactly_the_missed_range() {
    let (feed, _) = busy_feed();
    let mut b = BookBuilder::new(SEC, 64);
    b.on_message(&snapshot(&feed.ex, SEC));
    let last = b.last_seq();
    let notice = MdMessage::GapNotice {
        channel: channel_of(SEC),
        first_seq: last + 1,
        last_seq: last + 9,
        reason: GapReason::SlowConsumer,
    };
    assert_eq!(
        b.on_message(&wire(&notice)),
        SyncAction::Retransmit { channel: channel_of(SEC), from_seq: last + 1, count: 9 }
    );
    // A notice on another channel is not this book's business.
    let other = MdMessage::GapNotice {
        channel: channel_of(SEC) + 1,
        first_seq: last + 1,
        last_seq: last + 9,
        reason: GapReason::SlowConsumer,
    };
    let mut fresh = BookBuilder::new(SEC, 64);
    fresh.on_message(&snapshot(&feed.ex, SEC));
    assert_eq!(fresh.on_message(&wire(&other)), SyncAction::None);
}

/// A snapshot states the book through the channel's `seq`, past the security's own
/// last message when other securities of the channel moved since: a GapNotice
/// that ends there is covered already (the server sends exactly that after it
/// catches a slow subscriber up with snapshots); one that goes beyond asks only
/// for what lies beyond.
#[test]
fn a_gap_notice_a_snapshot_covers_asks_for_nothing() {
    let (feed, _) = busy_feed();
    let MdMessage::Snapshot(mut snap) = snapshot(&feed.ex, SEC) else { panic!("a snapshot") };
    snap.seq = snap.security_seq + 50;
    let mut b = BookBuilder::new(SEC, 64);
    assert_eq!(b.on_message(&wire(&MdMessage::Snapshot(snap))), SyncAction::Applied);
    let notice = |first_seq, last_seq| MdMessage::GapNotice {
        channel: channel_of(SEC),
        first_seq,
        last_seq,
        reason: GapReason::SlowConsumer,
    };
    let covered = notice(snap.security_seq + 1, snap.seq);
    assert_eq!(b.on_message(&wire(&covered)), SyncAction::None);
    assert_eq!(b.state(), SyncState::Synced);
    let beyond = notice(snap.security_seq + 1, snap.seq + 5);
    assert_eq!(
        b.on_message(&wire(&beyond)),
        SyncAction::Retransmit { channel: channel_of(SEC), from_seq: snap.seq + 1, count: 5 }
    );
}

#[test]
fn a_heartbeat_of_a_new_session_asks_for_a_new_snapshot() {
    let (feed, _) = busy_feed();
    let mut b = BookBuilder::new(SEC, 64);
    b.on_message(&snapshot(&feed.ex, SEC));
    let mut channels = [(0u16, 0u64); protocol::marketdata::HEARTBEAT_CHANNELS_MAX];
    channels[0] = (channel_of(SEC), b.last_seq());
    let same = MdMessage::Heartbeat { session_id: SESSION, count: 1, channels };
    assert_eq!(b.on_message(&wire(&same)), SyncAction::None);
    let restarted = MdMessage::Heartbeat { session_id: SESSION + 1, count: 1, channels };
    assert_eq!(b.on_message(&wire(&restarted)), SyncAction::Resnapshot);
    assert_eq!(b.state(), SyncState::Unsynced);
}

#[test]
fn channel_sequences_run_on_across_the_end_of_day_and_restart_after_a_restore() {
    let (mut feed, history) = busy_feed();
    let last = history.last().unwrap().seq;
    assert_eq!(history.iter().map(|m| m.seq).collect::<Vec<_>>(), (1..=last).collect::<Vec<_>>());
    let mut events = Vec::new();
    feed.ex.end_of_day(feed.now + 1, &mut |e| {
        if let Event::Market(m) = e {
            events.push(m)
        }
    });
    assert_eq!(events.first().unwrap().seq, last + 1, "the day's sequence continues");
    let mut bytes = Vec::new();
    feed.ex.snapshot_to(&mut bytes).unwrap();
    let mut restored = Exchange::restore_from(&mut bytes.as_slice()).unwrap();
    let mut after = Vec::new();
    restored.submit(&limit(9_999, Side::Buy, "10.00", 100), feed.now + 2, &mut |e| {
        if let Event::Market(m) = e {
            after.push(m)
        }
    });
    assert_eq!(
        after.first().map(|m| (m.seq, m.prev_seq)),
        Some((1, 0)),
        "a new session starts at 1"
    );
}

#[test]
fn the_indicative_uncross_is_published_as_it_changes_during_a_call_auction() {
    let mut feed = Feed::new();
    feed.step(&Op::Auction);
    let mut published = Vec::new();
    for op in [
        Op::New { buy: true, ticks: 2, lots: 3, market: false },
        Op::New { buy: false, ticks: -1, lots: 1, market: false },
        Op::New { buy: false, ticks: 0, lots: 1, market: false },
    ] {
        for m in feed.step(&op) {
            if let sim_exchange::MarketEventKind::Indicative(u) = m.kind {
                published.push(u);
            }
        }
        assert_eq!(published.last().copied().flatten(), feed.ex.indicative_uncross(SEC));
    }
    // Nothing crossed after the first order; each sell then changed the result.
    assert_eq!(published.len(), 2, "{published:?}");
    let ended: Vec<_> = feed.step(&Op::Continuous);
    assert!(
        ended.iter().any(|m| matches!(
            m.kind,
            sim_exchange::MarketEventKind::Trade { aggressor: None, .. }
        ))
    );
    assert!(ended.iter().any(|m| m.kind == sim_exchange::MarketEventKind::Indicative(None)));
}
