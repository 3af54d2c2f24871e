//! The market-data codec: every message survives a round trip, malformed requests
//! and messages decode to the documented errors, and no byte string panics.

use proptest::prelude::*;
use protocol::marketdata::{
    DeltaBody, DeltaHeader, Depth, GapReason, HEARTBEAT_CHANNELS_MAX, INTERVAL_MS_MAX, Indicative,
    MD_VERSION, MESSAGE_TYPES, MdMessage, MdReject, Mode, PhaseKind, RETRANSMIT_COUNT_MAX,
    SNAPSHOT_LEVELS_MAX, Snapshot, Target, WireLevel, decode_client, decode_server,
};
use protocol::{
    DecodeError, MAX_FRAME_LEN, Market, Price, Qty, SecurityId, Side, Token, TradingPhase, Username,
};

const SEC: SecurityId = SecurityId { market: Market::Sse, code: 600_519 };

fn encode(msg: &MdMessage) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = msg.encode(&mut buf).expect("encodes");
    assert_eq!(n, msg.frame_len());
    buf[..n].to_vec()
}

fn subscribe(mode: Mode, interval_ms: u32) -> MdMessage {
    MdMessage::Subscribe {
        request_id: 9,
        target: Target::Security(SEC),
        depth: Depth::Level2,
        mode,
        interval_ms,
    }
}

fn header() -> DeltaHeader {
    DeltaHeader { channel: 160, seq: 42, prev_seq: 40, security: SEC, flags: 0, time_ns: 7 }
}

fn level_update(qty: u64, orders: u32) -> MdMessage {
    let level = WireLevel { price: Price(100_000), qty: Qty(qty), orders };
    MdMessage::Delta(header(), DeltaBody::Level { side: Side::Buy, level })
}

fn snapshot(bids: u8, asks: u8) -> Snapshot {
    let l = WireLevel { price: Price(100_000), qty: Qty(300), orders: 2 };
    // Entries past the counts are zero, as decoding leaves them.
    let used = |n: u8| {
        let mut levels = [WireLevel::default(); SNAPSHOT_LEVELS_MAX];
        levels.iter_mut().take(n.into()).for_each(|x| *x = l);
        levels
    };
    Snapshot {
        channel: 160,
        seq: 50,
        security_seq: 48,
        security: SEC,
        flags: 0,
        time_ns: 1,
        session_id: 3,
        phase: TradingPhase::Continuous,
        last: Price(99_900),
        volume: 1_000,
        turnover: 99_900_000,
        indicative: Indicative::default(),
        bid_count: bids,
        ask_count: asks,
        bids: used(bids),
        asks: used(asks),
    }
}

/// `bytes` with the `u8` at frame offset `at` set to `v`.
fn with_u8(mut bytes: Vec<u8>, at: usize, v: u8) -> Vec<u8> {
    bytes[at] = v;
    bytes
}

fn with_u32(mut bytes: Vec<u8>, at: usize, v: u32) -> Vec<u8> {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    bytes
}

fn bad_enum(field: &'static str, value: u64) -> DecodeError {
    DecodeError::BadEnum { field, value }
}

fn out_of_range(field: &'static str) -> DecodeError {
    DecodeError::OutOfRange { field }
}

