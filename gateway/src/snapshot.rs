//! Snapshots: the whole engine state at one input, so a restart replays only the
//! journal after it and recovery time stays bounded however long the day.
//!
//! ```text
//! file    = header section | payload section | "BWSNAPOK"
//! header  = section "BWSNAP01", format 3: u64 input_seq | u64 now_ns | u64 session_id
//!         | u64 config_fingerprint[8]                                (88 bytes, 112 framed)
//! payload = section "BWSNAPPL", format 3: engine core | risk engine | venue | out logs
//! section = magic | u32 format | u64 len | u32 crc32(bytes) | bytes  (protocol::envelope)
//! ```
//!
//! Both sections and the end marker are [`protocol::envelope`]'s, the framing
//! every snapshot format shares; the risk engine and the venue frame their own
//! parts of the payload the same way. The payload is streamed to the file as it
//! is encoded (gigabytes at tens of millions of orders), so its section header is
//! written as a placeholder first and over it once its length and CRC are known.
//! Format 3 is format 2's content in that envelope; format 2's own 120-byte header
//! (one CRC over the header, one over the payload, no end marker) is gone, and a
//! format-1 or format-2 snapshot is skipped as unusable.
//!
//! A snapshot is written to `snapshot-<input_seq>.bws.tmp`, synced, renamed into
//! place and the directory synced: it appears whole or not at all. Loading checks
//! the CRC over the whole payload before decoding anything, so a damaged snapshot
//! is skipped (with a warning) and recovery falls back to an older one, or to the
//! journal from its start. A snapshot taken under a configuration whose
//! decision-relevant sections differ from the one given is refused, as the journal
//! is (see [`crate::journal::fingerprint`]).

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use log::{info, warn};
use protocol::envelope::{self, CrcWriter, EnvelopeError, SECTION_HEADER_LEN, Section};

use crate::config::GatewayConfig;
use crate::engine::{Engine, LoginPolicy, NoProbe};
use crate::input::Output;
use crate::journal::fingerprint::{FINGERPRINT_LEN, Fingerprint};
use crate::journal::{JournalProgress, TailPolicy};
use crate::outlog::OutLog;

/// File magic: the header section's, the file's first eight bytes.
pub const MAGIC: [u8; 8] = *b"BWSNAP01";
/// Format version (formats 1 and 2, with a header of their own, are skipped as
/// unusable).
pub const FORMAT: u32 = 3;
/// Bytes of the header section's content.
const META_LEN: usize = 24 + FINGERPRINT_LEN;
/// Bytes before the payload: the framed header section and the payload's own
/// section header.
pub const HEADER_LEN: usize = SECTION_HEADER_LEN + META_LEN + SECTION_HEADER_LEN;
/// Largest payload a snapshot may declare. The payload is checked as a stream and
/// decoded part by part, each part with limits of its own, so this bounds no
/// allocation; it only refuses a length no snapshot could have.
const PAYLOAD_BYTES_MAX: u64 = 1 << 40;
/// Where a snapshot's input, time, day and configuration are.
const META: Section = Section { magic: MAGIC, version: FORMAT, max_len: META_LEN as u64 };
/// The engine state, the bulk of the file.
const PAYLOAD: Section =
    Section { magic: *b"BWSNAPPL", version: FORMAT, max_len: PAYLOAD_BYTES_MAX };
/// The file's last eight bytes.
const END: [u8; 8] = *b"BWSNAPOK";

/// A snapshot that cannot be written or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// File system error.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The file is damaged or not a snapshot.
    #[error("{path}: {why}")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The snapshot does not fit the configuration (another set of logins, say).
    #[error("{path}: does not match the configuration: {why}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// What differs.
        why: String,
    },
    /// Taken under a configuration whose decision-relevant sections differ.
    #[error("{path}: taken under another configuration: {sections} changed since")]
    ConfigChanged {
        /// The file.
        path: PathBuf,
        /// The sections that differ.
        sections: String,
    },
}

/// The header fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SnapshotMeta {
    /// The last input included.
    pub input_seq: u64,
    /// Its engine time.
    pub now_ns: u64,
    /// The trading day's session id.
    pub session_id: u64,
    /// Payload bytes.
    pub payload_len: u64,
    /// CRC-32 of the payload.
    pub crc: u32,
    /// The configuration it was taken under.
    pub fingerprint: Fingerprint,
}

