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

// After `limited!`, which it uses.
mod fix;

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

const NO_SLOT: u32 = u32::MAX;

/// Where an answer buffer stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SlotState {
    Free,
    /// The query is in the engine.
    Asked,
    /// The query is in the engine but its connection is gone: freed on the answer.
    Orphaned,
    /// The answer is encoded and waits to be written.
    Ready,
}

/// One preallocated answer buffer: an answer frame and where it goes.
#[derive(Debug)]
struct AnswerSlot {
    state: SlotState,
    conn: usize,
    conn_id: u64,
    login: LoginIdx,
    /// Written once the stream up to this out-log offset is written, so the
    /// answer follows the messages it reflects; sent at once when the stream is
    /// not released that far (`sync` durability).
    after_off: u64,
    next: u32,
    len: usize,
    sent: usize,
    frame: Box<[u8; MAX_FRAME_LEN]>,
}

impl AnswerSlot {
    fn new() -> AnswerSlot {
        AnswerSlot {
            state: SlotState::Free,
            conn: 0,
            conn_id: 0,
            login: 0,
            after_off: 0,
            next: NO_SLOT,
            len: 0,
            sent: 0,
            frame: Box::new([0u8; MAX_FRAME_LEN]),
        }
    }
}

/// A connection's answer buffers, a list through `AnswerSlot::next`.
#[derive(Clone, Copy, Debug)]
struct AnswerList {
    head: u32,
    tail: u32,
    len: u16,
}