#[test]
fn every_message_type_round_trips_at_its_documented_length() {
    let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
    channels[0] = (160, 77);
    channels[1] = (230, 5);
    let token = Token(*b"correct-horse-battery-staple\0\0\0\0");
    let client = [
        MdMessage::Login { version: MD_VERSION, username: Username::new("md01").unwrap(), token },
        MdMessage::ClientHeartbeat,
        subscribe(Mode::Conflated, 500),
        MdMessage::Unsubscribe { request_id: 4, target: Target::Channel(230) },
        MdMessage::RetransmitRequest { request_id: 5, channel: 160, from_seq: 10, count: 3 },
    ];
    let body = [
        DeltaBody::Level {
            side: Side::Sell,
            level: WireLevel { price: Price(1), qty: Qty(2), orders: 1 },
        },
        DeltaBody::Trade {
            exec_id: 1,
            price: Price(2),
            qty: Qty(3),
            buy_order_id: 4,
            sell_order_id: 5,
            aggressor: None,
        },
        DeltaBody::OrderAdded { order_id: 1, side: Side::Buy, price: Price(2), qty: Qty(3) },
        DeltaBody::OrderRemoved { order_id: 1, qty: Qty(0) },
        DeltaBody::Phase { phase: TradingPhase::Halted, kind: PhaseKind::Halt },
        DeltaBody::Indicative(Indicative { price: Price(5), qty: Qty(6), imbalance: 7 }),
    ];
    let mut server = vec![
        MdMessage::LoginAccepted { session_id: 1, heartbeat_ms: 1_000 },
        MdMessage::LoginRejected { code: MdReject::BAD_CREDENTIALS },
        MdMessage::SubscribeAck { request_id: 9, channel: 160 },
        MdMessage::SubscribeReject { request_id: 9, code: MdReject::UNKNOWN_SECURITY },
        MdMessage::RetransmitReject {
            request_id: 5,
            code: MdReject::RANGE_UNAVAILABLE,
            channel: 160,
            first_available: 900,
        },
        MdMessage::Snapshot(snapshot(10, 10)),
        MdMessage::Snapshot(snapshot(0, 3)),
        MdMessage::Heartbeat { session_id: 1, count: 2, channels },
        MdMessage::GapNotice {
            channel: 160,
            first_seq: 3,
            last_seq: 9,
            reason: GapReason::SlowConsumer,
        },
    ];
    server.extend(body.iter().map(|b| MdMessage::Delta(header(), *b)));
    let mut seen = std::collections::HashSet::new();
    for m in &client {
        assert_eq!(decode_client(&encode(m)), Ok(*m));
        assert_eq!(decode_server(&encode(m)), Err(DecodeError::UnknownType(m.msg_type())));
        seen.insert(m.msg_type());
    }
    for m in &server {
        assert_eq!(decode_server(&encode(m)), Ok(*m));
        assert_eq!(decode_client(&encode(m)), Err(DecodeError::UnknownType(m.msg_type())));
        seen.insert(m.msg_type());
    }
    assert_eq!(seen.len(), MESSAGE_TYPES.len(), "every type is covered");
    assert!(encode(&MdMessage::Snapshot(snapshot(10, 10))).len() <= MAX_FRAME_LEN);
}

#[test]
fn malformed_frames_decode_to_errors() {
    let frame = encode(&subscribe(Mode::RealTime, 0));
    assert_eq!(decode_client(&frame[..2]), Err(DecodeError::Truncated { needed: 3, available: 2 }));
    assert_eq!(
        decode_client(&frame[..frame.len() - 1]),
        Err(DecodeError::Truncated { needed: frame.len(), available: frame.len() - 1 })
    );
    assert_eq!(
        decode_client(&[0, 0, b'S']),
        Err(DecodeError::BadFrameLength { length: 0, max: MAX_FRAME_LEN - 2 })
    );
    assert_eq!(decode_client(&[1, 0, b'?']), Err(DecodeError::UnknownType(b'?')));
    // A body one byte short of the layout.
    let mut short = frame[..frame.len() - 1].to_vec();
    short[0] -= 1;
    assert_eq!(
        decode_client(&short),
        Err(DecodeError::BadBodyLength { msg_type: b'S', expected: 16, actual: 15 })
    );
}

