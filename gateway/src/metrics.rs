//! Counters and gauges shared between the thread that updates them and the
//! reporter that reads them.
//!
//! Every metric has exactly one writing thread, so an update is a relaxed load and
//! store (no read-modify-write, no lock); readers see a recent value.

use std::sync::atomic::{AtomicU64, Ordering};

use protocol::codec::AppMessage;

/// A monotonic counter written by one thread.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`. Single writer: a plain load and store.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge written by one thread.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    #[inline]
    pub fn set(&self, v: u64) {
        self.0.store(v, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

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
        }
    }
}
