//! `docs/fix.md` is a contract: every raw message in its examples frames
//! correctly (BodyLength and CheckSum), and the examples of what the acceptor
//! sends are exactly what it sends for the examples of what a client sends.

mod util;

use util::*;

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/fix.md");
    std::fs::read_to_string(path).expect("docs/fix.md exists")
}

/// The example lines: `client: <message>` or `acceptor: <message>`, `|` for SOH.
fn examples() -> Vec<(String, Vec<u8>)> {
    doc()
        .lines()
        .filter_map(|line| {
            let (who, msg) = line.trim().split_once(": 8=FIX")?;
            Some((who.to_owned(), format!("8=FIX{msg}").replace('|', "\x01").into_bytes()))
        })
        .collect()
}

#[test]
fn every_example_message_frames_correctly() {
    let examples = examples();
    assert!(examples.len() >= 8, "the examples are there ({})", examples.len());
    for (who, msg) in &examples {
        let scan = fix::frame::scan(msg, 4096);
        assert!(
            matches!(scan, fix::frame::Scan::Message { len, .. } if len == msg.len()),
            "{who}: {} -> {scan:?}",
            String::from_utf8_lossy(msg)
        );
    }
}

#[test]
fn the_acceptor_answers_the_client_examples_as_documented() {
    let mut h = Harness::new(config());
    let mut stream = Vec::new();
    let mut sent = Vec::new();
    for (who, msg) in examples() {
        match who.as_str() {
            "client" => {
                let text = String::from_utf8(msg.clone()).unwrap();
                h.now_ns = fix::time::parse_utc_timestamp_ns(
                    text.split('\x01').find_map(|f| f.strip_prefix("52=")).unwrap().as_bytes(),
                )
                .unwrap();
                sent.extend(h.send(&msg));
                if text.contains("\x0135=D\x01") && text.contains("\x0111=1001\x01") {
                    // The engine accepts the order and fills half of it.
                    sent.extend(app(&mut h, &mut stream, accepted(1001, 200)));
                    sent.extend(app(
                        &mut h,
                        &mut stream,
                        executed(1001, 5001, 15_000_000, 100, 100, 100),
                    ));
                }
            }
            "acceptor" => {
                let expected = split(&msg).remove(0);
                assert!(!sent.is_empty(), "the acceptor sent {expected:?}");
                assert_eq!(sent.remove(0), expected);
            }
            other => panic!("unknown example speaker {other}"),
        }
    }
    assert!(sent.is_empty(), "every message sent is documented: {sent:?}");
}
