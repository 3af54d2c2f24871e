//! The codec: framing with BodyLength and CheckSum, the field iterator, typed
//! getters, the encoder, and their round trip.

mod util;

use fix::encode::Encoder;
use fix::field::{self, FieldIter, ValueError};
use fix::frame::{Garble, Scan, scan};
use fix::message::{Message, parse_into};
use proptest::prelude::*;
use protocol::{Price, Qty};
use util::*;

#[test]
fn framer_finds_boundaries_in_a_stream_split_anywhere() {
    let a = fix_message("35=0|49=A|56=B|34=1|52=20241008-01:30:00|");
    let b = fix_message("35=1|49=A|56=B|34=2|52=20241008-01:30:00|112=x|");
    let stream = [a.clone(), b.clone()].concat();
    for cut in 0..stream.len() {
        let head = &stream[..cut];
        match scan(head, 4096) {
            Scan::Incomplete => assert!(cut < a.len()),
            Scan::Message { len, .. } => assert_eq!(len, a.len()),
            Scan::Garbled { .. } => panic!("a prefix of a good message is not garbled (cut {cut})"),
        }
    }
    assert_eq!(scan(&stream, 4096), Scan::Message { len: a.len(), begin_string: (2, 9) });
    assert!(matches!(scan(&stream[a.len()..], 4096), Scan::Message { len, .. } if len == b.len()));
}

#[test]
fn framer_enforces_the_maximum_message_size() {
    let msg =
        fix_message(&format!("35=1|49=A|56=B|34=2|52=20241008-01:30:00|112={}|", "x".repeat(200)));
    assert!(matches!(scan(&msg, msg.len()), Scan::Message { .. }));
    assert_eq!(scan(&msg, msg.len() - 1), Scan::Garbled { skip: msg.len(), why: Garble::TooLong });
    // A huge BodyLength is judged from the header alone, without waiting for the bytes.
    assert!(matches!(
        scan(b"8=FIX.4.4\x019=9999999\x0135=0", 4096),
        Scan::Garbled { why: Garble::TooLong, .. }
    ));
}

#[test]
fn framer_skips_garbage_to_the_next_message() {
    let good = fix_message("35=0|49=A|56=B|34=1|52=20241008-01:30:00|");
    let stream = [b"junk\x01".as_slice(), &good].concat();
    let Scan::Garbled { skip, why } = scan(&stream, 4096) else { panic!() };
    assert_eq!((skip, why), (5, Garble::NoBeginString));
    assert!(matches!(scan(&stream[skip..], 4096), Scan::Message { .. }));
    let no_type = fix_message("49=A|35=0|56=B|34=1|");
    assert!(matches!(scan(&no_type, 4096), Scan::Garbled { why: Garble::NoMsgType, .. }));
}

#[test]
fn checksum_and_body_length_are_checked() {
    let msg = fix_message("35=0|49=A|56=B|34=1|52=20241008-01:30:00|");
    let mut bad_sum = msg.clone();
    let n = bad_sum.len();
    bad_sum[n - 2] = if bad_sum[n - 2] == b'9' { b'8' } else { b'9' };
    assert!(matches!(scan(&bad_sum, 4096), Scan::Garbled { why: Garble::BadCheckSum, .. }));
    let text = String::from_utf8(msg).unwrap();
    let len: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
    let short = text.replacen(&format!("9={len}\x01"), &format!("9={}\x01", len - 1), 1);
    assert!(matches!(scan(short.as_bytes(), 4096), Scan::Garbled { why: Garble::NoCheckSum, .. }));
}

#[test]
fn field_iterator_borrows_values_in_place() {
    let bytes = b"35=D\x0111=42\x0144=12.5\x01";
    let fields: Vec<_> = FieldIter::new(bytes).map(|f| f.unwrap().0).collect();
    assert_eq!(fields.len(), 3);
    assert_eq!((fields[1].tag, fields[1].value), (11, &b"42"[..]));
    assert!(std::ptr::eq(fields[2].value.as_ptr(), bytes[14..].as_ptr()));
}

