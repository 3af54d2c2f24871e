//! The wire bytes and the decoders' verdicts are pinned: frames of every message
//! type, in both directions, encode to the bytes recorded in
//! `tests/golden/wire_bytes.txt`, and every single-byte change and truncation of
//! those frames decodes to the recorded result (the message, or the same
//! `DecodeError`), summed up in one digest line of that file.
//!
//! The file was recorded from the codec before its layouts were declared once
//! (`protocol::wire`), so a change to a declaration that moves a byte, or to a
//! decoder that changes an error, fails here. A deliberate change of the protocol
//! re-records it: `PRINT_WIRE_BYTES=1 cargo test -p protocol --test wire_bytes -- --nocapture`.

mod util;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use protocol::{ClientMessage, ServerMessage};

const GOLDEN: &str = include_str!("golden/wire_bytes.txt");
/// Frames kept per (direction, type).
const PER_TYPE: usize = 2;

/// Deterministic frames of every type: (client direction, frame).
fn frames() -> Vec<(bool, Vec<u8>)> {
    let mut runner = TestRunner::deterministic();
    let client = util::client_message();
    let server = util::server_message();
    let mut count: BTreeMap<(bool, u8), usize> = BTreeMap::new();
    let mut out = Vec::new();
    for _ in 0..PER_TYPE * 400 {
        let c = client.new_tree(&mut runner).expect("strategy").current();
        let s = server.new_tree(&mut runner).expect("strategy").current();
        for (is_client, frame) in
            [(true, util::encode_client(&c)), (false, util::encode_server(&s))]
        {
            let n = count.entry((is_client, frame[2])).or_default();
            if *n < PER_TYPE {
                *n += 1;
                out.push((is_client, frame));
            }
        }
    }
    out.sort();
    out
}

fn decode(is_client: bool, frame: &[u8]) -> String {
    if is_client {
        format!("{:?}", ClientMessage::decode(frame))
    } else {
        format!("{:?}", ServerMessage::decode(frame))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// FNV-1a, 64 bits: a stable digest of many decoder verdicts.
fn fnv(hash: &mut u64, text: &str) {
    for b in text.bytes().chain([b'\n']) {
        *hash ^= u64::from(b);
        *hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

/// The golden file's content for today's codec.
fn record() -> String {
    let frames = frames();
    let mut out = String::new();
    let (mut digest, mut verdicts) = (0xcbf2_9ce4_8422_2325_u64, 0usize);
    for (is_client, frame) in &frames {
        let dir = if *is_client { "client" } else { "server" };
        writeln!(out, "{dir} {} {}", frame[2] as char, hex(frame)).expect("string");
        let mut variant = frame.clone();
        for at in 0..frame.len() {
            for value in [0x00, 0xff, frame[at] ^ 0x01, frame[at].wrapping_add(1)] {
                variant[at] = value;
                fnv(
                    &mut digest,
                    &format!("{} {at} {value} {}", hex(frame), decode(*is_client, &variant)),
                );
                verdicts += 1;
            }
            variant[at] = frame[at];
        }
        for len in 0..frame.len() {
            fnv(
                &mut digest,
                &format!("{} ..{len} {}", hex(frame), decode(*is_client, &frame[..len])),
            );
            verdicts += 1;
        }
    }
    writeln!(out, "verdicts {verdicts} digest {digest:016x}").expect("string");
    out
}

#[test]
fn every_message_type_encodes_and_decodes_as_recorded() {
    let now = record();
    if std::env::var_os("PRINT_WIRE_BYTES").is_some() {
        print!("{now}");
    }
    let types: std::collections::BTreeSet<_> = frames().iter().map(|(c, f)| (*c, f[2])).collect();
    assert_eq!(types.len(), 30, "every type of both directions is sampled: {types:?}");
    for (line, (want, got)) in GOLDEN.lines().zip(now.lines()).enumerate() {
        assert_eq!(got, want, "line {} of tests/golden/wire_bytes.txt", line + 1);
    }
    assert_eq!(now.lines().count(), GOLDEN.lines().count(), "lines in the golden file");
}