impl AnswerList {
    const EMPTY: AnswerList = AnswerList { head: NO_SLOT, tail: NO_SLOT, len: 0 };
}

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

    fn accept(&mut self, listener: usize) {
        loop {
            let (stream, peer) = match self.listeners[listener].accept() {
                Ok(s) => s,
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => continue,
                Err(e) => {
                    limited!(self, warn, "accept failed", "accept failed: {e}");
                    return;
                }
            };
            let Some(slot) = self.slot_for_pending(peer.ip()) else {
                limited!(
                    self,
                    warn,
                    "no free session slot",
                    "refusing {peer}: all {} session slots in use",
                    self.limits.max_sessions
                );
                let mut stream = stream;
                let mut buf = [0u8; 8];
                let msg =
                    ServerMessage::LoginRejected(LoginRejected { code: RejectCode::SESSION_LIMIT });
                if let Ok(n) = msg.encode_to_slice(&mut buf) {
                    let _ = stream.write(&buf[..n]);
                }
                self.metrics.logins_refused.inc();
                continue;
            };
            if self.register(slot, stream, peer) {
                // A client sends its Login right after connecting: take it now, before
                // later connections can push this one out of the pre-login budget.
                self.read_conn(slot, false);
            }
        }
    }

    /// Sets up a new connection in `slot`; false (and the slot freed) if it fails.
    fn register(&mut self, slot: usize, stream: TcpStream, peer: SocketAddr) -> bool {
        let _ = stream.set_nodelay(true);
        if self.limits.socket_send_buffer_bytes > 0 {
            let _ = socket2::SockRef::from(&stream)
                .set_send_buffer_size(self.limits.socket_send_buffer_bytes);
        }
        let now = self.clock.now_ns();
        self.next_conn_id += 1;
        let mut conn = Conn {
            id: self.next_conn_id,
            stream,
            peer,
            rx: FrameBuffer::new(self.limits.rx_buffer_bytes),
            session: Session::new(now, &self.limits),
            ctrl: ControlOut { buf: [0; 256], len: 0, sent: 0 },
            oldest_read_ns: 0,
            oldest_append_ns: 0,
            read_paused: false,
            dirty: false,
            closed: false,
            answers: AnswerList::EMPTY,
        };
        if let Err(e) = self.poll.registry().register(
            &mut conn.stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            limited!(self, warn, "register failed", "register {peer} failed: {e}");
            self.free.push(slot);
            return false;
        }
        self.metrics.connections_accepted.inc();
        self.pending.push((slot, conn.id));
        self.conns[slot] = Some(conn);
        true
    }

    /// A slot for a new connection from `ip`, which will wait for its Login.
    ///
    /// Connections that have not logged in have their own budget
    /// (`max_pending_logins`, and `max_pending_logins_per_address` from one
    /// address), and logged-in sessions are never dropped to make room. When a
    /// budget is full, or no slot is free, the oldest pending connection of the
    /// address with the most pending connections makes way (the new connection's
    /// own address, if that is the one at its limit). An address that floods the
    /// gateway with idle connections so pushes out only its own, and a client from
    /// elsewhere, or one that logs in at once, still gets in. `None` only when every
    /// slot holds a logged-in or ending session.
    fn slot_for_pending(&mut self, ip: std::net::IpAddr) -> Option<usize> {
        // Bounded: each round either drops a connection or sees one log in.
        for _ in 0..=self.limits.max_pending_logins {
            let Some(victim) = self.pending_victim(ip) else { break };
            // Its Login may be waiting unread in the socket: take it first.
            self.read_conn(victim, false);
            let still_pending =
                self.conns[victim].as_ref().is_some_and(|c| c.session.awaiting_login());
            if still_pending {
                self.evict_pending(victim);
                break;
            }
        }
        self.free.pop()
    }

    /// The slot of the pending connection that must make way for a new one from
    /// `ip`, if one must (see [`IoLoop::slot_for_pending`]).
    fn pending_victim(&mut self, ip: std::net::IpAddr) -> Option<usize> {
        let conns = &self.conns;
        self.pending.retain(|&(slot, id)| {
            conns[slot].as_ref().is_some_and(|c| c.id == id && c.session.awaiting_login())
        });
        let by_addr = &mut self.pending_by_addr;
        by_addr.clear();
        for (k, &(slot, _)) in self.pending.iter().enumerate() {
            if let Some(c) = conns[slot].as_ref() {
                by_addr.entry(c.peer.ip()).or_insert((0, k)).0 += 1;
            }
        }
        let own = by_addr.get(&ip).map_or(0, |&(n, _)| n as usize);
        let addr = if own >= self.limits.max_pending_logins_per_address {
            ip
        } else if self.pending.len() >= self.limits.max_pending_logins || self.free.is_empty() {
            // The busiest address; of equals, the one whose oldest connection is oldest.
            *by_addr.iter().max_by_key(|(_, (n, first))| (*n, std::cmp::Reverse(*first)))?.0
        } else {
            return None;
        };
        // `pending` is in accept order, so the first match is the oldest.
        let (slot, _) = *self
            .pending
            .iter()
            .find(|&&(slot, _)| conns[slot].as_ref().is_some_and(|c| c.peer.ip() == addr))?;
        Some(slot)
    }

    /// Drops a connection that has not logged in, to make room for a newer one:
    /// EndOfSession LOGIN_TIMEOUT (best effort; it has nothing else half-sent),
    /// then close.
    fn evict_pending(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let eos = EndOfSession { reason: RejectCode::LOGIN_TIMEOUT, last_seq: 0 };
        conn.ctrl.push(&ServerMessage::EndOfSession(eos));
        let _ = conn.stream.write(conn.ctrl.pending());
        let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        let why = "dropped to make room: the pre-login budget is full";
        self.close(i, Some(RejectCode::LOGIN_TIMEOUT), why);
    }

    /// Reads and handles frames until the socket would block, the engine is full,
    /// or the connection closes.
    /// Reads and handles frames until the socket is empty (WouldBlock, or with
    /// `short_read_ends` a read that did not fill the buffer), the peer closed,
    /// or the engine is full.
    fn read_conn(&mut self, i: usize, short_read_ends: bool) {
        let mut drained = false;
        loop {
            if !self.take_frames(i) {
                return; // paused (engine full) or closed
            }
            if drained {
                // A short read emptied the socket: epoll (edge-triggered) reports
                // anything that arrives later, so no `recv` just to see WouldBlock.
                return;
            }
            let Some(conn) = self.conns[i].as_mut() else { return };
            if conn.closed {
                return;
            }
            match conn.rx.read_from(&mut conn.stream) {
                Ok(0) => {
                    // Every whole frame was taken above, so the buffer has room and
                    // a zero-byte read is the end of the stream.
                    self.close(i, None, "closed by the peer");
                    return;
                }
                Ok(n) => {
                    conn.session.received(self.clock.now_ns());
                    self.metrics.bytes_received.add(n as u64);
                    drained = short_read_ends && conn.rx.drained();
                }
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => continue,
                Err(e) => {
                    let reason = format!("read error: {e}");
                    self.close(i, None, &reason);
                    return;
                }
            }
        }
    }

    /// Handles buffered frames. Returns false when reading must stop (paused or closed).
    fn take_frames(&mut self, i: usize) -> bool {
        loop {
            let Some(conn) = self.conns[i].as_mut() else { return false };
            if conn.closed || !conn.session.reads() {
                // Nothing more is read from a session that is ending.
                return false;
            }
            let is_active = matches!(conn.session.state, ConnState::Active { .. });
            // A session event still waiting for room goes first: its login's first
            // order must find the stream's version already recorded.
            let unreleased_full =
                self.durable.is_some() && self.unreleased.len() >= self.limits.unreleased_capacity;
            let blocked =
                !self.pending_session_events.is_empty() || unreleased_full || !self.link.has_room();
            if is_active && blocked {
                if !conn.read_paused {
                    conn.read_paused = true;
                    self.paused.push(i);
                    self.metrics.backpressure_pauses.inc();
                }
                return false;
            }
            if is_active
                && (self.free_answer_slots.is_empty() || conn.answers.len >= QUERIES_PER_CONNECTION)
                && conn.rx.peek_type() == Some(msg_type::QUERY)
            {
                // No answer buffer for it: read on once one frees (see free_answer).
                if !conn.read_paused {
                    conn.read_paused = true;
                    self.waiting_for_answers.push(i);
                }
                return false;
            }
            let read_ns = conn.session.last_rx_ns;
            let frame = match conn.rx.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return true,
                Err(e) => {
                    let reason = format!("unframeable stream: {e}");
                    self.drain_and_close(i, RejectCode::MALFORMED_STREAM, &reason);
                    return false;
                }
            };
            let len = frame.len();
            self.scratch[..len].copy_from_slice(frame);
            let decoded = ClientMessage::decode(&self.scratch[..len]);
            let stamps = Stamps { read_ns, decoded_ns: self.clock.now_ns() };
            self.recorder.record(Stage::Decode, read_ns, stamps.decoded_ns);
            self.metrics.frames_received.inc();
            self.handle_frame(i, decoded, len, stamps);
        }
    }

    fn handle_frame(
        &mut self,
        i: usize,
        decoded: Result<ClientMessage, protocol::codec::DecodeError>,
        len: usize,
        stamps: Stamps,
    ) {
        let Some(conn) = self.conns[i].as_ref() else { return };
        let login = conn.session.login();
        match conn.session.on_frame(&self.scratch[..len], decoded) {
            FrameAction::Login(request) => self.login(i, &request),
            FrameAction::Refuse(refused) => self.refuse_login(i, refused),
            FrameAction::Input(input) => self.offer(Arrival { input, stamps }),
            FrameAction::Malformed { input, error } => {
                let Input::Malformed { ref_msg_type, code, .. } = input else { return };
                limited!(
                    self,
                    warn,
                    "malformed frame",
                    "login {} ({}): malformed frame type 0x{ref_msg_type:02x}: {error} (code {code})",
                    login.map(|l| self.logins[l as usize].username.to_string()).unwrap_or_default(),
                    self.conns[i].as_ref().map(|c| c.peer.to_string()).unwrap_or_default(),
                );
                self.metrics.malformed_frames.inc();
                self.offer(Arrival { input, stamps });
            }
            FrameAction::Query(query) => {
                if let Some(login) = login {
                    self.query(i, login, query, stamps);
                }
            }
            FrameAction::Logout => {
                if let Some(login) = login {
                    info!("login {}: logged out", self.logins[login as usize].username);
                    self.end_active(i, RejectCode::LOGGED_OUT);
                }
            }
            FrameAction::Nothing => {}
        }
    }

    /// A client's query: checked here (version, page size, account, rate), then
    /// handed to the engine, which answers between two inputs. A refusal is
    /// answered at once. Either way the answer waits in an answer buffer, taken
    /// here (take_frames reads no query without one free).
    fn query(&mut self, i: usize, login: LoginIdx, query: Query, stamps: Stamps) {
        let now = self.clock.now_ns();
        let slot = &mut self.logins[login as usize];
        let code = Gate::check_query(slot, &self.limits, now, &query);
        let Some(s) = self.take_answer_slot(i, login) else { return };
        match code {
            Some(code) => {
                let answer = QueryAnswer::Rejected(QueryRejected {
                    query_id: query.query_id,
                    account: Some(query.account),
                    kind: query.kind.as_u8(),
                    code,
                });
                self.fill_answer(s, &answer, 0);
            }
            None => {
                let asker = Asker::Login { login, slot: s };
                self.offer(Arrival { input: Input::Query { asker, query }, stamps });
            }
        }
    }

    /// Takes a free answer buffer for connection `i` and appends it to the
    /// connection's list. `None` only if the caller did not check for room.
    fn take_answer_slot(&mut self, i: usize, login: LoginIdx) -> Option<u32> {
        let conn = self.conns[i].as_mut()?;
        let s = self.free_answer_slots.pop()?;
        let slot = &mut self.answer_slots[s as usize];
        slot.state = SlotState::Asked;
        slot.conn = i;
        slot.conn_id = conn.id;
        slot.login = login;
        slot.after_off = 0;
        slot.next = NO_SLOT;
        slot.len = 0;
        slot.sent = 0;
        let list = &mut conn.answers;
        match list.tail {
            NO_SLOT => list.head = s,
            t => self.answer_slots[t as usize].next = s,
        }
        list.tail = s;
        list.len += 1;
        Some(s)
    }

    /// Encodes `answer` into buffer `s`, ready to send after stream offset `after_off`.
    fn fill_answer(&mut self, s: u32, answer: &QueryAnswer, after_off: u64) {
        let slot = &mut self.answer_slots[s as usize];
        // Every answer fits one frame (protocol::query's page sizes).
        slot.len = answer.encode_to_slice(&mut slot.frame[..]).unwrap_or(0);
        slot.sent = 0;
        slot.after_off = after_off;
        slot.state = SlotState::Ready;
        let conn = slot.conn;
        self.mark_dirty(conn);
    }

    /// Takes the engine's answers. Called before the outputs are drained: every
    /// output that precedes an answer is then drained too, and `place_answers`
    /// sets each answer's place in the stream after them.
    fn take_replies(&mut self) -> bool {
        let IoLoop { link, answer_slots, arrived, control, .. } = self;
        let n = link.drain_replies(&mut |r: &Reply| match r.asker {
            Asker::Login { slot, .. } => {
                let slot_ref = &mut answer_slots[slot as usize];
                if slot_ref.state == SlotState::Orphaned {
                    arrived.push(slot | ORPHAN_BIT);
                    return;
                }
                slot_ref.len = r.answer.encode_to_slice(&mut slot_ref.frame[..]).unwrap_or(0);
                slot_ref.sent = 0;
                arrived.push(slot);
            }
            Asker::Desk { .. } => {
                // The desk's queue has room for every desk query in flight.
                let _ = control.desk.answers.push(*r);
            }
        });
        n > 0
    }

    /// Gives each answer taken by `take_replies` its place after the stream
    /// messages drained with it, and frees the buffers of connections gone.
    fn place_answers(&mut self) {
        let mut arrived = std::mem::take(&mut self.arrived);
        for &s in &arrived {
            if s & ORPHAN_BIT != 0 {
                self.free_answer(s & !ORPHAN_BIT);
                continue;
            }
            let slot = &mut self.answer_slots[s as usize];
            slot.after_off = self.logins[slot.login as usize].log.end_offset();
            slot.state = SlotState::Ready;
            let conn = slot.conn;
            self.mark_dirty(conn);
        }
        arrived.clear();
        self.arrived = arrived;
    }

    /// Returns a buffer to the free list and lets the connections that waited
    /// for one read again.
    fn free_answer(&mut self, s: u32) {
        self.answer_slots[s as usize].state = SlotState::Free;
        self.free_answer_slots.push(s);
        for i in self.waiting_for_answers.drain(..) {
            self.paused.push(i);
        }
    }

    /// Writes the connection's ready answers whose stream messages are written
    /// (or not released yet), oldest first; stops at the first that must wait.
    fn write_answers(&mut self, i: usize) -> io::Result<u64> {
        let mut wrote = 0u64;
        loop {
            let Some(conn) = self.conns[i].as_mut() else { return Ok(wrote) };
            let s = conn.answers.head;
            if s == NO_SLOT {
                return Ok(wrote);
            }
            let slot = &mut self.answer_slots[s as usize];
            let released = self.logins[slot.login as usize].released_off;
            let due = conn.session.cursor >= slot.after_off || released < slot.after_off;
            if slot.state != SlotState::Ready || !due {
                return Ok(wrote);
            }
            while slot.sent < slot.len {
                let n = conn.stream.write(&slot.frame[slot.sent..slot.len])?;
                slot.sent += n;
                wrote += n as u64;
            }
            conn.answers.head = slot.next;
            if conn.answers.head == NO_SLOT {
                conn.answers.tail = NO_SLOT;
            }
            conn.answers.len -= 1;
            self.free_answer(s);
        }
    }

    /// A connection is gone: its sent or unsent answers are dropped, and the
    /// buffers of queries still in the engine are freed when their answers come.
    fn drop_answers(&mut self, answers: AnswerList) {
        let mut s = answers.head;
        while s != NO_SLOT {
            let next = self.answer_slots[s as usize].next;
            if self.answer_slots[s as usize].state == SlotState::Asked {
                self.answer_slots[s as usize].state = SlotState::Orphaned;
            } else {
                self.free_answer(s);
            }
            s = next;
        }
    }

    fn login(&mut self, i: usize, request: &Login) {
        let now = self.clock.now_ns();
        let Some(peer) = self.conns[i].as_ref().map(|c| c.peer) else { return };
        let admitted =
            match self.gate.admit(&mut self.logins, &self.limits, now, peer.ip(), request) {
                Ok(admitted) => admitted,
                Err(refused) => return self.refuse_login(i, refused),
            };
        let login = admitted.login;
        let slot = &mut self.logins[login as usize];
        slot.conn = Some(i);
        let log_end = slot.log.end_offset();
        if admitted.first_today {
            self.pending_session_events.push(Input::LoggedIn { login, version: admitted.version });
        }
        let accepted = ServerMessage::LoginAccepted(admitted.accepted(&self.limits));
        let Some(conn) = self.conns[i].as_mut() else { return };
        conn.session.accept(&admitted, log_end);
        conn.ctrl.push(&accepted);
        info!(
            "login {} from {peer} (resume at {}, replaying {})",
            request.username, admitted.start_seq, admitted.replay
        );
        self.metrics.logins_accepted.inc();
        if admitted.replay > 0 {
            self.metrics.replays.inc();
            self.metrics.replayed_messages.add(admitted.replay);
        }
        self.mark_dirty(i);
    }

    fn refuse_login(&mut self, i: usize, refused: Refused) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let Refused { code, why } = refused;
        limited!(
            self,
            warn,
            "login refused",
            "refusing login from {}: {why} (code {code})",
            conn.peer
        );
        conn.ctrl.push(&ServerMessage::LoginRejected(LoginRejected { code }));
        conn.session.refuse(code);
        self.metrics.logins_refused.inc();
        self.mark_dirty(i);
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

    fn drain_outputs(&mut self) -> bool {
        let replies = self.take_replies();
        let outputs = self.drain_stream_outputs();
        if replies {
            self.place_answers();
        }
        replies || outputs
    }

    fn drain_stream_outputs(&mut self) -> bool {
        let now = if self.recorder.enabled() { self.clock.now_ns() } else { 0 };
        let IoLoop {
            link,
            logins,
            conns,
            dirty,
            metrics,
            limits,
            recorder,
            durable,
            unreleased,
            ..
        } = self;
        let mut overflowed: Option<usize> = None;
        let n = link.drain(&mut |out: &Output| {
            recorder.record(Stage::ToLog, out.ts_ns, now);
            let slot = &mut logins[out.login as usize];
            slot.log.append_output(out);
            if let Some(progress) = durable {
                // Sent only once its input is on disk (see release_durable).
                let entry = (out.login, out.input_seq, slot.log.end_offset());
                let sessions = (&mut logins[..], &mut conns[..], &mut *dirty);
                hold_until_durable(
                    progress,
                    unreleased,
                    limits.unreleased_capacity,
                    sessions,
                    entry,
                );
                return;
            }
            slot.released_off = slot.log.end_offset();
            metrics.count_output(&out.msg);
            if let Some(ci) = slot.conn
                && let Some(conn) = conns[ci].as_mut()
            {
                if !conn.dirty {
                    conn.dirty = true;
                    dirty.push(ci);
                }
                if conn.oldest_append_ns == 0 {
                    conn.oldest_append_ns = now;
                    conn.oldest_read_ns = out.read_ns;
                }
                if conn.session.backlog(slot.released_off) > limits.backlog_limit_bytes {
                    overflowed = Some(ci);
                }
            }
        });
        if let Some(ci) = overflowed {
            // Checked again in flush for every dirty connection; this catches a
            // single burst that would otherwise outrun the log's retention.
            self.check_backlog(ci);
        }
        n > 0
    }

    /// Releases messages whose inputs the journal has made durable.
    fn release_durable(&mut self) -> bool {
        let IoLoop { durable, unreleased, logins, conns, dirty, control, .. } = self;
        let Some(progress) = durable else { return false };
        if progress.failed.load(Ordering::Relaxed) && !control.shutdown.load(Ordering::Relaxed) {
            log::error!(
                "the journal failed: stopping the gateway (answers cannot be made durable)"
            );
            control.shutdown.store(true, Ordering::SeqCst);
        }
        release_durable_entries(progress, unreleased, logins, conns, dirty) > 0
    }

    fn check_backlog(&mut self, i: usize) -> bool {
        let Some(conn) = self.conns[i].as_ref() else { return false };
        let Some(login) = conn.session.login() else { return true };
        let slot = &self.logins[login as usize];
        if conn.session.over_backlog(slot.released_off, slot.log.start_offset(), &self.limits) {
            self.metrics.slow_consumer_disconnects.inc();
            let why = format!(
                "client is not reading: {} bytes unsent, limit {}",
                conn.session.backlog(slot.released_off),
                self.limits.backlog_limit_bytes
            );
            self.close(i, Some(RejectCode::BACKLOG_EXCEEDED), &why);
            return false;
        }
        true
    }

    fn flush_dirty(&mut self) {
        std::mem::swap(&mut self.dirty, &mut self.dirty_spare);
        let mut list = std::mem::take(&mut self.dirty_spare);
        for &i in &list {
            if let Some(conn) = self.conns[i].as_mut() {
                conn.dirty = false;
            }
            self.flush(i);
        }
        list.clear();
        self.dirty_spare = list;
    }

    /// Writes control frames, then the stream from the cursor, until done or the
    /// socket would block. Ends a draining session once everything is out.
    fn flush(&mut self, i: usize) {
        if !self.check_backlog(i) {
            return;
        }
        let now = self.clock.now_ns();
        let IoLoop { conns, logins, metrics, recorder, .. } = self;
        let Some(conn) = conns[i].as_mut() else { return };
        let mut wrote = 0u64;
        let outcome = (|| -> io::Result<bool> {
            while !conn.ctrl.pending().is_empty() {
                let n = conn.stream.write(conn.ctrl.pending())?;
                conn.ctrl.sent += n;
                wrote += n as u64;
            }
            if let Some(login) = conn.session.login() {
                let slot = &logins[login as usize];
                loop {
                    let (a, b) = slot.log.pending_until(conn.session.cursor, slot.released_off);
                    if a.is_empty() {
                        break;
                    }
                    let n = if b.is_empty() {
                        conn.stream.write(a)?
                    } else {
                        conn.stream.write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)])?
                    };
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "socket accepted nothing",
                        ));
                    }
                    conn.session.cursor += n as u64;
                    wrote += n as u64;
                }
            }
            Ok(true)
        })();
        if wrote > 0 {
            conn.session.sent(now);
            metrics.bytes_sent.add(wrote);
        }
        if outcome.is_ok() && conn.oldest_append_ns != 0 {
            recorder.record(Stage::Write, conn.oldest_append_ns, now);
            recorder.record(Stage::EndToEnd, conn.oldest_read_ns, now);
            conn.oldest_append_ns = 0;
            conn.oldest_read_ns = 0;
            recorder.maybe_swap(now);
        }
        let outcome = outcome.and_then(|_| {
            let wrote = self.write_answers(i)?;
            self.metrics.bytes_sent.add(wrote);
            Ok(())
        });
        match outcome {
            Ok(_) => {}
            Err(e) if would_block(&e) => return,
            Err(e) if interrupted(&e) => {
                self.mark_dirty(i);
                return;
            }
            Err(e) => {
                let why = format!("write error: {e}");
                self.close(i, None, &why);
                return;
            }
        }
        let Some(conn) = self.conns[i].as_mut() else { return };
        // Everything pending is written. A draining session first waits for the
        // engine's answers to what it sent, so they precede its EndOfSession.
        if let ConnState::Draining { .. } = conn.session.state {
            let target = conn.session.drain_after_input;
            let all_released = match conn.session.state {
                ConnState::Draining { login: Some(l), .. } => {
                    let slot = &self.logins[l as usize];
                    slot.released_off == slot.log.end_offset()
                }
                _ => true,
            };
            // A disconnect notice still waiting for room in the ring is not yet
            // counted in `target`: wait for it too.
            let waiting = !self.pending_session_events.is_empty();
            if waiting || !self.link.caught_up(target) || self.drain_outputs() || !all_released {
                self.mark_dirty(i);
                return;
            }
        }
        let IoLoop { conns, logins, .. } = self;
        let Some(conn) = conns[i].as_mut() else { return };
        if let ConnState::Draining { login, reason, .. } = conn.session.state {
            let last_seq = login.map(|l| logins[l as usize].log.last_seq()).unwrap_or(0);
            if let Some(eos) = conn.session.end_of_session(last_seq) {
                conn.ctrl.push(&ServerMessage::EndOfSession(eos));
                // Best effort: the peer gets it unless its window is full.
                let _ = conn.stream.write(conn.ctrl.pending());
            }
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            self.close(i, Some(reason), "session ended");
        }
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

