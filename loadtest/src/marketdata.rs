//! Market-data subscribers beside a scenario (`--md-fast`, `--md-slow`, `--md-l1`):
//! the in-process gateway's publisher is switched on, every subscriber rebuilds
//! every book of the universe over loopback with `protocol::mdclient`, and at the
//! end each rebuilt book is held against the venue's own.
//!
//! ```text
//! gateway (engine ─ring─> bw-md publisher) ──TCP──> N subscribers on T threads
//!                                                      │ (mio, non-blocking sockets)
//!                                                      │ after the flow: catch up,
//! fresh L2 subscription (the reference to catch up to) ┘ stop, compare with the venue
//! ```
//!
//! * [`group`]: one of the fleet's threads, driving many subscribers.
//! * [`subscriber`]: one subscriber, its timing and its read-rate bound.
//! * [`reference`]: the books to compare with (the venue's, a fresh snapshot).
//! * [`summary`]: the classes' figures, the reconciliation, and the report sections.

pub mod group;
pub mod reference;
pub mod subscriber;
pub mod summary;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use protocol::SecurityId;
use protocol::marketdata::channel_of;

use crate::universe::Universe;
use reference::Reference;
use subscriber::{Outcome, PHASE_CATCH_UP, PHASE_STOP, Progress, Shared, Spec, Subscriber};

/// Most subscribers one run starts.
pub const SUBSCRIBERS_MAX: usize = 4_096;
/// Most threads the subscribers run on.
pub const THREADS_MAX: usize = 64;
/// Subscribers a thread drives when `--md-threads` is not given.
pub const SUBSCRIBERS_PER_THREAD: usize = 64;
/// How long a subscriber may take for its first snapshot of every book.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the subscribers may take to catch up once the flow has ended (the
/// rate-bounded ones read at full speed then).
pub const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the fresh snapshot is taken again while not every subscriber has
/// matched it.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// What the command line asked for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MdOptions {
    /// Level-2 real-time subscribers of every channel, reading as fast as they can.
    pub fast: usize,
    /// Level-2 real-time subscribers reading at most `slow_read_bytes_per_s`.
    pub slow: usize,
    /// The slow subscribers' read rate, bytes a second.
    pub slow_read_bytes_per_s: u64,
    /// Level-1 subscribers, conflated at `l1_interval_ms`.
    pub l1: usize,
    /// The Level-1 conflation interval, ms (1 to 60000).
    pub l1_interval_ms: u32,
    /// The publisher's queue per subscriber, bytes (`[marketdata] queue_bytes`).
    pub queue_bytes: usize,
    /// The publisher's SO_SNDBUF per connection, bytes (0: the kernel's default,
    /// which on loopback can hold megabytes a slow reader has not read yet).
    pub send_buffer_bytes: usize,
    /// Threads the subscribers run on (0: one per [`SUBSCRIBERS_PER_THREAD`]).
    pub threads: usize,
}

impl MdOptions {
    /// Defaults: no subscribers; 64 KB/s for slow ones, 100 ms for Level-1, a 1 MiB
    /// queue (the gateway's default).
    pub fn new() -> MdOptions {
        MdOptions {
            fast: 0,
            slow: 0,
            slow_read_bytes_per_s: 65_536,
            l1: 0,
            l1_interval_ms: 100,
            queue_bytes: 1 << 20,
            send_buffer_bytes: 0,
            threads: 0,
        }
    }

    /// Threads the subscribers run on: `threads`, or one per
    /// [`SUBSCRIBERS_PER_THREAD`]; never more than the subscribers.
    pub fn threads_used(&self) -> usize {
        let wanted = if self.threads > 0 {
            self.threads
        } else {
            self.total().div_ceil(SUBSCRIBERS_PER_THREAD)
        };
        wanted.clamp(1, self.total().max(1))
    }

    /// Subscribers in all.
    pub fn total(&self) -> usize {
        self.fast + self.slow + self.l1
    }

