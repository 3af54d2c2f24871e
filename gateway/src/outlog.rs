//! The sequenced server-to-client stream of one login, kept as encoded frames in a
//! fixed byte ring so that a client can resume from any retained sequence number.
//!
//! The log is also the session's outbound backlog: a connection is a cursor into it.
//! Writing to the socket advances the cursor; a reconnect moves it back to the
//! requested sequence number. Nothing is copied per connection.
//!
//! Memory is fixed at start-up: `capacity_bytes` of frames plus an index of one
//! offset per retained message. When either is full the oldest messages are evicted;
//! the gateway disconnects a connection long before its cursor could be evicted
//! (the backlog limit is validated to be at most half the capacity).

use protocol::Seq;
use protocol::codec::{MAX_FRAME_LEN, Sequenced};

use crate::input::Output;

/// One login's retained stream.
#[derive(Debug)]
pub struct OutLog {
    bytes: Box<[u8]>,
    byte_mask: u64,
    /// Offset of each retained message, by `seq & index_mask`.
    index: Box<[u64]>,
    index_mask: u64,
    /// Oldest retained sequence number (== `next_seq` when empty).
    first_seq: Seq,
    /// The sequence number the next appended message must carry.
    next_seq: Seq,
    /// Byte offset of the oldest retained message (monotonic, never wraps).
    start_off: u64,
    /// Byte offset where the next message goes (monotonic).
    end_off: u64,
}

impl OutLog {
    /// A log of at least `capacity_bytes` (rounded up to a power of two) and
    /// `max_messages` index slots (rounded up too).
    pub fn new(capacity_bytes: usize, max_messages: usize) -> OutLog {
        let cap = capacity_bytes.max(4096).next_power_of_two();
        let idx = max_messages.max(16).next_power_of_two();
        let mut bytes = vec![0u8; cap].into_boxed_slice();
        // Touch every page now (the allocation is lazily zeroed): otherwise each
        // new page costs a page fault on the io thread when the stream reaches it.
        for b in bytes.iter_mut().step_by(4096) {
            *b = 0xff;
        }
        let mut index = vec![0u64; idx].into_boxed_slice();
        for slot in index.iter_mut().step_by(512) {
            *slot = u64::MAX;
        }
        OutLog {
            bytes,
            byte_mask: cap as u64 - 1,
            index,
            index_mask: idx as u64 - 1,
            first_seq: 1,
            next_seq: 1,
            start_off: 0,
            end_off: 0,
        }
    }

    /// Byte capacity.
    pub fn capacity_bytes(&self) -> u64 {
        self.byte_mask + 1
    }

    /// The sequence number the next message will carry.
    pub fn next_seq(&self) -> Seq {
        self.next_seq
    }

    /// The last sequence number appended (0 when none yet).
    pub fn last_seq(&self) -> Seq {
        self.next_seq - 1
    }

    /// The oldest sequence number still retained.
    pub fn first_seq(&self) -> Seq {
        self.first_seq
    }

    /// Offset just past the newest message.
    pub fn end_offset(&self) -> u64 {
        self.end_off
    }

    /// Offset of the oldest retained byte.
    pub fn start_offset(&self) -> u64 {
        self.start_off
    }

    /// Encodes an engine output as its sequenced frame and appends it.
    #[inline]
    pub fn append_output(&mut self, out: &Output) {
        let msg = Sequenced { seq: out.seq, ts_ns: out.ts_ns, msg: out.msg };
        let mut buf = [0u8; MAX_FRAME_LEN];
        let len = msg.encode_to_slice(&mut buf).expect("a sequenced message always fits a frame");
        self.append(out.seq, &buf[..len]);
    }

