//! One test per class of malformed input, each asserting the exact `DecodeError`.
//!
//! Frames are built from valid samples (`util::sample_client`/`sample_server`) with
//! one fault each, so every error comes from the fault under test.

mod util;

use protocol::codec::{DecodeError, body_len, frame_len, msg_type};
use protocol::framing::FrameBuffer;
use protocol::{ClientMessage, MAX_FRAME_LEN, RejectCode, ServerMessage};

const MAX_LENGTH: usize = MAX_FRAME_LEN - 2;

fn client_err(bytes: &[u8]) -> DecodeError {
    ClientMessage::decode(bytes).expect_err("malformed client frame must not decode")
}

fn server_err(bytes: &[u8]) -> DecodeError {
    ServerMessage::decode(bytes).expect_err("malformed server frame must not decode")
}

/// A frame with a correct length prefix around `msg_type` and `body`.
fn frame(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let length = u16::try_from(body.len() + 1).expect("test bodies are small");
    let mut out = length.to_le_bytes().to_vec();
    out.push(msg_type);
    out.extend_from_slice(body);
    out
}

fn client_frames() -> Vec<Vec<u8>> {
    util::sample_client().iter().map(util::encode_client).collect()
}

fn server_frames() -> Vec<Vec<u8>> {
    util::sample_server().iter().map(util::encode_server).collect()
}

fn client_frame(t: u8) -> Vec<u8> {
    client_frames().into_iter().find(|f| f[2] == t).expect("sample of every client type")
}

fn server_frame(t: u8) -> Vec<u8> {
    server_frames().into_iter().find(|f| f[2] == t).expect("sample of every server type")
}

/// `frame` with the bytes at `at` replaced by `bytes`.
fn patched(mut frame: Vec<u8>, at: usize, bytes: &[u8]) -> Vec<u8> {
    frame[at..at + bytes.len()].copy_from_slice(bytes);
    frame
}

/// `frame` with its body resized to `body` bytes (zero filled) and its prefix fixed.
fn with_body_len(frame: &[u8], body: usize) -> Vec<u8> {
    let mut b = frame[3..].to_vec();
    b.resize(body, 0);
    self::frame(frame[2], &b)
}

// ---------------------------------------------------------------------------
// Framing
// ---------------------------------------------------------------------------

#[test]
fn truncated_shorter_than_the_header() {
    for whole in client_frames().iter().chain(&server_frames()) {
        for len in 0..3 {
            let want = DecodeError::Truncated { needed: 3, available: len };
            assert_eq!(client_err(&whole[..len]), want);
            assert_eq!(server_err(&whole[..len]), want);
        }
    }
}

#[test]
fn truncated_shorter_than_the_length_prefix() {
    for whole in client_frames() {
        for len in 3..whole.len() {
            let want = DecodeError::Truncated { needed: whole.len(), available: len };
            assert_eq!(client_err(&whole[..len]), want, "type 0x{:02x}", whole[2]);
        }
    }
    for whole in server_frames() {
        for len in 3..whole.len() {
            let want = DecodeError::Truncated { needed: whole.len(), available: len };
            assert_eq!(server_err(&whole[..len]), want, "type 0x{:02x}", whole[2]);
        }
    }
}

#[test]
fn oversized_length_prefix() {
    for length in [MAX_LENGTH + 1, MAX_LENGTH + 2, 1_000, usize::from(u16::MAX)] {
        let mut bytes = (length as u16).to_le_bytes().to_vec();
        bytes.push(msg_type::NEW_ORDER);
        bytes.resize(600, 0);
        let want = DecodeError::BadFrameLength { length, max: MAX_LENGTH };
        assert_eq!(client_err(&bytes), want);
        assert_eq!(server_err(&bytes), want);
        assert_eq!(frame_len(&bytes), Err(want));
        assert_eq!(frame_len(&bytes[..2]), Err(want), "known from the prefix alone");
        let mut fb = FrameBuffer::new(0);
        fb.extend_from_slice(&bytes[..3]);
        assert_eq!(fb.next_frame(), Err(want));
    }
    // The largest legal prefix frames fine; only the body is wrong for the type.
    let at_limit = frame(msg_type::NEW_ORDER, &[0; MAX_LENGTH - 1]);
    assert_eq!(at_limit.len(), MAX_FRAME_LEN);
    assert_eq!(frame_len(&at_limit), Ok(Some(MAX_FRAME_LEN)));
    assert_eq!(
        client_err(&at_limit),
        DecodeError::BadBodyLength {
            msg_type: msg_type::NEW_ORDER,
            expected: body_len::NEW_ORDER,
            actual: MAX_LENGTH - 1
        }
    );
}

