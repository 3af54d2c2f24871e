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
pub mod watermark;

pub use commit_times::CommitTimes;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use log::{info, warn};
use protocol::codec::{ClientMessage, EntryState, MAX_FRAME_LEN};
use protocol::{AccountId, Market, RejectCode, SecurityId, TradingPhase};

use self::fingerprint::FINGERPRINT_LEN;
pub use self::fingerprint::Fingerprint;
use self::watermark::Watermark;
use crate::input::{AdminCommand, Input, LimitChange};
use crate::ring::Consumer;
use crate::wait::{Idle, IdleStep, WaitStrategy};

/// File magic at the start of every segment.
pub const MAGIC: [u8; 8] = *b"BWJRNL01";
/// Format version written in the header. Format 1 (before the header CRC, the
/// configuration fingerprint and the high-water mark) is refused.
pub const FORMAT: u32 = 2;
/// Bytes of a segment header.
pub const HEADER_LEN: usize = 32 + FINGERPRINT_LEN;
/// Bytes of a record's frame before its body.
pub const RECORD_HEADER_LEN: usize = 8;
/// Largest body a record may have (a whole client frame plus the fixed fields).
pub const MAX_BODY_LEN: usize = 25 + 4 + MAX_FRAME_LEN;

/// One sequenced input, as journaled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Entry {
    /// Its sequence number (1, 2, ...; gap-free across segments).
    pub input_seq: u64,
    /// The engine time it was processed at.
    pub now_ns: u64,
    /// When it reached the gateway.
    pub arrival_ns: u64,
    /// The input.
    pub input: Input,
}

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

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

const KIND_CLIENT: u8 = 1;
const KIND_MALFORMED: u8 = 2;
const KIND_DISCONNECTED: u8 = 3;
const KIND_TICK: u8 = 4;
const KIND_ADMIN: u8 = 5;
const KIND_LOGGED_IN: u8 = 6;
const KIND_FIX_FACT: u8 = 7;

fn put_security(out: &mut Vec<u8>, security: Option<SecurityId>) {
    match security {
        Some(s) => {
            out.push(s.market.as_u8());
            out.extend_from_slice(&s.code.to_le_bytes());
        }
        None => out.extend_from_slice(&[0; 5]),
    }
}

/// Appends one record (frame and body) for `entry` to `out`.
pub fn encode(entry: &Entry, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
    out.extend_from_slice(&entry.input_seq.to_le_bytes());
    out.extend_from_slice(&entry.now_ns.to_le_bytes());
    out.extend_from_slice(&entry.arrival_ns.to_le_bytes());
    let client = |login: u32, msg: ClientMessage, out: &mut Vec<u8>| {
        out.push(KIND_CLIENT);
        out.extend_from_slice(&login.to_le_bytes());
        let mut frame = [0u8; MAX_FRAME_LEN];
        let n = msg.encode_to_slice(&mut frame).expect("a client message fits a frame");
        out.extend_from_slice(&frame[..n]);
    };
    match entry.input {
        Input::NewOrder { login, order } => client(login, ClientMessage::NewOrder(order), out),
        Input::Cancel { login, cancel } => client(login, ClientMessage::CancelOrder(cancel), out),
        Input::Replace { login, replace } => {
            client(login, ClientMessage::ReplaceOrder(replace), out)
        }
        Input::MassCancel { login, mass } => client(login, ClientMessage::MassCancel(mass), out),
        Input::EntryControl { login, control } => {
            client(login, ClientMessage::OrderEntryControl(control), out)
        }
        Input::Malformed { login, ref_msg_type, code, ref_id } => {
            out.push(KIND_MALFORMED);
            out.extend_from_slice(&login.to_le_bytes());
            out.push(ref_msg_type);
            out.extend_from_slice(&code.0.to_le_bytes());
            out.extend_from_slice(&ref_id.to_le_bytes());
        }
        Input::Disconnected { login } => {
            out.push(KIND_DISCONNECTED);
            out.extend_from_slice(&login.to_le_bytes());
        }
        Input::LoggedIn { login, version } => {
            out.push(KIND_LOGGED_IN);
            out.extend_from_slice(&login.to_le_bytes());
            out.push(version);
        }
        Input::Tick => out.push(KIND_TICK),
        Input::Admin(cmd) => {
            out.push(KIND_ADMIN);
            encode_admin(&cmd, out);
        }
        Input::FixFact { login, fact } => {
            out.push(KIND_FIX_FACT);
            out.extend_from_slice(&login.to_le_bytes());
            encode_fix_fact(&fact, out);
        }
        // Queries change nothing and are never sequenced (the sequencer answers
        // them before the journal): nothing is written.
        Input::Query { .. } => {
            out.truncate(start);
            return;
        }
    }
    let body_len = (out.len() - start - RECORD_HEADER_LEN) as u32;
    let crc = crc32fast::hash(&out[start + RECORD_HEADER_LEN..]);
    out[start..start + 4].copy_from_slice(&body_len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// A FIX session fact: the stream seq it follows, a kind byte, then the kind's
/// fields (an input as its binary-protocol frame).
fn encode_fix_fact(fact: &fix::SessionFact, out: &mut Vec<u8>) {
    use fix::session::FactKind;
    out.extend_from_slice(&fact.after_stream_seq.to_le_bytes());
    match fact.kind {
        FactKind::Reset => out.push(1),
        FactKind::AdminSent { seq } => {
            out.push(2);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        FactKind::InboundNext { seq } => {
            out.push(3);
            out.extend_from_slice(&seq.to_le_bytes());
        }
        FactKind::Input(input) => {
            out.push(4);
            let msg = match input {
                fix::inbound::Input::NewOrder(o) => ClientMessage::NewOrder(o),
                fix::inbound::Input::CancelOrder(c) => ClientMessage::CancelOrder(c),
                fix::inbound::Input::ReplaceOrder(r) => ClientMessage::ReplaceOrder(r),
                fix::inbound::Input::MassCancel(m) => ClientMessage::MassCancel(m),
            };
            let mut frame = [0u8; MAX_FRAME_LEN];
            let n = msg.encode_to_slice(&mut frame).expect("a client message fits a frame");
            out.extend_from_slice(&frame[..n]);
        }
        FactKind::StreamFrom { seq } => {
            out.push(5);
            out.extend_from_slice(&seq.to_le_bytes());
        }
    }
}

fn decode_fix_fact(r: &mut Reader<'_>) -> Result<fix::SessionFact, String> {
    use fix::session::FactKind;
    let after_stream_seq = r.u64()?;
    let kind = match r.u8()? {
        1 => FactKind::Reset,
        2 => FactKind::AdminSent { seq: r.u64()? },
        3 => FactKind::InboundNext { seq: r.u64()? },
        4 => {
            let msg =
                ClientMessage::decode(r.rest()).map_err(|e| format!("FIX fact input: {e}"))?;
            FactKind::Input(match msg {
                ClientMessage::NewOrder(o) => fix::inbound::Input::NewOrder(o),
                ClientMessage::CancelOrder(c) => fix::inbound::Input::CancelOrder(c),
                ClientMessage::ReplaceOrder(p) => fix::inbound::Input::ReplaceOrder(p),
                ClientMessage::MassCancel(m) => fix::inbound::Input::MassCancel(m),
                other => return Err(format!("a {other:?} is never a FIX fact")),
            })
        }
        5 => FactKind::StreamFrom { seq: r.u64()? },
        other => return Err(format!("unknown FIX fact kind {other}")),
    };
    Ok(fix::SessionFact { after_stream_seq, kind })
}

fn encode_admin(cmd: &AdminCommand, out: &mut Vec<u8>) {
    match *cmd {
        AdminCommand::FirmState(s) => out.extend_from_slice(&[1, s as u8]),
        AdminCommand::AccountState(a, s) => {
            out.push(2);
            out.extend_from_slice(&a.to_wire());
            out.push(s as u8);
        }
        AdminCommand::CancelAccount(a) => {
            out.push(3);
            out.extend_from_slice(&a.to_wire());
        }
        AdminCommand::Halt(s) => {
            out.push(4);
            put_security(out, s);
        }
        AdminCommand::Resume(s) => {
            out.push(5);
            put_security(out, s);
        }
        AdminCommand::ResumeWithAuction(s, ns) => {
            out.push(6);
            put_security(out, s);
            out.extend_from_slice(&ns.to_le_bytes());
        }
        AdminCommand::SetPhase(s, phase) => {
            out.push(7);
            put_security(out, s);
            out.push(phase.as_u8());
        }
        AdminCommand::PauseMatching { until_ns } => {
            out.push(8);
            out.extend_from_slice(&until_ns.to_le_bytes());
        }
        AdminCommand::AckDelay { delay_ns } => {
            out.push(9);
            out.extend_from_slice(&delay_ns.to_le_bytes());
        }
        AdminCommand::SetLimit(change) => {
            out.push(10);
            let (which, value): (u8, i64) = match change {
                LimitChange::MaxNotional(v) => (1, v),
                LimitChange::FatFingerBp(v) => (2, i64::from(v)),
                LimitChange::MaxMessagesPerSecond(v) => (3, i64::from(v)),
                LimitChange::MaxOpenOrdersPerSecurity(v) => (4, i64::from(v)),
            };
            out.push(which);
            out.extend_from_slice(&value.to_le_bytes());
        }
        AdminCommand::EndOfDay => out.push(11),
        AdminCommand::StartOfDay => out.push(12),
    }
}

/// Reads fields from a record body; every read is bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("record body too short")?;
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into().map_err(|_| "short")?))
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| "short")?))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| "short")?))
    }
    fn account(&mut self) -> Result<AccountId, String> {
        let raw: [u8; 16] = self.take(16)?.try_into().map_err(|_| "short")?;
        AccountId::from_wire(raw).map_err(|e| format!("account: {e}"))
    }
    fn security(&mut self) -> Result<Option<SecurityId>, String> {
        let market = self.u8()?;
        let code = self.u32()?;
        if market == 0 {
            return Ok(None);
        }
        let market = Market::from_u8(market).ok_or("bad market")?;
        SecurityId::new(market, code).map(Some).ok_or_else(|| "bad security code".to_string())
    }
    fn state(&mut self) -> Result<EntryState, String> {
        EntryState::from_u8(self.u8()?).ok_or_else(|| "bad entry state".to_string())
    }
    fn rest(&mut self) -> &'a [u8] {
        let s = &self.bytes[self.at..];
        self.at = self.bytes.len();
        s
    }
    fn done(&self) -> Result<(), String> {
        if self.at == self.bytes.len() { Ok(()) } else { Err("trailing bytes in record".into()) }
    }
}