#[test]
fn malformed_requests_decode_to_errors() {
    let s = encode(&subscribe(Mode::RealTime, 0));
    // Subscribe: scope @7, depth @8, mode @9, market @10, code @11, interval @15.
    assert_eq!(decode_client(&with_u8(s.clone(), 7, 3)), Err(bad_enum("scope", 3)));
    assert_eq!(decode_client(&with_u8(s.clone(), 8, 0)), Err(bad_enum("depth", 0)));
    assert_eq!(decode_client(&with_u8(s.clone(), 9, 9)), Err(bad_enum("mode", 9)));
    assert_eq!(decode_client(&with_u8(s.clone(), 10, 4)), Err(bad_enum("market", 4)));
    assert_eq!(decode_client(&with_u32(s.clone(), 11, 1_000_000)), Err(out_of_range("code")));
    assert_eq!(decode_client(&with_u32(s.clone(), 15, 100)), Err(out_of_range("interval_ms")));
    let conflated = encode(&subscribe(Mode::Conflated, 1));
    assert_eq!(
        decode_client(&with_u32(conflated.clone(), 15, 0)),
        Err(out_of_range("interval_ms"))
    );
    assert_eq!(
        decode_client(&with_u32(conflated, 15, INTERVAL_MS_MAX + 1)),
        Err(out_of_range("interval_ms"))
    );
    // A channel subscription carries market 0 and a code that fits a channel.
    let ch = encode(&MdMessage::Subscribe {
        request_id: 1,
        target: Target::Channel(160),
        depth: Depth::Level1,
        mode: Mode::RealTime,
        interval_ms: 0,
    });
    assert_eq!(decode_client(&with_u8(ch.clone(), 10, 1)), Err(bad_enum("market", 1)));
    assert_eq!(decode_client(&with_u32(ch, 11, 70_000)), Err(out_of_range("code")));
    // Unsubscribe: scope @7.
    let u = encode(&MdMessage::Unsubscribe { request_id: 1, target: Target::Security(SEC) });
    assert_eq!(decode_client(&with_u8(u, 7, 0)), Err(bad_enum("scope", 0)));
    // RetransmitRequest: from_seq @9, count @17.
    let r = encode(&MdMessage::RetransmitRequest {
        request_id: 1,
        channel: 160,
        from_seq: 5,
        count: 2,
    });
    let mut zero_from = r.clone();
    zero_from[9..17].copy_from_slice(&0u64.to_le_bytes());
    assert_eq!(decode_client(&zero_from), Err(out_of_range("from_seq")));
    assert_eq!(decode_client(&with_u32(r.clone(), 17, 0)), Err(out_of_range("count")));
    assert_eq!(
        decode_client(&with_u32(r, 17, RETRANSMIT_COUNT_MAX + 1)),
        Err(out_of_range("count"))
    );
    // Login: version @3, username @7.
    let token = Token([7; 32]);
    let l = encode(&MdMessage::Login {
        version: MD_VERSION,
        username: Username::new("md01").unwrap(),
        token,
    });
    assert_eq!(decode_client(&with_u8(l.clone(), 3, 2)), Err(DecodeError::BadVersion(2)));
    assert_eq!(
        decode_client(&with_u8(l, 7, b' ')),
        Err(DecodeError::BadIdentifier { field: "username" })
    );
}

