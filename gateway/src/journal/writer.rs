//! The writer thread: batches, group commit with one `fdatasync`, segment rotation
//! and pre-allocation, the published durable sequence.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use log::{info, warn};

use super::fingerprint::Fingerprint;
use super::segment::header;
use super::watermark::Watermark;
use super::*;
use crate::ring::Consumer;
use crate::wait::{Idle, IdleStep, WaitStrategy};

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
pub(super) const PREALLOC_SLACK: u64 = 2 * BATCH_BYTES as u64;
/// Zeros written (and, in the background, synced) at a time.
pub(super) const PREALLOC_CHUNK: usize = 256 << 10;
/// The background fill's rest between chunks: at most about 25 MB/s of zeros.
pub(super) const PREALLOC_PAUSE: Duration = Duration::from_millis(10);
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
    pub(super) next: Option<Preparing>,
    /// The acknowledged high-water mark, stored after every commit.
    watermark: Watermark,
    /// Commit times, handed to `progress.commit_times` without a lock.
    commit_times: Option<commit_times::CommitRecorder>,
}

/// A segment being zero-filled in the background.
#[derive(Debug)]
pub(super) struct Preparing {
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
    pub(super) fn next_ready(&self) -> bool {
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
pub(super) fn zero_fill(file: &mut File, from: u64, len: u64) -> io::Result<()> {
    zero_fill_paced(file, from, len, None)
}

/// Like [`zero_fill`], but with a pause: syncs each chunk and rests between
/// chunks, so that filling the next segment in the background never queues tens of
/// megabytes in front of the live segment's fdatasync; stops early when `cancel`
/// is set.
pub(super) fn zero_fill_paced(
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
pub(super) fn create_segment(
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
