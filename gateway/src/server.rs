//! The io thread: the mio event loop, sessions, login, heartbeats and the sequenced
//! outbound streams.
//!
//! The loop follows mio's `tcp_server` example: accept until `WouldBlock`, read and
//! write until `WouldBlock` (epoll is edge-triggered), deregister on close. A session
//! never blocks the loop: when the engine's input ring is full the loop stops taking
//! frames from that socket (TCP flow control then pushes back on the client) and
//! comes back to it when there is room; when a client stops reading, its unsent
//! bytes stay in its login's out log and it is disconnected once they pass the
//! backlog limit, so one slow reader cannot hold up anyone else.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_queue::ArrayQueue;
use log::{info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use protocol::RejectCode;
use protocol::codec::Login;
use protocol::codec::{
    ClientMessage, EndOfSession, LoginRejected, MAX_FRAME_LEN, ServerMessage, msg_type,
};
use protocol::framing::FrameBuffer;
use protocol::query::{Query, QueryAnswer, QueryRejected};

use crate::clock::Clock;
use crate::fix_link::FixLink;
use crate::input::{AdminCommand, Arrival, Asker, Input, LoginIdx, Output, Reply, Stamps};
use crate::journal::JournalProgress;
use crate::lograte::{LogLimiter, WINDOW_NS};
use crate::metrics::{IoMetrics, Stage, StageRecorder};
use crate::session::{ConnState, FixCursor, FrameAction, Gate, Refused, Session, TimerAction};
use crate::wait::{Idle, IdleStep, WaitStrategy};

const WAKER: Token = Token(usize::MAX);
/// Marks an `arrived` entry whose connection was gone (its buffer is freed).
const ORPHAN_BIT: u32 = 1 << 31;
const LISTENER_BASE: usize = usize::MAX - 64;
/// The FIX door's listener; its connections count up from `FIX_CONN_BASE`.
const FIX_LISTENER: Token = Token(LISTENER_BASE - 1);
const FIX_CONN_BASE: usize = usize::MAX / 2;

/// A log line a peer can cause at will (one per connection, say): written once per
/// site and window, the rest counted (see [`crate::lograte`]).
macro_rules! limited {
    ($self:ident, $level:ident, $site:literal, $($arg:tt)*) => {
        if let Some(more) = $self.log_limit.admit($site, $self.clock.now_ns()) {
            log::$level!("{}{more}", format_args!($($arg)*));
        }
    };
}

// After `limited!`, which they use.
mod admission;
mod answers;
mod fix;
mod inbound;
mod outbound;

use answers::{AnswerList, AnswerSlot};
use outbound::Unreleased;

pub use crate::session::{LoginSlot, SessionLimits};

/// How the io thread reaches the engine: directly (fused) or through rings.
pub trait EngineLink {
    /// True when `offer` will accept an input now.
    fn has_room(&mut self) -> bool;
    /// Hands one input to the engine; with no room, hands it back untouched.
    fn offer(&mut self, arrival: Arrival) -> Result<(), Arrival>;
    /// Passes every available output to `sink`; returns how many.
    fn drain(&mut self, sink: &mut dyn FnMut(&Output)) -> usize;
    /// Passes every available answer to a query to `sink`; returns how many. Every
    /// output the engine produced before an answer is available to `drain` once the
    /// answer is seen here.
    fn drain_replies(&mut self, sink: &mut dyn FnMut(&Reply)) -> usize;
    /// Runs due timer work (fused: the venue's clock); returns true if it did any.
    fn run_timers(&mut self) -> bool;
    /// The io thread is about to sleep in `poll` for up to `timeout`: the engine
    /// must wake it (through the poll's waker) when it has output. Returns false if
    /// output is already waiting (do not sleep).
    fn prepare_sleep(&mut self) -> bool;
    /// The io thread woke up.
    fn woke(&mut self);
    /// Everything offered has been processed and drained.
    fn is_idle(&mut self) -> bool;
    /// Inputs offered so far.
    fn offered(&self) -> u64;
    /// True once the engine has processed the first `offered` inputs (their outputs
    /// are then in the ring, or already drained).
    fn caught_up(&self, offered: u64) -> bool;
    /// Items waiting in the rings (in, out); zeros when fused.
    fn depths(&self) -> (u64, u64);
}

/// Unsequenced frames waiting to go out ahead of the stream (LoginAccepted,
/// heartbeats, EndOfSession). Small and fixed.
#[derive(Debug)]
struct ControlOut {
    buf: [u8; 256],
    len: usize,
    sent: usize,
}

impl ControlOut {
    fn push(&mut self, msg: &ServerMessage) {
        if self.sent == self.len {
            self.len = 0;
            self.sent = 0;
        }
        // Control frames are at most 35 bytes; 256 holds several. A full buffer only
        // happens to a peer that reads nothing, and that peer is about to be dropped.
        if let Ok(n) = msg.encode_to_slice(&mut self.buf[self.len..]) {
            self.len += n;
        }
    }
    fn pending(&self) -> &[u8] {
        &self.buf[self.sent..self.len]
    }
}

/// Most queries of one connection in answer buffers at once: a client that sends
/// more before reading its answers is read no further until one is sent.
pub const QUERIES_PER_CONNECTION: u16 = 8;

#[derive(Debug)]
struct Conn {
    /// Tells apart the connections that use one slot in turn.
    id: u64,
    stream: TcpStream,
    peer: SocketAddr,
    rx: FrameBuffer,
    /// The session's state and timers (everything the protocol decides on).
    session: Session,
    ctrl: ControlOut,
    /// The oldest unwritten message's socket-read time and append time (0: none
    /// pending): one end-to-end sample per write batch, for its oldest message.
    oldest_read_ns: u64,
    oldest_append_ns: u64,
    /// Frames may be waiting in the socket or the buffer that we did not take
    /// because the engine was full: read again when there is room.
    read_paused: bool,
    dirty: bool,
    closed: bool,
    /// This connection's queries in answer buffers, oldest first.
    answers: AnswerList,
}

/// What the io loop is told to do from outside.
#[derive(Debug, Clone)]
pub struct Control {
    /// Set to stop: stop accepting, drain, send EndOfSession to everyone, return.
    pub shutdown: Arc<AtomicBool>,
    /// Operator commands waiting to be sequenced with client input.
    pub admin: Arc<ArrayQueue<AdminCommand>>,
    /// The FIX door's sessions, when it hands orders to the engine.
    pub fix: Option<Arc<FixLink>>,
    /// The risk desk's queries (admin endpoint) and their answers.
    pub desk: DeskQueries,
}

impl Control {
    /// Room for `admin_queue_capacity` operator commands (`pipeline.admin_queue_capacity`).
    pub fn new(admin_queue_capacity: usize) -> Control {
        Control {
            shutdown: Arc::default(),
            admin: Arc::new(ArrayQueue::new(admin_queue_capacity)),
            fix: None,
            desk: DeskQueries::default(),
        }
    }
}

impl Default for Control {
    /// The configuration's default room (1024 commands).
    fn default() -> Self {
        Control::new(1024)
    }
}

/// Most risk-desk queries waiting or in the engine at once.
pub const MAX_DESK_QUERIES: usize = 8;

/// The admin thread's exchange with the engine: queries go in with a ticket, the
/// engine answers them between two inputs, answers come back with the ticket. The
/// admin thread never touches engine state.
#[derive(Debug, Clone)]
pub struct DeskQueries {
    /// Queries waiting for the io thread to hand them to the engine.
    pub queries: Arc<ArrayQueue<(u64, Query)>>,
    /// Answers waiting for the admin thread.
    pub answers: Arc<ArrayQueue<Reply>>,
}

impl Default for DeskQueries {
    fn default() -> Self {
        DeskQueries {
            queries: Arc::new(ArrayQueue::new(MAX_DESK_QUERIES)),
            answers: Arc::new(ArrayQueue::new(MAX_DESK_QUERIES)),
        }
    }
}

/// The io thread's state.
pub struct IoLoop<L: EngineLink> {
    poll: Poll,
    listeners: Vec<TcpListener>,
    local_addrs: Vec<SocketAddr>,
    conns: Vec<Option<Conn>>,
    free: Vec<usize>,
    logins: Vec<LoginSlot>,
    /// The login rules: who may log in, lockouts, resume points.
    gate: Gate,
    /// Connections not logged in yet, oldest first, as (slot, connection id);
    /// entries whose connection has logged in or gone are dropped lazily.
    pending: Vec<(usize, u64)>,
    /// Scratch for counting pending connections per address.
    pending_by_addr: HashMap<std::net::IpAddr, (u32, usize)>,
    next_conn_id: u64,
    log_limit: LogLimiter,
    limits: SessionLimits,
    link: L,
    clock: Clock,
    dirty: Vec<usize>,
    dirty_spare: Vec<usize>,
    paused: Vec<usize>,
    paused_spare: Vec<usize>,
    /// Session events (logins, disconnects) not yet taken by a full engine ring.
    /// They go in before any further input of a session (see `take_frames`).
    pending_session_events: Vec<Input>,
    control: Control,
    wait: WaitStrategy,
    metrics: Arc<IoMetrics>,
    recorder: StageRecorder,
    /// Under `sync` durability: the journal's progress, and the messages waiting
    /// for their input to be on disk (login, input sequence, end offset), in order.
    durable: Option<Arc<JournalProgress>>,
    unreleased: Unreleased,
    scratch: Box<[u8; MAX_FRAME_LEN]>,
    /// Logins with a FIX session attached.
    fix_logins: Vec<LoginIdx>,
    /// The FIX door, served by this loop (`attach_fix_door`).
    fix_door: Option<crate::fix_door::Door>,
    /// Answer buffers for queries (`max_queries_in_flight`), and the free ones.
    answer_slots: Vec<AnswerSlot>,
    free_answer_slots: Vec<u32>,
    /// Answers taken from the engine whose stream offset is set once the outputs
    /// before them are in the out logs.
    arrived: Vec<u32>,
    /// Connections that stopped reading for want of an answer buffer.
    waiting_for_answers: Vec<usize>,
}

impl<L: EngineLink> std::fmt::Debug for IoLoop<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoLoop").field("local_addrs", &self.local_addrs).finish_non_exhaustive()
    }
}