    /// Checks the values; names the option that is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.total() > SUBSCRIBERS_MAX {
            return Err(format!(
                "--md-fast + --md-slow + --md-l1: at most {SUBSCRIBERS_MAX} subscribers, got {}",
                self.total()
            ));
        }
        if self.slow > 0 && self.slow_read_bytes_per_s < 1_024 {
            return Err("--md-slow-read-bytes-per-s: at least 1024".into());
        }
        if self.l1 > 0 && !(1..=60_000).contains(&self.l1_interval_ms) {
            return Err("--md-l1-interval-ms: 1 to 60000".into());
        }
        if !(4_096..=1 << 30).contains(&self.queue_bytes) {
            return Err("--md-queue-bytes: 4096 to 1073741824".into());
        }
        if self.threads > THREADS_MAX {
            return Err(format!("--md-threads: at most {THREADS_MAX}"));
        }
        if self.send_buffer_bytes > 64 << 20 {
            return Err("--md-send-buffer-bytes: at most 67108864".into());
        }
        Ok(())
    }

    /// The classes asked for, in order (fast, slow, Level-1), with their counts.
    pub fn classes(&self) -> Vec<(Class, usize)> {
        let fast = Class { kind: ClassKind::Fast, read_bytes_per_s: 0, interval_ms: 0 };
        let slow = Class {
            kind: ClassKind::Slow,
            read_bytes_per_s: self.slow_read_bytes_per_s,
            interval_ms: 0,
        };
        let l1 = Class {
            kind: ClassKind::Level1,
            read_bytes_per_s: 0,
            interval_ms: self.l1_interval_ms,
        };
        [(fast, self.fast), (slow, self.slow), (l1, self.l1)]
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    /// The generated gateway configuration with the venue's feed and the publisher on.
    pub fn enable_in(&self, gateway_toml: &str) -> String {
        let connections = self.total() + 8;
        let mut t = gateway_toml.replacen("[exchange]\n", "[exchange]\nmarket_data = true\n", 1);
        t.push_str(&format!(
            "[marketdata]\nenabled = true\nlisten = \"127.0.0.1:0\"\nheartbeat_ms = 1000\n\
             queue_bytes = {}\nsocket_send_buffer_bytes = {}\nmax_connections = {connections}\n\
             max_connections_per_address = {connections}\n\n",
            self.queue_bytes, self.send_buffer_bytes
        ));
        t
    }
}

/// A kind of subscriber.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum ClassKind {
    /// Level-2, real time, reads at once.
    Fast,
    /// Level-2, real time, reads at a bounded byte rate.
    Slow,
    /// Level-1, conflated.
    Level1,
}

impl ClassKind {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ClassKind::Fast => "fast L2",
            ClassKind::Slow => "slow L2",
            ClassKind::Level1 => "L1 conflated",
        }
    }
}

/// One class of subscriber as configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Class {
    /// Which.
    pub kind: ClassKind,
    /// Read-rate bound, bytes a second (0: none).
    pub read_bytes_per_s: u64,
    /// Conflation interval, ms (0: real time).
    pub interval_ms: u32,
}

/// The running subscribers.
#[derive(Debug)]
pub struct Fleet {
    addr: SocketAddr,
    credentials: (protocol::Username, protocol::Token),
    channels: Vec<u16>,
    securities: Vec<SecurityId>,
    shared: Arc<Shared>,
    /// One per subscriber, in order.
    progress: Vec<Arc<Progress>>,
    threads: Vec<Thread>,
}

/// One of the fleet's threads: it hands back its subscribers' indices and outcomes.
type Thread = JoinHandle<Vec<(usize, Outcome)>>;

/// What the subscribers brought back, before the reconciliation.
#[derive(Debug)]
pub struct FleetResult {
    /// One outcome per subscriber.
    pub outcomes: Vec<Outcome>,
    /// The fresh snapshot taken after the flow (what they caught up to).
    pub fresh: Vec<Reference>,
    /// Seconds from the end of the flow until every subscriber matched it (or the
    /// timeout).
    pub catch_up_s: f64,
    /// Problems of the fleet itself (no fresh snapshot, a thread that panicked).
    pub problems: Vec<String>,
}

impl Fleet {
    /// Starts the threads, then connects every subscriber, waits for its first
    /// snapshots and hands it to a thread (round robin). `run_for` bounds the
    /// threads' life.
    pub fn start(
        o: &MdOptions,
        addr: SocketAddr,
        universe: &Universe,
        run_for: Duration,
    ) -> Result<Fleet, String> {
        o.validate()?;
        let securities: Vec<SecurityId> = universe.instruments.iter().map(|i| i.security).collect();
        let mut channels: Vec<u16> = securities.iter().map(|s| channel_of(*s)).collect();
        channels.sort_unstable();
        channels.dedup();
        let login = universe.logins.first().ok_or("the universe has no login")?;
        let shared = Arc::new(Shared::default());
        let deadline = Instant::now() + run_for;
        let (senders, threads) = start_threads(o, &shared, deadline)?;
        let mut fleet = Fleet {
            addr,
            credentials: (login.username, login.token),
            channels,
            securities,
            shared,
            progress: Vec::with_capacity(o.total()),
            threads,
        };
        if let Err(e) = fleet.connect_all(o, universe, &senders, deadline) {
            fleet.shared.phase.store(PHASE_STOP, Ordering::Release);
            return Err(e);
        }
        Ok(fleet)
    }

    fn connect_all(
        &mut self,
        o: &MdOptions,
        universe: &Universe,
        senders: &[SyncSender<Subscriber>],
        deadline: Instant,
    ) -> Result<(), String> {
        for (class, n) in o.classes() {
            for _ in 0..n {
                let index = self.progress.len();
                let l = &universe.logins[index % universe.logins.len()];
                let spec = Spec {
                    index,
                    class,
                    addr: self.addr,
                    username: l.username,
                    token: l.token,
                    channels: self.channels.clone(),
                    securities: self.securities.clone(),
                    deadline,
                };
                let client = subscriber::connect(&spec, CONNECT_TIMEOUT)?;
                let progress = Arc::new(Progress::default());
                let subscriber = Subscriber::new(spec, client, Arc::clone(&progress))?;
                senders[index % senders.len()]
                    .send(subscriber)
                    .map_err(|_| "a market-data subscriber thread ended early".to_string())?;
                self.progress.push(progress);
            }
        }
        Ok(())
    }

