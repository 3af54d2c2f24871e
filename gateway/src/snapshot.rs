//! Snapshots: the whole engine state at one input, so a restart replays only the
//! journal after it and recovery time stays bounded however long the day.
//!
//! ```text
//! file    = header payload
//! header  = magic "BWSNAP01" | u32 format (2) | u32 reserved | u64 input_seq | u64 now_ns
//!         | u64 session_id | u64 payload_len | u32 crc32(payload) | u32 crc32(header bytes 0..52)
//!         | u64 config_fingerprint[8]                                          (120 bytes)
//! payload = engine core | risk engine | venue | out logs
//! ```
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

use crate::config::GatewayConfig;
use crate::engine::{Engine, LoginPolicy, NoProbe};
use crate::input::Output;
use crate::journal::fingerprint::{FINGERPRINT_LEN, Fingerprint};
use crate::journal::{JournalProgress, TailPolicy};
use crate::outlog::OutLog;

/// File magic.
pub const MAGIC: [u8; 8] = *b"BWSNAP01";
/// Format version (format 1, without the configuration fingerprint, is skipped as
/// unusable).
pub const FORMAT: u32 = 2;
/// Header bytes.
pub const HEADER_LEN: usize = 56 + FINGERPRINT_LEN;

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

/// Hashes everything written through it.
struct CrcWriter<W: Write> {
    inner: W,
    hasher: crc32fast::Hasher,
    written: u64,
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

fn header(meta: &SnapshotMeta) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    h[16..24].copy_from_slice(&meta.input_seq.to_le_bytes());
    h[24..32].copy_from_slice(&meta.now_ns.to_le_bytes());
    h[32..40].copy_from_slice(&meta.session_id.to_le_bytes());
    h[40..48].copy_from_slice(&meta.payload_len.to_le_bytes());
    h[48..52].copy_from_slice(&meta.crc.to_le_bytes());
    h[56..].copy_from_slice(&meta.fingerprint.to_bytes());
    let crc = header_crc(&h);
    h[52..56].copy_from_slice(&crc.to_le_bytes());
    h
}

/// CRC-32 of a header's bytes but its own.
fn header_crc(h: &[u8; HEADER_LEN]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&h[..52]);
    hasher.update(&h[56..]);
    hasher.finalize()
}

fn parse_header(h: &[u8; HEADER_LEN]) -> Result<SnapshotMeta, String> {
    if h[..8] != MAGIC {
        return Err("not a snapshot (bad magic)".into());
    }
    let u64_at = |at: usize| u64::from_le_bytes(h[at..at + 8].try_into().unwrap_or([0; 8]));
    let format = u32::from_le_bytes(h[8..12].try_into().unwrap_or([0; 4]));
    if format != FORMAT {
        return Err(format!("unsupported snapshot format {format}"));
    }
    let stored_crc = u32::from_le_bytes(h[52..56].try_into().unwrap_or([0; 4]));
    if header_crc(h) != stored_crc {
        return Err("damaged header (CRC mismatch)".into());
    }
    let fingerprint: &[u8; FINGERPRINT_LEN] =
        h[56..].try_into().map_err(|_| "short header".to_string())?;
    Ok(SnapshotMeta {
        input_seq: u64_at(16),
        now_ns: u64_at(24),
        session_id: u64_at(32),
        payload_len: u64_at(40),
        crc: u32::from_le_bytes(h[48..52].try_into().unwrap_or([0; 4])),
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
    let At { input_seq, now_ns, session_id, fingerprint } = at;
    let started = std::time::Instant::now();
    fs::create_dir_all(dir)
        .map_err(|source| SnapshotError::Io { path: dir.to_path_buf(), source })?;
    let path = dir.join(snapshot_name(input_seq));
    let tmp = path.with_extension("bws.tmp");
    let io = |source| SnapshotError::Io { path: tmp.clone(), source };
    let mut file = File::create(&tmp).map_err(io)?;
    file.write_all(&[0u8; HEADER_LEN]).map_err(io)?;
    let mut w = CrcWriter {
        inner: BufWriter::with_capacity(1 << 20, file),
        hasher: crc32fast::Hasher::new(),
        written: 0,
    };
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
    w.flush().map_err(io)?;
    let CrcWriter { inner, hasher, written } = w;
    let mut file = inner.into_inner().map_err(|e| io(e.into_error()))?;
    let meta = SnapshotMeta {
        input_seq,
        now_ns,
        session_id,
        payload_len: written,
        crc: hasher.finalize(),
        fingerprint,
    };
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.write_all(&header(&meta)).map_err(io)?;
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

/// Reads and checks a snapshot's header and CRC without decoding it.
pub fn verify(path: &Path) -> Result<SnapshotMeta, SnapshotError> {
    let io = |source| SnapshotError::Io { path: path.to_path_buf(), source };
    let mut file = BufReader::with_capacity(1 << 20, File::open(path).map_err(io)?);
    let mut h = [0u8; HEADER_LEN];
    file.read_exact(&mut h).map_err(|e| SnapshotError::Damaged {
        path: path.to_path_buf(),
        why: format!("short header: {e}"),
    })?;
    let meta =
        parse_header(&h).map_err(|why| SnapshotError::Damaged { path: path.to_path_buf(), why })?;
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    if total != meta.payload_len {
        return Err(SnapshotError::Damaged {
            path: path.to_path_buf(),
            why: format!("payload is {total} bytes, header says {}", meta.payload_len),
        });
    }
    if hasher.finalize() != meta.crc {
        return Err(SnapshotError::Damaged {
            path: path.to_path_buf(),
            why: "CRC mismatch".into(),
        });
    }
    Ok(meta)
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