impl<L: EngineLink> IoLoop<L> {
    /// Binds the listeners and prepares every session slot.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        listen: &[SocketAddr],
        logins: Vec<LoginSlot>,
        limits: SessionLimits,
        link: L,
        clock: Clock,
        control: Control,
        wait: WaitStrategy,
        metrics: Arc<IoMetrics>,
        recorder: StageRecorder,
        durable: Option<Arc<JournalProgress>>,
    ) -> io::Result<(IoLoop<L>, Arc<Waker>)> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let mut listeners = Vec::with_capacity(listen.len());
        let mut local_addrs = Vec::with_capacity(listen.len());
        for (i, addr) in listen.iter().enumerate() {
            let mut listener = TcpListener::bind(*addr).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("client listener server.listen[{i}] on {addr}: {e}"),
                )
            })?;
            poll.registry().register(
                &mut listener,
                Token(LISTENER_BASE + i),
                Interest::READABLE,
            )?;
            local_addrs.push(listener.local_addr()?);
            listeners.push(listener);
        }
        let gate = Gate::new(&logins, &limits);
        let n_logins = logins.len();
        let n = limits.max_sessions;
        let io = IoLoop {
            poll,
            listeners,
            local_addrs,
            conns: (0..n).map(|_| None).collect(),
            free: (0..n).rev().collect(),
            logins,
            gate,
            pending: Vec::with_capacity(limits.max_pending_logins + 1),
            pending_by_addr: HashMap::with_capacity(limits.max_pending_logins + 1),
            next_conn_id: 0,
            log_limit: LogLimiter::new(WINDOW_NS),
            link,
            clock,
            dirty: Vec::with_capacity(n),
            dirty_spare: Vec::with_capacity(n),
            paused: Vec::with_capacity(n),
            paused_spare: Vec::with_capacity(n),
            pending_session_events: Vec::with_capacity(2 * n),
            control,
            wait,
            metrics,
            recorder,
            durable,
            unreleased: std::collections::VecDeque::with_capacity(limits.unreleased_capacity),
            scratch: Box::new([0u8; MAX_FRAME_LEN]),
            fix_logins: Vec::with_capacity(n_logins),
            fix_door: None,
            answer_slots: (0..limits.max_queries_in_flight).map(|_| AnswerSlot::new()).collect(),
            free_answer_slots: (0..limits.max_queries_in_flight as u32).rev().collect(),
            arrived: Vec::with_capacity(limits.max_queries_in_flight),
            waiting_for_answers: Vec::with_capacity(n),
            limits,
        };
        Ok((io, waker))
    }

    /// The addresses actually bound (useful with port 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The logins and their streams (after `run` returns).
    pub fn logins(&self) -> &[LoginSlot] {
        &self.logins
    }

    /// Takes the link and the logins apart (after `run` returns).
    pub fn into_parts(self) -> (L, Vec<LoginSlot>) {
        (self.link, self.logins)
    }

    /// Runs until shutdown is requested and every session has been ended.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut idle = Idle::new(self.wait);
        let mut last_timer_ns = 0u64;
        let mut shutting_down = false;
        loop {
            let mut timeout = Some(Duration::ZERO);
            if let IdleStep::Park(d) = idle.step()
                && self.link.prepare_sleep()
            {
                timeout = Some(d.max(Duration::from_millis(1)).min(Duration::from_millis(10)));
            }
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
            if timeout != Some(Duration::ZERO) {
                self.link.woke();
            }
            let mut busy = !events.is_empty();
            for event in events.iter() {
                if let Some(door) = self.fix_door.as_mut()
                    && door.owns(event.token())
                {
                    door.on_event(event);
                    continue;
                }
                match event.token() {
                    WAKER => {}
                    Token(t) if t >= LISTENER_BASE => {
                        if !shutting_down {
                            self.accept(t - LISTENER_BASE);
                        }
                    }
                    Token(i) => {
                        if event.is_readable() || event.is_read_closed() || event.is_error() {
                            // When the peer's close came with this event, it raises no
                            // other: read until the stream says so.
                            let closing = event.is_read_closed() || event.is_error();
                            self.read_conn(i, !closing);
                        }
                        if event.is_writable() {
                            self.mark_dirty(i);
                        }
                    }
                }
            }
            busy |= self.resume_paused();
            busy |= self.offer_session_events();
            busy |= self.offer_admin_commands();
            let fix_answered = self.offer_fix_inputs();
            busy |= fix_answered;
            busy |= self.drain_outputs();
            busy |= self.link.run_timers();
            busy |= self.drain_outputs();
            busy |= self.release_durable();
            let fix_fed = self.feed_fix_sessions();
            busy |= fix_fed;
            if let Some(door) = self.fix_door.as_mut() {
                busy |= door.turn(fix_answered || fix_fed);
            }
            self.flush_dirty();
            let now = self.clock.now_ns();
            if now.saturating_sub(last_timer_ns) >= 10_000_000 {
                last_timer_ns = now;
                self.session_timers(now);
            }
            if !shutting_down && self.control.shutdown.load(Ordering::Relaxed) {
                shutting_down = true;
                self.begin_shutdown();
            }
            if shutting_down && self.shutdown_complete() {
                return Ok(());
            }
            if busy {
                idle.reset();
            }
        }
    }

    /// A logged-in session ends by its own request or ours: the engine hears of the
    /// disconnect (cancel-on-disconnect), what is pending is sent, then EndOfSession.
    fn end_active(&mut self, i: usize, reason: RejectCode) {
        let Some(login) = self.conns[i].as_ref().and_then(|c| c.session.login()) else { return };
        // The disconnect goes in first, so its cancel-on-disconnect answers are
        // among what the session receives before its EndOfSession.
        self.notify_disconnect(login);
        let offered = self.link.offered();
        if let Some(conn) = self.conns[i].as_mut() {
            conn.session.end(reason, offered);
        }
        self.mark_dirty(i);
    }

    fn notify_disconnect(&mut self, login: LoginIdx) {
        if self.control.shutdown.load(Ordering::Relaxed) {
            return; // no cancel-on-disconnect while the gateway itself stops
        }
        self.pending_session_events.push(Input::Disconnected { login });
        self.offer_session_events();
    }

    /// True when client input may be taken: the engine has room and, under `sync`
    /// durability, so has the queue of answers waiting for the journal (the same
    /// test as in `take_frames`).
    fn has_room(&mut self) -> bool {
        let unreleased_full =
            self.durable.is_some() && self.unreleased.len() >= self.limits.unreleased_capacity;
        !unreleased_full && self.link.has_room()
    }

    /// Hands one input to the engine. Callers check `has_room` first, so a refusal
    /// is not expected; should one come, the input waits first in line with the
    /// session events (which hold back every session's reading until taken), so it
    /// is neither lost nor overtaken.
    fn offer(&mut self, arrival: Arrival) {
        if let Err(back) = self.link.offer(arrival) {
            log::warn!("the engine refused an input after reporting room; it waits its turn");
            self.pending_session_events.push(back.input);
        }
    }

    fn offer_admin_commands(&mut self) -> bool {
        let mut did = false;
        while !self.control.admin.is_empty() && self.link.has_room() {
            let Some(cmd) = self.control.admin.pop() else { break };
            info!("operator command: {cmd:?}");
            let now = self.clock.now_ns();
            let stamps = Stamps { read_ns: now, decoded_ns: now };
            self.offer(Arrival { input: Input::Admin(cmd), stamps });
            did = true;
        }
        while !self.control.desk.queries.is_empty() && self.link.has_room() {
            let Some((ticket, query)) = self.control.desk.queries.pop() else { break };
            let now = self.clock.now_ns();
            let stamps = Stamps { read_ns: now, decoded_ns: now };
            let input = Input::Query { asker: Asker::Desk { ticket }, query };
            self.offer(Arrival { input, stamps });
            did = true;
        }
        did
    }

    fn offer_session_events(&mut self) -> bool {
        let mut did = false;
        while let Some(&input) = self.pending_session_events.first() {
            if !self.link.has_room() {
                break;
            }
            let stamps = Stamps { read_ns: self.clock.now_ns(), decoded_ns: self.clock.now_ns() };
            if self.link.offer(Arrival { input, stamps }).is_err() {
                break; // still first in line; tried again when there is room
            }
            self.pending_session_events.remove(0);
            did = true;
        }
        did
    }

    /// Ends a session after flushing what is pending (used for protocol errors).
    fn drain_and_close(&mut self, i: usize, reason: RejectCode, why: &str) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        limited!(
            self,
            warn,
            "session ending",
            "ending session from {}: {why} (code {reason})",
            conn.peer
        );
        match conn.session.state {
            ConnState::Active { .. } => self.end_active(i, reason),
            ConnState::AwaitingLogin { .. } => {
                conn.session.end(reason, 0);
                self.mark_dirty(i);
            }
            ConnState::Draining { .. } => {}
        }
    }

    /// Closes at once (the peer is gone, or must be cut off). `reason` is the
    /// session's end as the gateway decided it; `None` when the peer closed the
    /// connection or the socket failed, which `why` says.
    fn close(&mut self, i: usize, reason: Option<RejectCode>, why: &str) {
        let Some(mut conn) = self.conns[i].take() else { return };
        conn.closed = true;
        self.drop_answers(conn.answers);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        let login = match conn.session.state {
            ConnState::Active { login } => Some(login),
            ConnState::Draining { login, .. } => {
                // Its disconnect was already announced when it began draining.
                if let Some(l) = login {
                    self.logins[l as usize].conn = None;
                }
                None
            }
            ConnState::AwaitingLogin { .. } => None,
        };
        let code = reason.map(|r| format!(" (code {r})")).unwrap_or_default();
        let peer = conn.peer;
        if let Some(login) = login {
            let name = self.logins[login as usize].username;
            if reason.is_some() {
                limited!(
                    self,
                    warn,
                    "session ended",
                    "login {name} from {peer} disconnected: {why}{code}"
                );
            } else {
                limited!(
                    self,
                    info,
                    "session closed by the peer",
                    "login {name} from {peer}: {why}"
                );
            }
            self.logins[login as usize].conn = None;
            self.notify_disconnect(login);
        } else {
            limited!(self, info, "connection closed", "connection from {peer} closed: {why}{code}");
        }
        self.metrics.disconnects.inc();
        self.free.push(i);
    }

    /// Ends a logged-in session whose peer has been silent for the dead-peer
    /// timeout: EndOfSession DEAD_PEER, then close at once. The peer is probably
    /// not reading, so the EndOfSession is best effort, and written only when no
    /// frame is half-sent (it must not land inside one).
    fn end_dead_peer(&mut self, i: usize, why: &str) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let Some(login) = conn.session.login() else { return };
        let slot = &self.logins[login as usize];
        if conn.ctrl.pending().is_empty() && conn.session.cursor >= slot.released_off {
            let eos = EndOfSession { reason: RejectCode::DEAD_PEER, last_seq: slot.log.last_seq() };
            conn.ctrl.push(&ServerMessage::EndOfSession(eos));
            let _ = conn.stream.write(conn.ctrl.pending());
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        }
        self.close(i, Some(RejectCode::DEAD_PEER), why);
    }

    fn mark_dirty(&mut self, i: usize) {
        if let Some(conn) = self.conns[i].as_mut()
            && !conn.dirty
        {
            conn.dirty = true;
            self.dirty.push(i);
        }
    }

    fn resume_paused(&mut self) -> bool {
        if self.paused.is_empty() || !self.has_room() {
            return false;
        }
        // Swap in the spare list: sessions paused again while we read land there.
        std::mem::swap(&mut self.paused, &mut self.paused_spare);
        let mut list = std::mem::take(&mut self.paused_spare);
        for &i in &list {
            if let Some(conn) = self.conns[i].as_mut() {
                conn.read_paused = false;
            }
            // Reading stopped part-way: whatever the last event said is unknown here.
            self.read_conn(i, false);
        }
        list.clear();
        self.paused_spare = list;
        true
    }

    fn publish_gauges(&self) {
        let m = &self.metrics;
        let (depth_in, depth_out) = self.link.depths();
        m.in_ring_depth.set(depth_in);
        m.out_ring_depth.set(depth_out);
        m.connections.set(self.conns.iter().filter(|c| c.is_some()).count() as u64);
        let mut sessions = 0;
        for (i, slot) in self.logins.iter().enumerate() {
            let backlog = slot
                .conn
                .and_then(|ci| self.conns[ci].as_ref())
                .map_or(0, |c| slot.released_off.saturating_sub(c.session.cursor));
            sessions += u64::from(slot.conn.is_some());
            if let Some(g) = m.login_backlog_bytes.get(i) {
                g.set(backlog);
            }
            if let Some(g) = m.login_last_seq.get(i) {
                g.set(slot.log.last_seq());
            }
        }
        m.sessions.set(sessions);
    }

    fn session_timers(&mut self, now: u64) {
        self.publish_gauges();
        self.log_limit.flush(now, |site, text| warn!("{site}: {text}"));
        for i in 0..self.conns.len() {
            let Some(conn) = self.conns[i].as_mut() else { continue };
            match conn.session.on_timer(now, &self.limits) {
                TimerAction::Nothing => {}
                TimerAction::LoginTimedOut => {
                    conn.session.login_timed_out();
                    limited!(
                        self,
                        warn,
                        "no login in time",
                        "connection from {}: no login in time",
                        conn.peer
                    );
                    self.mark_dirty(i);
                }
                TimerAction::DeadPeer { silent_ns } => {
                    let why = format!("silent for {} ms", silent_ns / 1_000_000);
                    self.end_dead_peer(i, &why);
                }
                TimerAction::Heartbeat => {
                    conn.ctrl.push(&ServerMessage::Heartbeat);
                    self.mark_dirty(i);
                }
                TimerAction::DrainStalled => {
                    self.close(
                        i,
                        Some(RejectCode::DEAD_PEER),
                        "did not read the end of its session",
                    );
                }
            }
        }
        self.flush_dirty();
    }

    fn begin_shutdown(&mut self) {
        info!("shutting down: no new connections, ending every session");
        if let Some(door) = self.fix_door.as_mut() {
            door.begin_shutdown();
        }
        let offered = self.link.offered();
        for listener in &mut self.listeners {
            let _ = self.poll.registry().deregister(listener);
        }
        for i in 0..self.conns.len() {
            let Some(conn) = self.conns[i].as_mut() else { continue };
            conn.session.end(RejectCode::SHUTTING_DOWN, offered);
            conn.session.drain_after_input = offered;
            self.mark_dirty(i);
        }
    }

    fn shutdown_complete(&mut self) -> bool {
        self.link.is_idle()
            && self.conns.iter().all(Option::is_none)
            && self.fix_door.as_mut().is_none_or(|d| d.finished())
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}
