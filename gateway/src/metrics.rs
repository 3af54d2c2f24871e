//! Counters and gauges shared between the thread that updates them and the
//! reporter that reads them.
//!
//! Every metric has exactly one writing thread, so an update is a relaxed load and
//! store (no read-modify-write, no lock); readers see a recent value.

use std::sync::Arc;

use hdrhistogram::Histogram;
use protocol::codec::AppMessage;

use crate::ring::{Consumer, Producer, ring};

pub use order_engine::counters::{Counter, Gauge};

/// What the io thread counts.
#[derive(Debug, Default)]
pub struct IoMetrics {
    /// TCP connections accepted.
    pub connections_accepted: Counter,
    /// Logins accepted.
    pub logins_accepted: Counter,
    /// Logins refused (any reason, session limit included).
    pub logins_refused: Counter,
    /// Connections closed.
    pub disconnects: Counter,
    /// Sessions cut off for not reading.
    pub slow_consumer_disconnects: Counter,
    /// Logins that resumed with a replay.
    pub replays: Counter,
    /// Messages replayed.
    pub replayed_messages: Counter,
    /// Bytes read from clients.
    pub bytes_received: Counter,
    /// Bytes written to clients.
    pub bytes_sent: Counter,
    /// Frames read from clients.
    pub frames_received: Counter,
    /// Frames that did not decode.
    pub malformed_frames: Counter,
    /// Times a session's reads were paused because the engine ring was full.
    pub backpressure_pauses: Counter,
    /// Sequenced messages appended to the out logs, by message type.
    pub outputs: OutputCounters,
    /// Connections open now (logged in or not).
    pub connections: Gauge,
    /// Logins with a live session now.
    pub sessions: Gauge,
    /// Inputs waiting in the io → engine ring.
    pub in_ring_depth: Gauge,
    /// Outputs waiting in the engine → io ring.
    pub out_ring_depth: Gauge,
    /// Unsent bytes per login (configured logins only, so the label set is bounded).
    pub login_backlog_bytes: Box<[Gauge]>,
    /// Last sequence number per login.
    pub login_last_seq: Box<[Gauge]>,
    /// The FIX door's (zeros without one).
    pub fix: Arc<FixMetrics>,
    /// The market-data publisher's (zeros without one).
    pub md: Arc<MdMetrics>,
}

/// The market-data publisher's counters and gauges (docs/operations.md).
#[derive(Debug, Default)]
pub struct MdMetrics {
    /// Connections accepted on the market-data port.
    pub connections_accepted: Counter,
    /// Connections refused at accept (no room, too many from the address).
    pub connections_refused: Counter,
    /// Logins accepted.
    pub logins: Counter,
    /// Logins refused.
    pub logins_refused: Counter,
    /// Connections that ended.
    pub disconnects: Counter,
    /// Sequenced messages queued to subscribers (snapshots and deltas).
    pub messages_sent: Counter,
    /// Bytes written to subscribers.
    pub bytes_sent: Counter,
    /// Venue events the publisher applied.
    pub events: Counter,
    /// Venue events the engine could not queue (the ring was full).
    pub ring_dropped: Counter,
    /// Books the engine re-sent after lost events.
    pub resyncs: Counter,
    /// Sequence ranges lost between the engine and the publisher.
    pub feed_gaps: Counter,
    /// Conflated snapshots sent (a subscriber behind, or a conflated subscription).
    pub conflations: Counter,
    /// Gap notices sent.
    pub gap_notices: Counter,
    /// Messages sent again in answer to retransmission requests.
    pub retransmitted: Counter,
    /// Retransmission requests refused.
    pub retransmit_rejects: Counter,
    /// Subscribe or Unsubscribe requests refused.
    pub subscribe_rejects: Counter,
    /// Times a subscriber's queue filled and it fell behind.
    pub slow_subscribers: Counter,
    /// Sessions logged in now.
    pub sessions: Gauge,
    /// Subscriptions held now.
    pub subscriptions: Gauge,
    /// Events waiting in the engine -> publisher ring.
    pub ring_depth: Gauge,
    /// Bytes queued for subscribers, all sessions together.
    pub queued_bytes: Gauge,
    /// The most bytes queued for one subscriber.
    pub queued_bytes_max: Gauge,
}

