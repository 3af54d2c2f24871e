//! Wiring the threads: the sequencer, the two topologies, pinning and start-up.
//!
//! ```text
//! pipelined:  clients ─TCP─> [io thread] ─in ring─> [engine thread] ─out ring─> [io thread] ─TCP─> clients
//! fused:      clients ─TCP─> [io thread: decode → engine → out log] ─TCP─> clients
//! ```
//!
//! Both run the same `IoLoop` and the same `Engine`; only the `EngineLink` differs.
//! The fused topology is the default below four cores: with fewer cores than
//! spinning stages, a hop costs a context switch instead of a cache-line transfer,
//! so one thread doing everything is both faster and kinder to the machine.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use log::{info, warn};
use mio::Waker;
use risk_check::RiskEngine;
use sim_exchange::Exchange;

use crate::clock::Clock;
use crate::config::Durability;
use crate::config::{GatewayConfig, Topology};
use crate::engine::{Engine, NoProbe, Probe};
use crate::input::{AdminCommand, Arrival, Input, Output, Reply, Stamps};
use crate::journal::{Entry, Fingerprint, JournalProgress, TailPolicy, Writer, WriterSettings};
use crate::metrics::{IoMetrics, Stage, StageCollector, StageRecorder, StageSide};
use crate::outlog::OutLog;
use crate::ring::{Consumer, Producer, ring};
use crate::server::{Control, EngineLink, IoLoop, LoginSlot, SessionLimits};
use crate::stats::EngineStats;
use crate::wait::{Idle, IdleStep, WaitStrategy, Wakeup};

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

    fn attach_journal(&mut self, to_journal: Producer<Entry>, wake: Option<Wakeup>) {
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
        self.engine.attach_market_tap(tap);
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
struct EngineThread {
    sequencer: Sequencer,
    from_io: Consumer<Arrival>,
    to_io: Producer<Output>,
    replies_to_io: Producer<Reply>,
    io_waker: Arc<Waker>,
    io_sleeping: Arc<AtomicBool>,
    processed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    wait: WaitStrategy,
}

impl EngineThread {
    fn run(mut self) -> Sequencer {
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

/// The topology and wait strategies actually used, after `auto` is resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Resolved {
    /// Fused or pipelined.
    pub topology: Topology,
    /// The io (or fused) thread's wait strategy.
    pub io_wait: WaitStrategy,
    /// The engine thread's wait strategy (pipelined).
    pub engine_wait: WaitStrategy,
    /// Core for the io thread.
    pub io_core: Option<usize>,
    /// Core for the engine thread.
    pub engine_core: Option<usize>,
}

/// Resolves `auto`: pipelined, pinned and spinning with four or more cores; fused
/// and spin-then-park below.
pub fn resolve(config: &GatewayConfig) -> Resolved {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let p = &config.pipeline;
    let topology = match p.topology {
        Topology::Auto if cores >= 4 => Topology::Pipelined,
        Topology::Auto => Topology::Fused,
        t => t,
    };
    let roomy = cores >= 4;
    let spin_or_park = if roomy { WaitStrategy::BusySpin } else { WaitStrategy::ADAPTIVE_PARK };
    let fused_default = WaitStrategy::SpinThenPark { spins: 64, yields: 0, park_us: 1_000 };
    let io_wait = p.io_wait.unwrap_or(if topology == Topology::Fused && !roomy {
        fused_default
    } else {
        spin_or_park
    });
    let engine_wait = p.engine_wait.unwrap_or(spin_or_park);
    let (io_core, engine_core) = match (p.io_core, p.engine_core) {
        (None, None) if roomy && p.topology == Topology::Auto => (Some(1), Some(2)),
        other => other,
    };
    Resolved { topology, io_wait, engine_wait, io_core, engine_core }
}

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// The addresses the gateway listens on.
    pub addrs: Vec<SocketAddr>,
    /// What was resolved for threads.
    pub resolved: Resolved,
    /// The io thread's counters.
    pub io_metrics: Arc<IoMetrics>,
    /// The engine's counters.
    pub engine_stats: Arc<EngineStats>,
    stage_sides: Option<Vec<StageSide>>,
    control: Control,
    io_thread: Option<JoinHandle<std::io::Result<IoFinal>>>,
    engine_thread: Option<JoinHandle<Sequencer>>,
    engine_stop: Arc<AtomicBool>,
    /// The gateway clock (the admin endpoint dates operator commands with it).
    pub clock: Clock,
    /// What was attached to the running gateway (the HTTP admin endpoint), when
    /// configured; dropped, so stopped, when the gateway stops.
    attached: Option<Box<dyn Attachment>>,
    fix_addr: Option<SocketAddr>,
    journal_thread: Option<JoinHandle<Result<(), crate::journal::JournalError>>>,
    journal_stop: Arc<AtomicBool>,
    snapshot_thread: Option<JoinHandle<()>>,
    snapshot_stop: Arc<AtomicBool>,
    /// The journal's written and durable positions (zeros without a journal).
    pub journal_progress: Arc<JournalProgress>,
    /// The market-data publisher, when `[marketdata] enabled`.
    md: Option<crate::md::MdServer>,
}

/// What the io thread hands back when it stops.
struct IoFinal {
    logins: Vec<LoginSlot>,
    sequencer: Option<Sequencer>,
}

/// The gateway's state after it stopped: for tests and tools that check that books,
/// accounts and streams balance.
#[derive(Debug)]
pub struct Stopped {
    /// The engine, with its risk engine and venue.
    pub sequencer: Sequencer,
    /// Every login with its out log.
    pub logins: Vec<LoginSlot>,
}

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The risk tables could not build an engine.
    #[error("risk engine: {0}")]
    Risk(#[from] risk_check::ConfigError),
    /// The venue could not be built.
    #[error("exchange: {0}")]
    Exchange(#[from] sim_exchange::ConfigError),
    /// Binding or polling failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// The journal could not be read or opened.
    #[error("journal: {0}")]
    Journal(#[from] crate::journal::JournalError),
}

fn pin(core: Option<usize>, what: &str) {
    if let Some(id) = core {
        if core_affinity::set_for_current(core_affinity::CoreId { id }) {
            info!("{what} thread pinned to core {id}");
        } else {
            warn!("{what} thread could not be pinned to core {id}");
        }
    }
}

/// Every buffer the gateway allocates at start-up, summed in one place (name,
/// bytes). Nothing on the order path allocates beyond these; the per-connection
/// receive buffers are allocated when a connection is accepted.
pub fn memory_budget(config: &GatewayConfig, engine: &Engine) -> Vec<(&'static str, u64)> {
    memory_budget_for(config, engine.exchange().memory_bytes() as u64)
}

/// [`memory_budget`] before anything is allocated, with the venue's share given
/// (`config::memory::venue_bytes` estimates it): what `gateway --check` compares
/// with the machine's memory.
pub fn memory_budget_for(config: &GatewayConfig, venue_bytes: u64) -> Vec<(&'static str, u64)> {
    let logins = config.logins.len() as u64;
    let out = &config.outbound;
    let p = &config.pipeline;
    let orders = u64::from(config.risk.capacity.max_orders_per_day);
    let out_logs =
        logins * (out.log_bytes_per_login as u64 + out.log_messages_per_login as u64 * 8);
    let risk_orders = orders * std::mem::size_of::<risk_check::OrderRecord>() as u64;
    let risk_index = (orders * 4).next_power_of_two() * 4;
    let risk_fills = u64::from(config.risk.capacity.max_fills_per_day)
        * std::mem::size_of::<risk_check::FillRecord>() as u64;
    let requests = orders * 32;
    let mut budget = vec![
        ("out logs (stream bytes + index, per login)", out_logs),
        ("risk order table (idempotency, per order of the day)", risk_orders),
        ("risk order index", risk_index),
        ("risk fills table (per fill of the day)", risk_fills),
        ("engine requests in flight (per order of the day)", requests),
        ("venue books, order pool, id index, inbound queue", venue_bytes),
        (
            "receive buffers (per connection, at accept)",
            config.server.max_sessions as u64 * config.server.rx_buffer_bytes as u64,
        ),
        (
            "admin command queue",
            p.admin_queue_capacity as u64 * std::mem::size_of::<AdminCommand>() as u64,
        ),
        (
            "query answer buffers (protocol version 3)",
            // Each holds one answer frame and its bookkeeping.
            config.server.max_queries_in_flight as u64
                * (protocol::codec::MAX_FRAME_LEN as u64 + 64),
        ),
        (
            "failed-login addresses (unknown usernames)",
            // A hash map entry: the address, its window, and the table's overhead.
            config.server.max_failing_addresses as u64
                * (std::mem::size_of::<(std::net::IpAddr, [u64; 3])>() as u64 + 8),
        ),
    ];
    if config.marketdata.enabled {
        budget.extend(crate::md::memory_rows(config));
    }
    if let Some(fix) = &config.fix {
        budget.push((
            "FIX sessions and connections (buffers, order caches, resend logs, queues)",
            fix.memory_bytes() + crate::fix_link::FixLink::memory_bytes(fix),
        ));
    }
    match resolve(config).topology {
        Topology::Pipelined => {
            budget.push((
                "io -> engine ring",
                p.in_ring_capacity.next_power_of_two() as u64
                    * std::mem::size_of::<Arrival>() as u64,
            ));
            budget.push((
                "engine -> io ring",
                p.out_ring_capacity.next_power_of_two() as u64
                    * std::mem::size_of::<Output>() as u64,
            ));
        }
        _ => budget.push((
            "fused outbox (engine outputs before the out logs)",
            p.fused_outbox_capacity as u64 * std::mem::size_of::<Output>() as u64,
        )),
    }
    if config.journal.durability != Durability::None {
        let j = &config.journal;
        budget.push((
            "engine -> journal ring",
            j.ring_capacity.next_power_of_two() as u64 * std::mem::size_of::<Entry>() as u64,
        ));
        budget.push(("journal write batch", 4 << 20));
        if config.journal.durability == Durability::Sync {
            budget.push((
                "answers waiting for the journal (sync)",
                p.unreleased_capacity as u64 * std::mem::size_of::<(u32, u64, u64)>() as u64,
            ));
        }
        if config.journal.snapshot_every_inputs > 0 {
            // The snapshotter's replica: another engine and another set of out logs.
            let replica = out_logs + risk_orders + risk_index + risk_fills + requests + venue_bytes;
            budget.push(("snapshot replica (engine and out logs, once more)", replica));
        }
    }
    budget
}

/// Builds the engine from a configuration.
pub fn build_engine(config: &GatewayConfig) -> Result<Engine, StartError> {
    let risk = RiskEngine::new(config.risk.clone())?;
    let exchange = Exchange::new(config.exchange.clone())?;
    let policies = config.login_policies();
    let capacity = config.risk.capacity.max_orders_per_day as usize;
    Ok(Engine::new(risk, exchange, policies, capacity))
}

fn session_limits(config: &GatewayConfig, session_id: u64) -> SessionLimits {
    let s = &config.server;
    SessionLimits {
        max_sessions: s.max_sessions,
        max_pending_logins: s.max_pending_logins,
        max_pending_logins_per_address: s.max_pending_logins_per_address,
        heartbeat_ns: s.heartbeat_ms * 1_000_000,
        dead_peer_ns: s.dead_peer_ms * 1_000_000,
        login_timeout_ns: s.login_timeout_ms * 1_000_000,
        backlog_limit_bytes: config.outbound.backlog_limit_bytes,
        rx_buffer_bytes: s.rx_buffer_bytes,
        socket_send_buffer_bytes: s.socket_send_buffer_bytes,
        max_login_failures: s.max_login_failures,
        login_failure_window_ns: s.login_failure_window_ms * 1_000_000,
        login_lockout_ns: s.login_lockout_ms * 1_000_000,
        session_id,
        max_failing_addresses: s.max_failing_addresses,
        unreleased_capacity: config.pipeline.unreleased_capacity,
        max_queries_per_second: s.max_queries_per_second,
        max_queries_in_flight: s.max_queries_in_flight,
    }
}

/// The engine and every login's stream rebuilt from the journal in
/// `config.journal.dir` (empty ones when there is no journal): the same
/// deterministic engine replays every input at its recorded time.
///
/// When the directory holds a snapshot (see [`crate::snapshot`]), the newest one
/// that loads is the starting point and only the journal after it is replayed;
/// a damaged snapshot is skipped for an older one, and a snapshot ahead of the
/// journal (whose tail was cut) for a replay from the journal's start.
///
/// Refused before anything is replayed or cut: a journal or snapshot written under
/// a configuration that decides differently ([`crate::journal::fingerprint`]).
/// Refused after reading: a journal that ends before its acknowledged high-water
/// mark ([`crate::journal::watermark`]).
pub fn recover(
    config: &GatewayConfig,
    policy: TailPolicy,
) -> Result<(Engine, Vec<OutLog>, crate::journal::Recovered), StartError> {
    recover_until(config, policy, u64::MAX, true).map(|r| (r.engine, r.logs, r.journal))
}

/// [`recover`] from the journal's start, ignoring snapshots (to check one against
/// the other).
pub fn recover_from_start(
    config: &GatewayConfig,
    policy: TailPolicy,
) -> Result<(Engine, Vec<OutLog>, crate::journal::Recovered), StartError> {
    recover_until(config, policy, u64::MAX, false).map(|r| (r.engine, r.logs, r.journal))
}

/// [`recover`] with the inputs up to `until` applied and none after: the state as
/// it stood after input `until` (an operator's view of the past). Returns the last
/// input applied, which is below `until` when the journal ends before it.
pub fn recover_to(
    config: &GatewayConfig,
    policy: TailPolicy,
    until: u64,
) -> Result<(Engine, crate::journal::Recovered, u64), StartError> {
    recover_until(config, policy, until, true).map(|r| (r.engine, r.journal, r.applied))
}

/// What [`recover_until`] rebuilt.
pub(crate) struct Rebuilt {
    pub engine: Engine,
    pub logs: Vec<OutLog>,
    /// What the journal read found (its last input, even past `until`).
    pub journal: crate::journal::Recovered,
    /// The last input applied to `engine`.
    pub applied: u64,
    /// Its engine time.
    pub applied_now_ns: u64,
}

/// The snapshotter's replica at input `target` ([`crate::snapshot::RebuildUntil`]).
fn replica_until(
    config: &GatewayConfig,
    target: u64,
) -> Result<crate::snapshot::Replica, Box<dyn std::error::Error>> {
    let rebuilt = recover_until(config, TailPolicy::Follow, target, true)?;
    Ok(crate::snapshot::Replica {
        engine: rebuilt.engine,
        logs: rebuilt.logs,
        applied: rebuilt.applied,
        now_ns: rebuilt.applied_now_ns,
        session_id: rebuilt.journal.session_id.unwrap_or(0),
    })
}

/// [`recover`], applying inputs up to `until` only, from a snapshot when
/// `use_snapshots` and one fits.
pub(crate) fn recover_until(
    config: &GatewayConfig,
    policy: TailPolicy,
    until: u64,
    use_snapshots: bool,
) -> Result<Rebuilt, StartError> {
    let started = std::time::Instant::now();
    let dir = &config.journal.dir;
    let fingerprint = Fingerprint::of(config);
    crate::journal::check_config(dir, &fingerprint)?;
    let paths = if use_snapshots { crate::snapshot::snapshots(dir) } else { Vec::new() };
    for found in crate::snapshot::loadable(paths, config) {
        let (mut engine, mut logs, meta) = found.map_err(|e| match e {
            crate::snapshot::SnapshotError::ConfigChanged { path, sections } => {
                crate::journal::JournalError::ConfigChanged { path, sections }
            }
            other => {
                crate::journal::JournalError::Layout { path: dir.clone(), why: other.to_string() }
            }
        })?;
        if meta.input_seq > until {
            continue;
        }
        let (mut applied, mut applied_now_ns) = (meta.input_seq, meta.now_ns);
        let mut fix_facts = Vec::new();
        let mut journal =
            crate::journal::read_journal_from(dir, meta.input_seq + 1, policy, |e| {
                if e.input_seq <= until {
                    if let Input::FixFact { login, fact } = e.input {
                        fix_facts.push((login, fact));
                    }
                    let append = &mut |o: Output| logs[o.login as usize].append_output(&o);
                    engine.handle(
                        e.input_seq,
                        e.now_ns,
                        e.arrival_ns,
                        &e.input,
                        append,
                        &mut NoProbe,
                    );
                    (applied, applied_now_ns) = (e.input_seq, e.now_ns);
                }
            })?;
        if journal.last_input_seq < meta.input_seq {
            warn!(
                "the snapshot after input {} is ahead of the journal, which ends at input {}; \
                 trying an older snapshot, else the journal from its start",
                meta.input_seq, journal.last_input_seq
            );
            continue;
        }
        journal.snapshot = Some(meta.input_seq);
        journal.fix_facts = fix_facts;
        info!(
            "recovered from the snapshot after input {} and {} later inputs in {:.3} s",
            meta.input_seq,
            applied - meta.input_seq,
            started.elapsed().as_secs_f64()
        );
        return Ok(Rebuilt { engine, logs, journal, applied, applied_now_ns });
    }
    let mut engine = build_engine(config)?;
    let mut logs: Vec<OutLog> = config
        .logins
        .iter()
        .map(|_| {
            OutLog::new(config.outbound.log_bytes_per_login, config.outbound.log_messages_per_login)
        })
        .collect();
    let (mut applied, mut applied_now_ns) = (0, 0);
    let mut fix_facts = Vec::new();
    let mut journal = crate::journal::read_journal(dir, policy, |e| {
        if e.input_seq <= until {
            if let Input::FixFact { login, fact } = e.input {
                fix_facts.push((login, fact));
            }
            let append = &mut |o: Output| logs[o.login as usize].append_output(&o);
            engine.handle(e.input_seq, e.now_ns, e.arrival_ns, &e.input, append, &mut NoProbe);
            (applied, applied_now_ns) = (e.input_seq, e.now_ns);
        }
    })?;
    journal.fix_facts = fix_facts;
    if journal.records > 0 {
        info!(
            "recovered {} inputs from {} journal segment(s) in {:.3} s",
            journal.records,
            journal.segments,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Rebuilt { engine, logs, journal, applied, applied_now_ns })
}

/// What the io thread needs to serve the FIX door.
struct FixDoorParts {
    settings: crate::config::fix_door::FixDoorSettings,
    listener: std::net::TcpListener,
    link: Option<Arc<crate::fix_link::FixLink>>,
    sessions: Vec<fix::Session>,
}

fn attach_fix_door<L: EngineLink>(
    io: &mut IoLoop<L>,
    parts: Option<FixDoorParts>,
) -> std::io::Result<()> {
    let Some(p) = parts else { return Ok(()) };
    io.attach_fix_door(&p.settings, p.listener, p.link, p.sessions)
}

/// The FIX door's sessions as they were: each rebuilt from its login's stream and
/// the facts it journaled (docs/fix.md, section 8), or new when it has none. A
/// session whose facts do not fit its stream (a snapshot cut them, or the stream
/// no longer holds its start) starts new, at the stream's end, with a warning.
fn rebuild_fix_sessions(
    settings: &crate::config::fix_door::FixDoorSettings,
    facts: &[(u32, fix::SessionFact)],
    logs: &[OutLog],
) -> Vec<fix::Session> {
    let mut sessions = Vec::with_capacity(settings.sessions.len());
    for (config, login) in settings.sessions.iter().zip(&settings.logins) {
        let mine: Vec<fix::SessionFact> = match login {
            Some(l) => facts.iter().filter(|(f, _)| *f as usize == *l).map(|&(_, f)| f).collect(),
            None => Vec::new(),
        };
        let (Some(l), false) = (login, mine.is_empty()) else {
            sessions.push(fix::Session::new(config.clone()));
            continue;
        };
        let stream = logs[*l].messages();
        match fix::Session::rebuild(config.clone(), &mine, &stream) {
            Ok(session) => {
                info!(
                    "FIX session {}: rebuilt from {} facts and {} stream messages (next MsgSeqNum {})",
                    config.login.comp_id,
                    mine.len(),
                    stream.len(),
                    session.next_out_seq()
                );
                sessions.push(session);
            }
            Err(e) => {
                warn!(
                    "FIX session {}: cannot be rebuilt ({e}); it starts again at 1, following \
                     its login's stream from its end",
                    config.login.comp_id
                );
                sessions.push(fix::Session::new(config.clone()));
            }
        }
    }
    sessions
}

/// Starts the gateway's threads (after recovering from the journal when durability
/// is on); returns once it is listening. The admin endpoint is not started here:
/// [`crate::start`] attaches it to the running gateway ([`Running::attach`]).
pub fn start_threads(config: &GatewayConfig) -> Result<Running, StartError> {
    let clock = config.clock_start_ns.map_or_else(Clock::new, Clock::starting_at);
    let resolved = resolve(config);
    let durability = config.journal.durability;
    let (engine, mut logs, recovered) = if durability == Durability::None {
        let engine = build_engine(config)?;
        let logs = config
            .logins
            .iter()
            .map(|_| {
                OutLog::new(
                    config.outbound.log_bytes_per_login,
                    config.outbound.log_messages_per_login,
                )
            })
            .collect();
        (engine, logs, crate::journal::Recovered::default())
    } else {
        let policy = if config.journal.truncate_damaged_tail {
            TailPolicy::CutAnyDamage
        } else {
            TailPolicy::CutTornOnly
        };
        recover(config, policy)?
    };
    let budget = memory_budget(config, &engine);
    let total: u64 = budget.iter().map(|(_, b)| b).sum();
    info!("memory committed at start-up: {:.1} MiB", total as f64 / (1 << 20) as f64);
    for (what, bytes) in &budget {
        info!("  {:>9.1} MiB  {what}", *bytes as f64 / (1 << 20) as f64);
    }
    let session_id = recovered.session_id.unwrap_or(clock.now_ns() / 1_000_000_000);
    let limits = session_limits(config, session_id);
    let mut control = Control::new(config.pipeline.admin_queue_capacity);
    let io_metrics = Arc::new(IoMetrics::new(config.logins.len()));
    let interval_ns = 1_000_000_000;
    let (io_recorder, io_side) = StageRecorder::new(config.admin.stage_metrics, interval_ns);
    let (engine_recorder, engine_side) =
        StageRecorder::new(config.admin.stage_metrics, interval_ns);
    let mut sequencer = Sequencer::with_recorder(engine, clock, engine_recorder);
    sequencer.sample_stages_every(config.admin.stage_sample_every);
    sequencer
        .reserve_replies(config.server.max_queries_in_flight + crate::server::MAX_DESK_QUERIES);
    sequencer.resume_after(recovered.last_input_seq, recovered.last_now_ns);
    let engine_stats = sequencer.engine().shared_stats();
    let engine_stop = Arc::new(AtomicBool::new(false));

    // The journal thread, fed by whichever thread owns the sequencer.
    let io_waker_slot: Arc<std::sync::OnceLock<Arc<Waker>>> = Arc::default();
    let fix_link = config
        .fix
        .as_ref()
        // The door runs on the io thread: nobody needs waking (an empty slot).
        .and_then(|f| {
            crate::fix_link::FixLink::new(f, Arc::default(), durability != Durability::None)
        })
        .map(Arc::new);
    control.fix = fix_link.clone();
    let journal_progress = Arc::new(JournalProgress::default());
    let journal_stop = Arc::new(AtomicBool::new(false));
    let journal_thread = if durability == Durability::None {
        None
    } else {
        let settings = WriterSettings {
            dir: config.journal.dir.clone(),
            segment_bytes: config.journal.segment_bytes,
            preallocate: config.journal.preallocate,
            sync: true,
            session_id,
            first_input_seq: recovered.last_input_seq + 1,
            fingerprint: Fingerprint::of(config),
        };
        let writer = Writer::open(settings, Arc::clone(&journal_progress))?;
        let (to_journal, from_engine) = ring::<Entry>(config.journal.ring_capacity);
        let (wake_tx, wake_rx) = std::sync::mpsc::channel::<Wakeup>();
        let stop = Arc::clone(&journal_stop);
        let waker_slot = Arc::clone(&io_waker_slot);
        let shutdown = Arc::clone(&control.shutdown);
        let wait = resolved.engine_wait;
        let handle = std::thread::Builder::new().name("bw-journal".into()).spawn(move || {
            let wake = Wakeup::for_current_thread();
            let _ = wake_tx.send(wake.clone());
            let wake_io = || {
                if let Some(w) = waker_slot.get() {
                    let _ = w.wake();
                }
            };
            let result = crate::journal::run_writer(writer, from_engine, wake_io, stop, wait, wake);
            if let Err(e) = &result {
                log::error!("journal writer stopped: {e}");
                shutdown.store(true, Ordering::SeqCst);
            }
            result
        })?;
        let wake = wake_rx.recv().ok();
        sequencer.attach_journal(to_journal, wake);
        Some(handle)
    };
    let snapshot_stop = Arc::new(AtomicBool::new(false));
    let every = config.journal.snapshot_every_inputs;
    let snapshot_thread = if durability != Durability::None && every > 0 {
        let (config, progress) = (config.clone(), Arc::clone(&journal_progress));
        let stop = Arc::clone(&snapshot_stop);
        Some(std::thread::Builder::new().name("bw-snapshot".into()).spawn(move || {
            crate::snapshot::run_snapshotter(config, every, progress, stop, replica_until)
        })?)
    } else {
        None
    };
    let md = start_market_data(config, &mut sequencer, clock, &io_metrics)?;
    // The venue's clock-driven phases start from now (journaled like any input).
    let now = clock.now_ns();
    let tick = Arrival { input: Input::Tick, stamps: Stamps { read_ns: now, decoded_ns: now } };
    sequencer.process(&tick, &mut |o| logs[o.login as usize].append_output(&o));
    let fix_sessions =
        config.fix.as_ref().map(|f| rebuild_fix_sessions(f, &recovered.fix_facts, &logs));
    let logins: Vec<LoginSlot> = config
        .logins
        .iter()
        .zip(logs)
        .zip(sequencer.engine().stream_versions())
        .map(|((l, log), version)| {
            let mut slot = LoginSlot::new(l.username, l.token, log);
            slot.set_stream_version(version);
            slot.set_accounts(l.accounts.clone());
            slot.set_market_data_only(l.market_data_only);
            slot
        })
        .collect();
    let durable = (durability == Durability::Sync).then(|| Arc::clone(&journal_progress));
    if durability == Durability::Sync {
        // Everything built so far came from the journal or was just journaled:
        // wait for the start-up tick to be on disk so the streams start released.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while journal_progress.durable.load(Ordering::Acquire) < sequencer.last_input_seq() {
            if std::time::Instant::now() > deadline
                || journal_progress.failed.load(Ordering::Acquire)
            {
                return Err(StartError::Io(std::io::Error::other(
                    "the journal did not make the start-up input durable",
                )));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let (ready_tx, ready_rx) =
        std::sync::mpsc::channel::<Result<Vec<SocketAddr>, std::io::Error>>();
    let listen = config.server.listen.clone();
    // The FIX door's listener, bound here so its address is known; the io loop
    // serves it (`IoLoop::attach_fix_door`).
    let (fix_door, fix_addr) = match &config.fix {
        Some(settings) => {
            let listener = std::net::TcpListener::bind(settings.listen).map_err(|e| {
                let why = format!("FIX door fix.listen on {}: {e}", settings.listen);
                StartError::Io(std::io::Error::new(e.kind(), why))
            })?;
            let addr = listener.local_addr()?;
            let sessions = fix_sessions.unwrap_or_default();
            info!("FIX door on {addr}: {} sessions", settings.sessions.len());
            (
                Some(FixDoorParts {
                    settings: settings.clone(),
                    listener,
                    link: fix_link,
                    sessions,
                }),
                Some(addr),
            )
        }
        None => (None, None),
    };

    let (io_thread, engine_thread) = match resolved.topology {
        Topology::Pipelined => {
            let (to_engine, from_io) = ring::<Arrival>(config.pipeline.in_ring_capacity);
            let (to_io, from_engine) = ring::<Output>(config.pipeline.out_ring_capacity);
            // Room for every query the io thread lets into the engine at once, and
            // the admin endpoint's.
            let (replies_to_io, replies) = ring::<Reply>(
                config.server.max_queries_in_flight + crate::server::MAX_DESK_QUERIES,
            );
            let io_sleeping = Arc::new(AtomicBool::new(false));
            let processed = Arc::new(AtomicU64::new(0));
            let (waker_tx, waker_rx) = std::sync::mpsc::channel::<Arc<Waker>>();
            let (wake_tx, wake_rx) = std::sync::mpsc::channel::<Option<Wakeup>>();
            let link_sleeping = Arc::clone(&io_sleeping);
            let link_processed = Arc::clone(&processed);
            let io_control = control.clone();
            let io_metrics2 = Arc::clone(&io_metrics);
            let io_waker_slot2 = Arc::clone(&io_waker_slot);
            let io_thread = std::thread::Builder::new().name("bw-io".into()).spawn(move || {
                pin(resolved.io_core, "io");
                let engine_wake = wake_rx.recv().ok().flatten();
                let link = RingLink {
                    to_engine,
                    from_engine,
                    replies,
                    engine_wake,
                    io_sleeping: link_sleeping,
                    offered: 0,
                    processed: link_processed,
                };
                let built = IoLoop::new(
                    &listen,
                    logins,
                    limits,
                    link,
                    clock,
                    io_control,
                    resolved.io_wait,
                    io_metrics2,
                    io_recorder,
                    durable,
                );
                let (mut io, waker) = match built.and_then(|(mut io, waker)| {
                    attach_fix_door(&mut io, fix_door)?;
                    Ok((io, waker))
                }) {
                    Ok(x) => x,
                    Err(e) => {
                        let message = e.to_string();
                        let _ = ready_tx.send(Err(e));
                        return Err(std::io::Error::other(message));
                    }
                };
                let _ = io_waker_slot2.set(Arc::clone(&waker));
                let _ = waker_tx.send(waker);
                let _ = ready_tx.send(Ok(io.local_addrs().to_vec()));
                io.run()?;
                let (_link, logins) = io.into_parts();
                Ok(IoFinal { logins, sequencer: None })
            })?;
            let stop = Arc::clone(&engine_stop);
            let engine_thread =
                std::thread::Builder::new().name("bw-engine".into()).spawn(move || {
                    pin(resolved.engine_core, "engine");
                    let parks = resolved.engine_wait.parks();
                    let _ = wake_tx.send(parks.then(Wakeup::for_current_thread));
                    let Ok(io_waker) = waker_rx.recv() else { return sequencer };
                    EngineThread {
                        sequencer,
                        from_io,
                        to_io,
                        replies_to_io,
                        io_waker,
                        io_sleeping,
                        processed,
                        stop,
                        wait: resolved.engine_wait,
                    }
                    .run()
                })?;
            (io_thread, Some(engine_thread))
        }
        _ => {
            let io_control = control.clone();
            let io_metrics2 = Arc::clone(&io_metrics);
            let io_waker_slot2 = Arc::clone(&io_waker_slot);
            let outbox_capacity = config.pipeline.fused_outbox_capacity;
            let io_thread = std::thread::Builder::new().name("bw-io".into()).spawn(move || {
                pin(resolved.io_core, "fused");
                let link = FusedLink::new(sequencer, outbox_capacity);
                let built = IoLoop::new(
                    &listen,
                    logins,
                    limits,
                    link,
                    clock,
                    io_control,
                    resolved.io_wait,
                    io_metrics2,
                    io_recorder,
                    durable,
                );
                let (mut io, waker) = match built.and_then(|(mut io, waker)| {
                    attach_fix_door(&mut io, fix_door)?;
                    Ok((io, waker))
                }) {
                    Ok(x) => x,
                    Err(e) => {
                        let message = e.to_string();
                        let _ = ready_tx.send(Err(e));
                        return Err(std::io::Error::other(message));
                    }
                };
                let _ = io_waker_slot2.set(waker);
                let _ = ready_tx.send(Ok(io.local_addrs().to_vec()));
                io.run()?;
                let (link, logins) = io.into_parts();
                Ok(IoFinal { logins, sequencer: Some(link.sequencer) })
            })?;
            (io_thread, None)
        }
    };
    let addrs = ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("io thread ended before listening"))??;
    info!(
        "gateway listening on {addrs:?}: {:?} topology, io wait {:?}, engine wait {:?}",
        resolved.topology, resolved.io_wait, resolved.engine_wait
    );
    let running = Running {
        fix_addr,
        addrs,
        resolved,
        io_metrics,
        engine_stats,
        stage_sides: Some(vec![io_side, engine_side]),
        control,
        io_thread: Some(io_thread),
        engine_thread,
        engine_stop,
        clock,
        attached: None,
        journal_thread,
        snapshot_thread,
        snapshot_stop,
        journal_stop,
        journal_progress,
        md,
    };
    Ok(running)
}

/// Builds the market-data publisher seeded from the venue as it stands (after
/// any recovery), feeds it from the engine from now on, and starts its thread.
/// Every start is a new feed session (docs/marketdata.md, section 5).
fn start_market_data(
    config: &GatewayConfig,
    sequencer: &mut Sequencer,
    clock: Clock,
    io_metrics: &Arc<IoMetrics>,
) -> Result<Option<crate::md::MdServer>, StartError> {
    let md = &config.marketdata;
    if !md.enabled {
        return Ok(None);
    }
    let securities: Vec<protocol::SecurityId> =
        config.exchange.instruments.iter().map(|i| i.security).collect();
    let logins = config.logins.iter().map(|l| (l.username, l.token)).collect();
    let metrics = Arc::clone(&io_metrics.md);
    let session_id = clock.now_ns();
    let publisher = crate::md::Publisher::new(
        crate::md::limits(md),
        session_id,
        logins,
        &securities,
        md.resync_levels_per_side,
        Arc::clone(&metrics),
    );
    let max_levels = config.exchange.max_orders.min(1 << 20);
    let publisher =
        crate::md::seeded(publisher, &securities, sequencer.engine().exchange(), max_levels);
    let (to_md, from_engine) = ring::<crate::md_feed::MdFeed>(md.ring_capacity);
    let server =
        crate::md::MdServer::start(md, publisher, from_engine, clock, Arc::clone(&metrics))?;
    let tap = crate::md_feed::MarketTap::new(
        to_md,
        server.wakeup(),
        &securities,
        md.resync_levels_per_side,
        metrics,
    );
    sequencer.attach_market_tap(tap);
    Ok(Some(server))
}

/// Something serving a running gateway from outside the pipeline (the admin
/// endpoint): it holds what it needs from [`Running`] and is stopped by drop.
/// Defined here so the pipeline knows nothing of what attaches to it.
pub trait Attachment: std::fmt::Debug + Send {
    /// The address it serves on.
    fn local_addr(&self) -> SocketAddr;
}

/// Sends operator commands into a running gateway; they are sequenced (and
/// journaled) with client input. Cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct AdminHandle {
    queue: Arc<crossbeam_queue::ArrayQueue<AdminCommand>>,
}

/// The operator queue is full (`pipeline.admin_queue_capacity` commands not yet
/// taken by the io thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operator command queue is full; try again")]
pub struct AdminQueueFull;

impl AdminHandle {
    /// Queues a command; the io thread hands it to the engine within a loop turn.
    pub fn submit(&self, cmd: AdminCommand) -> Result<(), AdminQueueFull> {
        self.queue.push(cmd).map_err(|_| AdminQueueFull)
    }
}

impl Running {
    /// The stage-latency collector (once; `None` after the first call). Whoever
    /// takes it should call `collect` about once a second.
    pub fn take_stage_collector(&mut self) -> Option<StageCollector> {
        self.stage_sides.take().map(StageCollector::new)
    }

    /// A handle for operator commands (kill switches, halts, limits, fault injection).
    pub fn admin(&self) -> AdminHandle {
        AdminHandle { queue: Arc::clone(&self.control.admin) }
    }

    /// The flag that stops the gateway when set (for signal handlers).
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.control.shutdown)
    }

    /// The risk desk's query exchange with the engine (the admin endpoint's views).
    pub fn desk(&self) -> crate::server::DeskQueries {
        self.control.desk.clone()
    }

    /// The first listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The FIX door's bound address, when `[fix]` is configured.
    pub fn fix_addr(&self) -> Option<SocketAddr> {
        self.fix_addr
    }

    /// The market-data publisher's bound address, when `[marketdata]` is enabled.
    pub fn md_addr(&self) -> Option<SocketAddr> {
        self.md.as_ref().map(|m| m.addr())
    }

    /// The admin endpoint's bound address, when it is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.attached.as_ref().map(|a| a.local_addr())
    }

    /// Attaches an endpoint that serves this gateway until it stops.
    pub fn attach(&mut self, attachment: Box<dyn Attachment>) {
        self.attached = Some(attachment);
    }

    /// Stops accepting, ends every session, drains, and waits for the threads.
    /// Returns the final state.
    pub fn shutdown(mut self) -> std::io::Result<Stopped> {
        self.control.shutdown.store(true, Ordering::SeqCst);
        self.join()
    }

    /// Waits until the gateway stops (after something set the shutdown flag).
    pub fn join(&mut self) -> std::io::Result<Stopped> {
        let io_final = match self.io_thread.take() {
            Some(t) => {
                t.join().unwrap_or_else(|_| Err(std::io::Error::other("io thread panicked")))
            }
            None => Err(std::io::Error::other("already stopped")),
        };
        self.engine_stop.store(true, Ordering::SeqCst);
        let engine_sequencer = match self.engine_thread.take() {
            Some(t) => {
                t.thread().unpark();
                Some(t.join().map_err(|_| std::io::Error::other("engine thread panicked"))?)
            }
            None => None,
        };
        // The engine has stopped: nothing more reaches the publisher.
        if let Some(mut md) = self.md.take() {
            md.stop();
        }
        // The admin endpoint answered through the drain (ready: 503); stop it now.
        drop(self.attached.take());
        self.snapshot_stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.snapshot_thread.take()
            && t.join().is_err()
        {
            warn!("the snapshot thread panicked");
        }
        self.journal_stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.journal_thread.take() {
            t.thread().unpark();
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(std::io::Error::other(format!("journal: {e}"))),
                Err(_) => return Err(std::io::Error::other("journal thread panicked")),
            }
        }
        let io_final = io_final?;
        let sequencer = io_final
            .sequencer
            .or(engine_sequencer)
            .ok_or_else(|| std::io::Error::other("no engine state came back"))?;
        Ok(Stopped { sequencer, logins: io_final.logins })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.io_thread.is_some() {
            self.control.shutdown.store(true, Ordering::SeqCst);
            let _ = self.join();
        }
    }
}