    /// Appends one encoded frame carrying `seq`, which must be `next_seq()`.
    pub fn append(&mut self, seq: Seq, frame: &[u8]) {
        assert_eq!(seq, self.next_seq, "out log: sequence numbers must be gap-free");
        let len = frame.len() as u64;
        assert!(len > 0 && len <= self.capacity_bytes() / 2, "out log: frame size out of range");
        while self.end_off + len - self.start_off > self.capacity_bytes()
            || self.next_seq - self.first_seq > self.index_mask
        {
            self.evict_oldest();
        }
        let at = (self.end_off & self.byte_mask) as usize;
        let first = frame.len().min(self.bytes.len() - at);
        self.bytes[at..at + first].copy_from_slice(&frame[..first]);
        self.bytes[..frame.len() - first].copy_from_slice(&frame[first..]);
        self.index[(seq & self.index_mask) as usize] = self.end_off;
        self.end_off += len;
        self.next_seq += 1;
    }

    fn evict_oldest(&mut self) {
        debug_assert!(self.first_seq < self.next_seq, "out log: evicting from an empty log");
        self.first_seq += 1;
        self.start_off = if self.first_seq == self.next_seq {
            self.end_off
        } else {
            self.index[(self.first_seq & self.index_mask) as usize]
        };
    }

    /// Where message `seq` starts: `Some` for a retained message or for
    /// `next_seq()` (the end), `None` when evicted or not yet written.
    pub fn offset_of(&self, seq: Seq) -> Option<u64> {
        if seq == self.next_seq {
            Some(self.end_off)
        } else if seq >= self.first_seq && seq < self.next_seq {
            Some(self.index[(seq & self.index_mask) as usize])
        } else {
            None
        }
    }

    /// Writes the retained stream (for snapshots): first and next sequence
    /// numbers, then the retained frames as one length-prefixed block.
    pub fn write_to(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        w.write_all(&self.first_seq.to_le_bytes())?;
        w.write_all(&self.next_seq.to_le_bytes())?;
        w.write_all(&(self.end_off - self.start_off).to_le_bytes())?;
        let (a, b) = self.pending(self.start_off);
        w.write_all(a)?;
        w.write_all(b)
    }

