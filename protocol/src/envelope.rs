//! The snapshot file envelope: the one framing every snapshot format writes
//! around its bytes, so that each format decides only what its bytes are.
//!
//! ```text
//! section = magic [u8; 8] | u32 version | u64 len | u32 crc32(bytes) | bytes   (little-endian)
//! end     = marker [u8; 8]
//! ```
//!
//! A section's length comes before its bytes, so sections can follow one another
//! (or other data) in one stream and reading never consumes a byte past a
//! section's end. Reading checks, in this order: the magic (is this the section
//! asked for), the version (does this build read it), the length against the
//! reader's maximum (before anything is allocated for it), and the CRC (before
//! the bytes are handed out). The bytes are read through [`Read::take`], so a
//! damaged length within the maximum allocates no more than the bytes really
//! there. A stream cut short is [`EnvelopeError::Io`] of kind
//! [`io::ErrorKind::UnexpectedEof`]; nothing here panics on what it reads.
//!
//! A section too large to hold in memory (the gateway's snapshot payload) is
//! written through a [`CrcWriter`] after a placeholder header, and its real header
//! ([`Section::header`]) written over the placeholder once the length and CRC are
//! known; it is checked without holding it by [`SectionHeader::check_stream`].

use std::io::{self, Read, Write};

/// Bytes of a section's header: magic, version, length, CRC.
pub const SECTION_HEADER_LEN: usize = 24;
/// Bytes of an end marker.
pub const END_LEN: usize = 8;
/// Bytes [`SectionHeader::check_stream`] reads at a time.
const STREAM_CHUNK_BYTES: usize = 1 << 20;

/// Why a section or end marker could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The reader failed; a stream cut short reads as
    /// [`io::ErrorKind::UnexpectedEof`].
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
    /// The magic (or end marker) is not the one asked for: these bytes are not
    /// this section.
    #[error("expected {expected:?}, found {found:?}")]
    NotThis {
        /// The magic asked for, as text where it is text.
        expected: Magic,
        /// The bytes found in its place.
        found: Magic,
    },
    /// Written by a build with another version of this section.
    #[error("version {found}, this build reads {expected}")]
    Version {
        /// The section's version.
        found: u32,
        /// The version this build reads and writes.
        expected: u32,
    },
    /// The length is over the reader's maximum; nothing was allocated for it.
    #[error("{len} bytes, at most {max} expected")]
    TooLong {
        /// The length in the header.
        len: u64,
        /// The reader's maximum.
        max: u64,
    },
    /// The bytes do not match their CRC.
    #[error("CRC mismatch")]
    Crc,
}

/// Eight bytes naming a section or an end marker; shown as text in errors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Magic(pub [u8; 8]);

impl std::fmt::Debug for Magic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "\"{}\"", self.0.escape_ascii())
    }
}

/// One kind of section: its magic, the version this build reads and writes, and
/// the longest section it accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// The first eight bytes of every section of this kind.
    pub magic: [u8; 8],
    /// The version this build writes; reading refuses any other.
    pub version: u32,
    /// The longest section reading accepts, checked before allocating.
    pub max_len: u64,
}

/// A section's header as read: its length and CRC (magic and version checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SectionHeader {
    /// Bytes of the section after its header.
    pub len: u64,
    /// CRC-32 of those bytes.
    pub crc: u32,
}

impl Section {
    /// The header of a section of `len` bytes whose CRC-32 is `crc`.
    pub fn header(&self, len: u64, crc: u32) -> [u8; SECTION_HEADER_LEN] {
        let mut h = [0u8; SECTION_HEADER_LEN];
        h[..8].copy_from_slice(&self.magic);
        h[8..12].copy_from_slice(&self.version.to_le_bytes());
        h[12..20].copy_from_slice(&len.to_le_bytes());
        h[20..24].copy_from_slice(&crc.to_le_bytes());
        h
    }

