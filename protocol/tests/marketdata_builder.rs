//! `BookBuilder` on hand-made messages: level bookkeeping, the sequence rule, and the
//! recovery decisions the venue-driven tests (`sim-exchange/tests/market_data.rs`)
//! do not reach.

use protocol::marketdata::{
    BookBuilder, DeltaBody, DeltaHeader, Indicative, MdMessage, RETRANSMIT_COUNT_MAX,
    SNAPSHOT_LEVELS_MAX, Snapshot, SyncAction, SyncState, WireLevel, channel_of,
};
use protocol::{Market, Price, Qty, SecurityId, Side, TradingPhase};

const SEC: SecurityId = SecurityId { market: Market::Szse, code: 300_750 };

fn snapshot(seq: u64, security_seq: u64) -> MdMessage {
    let mut bids = [WireLevel::default(); SNAPSHOT_LEVELS_MAX];
    bids[0] = WireLevel { price: Price(2_000_000), qty: Qty(500), orders: 2 };
    MdMessage::Snapshot(Snapshot {
        channel: channel_of(SEC),
        seq,
        security_seq,
        security: SEC,
        flags: 0,
        time_ns: 0,
        session_id: 1,
        phase: TradingPhase::Continuous,
        last: Price(2_000_000),
        volume: 0,
        turnover: 0,
        indicative: Indicative::default(),
        bid_count: 1,
        ask_count: 0,
        bids,
        asks: [WireLevel::default(); SNAPSHOT_LEVELS_MAX],
    })
}

fn level(seq: u64, prev_seq: u64, side: Side, price: i64, qty: u64, orders: u32) -> MdMessage {
    let h = DeltaHeader {
        channel: channel_of(SEC),
        seq,
        prev_seq,
        security: SEC,
        flags: 0,
        time_ns: 0,
    };
    MdMessage::Delta(
        h,
        DeltaBody::Level { side, level: WireLevel { price: Price(price), qty: Qty(qty), orders } },
    )
}

fn prices(levels: &[WireLevel]) -> Vec<i64> {
    levels.iter().map(|l| l.price.0).collect()
}

#[test]
fn deltas_before_a_snapshot_are_not_applied() {
    let mut b = BookBuilder::new(SEC, 10);
    assert_eq!(b.on_message(&level(5, 0, Side::Buy, 1_990_000, 100, 1)), SyncAction::None);
    assert_eq!(b.state(), SyncState::Unsynced);
    assert!(b.bids().is_empty());
}

#[test]
fn levels_stay_sorted_best_first_and_within_their_limit() {
    let mut b = BookBuilder::new(SEC, 3);
    assert_eq!(b.on_message(&snapshot(100, 90)), SyncAction::Applied);
    let steps = [
        (Side::Buy, 1_999_900, 100, 1),
        (Side::Buy, 2_000_100, 100, 1),
        (Side::Buy, 1_999_800, 100, 1), // fourth bid: beyond the limit, dropped
        (Side::Sell, 2_000_300, 200, 1),
        (Side::Sell, 2_000_200, 300, 3),
        (Side::Buy, 2_000_000, 0, 0), // removed
    ];
    let mut prev = 90;
    for (i, (side, price, qty, orders)) in steps.into_iter().enumerate() {
        let seq = 101 + i as u64;
        assert_eq!(b.on_message(&level(seq, prev, side, price, qty, orders)), SyncAction::Applied);
        prev = seq;
    }
    assert_eq!(prices(b.bids()), [2_000_100, 1_999_900]);
    assert_eq!(prices(b.asks()), [2_000_200, 2_000_300]);
    assert_eq!(b.asks()[0].qty, Qty(300));
    assert_eq!(b.last_seq(), 106);
}

#[test]
fn a_gap_wider_than_one_request_asks_for_a_new_snapshot() {
    let mut b = BookBuilder::new(SEC, 10);
    b.on_message(&snapshot(100, 90));
    let far = 90 + u64::from(RETRANSMIT_COUNT_MAX) + 2;
    assert_eq!(b.on_message(&level(far, far - 1, Side::Buy, 1, 1, 1)), SyncAction::Resnapshot);
    assert_eq!(b.state(), SyncState::Unsynced);
}

#[test]
fn a_gap_within_one_request_asks_for_the_range_up_to_the_delta() {
    let mut b = BookBuilder::new(SEC, 10);
    b.on_message(&snapshot(100, 90));
    let action = b.on_message(&level(120, 110, Side::Buy, 1_990_000, 100, 1));
    assert_eq!(
        action,
        SyncAction::Retransmit { channel: channel_of(SEC), from_seq: 91, count: 30 }
    );
    assert_eq!(b.state(), SyncState::Recovering(120));
    // Another security's delta is not this book's business.
    let other = SecurityId { market: Market::Szse, code: 300_751 };
    let h = DeltaHeader {
        channel: channel_of(other),
        seq: 121,
        prev_seq: 0,
        security: other,
        flags: 0,
        time_ns: 0,
    };
    let msg = MdMessage::Delta(
        h,
        DeltaBody::Phase {
            phase: TradingPhase::Halted,
            kind: protocol::marketdata::PhaseKind::Halt,
        },
    );
    assert_eq!(b.on_message(&msg), SyncAction::None);
}