/// Decodes a record body (after its CRC was checked).
pub fn decode_body(body: &[u8]) -> Result<Entry, String> {
    let mut r = Reader { bytes: body, at: 0 };
    let input_seq = r.u64()?;
    let now_ns = r.u64()?;
    let arrival_ns = r.u64()?;
    let input = match r.u8()? {
        KIND_CLIENT => {
            let login = r.u32()?;
            let frame = r.rest();
            match ClientMessage::decode(frame).map_err(|e| format!("client message: {e}"))? {
                ClientMessage::NewOrder(order) => Input::NewOrder { login, order },
                ClientMessage::CancelOrder(cancel) => Input::Cancel { login, cancel },
                ClientMessage::ReplaceOrder(replace) => Input::Replace { login, replace },
                ClientMessage::MassCancel(mass) => Input::MassCancel { login, mass },
                ClientMessage::OrderEntryControl(control) => Input::EntryControl { login, control },
                other => return Err(format!("a {other:?} is never journaled")),
            }
        }
        KIND_MALFORMED => Input::Malformed {
            login: r.u32()?,
            ref_msg_type: r.u8()?,
            code: RejectCode(r.u16()?),
            ref_id: r.u64()?,
        },
        KIND_DISCONNECTED => Input::Disconnected { login: r.u32()? },
        KIND_LOGGED_IN => Input::LoggedIn { login: r.u32()?, version: r.u8()? },
        KIND_TICK => Input::Tick,
        KIND_ADMIN => Input::Admin(decode_admin(&mut r)?),
        KIND_FIX_FACT => Input::FixFact { login: r.u32()?, fact: decode_fix_fact(&mut r)? },
        other => return Err(format!("unknown record kind {other}")),
    };
    r.done()?;
    Ok(Entry { input_seq, now_ns, arrival_ns, input })
}

fn decode_admin(r: &mut Reader<'_>) -> Result<AdminCommand, String> {
    Ok(match r.u8()? {
        1 => AdminCommand::FirmState(r.state()?),
        2 => AdminCommand::AccountState(r.account()?, r.state()?),
        3 => AdminCommand::CancelAccount(r.account()?),
        4 => AdminCommand::Halt(r.security()?),
        5 => AdminCommand::Resume(r.security()?),
        6 => AdminCommand::ResumeWithAuction(r.security()?, r.u64()?),
        7 => {
            let security = r.security()?;
            let phase = TradingPhase::from_u8(r.u8()?).ok_or("bad phase")?;
            AdminCommand::SetPhase(security, phase)
        }
        8 => AdminCommand::PauseMatching { until_ns: r.u64()? },
        9 => AdminCommand::AckDelay { delay_ns: r.u64()? },
        10 => {
            let which = r.u8()?;
            let value = r.u64()? as i64;
            let small = |v: i64| u32::try_from(v).map_err(|_| "limit out of range".to_string());
            AdminCommand::SetLimit(match which {
                1 => LimitChange::MaxNotional(value),
                2 => LimitChange::FatFingerBp(small(value)?),
                3 => LimitChange::MaxMessagesPerSecond(small(value)?),
                4 => LimitChange::MaxOpenOrdersPerSecurity(small(value)?),
                other => return Err(format!("unknown limit {other}")),
            })
        }
        11 => AdminCommand::EndOfDay,
        12 => AdminCommand::StartOfDay,
        other => return Err(format!("unknown admin command {other}")),
    })
}