    /// Reads a stream written by `write_to` into a log of the given size.
    pub fn read_from(
        r: &mut impl std::io::Read,
        capacity_bytes: usize,
        max_messages: usize,
    ) -> std::io::Result<OutLog> {
        let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string());
        let mut u = [0u8; 8];
        let mut read_u64 = |r: &mut dyn std::io::Read| -> std::io::Result<u64> {
            r.read_exact(&mut u)?;
            Ok(u64::from_le_bytes(u))
        };
        let first_seq = read_u64(r)?;
        let next_seq = read_u64(r)?;
        let len = read_u64(r)?;
        let mut log = OutLog::new(capacity_bytes, max_messages);
        if first_seq == 0 || next_seq < first_seq || len > log.capacity_bytes() {
            return Err(bad("out log header out of range"));
        }
        let mut bytes = vec![0u8; len as usize];
        r.read_exact(&mut bytes)?;
        log.first_seq = first_seq;
        log.next_seq = first_seq;
        let mut at = 0usize;
        while at < bytes.len() {
            let n = match protocol::codec::frame_len(&bytes[at..]) {
                Ok(Some(n)) => n,
                _ => return Err(bad("out log frames do not parse")),
            };
            let seq = log.next_seq;
            log.append(seq, &bytes[at..at + n]);
            at += n;
        }
        if log.next_seq != next_seq {
            return Err(bad("out log frame count does not match its sequence numbers"));
        }
        Ok(log)
    }

    /// The message that starts at byte offset `off` (a retained offset below
    /// the end), decoded, and its frame's length; `None` when `off` is the end or
    /// no longer retained. Copies the frame when it wraps; allocates nothing.
    pub fn decode_at(&self, off: u64) -> Option<(Sequenced, u64)> {
        if off < self.start_off || off >= self.end_off {
            return None;
        }
        let (a, b) = self.pending_until(off, (off + MAX_FRAME_LEN as u64).min(self.end_off));
        let mut buf = [0u8; MAX_FRAME_LEN];
        let bytes: &[u8] = if b.is_empty() {
            a
        } else {
            buf[..a.len()].copy_from_slice(a);
            buf[a.len()..a.len() + b.len()].copy_from_slice(b);
            &buf[..a.len() + b.len()]
        };
        let n = protocol::codec::frame_len(bytes).ok()??;
        match protocol::codec::ServerMessage::decode(&bytes[..n]) {
            Ok(protocol::codec::ServerMessage::App(s)) => Some((s, n as u64)),
            _ => None,
        }
    }

    /// Every retained message, decoded (for tests and tools; allocates).
    pub fn messages(&self) -> Vec<Sequenced> {
        let (a, b) = self.pending(self.start_off);
        let bytes = [a, b].concat();
        let mut out = Vec::new();
        let mut at = 0;
        while let Ok(Some(n)) = protocol::codec::frame_len(&bytes[at..]) {
            if let Ok(protocol::codec::ServerMessage::App(s)) =
                protocol::codec::ServerMessage::decode(&bytes[at..at + n])
            {
                out.push(s);
            }
            at += n;
        }
        out
    }

    /// The bytes from `from_off` up to `until_off` (at most the end), as up to two
    /// contiguous slices.
    pub fn pending_until(&self, from_off: u64, until_off: u64) -> (&[u8], &[u8]) {
        let until = until_off.min(self.end_off);
        if until <= from_off {
            return (&[], &[]);
        }
        let len = (until - from_off) as usize;
        let at = (from_off & self.byte_mask) as usize;
        let first = len.min(self.bytes.len() - at);
        (&self.bytes[at..at + first], &self.bytes[..len - first])
    }

    /// The bytes from `from_off` to the end, as up to two contiguous slices.
    /// `from_off` must be a retained offset (from `offset_of` or a cursor not
    /// behind `start_offset()`).
    pub fn pending(&self, from_off: u64) -> (&[u8], &[u8]) {
        debug_assert!(
            from_off >= self.start_off && from_off <= self.end_off,
            "cursor outside the log"
        );
        let len = (self.end_off - from_off) as usize;
        let at = (from_off & self.byte_mask) as usize;
        let first = len.min(self.bytes.len() - at);
        (&self.bytes[at..at + first], &self.bytes[..len - first])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, len: usize) -> Vec<u8> {
        let mut f = vec![(seq & 0xff) as u8; len];
        f[0] = len as u8;
        f
    }

    fn collect(log: &OutLog, from: u64) -> Vec<u8> {
        let (a, b) = log.pending(from);
        [a, b].concat()
    }

    #[test]
    fn replays_from_any_retained_sequence() {
        let mut log = OutLog::new(4096, 16);
        for seq in 1..=5 {
            log.append(seq, &frame(seq, 10));
        }
        assert_eq!(log.last_seq(), 5);
        assert_eq!(log.offset_of(1), Some(0));
        assert_eq!(log.offset_of(3), Some(20));
        assert_eq!(log.offset_of(6), Some(50));
        assert_eq!(log.offset_of(7), None);
        assert_eq!(collect(&log, 30), [frame(4, 10), frame(5, 10)].concat());
    }

    #[test]
    fn evicts_oldest_and_wraps_bytes() {
        let mut log = OutLog::new(4096, 1 << 20);
        let mut all = Vec::new();
        for seq in 1..=100 {
            let f = frame(seq, 100);
            log.append(seq, &f);
            all.push(f);
        }
        // 4096 bytes hold 40 frames of 100 bytes.
        assert_eq!(log.first_seq(), 61);
        assert_eq!(log.offset_of(60), None);
        let from = log.offset_of(61).unwrap();
        assert_eq!(collect(&log, from), all[60..].concat());
    }

    #[test]
    fn evicts_when_the_index_is_full() {
        let mut log = OutLog::new(1 << 16, 16);
        for seq in 1..=40 {
            log.append(seq, &frame(seq, 8));
        }
        assert_eq!(log.first_seq(), 25);
        assert_eq!(
            collect(&log, log.offset_of(39).unwrap()),
            [frame(39, 8), frame(40, 8)].concat()
        );
    }

    #[test]
    #[should_panic(expected = "gap-free")]
    fn a_gap_is_a_bug() {
        let mut log = OutLog::new(4096, 16);
        log.append(2, &frame(2, 8));
    }
}
