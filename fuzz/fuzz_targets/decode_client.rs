//! Client-to-server decoding of arbitrary bytes: never a panic; anything accepted
//! re-encodes to a frame of the same length that decodes to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ClientMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ClientMessage::decode(data) else { return };
    let mut buf = [0u8; protocol::MAX_FRAME_LEN];
    let n = message.encode_to_slice(&mut buf).expect("a decoded message fits a maximum frame");
    // Fixed layouts: only reserved or unused bytes may differ, never the length.
    assert_eq!(n, data.len(), "re-encoded length");
    assert_eq!(ClientMessage::decode(&buf[..n]), Ok(message), "decode(encode(m)) == m");
    assert_eq!(data[..3], buf[..3], "length prefix and type survive");
});