    /// Writes `bytes` as one section. A length over [`Section::max_len`] is
    /// refused ([`io::ErrorKind::InvalidInput`]), writing nothing: the section
    /// could never be read back.
    pub fn write(&self, w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
        if bytes.len() as u64 > self.max_len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a {:?} section of {} bytes is over its maximum of {}",
                    Magic(self.magic),
                    bytes.len(),
                    self.max_len
                ),
            ));
        }
        w.write_all(&self.header(bytes.len() as u64, crc32fast::hash(bytes)))?;
        w.write_all(bytes)
    }

    /// Reads a section's header: magic, version, and a length within the maximum.
    /// The bytes are left in `r`.
    pub fn read_header(&self, r: &mut impl Read) -> Result<SectionHeader, EnvelopeError> {
        let found: [u8; 8] = read_array(r)?;
        if found != self.magic {
            return Err(EnvelopeError::NotThis {
                expected: Magic(self.magic),
                found: Magic(found),
            });
        }
        let version = u32::from_le_bytes(read_array(r)?);
        if version != self.version {
            return Err(EnvelopeError::Version { found: version, expected: self.version });
        }
        let len = u64::from_le_bytes(read_array(r)?);
        if len > self.max_len {
            return Err(EnvelopeError::TooLong { len, max: self.max_len });
        }
        Ok(SectionHeader { len, crc: u32::from_le_bytes(read_array(r)?) })
    }

    /// Reads one whole section and returns its bytes, their CRC checked.
    /// Consumes exactly the section's bytes.
    pub fn read(&self, r: &mut impl Read) -> Result<Vec<u8>, EnvelopeError> {
        let header = self.read_header(r)?;
        let mut bytes = Vec::new();
        // Through `take`, so the buffer grows with the bytes that really arrive.
        r.take(header.len).read_to_end(&mut bytes)?;
        if bytes.len() as u64 != header.len {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        if crc32fast::hash(&bytes) != header.crc {
            return Err(EnvelopeError::Crc);
        }
        Ok(bytes)
    }
}

impl SectionHeader {
    /// Reads the section's bytes from `r` a chunk at a time, without keeping
    /// them, and checks their CRC: for a section too large to hold in memory.
    pub fn check_stream(&self, r: &mut impl Read) -> Result<(), EnvelopeError> {
        let mut hasher = crc32fast::Hasher::new();
        let chunk = STREAM_CHUNK_BYTES.min(usize::try_from(self.len).unwrap_or(usize::MAX));
        let mut buf = vec![0u8; chunk];
        let mut left = self.len;
        while left > 0 {
            let n = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            r.read_exact(&mut buf[..n])?;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        if hasher.finalize() != self.crc {
            return Err(EnvelopeError::Crc);
        }
        Ok(())
    }
}

fn read_array<const N: usize>(r: &mut impl Read) -> io::Result<[u8; N]> {
    let mut b = [0u8; N];
    r.read_exact(&mut b)?;
    Ok(b)
}

/// Writes an end marker.
pub fn write_end(w: &mut impl Write, marker: [u8; 8]) -> io::Result<()> {
    w.write_all(&marker)
}

/// Reads an end marker and checks it is `marker`.
pub fn read_end(r: &mut impl Read, marker: [u8; 8]) -> Result<(), EnvelopeError> {
    let found: [u8; END_LEN] = read_array(r)?;
    if found != marker {
        return Err(EnvelopeError::NotThis { expected: Magic(marker), found: Magic(found) });
    }
    Ok(())
}

/// A writer that hashes and counts everything written through it: the length
/// and CRC of a section written as a stream.
#[derive(Debug)]
pub struct CrcWriter<W: Write> {
    inner: W,
    hasher: crc32fast::Hasher,
    written: u64,
}

impl<W: Write> CrcWriter<W> {
    /// Hashes what is written to `inner` from now on.
    pub fn new(inner: W) -> CrcWriter<W> {
        CrcWriter { inner, hasher: crc32fast::Hasher::new(), written: 0 }
    }

    /// The writer back, with the bytes written and their CRC-32.
    pub fn finish(self) -> (W, u64, u32) {
        (self.inner, self.written, self.hasher.finalize())
    }
}

impl<W: Write> Write for CrcWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Section = Section { magic: *b"BWTEST01", version: 3, max_len: 64 };
    const END: [u8; 8] = *b"BWTESTOK";

    fn framed(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        KIND.write(&mut out, bytes).unwrap();
        write_end(&mut out, END).unwrap();
        out
    }

    #[test]
    fn a_section_round_trips_and_reads_exactly_its_bytes() {
        let mut stream = framed(b"the state");
        stream.extend_from_slice(b"after");
        assert_eq!(&stream[..8], b"BWTEST01");
        assert_eq!(stream.len(), SECTION_HEADER_LEN + 9 + END_LEN + 5);
        let mut r = stream.as_slice();
        assert_eq!(KIND.read(&mut r).unwrap(), b"the state");
        read_end(&mut r, END).unwrap();
        assert_eq!(r, b"after");
        let empty = framed(b"");
        let mut r = empty.as_slice();
        assert_eq!(KIND.read(&mut r).unwrap(), b"");
        read_end(&mut r, END).unwrap();
    }