fn header(first_input_seq: u64, session_id: u64, fingerprint: &Fingerprint) -> [u8; HEADER_LEN] {
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
fn parse_header(bytes: &[u8]) -> Result<SegmentHeader, String> {
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
fn headers(dir: &Path) -> Result<Vec<(PathBuf, SegmentHeader)>, JournalError> {
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

// ---------------------------------------------------------------------------
// Reading and recovery
// ---------------------------------------------------------------------------

/// What reading the journal found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovered {
    /// The last input read intact (0: empty journal).
    pub last_input_seq: u64,
    /// Its engine time.
    pub last_now_ns: u64,
    /// The trading day's session id (from the first segment), if any segment exists.
    pub session_id: Option<u64>,
    /// Records read.
    pub records: u64,
    /// Segments read.
    pub segments: usize,
    /// Bytes cut from a torn or damaged tail.
    pub truncated_bytes: u64,
    /// Bytes of headers and records read (without preallocated space).
    pub record_bytes: u64,
    /// The snapshot a recovery started from (the input it ends at), if any.
    pub snapshot: Option<u64>,
    /// The acknowledged high-water mark found (`None`: not checked, or no file).
    pub acknowledged: Option<u64>,
    /// The segment where the records end, and the byte they end at.
    pub end: Option<(PathBuf, u64)>,
    /// The FIX sessions' facts among the inputs replayed, in order, by login
    /// (filled by `pipeline::recover`; the FIX door rebuilds its sessions from
    /// them and the logins' streams).
    pub fix_facts: Vec<(u32, fix::SessionFact)>,
}

/// What to do with a damaged tail.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TailPolicy {
    /// Cut a torn final write; refuse anything else.
    CutTornOnly,
    /// Cut at the first damaged record wherever it is (later data is lost).
    CutAnyDamage,
    /// Report only; change no file (inspection tools).
    ReadOnly,
    /// Read what is complete and stop quietly at an incomplete tail (a reader
    /// following a journal that is being written).
    Follow,
}

impl TailPolicy {
    fn mutates(self) -> bool {
        matches!(self, TailPolicy::CutTornOnly | TailPolicy::CutAnyDamage)
    }

    /// Whether the high-water mark binds: everything but an operator's decision to
    /// cut, and a reader following a journal being written.
    fn keeps_acknowledged(self) -> bool {
        matches!(self, TailPolicy::CutTornOnly | TailPolicy::ReadOnly)
    }
}

/// Reads every segment in order, checks each record's CRC and sequence, hands
/// each entry to `each`, and deals with a damaged tail per `policy`.
pub fn read_journal(
    dir: &Path,
    policy: TailPolicy,
    each: impl FnMut(&Entry),
) -> Result<Recovered, JournalError> {
    read_journal_from(dir, 1, policy, each)
}

/// Like [`read_journal`], but starts at the segment holding input `from_seq` and
/// hands `each` only inputs from `from_seq` on (earlier records of that segment are
/// still checked). Earlier segments are not read at all.
///
/// Except when following, the journal must reach the acknowledged high-water mark
/// ([`watermark`]): a tail that ends before it is refused as lost acknowledged
/// inputs, never cut as a torn write (`CutAnyDamage` cuts, logs the loss and lowers
/// the mark to the cut).
pub fn read_journal_from(
    dir: &Path,
    from_seq: u64,
    policy: TailPolicy,
    mut each: impl FnMut(&Entry),
) -> Result<Recovered, JournalError> {
    // The mark first: a writer running beside this reader only moves it to inputs
    // already in the segments.
    let acknowledged = if policy == TailPolicy::Follow { None } else { read_mark(dir, policy)? };
    let binding = acknowledged.filter(|_| policy.keeps_acknowledged()).unwrap_or(0);
    let mut rec = read_segments(dir, from_seq, policy, binding, &mut each)?;
    rec.acknowledged = acknowledged;
    let Some(acked) = acknowledged.filter(|&a| a > rec.last_input_seq) else { return Ok(rec) };
    let missing = acked - rec.last_input_seq;
    let (path, offset) = rec.end.clone().unwrap_or_else(|| (dir.to_path_buf(), 0));
    if policy.keeps_acknowledged() {
        return Err(JournalError::AcknowledgedMissing {
            path,
            offset,
            last_input_seq: rec.last_input_seq,
            acknowledged: acked,
            missing,
            why: String::new(),
        });
    }
    log::error!(
        "{}: accepting the loss of {missing} acknowledged input(s) ({} to {acked}): the \
         journal ends at byte {offset} after input {} (`truncate_damaged_tail = true`)",
        path.display(),
        rec.last_input_seq + 1,
        rec.last_input_seq
    );
    Watermark::open(dir, rec.last_input_seq, true).map_err(io_err(&watermark::path(dir)))?;
    Ok(rec)
}

/// The high-water mark, which a journal with segments must have; `CutAnyDamage`
/// goes on without it (with a warning).
fn read_mark(dir: &Path, policy: TailPolicy) -> Result<Option<u64>, JournalError> {
    let path = watermark::path(dir);
    let read = watermark::read(dir);
    if let Ok(Some(mark)) = read {
        return Ok(Some(mark));
    }
    // No segment: a new journal (or a crash while its mark was being created).
    if segments(dir)?.is_empty() {
        return Ok(None);
    }
    // An old journal has no mark: say that rather than "missing".
    headers(dir)?;
    let why = match read {
        Ok(_) => "the high-water mark is missing (the journal has segments)".to_string(),
        Err(why) => format!("the high-water mark is damaged: {why}"),
    };
    if policy == TailPolicy::CutAnyDamage {
        warn!("{}: {why}; trusting the segments as they are", path.display());
        return Ok(None);
    }
    Err(JournalError::Watermark { path, why })
}

/// Where a damaged or missing tail must be refused because it holds acknowledged
/// inputs: the first input missing is `next_seq`, the mark `acked`.
fn acknowledged_missing(
    path: &Path,
    at: usize,
    next_seq: u64,
    acked: u64,
    why: String,
) -> JournalError {
    JournalError::AcknowledgedMissing {
        path: path.to_path_buf(),
        offset: at as u64,
        last_input_seq: next_seq - 1,
        acknowledged: acked,
        missing: acked + 1 - next_seq,
        why,
    }
}

/// The segment-by-segment read behind [`read_journal_from`]; `acked` is the mark
/// that binds (0: none): a tail that looks torn but holds inputs up to it is damage.
fn read_segments(
    dir: &Path,
    from_seq: u64,
    policy: TailPolicy,
    acked: u64,
    each: &mut dyn FnMut(&Entry),
) -> Result<Recovered, JournalError> {
    let mut files = segments(dir)?;
    let first_seq_of = |p: &PathBuf| -> u64 {
        p.file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("journal-"))
            .and_then(|n| n.strip_suffix(".bwj"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    // The last segment starting at or before `from_seq` holds it.
    if let Some(start) = files.iter().rposition(|p| first_seq_of(p) <= from_seq) {
        files.drain(..start);
    }
    let mut rec = Recovered { segments: files.len(), ..Recovered::default() };
    let mut expected_seq = None::<u64>;
    for (index, path) in files.iter().enumerate() {
        let is_last = index + 1 == files.len();
        let mut bytes = Vec::new();
        File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(io_err(path))?;
        // The first input this segment must hold.
        let next_expected = expected_seq.unwrap_or(from_seq.max(1));
        if bytes.len() < HEADER_LEN || bytes[..8] != MAGIC {
            let being_created = policy == TailPolicy::Follow || bytes.iter().all(|&b| b == 0);
            if is_last && bytes.len() < HEADER_LEN && being_created {
                if next_expected <= acked {
                    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                    let why = format!(
                        ", then an empty segment {} ({} bytes)",
                        name.unwrap_or_default(),
                        bytes.len()
                    );
                    let path = rec.end.as_ref().map_or(path.as_path(), |(p, _)| p.as_path());
                    let at = rec.end.as_ref().map_or(0, |&(_, at)| at as usize);
                    return Err(acknowledged_missing(path, at, next_expected, acked, why));
                }
                if matches!(policy, TailPolicy::ReadOnly | TailPolicy::Follow) {
                    // Being created, or to be removed by a recovery: nothing in it.
                    rec.segments -= 1;
                    continue;
                }
                // A segment created but never written: the crash came right after rotation.
                fs::remove_file(path).map_err(io_err(path))?;
                rec.segments -= 1;
                continue;
            }
            return Err(JournalError::Layout {
                path: path.clone(),
                why: "not a journal segment (bad magic)".into(),
            });
        }
        let header =
            parse_header(&bytes).map_err(|why| JournalError::Layout { path: path.clone(), why })?;
        let first_seq = header.first_input_seq;
        rec.session_id.get_or_insert(header.session_id);
        // Segments follow each other, and the first one read holds `from_seq`: a
        // segment deleted before it, or between two, leaves a gap.
        let starts_late = expected_seq.is_none() && first_seq > next_expected;
        if expected_seq.is_some_and(|want| first_seq != want) || starts_late {
            return Err(JournalError::Layout {
                path: path.clone(),
                why: format!(
                    "segment starts at input {first_seq}, expected {next_expected} (a segment \
                     is missing)"
                ),
            });
        }
        let mut at = HEADER_LEN;
        let mut next_seq = first_seq;
        while at < bytes.len() {
            if bytes[at] == 0 && bytes[at..].iter().all(|&b| b == 0) {
                // Zeros to the end: the preallocated space after the last record, or
                // acknowledged records zeroed.
                if is_last && next_seq <= acked {
                    let why = ", zeros from there to the end of the segment".to_string();
                    return Err(acknowledged_missing(path, at, next_seq, acked, why));
                }
                if policy.mutates() {
                    // No writer comes back to this segment: give the space back.
                    let f = OpenOptions::new().write(true).open(path).map_err(io_err(path))?;
                    f.set_len(at as u64).map_err(io_err(path))?;
                    f.sync_all().map_err(io_err(path))?;
                }
                break;
            }
            match parse_record(&bytes[at..], next_seq) {
                Ok((entry, len)) => {
                    if entry.input_seq >= from_seq {
                        each(&entry);
                    }
                    rec.records += 1;
                    rec.record_bytes += len as u64;
                    rec.last_input_seq = entry.input_seq;
                    rec.last_now_ns = entry.now_ns;
                    next_seq += 1;
                    at += len;
                }
                Err(why) => {
                    let torn_shape = is_last && is_torn_tail(&bytes, at);
                    // Only what was never acknowledged can be a torn write.
                    if torn_shape && next_seq <= acked {
                        let why = format!(", then a damaged record ({why})");
                        return Err(acknowledged_missing(path, at, next_seq, acked, why));
                    }
                    let torn = torn_shape;
                    if policy == TailPolicy::Follow && torn {
                        break;
                    }
                    let cut = match policy {
                        TailPolicy::CutAnyDamage => true,
                        TailPolicy::CutTornOnly => torn,
                        TailPolicy::ReadOnly | TailPolicy::Follow => false,
                    };
                    if !cut {
                        if torn && policy == TailPolicy::ReadOnly {
                            warn!("{}: torn final record at byte {at} ({why})", path.display());
                            break;
                        }
                        return Err(JournalError::Corrupt {
                            path: path.clone(),
                            offset: at as u64,
                            last_good_seq: next_seq - 1,
                            why,
                        });
                    }
                    cut_at(path, &bytes, at, next_seq, torn, &why, &mut rec)?;
                    // Anything after the cut is gone too.
                    for later in &files[index + 1..] {
                        let len = fs::metadata(later).map(|m| m.len()).unwrap_or(0);
                        warn!(
                            "{}: removing a segment after the cut ({len} bytes)",
                            later.display()
                        );
                        fs::remove_file(later).map_err(io_err(later))?;
                        rec.truncated_bytes += len;
                        rec.segments -= 1;
                    }
                    return Ok(rec);
                }
            }
        }
        if is_last && next_seq == first_seq && policy.mutates() {
            if first_seq <= acked {
                let why = ", then a segment with no records".to_string();
                return Err(acknowledged_missing(path, at, next_seq, acked, why));
            }
            // Created, never written (a crash right after start-up or rotation): the
            // writer will create this segment again.
            fs::remove_file(path).map_err(io_err(path))?;
            rec.segments -= 1;
            continue;
        }
        rec.record_bytes += HEADER_LEN as u64;
        rec.end = Some((path.clone(), at as u64));
        expected_seq = Some(next_seq);
    }
    Ok(rec)
}

/// Cuts `path` at byte `at` (a torn final write, or damage an operator chose to
/// cut), logs it and counts it in `rec`.
fn cut_at(
    path: &Path,
    bytes: &[u8],
    at: usize,
    next_seq: u64,
    torn: bool,
    why: &str,
    rec: &mut Recovered,
) -> Result<(), JournalError> {
    let cut_bytes = (bytes.len() - at) as u64;
    warn!(
        "{}: cutting {cut_bytes} bytes at byte {at} after input {} ({why}{})",
        path.display(),
        next_seq - 1,
        if torn { ", a torn final write, never acknowledged" } else { ", damage" }
    );
    let f = OpenOptions::new().write(true).open(path).map_err(io_err(path))?;
    f.set_len(at as u64).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))?;
    rec.truncated_bytes += cut_bytes;
    rec.end = Some((path.to_path_buf(), at as u64));
    Ok(())
}

/// Parses one record at the start of `bytes`, which must carry `expected_seq`.
fn parse_record(bytes: &[u8], expected_seq: u64) -> Result<(Entry, usize), String> {
    if bytes.len() < RECORD_HEADER_LEN {
        return Err(format!(
            "{} bytes left, a record header needs {RECORD_HEADER_LEN}",
            bytes.len()
        ));
    }
    let len = u32::from_le_bytes(bytes[..4].try_into().unwrap_or([0; 4])) as usize;
    let crc = u32::from_le_bytes(bytes[4..8].try_into().unwrap_or([0; 4]));
    if len == 0 || len > MAX_BODY_LEN {
        return Err(format!("record length {len} out of range"));
    }
    let Some(body) = bytes.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len) else {
        return Err(format!("record of {len} bytes runs past the end of the file"));
    };
    if crc32fast::hash(body) != crc {
        return Err("CRC mismatch".into());
    }
    let entry = decode_body(body)?;
    if entry.input_seq != expected_seq {
        return Err(format!("input {} where {expected_seq} was expected", entry.input_seq));
    }
    Ok((entry, RECORD_HEADER_LEN + len))
}