    /// After the flow: takes a fresh snapshot of every book through a new
    /// subscription, lets every subscriber read at full speed until its books equal
    /// it (at most [`CATCH_UP_TIMEOUT`]), then stops them and collects them.
    pub fn finish(self) -> FleetResult {
        let started = Instant::now();
        let mut problems = Vec::new();
        let mut fresh = Vec::new();
        let mut generation = 0;
        let mut refreshed = Instant::now();
        let deadline = started + CATCH_UP_TIMEOUT;
        self.shared.phase.store(PHASE_CATCH_UP, Ordering::Release);
        let caught_up = loop {
            // A fresh snapshot now, and again while the subscribers have not all
            // matched it: the publisher may still have been draining its ring.
            if generation == 0 || refreshed.elapsed() >= REFRESH_EVERY {
                refreshed = Instant::now();
                match self.fresh_snapshot() {
                    Ok(f) if f != fresh => {
                        fresh = f;
                        generation += 1;
                        if let Ok(mut r) = self.shared.reference.lock() {
                            *r = Some((generation, Arc::new(fresh.clone())));
                        }
                    }
                    Ok(_) => {}
                    Err(e) => {
                        problems.push(format!("fresh snapshot after the flow: {e}"));
                        break false;
                    }
                }
            }
            let all = self.progress.iter().all(|p| {
                p.caught_up.load(Ordering::Acquire) == generation || p.ended.load(Ordering::Acquire)
            }) || self.threads.iter().all(JoinHandle::is_finished);
            if all || Instant::now() >= deadline {
                break all;
            }
            std::thread::sleep(Duration::from_millis(subscriber::POLL_MS));
        };
        let catch_up_s = started.elapsed().as_secs_f64();
        self.shared.phase.store(PHASE_STOP, Ordering::Release);
        let mut outcomes = Vec::with_capacity(self.progress.len());
        for (t, h) in self.threads.into_iter().enumerate() {
            match h.join() {
                Ok(mine) => outcomes.extend(mine),
                Err(_) => problems.push(format!("market-data subscriber thread {t}: it panicked")),
            }
        }
        outcomes.sort_by_key(|(index, _)| *index);
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|(_, mut o)| {
                // Only a match with the last reference counts.
                if o.caught_up != generation {
                    o.caught_up = 0;
                }
                o
            })
            .collect();
        if !caught_up && !fresh.is_empty() {
            problems.push(format!(
                "not every subscriber caught up within {} s of the end of the flow",
                CATCH_UP_TIMEOUT.as_secs()
            ));
        }
        FleetResult { outcomes, fresh, catch_up_s, problems }
    }

    /// A new Level-2 subscription to every channel: its snapshots.
    fn fresh_snapshot(&self) -> Result<Vec<Reference>, String> {
        let class = Class { kind: ClassKind::Fast, read_bytes_per_s: 0, interval_ms: 0 };
        let spec = Spec {
            index: usize::MAX,
            class,
            addr: self.addr,
            username: self.credentials.0,
            token: self.credentials.1,
            channels: self.channels.clone(),
            securities: self.securities.clone(),
            deadline: Instant::now() + CONNECT_TIMEOUT,
        };
        // Subscribed and synced: every book is its snapshot (nothing trades now);
        // the connection closes when the client drops.
        let client = subscriber::connect(&spec, CONNECT_TIMEOUT)?;
        Ok(self
            .securities
            .iter()
            .filter_map(|s| client.book(*s).map(Reference::from_snapshot_book))
            .collect())
    }
}

/// The fleet's threads, each with the sender that hands it subscribers (a
/// queue as long as its share of them).
fn start_threads(
    o: &MdOptions,
    shared: &Arc<Shared>,
    deadline: Instant,
) -> Result<(Vec<SyncSender<Subscriber>>, Vec<Thread>), String> {
    let n = o.threads_used();
    let share = o.total().div_ceil(n).max(1);
    let mut senders = Vec::with_capacity(n);
    let mut threads = Vec::with_capacity(n);
    for t in 0..n {
        let poll = mio::Poll::new().map_err(|e| format!("market-data subscriber poll: {e}"))?;
        let (tx, rx) = std::sync::mpsc::sync_channel(share);
        let s = Arc::clone(shared);
        let handle = std::thread::Builder::new()
            .name(format!("md-subs-{t}"))
            .spawn(move || group::run(poll, rx, s, deadline))
            .map_err(|e| format!("market-data subscriber thread: {e}"))?;
        senders.push(tx);
        threads.push(handle);
    }
    Ok((senders, threads))
}
