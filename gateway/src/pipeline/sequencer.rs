//! The sequencer: numbers and times every input, hands it to the journal, then
//! to the engine; with its end of the journal ring and its stage-time probe.

use std::time::Duration;

use crate::clock::Clock;
use crate::engine::{Engine, NoProbe, Probe};
use crate::input::{Arrival, Input, Output, Reply, Stamps};
use crate::journal::Entry;
use crate::metrics::{Stage, StageRecorder};
use crate::ring::Producer;
use crate::wait::Wakeup;

/// Numbers and times every input, then hands it to the engine. Whichever thread
/// owns the sequencer is the only one that touches the engine.
#[derive(Debug)]
pub struct Sequencer {
    engine: Engine,
    clock: Clock,
    last_input_seq: u64,
    last_now_ns: u64,
    last_published_ns: u64,
    recorder: StageRecorder,
    sample_every: u64,
    journal: Option<JournalLink>,
    /// Answers to queries, until the owner of the sequencer takes them.
    replies: Vec<Reply>,
}

/// The sequencer's end of the journal ring.
#[derive(Debug)]
struct JournalLink {
    to_journal: Producer<Entry>,
    wake: Option<Wakeup>,
}

/// Takes the engine's stage timestamps with the gateway clock.
struct ClockProbe<'a> {
    clock: &'a Clock,
    recorder: &'a mut StageRecorder,
    engine_in_ns: u64,
    risk_done_ns: u64,
}

impl Probe for ClockProbe<'_> {
    #[inline]
    fn risk_done(&mut self) {
        let t = self.clock.now_ns();
        self.recorder.record(Stage::Risk, self.engine_in_ns, t);
        self.risk_done_ns = t;
    }

    #[inline]
    fn matched(&mut self) {
        let t = self.clock.now_ns();
        self.recorder.record(Stage::Match, self.risk_done_ns, t);
    }
}

impl Sequencer {
    /// A sequencer over a fresh engine, recording no stage latencies.
    pub fn new(engine: Engine, clock: Clock) -> Sequencer {
        Sequencer::with_recorder(engine, clock, StageRecorder::new(false, u64::MAX).0)
    }

    /// A sequencer that records stage latencies into `recorder`.
    pub fn with_recorder(engine: Engine, clock: Clock, recorder: StageRecorder) -> Sequencer {
        Sequencer {
            engine,
            clock,
            last_input_seq: 0,
            last_now_ns: 0,
            last_published_ns: 0,
            recorder,
            sample_every: 1,
            journal: None,
            replies: Vec::with_capacity(REPLIES_RESERVED),
        }
    }

    /// Reserves room for `n` answers (the most queries the io thread lets in at
    /// once), so that answering allocates nothing.
    pub fn reserve_replies(&mut self, n: usize) {
        self.replies.reserve(n.saturating_sub(self.replies.len()));
    }