    #[test]
    fn another_magic_is_not_this_section() {
        let mut bytes = framed(b"x");
        bytes[0] = b'X';
        match KIND.read(&mut bytes.as_slice()) {
            Err(EnvelopeError::NotThis { expected, found }) => {
                assert_eq!(expected, Magic(*b"BWTEST01"));
                assert_eq!(found, Magic(*b"XWTEST01"));
            }
            other => panic!("{other:?}"),
        }
        let bytes = framed(b"x");
        let mut r = &bytes[..SECTION_HEADER_LEN + 1];
        KIND.read(&mut r).unwrap();
        let err = read_end(&mut &b"BWTESTNO"[..], END).unwrap_err();
        assert!(matches!(err, EnvelopeError::NotThis { .. }), "{err:?}");
    }

    #[test]
    fn another_version_is_refused_by_number() {
        let mut bytes = framed(b"x");
        bytes[8] = 2;
        assert!(matches!(
            KIND.read(&mut bytes.as_slice()),
            Err(EnvelopeError::Version { found: 2, expected: 3 })
        ));
    }

    #[test]
    fn a_cut_short_section_is_unexpected_eof() {
        let bytes = framed(b"some state bytes");
        for len in 0..bytes.len() - END_LEN {
            match KIND.read(&mut &bytes[..len]) {
                Err(EnvelopeError::Io(e)) => {
                    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "{len}");
                }
                other => panic!("{len} bytes: {other:?}"),
            }
        }
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let bytes = framed(b"some state bytes");
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            let mut r = bad.as_slice();
            let read = KIND.read(&mut r).and_then(|_| read_end(&mut r, END));
            assert!(read.is_err(), "byte {at}");
        }
        let mut bad = bytes.clone();
        bad[SECTION_HEADER_LEN] ^= 0x80;
        assert!(matches!(KIND.read(&mut bad.as_slice()), Err(EnvelopeError::Crc)));
    }

    #[test]
    fn a_length_over_the_maximum_is_refused_before_reading() {
        let mut bytes = KIND.header(u64::MAX, 0).to_vec();
        bytes.extend_from_slice(&[0; 100]);
        assert!(matches!(
            KIND.read(&mut bytes.as_slice()),
            Err(EnvelopeError::TooLong { len: u64::MAX, max: 64 })
        ));
        let at_max = vec![7u8; 64];
        assert_eq!(KIND.read(&mut framed(&at_max).as_slice()).unwrap(), at_max);
        // Within the maximum but longer than the bytes there: cut short.
        let mut bytes = KIND.header(64, 0).to_vec();
        bytes.extend_from_slice(b"short");
        let err = KIND.read(&mut bytes.as_slice()).unwrap_err();
        assert!(
            matches!(err, EnvelopeError::Io(ref e) if e.kind() == io::ErrorKind::UnexpectedEof)
        );
    }

    #[test]
    fn a_section_over_the_maximum_is_not_written() {
        let mut out = Vec::new();
        let err = KIND.write(&mut out, &[0; 65]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.is_empty());
    }

    #[test]
    fn a_streamed_section_reads_as_a_whole_one() {
        let mut w = CrcWriter::new(Vec::new());
        w.write_all(b"streamed ").unwrap();
        w.write_all(b"payload").unwrap();
        let (payload, len, crc) = w.finish();
        let mut file = KIND.header(len, crc).to_vec();
        file.extend_from_slice(&payload);
        assert_eq!(file, framed(b"streamed payload")[..SECTION_HEADER_LEN + 16]);
        let mut r = file.as_slice();
        let header = KIND.read_header(&mut r).unwrap();
        assert_eq!(header, SectionHeader { len: 16, crc: crc32fast::hash(b"streamed payload") });
        header.check_stream(&mut r).unwrap();
        assert!(r.is_empty());
        let mut bad = file.clone();
        *bad.last_mut().unwrap() ^= 0x01;
        let mut r = bad.as_slice();
        let header = KIND.read_header(&mut r).unwrap();
        assert!(matches!(header.check_stream(&mut r), Err(EnvelopeError::Crc)));
        let mut r = &file[..file.len() - 1];
        let header = KIND.read_header(&mut r).unwrap();
        assert!(matches!(header.check_stream(&mut r), Err(EnvelopeError::Io(_))));
    }
}
