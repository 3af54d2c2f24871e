//! Splitting a byte stream into frames with a fixed buffer allocated once.

use std::io::{self, Read};

use crate::codec::{DecodeError, MAX_FRAME_LEN, frame_len};

/// A receive buffer that turns stream reads into whole frames.
///
/// The buffer is allocated once (its capacity is at least one maximum frame) and
/// compacted in place; reading and framing allocate nothing.
#[derive(Debug)]
pub struct FrameBuffer {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    drained: bool,
}

impl FrameBuffer {
    /// A buffer of `capacity` bytes (raised to at least two maximum frames).
    pub fn new(capacity: usize) -> FrameBuffer {
        let capacity = capacity.max(2 * MAX_FRAME_LEN);
        FrameBuffer {
            buf: vec![0u8; capacity].into_boxed_slice(),
            start: 0,
            end: 0,
            drained: false,
        }
    }

    /// Bytes buffered and not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Discards everything buffered (after a reconnect).
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }

    /// Free space at the tail, compacting first when that makes room for a frame.
    fn spare(&mut self) -> &mut [u8] {
        if self.buf.len() - self.end < MAX_FRAME_LEN && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Reads once from `source` into the free space. Returns the bytes read
    /// (0: end of stream, or no free space because frames are waiting to be taken).
    pub fn read_from<R: Read>(&mut self, source: &mut R) -> io::Result<usize> {
        let spare = self.spare();
        if spare.is_empty() {
            self.drained = false;
            return Ok(0);
        }
        let room = spare.len();
        let n = source.read(spare)?;
        self.end += n;
        self.drained = n > 0 && n < room;
        Ok(n)
    }

    /// True when the last [`read_from`](Self::read_from) returned data but less
    /// than there was room for: the source held no more at that moment. On Linux a
    /// socket registered edge-triggered with epoll reports readable again for any
    /// data that arrives later, so an event loop may stop reading here instead of
    /// spending one more `recv` to see `WouldBlock` (tokio's `PollEvented` does
    /// the same). Not when the event that prompted the read already reported the
    /// peer's close (read-closed or error): that close raises no further event, so
    /// the loop must read on until the stream ends.
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Appends bytes (for tests and in-memory transports); returns how many fit.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) -> usize {
        let spare = self.spare();
        let n = bytes.len().min(spare.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        self.end += n;
        n
    }

    /// The type byte of the next whole frame without taking it; `None` when no
    /// whole frame is buffered or the framing is broken ([`Self::next_frame`]
    /// says which).
    pub fn peek_type(&self) -> Option<u8> {
        let bytes = &self.buf[self.start..self.end];
        match frame_len(bytes) {
            Ok(Some(_)) => bytes.get(2).copied(),
            _ => None,
        }
    }

    /// The next whole frame, if one is buffered. An error means the stream's
    /// framing is broken and the connection must close.
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, DecodeError> {
        match frame_len(&self.buf[self.start..self.end])? {
            None => Ok(None),
            Some(n) => {
                let at = self.start;
                self.start += n;
                if self.start == self.end {
                    // Everything consumed: the next read lands at the front again.
                    // The frame's bytes stay where they are until then.
                    self.start = 0;
                    self.end = 0;
                }
                Ok(Some(&self.buf[at..at + n]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::ClientMessage;

    #[test]
    fn a_short_read_reports_the_source_drained() {
        let mut fb = FrameBuffer::new(0);
        let room = fb.buf.len();
        // Fewer bytes than there is room for: the source had no more.
        let mut source = io::Cursor::new(vec![7u8; 100]);
        assert_eq!(fb.read_from(&mut source).unwrap(), 100);
        assert!(fb.drained());
        // A read that fills every free byte says nothing about what is left.
        let mut fb = FrameBuffer::new(0);
        let mut source = io::Cursor::new(vec![7u8; room + 10]);
        assert_eq!(fb.read_from(&mut source).unwrap(), room);
        assert!(!fb.drained());
        // End of stream is not "drained with data".
        let mut fb = FrameBuffer::new(0);
        assert_eq!(fb.read_from(&mut io::Cursor::new(Vec::new())).unwrap(), 0);
        assert!(!fb.drained());
    }

    #[test]
    fn frames_split_across_reads_are_reassembled() {
        let mut wire = Vec::new();
        for _ in 0..3 {
            ClientMessage::Heartbeat.encode(&mut wire).unwrap();
        }
        let mut fb = FrameBuffer::new(0);
        let mut frames = 0;
        for byte in &wire {
            fb.extend_from_slice(std::slice::from_ref(byte));
            while let Some(frame) = fb.next_frame().unwrap() {
                assert_eq!(ClientMessage::decode(frame).unwrap(), ClientMessage::Heartbeat);
                frames += 1;
            }
        }
        assert_eq!(frames, 3);
        assert_eq!(fb.buffered(), 0);
    }

    #[test]
    fn a_bad_length_prefix_is_an_error() {
        let mut fb = FrameBuffer::new(0);
        fb.extend_from_slice(&[0xff, 0xff, b'N']);
        assert!(matches!(fb.next_frame(), Err(DecodeError::BadFrameLength { .. })));
        let mut fb = FrameBuffer::new(0);
        fb.extend_from_slice(&[0, 0]);
        assert!(matches!(fb.next_frame(), Err(DecodeError::BadFrameLength { .. })));
    }

    #[test]
    fn compaction_keeps_partial_frames() {
        let mut fb = FrameBuffer::new(0);
        let mut one = Vec::new();
        ClientMessage::Logout.encode(&mut one).unwrap();
        // Fill most of the buffer with whole frames, leave a partial one at the end.
        let mut pushed = 0;
        while fb.buf.len() - fb.end > MAX_FRAME_LEN {
            fb.extend_from_slice(&one);
            pushed += 1;
        }
        fb.extend_from_slice(&one[..2]);
        let mut seen = 0;
        while let Some(_frame) = fb.next_frame().unwrap() {
            seen += 1;
        }
        assert_eq!(seen, pushed);
        fb.extend_from_slice(&one[2..]);
        assert!(fb.next_frame().unwrap().is_some());
    }
}