    /// Answers to the queries processed since the last call, in order.
    #[inline]
    pub fn take_replies(&mut self) -> std::vec::Drain<'_, Reply> {
        self.replies.drain(..)
    }

    /// Times the engine's stages on one input in `every` (chosen by sequence
    /// number, so the sample is unbiased); 1 times every input.
    pub fn sample_stages_every(&mut self, every: u32) {
        self.sample_every = u64::from(every.max(1));
    }

    /// Continues after a replay: the next input is `last_input_seq + 1`, and time
    /// never goes back behind `last_now_ns`.
    pub fn resume_after(&mut self, last_input_seq: u64, last_now_ns: u64) {
        self.last_input_seq = last_input_seq;
        self.last_now_ns = last_now_ns;
    }

    pub(super) fn attach_journal(&mut self, to_journal: Producer<Entry>, wake: Option<Wakeup>) {
        self.journal = Some(JournalLink { to_journal, wake });
    }

    /// Hands the entry to the journal thread, waiting while its ring is full
    /// (back-pressure: the journal sets the pace under load).
    #[inline]
    fn journal(&mut self, entry: Entry) {
        let Some(link) = &mut self.journal else { return };
        let mut entry = entry;
        loop {
            match link.to_journal.push(entry) {
                Ok(()) => break,
                Err(back) => {
                    entry = back;
                    if let Some(w) = &link.wake {
                        w.wake();
                    }
                    std::thread::yield_now();
                }
            }
        }
        if let Some(w) = &link.wake {
            w.wake();
        }
    }

    /// Feeds the venue's market data to a publisher from now on.
    pub fn attach_market_tap(&mut self, tap: crate::md_feed::MarketTap) {
        self.engine.attach_market_sink(Box::new(tap));
    }

    /// The engine (read-only).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Inputs sequenced so far.
    pub fn last_input_seq(&self) -> u64 {
        self.last_input_seq
    }

    /// Sequences and processes one input.
    #[inline]
    pub fn process(&mut self, arrival: &Arrival, out: &mut impl FnMut(Output)) {
        if let Input::Query { asker, query } = arrival.input {
            // Not sequenced, not journaled: answered from the state as it stands.
            let reply = self.engine.answer_query(asker, &query);
            self.replies.push(reply);
            return;
        }
        // The clock is monotonic already; max() keeps replays honest too.
        let now = self.clock.now_ns().max(self.last_now_ns);
        self.last_now_ns = now;
        self.last_input_seq += 1;
        let seq = self.last_input_seq;
        let arrival_ns = arrival.stamps.read_ns;
        self.journal(Entry { input_seq: seq, now_ns: now, arrival_ns, input: arrival.input });
        if !self.recorder.enabled() || !seq.is_multiple_of(self.sample_every) {
            self.engine.handle(seq, now, arrival.stamps.read_ns, &arrival.input, out, &mut NoProbe);
            if seq.is_multiple_of(4096) {
                self.engine.publish_gauges(seq);
            }
            return;
        }
        self.recorder.record(Stage::QueueIn, arrival.stamps.decoded_ns, now);
        let mut probe = ClockProbe {
            clock: &self.clock,
            recorder: &mut self.recorder,
            engine_in_ns: now,
            risk_done_ns: now,
        };
        self.engine.handle(seq, now, arrival.stamps.read_ns, &arrival.input, out, &mut probe);
        let end = self.clock.now_ns();
        self.recorder.record(Stage::Engine, now, end);
        self.recorder.maybe_swap(end);
        if seq.is_multiple_of(4096) {
            self.engine.publish_gauges(seq);
        }
    }

    /// Work for quiet moments: publish gauges, hand over stage intervals.
    pub fn housekeeping(&mut self) {
        let now = self.clock.now_ns();
        if now.saturating_sub(self.last_published_ns) >= 100_000_000 {
            self.last_published_ns = now;
            self.engine.publish_gauges(self.last_input_seq);
            self.recorder.maybe_swap(now);
        }
    }

    /// Runs the venue's timed work if it is due; returns true if it ran.
    pub fn tick_if_due(&mut self, out: &mut impl FnMut(Output)) -> bool {
        match self.engine.next_deadline() {
            Some(deadline) if self.clock.now_ns() >= deadline => {
                let now = self.clock.now_ns();
                let arrival = Arrival {
                    input: Input::Tick,
                    stamps: Stamps { read_ns: now, decoded_ns: now },
                };
                self.process(&arrival, out);
                true
            }
            _ => false,
        }
    }

    /// Time until the venue's next timed work, if any.
    pub fn until_deadline(&self) -> Option<Duration> {
        self.engine
            .next_deadline()
            .map(|d| Duration::from_nanos(d.saturating_sub(self.clock.now_ns())))
    }
}

/// Replies a sequencer holds before its owner takes them: the io thread keeps at
/// most `server.max_queries_in_flight` queries in the engine, and the owner takes
/// the replies after every input (pipelined) or every loop (fused), so this is
/// room enough for the usual count and grows only for a larger configuration.
const REPLIES_RESERVED: usize = 64;