/// The FIX door's counters and gauges, written by the thread that serves it.
#[derive(Debug, Default)]
pub struct FixMetrics {
    /// TCP connections accepted on the FIX port.
    pub connections_accepted: Counter,
    /// Connections closed at accept (no room) or before a Logon named a free
    /// session (unknown CompID, not a Logon, second connection, no Logon in time).
    pub connections_refused: Counter,
    /// Sessions logged on.
    pub logons: Counter,
    /// Session connections that ended.
    pub disconnects: Counter,
    /// Bytes read from FIX connections.
    pub bytes_received: Counter,
    /// Bytes written to FIX connections.
    pub bytes_sent: Counter,
    /// Orders, cancels, replaces and mass cancels handed to the engine.
    pub inputs: Counter,
    /// Stream messages the sessions took (each becomes at most one ExecutionReport
    /// or cancel reject).
    pub stream_messages: Counter,
    /// Sessions logged on now.
    pub sessions: Gauge,
}

impl IoMetrics {
    /// Metrics for `logins` configured logins.
    pub fn new(logins: usize) -> IoMetrics {
        IoMetrics {
            login_backlog_bytes: (0..logins).map(|_| Gauge::default()).collect(),
            login_last_seq: (0..logins).map(|_| Gauge::default()).collect(),
            ..IoMetrics::default()
        }
    }
}

/// Sequenced messages by type.
#[derive(Debug, Default)]
pub struct OutputCounters {
    /// OrderAccepted.
    pub accepted: Counter,
    /// OrderRejected.
    pub rejected: Counter,
    /// Executed.
    pub executed: Counter,
    /// Canceled.
    pub canceled: Counter,
    /// CancelRejected.
    pub cancel_rejected: Counter,
    /// Replaced.
    pub replaced: Counter,
    /// SystemEvent.
    pub system_events: Counter,
    /// BusinessReject.
    pub business_rejects: Counter,
    /// MassCancelAck.
    pub mass_cancel_acks: Counter,
    /// OrderEntryStatus.
    pub entry_status: Counter,
    /// OrderPending (version 2 streams).
    pub pending: Counter,
}

impl IoMetrics {
    /// Counts one sequenced message.
    #[inline]
    pub fn count_output(&self, msg: &AppMessage) {
        let c = &self.outputs;
        match msg {
            AppMessage::OrderAccepted(_) => c.accepted.inc(),
            AppMessage::OrderRejected(_) => c.rejected.inc(),
            AppMessage::Executed(_) => c.executed.inc(),
            AppMessage::Canceled(_) => c.canceled.inc(),
            AppMessage::CancelRejected(_) => c.cancel_rejected.inc(),
            AppMessage::Replaced(_) => c.replaced.inc(),
            AppMessage::SystemEvent(_) => c.system_events.inc(),
            AppMessage::BusinessReject(_) => c.business_rejects.inc(),
            AppMessage::MassCancelAck(_) => c.mass_cancel_acks.inc(),
            AppMessage::OrderEntryStatus(_) => c.entry_status.inc(),
            AppMessage::OrderPending(_) => c.pending.inc(),
            // The companion of an Executed, counted with it.
            AppMessage::FillFees(_) => {}
        }
    }
}

/// A latency stage of the order path. Every order's timestamps are taken where the
/// work happens and recorded into the owning thread's histograms.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(usize)]
pub enum Stage {
    /// Socket read → frame decoded (io thread).
    Decode = 0,
    /// Decoded → taken by the engine (the in ring; ~0 when fused).
    QueueIn = 1,
    /// Engine start → risk checks done.
    Risk = 2,
    /// Risk done → venue done (matching and post-trade risk).
    Match = 3,
    /// Engine start → engine done, for the whole input.
    Engine = 4,
    /// Engine start → answer appended to the login's out log (engine, out ring).
    ToLog = 5,
    /// Appended → written to the socket (io thread; per write batch, oldest message).
    Write = 6,
    /// Socket read → answer written to the socket (per write batch, oldest message).
    EndToEnd = 7,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 8] = [
        Stage::Decode,
        Stage::QueueIn,
        Stage::Risk,
        Stage::Match,
        Stage::Engine,
        Stage::ToLog,
        Stage::Write,
        Stage::EndToEnd,
    ];

    /// The label value used in metrics (`stage="decode"`).
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Decode => "decode",
            Stage::QueueIn => "queue_in",
            Stage::Risk => "risk",
            Stage::Match => "match",
            Stage::Engine => "engine",
            Stage::ToLog => "to_log",
            Stage::Write => "write",
            Stage::EndToEnd => "end_to_end",
        }
    }
}

/// One HDR histogram (nanoseconds) per stage.
#[derive(Debug, Clone)]
pub struct StageSet {
    /// Indexed by `Stage as usize`.
    pub hist: [Histogram<u64>; 8],
}