/// The file name of the snapshot taken after `input_seq`.
pub fn snapshot_name(input_seq: u64) -> String {
    format!("snapshot-{input_seq:020}.bws")
}

/// Snapshots in `dir`, newest first.
pub fn snapshots(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("snapshot-") && n.ends_with(".bws"))
        })
        .collect();
    found.sort();
    found.reverse();
    found
}

/// The header section's content.
fn meta_bytes(at: &At) -> [u8; META_LEN] {
    let mut m = [0u8; META_LEN];
    m[..8].copy_from_slice(&at.input_seq.to_le_bytes());
    m[8..16].copy_from_slice(&at.now_ns.to_le_bytes());
    m[16..24].copy_from_slice(&at.session_id.to_le_bytes());
    m[24..].copy_from_slice(&at.fingerprint.to_bytes());
    m
}

/// Reads the header section's content back; `None` when it is not [`META_LEN`] bytes.
fn parse_meta(m: &[u8]) -> Option<At> {
    let m: &[u8; META_LEN] = m.try_into().ok()?;
    let (words, fingerprint) = m.split_first_chunk::<24>()?;
    let fingerprint: &[u8; FINGERPRINT_LEN] = fingerprint.try_into().ok()?;
    let [a, b, c] = [0, 8, 16].map(|at| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&words[at..at + 8]);
        u64::from_le_bytes(w)
    });
    Some(At {
        input_seq: a,
        now_ns: b,
        session_id: c,
        fingerprint: Fingerprint::from_bytes(fingerprint),
    })
}

/// Where a snapshot stands: its input, time, day and configuration.
#[derive(Clone, Copy, Debug)]
pub struct At {
    /// The last input included.
    pub input_seq: u64,
    /// Its engine time.
    pub now_ns: u64,
    /// The trading day's session id.
    pub session_id: u64,
    /// The configuration the engine was built from.
    pub fingerprint: Fingerprint,
}

/// Writes a snapshot of `engine` and `logs` at `at` into `dir`, atomically.
/// Returns its path.
pub fn write(
    dir: &Path,
    engine: &Engine,
    logs: &[OutLog],
    at: At,
) -> Result<PathBuf, SnapshotError> {
    let input_seq = at.input_seq;
    let started = std::time::Instant::now();
    fs::create_dir_all(dir)
        .map_err(|source| SnapshotError::Io { path: dir.to_path_buf(), source })?;
    let path = dir.join(snapshot_name(input_seq));
    let tmp = path.with_extension("bws.tmp");
    let io = |source| SnapshotError::Io { path: tmp.clone(), source };
    let mut file = BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io)?);
    META.write(&mut file, &meta_bytes(&at)).map_err(io)?;
    // A placeholder, written over once the payload's length and CRC are known.
    file.write_all(&PAYLOAD.header(0, 0)).map_err(io)?;
    let mut w = CrcWriter::new(file);
    engine.write_core(&mut w).map_err(io)?;
    engine
        .risk()
        .snapshot_to(&mut w)
        .map_err(|e| SnapshotError::Damaged { path: tmp.clone(), why: e.to_string() })?;
    engine
        .exchange()
        .snapshot_to(&mut w)
        .map_err(|e| SnapshotError::Damaged { path: tmp.clone(), why: e.to_string() })?;
    w.write_all(&(logs.len() as u32).to_le_bytes()).map_err(io)?;
    for log in logs {
        log.write_to(&mut w).map_err(io)?;
    }
    let (mut file, written, crc) = w.finish();
    envelope::write_end(&mut file, END).map_err(io)?;
    let mut file = file.into_inner().map_err(|e| io(e.into_error()))?;
    file.seek(SeekFrom::Start((HEADER_LEN - SECTION_HEADER_LEN) as u64)).map_err(io)?;
    file.write_all(&PAYLOAD.header(written, crc)).map_err(io)?;
    file.sync_all().map_err(io)?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io)?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|source| SnapshotError::Io { path: dir.to_path_buf(), source })?;
    info!(
        "snapshot after input {input_seq}: {} ({:.1} MB in {:.2} s)",
        path.display(),
        written as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(path)
}