#[test]
fn typed_getters_read_fix_values() {
    assert_eq!(field::get_u64(b"123"), Ok(123));
    assert_eq!(field::get_u64(b"12a"), Err(ValueError::Format));
    assert_eq!(field::get_u64(b"99999999999999999999"), Err(ValueError::Range));
    assert_eq!(field::get_i64(b"-5"), Ok(-5));
    assert_eq!(field::get_price(b"1500.50"), Ok(Price(15_005_000)));
    assert_eq!(field::get_price(b"0.0001"), Ok(Price(1)));
    assert_eq!(field::get_price(b"12.345600"), Ok(Price(123_456)));
    assert_eq!(field::get_price(b"12.34567"), Err(ValueError::Range));
    assert_eq!(field::get_price(b"-1"), Err(ValueError::Range));
    assert_eq!(field::get_price(b"1e3"), Err(ValueError::Format));
    assert_eq!(field::get_qty(b"100"), Ok(Qty(100)));
    assert_eq!(field::get_qty(b"100.00"), Ok(Qty(100)));
    assert_eq!(field::get_qty(b"100.5"), Err(ValueError::Range));
    assert_eq!(field::get_char(b"2"), Ok(b'2'));
    assert_eq!(field::get_char(b"22"), Err(ValueError::Format));
    assert_eq!(field::get_bool(b"Y"), Ok(true));
    assert_eq!(field::get_bool(b"y"), Err(ValueError::Format));
    assert_eq!(field::get_utc_timestamp_ns(b"20241008-01:30:00.250"), Ok(T0 + 250_000_000));
    assert_eq!(field::get_utc_timestamp_ns(b"20241008-01:30:00.000250"), Ok(T0 + 250_000));
    assert_eq!(field::get_utc_timestamp_ns(b"20241008-01:30"), Err(ValueError::Format));
}

#[test]
fn encoder_writes_body_length_and_checksum() {
    let mut buf = [0u8; 256];
    let mut enc = Encoder::new(&mut buf, b"8");
    enc.bytes(49, b"BW");
    enc.u64(34, 12);
    enc.price(44, Price(15_005_000));
    enc.qty(38, Qty(300));
    enc.timestamp(52, T0);
    let len = enc.finish().unwrap();
    let msg = &buf[..len];
    assert_eq!(scan(msg, 4096), Scan::Message { len, begin_string: (2, 9) });
    let text = String::from_utf8(msg.to_vec()).unwrap().replace('\x01', "|");
    assert!(text.starts_with("8=FIX.4.4|9="), "{text}");
    assert!(
        text.contains("|35=8|49=BW|34=12|44=1500.5|38=300|52=20241008-01:30:00.000|10="),
        "{text}"
    );
    assert_eq!(fix_message(&text[text.find("35=").unwrap()..text.find("10=").unwrap()]), msg);
}

#[test]
fn encoder_reports_a_buffer_too_small() {
    let mut buf = [0u8; 24];
    let mut enc = Encoder::new(&mut buf, b"8");
    enc.bytes(58, b"this text does not fit");
    assert!(enc.finish().is_err());
}

proptest! {
    #[test]
    fn encode_decode_round_trip(
        fields in proptest::collection::vec((1000u32..10_000, "[ -~&&[^=]]{1,20}"), 1..30),
        price in 0i64..1_000_000_000_000,
        qty in 0u64..1_000_000_000,
    ) {
        let mut buf = vec![0u8; 4096];
        let mut enc = Encoder::new(&mut buf, b"D");
        for (tag, value) in &fields {
            enc.bytes(*tag, value.as_bytes());
        }
        enc.price(44, Price(price));
        enc.qty(38, Qty(qty));
        let len = enc.finish().unwrap();
        let framed = matches!(scan(&buf[..len], 4096), Scan::Message { len: l, .. } if l == len);
        prop_assert!(framed);
        let mut table = Vec::with_capacity(64);
        parse_into(&buf[..len], &mut table, 64).unwrap();
        let msg = Message::new(&buf[..len], &table);
        prop_assert_eq!(msg.msg_type(), b"D");
        let body: Vec<_> = table[3..3 + fields.len()].iter().map(|f| (f.tag, msg.value(f).to_vec())).collect();
        let sent: Vec<_> = fields.iter().map(|(t, v)| (*t, v.as_bytes().to_vec())).collect();
        prop_assert_eq!(body, sent);
        prop_assert_eq!(field::get_price(msg.get(44).unwrap()), Ok(Price(price)));
        prop_assert_eq!(field::get_qty(msg.get(38).unwrap()), Ok(Qty(qty)));
    }

    #[test]
    fn random_bytes_never_panic_the_framer_or_parser(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut at = 0;
        while at < bytes.len() {
            match scan(&bytes[at..], 512) {
                Scan::Incomplete => break,
                Scan::Garbled { skip, .. } => { prop_assert!(skip > 0); at += skip; }
                Scan::Message { len, .. } => {
                    let mut table = Vec::with_capacity(32);
                    let _ = parse_into(&bytes[at..at + len], &mut table, 32);
                    at += len;
                }
            }
        }
        for f in FieldIter::new(&bytes).flatten() {
            let _ = (field::get_price(f.0.value), field::get_qty(f.0.value), field::get_utc_timestamp_ns(f.0.value));
        }
    }
}
