//! Decoding bytes from the network never panics: whatever arrives, the decoders
//! return a typed error or a valid message that re-encodes to the same bytes
//! (except bytes the decoder ignores, which re-encode as zero, and free text,
//! which re-encodes as rendered). `FrameBuffer` fed arbitrary chunks never panics,
//! never stalls, and hands back exactly the frames that were sent.
//!
//! Case counts are sized for CI (the whole crate's tests run in seconds); set
//! `PROPTEST_CASES` for a long run, e.g.
//! `PROPTEST_CASES=1000000 cargo test -p protocol --release --test robustness`.

mod util;

use std::io::{self, Read};

use proptest::prelude::*;
use protocol::codec::{DecodeError, frame_len};
use protocol::framing::FrameBuffer;
use protocol::{ClientMessage, MAX_FRAME_LEN, ServerMessage};

const CASES: u32 = 50_000;

/// Decodes `input` both ways and checks the decoder's contract on each result.
fn check_decode(input: &[u8]) -> Result<(), TestCaseError> {
    match ClientMessage::decode(input) {
        Ok(m) => {
            prop_assert_eq!(frame_len(input), Ok(Some(input.len())));
            let again = util::encode_client(&m);
            util::assert_canonical(true, input, &again);
            prop_assert_eq!(ClientMessage::decode(&again), Ok(m));
        }
        Err(e) => check_error(input, e)?,
    }
    match ServerMessage::decode(input) {
        Ok(m) => {
            prop_assert_eq!(frame_len(input), Ok(Some(input.len())));
            let again = util::encode_server(&m);
            util::assert_canonical(false, input, &again);
            prop_assert_eq!(ServerMessage::decode(&again), Ok(m));
        }
        Err(e) => check_error(input, e)?,
    }
    Ok(())
}

/// An error is consistent with what framing alone says about the input.
fn check_error(input: &[u8], e: DecodeError) -> Result<(), TestCaseError> {
    prop_assert!(e.reject_code().is_defined());
    match e {
        DecodeError::Truncated { needed, available } => {
            prop_assert_eq!(available, input.len());
            prop_assert!(needed > available && needed <= MAX_FRAME_LEN);
        }
        DecodeError::BadFrameLength { .. } => prop_assert_eq!(frame_len(input), Err(e)),
        // Framing held: the frame had a whole header (and maybe trailing bytes).
        _ => prop_assert!(input.len() >= 3),
    }
    Ok(())
}

/// A frame with a correct length prefix: a known or random type byte, a body of
/// random bytes (often exactly the length the type needs).
fn framed_junk() -> impl Strategy<Value = Vec<u8>> {
    let all_types: Vec<u8> = util::CLIENT_TYPES.iter().chain(util::SERVER_TYPES).copied().collect();
    let msg_type = prop_oneof![3 => proptest::sample::select(all_types), 1 => any::<u8>()];
    let body_len = prop_oneof![
        proptest::sample::select(vec![0usize, 2, 10, 32, 33, 48, 56, 60, 73, 80, 88, 96]),
        0..MAX_FRAME_LEN - 2,
    ];
    (msg_type, body_len)
        .prop_flat_map(|(t, n)| (Just(t), proptest::collection::vec(any::<u8>(), n)))
        .prop_map(|(t, body)| {
            let mut out = ((body.len() + 1) as u16).to_le_bytes().to_vec();
            out.push(t);
            out.extend_from_slice(&body);
            out
        })
}

/// One change to a valid frame.
#[derive(Clone, Debug)]
enum Mutation {
    /// Overwrite one byte.
    Set(usize, u8),
    /// Flip one bit.
    Flip(usize, u8),
    /// Cut the frame to a length (index taken modulo the length).
    Truncate(usize),
    /// Append bytes.
    Extend(Vec<u8>),
    /// Cut or extend the body and fix the length prefix to match.
    Resize(usize, u8),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        4 => (any::<usize>(), 0u8..8).prop_map(|(i, bit)| Mutation::Flip(i, bit)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => proptest::collection::vec(any::<u8>(), 1..8).prop_map(Mutation::Extend),
        2 => (0usize..MAX_FRAME_LEN - 3, any::<u8>()).prop_map(|(n, fill)| Mutation::Resize(n, fill)),
    ]
}

fn apply(frame: &mut Vec<u8>, m: &Mutation) {
    match *m {
        Mutation::Set(i, b) if !frame.is_empty() => {
            let len = frame.len();
            frame[i % len] = b;
        }
        Mutation::Flip(i, bit) if !frame.is_empty() => {
            let len = frame.len();
            frame[i % len] ^= 1 << bit;
        }
        Mutation::Truncate(n) => frame.truncate(n % (frame.len() + 1)),
        Mutation::Extend(ref tail) => frame.extend_from_slice(tail),
        Mutation::Resize(body, fill) => {
            frame.resize(body + 3, fill);
            let prefix = ((body + 1) as u16).to_le_bytes();
            frame[..2].copy_from_slice(&prefix);
        }
        _ => {}
    }
}

