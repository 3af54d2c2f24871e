//! A byte stream in arbitrary chunks through `FrameBuffer`: never a panic, never a
//! stall, and every frame it yields is one whole frame of the stream, in order.
//! The first byte of the input picks the chunk size; the rest is the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::framing::FrameBuffer;
use protocol::{ClientMessage, ServerMessage};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let mut fb = FrameBuffer::new(0);
    let (mut fed, mut taken) = (0, 0);
    loop {
        let end = (fed + chunk).min(stream.len());
        let n = fb.extend_from_slice(&stream[fed..end]);
        fed += n;
        let mut frames = 0;
        loop {
            match fb.next_frame() {
                Ok(Some(frame)) => {
                    assert_eq!(frame, &stream[taken..taken + frame.len()], "frames come in order");
                    taken += frame.len();
                    frames += 1;
                    let _ = ClientMessage::decode(frame);
                    let _ = ServerMessage::decode(frame);
                }
                Ok(None) => break,
                Err(_) => return, // A broken stream: the connection would close.
            }
        }
        if fed == stream.len() && frames == 0 {
            assert_eq!(fb.buffered(), stream.len() - taken);
            return;
        }
        assert!(n > 0 || frames > 0 || end == fed, "FrameBuffer stalled");
    }
});