#[test]
fn zero_length_prefix() {
    let want = DecodeError::BadFrameLength { length: 0, max: MAX_LENGTH };
    for bytes in [&[0u8, 0, b'N'][..], &[0, 0, b'a', 1, 2, 3]] {
        assert_eq!(client_err(bytes), want);
        assert_eq!(server_err(bytes), want);
        assert_eq!(frame_len(bytes), Err(want));
    }
    assert_eq!(frame_len(&[0, 0]), Err(want));
}

#[test]
fn bytes_after_the_frame() {
    for (client, whole) in client_frames()
        .into_iter()
        .map(|f| (true, f))
        .chain(server_frames().into_iter().map(|f| (false, f)))
    {
        let mut longer = whole.clone();
        longer.push(0);
        let want = DecodeError::BadBodyLength {
            msg_type: whole[2],
            expected: whole.len() - 3,
            actual: whole.len() - 2,
        };
        let got = if client { client_err(&longer) } else { server_err(&longer) };
        assert_eq!(got, want);
    }
}

// ---------------------------------------------------------------------------
// Types and body lengths
// ---------------------------------------------------------------------------

#[test]
fn unknown_type_client_direction() {
    for t in 0..=u8::MAX {
        if util::CLIENT_TYPES.contains(&t) {
            continue;
        }
        assert_eq!(client_err(&frame(t, &[])), DecodeError::UnknownType(t));
        assert_eq!(client_err(&frame(t, &[0; 56])), DecodeError::UnknownType(t));
    }
    // Server types are unknown to the client-to-server decoder.
    assert_eq!(client_err(&server_frame(msg_type::EXECUTED)), DecodeError::UnknownType(b'e'));
    assert_eq!(client_err(&frame(msg_type::SERVER_HEARTBEAT, &[])), DecodeError::UnknownType(b'H'));
}

#[test]
fn unknown_type_server_direction() {
    for t in 0..=u8::MAX {
        if util::SERVER_TYPES.contains(&t) {
            continue;
        }
        assert_eq!(server_err(&frame(t, &[])), DecodeError::UnknownType(t));
        assert_eq!(server_err(&frame(t, &[0; 96])), DecodeError::UnknownType(t));
    }
    assert_eq!(server_err(&client_frame(msg_type::NEW_ORDER)), DecodeError::UnknownType(b'N'));
    assert_eq!(server_err(&frame(msg_type::CLIENT_HEARTBEAT, &[])), DecodeError::UnknownType(b'R'));
}

#[test]
fn wrong_body_length_for_each_fixed_size_type() {
    let check = |whole: Vec<u8>, client: bool| {
        let t = whole[2];
        let expected = whole.len() - 3;
        let mut lengths = vec![expected + 1, expected + 8, MAX_LENGTH - 1];
        if expected > 0 {
            lengths.extend([0, 1, expected - 1]);
        }
        for actual in lengths {
            let bad = with_body_len(&whole, actual);
            let got = if client { client_err(&bad) } else { server_err(&bad) };
            assert_eq!(got, DecodeError::BadBodyLength { msg_type: t, expected, actual });
        }
    };
    for whole in client_frames() {
        check(whole, true);
    }
    // Text messages and paged answers take their length from a count in the body
    // (checked in `text_length_disagreeing_with_the_frame` and queries.rs).
    for whole in server_frames() {
        if util::text_fixed_len(whole[2]).is_none() && util::answer_row_len(whole[2]).is_none() {
            check(whole, false);
        }
    }
}

#[test]
fn text_length_disagreeing_with_the_frame() {
    for t in [msg_type::ORDER_REJECTED, msg_type::BUSINESS_REJECT] {
        let whole = server_frame(t);
        let fixed = util::text_fixed_len(t).unwrap();
        let len_at = 3 + fixed - 1;
        let text_len = usize::from(whole[len_at]);
        assert_eq!(whole.len(), 3 + fixed + text_len);
        assert!(text_len > 0, "sample has text");
        for claimed in [text_len + 1, text_len - 1, 0, 255] {
            let bad = patched(whole.clone(), len_at, &[claimed as u8]);
            assert_eq!(
                server_err(&bad),
                DecodeError::BadBodyLength {
                    msg_type: t,
                    expected: fixed + claimed,
                    actual: fixed + text_len
                },
                "type 0x{t:02x}, text_len {claimed}"
            );
        }
        // Shorter than the fixed part: the text length byte itself is missing.
        for actual in [0, fixed - 1] {
            assert_eq!(
                server_err(&with_body_len(&whole, actual)),
                DecodeError::BadBodyLength { msg_type: t, expected: fixed, actual }
            );
        }
        // Empty text is fine.
        let empty = with_body_len(&patched(whole.clone(), len_at, &[0]), fixed);
        assert!(ServerMessage::decode(&empty).is_ok());
    }
}