/// A valid frame of either direction.
fn valid_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        util::client_message().prop_map(|m| util::encode_client(&m)),
        util::server_message().prop_map(|m| util::encode_server(&m)),
    ]
}

proptest! {
    #![proptest_config(util::config(CASES))]

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..600)) {
        check_decode(&input)?;
    }

    #[test]
    fn framed_junk_never_panics(input in framed_junk()) {
        check_decode(&input)?;
    }

    #[test]
    fn mutated_valid_frames_never_panic(
        mut frame in valid_frame(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        for m in &mutations {
            apply(&mut frame, m);
        }
        check_decode(&frame)?;
    }
}

// ---------------------------------------------------------------------------
// FrameBuffer
// ---------------------------------------------------------------------------

/// A reader that hands out a byte stream in the chunk sizes it is given.
struct Chunked<'a> {
    data: &'a [u8],
    sizes: &'a [usize],
    next: usize,
    /// The size offered by the last `read`, `None` if `read` was not called.
    offered: Option<usize>,
}

impl Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        self.offered = Some(size);
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Feeds `stream` in chunks of `sizes` (cycled), taking every whole frame after
/// each chunk; returns the frames and whether framing broke. Fails the case if
/// the buffer ever stalls: bytes offered, none taken, no frame to hand out.
fn run_frame_buffer(
    stream: &[u8],
    sizes: &[usize],
    capacity: usize,
    use_reader: bool,
) -> Result<(Vec<Vec<u8>>, bool), TestCaseError> {
    let mut fb = FrameBuffer::new(capacity);
    let mut frames = Vec::new();
    let mut reader = Chunked { data: stream, sizes, next: 0, offered: None };
    let mut fed = 0;
    for chunk in 0.. {
        let (n, offered) = if use_reader {
            reader.offered = None;
            let n = fb.read_from(&mut reader).expect("in-memory reads do not fail");
            (n, reader.offered)
        } else {
            let size = sizes[chunk % sizes.len()].min(stream.len() - fed);
            (fb.extend_from_slice(&stream[fed..fed + size]), Some(size))
        };
        fed += n;
        let mut took = 0;
        loop {
            match fb.next_frame() {
                Ok(Some(frame)) => {
                    prop_assert!(frame.len() >= 3 && frame.len() <= MAX_FRAME_LEN);
                    frames.push(frame.to_vec());
                    took += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    let framing = matches!(e, DecodeError::BadFrameLength { .. });
                    prop_assert!(framing, "only a bad length prefix breaks framing: {}", e);
                    return Ok((frames, true));
                }
            }
        }
        let remaining = stream.len() - fed;
        if remaining == 0 && took == 0 {
            // Everything fed and taken; what is left is one incomplete frame.
            let taken: usize = frames.iter().map(Vec::len).sum();
            prop_assert_eq!(fb.buffered(), stream.len() - taken);
            prop_assert!(fb.buffered() < MAX_FRAME_LEN);
            return Ok((frames, false));
        }
        // `None`: the buffer had no room to offer a read at all.
        let stalled = n == 0 && took == 0 && offered.is_none_or(|o| o > 0);
        prop_assert!(!stalled, "FrameBuffer stalled with {} bytes buffered", fb.buffered());
    }
    unreachable!("the loop returns")
}

proptest! {
    #![proptest_config(util::config(CASES / 5))]

    #[test]
    fn frame_buffer_returns_exactly_the_frames_sent(
        messages in proptest::collection::vec(valid_frame(), 0..24),
        sizes in proptest::collection::vec(1usize..700, 1..16),
        capacity in 0usize..4096,
        use_reader in any::<bool>(),
    ) {
        let stream: Vec<u8> = messages.concat();
        let (frames, broken) = run_frame_buffer(&stream, &sizes, capacity, use_reader)?;
        prop_assert!(!broken);
        prop_assert_eq!(frames, messages);
    }

    #[test]
    fn frame_buffer_never_panics_on_arbitrary_streams(
        messages in proptest::collection::vec(valid_frame(), 0..8),
        junk in proptest::collection::vec(any::<u8>(), 0..600),
        junk_at in any::<usize>(),
        sizes in proptest::collection::vec(0usize..700, 1..16),
        capacity in 0usize..4096,
        use_reader in any::<bool>(),
    ) {
        let mut stream: Vec<u8> = messages.concat();
        let at = junk_at % (stream.len() + 1);
        stream.splice(at..at, junk);
        if sizes.iter().all(|&s| s == 0) {
            return Ok(()); // Nothing would ever be fed.
        }
        let (frames, broken) = run_frame_buffer(&stream, &sizes, capacity, use_reader)?;
        // Whatever came out is a prefix of the stream, frame by frame.
        let taken: Vec<u8> = frames.concat();
        prop_assert_eq!(&stream[..taken.len()], &taken[..]);
        if !broken {
            for frame in &frames {
                prop_assert_eq!(frame_len(frame), Ok(Some(frame.len())));
            }
        }
    }
}
