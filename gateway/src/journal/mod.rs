//! The journal: every sequenced input, appended to CRC-framed files, so that a
//! restart can replay the day through the same deterministic engine.
//!
//! ```text
//! segment  = header record*
//! header   = magic "BWJRNL01" | u32 format (2) | u32 crc32(header bytes 16..96)
//!          | u64 first_input_seq | u64 session_id | u64 config_fingerprint[8]
//! record   = u32 body_len | u32 crc32(body) | body
//! body     = u64 input_seq | u64 now_ns | u64 arrival_ns | u8 kind | payload
//! ```
//!
//! Integers are little-endian. Segments are named `journal-<first_input_seq>.bwj`
//! (20 digits) and rotate at a configured size; a restart never appends to an old
//! segment, it starts a new one after the last good record.
//!
//! The writer thread takes entries from the engine through a ring, encodes them,
//! writes a batch and makes it durable with one `fdatasync` (group commit), then
//! stores the batch's last input in the acknowledged high-water mark
//! ([`watermark`]), then publishes the durable input sequence. Under the `sync`
//! policy the io thread releases an answer only once its input is durable (as LMAX
//! does), so the mark is at or past every answer a client can have seen: recovery
//! refuses a journal that ends before it. The header's fingerprint
//! ([`fingerprint`]) names the configuration the inputs were decided under.

pub mod commit_times;
pub mod fingerprint;
mod read;
mod segment;
#[cfg(test)]
mod tests;
pub mod watermark;
mod writer;

pub use commit_times::CommitTimes;
pub use order_engine::record::{Entry, MAX_BODY_LEN, RECORD_HEADER_LEN, decode_body, encode};
pub use read::{Recovered, TailPolicy, read_journal, read_journal_from};
pub use segment::{SegmentHeader, check_config, segment_name, segments};
pub use writer::{
    BATCH_BYTES, JournalProgress, PREPARING_NAME, Writer, WriterSettings, run_writer,
};

use std::io::{self};
use std::path::{Path, PathBuf};

use self::fingerprint::FINGERPRINT_LEN;
pub use self::fingerprint::Fingerprint;

/// File magic at the start of every segment.
pub const MAGIC: [u8; 8] = *b"BWJRNL01";
/// Format version written in the header. Format 1 (before the header CRC, the
/// configuration fingerprint and the high-water mark) is refused.
pub const FORMAT: u32 = 2;
/// Bytes of a segment header.
pub const HEADER_LEN: usize = 32 + FINGERPRINT_LEN;
/// A journal that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A segment is damaged before its end (not a torn final write).
    #[error(
        "{path}: damaged record at byte {offset} (after input {last_good_seq}): {why}; \
         start with `[journal] truncate_damaged_tail = true` to cut the journal there \
         (later inputs are lost), or restore the file"
    )]
    Corrupt {
        /// The segment.
        path: PathBuf,
        /// Offset of the damaged record.
        offset: u64,
        /// The last input read intact.
        last_good_seq: u64,
        /// What is wrong.
        why: String,
    },
    /// Segments do not follow each other.
    #[error("{path}: {why}")]
    Layout {
        /// The segment.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The journal ends before inputs the high-water mark says were made durable
    /// (and, under `sync`, answered): a deleted, truncated or overwritten segment.
    #[error(
        "{path}: {missing} acknowledged input(s) are missing: the journal ends at byte \
         {offset} after input {last_input_seq}{why}, but the high-water mark (journal.hwm) \
         says input {acknowledged} was durable; restore the journal files from a copy, or \
         start with `[journal] truncate_damaged_tail = true` to accept the loss (clients that \
         saw answers to those inputs will see streams that differ)"
    )]
    AcknowledgedMissing {
        /// The segment where the journal ends.
        path: PathBuf,
        /// Where its records end.
        offset: u64,
        /// The last input read intact.
        last_input_seq: u64,
        /// The high-water mark.
        acknowledged: u64,
        /// How many acknowledged inputs are gone.
        missing: u64,
        /// What ends it, when something does (", zeros from here on", ...).
        why: String,
    },
    /// The high-water mark is missing or unreadable while segments exist.
    #[error(
        "{path}: {why}; without it recovery cannot tell a torn final write from lost \
         acknowledged inputs: restore it from a copy, or start with `[journal] \
         truncate_damaged_tail = true` to trust the segments as they are"
    )]
    Watermark {
        /// The mark's file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The journal (or a snapshot) was written under a configuration that decides
    /// differently: a replay would not give clients the streams they received.
    #[error(
        "{path}: written under another configuration: {sections} changed since; a replay \
         would decide differently from what clients were answered. Restore the \
         configuration the journal was written with, or move the journal directory away \
         to start a new one (its orders, positions and streams are then not recovered)"
    )]
    ConfigChanged {
        /// The segment or snapshot.
        path: PathBuf,
        /// The sections that differ.
        sections: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io { path: path.to_path_buf(), source }
}
