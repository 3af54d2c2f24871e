//! Server-to-client decoding of arbitrary bytes: never a panic; anything accepted
//! re-encodes to a frame that decodes to the same message.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::ServerMessage;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = ServerMessage::decode(data) else { return };
    let mut buf = [0u8; protocol::MAX_FRAME_LEN];
    let n = message.encode_to_slice(&mut buf).expect("a decoded message fits a maximum frame");
    assert_eq!(ServerMessage::decode(&buf[..n]), Ok(message), "decode(encode(m)) == m");
    assert_eq!(data[2], buf[2], "type survives");
    // Only the two reject messages carry free text (re-rendered); all else is fixed.
    if !matches!(data[2], b'r' | b'b') {
        assert_eq!(n, data.len(), "re-encoded length");
    }
});
