//! The engine links: the fused one (the io thread runs the engine) and the ring
//! one (rings to and from the engine thread), and the engine thread itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use mio::Waker;

use super::sequencer::Sequencer;
use crate::input::{Arrival, Output, Reply};
use crate::ring::{Consumer, Producer};
use crate::server::EngineLink;
use crate::wait::{Idle, IdleStep, WaitStrategy, Wakeup};

/// The fused link: the io thread runs the engine itself.
#[derive(Debug)]
pub struct FusedLink {
    sequencer: Sequencer,
    /// Outputs not yet appended to the out logs; `pipeline.fused_outbox_capacity`.
    outbox: Vec<Output>,
    outbox_capacity: usize,
    offered: u64,
}

impl FusedLink {
    /// A fused link whose outbox holds `outbox_capacity` outputs.
    pub fn new(sequencer: Sequencer, outbox_capacity: usize) -> FusedLink {
        FusedLink {
            sequencer,
            outbox: Vec::with_capacity(outbox_capacity),
            outbox_capacity,
            offered: 0,
        }
    }

    /// The sequencer back, when the io thread stops.
    pub(super) fn into_sequencer(self) -> Sequencer {
        self.sequencer
    }
}

impl EngineLink for FusedLink {
    /// Takes input while the outbox is under half full: the other half is for
    /// the answers of the input taken last (an aggressive order's fills).
    fn has_room(&mut self) -> bool {
        self.outbox.len() < self.outbox_capacity / 2
    }

    #[inline]
    fn offer(&mut self, arrival: Arrival) -> Result<(), Arrival> {
        if !self.has_room() {
            return Err(arrival);
        }
        let outbox = &mut self.outbox;
        self.sequencer.process(&arrival, &mut |o| outbox.push(o));
        self.offered += 1;
        Ok(())
    }

    fn drain(&mut self, sink: &mut dyn FnMut(&Output)) -> usize {
        let n = self.outbox.len();
        for o in &self.outbox {
            sink(o);
        }
        self.outbox.clear();
        n
    }

    fn drain_replies(&mut self, sink: &mut dyn FnMut(&Reply)) -> usize {
        let mut n = 0;
        for r in self.sequencer.take_replies() {
            sink(&r);
            n += 1;
        }
        n
    }

    fn run_timers(&mut self) -> bool {
        let outbox = &mut self.outbox;
        let ticked = self.sequencer.tick_if_due(&mut |o| outbox.push(o));
        self.sequencer.housekeeping();
        ticked
    }

    fn prepare_sleep(&mut self) -> bool {
        self.outbox.is_empty()
    }

    fn woke(&mut self) {}

    fn is_idle(&mut self) -> bool {
        self.outbox.is_empty()
    }

    fn offered(&self) -> u64 {
        self.offered
    }

    fn caught_up(&self, _offered: u64) -> bool {
        true
    }

