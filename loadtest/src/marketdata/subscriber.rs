//! One market-data subscriber: an [`MdClient`] that logs in, subscribes, times
//! every update it applies and meters its own read rate. A [`Subscriber`] is
//! driven by one of the fleet's threads ([`super::group`]), many to a thread.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use protocol::marketdata::{DeltaBody, Depth, FLAG_CONFLATED, Mode, SyncState, Target};
use protocol::mdclient::{MdClient, MdClientConfig, MdEvent, SecurityBook};
use protocol::{SecurityId, Token, Username};

use super::reference::Reference;
use super::{Class, ClassKind};

/// The period of the staleness samples and of the catch-up checks; the longest
/// a fleet thread waits in poll.
pub const POLL_MS: u64 = 10;
/// Receive buffer of a rate-bounded reader: each read takes at most this much,
/// so its rate overshoots the bound by one buffer at most.
const SLOW_RX_BYTES: usize = 2_048;
/// Longest single pause of a rate-bounded reader, so that its budget is looked
/// at again several times a heartbeat interval.
const THROTTLE_PAUSE_MAX: Duration = Duration::from_millis(50);
/// Trades the client's tape keeps per security (the counts here are our own).
const TRADES_KEPT: usize = 4;

/// Where the fleet stands; every subscriber thread reads it.
pub const PHASE_RUN: u8 = 0;
/// The flow has ended: read at full speed and report when every book matches
/// the reference.
pub const PHASE_CATCH_UP: u8 = 1;
/// Stop and hand back the books.
pub const PHASE_STOP: u8 = 2;

/// What the fleet shares with its threads.
#[derive(Debug, Default)]
pub struct Shared {
    /// [`PHASE_RUN`], [`PHASE_CATCH_UP`] or [`PHASE_STOP`].
    pub phase: AtomicU8,
    /// The books to catch up with and their generation (1, 2, ...: the fleet
    /// takes a new fresh snapshot while the publisher may still be draining),
    /// set before [`PHASE_CATCH_UP`].
    pub reference: Mutex<Option<(u64, Arc<Vec<Reference>>)>>,
}

/// How one subscriber connects and what it subscribes to.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Its index, for names.
    pub index: usize,
    /// The class it belongs to.
    pub class: Class,
    /// The market-data port.
    pub addr: std::net::SocketAddr,
    /// Order-entry credentials.
    pub username: Username,
    /// Order-entry credentials.
    pub token: Token,
    /// The channels of the universe (every one is subscribed).
    pub channels: Vec<u16>,
    /// Securities of the universe, for the books.
    pub securities: Vec<SecurityId>,
    /// The latest time it may still run.
    pub deadline: Instant,
}

/// What one subscriber measured and the books it holds at the end.
#[derive(Debug)]
pub struct Outcome {
    /// Its class.
    pub class: Class,
    /// Venue (or publisher) time to receipt, ns, per update applied live.
    pub latency: Histogram<u64>,
    /// Age of the newest state held, ns, sampled every [`POLL_MS`] while the flow ran.
    pub staleness: Histogram<u64>,
    /// Counts.
    pub counts: Counts,
    /// Every book at the end: (security, its state, its trades applied).
    pub books: Vec<(SecurityBook, u64)>,
    /// Whether each book's first snapshot showed no trading yet (so that its
    /// trade count covers the whole day).
    pub from_start: bool,
    /// The generation of the reference it last matched (0: none).
    pub caught_up: u64,
    /// Why it stopped early, if it did.
    pub error: Option<String>,
}

/// A subscriber's counts.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Counts {
    /// Server messages taken (every kind).
    pub messages: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Snapshots applied (first, conflated and new ones).
    pub snapshots: u64,
    /// Deltas applied.
    pub deltas: u64,
    /// Trades applied.
    pub trades: u64,
    /// Updates the server had conflated (deltas and snapshots flagged so).
    pub conflated: u64,
    /// GapNotices.
    pub gap_notices: u64,
    /// RetransmitRequests sent.
    pub retransmit_requests: u64,
    /// Retransmitted deltas received.
    pub retransmitted: u64,
    /// Gaps recovered by retransmission.
    pub gaps_recovered: u64,
    /// New snapshots asked for.
    pub resnapshots: u64,
    /// RetransmitRejects.
    pub retransmit_rejects: u64,
    /// Deltas skipped (duplicates, gaps, no book).
    pub skipped: u64,
}

