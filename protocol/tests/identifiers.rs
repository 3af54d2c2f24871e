//! `AccountId::from_wire` / `Username::from_wire` are on every decode's path and
//! written for speed (one pass, no early exit, no copy). This holds them equal to
//! the obvious definition on arbitrary and on near-valid fields.
//!
//! Case count: 20,000 each, or `PROPTEST_CASES`.

mod util;

use proptest::prelude::*;
use protocol::types::IdError;
use protocol::{AccountId, Username};

/// The definition, spelled out: 1 to 16 printable ASCII bytes (0x21..=0x7e),
/// then NUL bytes only.
fn reference(bytes: [u8; 16]) -> Result<[u8; 16], IdError> {
    let used = bytes.iter().position(|&b| b == 0).unwrap_or(16);
    if bytes[used..].iter().any(|&b| b != 0) {
        return Err(IdError::NotPrintable);
    }
    if used == 0 {
        return Err(IdError::Empty);
    }
    if !bytes[..used].iter().all(|b| (0x21..=0x7e).contains(b)) {
        return Err(IdError::NotPrintable);
    }
    Ok(bytes)
}

fn check(bytes: [u8; 16]) -> Result<(), TestCaseError> {
    let want = reference(bytes);
    prop_assert_eq!(AccountId::from_wire(bytes).map(AccountId::to_wire), want);
    prop_assert_eq!(Username::from_wire(bytes).map(Username::to_wire), want);
    if let Ok(raw) = want {
        let text = AccountId::from_wire(raw).unwrap().as_str().to_string();
        prop_assert_eq!(AccountId::new(&text).map(AccountId::to_wire), Ok(raw));
    }
    Ok(())
}

/// Near-valid fields: a printable prefix, NUL padding, and sometimes one byte
/// changed to a value from the edges of the printable range.
fn near_valid() -> impl Strategy<Value = [u8; 16]> {
    let edge = proptest::sample::select(vec![0x00u8, 0x01, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xff]);
    (proptest::collection::vec(0x21u8..=0x7e, 0..=16), proptest::option::of((0usize..16, edge)))
        .prop_map(|(prefix, change)| {
            let mut raw = [0u8; 16];
            raw[..prefix.len()].copy_from_slice(&prefix);
            if let Some((at, b)) = change {
                raw[at] = b;
            }
            raw
        })
}

proptest! {
    #![proptest_config(util::config(20_000))]

    #[test]
    fn from_wire_matches_the_definition_on_arbitrary_bytes(bytes in any::<[u8; 16]>()) {
        check(bytes)?;
    }

    #[test]
    fn from_wire_matches_the_definition_near_valid(bytes in near_valid()) {
        check(bytes)?;
    }
}

#[test]
fn from_wire_error_order() {
    // A NUL first and data after it is not "empty": the field is malformed.
    let mut raw = [0u8; 16];
    raw[3] = b'A';
    assert_eq!(AccountId::from_wire(raw), Err(IdError::NotPrintable));
    assert_eq!(AccountId::from_wire([0; 16]), Err(IdError::Empty));
    assert_eq!(AccountId::from_wire(*b"ABCDEFGHIJKLMNOP").unwrap().as_str(), "ABCDEFGHIJKLMNOP");
}