/// The most a batch can span: the writer commits once it holds `BATCH_BYTES`, so a
/// batch is at most that plus one record.
const BATCH_SPAN: usize = BATCH_BYTES + RECORD_HEADER_LEN + MAX_BODY_LEN;
/// The unit a disk writes whole.
const SECTOR: usize = 512;

/// Whether the damaged record at `at` of the last segment is a torn final write
/// (cut on recovery) rather than damage to durable data (refused). It is torn when
/// nothing after it could be a durable record:
/// * it runs past the end of the file, or everything after its claimed end is
///   zeros (space the file system had not yet filled, or preallocated space);
/// * or, in a preallocated segment, the batch reached the disk out of order (a
///   power cut lets its sectors land in any order): its header is zeros to the end
///   of the sector and no non-zero byte lies beyond one batch from it. Damage to a
///   durable record cannot look like that: the writer syncs each batch before it
///   writes the next, and a flipped bit does not zero a sector.
fn is_torn_tail(bytes: &[u8], at: usize) -> bool {
    let tail = &bytes[at..];
    if tail.len() < RECORD_HEADER_LEN {
        return true;
    }
    let len = u32::from_le_bytes(tail[..4].try_into().unwrap_or([0; 4])) as usize;
    if len != 0 {
        let end = RECORD_HEADER_LEN.saturating_add(len);
        if end >= tail.len() || tail[end..].iter().all(|&b| b == 0) {
            return true;
        }
    }
    let gap_end = (at + RECORD_HEADER_LEN).next_multiple_of(SECTOR).min(bytes.len());
    let batch_end = at.saturating_add(BATCH_SPAN).min(bytes.len());
    bytes[at..gap_end].iter().all(|&b| b == 0) && bytes[batch_end..].iter().all(|&b| b == 0)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Shared positions of the journal, for the io thread and metrics.
#[derive(Debug, Default)]
pub struct JournalProgress {
    /// The last input written to the file (not necessarily on disk).
    pub written: AtomicU64,
    /// The last input on disk (after fdatasync).
    pub durable: AtomicU64,
    /// fdatasync calls made.
    pub syncs: AtomicU64,
    /// Bytes written.
    pub bytes: AtomicU64,
    /// Set when the writer failed: the gateway must stop taking input.
    pub failed: AtomicBool,
    /// The input the newest snapshot written since start-up ends at (0: none yet).
    pub snapshot_seq: AtomicU64,
    /// Snapshots written since start-up.
    pub snapshots: AtomicU64,
    /// Snapshots that failed since start-up.
    pub snapshot_failures: AtomicU64,
    /// How long each group commit took (write and fdatasync), in nanoseconds.
    pub commit_times: CommitTimes,
}

/// The journal writer's settings.
#[derive(Clone, Debug)]
pub struct WriterSettings {
    /// Directory of the segments.
    pub dir: PathBuf,
    /// Rotate at this size.
    pub segment_bytes: u64,
    /// Fill segments with zeros before writing records into them.
    pub preallocate: bool,
    /// Sync after every batch (false only in tests of the writer itself).
    pub sync: bool,
    /// The session id for new segment headers.
    pub session_id: u64,
    /// The first input the writer will be given.
    pub first_input_seq: u64,
    /// The configuration the inputs are decided under (written in every header).
    pub fingerprint: Fingerprint,
}

/// The writer commits a batch once it holds this much (or the ring is empty).
pub const BATCH_BYTES: usize = 1 << 20;
/// Zeros written past `segment_bytes`, so that the batch that crosses the rotation
/// point still lands on allocated blocks.
const PREALLOC_SLACK: u64 = 2 * BATCH_BYTES as u64;
/// Zeros written (and, in the background, synced) at a time.
const PREALLOC_CHUNK: usize = 256 << 10;
/// The background fill's rest between chunks: at most about 25 MB/s of zeros.
const PREALLOC_PAUSE: Duration = Duration::from_millis(10);
/// The next segment while it is being zero-filled (not a segment name: readers
/// skip it, and a writer that opens removes a stale one).
pub const PREPARING_NAME: &str = "journal-next.prep";

/// The writer thread's state.
#[derive(Debug)]
pub struct Writer {
    settings: WriterSettings,
    file: File,
    path: PathBuf,
    /// Where the next batch goes (the bytes of records and header so far).
    file_len: u64,
    buf: Vec<u8>,
    progress: Arc<JournalProgress>,
    /// The next segment, being zero-filled on a thread of its own.
    next: Option<Preparing>,
    /// The acknowledged high-water mark, stored after every commit.
    watermark: Watermark,
    /// Commit times, handed to `progress.commit_times` without a lock.
    commit_times: Option<commit_times::CommitRecorder>,
}

/// A segment being zero-filled in the background.
#[derive(Debug)]
struct Preparing {
    thread: std::thread::JoinHandle<io::Result<File>>,
    cancel: Arc<AtomicBool>,
}

impl Preparing {
    /// Stops the fill (it ends at its next chunk), waits for the thread, and
    /// removes the unfinished file.
    fn cancel(self, dir: &Path) {
        self.cancel.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
        let _ = fs::remove_file(dir.join(PREPARING_NAME));
    }
}

impl Writer {
    /// Opens a fresh segment starting at `settings.first_input_seq`.
    pub fn open(
        settings: WriterSettings,
        progress: Arc<JournalProgress>,
    ) -> Result<Writer, JournalError> {
        fs::create_dir_all(&settings.dir).map_err(io_err(&settings.dir))?;
        let stale = settings.dir.join(PREPARING_NAME);
        if stale.exists() {
            fs::remove_file(&stale).map_err(io_err(&stale))?;
        }
        // The mark exists before the first segment does, so a journal with segments
        // always has one; it starts at the end of the journal recovered.
        let mark_path = watermark::path(&settings.dir);
        let watermark = Watermark::open(&settings.dir, settings.first_input_seq - 1, settings.sync)
            .map_err(io_err(&mark_path))?;
        let prealloc = settings.preallocate.then(|| settings.segment_bytes + PREALLOC_SLACK);
        let (file, path) = create_segment(&settings, settings.first_input_seq, prealloc)?;
        progress.written.store(settings.first_input_seq - 1, Ordering::Release);
        progress.durable.store(settings.first_input_seq - 1, Ordering::Release);
        let commit_times = progress.commit_times.take_recorder();
        Ok(Writer {
            settings,
            file,
            path,
            file_len: HEADER_LEN as u64,
            buf: Vec::with_capacity(BATCH_BYTES + MAX_BODY_LEN + RECORD_HEADER_LEN),
            progress,
            next: None,
            watermark,
            commit_times,
        })
    }

    /// Encodes one entry into the pending batch.
    pub fn add(&mut self, entry: &Entry) {
        encode(entry, &mut self.buf);
    }

    /// Bytes waiting in the batch.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Writes the batch and makes it durable; publishes `last_seq` as written and
    /// durable. Rotates the segment when it is full.
    pub fn commit(&mut self, last_seq: u64) -> Result<(), JournalError> {
        use std::os::unix::fs::FileExt;
        if self.buf.is_empty() {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // Positioned: in a preallocated segment this overwrites zeros in place.
        self.file.write_all_at(&self.buf, self.file_len).map_err(io_err(&self.path))?;
        self.file_len += self.buf.len() as u64;
        self.progress.bytes.fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        self.buf.clear();
        self.progress.written.store(last_seq, Ordering::Release);
        if self.settings.sync {
            self.file.sync_data().map_err(io_err(&self.path))?;
            self.progress.syncs.fetch_add(1, Ordering::Relaxed);
        }
        // Only now, with the batch on disk, may the mark cover it; and only once
        // the mark is on disk may anything be released as durable.
        self.watermark.store(last_seq).map_err(|e| JournalError::Io {
            path: self.watermark.path().to_path_buf(),
            source: e,
        })?;
        if let Some(times) = &mut self.commit_times {
            times.record(started.elapsed().as_nanos() as u64);
        }
        self.progress.durable.store(last_seq, Ordering::Release);
        if self.file_len >= self.settings.segment_bytes {
            self.rotate(last_seq + 1)?;
        }
        if self.settings.preallocate && self.next.is_none() {
            self.prepare_next();
        }
        Ok(())
    }

    /// A clean stop: cuts the current segment to its records, syncs it, and removes
    /// a next segment being prepared, so a stopped gateway leaves no unused space.
    pub fn finish(&mut self) -> Result<(), JournalError> {
        if let Some(next) = self.next.take() {
            next.cancel(&self.settings.dir);
        }
        self.file.set_len(self.file_len).map_err(io_err(&self.path))?;
        self.file.sync_all().map_err(io_err(&self.path))
    }

    /// Starts zero-filling the next segment in the background.
    fn prepare_next(&mut self) {
        let path = self.settings.dir.join(PREPARING_NAME);
        let len = self.settings.segment_bytes + PREALLOC_SLACK;
        let cancel = Arc::new(AtomicBool::new(false));
        let stop = Arc::clone(&cancel);
        let spawned = std::thread::Builder::new().name("bw-journal-prep".into()).spawn(move || {
            let mut file =
                OpenOptions::new().create(true).truncate(true).write(true).open(&path)?;
            zero_fill_paced(&mut file, 0, len, Some((PREALLOC_PAUSE, &stop)))?;
            Ok(file)
        });
        match spawned {
            Ok(thread) => self.next = Some(Preparing { thread, cancel }),
            Err(e) => warn!("journal: cannot start preparing the next segment: {e}"),
        }
    }

    /// Ends the current segment (cut to its records, synced) and opens the next,
    /// starting at input `first_seq`: the prepared one when it is ready, else a new
    /// file written without preallocation.
    fn rotate(&mut self, first_seq: u64) -> Result<(), JournalError> {
        use std::os::unix::fs::FileExt;
        self.file.set_len(self.file_len).map_err(io_err(&self.path))?;
        self.file.sync_all().map_err(io_err(&self.path))?;
        let dir = &self.settings.dir;
        let ready = self.next.as_ref().is_some_and(|p| p.thread.is_finished());
        let prepared = if ready { self.next.take().map(|p| p.thread.join()) } else { None };
        let (file, path) = match prepared {
            Some(Ok(Ok(file))) => {
                let path = dir.join(segment_name(first_seq));
                let header =
                    header(first_seq, self.settings.session_id, &self.settings.fingerprint);
                file.write_all_at(&header, 0).map_err(io_err(&path))?;
                file.sync_data().map_err(io_err(&path))?;
                fs::rename(dir.join(PREPARING_NAME), &path).map_err(io_err(&path))?;
                File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
                (file, path)
            }
            other => {
                match other {
                    Some(Ok(Err(e))) => warn!("journal: preparing the next segment failed: {e}"),
                    Some(Err(_)) => warn!("journal: the thread preparing the next segment died"),
                    _ if self.settings.preallocate => {
                        info!("journal: the next segment is not zero-filled yet; appending")
                    }
                    _ => {}
                }
                create_segment(&self.settings, first_seq, None)?
            }
        };
        info!("journal: rotated to {}", path.display());
        self.file = file;
        self.path = path;
        self.file_len = HEADER_LEN as u64;
        Ok(())
    }
}

#[cfg(test)]
impl Writer {
    /// Whether the next segment has been zero-filled.
    fn next_ready(&self) -> bool {
        self.next.as_ref().is_some_and(|p| p.thread.is_finished())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Nothing writes into the directory once the writer is gone.
        if let Some(next) = self.next.take() {
            next.cancel(&self.settings.dir);
        }
    }
}

/// Writes zeros over bytes `from..len` of `file` and syncs it, size included.
fn zero_fill(file: &mut File, from: u64, len: u64) -> io::Result<()> {
    zero_fill_paced(file, from, len, None)
}

/// Like [`zero_fill`], but with a pause: syncs each chunk and rests between
/// chunks, so that filling the next segment in the background never queues tens of
/// megabytes in front of the live segment's fdatasync; stops early when `cancel`
/// is set.
fn zero_fill_paced(
    file: &mut File,
    from: u64,
    len: u64,
    pace: Option<(Duration, &AtomicBool)>,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let zeros = vec![0u8; PREALLOC_CHUNK];
    let mut at = from;
    while at < len {
        let n = (len - at).min(zeros.len() as u64) as usize;
        file.write_all_at(&zeros[..n], at)?;
        at += n as u64;
        if let Some((pause, cancel)) = pace {
            if cancel.load(Ordering::Relaxed) {
                return Err(io::Error::other("cancelled"));
            }
            file.sync_data()?;
            std::thread::sleep(pause);
        }
    }
    file.sync_all()
}

/// Creates segment `first_input_seq` with its header, zero-filled to `prealloc`
/// bytes when given, and makes it and its name durable.
fn create_segment(
    settings: &WriterSettings,
    first_input_seq: u64,
    prealloc: Option<u64>,
) -> Result<(File, PathBuf), JournalError> {
    use std::os::unix::fs::FileExt;
    let dir = &settings.dir;
    let path = dir.join(segment_name(first_input_seq));
    let mut file =
        OpenOptions::new().create_new(true).write(true).open(&path).map_err(io_err(&path))?;
    let header = header(first_input_seq, settings.session_id, &settings.fingerprint);
    file.write_all_at(&header, 0).map_err(io_err(&path))?;
    match prealloc {
        Some(len) => zero_fill(&mut file, HEADER_LEN as u64, len).map_err(io_err(&path))?,
        None => file.sync_all().map_err(io_err(&path))?,
    }
    // The new name must survive a crash too.
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    Ok((file, path))
}

/// The journal thread: drains the engine's ring in batches, one write and one
/// fdatasync per batch, and wakes the io thread when more is durable.
pub fn run_writer(
    mut writer: Writer,
    mut from_engine: Consumer<Entry>,
    wake_io: impl Fn(),
    stop: Arc<AtomicBool>,
    wait: WaitStrategy,
    wake: crate::wait::Wakeup,
) -> Result<(), JournalError> {
    let mut idle = Idle::new(wait);
    let mut last_seq = writer.progress.written.load(Ordering::Acquire);
    loop {
        let mut took = 0;
        while let Some(entry) = from_engine.pop() {
            debug_assert_eq!(entry.input_seq, last_seq + 1, "journal entries arrive in sequence");
            writer.add(&entry);
            last_seq = entry.input_seq;
            took += 1;
            if writer.pending() >= BATCH_BYTES {
                break;
            }
        }
        if took > 0 {
            if let Err(e) = writer.commit(last_seq) {
                writer.progress.failed.store(true, Ordering::SeqCst);
                wake_io();
                return Err(e);
            }
            wake_io();
            idle.reset();
            continue;
        }
        if stop.load(Ordering::Acquire) && !from_engine.has_items() {
            return writer.finish();
        }
        if let IdleStep::Park(d) = idle.step() {
            wake.announce_sleep();
            if !from_engine.has_items() {
                Idle::park(d.min(Duration::from_millis(1)));
            }
            wake.announce_awake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::codec::{CancelOrder, NewOrder};
    use protocol::{CreditTag, OrderType, Price, Qty, Side, TimeInForce};

    fn fix_fact(after_stream_seq: u64, kind: fix::session::FactKind) -> fix::SessionFact {
        fix::SessionFact { after_stream_seq, kind }
    }

    fn sample_inputs() -> Vec<Input> {
        use fix::session::FactKind;
        let account = AccountId::new("A001").unwrap();
        let security = SecurityId::new(Market::Sse, 600_519).unwrap();
        let order = NewOrder {
            cl_ord_id: 7,
            account,
            security,
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Day,
            price: Price(15_000_000),
            qty: Qty(100),
            flags: 1,
            credit: CreditTag::Cash,
        };
        vec![
            Input::NewOrder { login: 3, order },
            Input::Cancel {
                login: 1,
                cancel: CancelOrder { request_id: 9, orig_cl_ord_id: 7, account },
            },
            Input::Malformed {
                login: 2,
                ref_msg_type: b'N',
                code: RejectCode::BAD_LENGTH,
                ref_id: 77,
            },
            Input::Disconnected { login: 4 },
            Input::Tick,
            Input::FixFact { login: 2, fact: fix_fact(5, FactKind::Reset) },
            Input::FixFact { login: 2, fact: fix_fact(5, FactKind::AdminSent { seq: 12 }) },
            Input::FixFact { login: 2, fact: fix_fact(6, FactKind::InboundNext { seq: 40 }) },
            Input::FixFact { login: 2, fact: fix_fact(0, FactKind::StreamFrom { seq: 17 }) },
            Input::FixFact {
                login: 2,
                fact: fix_fact(7, FactKind::Input(fix::inbound::Input::NewOrder(order))),
            },
            Input::FixFact {
                login: 2,
                fact: fix_fact(
                    7,
                    FactKind::Input(fix::inbound::Input::CancelOrder(CancelOrder {
                        request_id: 10,
                        orig_cl_ord_id: 7,
                        account,
                    })),
                ),
            },
            Input::Admin(AdminCommand::FirmState(EntryState::Blocked)),
            Input::Admin(AdminCommand::AccountState(account, EntryState::ReducingOnly)),
            Input::Admin(AdminCommand::CancelAccount(account)),
            Input::Admin(AdminCommand::Halt(Some(security))),
            Input::Admin(AdminCommand::Resume(None)),
            Input::Admin(AdminCommand::ResumeWithAuction(Some(security), 5_000)),
            Input::Admin(AdminCommand::SetPhase(None, TradingPhase::ClosingAuction)),
            Input::Admin(AdminCommand::PauseMatching { until_ns: 123 }),
            Input::Admin(AdminCommand::AckDelay { delay_ns: 456 }),
            Input::Admin(AdminCommand::SetLimit(LimitChange::MaxNotional(-5))),
            Input::Admin(AdminCommand::SetLimit(LimitChange::FatFingerBp(700))),
            Input::Admin(AdminCommand::EndOfDay),
            Input::Admin(AdminCommand::StartOfDay),
        ]
    }

    #[test]
    fn every_input_kind_round_trips() {
        for (i, input) in sample_inputs().into_iter().enumerate() {
            let entry =
                Entry { input_seq: i as u64 + 1, now_ns: 1_000 + i as u64, arrival_ns: 999, input };
            let mut buf = Vec::new();
            encode(&entry, &mut buf);
            let (back, len) = parse_record(&buf, entry.input_seq).unwrap();
            assert_eq!(back, entry);
            assert_eq!(len, buf.len());
        }
    }

    fn write_journal(dir: &Path, n: u64, segment_bytes: u64, preallocate: bool) {
        let settings = WriterSettings {
            dir: dir.to_path_buf(),
            segment_bytes,
            preallocate,
            sync: true,
            session_id: 42,
            first_input_seq: 1,
            fingerprint: Fingerprint::default(),
        };
        let mut w = Writer::open(settings, Arc::default()).unwrap();
        let inputs = sample_inputs();
        for seq in 1..=n {
            let input = inputs[(seq as usize) % inputs.len()];
            w.add(&Entry { input_seq: seq, now_ns: seq * 10, arrival_ns: seq * 10 - 1, input });
            if seq % 7 == 0 {
                w.commit(seq).unwrap();
            }
        }
        w.commit(n).unwrap();
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("bw-journal-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn reads_back_across_rotated_segments() {
        let dir = temp_dir("rotate");
        write_journal(&dir, 500, 4096, false);
        assert!(segments(&dir).unwrap().len() > 3, "small segments rotate");
        let mut seen = 0;
        let rec = read_journal(&dir, TailPolicy::CutTornOnly, |e| {
            seen += 1;
            assert_eq!(e.input_seq, seen);
        })
        .unwrap();
        assert_eq!((rec.last_input_seq, rec.records, rec.session_id), (500, 500, Some(42)));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_is_cut_and_damage_is_refused() {
        let dir = temp_dir("torn");
        write_journal(&dir, 100, 1 << 20, false);
        let seg = segments(&dir).unwrap().pop().unwrap();
        let len = fs::metadata(&seg).unwrap().len();
        // The last batch was being written when the power went: the mark never
        // covered its input, and it loses its last 3 bytes.
        acknowledge(&dir, 99);
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
        let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
        assert_eq!(rec.last_input_seq, 99);
        assert!(rec.truncated_bytes > 0);
        // Damage in the middle: a flipped bit is refused...
        let mut bytes = fs::read(&seg).unwrap();
        bytes[HEADER_LEN + 200] ^= 0x10;
        fs::write(&seg, &bytes).unwrap();
        let err = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap_err();
        assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("truncate_damaged_tail"), "{err}");
        // ...unless told to cut there.
        let rec = read_journal(&dir, TailPolicy::CutAnyDamage, |_| {}).unwrap();
        assert!(rec.last_input_seq < 99);
        let again = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
        assert_eq!(again.last_input_seq, rec.last_input_seq);
        let _ = fs::remove_dir_all(&dir);
    }

    /// What a crash leaves when the mark was last stored after input `seq`.
    fn acknowledge(dir: &Path, seq: u64) {
        Watermark::open(dir, seq, false).unwrap();
    }

    /// Offsets of the records of a single-segment journal, in order.
    fn record_offsets(bytes: &[u8]) -> Vec<usize> {
        let mut at = HEADER_LEN;
        let mut out = Vec::new();
        while let Ok((entry, len)) = parse_record(&bytes[at..], out.len() as u64 + 1) {
            assert_eq!(entry.input_seq, out.len() as u64 + 1);
            out.push(at);
            at += len;
        }
        out
    }

    fn settings(dir: &Path, segment_bytes: u64, first_input_seq: u64) -> WriterSettings {
        WriterSettings {
            dir: dir.to_path_buf(),
            segment_bytes,
            preallocate: true,
            sync: true,
            session_id: 42,
            first_input_seq,
            fingerprint: Fingerprint::default(),
        }
    }

    #[test]
    fn preallocated_segments_are_zero_filled_and_rotate_into_a_prepared_one() {
        let dir = temp_dir("prealloc");
        let segment_bytes = 64 << 10;
        let full = segment_bytes + PREALLOC_SLACK;
        let progress = Arc::new(JournalProgress::default());
        let mut w = Writer::open(settings(&dir, segment_bytes, 1), Arc::clone(&progress)).unwrap();
        let first = segments(&dir).unwrap().pop().unwrap();
        assert_eq!(fs::metadata(&first).unwrap().len(), full, "zero-filled before use");
        let inputs = sample_inputs();
        let mut seq = 0;
        let mut add = |w: &mut Writer, n: u64| {
            for _ in 0..n {
                seq += 1;
                let input = inputs[(seq as usize) % inputs.len()];
                w.add(&Entry { input_seq: seq, now_ns: seq, arrival_ns: seq, input });
                if seq % 7 == 0 {
                    w.commit(seq).unwrap();
                }
            }
            w.commit(seq).unwrap();
        };
        // From the first commit on, the next segment is prepared in the background.
        add(&mut w, 10);
        assert!(w.next.is_some(), "preparing starts with the first commit");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !w.next_ready() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(w.next_ready(), "the next segment was zero-filled within 30 s");
        while segments(&dir).unwrap().len() < 2 {
            add(&mut w, 10);
        }
        add(&mut w, 10);
        let files = segments(&dir).unwrap();
        assert!(fs::metadata(&files[0]).unwrap().len() < segment_bytes + BATCH_SPAN as u64);
        assert_eq!(
            fs::metadata(&files[1]).unwrap().len(),
            full,
            "the new segment is the prepared one"
        );
        drop(w);
        assert!(!dir.join(PREPARING_NAME).exists(), "an unfinished next segment is removed");
        // Every commit was synced and timed.
        let syncs = progress.syncs.load(Ordering::Relaxed);
        assert!(syncs > 0);
        assert_eq!(progress.commit_times.snapshot().len(), syncs);
        // Read-only readers see the records and leave the space alone...
        let mut seen = 0;
        let rec = read_journal(&dir, TailPolicy::ReadOnly, |e| {
            seen += 1;
            assert_eq!(e.input_seq, seen);
        })
        .unwrap();
        assert_eq!(rec.last_input_seq, seq);
        assert_eq!(fs::metadata(&files[1]).unwrap().len(), full);
        // ...a recovery gives the zeros back.
        let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
        assert_eq!((rec.last_input_seq, rec.truncated_bytes), (seq, 0));
        let on_disk: u64 = files.iter().map(|f| fs::metadata(f).unwrap().len()).sum();
        assert_eq!(on_disk, rec.record_bytes);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_batch_that_reached_the_disk_out_of_order_is_cut_and_damage_is_not() {
        let dir = temp_dir("outoforder");
        write_journal(&dir, 100, 1 << 20, true);
        let seg = segments(&dir).unwrap().pop().unwrap();
        let clean = fs::read(&seg).unwrap();
        let offsets = record_offsets(&clean);
        assert_eq!(offsets.len(), 100);
        // The last batch's first sector never landed; later ones did, and the mark
        // stayed at the batch before.
        acknowledge(&dir, 91);
        let at = offsets[91];
        let gap_end = (at + RECORD_HEADER_LEN).next_multiple_of(SECTOR);
        let mut torn = clean.clone();
        torn[at..gap_end].fill(0);
        fs::write(&seg, &torn).unwrap();
        let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
        assert_eq!(rec.last_input_seq, 91);
        assert_eq!(fs::metadata(&seg).unwrap().len(), at as u64);
        // The same gap with data further than one batch after it is damage.
        let mut far = torn.clone();
        far[at + BATCH_SPAN + 10] = 1;
        fs::write(&seg, &far).unwrap();
        let err = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap_err();
        assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
        // A zeroed length mid-file (its CRC still there) is damage, not a tear.
        let mut zeroed = clean.clone();
        zeroed[offsets[50]..offsets[50] + 4].fill(0);
        fs::write(&seg, &zeroed).unwrap();
        let err = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap_err();
        assert!(matches!(err, JournalError::Corrupt { last_good_seq: 50, .. }), "{err}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_first_segment_an_old_format_and_another_configuration_are_refused() {
        let dir = temp_dir("layout");
        write_journal(&dir, 300, 4096, false);
        let files = segments(&dir).unwrap();
        assert!(files.len() > 2);
        // The first segment gone: the journal no longer starts at input 1.
        let first = fs::read(&files[0]).unwrap();
        fs::remove_file(&files[0]).unwrap();
        let err = read_journal(&dir, TailPolicy::ReadOnly, |_| {}).unwrap_err().to_string();
        assert!(err.contains("expected 1 (a segment is missing)"), "{err}");
        // Another configuration's fingerprint, named by section.
        fs::write(&files[0], &first).unwrap();
        let mut other = Fingerprint::default();
        other.sections[1] = 7;
        let err = check_config(&dir, &other).unwrap_err().to_string();
        assert!(err.contains("[fees] changed since"), "{err}");
        check_config(&dir, &Fingerprint::default()).unwrap();
        // Format 1: named as such, with what to do.
        let mut old = first.clone();
        old[8..12].copy_from_slice(&1u32.to_le_bytes());
        fs::write(&files[0], &old).unwrap();
        for err in [
            read_journal(&dir, TailPolicy::ReadOnly, |_| {}).unwrap_err().to_string(),
            check_config(&dir, &Fingerprint::default()).unwrap_err().to_string(),
        ] {
            assert!(err.contains("journal format 1") && err.contains("move the journal"), "{err}");
        }
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn cutting_acknowledged_inputs_is_an_operator_decision_that_lowers_the_mark() {
        let dir = temp_dir("lower");
        write_journal(&dir, 100, 1 << 20, false);
        let seg = segments(&dir).unwrap().pop().unwrap();
        let len = fs::metadata(&seg).unwrap().len();
        OpenOptions::new().write(true).open(&seg).unwrap().set_len(len - 3).unwrap();
        // Acknowledged: refused, read-only or not, and nothing is cut.
        for policy in [TailPolicy::ReadOnly, TailPolicy::CutTornOnly] {
            let err = read_journal(&dir, policy, |_| {}).unwrap_err();
            assert!(
                matches!(
                    err,
                    JournalError::AcknowledgedMissing { missing: 1, acknowledged: 100, .. }
                ),
                "{err}"
            );
        }
        assert_eq!(fs::metadata(&seg).unwrap().len(), len - 3);
        let rec = read_journal(&dir, TailPolicy::CutAnyDamage, |_| {}).unwrap();
        assert_eq!(rec.last_input_seq, 99);
        assert_eq!(watermark::read(&dir), Ok(Some(99)));
        let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
        assert_eq!((rec.last_input_seq, rec.acknowledged), (99, Some(99)));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_segment_created_but_never_written_is_dropped_by_recovery() {
        let dir = temp_dir("unwritten");
        write_journal(&dir, 50, 1 << 20, true);
        // A crash right after the next start-up created its segment.
        drop(Writer::open(settings(&dir, 1 << 20, 51), Arc::default()).unwrap());
        assert_eq!(segments(&dir).unwrap().len(), 2);
        let rec = read_journal(&dir, TailPolicy::ReadOnly, |_| {}).unwrap();
        assert_eq!(rec.last_input_seq, 50);
        assert_eq!(segments(&dir).unwrap().len(), 2, "read-only changes nothing");
        let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
        assert_eq!((rec.last_input_seq, rec.segments), (50, 1));
        // The next writer can create it again.
        let mut w = Writer::open(settings(&dir, 1 << 20, 51), Arc::default()).unwrap();
        w.add(&Entry { input_seq: 51, now_ns: 1, arrival_ns: 1, input: sample_inputs()[0] });
        w.commit(51).unwrap();
        drop(w);
        let rec = read_journal(&dir, TailPolicy::CutTornOnly, |_| {}).unwrap();
        assert_eq!((rec.last_input_seq, rec.segments), (51, 2));
        let _ = fs::remove_dir_all(&dir);
    }
}