impl Counts {
    /// Adds `o` into `self`.
    pub fn add(&mut self, o: &Counts) {
        self.messages += o.messages;
        self.bytes += o.bytes;
        self.snapshots += o.snapshots;
        self.deltas += o.deltas;
        self.trades += o.trades;
        self.conflated += o.conflated;
        self.gap_notices += o.gap_notices;
        self.retransmit_requests += o.retransmit_requests;
        self.retransmitted += o.retransmitted;
        self.gaps_recovered += o.gaps_recovered;
        self.resnapshots += o.resnapshots;
        self.retransmit_rejects += o.retransmit_rejects;
        self.skipped += o.skipped;
    }
}

/// A histogram of nanoseconds from 1 ns to 100 s.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

fn unix_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Connects, subscribes to every channel and waits until every book has its first
/// snapshot (bounded by `timeout`). Returns the client ready to run.
pub fn connect(spec: &Spec, timeout: Duration) -> Result<MdClient, String> {
    let mut config = MdClientConfig::new(spec.addr, spec.username, spec.token)
        .map_err(|e| format!("market-data address: {e}"))?;
    config.limits.books_max = spec.securities.len().max(1);
    config.limits.subscriptions_max = spec.channels.len().max(1);
    config.limits.trades_kept = TRADES_KEPT;
    if spec.class.read_bytes_per_s > 0 {
        config.rx_buffer_bytes = SLOW_RX_BYTES;
    }
    let name = format!("market-data subscriber {} ({})", spec.index, spec.class.kind.name());
    let mut client = MdClient::connect(&config).map_err(|e| format!("{name}: {e}"))?;
    let (depth, mode, interval_ms) = match spec.class.kind {
        ClassKind::Fast | ClassKind::Slow => (Depth::Level2, Mode::RealTime, 0),
        ClassKind::Level1 => (Depth::Level1, Mode::Conflated, spec.class.interval_ms),
    };
    for &c in &spec.channels {
        client
            .subscribe(Target::Channel(c), depth, mode, interval_ms)
            .map_err(|e| format!("{name}: subscribe to channel {c}: {e}"))?;
    }
    let deadline = Instant::now() + timeout;
    while !(client.feed().books().len() == spec.securities.len() && client.feed().all_synced()) {
        if Instant::now() >= deadline {
            return Err(format!("{name}: no snapshot of every book within {timeout:?}"));
        }
        match client.poll(Duration::from_millis(POLL_MS)) {
            Ok(Some(MdEvent::SubscribeRejected { code, .. })) => {
                return Err(format!("{name}: subscription refused ({})", code.0));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("{name}: {e}")),
        }
    }
    Ok(client)
}

/// Per-book trade counts, indexed like `securities`.
struct Tally {
    securities: Vec<SecurityId>,
    trades: Vec<u64>,
}

impl Tally {
    fn add_trade(&mut self, s: SecurityId) {
        if let Some(i) = self.securities.iter().position(|x| *x == s) {
            self.trades[i] += 1;
        }
    }

    fn of(&self, s: SecurityId) -> u64 {
        self.securities.iter().position(|x| *x == s).map_or(0, |i| self.trades[i])
    }
}

/// Why [`Subscriber::read`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// The socket would block: wait for its readiness.
    WouldBlock,
    /// It took as many events as it was allowed; there may be more.
    More,
    /// Over its byte budget ([`Subscriber::throttled_for`] says how long).
    Throttled,
    /// It failed and is not read again.
    Stopped,
}

/// How far a subscriber got, for the fleet to watch while it catches up.
#[derive(Debug, Default)]
pub struct Progress {
    /// The generation of the reference it last matched (0: none).
    pub caught_up: AtomicU64,
    /// It stopped (an error, or the end of its run).
    pub ended: AtomicBool,
}

