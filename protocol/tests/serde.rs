//! The `serde` feature: every domain type round-trips through bincode (the
//! snapshot encoding), and bytes that no value encodes to are refused.
#![cfg(feature = "serde")]

use protocol::codec::EntryState;
use protocol::rules::{BoardRules, FeeSchedule, PriceBand};
use protocol::{
    AccountId, Board, CancelReason, CreditTag, Liquidity, Market, OrderType, Price, Qty,
    RejectCode, RejectDetail, SecurityId, Side, TimeInForce, Token, TradingPhase, Username,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned + PartialEq + core::fmt::Debug>(value: T) {
    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(&value, config).unwrap();
    let (back, used): (T, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
    assert_eq!((back, used), (value, bytes.len()));
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, bincode::error::DecodeError> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard()).map(|(v, _)| v)
}

#[test]
fn every_domain_type_round_trips() {
    round_trip(Price(-123_456));
    round_trip(Qty(u64::MAX));
    for side in Side::ALL {
        round_trip(*side);
    }
    for t in OrderType::ALL {
        round_trip(*t);
    }
    for t in TimeInForce::ALL {
        round_trip(*t);
    }
    for b in Board::ALL {
        round_trip(*b);
        round_trip(BoardRules::default_for(*b));
    }
    for m in Market::ALL {
        round_trip(*m);
    }
    for c in CreditTag::ALL {
        round_trip(*c);
    }
    for c in CancelReason::ALL {
        round_trip(*c);
    }
    for p in TradingPhase::ALL {
        round_trip(*p);
    }
    for l in Liquidity::ALL {
        round_trip(*l);
    }
    for s in [EntryState::Active, EntryState::ReducingOnly, EntryState::Blocked] {
        round_trip(s);
    }
    round_trip(SecurityId::new(Market::Szse, 300_750).unwrap());
    round_trip(AccountId::new("A-0123456789abcd").unwrap());
    round_trip(Username::new("trader1").unwrap());
    round_trip(Token([7; 32]));
    round_trip(RejectCode(3_007));
    round_trip(RejectDetail::None);
    round_trip(RejectDetail::PriceBand { price: Price(5), lower: Price(1), upper: Price(4) });
    round_trip(RejectDetail::Suitability { client_class: 2, product_level: 4 });
    round_trip(PriceBand::UNBOUNDED);
    round_trip(FeeSchedule::DEFAULT);
}

#[test]
fn enums_travel_as_their_wire_byte() {
    let bytes = bincode::serde::encode_to_vec(Side::Sell, bincode::config::standard()).unwrap();
    assert_eq!(bytes, [Side::Sell.as_u8()]);
    assert!(decode::<Side>(&[0]).is_err());
    assert!(decode::<TradingPhase>(&[8]).is_err());
    assert!(decode::<EntryState>(&[3]).is_err());
}

#[test]
fn invalid_identifiers_are_refused() {
    // Market 1 (SSE), code 1,000,000 (a varint): seven digits.
    let mut bytes = vec![1];
    bytes.extend(bincode::serde::encode_to_vec(1_000_000u32, bincode::config::standard()).unwrap());
    assert!(decode::<SecurityId>(&bytes).is_err());
    assert!(decode::<AccountId>(&[0; 16]).is_err(), "empty");
    let mut spaced = *b"A 1\0\0\0\0\0\0\0\0\0\0\0\0\0";
    assert!(decode::<AccountId>(&spaced).is_err(), "a space");
    spaced[1] = b'-';
    assert_eq!(decode::<AccountId>(&spaced).unwrap(), AccountId::new("A-1").unwrap());
    assert!(decode::<AccountId>(&spaced[..15]).is_err(), "cut short");
}