/// Reads and checks a snapshot's sections, CRCs and end marker without decoding
/// the payload.
pub fn verify(path: &Path) -> Result<SnapshotMeta, SnapshotError> {
    let io = |source| SnapshotError::Io { path: path.to_path_buf(), source };
    let mut file = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    let damaged = |why: String| SnapshotError::Damaged { path: path.to_path_buf(), why };
    let envelope = |part: &str, e: EnvelopeError| match e {
        EnvelopeError::Io(e) if e.kind() != io::ErrorKind::UnexpectedEof => io(e),
        EnvelopeError::Io(_) => damaged(format!("cut short in the {part}")),
        EnvelopeError::NotThis { .. } => damaged(format!("not a snapshot ({part}: {e})")),
        EnvelopeError::Version { found, .. } => {
            damaged(format!("unsupported snapshot format {found}"))
        }
        EnvelopeError::TooLong { .. } | EnvelopeError::Crc => damaged(format!("{part}: {e}")),
    };
    let meta = META.read(&mut file).map_err(|e| envelope("header", e))?;
    let at = parse_meta(&meta).ok_or_else(|| damaged(format!("header of {} bytes", meta.len())))?;
    let payload = PAYLOAD.read_header(&mut file).map_err(|e| envelope("payload", e))?;
    payload.check_stream(&mut file).map_err(|e| envelope("payload", e))?;
    envelope::read_end(&mut file, END).map_err(|e| envelope("end marker", e))?;
    if file.read(&mut [0u8; 1]).map_err(io)? != 0 {
        return Err(damaged("bytes after the end marker".into()));
    }
    Ok(SnapshotMeta {
        input_seq: at.input_seq,
        now_ns: at.now_ns,
        session_id: at.session_id,
        payload_len: payload.len,
        crc: payload.crc,
        fingerprint: at.fingerprint,
    })
}

/// Loads a verified snapshot into an engine and out logs for `config`.
pub fn load(
    path: &Path,
    config: &GatewayConfig,
) -> Result<(Engine, Vec<OutLog>, SnapshotMeta), SnapshotError> {
    let meta = verify(path)?;
    let sections = meta.fingerprint.changed_sections(&Fingerprint::of(config));
    if !sections.is_empty() {
        return Err(SnapshotError::ConfigChanged { path: path.to_path_buf(), sections });
    }
    let damaged = |why: String| SnapshotError::Damaged { path: path.to_path_buf(), why };
    let io = |source| SnapshotError::Io { path: path.to_path_buf(), source };
    let mut r = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    r.seek(SeekFrom::Start(HEADER_LEN as u64)).map_err(io)?;
    let policies: Vec<LoginPolicy> = config.login_policies();
    let capacity = config.risk.capacity.max_orders_per_day as usize;
    let core = Engine::read_core(&mut r, policies.len(), capacity)
        .map_err(|e| damaged(format!("engine: {e}")))?;
    let risk = risk_check::RiskEngine::restore_from(&mut r)
        .map_err(|e| damaged(format!("risk engine: {e}")))?;
    let exchange =
        sim_exchange::Exchange::restore_from(&mut r).map_err(|e| damaged(format!("venue: {e}")))?;
    let mut n = [0u8; 4];
    r.read_exact(&mut n).map_err(|e| damaged(format!("out logs: {e}")))?;
    let n = u32::from_le_bytes(n) as usize;
    if n != config.logins.len() {
        return Err(SnapshotError::Mismatch {
            path: path.to_path_buf(),
            why: format!("{n} logins in the snapshot, {} configured", config.logins.len()),
        });
    }
    let mut logs = Vec::with_capacity(n);
    for _ in 0..n {
        let log = OutLog::read_from(
            &mut r,
            config.outbound.log_bytes_per_login,
            config.outbound.log_messages_per_login,
        )
        .map_err(|e| damaged(format!("out log: {e}")))?;
        logs.push(log);
    }
    let decoded = r.stream_position().map_err(io)?;
    if decoded != HEADER_LEN as u64 + meta.payload_len {
        return Err(damaged(format!(
            "the payload decodes to {} of its {} bytes",
            decoded.saturating_sub(HEADER_LEN as u64),
            meta.payload_len
        )));
    }
    let engine = Engine::from_parts(risk, exchange, policies, capacity, core);
    Ok((engine, logs, meta))
}