#[test]
fn malformed_server_messages_decode_to_errors() {
    // Delta header: seq @5, prev_seq @13, market @21.
    let d = encode(&level_update(100, 1));
    let mut prev_ahead = d.clone();
    prev_ahead[13..21].copy_from_slice(&42u64.to_le_bytes());
    assert_eq!(decode_server(&prev_ahead), Err(out_of_range("seq/prev_seq")));
    assert_eq!(decode_server(&with_u8(d.clone(), 21, 0)), Err(bad_enum("market", 0)));
    // LevelUpdate: side @35; qty 0 with orders, or orders without qty.
    assert_eq!(decode_server(&with_u8(d, 35, 3)), Err(bad_enum("side", 3)));
    assert_eq!(decode_server(&encode(&level_update(0, 1))), Err(out_of_range("qty/orders")));
    assert_eq!(decode_server(&encode(&level_update(5, 0))), Err(out_of_range("qty/orders")));
    // Snapshot: phase @43, bid_count @44 (a count above ten with a matching length).
    let snap = encode(&MdMessage::Snapshot(snapshot(2, 1)));
    assert_eq!(decode_server(&with_u8(snap, 43, 8)), Err(bad_enum("phase", 8)));
    let mut eleven = encode(&MdMessage::Snapshot(snapshot(10, 0)));
    eleven.extend_from_slice(&[0; 20]);
    eleven[44] = 11;
    let len = (eleven.len() - 2) as u16;
    eleven[..2].copy_from_slice(&len.to_le_bytes());
    assert_eq!(decode_server(&eleven), Err(out_of_range("bid_count/ask_count")));
    // Heartbeat: count @11, above 32 with a matching length.
    let mut hb = vec![0u8; 3 + 9 + 33 * 10];
    let hb_len = (hb.len() - 2) as u16;
    hb[..2].copy_from_slice(&hb_len.to_le_bytes());
    hb[2] = b'h';
    hb[11] = 33;
    assert_eq!(decode_server(&hb), Err(out_of_range("count")));
    // GapNotice: reason @21; an empty or reversed range.
    let gap = encode(&MdMessage::GapNotice {
        channel: 1,
        first_seq: 3,
        last_seq: 4,
        reason: GapReason::Restart,
    });
    assert_eq!(decode_server(&with_u8(gap.clone(), 21, 0)), Err(bad_enum("reason", 0)));
    let mut reversed = gap;
    reversed[13..21].copy_from_slice(&2u64.to_le_bytes());
    assert_eq!(decode_server(&reversed), Err(out_of_range("first_seq/last_seq")));
}

#[test]
fn encoding_refuses_a_short_buffer_and_oversized_counts() {
    let m = subscribe(Mode::RealTime, 0);
    let mut small = [0u8; 10];
    assert!(m.encode(&mut small).is_err());
    let mut buf = [0u8; MAX_FRAME_LEN];
    assert!(MdMessage::Snapshot(snapshot(11, 0)).encode(&mut buf).is_err());
}

#[test]
fn reject_codes_have_names_and_are_distinct() {
    for (i, (code, name, sentence)) in MdReject::ALL.iter().enumerate() {
        assert_eq!(code.0 as usize, i + 1, "codes run 1, 2, 3 ...");
        assert_eq!(code.name(), Some(*name));
        assert!(sentence.ends_with('.'));
    }
    assert_eq!(MdReject(999).name(), None);
}

proptest! {
    /// No byte string panics the decoders, whatever its type byte.
    #[test]
    fn arbitrary_bytes_never_panic(t in any::<u8>(), body in prop::collection::vec(any::<u8>(), 0..520)) {
        let mut frame = ((body.len() + 1) as u16).to_le_bytes().to_vec();
        frame.push(t);
        frame.extend_from_slice(&body);
        let _ = decode_client(&frame);
        let _ = decode_server(&frame);
        let _ = decode_server(&frame[..frame.len() / 2]);
    }

    /// Arbitrary field values of a trade and a level survive the round trip.
    #[test]
    fn deltas_round_trip(seq in 1u64.., prev in any::<u64>(), price in any::<i64>(), qty in 1u64.., orders in 1u32.., exec in any::<u64>(), buy in any::<u64>(), sell in any::<u64>(), time_ns in any::<u64>(), flags in any::<u8>()) {
        let h = DeltaHeader { channel: 230, seq, prev_seq: prev % seq, security: SEC, flags, time_ns };
        for body in [
            DeltaBody::Level { side: Side::Sell, level: WireLevel { price: Price(price), qty: Qty(qty), orders } },
            DeltaBody::Trade { exec_id: exec, price: Price(price), qty: Qty(qty), buy_order_id: buy, sell_order_id: sell, aggressor: Some(Side::Buy) },
        ] {
            let m = MdMessage::Delta(h, body);
            prop_assert_eq!(decode_server(&encode(&m)), Ok(m));
        }
    }
}