impl StageSet {
    /// Empty histograms tracking 1 ns to 60 s at 2 significant digits (1%
    /// resolution: about 20 KB each, so a thread's eight stay in cache beside the
    /// order book; three digits took ten times the memory and cost the engine
    /// measurably).
    pub fn new() -> StageSet {
        let h = || {
            Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 2).expect("valid histogram bounds")
        };
        StageSet { hist: std::array::from_fn(|_| h()) }
    }

    /// Empties every histogram (keeps their memory).
    pub fn reset(&mut self) {
        for h in &mut self.hist {
            h.reset();
        }
    }

    /// Adds another set into this one.
    pub fn add(&mut self, other: &StageSet) {
        for (a, b) in self.hist.iter_mut().zip(&other.hist) {
            // Same bounds on both sides, so this cannot fail.
            let _ = a.add(b);
        }
    }
}

impl Default for StageSet {
    fn default() -> Self {
        StageSet::new()
    }
}

/// Records stage latencies on one thread, with no lock and no allocation: the
/// current interval's histograms are swapped with a spare every interval and
/// handed to the collector through a ring; the collector hands emptied sets back.
#[derive(Debug)]
pub struct StageRecorder {
    current: Box<StageSet>,
    to_collector: Producer<Box<StageSet>>,
    spares: Consumer<Box<StageSet>>,
    interval_ns: u64,
    last_swap_ns: u64,
    enabled: bool,
}

/// The collector's end of one thread's recorder: finished intervals come in, emptied
/// sets go back.
pub type StageSide = (Consumer<Box<StageSet>>, Producer<Box<StageSet>>);

/// The collector's end of one recorder: merges finished intervals.
#[derive(Debug)]
pub struct StageCollector {
    from_recorders: Vec<StageSide>,
    /// Everything recorded since start-up.
    pub total: StageSet,
}

impl StageRecorder {
    /// A recorder that hands over an interval every `interval_ns`, and its collector side.
    pub fn new(enabled: bool, interval_ns: u64) -> (StageRecorder, StageSide) {
        const SPARES: usize = 4;
        let (to_collector, from_recorder) = ring::<Box<StageSet>>(SPARES * 2);
        let (mut give_back, spares) = ring::<Box<StageSet>>(SPARES * 2);
        if enabled {
            for _ in 0..SPARES {
                let _ = give_back.push(Box::new(StageSet::new()));
            }
        }
        let recorder = StageRecorder {
            current: Box::new(if enabled {
                StageSet::new()
            } else {
                StageSet::empty_placeholder()
            }),
            to_collector,
            spares,
            interval_ns,
            last_swap_ns: 0,
            enabled,
        };
        (recorder, (from_recorder, give_back))
    }

    /// True when recording is on.
    #[inline]
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records one latency sample (`to_ns - from_ns`; nothing when `from_ns` is 0
    /// or after `to_ns`).
    #[inline]
    pub fn record(&mut self, stage: Stage, from_ns: u64, to_ns: u64) {
        if self.enabled && from_ns != 0 && to_ns >= from_ns {
            self.current.hist[stage as usize].saturating_record(to_ns - from_ns);
        }
    }

    /// Hands the interval to the collector if it is due and a spare is ready.
    #[inline]
    pub fn maybe_swap(&mut self, now_ns: u64) {
        if !self.enabled || now_ns.saturating_sub(self.last_swap_ns) < self.interval_ns {
            return;
        }
        self.last_swap_ns = now_ns;
        if let Some(spare) = self.spares.pop() {
            let full = std::mem::replace(&mut self.current, spare);
            // The ring holds every set in circulation, so it never refuses.
            let _ = self.to_collector.push(full);
        }
    }
}

impl StageSet {
    /// A set that records nothing (histograms of the smallest size), for disabled recorders.
    fn empty_placeholder() -> StageSet {
        let h = || Histogram::<u64>::new_with_bounds(1, 2, 1).expect("valid histogram bounds");
        StageSet { hist: std::array::from_fn(|_| h()) }
    }
}

impl StageCollector {
    /// A collector over recorders' collector sides.
    pub fn new(sides: Vec<StageSide>) -> StageCollector {
        StageCollector { from_recorders: sides, total: StageSet::new() }
    }

    /// Merges every finished interval into `total` and returns the sets for reuse;
    /// `each_interval` sees each interval before it is emptied.
    pub fn collect(&mut self, mut each_interval: impl FnMut(&StageSet)) {
        for (from, back) in &mut self.from_recorders {
            while let Some(mut set) = from.pop() {
                each_interval(&set);
                self.total.add(&set);
                set.reset();
                let _ = back.push(set);
            }
        }
    }
}
