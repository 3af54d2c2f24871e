//! The distribution of group-commit times, with no lock on the durability path.
//!
//! The journal thread records each commit into a histogram it alone owns and hands
//! it over, with no lock and no allocation, through a ring to the readers' side,
//! which merges it into a running total and hands the emptied histogram back (the
//! same single-writer hand-over as the per-thread stage histograms in `metrics`).
//! Readers (the admin thread, tests) share the reader side behind a lock that the
//! journal thread never touches.

use std::sync::Mutex;

use hdrhistogram::Histogram;

use crate::ring::{Consumer, Producer, ring};

/// Histograms in circulation besides the one being recorded into.
const SPARES: usize = 4;

fn new_histogram() -> Box<Histogram<u64>> {
    Box::new(
        Histogram::new_with_bounds(1, 60_000_000_000, 3)
            .expect("constant histogram bounds are valid"),
    )
}

/// The journal thread's end: records commits, hands them over.
#[derive(Debug)]
pub struct CommitRecorder {
    current: Box<Histogram<u64>>,
    to_readers: Producer<Box<Histogram<u64>>>,
    spares: Consumer<Box<Histogram<u64>>>,
}

impl CommitRecorder {
    /// Records one commit and hands what it holds to the readers when an emptied
    /// histogram is back to record into (else it keeps them for the next time).
    pub fn record(&mut self, ns: u64) {
        self.current.saturating_record(ns.max(1));
        if let Some(spare) = self.spares.pop() {
            let full = std::mem::replace(&mut self.current, spare);
            // The ring has a slot for every histogram in circulation.
            let handed = self.to_readers.push(full);
            assert!(handed.is_ok(), "the hand-over ring holds every histogram");
        }
    }
}

impl Drop for CommitRecorder {
    /// What was recorded since the last hand-over reaches the readers too.
    fn drop(&mut self) {
        if !self.current.is_empty() {
            let full =
                std::mem::replace(&mut self.current, Box::new(Histogram::new(1).expect("valid")));
            let _ = self.to_readers.push(full);
        }
    }
}

/// The readers' end: the running total.
#[derive(Debug)]
struct Totals {
    from_recorder: Consumer<Box<Histogram<u64>>>,
    give_back: Producer<Box<Histogram<u64>>>,
    total: Histogram<u64>,
}

/// Group-commit times, for the metrics endpoint. The recorder end is taken once,
/// by the journal writer; readers call [`CommitTimes::snapshot`].
#[derive(Debug)]
pub struct CommitTimes {
    recorder: Mutex<Option<CommitRecorder>>,
    totals: Mutex<Totals>,
}

impl Default for CommitTimes {
    fn default() -> Self {
        let (to_readers, from_recorder) = ring(2 * (SPARES + 1));
        let (mut give_back, spares) = ring(2 * (SPARES + 1));
        for _ in 0..SPARES {
            let _ = give_back.push(new_histogram());
        }
        let recorder = CommitRecorder { current: new_histogram(), to_readers, spares };
        let total = *new_histogram();
        CommitTimes {
            recorder: Mutex::new(Some(recorder)),
            totals: Mutex::new(Totals { from_recorder, give_back, total }),
        }
    }
}

impl CommitTimes {
    /// The recorder end, for the journal writer (once: `None` after the first call,
    /// so a second writer on the same progress records nothing rather than share).
    pub fn take_recorder(&self) -> Option<CommitRecorder> {
        self.recorder.lock().ok().and_then(|mut r| r.take())
    }

    /// A copy of the distribution handed over so far.
    pub fn snapshot(&self) -> Histogram<u64> {
        let mut totals = match self.totals.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Totals { from_recorder, give_back, total } = &mut *totals;
        while let Some(mut h) = from_recorder.pop() {
            let _ = total.add(&*h);
            h.reset();
            let _ = give_back.push(h);
        }
        total.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_commit_reaches_the_readers_without_a_lock_on_the_recorder() {
        let times = CommitTimes::default();
        let mut recorder = times.take_recorder().expect("the first take gets it");
        assert!(times.take_recorder().is_none(), "the recorder end is taken once");
        // More commits than histograms in circulation, with no reader in between:
        // the recorder keeps what it cannot hand over yet.
        for ns in 1..=20u64 {
            recorder.record(ns * 1_000);
        }
        // One commit per spare was handed over; the other 16 wait in the recorder.
        assert_eq!(times.snapshot().len(), SPARES as u64);
        for ns in 21..=30u64 {
            recorder.record(ns * 1_000);
        }
        drop(recorder);
        let all = times.snapshot();
        assert_eq!(all.len(), 30);
        assert_eq!(all.max(), all.highest_equivalent(30_000));
    }
}
