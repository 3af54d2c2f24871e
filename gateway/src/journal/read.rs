//! Reading and recovery: every segment in order, the tail policy, the acknowledged
//! high-water mark checked against what the files hold.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use log::warn;

use super::segment::{headers, parse_header};
use super::watermark::Watermark;
use super::*;

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
pub(super) fn read_mark(dir: &Path, policy: TailPolicy) -> Result<Option<u64>, JournalError> {
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
pub(super) fn acknowledged_missing(
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
pub(super) fn read_segments(
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
pub(super) fn cut_at(
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
pub(super) fn parse_record(bytes: &[u8], expected_seq: u64) -> Result<(Entry, usize), String> {
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
pub(super) const BATCH_SPAN: usize = BATCH_BYTES + RECORD_HEADER_LEN + MAX_BODY_LEN;
/// The unit a disk writes whole.
pub(super) const SECTOR: usize = 512;

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
pub(super) fn is_torn_tail(bytes: &[u8], at: usize) -> bool {
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