// ---------------------------------------------------------------------------
// Field values
// ---------------------------------------------------------------------------

fn bad_enum(field: &'static str, value: u8) -> DecodeError {
    DecodeError::BadEnum { field, value: u64::from(value) }
}

#[test]
fn bad_enum_fields_client_direction() {
    let order = client_frame(msg_type::NEW_ORDER);
    for (at, field, values) in [
        (31, "market", &[0u8, 4, 0xff][..]),
        (32, "side", &[0, 3, 0xff]),
        (33, "order_type", &[0, 8, 0xff]),
        (34, "tif", &[0, 4, 0xff]),
        (51, "flags", &[0x04, 0x80, 0xff]),
        (52, "credit", &[3, 0xff]),
    ] {
        for &v in values {
            assert_eq!(
                client_err(&patched(order.clone(), at, &[v])),
                bad_enum(field, v),
                "{field}"
            );
        }
    }
    let code = 1_000_000u32.to_le_bytes();
    assert_eq!(
        client_err(&patched(order, 27, &code)),
        DecodeError::OutOfRange { field: "security_code" }
    );

    // MassCancel: scope, block_new, and the security of scope 2.
    let mass = client_frame(msg_type::MASS_CANCEL);
    assert_eq!(mass[27], 2, "sample uses scope 2");
    for v in [0u8, 4, 0xff] {
        assert_eq!(client_err(&patched(mass.clone(), 27, &[v])), bad_enum("scope", v));
    }
    for v in [2u8, 0xff] {
        assert_eq!(client_err(&patched(mass.clone(), 28, &[v])), bad_enum("block_new", v));
    }
    for v in [0u8, 4] {
        assert_eq!(client_err(&patched(mass.clone(), 29, &[v])), bad_enum("market", v));
    }
    assert_eq!(
        client_err(&patched(mass.clone(), 31, &code)),
        DecodeError::OutOfRange { field: "security_code" }
    );
    // Scope 1 does not use the security fields, scope 3 not the account either.
    let scope1 = patched(patched(mass.clone(), 27, &[1]), 29, &[9, 9, 9, 9, 9, 9]);
    assert!(ClientMessage::decode(&scope1).is_ok());
    let scope3 = patched(patched(scope1, 27, &[3]), 11, &[0xff; 16]);
    assert!(ClientMessage::decode(&scope3).is_ok());

    let control = client_frame(msg_type::ORDER_ENTRY_CONTROL);
    for v in [0u8, 3, 0xff] {
        assert_eq!(client_err(&patched(control.clone(), 27, &[v])), bad_enum("action", v));
    }
}

#[test]
fn bad_enum_fields_server_direction() {
    let code = 1_000_000u32.to_le_bytes();
    let cases: &[(u8, usize, &str, &[u8])] = &[
        (msg_type::ORDER_ACCEPTED, 55, "market", &[0, 4]),
        (msg_type::ORDER_ACCEPTED, 56, "side", &[0, 3]),
        (msg_type::ORDER_ACCEPTED, 57, "order_type", &[0, 8]),
        (msg_type::ORDER_ACCEPTED, 58, "tif", &[0, 4]),
        (msg_type::ORDER_ACCEPTED, 76, "credit", &[3, 0xff]),
        (msg_type::ORDER_REJECTED, 46, "detail_kind", &[6, 0xff]),
        (msg_type::EXECUTED, 91, "side", &[0, 3]),
        (msg_type::EXECUTED, 92, "liquidity", &[0, 4]),
        (msg_type::EXECUTED, 93, "market", &[0, 4]),
        (msg_type::CANCELED, 75, "reason", &[0, 6]),
        (msg_type::CANCEL_REJECTED, 53, "kind", &[0, 3]),
        (msg_type::REPLACED, 83, "priority_kept", &[2, 0xff]),
        (msg_type::SYSTEM_EVENT, 19, "event", &[0, 6]),
        (msg_type::SYSTEM_EVENT, 20, "phase", &[8, 0xff]),
        (msg_type::SYSTEM_EVENT, 21, "market", &[0, 4]),
        (msg_type::MASS_CANCEL_ACK, 49, "blocked", &[2, 0xff]),
        (msg_type::ORDER_ENTRY_STATUS, 43, "state", &[3, 0xff]),
        (msg_type::ORDER_PENDING, 59, "status", &[0, 5]),
        (msg_type::ORDER_PENDING, 60, "phase", &[8, 0xff]),
    ];
    for &(t, at, field, values) in cases {
        for &v in values {
            let bad = patched(server_frame(t), at, &[v]);
            assert_eq!(server_err(&bad), bad_enum(field, v), "type 0x{t:02x} {field}");
        }
    }
    for (t, at) in
        [(msg_type::ORDER_ACCEPTED, 51), (msg_type::EXECUTED, 95), (msg_type::SYSTEM_EVENT, 23)]
    {
        let bad = patched(server_frame(t), at, &code);
        assert_eq!(server_err(&bad), DecodeError::OutOfRange { field: "security_code" });
    }
    // A venue-wide SystemEvent has market 0 and code 0; a code without a market is malformed.
    let venue_wide = patched(server_frame(msg_type::SYSTEM_EVENT), 21, &[0, 0, 0, 0, 0, 0]);
    assert!(ServerMessage::decode(&venue_wide).is_ok());
    let code_only = patched(venue_wide, 23, &[1, 0, 0, 0]);
    assert_eq!(server_err(&code_only), bad_enum("market", 0));
}

