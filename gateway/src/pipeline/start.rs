//! Starting the gateway: [`start_threads`] and the steps it takes, in order.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use log::info;
use mio::Waker;

use super::StartError;
use super::link::{EngineThread, FusedLink, RingLink};
use super::plan::{Resolved, memory_budget, pin, resolve, session_limits};
use super::recovery::{rebuild_fix_sessions, replica_until, starting_state};
use super::running::{IoFinal, Running};
use super::sequencer::Sequencer;
use crate::clock::Clock;
use crate::config::{Durability, GatewayConfig, Topology};
use crate::engine::Engine;
use crate::input::{Arrival, Input, Output, Reply, Stamps};
use crate::journal::{
    Entry, Fingerprint, JournalError, JournalProgress, Recovered, Writer, WriterSettings,
};
use crate::metrics::{IoMetrics, StageRecorder};
use crate::outlog::OutLog;
use crate::ring::ring;
use crate::server::{Control, EngineLink, IoLoop, LoginSlot, SessionLimits};
use crate::wait::{WaitStrategy, Wakeup};

/// The io thread's waker, set once the io loop is built: the journal thread wakes
/// the io thread with it when answers become durable.
type WakerSlot = Arc<OnceLock<Arc<Waker>>>;

/// Where the io thread says what it listens on, or why it could not.
type Ready = Sender<Result<Vec<SocketAddr>, std::io::Error>>;

/// Starts the gateway's threads (after recovering from the journal when durability
/// is on); returns once it is listening. The admin endpoint is not started here:
/// [`crate::start`] attaches it to the running gateway ([`Running::attach`]).
pub fn start_threads(config: &GatewayConfig) -> Result<Running, StartError> {
    // What the gateway starts from, and the sequencer over it.
    let clock = config.clock_start_ns.map_or_else(Clock::new, Clock::starting_at);
    let resolved = resolve(config);
    let durability = config.journal.durability;
    let (engine, mut logs, recovered) = starting_state(config)?;
    log_memory_budget(config, &engine);
    let session_id = recovered.session_id.unwrap_or(clock.now_ns() / 1_000_000_000);
    let mut control = Control::new(config.pipeline.admin_queue_capacity);
    let io_metrics = Arc::new(IoMetrics::new(config.logins.len()));
    let interval_ns = 1_000_000_000;
    let (io_recorder, io_side) = StageRecorder::new(config.admin.stage_metrics, interval_ns);
    let (engine_recorder, engine_side) =
        StageRecorder::new(config.admin.stage_metrics, interval_ns);
    let mut sequencer = build_sequencer(config, engine, clock, engine_recorder, &recovered);
    let engine_stats = sequencer.engine().shared_stats();
    let engine_stop = Arc::new(AtomicBool::new(false));
    let fix_link = fix_link(config);
    control.fix = fix_link.clone();

    // The threads that the sequencer feeds, then the start-up input.
    let io_waker_slot = WakerSlot::default();
    let journal = start_journal(
        config,
        session_id,
        resolved.engine_wait,
        &mut sequencer,
        &io_waker_slot,
        &control.shutdown,
    )?;
    let (snapshot_stop, snapshot_thread) = start_snapshotter(config, &journal.progress)?;
    let md = start_market_data(config, &mut sequencer, clock, &io_metrics)?;
    tick_at_start(&mut sequencer, clock, &mut logs);

    // The io loop's sessions and doors, then the io (and engine) threads.
    let fix_sessions =
        config.fix.as_ref().map(|f| rebuild_fix_sessions(f, &recovered.fix_facts, &logs));
    let logins = login_slots(config, logs, sequencer.engine());
    let durable = (durability == Durability::Sync).then(|| Arc::clone(&journal.progress));
    if durability == Durability::Sync {
        await_durable_start(&journal.progress, sequencer.last_input_seq())?;
    }
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let (fix_door, fix_addr) = bind_fix_door(config, fix_link, fix_sessions)?;
    let io = IoParts {
        listen: config.server.listen.clone(),
        logins,
        limits: session_limits(config, session_id),
        clock,
        control: control.clone(),
        wait: resolved.io_wait,
        metrics: Arc::clone(&io_metrics),
        recorder: io_recorder,
        durable,
        fix_door,
        waker_slot: Arc::clone(&io_waker_slot),
        ready: ready_tx,
    };
    let (io_thread, engine_thread) = match resolved.topology {
        Topology::Pipelined => {
            let (io, engine) =
                spawn_pipelined(config, resolved, io, sequencer, Arc::clone(&engine_stop))?;
            (io, Some(engine))
        }
        _ => (spawn_fused(config, resolved, io, sequencer)?, None),
    };
    let addrs = ready_rx
        .recv()
        .map_err(|_| std::io::Error::other("io thread ended before listening"))??;
    info!(
        "gateway listening on {addrs:?}: {:?} topology, io wait {:?}, engine wait {:?}",
        resolved.topology, resolved.io_wait, resolved.engine_wait
    );
    Ok(Running {
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
        journal_thread: journal.thread,
        snapshot_thread,
        snapshot_stop,
        journal_stop: journal.stop,
        journal_progress: journal.progress,
        md,
    })
}