    fn depths(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// The pipelined link: rings to and from the engine thread.
#[derive(Debug)]
pub struct RingLink {
    to_engine: Producer<Arrival>,
    from_engine: Consumer<Output>,
    replies: Consumer<Reply>,
    engine_wake: Option<Wakeup>,
    io_sleeping: Arc<AtomicBool>,
    offered: u64,
    processed: Arc<AtomicU64>,
}

impl RingLink {
    /// The io thread's ends of the rings; `processed` counts what the engine
    /// thread has taken, `io_sleeping` tells it when to wake the io thread.
    pub(super) fn new(
        to_engine: Producer<Arrival>,
        from_engine: Consumer<Output>,
        replies: Consumer<Reply>,
        engine_wake: Option<Wakeup>,
        io_sleeping: Arc<AtomicBool>,
        processed: Arc<AtomicU64>,
    ) -> RingLink {
        RingLink {
            to_engine,
            from_engine,
            replies,
            engine_wake,
            io_sleeping,
            offered: 0,
            processed,
        }
    }
}

impl EngineLink for RingLink {
    #[inline]
    fn has_room(&mut self) -> bool {
        self.to_engine.has_room()
    }

    #[inline]
    fn offer(&mut self, arrival: Arrival) -> Result<(), Arrival> {
        self.to_engine.push(arrival)?;
        self.offered += 1;
        if let Some(w) = &self.engine_wake {
            w.wake();
        }
        Ok(())
    }

    fn drain(&mut self, sink: &mut dyn FnMut(&Output)) -> usize {
        let mut n = 0;
        while let Some(o) = self.from_engine.pop() {
            sink(&o);
            n += 1;
        }
        n
    }

    fn drain_replies(&mut self, sink: &mut dyn FnMut(&Reply)) -> usize {
        let mut n = 0;
        while let Some(r) = self.replies.pop() {
            sink(&r);
            n += 1;
        }
        n
    }

    fn run_timers(&mut self) -> bool {
        false
    }

    fn prepare_sleep(&mut self) -> bool {
        self.io_sleeping.store(true, Ordering::SeqCst);
        if self.from_engine.has_items() || self.replies.has_items() {
            self.io_sleeping.store(false, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn woke(&mut self) {
        self.io_sleeping.store(false, Ordering::Relaxed);
    }

    fn is_idle(&mut self) -> bool {
        self.processed.load(Ordering::Acquire) == self.offered
            && !self.from_engine.has_items()
            && !self.replies.has_items()
    }

    fn offered(&self) -> u64 {
        self.offered
    }

    fn caught_up(&self, offered: u64) -> bool {
        self.processed.load(Ordering::Acquire) >= offered
    }

    fn depths(&self) -> (u64, u64) {
        (self.to_engine.len() as u64, self.from_engine.len() as u64)
    }
}

/// Everything the engine thread needs.
pub(super) struct EngineThread {
    pub(super) sequencer: Sequencer,
    pub(super) from_io: Consumer<Arrival>,
    pub(super) to_io: Producer<Output>,
    pub(super) replies_to_io: Producer<Reply>,
    pub(super) io_waker: Arc<Waker>,
    pub(super) io_sleeping: Arc<AtomicBool>,
    pub(super) processed: Arc<AtomicU64>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) wait: WaitStrategy,
}

impl EngineThread {
    /// Runs until stopped with nothing left from the io thread; hands the
    /// sequencer back.
    pub(super) fn run(mut self) -> Sequencer {
        let wake = Wakeup::for_current_thread();
        let mut idle = Idle::new(self.wait);
        let mut processed = 0u64;
        let EngineThread {
            sequencer,
            from_io,
            to_io,
            replies_to_io,
            io_waker,
            io_sleeping,
            processed: processed_out,
            stop,
            ..
        } = &mut self;
        let mut push = |o: Output| push_output(to_io, io_waker, io_sleeping, o);
        loop {
            let mut did = false;
            let mut batch = 0;
            while let Some(arrival) = from_io.pop() {
                sequencer.process(&arrival, &mut push);
                if !arrival.input.is_sequenced() {
                    for r in sequencer.take_replies() {
                        push_output(replies_to_io, io_waker, io_sleeping, r);
                    }
                }
                processed += 1;
                batch += 1;
                did = true;
                if batch == 256 {
                    break;
                }
            }
            if did {
                processed_out.store(processed, Ordering::Release);
            }
            did |= sequencer.tick_if_due(&mut push);
            if did {
                if io_sleeping.load(Ordering::SeqCst) {
                    let _ = io_waker.wake();
                }
                idle.reset();
                continue;
            }
            sequencer.housekeeping();
            if stop.load(Ordering::Relaxed) && !from_io.has_items() {
                break;
            }
            if let IdleStep::Park(d) = idle.step() {
                wake.announce_sleep();
                if !from_io.has_items() {
                    let d = sequencer.until_deadline().map_or(d, |u| u.min(d));
                    Idle::park(d);
                }
                wake.announce_awake();
            }
        }
        self.sequencer
    }
}

fn push_output<T: Send>(
    to_io: &mut Producer<T>,
    io_waker: &Waker,
    io_sleeping: &AtomicBool,
    mut o: T,
) {
    loop {
        match to_io.push(o) {
            Ok(()) => return,
            Err(back) => {
                // The io thread drains every loop and never waits on us, so this
                // ends as soon as it runs.
                o = back;
                if io_sleeping.load(Ordering::SeqCst) {
                    let _ = io_waker.wake();
                }
                std::thread::yield_now();
            }
        }
    }
}