#[test]
fn bad_reject_detail_values() {
    let rejected = server_frame(msg_type::ORDER_REJECTED);
    assert_eq!(rejected[46], 1, "sample carries a price band");
    let suitability = |class: i64, level: i64| {
        let f = patched(rejected.clone(), 46, &[5]);
        let f = patched(f, 51, &class.to_le_bytes());
        let f = patched(f, 59, &level.to_le_bytes());
        patched(f, 67, &[0; 8])
    };
    // The text is rendered from the detail, so a valid frame needs a fitting text;
    // the detail is checked whatever the text says.
    for (class, level) in [(0, 3), (6, 3), (2, 0), (2, 6), (-1, 3), (256 + 2, 3)] {
        assert_eq!(server_err(&suitability(class, level)), bad_enum("detail_kind", 5));
    }
    // Unused value slots must be zero.
    let none_with_value = patched(patched(rejected.clone(), 46, &[0]), 51, &[1]);
    assert_eq!(server_err(&none_with_value), bad_enum("detail_kind", 0));
    let quantity_third = patched(patched(rejected.clone(), 46, &[2]), 67, &[1]);
    assert_eq!(server_err(&quantity_third), bad_enum("detail_kind", 2));
}

/// Identifier faults, written into an `ascii[16]` field at `at`.
fn bad_identifiers() -> Vec<(&'static str, [u8; 16])> {
    let mut cases = Vec::new();
    let mut id = |name, text: &[u8]| {
        let mut raw = [0u8; 16];
        raw[..text.len()].copy_from_slice(text);
        cases.push((name, raw));
    };
    id("empty", b"");
    id("non-ASCII", "A价".as_bytes());
    id("high byte", &[b'A', 0x80]);
    id("0xff", &[0xff]);
    id("space", b"A 1");
    id("leading space", b" A1");
    id("control", &[b'A', 0x01]);
    id("DEL", &[b'A', 0x7f]);
    id("NUL then data", b"A0\x001");
    id("NUL first then data", b"\x00A001");
    id("tab", b"A\t1");
    cases
}