/// One subscriber's state between the events its thread hands it.
pub struct Subscriber {
    spec: Spec,
    client: MdClient,
    progress: Arc<Progress>,
    out: Outcome,
    tally: Tally,
    started: Instant,
    start_bytes: u64,
    newest_ns: u64,
    next_sample: Instant,
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber").field("index", &self.spec.index).finish()
    }
}

impl Subscriber {
    /// A connected client (its first snapshots in), put in non-blocking mode.
    pub fn new(
        spec: Spec,
        mut client: MdClient,
        progress: Arc<Progress>,
    ) -> Result<Subscriber, String> {
        client
            .set_nonblocking(true)
            .map_err(|e| format!("market-data subscriber {}: {e}", spec.index))?;
        let out = Outcome {
            class: spec.class,
            latency: histogram(),
            staleness: histogram(),
            counts: Counts::default(),
            books: Vec::new(),
            from_start: client.feed().books().iter().all(|b| b.volume() == 0),
            caught_up: 0,
            error: None,
        };
        let tally =
            Tally { securities: spec.securities.clone(), trades: vec![0; spec.securities.len()] };
        let start_bytes = client.bytes_received();
        Ok(Subscriber {
            spec,
            client,
            progress,
            out,
            tally,
            started: Instant::now(),
            start_bytes,
            newest_ns: unix_ns(),
            next_sample: Instant::now(),
        })
    }

    /// Its index in the fleet.
    pub fn index(&self) -> usize {
        self.spec.index
    }

    /// The socket, for the thread's poll.
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsRawFd::as_raw_fd(&self.client)
    }

    /// Every [`POLL_MS`]: a staleness sample while the flow runs, a look at the
    /// reference while catching up, and a heartbeat when the link is idle.
    /// Returns when it wants to be called again.
    pub fn tick(&mut self, now: Instant, phase: u8, shared: &Shared) -> Instant {
        if self.out.error.is_some() {
            return self.spec.deadline;
        }
        if now >= self.next_sample {
            self.next_sample = now + Duration::from_millis(POLL_MS);
            if phase == PHASE_RUN {
                let age_ns = unix_ns().saturating_sub(self.newest_ns).max(1);
                self.out.staleness.saturating_record(age_ns);
            }
            if phase == PHASE_CATCH_UP {
                self.check_caught_up(shared);
            }
            if let Err(e) = self.client.keep_alive() {
                self.fail(e.to_string());
            }
        }
        self.next_sample
    }

    fn check_caught_up(&mut self, shared: &Shared) {
        let reference = shared.reference.lock().ok().and_then(|r| r.clone());
        if let Some((generation, reference)) = reference
            && generation != self.out.caught_up
            && matches_all(&self.client, &reference, self.spec.class.kind != ClassKind::Level1)
        {
            self.out.caught_up = generation;
            self.progress.caught_up.store(generation, Ordering::Release);
        }
    }

    /// While the flow runs, a rate-bounded reader over its byte budget is not
    /// read: the time until it may be (at most [`THROTTLE_PAUSE_MAX`], then it
    /// is looked at again); `None` when it may be read now.
    pub fn throttled_for(&self, phase: u8) -> Option<Duration> {
        let bytes_per_s = self.spec.class.read_bytes_per_s;
        if phase != PHASE_RUN || bytes_per_s == 0 {
            return None;
        }
        let read = self.client.bytes_received().saturating_sub(self.start_bytes) as f64;
        let allowed = self.started.elapsed().as_secs_f64() * bytes_per_s as f64;
        (read > allowed).then(|| {
            Duration::from_secs_f64((read - allowed) / bytes_per_s as f64).min(THROTTLE_PAUSE_MAX)
        })
    }

    /// Takes up to `events_max` events without waiting, and says why it stopped.
    pub fn read(&mut self, events_max: usize, phase: u8) -> Read {
        for _ in 0..events_max {
            if self.out.error.is_some() {
                return Read::Stopped;
            }
            if self.throttled_for(phase).is_some() {
                return Read::Throttled;
            }
            match self.client.try_poll() {
                Ok(Some(event)) => {
                    let at = unix_ns();
                    let stamp = self.client.last_stamp();
                    self.out.counts.messages += 1;
                    if let Some(t) = on_event(&event, stamp, at, &mut self.out, &mut self.tally) {
                        self.newest_ns = self.newest_ns.max(t);
                    }
                }
                Ok(None) => return Read::WouldBlock,
                Err(e) => {
                    self.fail(e.to_string());
                    return Read::Stopped;
                }
            }
        }
        Read::More
    }

    /// Stops it with `why` (it is not read again).
    pub fn fail(&mut self, why: String) {
        let kind = self.spec.class.kind.name();
        self.out.error =
            Some(format!("market-data subscriber {} ({kind}): {why}", self.spec.index));
        self.progress.ended.store(true, Ordering::Release);
    }

    /// What it measured and the books it holds.
    pub fn finish(self) -> Outcome {
        let Subscriber { client, mut out, tally, progress, .. } = self;
        progress.ended.store(true, Ordering::Release);
        let c = client.counters();
        out.counts.bytes = client.bytes_received();
        out.counts.gap_notices = c.gap_notices;
        out.counts.retransmit_requests = c.retransmit_requests;
        out.counts.gaps_recovered = c.gaps_recovered;
        out.counts.resnapshots = c.resnapshots;
        out.counts.retransmit_rejects = c.retransmit_rejects;
        out.books =
            client.feed().books().iter().map(|b| (b.clone(), tally.of(b.security()))).collect();
        out
    }
}