/// The sequencer over the starting engine, continuing after the last recovered
/// input, with room for every query answer it may hold.
fn build_sequencer(
    config: &GatewayConfig,
    engine: Engine,
    clock: Clock,
    recorder: StageRecorder,
    recovered: &Recovered,
) -> Sequencer {
    let mut sequencer = Sequencer::with_recorder(engine, clock, recorder);
    sequencer.sample_stages_every(config.admin.stage_sample_every);
    sequencer
        .reserve_replies(config.server.max_queries_in_flight + crate::server::MAX_DESK_QUERIES);
    sequencer.resume_after(recovered.last_input_seq, recovered.last_now_ns);
    sequencer
}

/// The FIX door's queues to the io loop, when `[fix]` is configured.
fn fix_link(config: &GatewayConfig) -> Option<Arc<crate::fix_link::FixLink>> {
    let durable = config.journal.durability != Durability::None;
    config
        .fix
        .as_ref()
        // The door runs on the io thread: nobody needs waking (an empty slot).
        .and_then(|f| crate::fix_link::FixLink::new(f, Arc::default(), durable))
        .map(Arc::new)
}

/// Logs [`memory_budget`]: the total, then each row.
fn log_memory_budget(config: &GatewayConfig, engine: &Engine) {
    let budget = memory_budget(config, engine);
    let total: u64 = budget.iter().map(|(_, b)| b).sum();
    info!("memory committed at start-up: {:.1} MiB", total as f64 / (1 << 20) as f64);
    for (what, bytes) in &budget {
        info!("  {:>9.1} MiB  {what}", *bytes as f64 / (1 << 20) as f64);
    }
}

/// The journal thread and what the gateway shares with it (zeros and no thread
/// without durability).
struct JournalThread {
    progress: Arc<JournalProgress>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<(), JournalError>>>,
}

/// Opens the journal after the last recovered input and starts its thread, fed
/// by whichever thread owns the sequencer. It wakes the io thread (through
/// `io_waker_slot`) as inputs become durable, and stops the gateway
/// (`shutdown`) when it fails.
fn start_journal(
    config: &GatewayConfig,
    session_id: u64,
    wait: WaitStrategy,
    sequencer: &mut Sequencer,
    io_waker_slot: &WakerSlot,
    shutdown: &Arc<AtomicBool>,
) -> Result<JournalThread, StartError> {
    let progress = Arc::new(JournalProgress::default());
    let stop = Arc::new(AtomicBool::new(false));
    if config.journal.durability == Durability::None {
        return Ok(JournalThread { progress, stop, thread: None });
    }
    let settings = WriterSettings {
        dir: config.journal.dir.clone(),
        segment_bytes: config.journal.segment_bytes,
        preallocate: config.journal.preallocate,
        sync: true,
        session_id,
        first_input_seq: sequencer.last_input_seq() + 1,
        fingerprint: Fingerprint::of(config),
    };
    let writer = Writer::open(settings, Arc::clone(&progress))?;
    let (to_journal, from_engine) = ring::<Entry>(config.journal.ring_capacity);
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<Wakeup>();
    let thread_stop = Arc::clone(&stop);
    let waker_slot = Arc::clone(io_waker_slot);
    let shutdown = Arc::clone(shutdown);
    let handle = std::thread::Builder::new().name("bw-journal".into()).spawn(move || {
        let wake = Wakeup::for_current_thread();
        let _ = wake_tx.send(wake.clone());
        let wake_io = || {
            if let Some(w) = waker_slot.get() {
                let _ = w.wake();
            }
        };
        let result =
            crate::journal::run_writer(writer, from_engine, wake_io, thread_stop, wait, wake);
        if let Err(e) = &result {
            log::error!("journal writer stopped: {e}");
            shutdown.store(true, Ordering::SeqCst);
        }
        result
    })?;
    let wake = wake_rx.recv().ok();
    sequencer.attach_journal(to_journal, wake);
    Ok(JournalThread { progress, stop, thread: Some(handle) })
}

