//! One market-data subscriber on its own thread: an [`MdClient`] that logs in,
//! subscribes, times every update it applies and meters its own read rate.
//!
//! The thread's loop is bounded in time: every poll waits at most
//! [`POLL_MS`], and the thread ends when the fleet says stop or when its run
//! deadline passes, whichever is first.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use protocol::marketdata::{DeltaBody, Depth, FLAG_CONFLATED, Mode, SyncState, Target};
use protocol::mdclient::{MdClient, MdClientConfig, MdEvent, SecurityBook};
use protocol::{SecurityId, Token, Username};

use super::reference::Reference;
use super::{Class, ClassKind};

/// Longest a poll waits: the period of the staleness samples and of the checks
/// of the fleet's phase.
pub const POLL_MS: u64 = 10;
/// Receive buffer of a rate-bounded reader: each read takes at most this much,
/// so its rate overshoots the bound by one buffer at most.
const SLOW_RX_BYTES: usize = 2_048;
/// Longest single pause of a rate-bounded reader, so that it still polls (and
/// heartbeats) several times a heartbeat interval.
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

/// What the fleet shares with its subscriber threads.
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
    /// The latest time the thread may still run.
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

/// The subscriber's loop, until the fleet stops it or the deadline passes.
pub fn run(spec: Spec, mut client: MdClient, shared: Arc<Shared>, done: Arc<AtomicU64>) -> Outcome {
    let mut out = Outcome {
        class: spec.class,
        latency: histogram(),
        staleness: histogram(),
        counts: Counts::default(),
        books: Vec::new(),
        from_start: client.feed().books().iter().all(|b| b.volume() == 0),
        caught_up: 0,
        error: None,
    };
    let mut tally =
        Tally { securities: spec.securities.clone(), trades: vec![0; spec.securities.len()] };
    let started = Instant::now();
    let start_bytes = client.bytes_received();
    let mut newest_ns = unix_ns();
    let mut next_sample = Instant::now();
    let sample_every = Duration::from_millis(POLL_MS);
    loop {
        let phase = shared.phase.load(Ordering::Acquire);
        let now = Instant::now();
        if phase == PHASE_STOP || now >= spec.deadline {
            break;
        }
        if phase == PHASE_CATCH_UP && now >= next_sample {
            next_sample = now + sample_every;
            let reference = shared.reference.lock().ok().and_then(|r| r.clone());
            if let Some((generation, reference)) = reference
                && generation != out.caught_up
                && matches_all(&client, &reference, spec.class.kind != ClassKind::Level1)
            {
                out.caught_up = generation;
                done.store(generation, Ordering::Release);
            }
        }
        if phase == PHASE_RUN && now >= next_sample {
            out.staleness.saturating_record(unix_ns().saturating_sub(newest_ns).max(1));
            next_sample = now + sample_every;
        }
        if phase == PHASE_RUN && spec.class.read_bytes_per_s > 0 {
            throttle(&client, start_bytes, started, spec.class.read_bytes_per_s);
        }
        match client.poll(Duration::from_millis(POLL_MS)) {
            Ok(Some(event)) => {
                let at = unix_ns();
                let stamp = client.last_stamp();
                out.counts.messages += 1;
                if let Some(t) = on_event(&event, stamp, at, &mut out, &mut tally) {
                    newest_ns = newest_ns.max(t);
                }
            }
            Ok(None) => {}
            Err(e) => {
                out.error = Some(format!(
                    "market-data subscriber {} ({}): {e}",
                    spec.index,
                    spec.class.kind.name()
                ));
                break;
            }
        }
    }
    let c = client.counters();
    out.counts.bytes = client.bytes_received();
    out.counts.gap_notices = c.gap_notices;
    out.counts.retransmit_requests = c.retransmit_requests;
    out.counts.gaps_recovered = c.gaps_recovered;
    out.counts.resnapshots = c.resnapshots;
    out.counts.retransmit_rejects = c.retransmit_rejects;
    out.books = client.feed().books().iter().map(|b| (b.clone(), tally.of(b.security()))).collect();
    out
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

/// Pauses while the reader is ahead of its byte budget (at most
/// [`THROTTLE_PAUSE_MAX`] at a time).
fn throttle(client: &MdClient, start_bytes: u64, started: Instant, bytes_per_s: u64) {
    let read = client.bytes_received().saturating_sub(start_bytes) as f64;
    let allowed = started.elapsed().as_secs_f64() * bytes_per_s as f64;
    if read > allowed {
        let wait = Duration::from_secs_f64((read - allowed) / bytes_per_s as f64);
        std::thread::sleep(wait.min(THROTTLE_PAUSE_MAX));
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