/// The snapshots of `paths` that load, in order, each loaded only when the
/// iterator gets to it; damaged ones are skipped with a warning. One taken under
/// another configuration is not skipped: it comes out as an error, for the
/// caller to refuse the start with.
pub fn loadable(
    paths: Vec<PathBuf>,
    config: &GatewayConfig,
) -> impl Iterator<Item = Result<(Engine, Vec<OutLog>, SnapshotMeta), SnapshotError>> + '_ {
    paths.into_iter().filter_map(move |path| match load(&path, config) {
        Ok(found) => Some(Ok(found)),
        Err(e @ SnapshotError::ConfigChanged { .. }) => Some(Err(e)),
        Err(e) => {
            warn!("skipping snapshot: {e}");
            None
        }
    })
}

/// Removes `.bws.tmp` files: snapshots a crash interrupted before their rename.
fn remove_unfinished(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let unfinished = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("snapshot-") && n.ends_with(".bws.tmp"));
        if unfinished {
            warn!("removing an unfinished snapshot: {}", path.display());
            let _ = fs::remove_file(&path);
        }
    }
}

/// Removes all but the newest `keep` snapshots.
pub fn prune(dir: &Path, keep: usize) {
    for old in snapshots(dir).into_iter().skip(keep) {
        if let Err(e) = fs::remove_file(&old) {
            warn!("cannot remove old snapshot {}: {e}", old.display());
        }
    }
}

/// Snapshots kept in the directory; older ones are removed after each new one.
pub const KEEP: usize = 2;

