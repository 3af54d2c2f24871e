//! Segment files: the header (magic, format, CRC, first input, session, fingerprint),
//! names, and the directory's list of segments.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::fingerprint::FINGERPRINT_LEN;
use super::fingerprint::Fingerprint;
use super::*;

pub(super) fn header(
    first_input_seq: u64,
    session_id: u64,
    fingerprint: &Fingerprint,
) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    h[16..24].copy_from_slice(&first_input_seq.to_le_bytes());
    h[24..32].copy_from_slice(&session_id.to_le_bytes());
    h[32..].copy_from_slice(&fingerprint.to_bytes());
    let crc = crc32fast::hash(&h[16..]);
    h[12..16].copy_from_slice(&crc.to_le_bytes());
    h
}

/// A segment header's fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SegmentHeader {
    /// The segment's first input (its predecessor's last input + 1).
    pub first_input_seq: u64,
    /// The trading day's session id.
    pub session_id: u64,
    /// The configuration it was written under.
    pub fingerprint: Fingerprint,
}

/// Parses a segment header (the caller checked the magic): its format first, so
/// that an old journal is named as such, then its length and CRC.
pub(super) fn parse_header(bytes: &[u8]) -> Result<SegmentHeader, String> {
    let format = bytes.get(8..12).and_then(|f| f.try_into().ok()).map_or(0, u32::from_le_bytes);
    if format != FORMAT {
        return Err(format!(
            "journal format {format}; this gateway reads format {FORMAT} only (format 1 was \
             written by an older Breakwater, without the high-water mark and the configuration \
             fingerprint): finish the day with the version that wrote it, or move the journal \
             directory away to start a new journal"
        ));
    }
    let h = bytes.get(..HEADER_LEN).ok_or("segment shorter than its header")?;
    let crc = u32::from_le_bytes(h[12..16].try_into().unwrap_or([0; 4]));
    if crc32fast::hash(&h[16..]) != crc {
        return Err("damaged segment header (CRC mismatch)".into());
    }
    let u64_at = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().unwrap_or([0; 8]));
    let fingerprint: &[u8; FINGERPRINT_LEN] = h[32..].try_into().map_err(|_| "short header")?;
    Ok(SegmentHeader {
        first_input_seq: u64_at(16),
        session_id: u64_at(24),
        fingerprint: Fingerprint::from_bytes(fingerprint),
    })
}

/// Refuses a journal whose segments were written under a configuration whose
/// decision-relevant sections differ from `expected` (see [`fingerprint`]). Reads
/// the segment headers only; damage elsewhere is for [`read_journal`] to report.
pub fn check_config(dir: &Path, expected: &Fingerprint) -> Result<(), JournalError> {
    for (path, header) in headers(dir)? {
        let sections = header.fingerprint.changed_sections(expected);
        if !sections.is_empty() {
            return Err(JournalError::ConfigChanged { path, sections });
        }
    }
    Ok(())
}

/// The segments' intact headers; an error for one of another format. Segments
/// too short or damaged to have one are left out (reading them reports why).
pub(super) fn headers(dir: &Path) -> Result<Vec<(PathBuf, SegmentHeader)>, JournalError> {
    let mut found = Vec::new();
    for path in segments(dir)? {
        let mut h = Vec::with_capacity(HEADER_LEN);
        File::open(&path)
            .and_then(|f| f.take(HEADER_LEN as u64).read_to_end(&mut h))
            .map_err(io_err(&path))?;
        if h.len() < 12 || h[..8] != MAGIC {
            continue;
        }
        match parse_header(&h) {
            Ok(header) => found.push((path, header)),
            Err(why) if why.starts_with("journal format") => {
                return Err(JournalError::Layout { path, why });
            }
            Err(_) => {}
        }
    }
    Ok(found)
}

/// The file name of the segment whose first input is `first_input_seq`.
pub fn segment_name(first_input_seq: u64) -> String {
    format!("journal-{first_input_seq:020}.bwj")
}

/// The journal's segments in order.
pub fn segments(dir: &Path) -> Result<Vec<PathBuf>, JournalError> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => return Err(JournalError::Io { path: dir.to_path_buf(), source: e }),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("journal-") && name.ends_with(".bwj") {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}