/// Starts the snapshotter when the journal is on and `journal.snapshot_every_inputs`
/// asks for one; returns its stop flag and its thread.
fn start_snapshotter(
    config: &GatewayConfig,
    progress: &Arc<JournalProgress>,
) -> Result<(Arc<AtomicBool>, Option<JoinHandle<()>>), StartError> {
    let stop = Arc::new(AtomicBool::new(false));
    let every = config.journal.snapshot_every_inputs;
    if config.journal.durability == Durability::None || every == 0 {
        return Ok((stop, None));
    }
    let (config, progress) = (config.clone(), Arc::clone(progress));
    let thread_stop = Arc::clone(&stop);
    let handle = std::thread::Builder::new().name("bw-snapshot".into()).spawn(move || {
        crate::snapshot::run_snapshotter(config, every, progress, thread_stop, replica_until)
    })?;
    Ok((stop, Some(handle)))
}

/// The venue's clock-driven phases start from now (journaled like any input).
fn tick_at_start(sequencer: &mut Sequencer, clock: Clock, logs: &mut [OutLog]) {
    let now = clock.now_ns();
    let tick = Arrival { input: Input::Tick, stamps: Stamps { read_ns: now, decoded_ns: now } };
    sequencer.process(&tick, &mut |o| logs[o.login as usize].append_output(&o));
}

/// One slot per configured login, holding its stream.
fn login_slots(config: &GatewayConfig, logs: Vec<OutLog>, engine: &Engine) -> Vec<LoginSlot> {
    config
        .logins
        .iter()
        .zip(logs)
        .zip(engine.stream_versions())
        .map(|((l, log), version)| {
            let mut slot = LoginSlot::new(l.username, l.token, log);
            slot.set_stream_version(version);
            slot.set_accounts(l.accounts.clone());
            slot.set_market_data_only(l.market_data_only);
            slot
        })
        .collect()
}