/// The background snapshotter (`[journal] snapshot_every_inputs`): keeps a replica
/// of the engine that follows the journal on disk, and every `every` durable inputs
/// brings it up to the durable position and writes a snapshot of it. The live
/// engine is never paused or touched: the replica replays the same journal through
/// the same deterministic engine, so its state at input N is the live engine's
/// state at input N. It costs a second copy of the engine's memory and the CPU to
/// replay and write; a failure is logged and counted, and the next interval
/// starts over from the newest snapshot.
pub fn run_snapshotter(
    config: GatewayConfig,
    every: u64,
    progress: Arc<JournalProgress>,
    stop: Arc<AtomicBool>,
    rebuild: RebuildUntil,
) {
    let dir = config.journal.dir.clone();
    remove_unfinished(&dir);
    let mut base = snapshots(&dir).first().and_then(|p| verify(p).ok()).map_or(0, |m| m.input_seq);
    let mut replica: Option<Replica> = None;
    loop {
        // Wait for `every` durable inputs past the last snapshot.
        let target = loop {
            if stop.load(Ordering::Acquire) {
                return;
            }
            let durable = progress.durable.load(Ordering::Acquire);
            if durable >= base + every {
                break durable;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        match take(&config, &mut replica, target, rebuild) {
            Ok(_) => {
                base = target;
                progress.snapshot_seq.store(target, Ordering::Release);
                progress.snapshots.fetch_add(1, Ordering::Relaxed);
                prune(&dir, KEEP);
            }
            Err(e) => {
                warn!("snapshot at input {target} failed: {e}");
                progress.snapshot_failures.fetch_add(1, Ordering::Relaxed);
                replica = None;
                // Try again an interval later.
                base = target;
            }
        }
    }
}

/// The snapshotter's copy of the engine and streams, at input `applied`.
#[derive(Debug)]
pub struct Replica {
    /// The engine, with every input up to `applied` applied.
    pub engine: Engine,
    /// Every login's stream, likewise.
    pub logs: Vec<OutLog>,
    /// The last input applied.
    pub applied: u64,
    /// Its engine time.
    pub now_ns: u64,
    /// The trading day's session id.
    pub session_id: u64,
}

/// Builds a replica at input `target` (from the newest snapshot that fits and the
/// journal): the pipeline's recovery, handed to the snapshotter so that this
/// module does not depend on the pipeline that starts it.
pub type RebuildUntil = fn(&GatewayConfig, u64) -> Result<Replica, Box<dyn std::error::Error>>;

/// Brings the replica (built from the newest snapshot and the journal when there
/// is none yet) to input `target` and writes a snapshot of it.
fn take(
    config: &GatewayConfig,
    replica: &mut Option<Replica>,
    target: u64,
    rebuild: RebuildUntil,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let dir = &config.journal.dir;
    let r = match replica {
        Some(r) => r,
        None => replica.insert(rebuild(config, target)?),
    };
    if r.applied < target {
        let Replica { engine, logs, applied, now_ns, .. } = r;
        crate::journal::read_journal_from(dir, *applied + 1, TailPolicy::Follow, |e| {
            if e.input_seq <= target {
                let append = &mut |o: Output| logs[o.login as usize].append_output(&o);
                engine.handle(e.input_seq, e.now_ns, e.arrival_ns, &e.input, append, &mut NoProbe);
                *applied = e.input_seq;
                *now_ns = e.now_ns;
            }
        })?;
    }
    if r.applied != target {
        return Err(format!(
            "the journal on disk ends at input {}, before the durable input {target}",
            r.applied
        )
        .into());
    }
    let at = At {
        input_seq: r.applied,
        now_ns: r.now_ns,
        session_id: r.session_id,
        fingerprint: Fingerprint::of(config),
    };
    Ok(write(dir, &r.engine, &r.logs, at)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> At {
        let mut fingerprint = [0u8; FINGERPRINT_LEN];
        fingerprint.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        At {
            input_seq: 1_000_003,
            now_ns: 1_728_351_000_000_000_000,
            session_id: 20_241_008,
            fingerprint: Fingerprint::from_bytes(&fingerprint),
        }
    }

    /// A snapshot file around `payload`, framed as [`write`] frames it.
    fn file(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        META.write(&mut out, &meta_bytes(&at())).unwrap();
        PAYLOAD.write(&mut out, payload).unwrap();
        envelope::write_end(&mut out, END).unwrap();
        out
    }

    fn verify_bytes(name: &str, bytes: &[u8]) -> Result<SnapshotMeta, SnapshotError> {
        let dir = std::env::temp_dir().join(format!("bw-snapshot-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(snapshot_name(7));
        fs::write(&path, bytes).unwrap();
        let verified = verify(&path);
        fs::remove_dir_all(&dir).unwrap();
        verified
    }

    #[test]
    fn the_layout_is_two_sections_and_an_end_marker() {
        let bytes = file(b"payload");
        assert_eq!(&bytes[..8], b"BWSNAP01");
        assert_eq!(&bytes[8..12], &3u32.to_le_bytes());
        assert_eq!(&bytes[HEADER_LEN - SECTION_HEADER_LEN..][..8], b"BWSNAPPL");
        assert_eq!(&bytes[HEADER_LEN..][..7], b"payload");
        assert_eq!(&bytes[bytes.len() - 8..], b"BWSNAPOK");
        assert_eq!(bytes.len(), HEADER_LEN + 7 + 8);
        let meta = verify_bytes("layout", &bytes).unwrap();
        let At { input_seq, now_ns, session_id, fingerprint } = at();
        assert_eq!(
            meta,
            SnapshotMeta {
                input_seq,
                now_ns,
                session_id,
                payload_len: 7,
                crc: crc32fast::hash(b"payload"),
                fingerprint,
            }
        );
    }

    #[test]
    fn any_damage_is_refused_before_decoding() {
        let bytes = file(b"payload");
        for at in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            let verified = verify_bytes("flip", &bad);
            assert!(matches!(verified, Err(SnapshotError::Damaged { .. })), "byte {at}");
        }
        for len in 0..bytes.len() {
            let verified = verify_bytes("cut", &bytes[..len]);
            assert!(matches!(verified, Err(SnapshotError::Damaged { .. })), "{len} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        let verified = verify_bytes("trailing", &longer);
        assert!(matches!(verified, Err(SnapshotError::Damaged { .. })));
    }

    #[test]
    fn an_older_format_is_named_and_skipped() {
        let mut bytes = file(b"payload");
        bytes[8] = 2;
        match verify_bytes("format", &bytes) {
            Err(SnapshotError::Damaged { why, .. }) => {
                assert_eq!(why, "unsupported snapshot format 2");
            }
            other => panic!("{other:?}"),
        }
    }
}