#[test]
fn bad_identifiers_in_every_identifier_field() {
    let client = [
        (msg_type::LOGIN, 7, "username"),
        (msg_type::NEW_ORDER, 11, "account"),
        (msg_type::CANCEL_ORDER, 19, "account"),
        (msg_type::REPLACE_ORDER, 19, "account"),
        (msg_type::MASS_CANCEL, 11, "account"),
        (msg_type::ORDER_ENTRY_CONTROL, 11, "account"),
    ];
    for (t, at, field) in client {
        for (what, raw) in bad_identifiers() {
            let bad = patched(client_frame(t), at, &raw);
            assert_eq!(
                client_err(&bad),
                DecodeError::BadIdentifier { field },
                "type 0x{t:02x}: {what}"
            );
        }
    }
    let server = [
        (msg_type::ORDER_ACCEPTED, 35),
        (msg_type::ORDER_REJECTED, 27),
        (msg_type::EXECUTED, 43),
        (msg_type::CANCELED, 35),
        (msg_type::CANCEL_REJECTED, 35),
        (msg_type::REPLACED, 43),
        (msg_type::MASS_CANCEL_ACK, 27),
        (msg_type::ORDER_ENTRY_STATUS, 27),
        (msg_type::ORDER_PENDING, 43),
    ];
    for (t, at) in server {
        for (what, raw) in bad_identifiers() {
            if t == msg_type::MASS_CANCEL_ACK && what == "empty" {
                continue; // All NUL means "the whole login" there; checked below.
            }
            let bad = patched(server_frame(t), at, &raw);
            assert_eq!(
                server_err(&bad),
                DecodeError::BadIdentifier { field: "account" },
                "type 0x{t:02x}: {what}"
            );
        }
    }
    let whole_login = patched(server_frame(msg_type::MASS_CANCEL_ACK), 27, &[0; 16]);
    assert!(ServerMessage::decode(&whole_login).is_ok());
    // The longest identifier fills its field with no NUL at all.
    let full = patched(client_frame(msg_type::NEW_ORDER), 11, b"ABCDEFGHIJKLMNOP");
    assert!(ClientMessage::decode(&full).is_ok());
}

#[test]
fn bad_version() {
    let login = client_frame(msg_type::LOGIN);
    assert_eq!(client_err(&patched(login.clone(), 3, &[0])), DecodeError::BadVersion(0));
    // Any version from 1 up decodes: the Login layout is frozen across versions.
    for v in [1u8, 2, 200, 255] {
        let Ok(ClientMessage::Login(l)) = ClientMessage::decode(&patched(login.clone(), 3, &[v]))
        else {
            panic!("version {v} must decode")
        };
        assert_eq!(l.version, v);
    }
}

#[test]
fn bad_utf8_text() {
    for t in [msg_type::ORDER_REJECTED, msg_type::BUSINESS_REJECT] {
        let whole = server_frame(t);
        let text_at = 3 + util::text_fixed_len(t).unwrap();
        for bad in [
            &[0xffu8][..],
            &[0x80],             // lone continuation byte
            &[0xc0, 0x80],       // overlong NUL
            &[0xe4, 0xbb],       // cut multi-byte sequence
            &[0xed, 0xa0, 0x80], // surrogate
            &[b'o', b'k', 0xf8],
        ] {
            let at = text_at + 3;
            let frame = patched(whole.clone(), at, bad);
            assert_eq!(server_err(&frame), DecodeError::BadText, "type 0x{t:02x}: {bad:02x?}");
        }
        // A valid but different text decodes (it is for people; see `wire_text`).
        let other = patched(whole.clone(), text_at, "价".as_bytes());
        assert!(ServerMessage::decode(&other).is_ok());
    }
}

#[test]
fn every_error_maps_to_a_defined_reject_code() {
    let cases = [
        (DecodeError::Truncated { needed: 3, available: 0 }, RejectCode::BAD_LENGTH),
        (DecodeError::BadFrameLength { length: 0, max: MAX_LENGTH }, RejectCode::FRAME_TOO_LARGE),
        (DecodeError::UnknownType(0), RejectCode::UNKNOWN_MESSAGE_TYPE),
        (
            DecodeError::BadBodyLength { msg_type: b'N', expected: 56, actual: 0 },
            RejectCode::BAD_LENGTH,
        ),
        (DecodeError::BadEnum { field: "side", value: 0 }, RejectCode::BAD_ENUM_VALUE),
        (DecodeError::OutOfRange { field: "security_code" }, RejectCode::BAD_ENUM_VALUE),
        (DecodeError::BadIdentifier { field: "account" }, RejectCode::BAD_IDENTIFIER),
        (DecodeError::BadText, RejectCode::BAD_TEXT),
        (DecodeError::BadVersion(0), RejectCode::UNSUPPORTED_VERSION),
    ];
    for (err, code) in cases {
        assert_eq!(err.reject_code(), code, "{err}");
        assert!(code.is_defined());
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn frame_buffer_reports_a_broken_stream_after_good_frames() {
    let mut fb = FrameBuffer::new(0);
    let good = client_frame(msg_type::NEW_ORDER);
    fb.extend_from_slice(&good);
    fb.extend_from_slice(&[0xff, 0xff, b'N']);
    assert_eq!(fb.next_frame().unwrap(), Some(&good[..]));
    assert_eq!(
        fb.next_frame(),
        Err(DecodeError::BadFrameLength { length: 0xffff, max: MAX_LENGTH })
    );
    // The error is sticky: the stream cannot be re-synchronised.
    assert!(fb.next_frame().is_err());
}