/// Under `sync`: everything built so far came from the journal or was just
/// journaled; waits (10 s at most) for the start-up tick to be on disk so the
/// streams start released.
fn await_durable_start(progress: &JournalProgress, last_input_seq: u64) -> Result<(), StartError> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while progress.durable.load(Ordering::Acquire) < last_input_seq {
        if std::time::Instant::now() > deadline || progress.failed.load(Ordering::Acquire) {
            return Err(StartError::Io(std::io::Error::other(
                "the journal did not make the start-up input durable",
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// What the io thread needs to serve the FIX door.
struct FixDoorParts {
    settings: crate::config::fix_door::FixDoorSettings,
    listener: std::net::TcpListener,
    link: Option<Arc<crate::fix_link::FixLink>>,
    sessions: Vec<fix::Session>,
}

/// The FIX door's listener, bound here so its address is known; the io loop
/// serves it (`IoLoop::attach_fix_door`). Nothing without `[fix]`.
fn bind_fix_door(
    config: &GatewayConfig,
    link: Option<Arc<crate::fix_link::FixLink>>,
    sessions: Option<Vec<fix::Session>>,
) -> Result<(Option<FixDoorParts>, Option<SocketAddr>), StartError> {
    let Some(settings) = &config.fix else { return Ok((None, None)) };
    let listener = std::net::TcpListener::bind(settings.listen).map_err(|e| {
        let why = format!("FIX door fix.listen on {}: {e}", settings.listen);
        StartError::Io(std::io::Error::new(e.kind(), why))
    })?;
    let addr = listener.local_addr()?;
    let sessions = sessions.unwrap_or_default();
    info!("FIX door on {addr}: {} sessions", settings.sessions.len());
    let parts = FixDoorParts { settings: settings.clone(), listener, link, sessions };
    Ok((Some(parts), Some(addr)))
}

/// Hands the FIX door, when there is one, to the io loop's poll.
fn attach_fix_door<L: EngineLink>(
    io: &mut IoLoop<L>,
    parts: Option<FixDoorParts>,
) -> std::io::Result<()> {
    let Some(p) = parts else { return Ok(()) };
    io.attach_fix_door(&p.settings, p.listener, p.link, p.sessions)
}

/// Everything the io loop is built from, whichever link it drives.
struct IoParts {
    listen: Vec<SocketAddr>,
    logins: Vec<LoginSlot>,
    limits: SessionLimits,
    clock: Clock,
    control: Control,
    wait: WaitStrategy,
    metrics: Arc<IoMetrics>,
    recorder: StageRecorder,
    durable: Option<Arc<JournalProgress>>,
    fix_door: Option<FixDoorParts>,
    waker_slot: WakerSlot,
    ready: Ready,
}

impl IoParts {
    /// On the io thread: builds the io loop over `link` with the FIX door, hands
    /// its waker to `waker_slot` and to `hand_waker`, says where it listens (or
    /// why it could not), and runs it until shutdown. Returns the link and the
    /// logins.
    fn serve<L: EngineLink>(
        self,
        link: L,
        hand_waker: impl FnOnce(Arc<Waker>),
    ) -> std::io::Result<(L, Vec<LoginSlot>)> {
        let built = IoLoop::new(
            &self.listen,
            self.logins,
            self.limits,
            link,
            self.clock,
            self.control,
            self.wait,
            self.metrics,
            self.recorder,
            self.durable,
        );
        let fix_door = self.fix_door;
        let (mut io, waker) = match built.and_then(|(mut io, waker)| {
            attach_fix_door(&mut io, fix_door)?;
            Ok((io, waker))
        }) {
            Ok(x) => x,
            Err(e) => {
                let message = e.to_string();
                let _ = self.ready.send(Err(e));
                return Err(std::io::Error::other(message));
            }
        };
        let _ = self.waker_slot.set(Arc::clone(&waker));
        hand_waker(waker);
        let _ = self.ready.send(Ok(io.local_addrs().to_vec()));
        io.run()?;
        Ok(io.into_parts())
    }
}

/// The pipelined topology: the io thread and the engine thread, joined by rings
/// (in, out and query replies). Each waits for the other's wake-up handle
/// before it starts.
fn spawn_pipelined(
    config: &GatewayConfig,
    resolved: Resolved,
    io: IoParts,
    sequencer: Sequencer,
    stop: Arc<AtomicBool>,
) -> Result<(JoinHandle<std::io::Result<IoFinal>>, JoinHandle<Sequencer>), StartError> {
    let (to_engine, from_io) = ring::<Arrival>(config.pipeline.in_ring_capacity);
    let (to_io, from_engine) = ring::<Output>(config.pipeline.out_ring_capacity);
    // Room for every query the io thread lets into the engine at once, and
    // the admin endpoint's.
    let (replies_to_io, replies) =
        ring::<Reply>(config.server.max_queries_in_flight + crate::server::MAX_DESK_QUERIES);
    let io_sleeping = Arc::new(AtomicBool::new(false));
    let processed = Arc::new(AtomicU64::new(0));
    let (waker_tx, waker_rx) = std::sync::mpsc::channel::<Arc<Waker>>();
    let (wake_tx, wake_rx) = std::sync::mpsc::channel::<Option<Wakeup>>();
    let link_sleeping = Arc::clone(&io_sleeping);
    let link_processed = Arc::clone(&processed);
    let io_thread = std::thread::Builder::new().name("bw-io".into()).spawn(move || {
        pin(resolved.io_core, "io");
        let engine_wake = wake_rx.recv().ok().flatten();
        let link = RingLink::new(
            to_engine,
            from_engine,
            replies,
            engine_wake,
            link_sleeping,
            link_processed,
        );
        let (_link, logins) = io.serve(link, |waker| {
            let _ = waker_tx.send(waker);
        })?;
        Ok(IoFinal { logins, sequencer: None })
    })?;
    let engine_thread = std::thread::Builder::new().name("bw-engine".into()).spawn(move || {
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
    Ok((io_thread, engine_thread))
}

/// The fused topology: one io thread that runs the engine itself.
fn spawn_fused(
    config: &GatewayConfig,
    resolved: Resolved,
    io: IoParts,
    sequencer: Sequencer,
) -> Result<JoinHandle<std::io::Result<IoFinal>>, StartError> {
    let outbox_capacity = config.pipeline.fused_outbox_capacity;
    let io_thread = std::thread::Builder::new().name("bw-io".into()).spawn(move || {
        pin(resolved.io_core, "fused");
        let link = FusedLink::new(sequencer, outbox_capacity);
        let (link, logins) = io.serve(link, drop)?;
        Ok(IoFinal { logins, sequencer: Some(link.into_sequencer()) })
    })?;
    Ok(io_thread)
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
    let logins = config
        .logins
        .iter()
        .map(|l| crate::md::MdLogin {
            username: l.username,
            token: l.token,
            depth: l.market_data_depth,
        })
        .collect();
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