/// Takes one event: counts it, times it, and returns the as-of time of the state
/// it brought (a delta's venue time, a snapshot's publisher time).
fn on_event(
    event: &MdEvent,
    stamp: protocol::mdclient::MessageStamp,
    at_ns: u64,
    out: &mut Outcome,
    tally: &mut Tally,
) -> Option<u64> {
    const RETRANSMITTED: u8 = 2;
    if stamp.flags & RETRANSMITTED != 0 {
        out.counts.retransmitted += 1;
    }
    if stamp.flags & FLAG_CONFLATED != 0 && matches!(event, MdEvent::Snapshot(_)) {
        out.counts.conflated += 1;
    }
    match event {
        MdEvent::Snapshot(_) => {
            out.counts.snapshots += 1;
            // A conflated or Level-1 refresh is an update; the first snapshot of a
            // subscription is not timed (it is the answer to a request).
            if stamp.flags & FLAG_CONFLATED != 0 {
                out.latency.saturating_record(at_ns.saturating_sub(stamp.time_ns).max(1));
            }
            Some(stamp.time_ns)
        }
        MdEvent::Applied(h, body) => {
            out.counts.deltas += 1;
            if h.flags & FLAG_CONFLATED != 0 {
                out.counts.conflated += 1;
            }
            if let DeltaBody::Trade { .. } = body {
                out.counts.trades += 1;
                tally.add_trade(h.security);
            }
            if h.flags & RETRANSMITTED == 0 {
                out.latency.saturating_record(at_ns.saturating_sub(h.time_ns).max(1));
            }
            Some(h.time_ns)
        }
        MdEvent::Skipped(_) => {
            out.counts.skipped += 1;
            None
        }
        _ => None,
    }
}

/// Whether every book has been built from a snapshot and equals its reference
/// (with `every_seq`, a real-time Level-2 book, also at its last sequence). A
/// book may still be recovering: after a conflated snapshot, a gap notice for a
/// range the snapshot already covered leaves it waiting for a later delta of its
/// security, which a quiet market never sends; its content is what counts.
fn matches_all(client: &MdClient, reference: &[Reference], every_seq: bool) -> bool {
    reference.iter().all(|r| {
        client.book(r.security).is_some_and(|b| {
            b.state() != SyncState::Unsynced
                && (!every_seq || b.last_seq() == r.security_seq)
                && r.differences(b).is_empty()
        })
    })
}