/// Answers waiting for their input to be on disk, oldest first: (login, input
/// sequence, end offset in that login's out log). At most
/// `pipeline.unreleased_capacity` entries.
type Unreleased = std::collections::VecDeque<(LoginIdx, u64, u64)>;

/// Queues one answer until its input is durable; the answers of one input to one
/// login share an entry. The io thread takes no client input while the queue is
/// full, but inputs already in the engine still answer: for those this waits for
/// the journal thread (which syncs on its own) to make the oldest entries durable,
/// so the queue never grows past its limit and no answer is dropped.
fn hold_until_durable(
    progress: &JournalProgress,
    unreleased: &mut Unreleased,
    capacity: usize,
    sessions: (&mut [LoginSlot], &mut [Option<Conn>], &mut Vec<usize>),
    (login, input_seq, end_off): (LoginIdx, u64, u64),
) {
    if let Some(back) = unreleased.back_mut()
        && back.0 == login
        && back.1 == input_seq
    {
        back.2 = end_off;
        return;
    }
    let (logins, conns, dirty) = sessions;
    while unreleased.len() >= capacity {
        if release_durable_entries(progress, unreleased, logins, conns, dirty) > 0 {
            continue;
        }
        if progress.failed.load(Ordering::Relaxed) {
            // Nothing becomes durable any more: the gateway stops (release_durable)
            // and no answer is released, this one included.
            return;
        }
        std::thread::yield_now();
    }
    unreleased.push_back((login, input_seq, end_off));
    assert!(unreleased.len() <= capacity, "the unreleased queue stays within its limit");
}

/// Releases the answers whose inputs are on disk; returns how many entries.
fn release_durable_entries(
    progress: &JournalProgress,
    unreleased: &mut Unreleased,
    logins: &mut [LoginSlot],
    conns: &mut [Option<Conn>],
    dirty: &mut Vec<usize>,
) -> usize {
    let durable = progress.durable.load(Ordering::Acquire);
    let mut released = 0;
    while let Some(&(login, input_seq, end_off)) = unreleased.front() {
        if input_seq > durable {
            break;
        }
        unreleased.pop_front();
        let slot = &mut logins[login as usize];
        assert!(end_off >= slot.released_off, "a login's released offset never goes back");
        slot.released_off = end_off;
        if let Some(ci) = slot.conn
            && let Some(conn) = conns[ci].as_mut()
            && !conn.dirty
        {
            conn.dirty = true;
            dirty.push(ci);
        }
        released += 1;
    }
    released
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}
