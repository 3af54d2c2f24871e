//! The FIX 4.4 front door: its own port, one `fix::Session` per configured
//! counterparty (docs/fix.md). The gateway serves it on the io thread
//! (`IoLoop::attach_fix_door`: the door's sockets join the io loop's poll, so a
//! FIX order and its ExecutionReport cross no thread the binary door's do not);
//! [`FixDoor::start`] runs one on a thread of its own (a standalone reflector).
//!
//! The session layer lives in the pure `fix` crate (bytes and the time in,
//! actions out); this module only moves bytes between sockets and sessions on
//! the wall clock. A new connection is bound to its session by the SenderCompID
//! of its Logon, read before anything is answered; a connection for a session
//! that already has one, with an unknown CompID, or whose first message is not a
//! Logon is closed without an answer (docs/fix.md, section 1).
//!
//! Each session trades as a configured login: when it logs on, the door asks
//! the io thread to attach it to the login's stream (`crate::fix_link`); its
//! orders then go into the engine's input stream like a binary session's, and
//! the login's stream comes back message by message, mapped to ExecutionReports
//! by the session. In reflector mode (docs/fix.md, section 9) application
//! messages are echoed instead and nothing reaches the engine, so FIX engines'
//! session-level conformance suites can drive the door.
//!
//! Sessions live as long as the gateway process: their sequence numbers
//! continue across reconnections. After a restart a session starts again at 1
//! and follows its login's stream from its end (the session facts are not
//! journaled yet, so a FIX resend cannot reach back past a restart).
//!
//! Every buffer is bounded: a session's outbound buffer and logs by its
//! configuration, a connection's receive buffer by two messages, the number of
//! connections by `FixDoorSettings::max_connections`.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use std::collections::VecDeque;

use fix::frame::{Scan, scan};
use fix::session::{Action, AppError, logon_sender_comp_id};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use protocol::codec::Sequenced;

use crate::config::fix_door::{FixDoorSettings, READ_BUFFER_BYTES};
use crate::fix_link::{FixLink, ToDoor, ToIo};
use crate::lograte::{LogLimiter, WINDOW_NS};
use crate::metrics::FixMetrics;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);
/// The timers (heartbeats, TestRequest, Logon and Logout timeouts) are in
/// seconds; the loop wakes at least this often to run them.
const TICK: Duration = Duration::from_millis(20);
/// How long a shutdown waits for counterparties to answer our Logout.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// No FIX message is shorter (`8=FIX.4.4|9=5|35=0|10=000|` is 26 bytes): bytes
/// fed to a session hold at most one message per this many.
const MIN_MESSAGE_BYTES: usize = 24;

/// The running door.
#[derive(Debug)]
pub struct FixDoor {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl FixDoor {
    /// Binds the listener and starts the door's thread. It stops (logging every
    /// session out first) when `shutdown` is set or [`FixDoor::stop`] is called.
    /// `link` joins it to the io thread (`None`: reflector mode).
    pub fn start(
        settings: &FixDoorSettings,
        shutdown: Arc<AtomicBool>,
        link: Option<Arc<FixLink>>,
        sessions: Vec<fix::Session>,
    ) -> io::Result<FixDoor> {
        assert_eq!(sessions.len(), settings.sessions.len(), "one session per configured one");
        let poll = Poll::new()?;
        let mut listener = TcpListener::bind(settings.listen)?;
        let addr = listener.local_addr()?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        if let Some(link) = &link {
            link.set_door_waker(Arc::clone(&waker));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mode = if link.is_some() { "orders to the engine" } else { "reflector mode" };
        let registry = poll.registry().try_clone()?;
        let sockets = DoorSockets { registry, listener, listener_token: LISTENER, token_base: 0 };
        let mut door = Door::new(settings, sockets, link, sessions, Arc::default());
        let flags = (Arc::clone(&stop), shutdown);
        let thread = std::thread::Builder::new().name("fix-door".into()).spawn(move || {
            if let Err(e) = door.run(poll, &flags.0, &flags.1) {
                log::error!("FIX door stopped: {e}");
            }
        })?;
        log::info!("FIX door listening on {addr} ({} sessions, {mode})", settings.sessions.len());
        Ok(FixDoor { addr, stop, waker, thread: Some(thread) })
    }

    /// Where the door listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Logs every session out and stops the thread.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// New sessions, one per configured counterparty (no past to rebuild).
    pub fn fresh_sessions(settings: &FixDoorSettings) -> Vec<fix::Session> {
        settings.sessions.iter().cloned().map(fix::Session::new).collect()
    }

    /// Waits for the thread to end (after the shutdown flag was set).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One TCP connection: bound to a session once its Logon names one.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    session: Option<usize>,
    /// Bytes read and not yet taken (before the Logon, or while the session's
    /// outbound buffer is too full to answer more).
    rx: Vec<u8>,
    opened_ns: u64,
    /// Reading stopped with bytes still in the socket: read again after a flush.
    read_pending: bool,
    closing: bool,
}

/// Where a door's sockets go: the poll's registry, the listener (registered as
/// `listener_token`), and the first token of its connections.
pub(crate) struct DoorSockets {
    pub(crate) registry: Registry,
    pub(crate) listener: TcpListener,
    pub(crate) listener_token: Token,
    pub(crate) token_base: usize,
}

/// The door's sessions and connections, driven by its own thread
/// ([`FixDoor::start`]) or by the io loop (`IoLoop::attach_fix_door`): events
/// in, [`Door::turn`] for timers and the link, never blocking.
pub(crate) struct Door {
    registry: Registry,
    listener: TcpListener,
    listener_token: Token,
    /// Connection `i` is registered as `Token(token_base + i)`.
    token_base: usize,
    /// When the Logout of every session was sent (the gateway is stopping).
    stopping: Option<Instant>,
    last_timers: Instant,
    sessions: Vec<fix::Session>,
    /// Per session: the connection bound to it.
    bound: Vec<Option<usize>>,
    conns: Vec<Option<Conn>>,
    max_pending: usize,
    max_message: usize,
    /// A connection's receive buffer: two messages.
    rx_limit: usize,
    logon_timeout_ns: u64,
    actions: Vec<Action>,
    read_buf: Box<[u8]>,
    logs: LogLimiter,
    /// Outside reflector mode: the io thread, and per session its state there.
    link: Option<Arc<FixLink>>,
    links: Vec<SessionState>,
    /// Something was queued for the io thread this turn: wake it once.
    io_due: bool,
    /// A session has messages waiting in its spill or a held stream message.
    pump_due: bool,
    metrics: Arc<FixMetrics>,
}

/// A session's side of its link to the io thread.
struct SessionState {
    /// Attach sent and not refused or dropped: Detach is owed when it ends.
    attached: bool,
    /// Messages for the io thread that found its queue full, in order; while any
    /// wait, the session is fed no more bytes (so this stays bounded).
    spill: VecDeque<ToIo>,
    /// A stream message the session could not take yet (outbound full).
    held: Option<Sequenced>,
}

fn wall_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl Door {
    /// A door on `sockets.listener` (registered already), its connections
    /// registered from `sockets.token_base` up.
    pub(crate) fn new(
        settings: &FixDoorSettings,
        sockets: DoorSockets,
        link: Option<Arc<FixLink>>,
        sessions: Vec<fix::Session>,
        metrics: Arc<FixMetrics>,
    ) -> Door {
        let DoorSockets { registry, listener, listener_token, token_base } = sockets;
        let max_message = settings.sessions.iter().map(|s| s.max_message_len).max().unwrap_or(4096);
        let logon_timeout_ns =
            settings.sessions.iter().map(|s| s.logon_timeout_ns).max().unwrap_or(10_000_000_000);
        Door {
            registry,
            listener,
            listener_token,
            token_base,
            stopping: None,
            last_timers: Instant::now(),
            sessions,
            bound: vec![None; settings.sessions.len()],
            conns: (0..settings.max_connections).map(|_| None).collect(),
            max_pending: settings.max_connections - settings.sessions.len(),
            max_message,
            rx_limit: 2 * max_message,
            logon_timeout_ns,
            actions: Vec::with_capacity(64),
            read_buf: vec![0u8; READ_BUFFER_BYTES].into_boxed_slice(),
            logs: LogLimiter::new(WINDOW_NS),
            links: settings
                .sessions
                .iter()
                .map(|_| SessionState {
                    attached: false,
                    // One on_bytes call sees at most the session's own receive
                    // buffer (two messages) and what is fed (two more).
                    spill: VecDeque::with_capacity(4 * max_message / MIN_MESSAGE_BYTES + 8),
                    held: None,
                })
                .collect(),
            link,
            io_due: false,
            pump_due: false,
            metrics,
        }
    }

    fn run(&mut self, mut poll: Poll, stop: &AtomicBool, shutdown: &AtomicBool) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        loop {
            if let Err(e) = poll.poll(&mut events, Some(TICK))
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
            for event in events.iter() {
                if event.token() != WAKER {
                    self.on_event(event);
                }
            }
            // A thread of its own cannot tell the io thread's wake-ups apart.
            self.turn(true);
            if std::mem::take(&mut self.io_due)
                && let Some(link) = &self.link
            {
                link.wake_io();
            }
            if stop.load(Ordering::Acquire) || shutdown.load(Ordering::Acquire) {
                self.begin_shutdown();
            }
            if self.finished() {
                return Ok(());
            }
        }
    }

    /// Whether `token` is one of the door's.
    pub(crate) fn owns(&self, token: Token) -> bool {
        token == self.listener_token
            || (token.0 >= self.token_base && token.0 < self.token_base + self.conns.len())
    }

    /// One readiness event for the listener or a connection.
    pub(crate) fn on_event(&mut self, event: &mio::event::Event) {
        if event.token() == self.listener_token {
            return self.accept(self.stopping.is_some());
        }
        let i = event.token().0 - self.token_base;
        if event.is_readable() || event.is_read_closed() || event.is_error() {
            self.read(i);
        }
        self.flush(i);
        self.read_if_pending(i);
    }

    /// The timers (at most every few milliseconds) and the link to the io loop;
    /// true when anything moved on the link. `fed`: the io loop put something in
    /// a session's queue since the last turn. A turn with nothing to do costs a
    /// clock read, not a pass over every session.
    pub(crate) fn turn(&mut self, fed: bool) -> bool {
        if self.last_timers.elapsed() >= Duration::from_millis(5) {
            self.last_timers = Instant::now();
            self.timers();
            self.pump_due = true;
        }
        if !(fed || self.pump_due) {
            return false;
        }
        self.pump()
    }

    /// The gateway is stopping: every session is sent a Logout (once).
    pub(crate) fn begin_shutdown(&mut self) {
        if self.stopping.is_none() {
            self.stopping = Some(Instant::now());
            self.log_everyone_out();
        }
    }

    /// After [`Door::begin_shutdown`]: true (and every connection closed) once
    /// each counterparty answered its Logout, or the grace period passed.
    pub(crate) fn finished(&mut self) -> bool {
        let Some(since) = self.stopping else { return false };
        if self.conns.iter().all(Option::is_none) || since.elapsed() > SHUTDOWN_GRACE {
            for i in 0..self.conns.len() {
                self.close(i, "gateway shutting down");
            }
            return true;
        }
        false
    }

    fn accept(&mut self, stopping: bool) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(s) => s,
                Err(e) if would_block(&e) => return,
                Err(e) => {
                    self.warn("fix-accept-error", &format!("FIX door: accept failed: {e}"));
                    return;
                }
            };
            let pending = self.conns.iter().flatten().filter(|c| c.session.is_none()).count();
            let free = self.conns.iter().position(Option::is_none);
            let (false, Some(slot), true) = (stopping, free, pending < self.max_pending) else {
                self.warn(
                    "fix-refused",
                    &format!("FIX door: refused {peer}: no room for another connection"),
                );
                self.metrics.connections_refused.inc();
                continue; // dropped: closes the socket
            };
            let token = Token(self.token_base + slot);
            if let Err(e) =
                self.registry.register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)
            {
                self.warn("fix-register", &format!("FIX door: cannot register {peer}: {e}"));
                continue;
            }
            let _ = stream.set_nodelay(true);
            self.metrics.connections_accepted.inc();
            self.conns[slot] = Some(Conn {
                stream,
                peer,
                session: None,
                rx: Vec::with_capacity(self.max_message),
                opened_ns: wall_ns(),
                read_pending: false,
                closing: false,
            });
        }
    }

    /// Reads what the socket has (until it would block, or the session cannot
    /// take more) and hands it to the connection's session.
    fn read(&mut self, i: usize) {
        loop {
            let Some(conn) = self.conns[i].as_mut() else { return };
            if conn.closing {
                return;
            }
            if conn.rx.len() >= self.rx_limit {
                conn.read_pending = true; // the session is behind: read after a flush
                return;
            }
            let room = (self.rx_limit - conn.rx.len()).min(self.read_buf.len());
            match conn.stream.read(&mut self.read_buf[..room]) {
                Ok(0) => return self.close(i, "peer closed"),
                Ok(n) => {
                    self.metrics.bytes_received.add(n as u64);
                    conn.rx.extend_from_slice(&self.read_buf[..n]);
                    conn.read_pending = false;
                }
                Err(e) if would_block(&e) => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i, "read error"),
            }
            if !self.take_input(i) {
                return;
            }
        }
    }

    /// Binds the connection to its session once the Logon has come, then feeds
    /// the session. False when the connection closed.
    fn take_input(&mut self, i: usize) -> bool {
        let Some(conn) = self.conns[i].as_mut() else { return false };
        let session = match conn.session {
            Some(s) => s,
            None => match self.identify(i) {
                Some(s) => s,
                None => return self.conns[i].is_some(),
            },
        };
        let budget = self.feed_budget(session);
        let conn = self.conns[i].as_mut().expect("identified connection is open");
        let feed = conn.rx.len().min(budget);
        if feed == 0 && !conn.rx.is_empty() {
            conn.read_pending = true; // the io thread is behind: go on after `pump`
            return true;
        }
        let taken = self.sessions[session].on_bytes(&conn.rx[..feed], wall_ns(), &mut self.actions);
        conn.rx.drain(..taken);
        self.apply_actions(session);
        self.flush(i);
        self.conns[i].is_some()
    }

    /// How many bytes the session may be fed now: unlimited in reflector mode;
    /// otherwise none while earlier messages for the io thread wait, and no more
    /// than the messages its queue has room for could take.
    fn feed_budget(&self, session: usize) -> usize {
        let Some(link) = &self.link else { return usize::MAX };
        if !self.links[session].spill.is_empty() {
            return 0;
        }
        let queue = &link.sessions[session].to_io;
        // One slot kept for the Detach that may follow.
        let room = (queue.capacity() - queue.len()).saturating_sub(1);
        room * MIN_MESSAGE_BYTES
    }

    /// The session a new connection's Logon names; closes the connection when
    /// there is none to give it. `None` also while the Logon is incomplete.
    fn identify(&mut self, i: usize) -> Option<usize> {
        let conn = self.conns[i].as_ref()?;
        let comp_id = logon_sender_comp_id(&conn.rx, self.max_message);
        let Some(comp_id) = comp_id else {
            return match scan(&conn.rx, self.max_message) {
                Scan::Incomplete => None,
                _ => {
                    self.close(i, "first message is not a Logon");
                    None
                }
            };
        };
        let found =
            self.sessions.iter().position(|s| s.config().login.comp_id.as_bytes() == comp_id);
        let Some(s) = found else {
            self.close(i, "Logon from an unknown SenderCompID");
            return None;
        };
        if self.sessions[s].is_connected() || self.bound[s].is_some() {
            self.close(i, "a second connection for a live session");
            return None;
        }
        self.sessions[s].connect(wall_ns());
        self.bound[s] = Some(i);
        self.conns[i].as_mut()?.session = Some(s);
        Some(s)
    }

    fn apply_actions(&mut self, session: usize) {
        let mut disconnect = None;
        let mut actions = std::mem::take(&mut self.actions);
        for &action in &actions {
            match action {
                Action::LoggedOn => {
                    let comp_id = &self.sessions[session].config().login.comp_id;
                    log::info!("FIX session {comp_id} logged on");
                    self.metrics.logons.inc();
                    if self.link.is_some() && !self.links[session].attached {
                        let last = self.sessions[session].last_stream_seq();
                        let from_seq = (last > 0).then_some(last + 1);
                        self.links[session].attached = true;
                        self.send_to_io(session, ToIo::Attach { from_seq });
                    }
                }
                Action::Disconnect(why) => disconnect = Some(why),
                Action::Input(input) => {
                    if self.links[session].attached {
                        self.metrics.inputs.inc();
                        self.send_to_io(session, ToIo::Input(input));
                    }
                }
                // Journaled by the io thread, in order with the session's input.
                Action::Fact(fact) => {
                    if self.link.as_ref().is_some_and(|l| l.journal_facts) {
                        self.send_to_io(session, ToIo::Fact(fact));
                    }
                }
            }
        }
        actions.clear();
        self.actions = actions;
        if let (Some(why), Some(i)) = (disconnect, self.bound[session]) {
            self.flush(i);
            self.close(i, &format!("{why:?}"));
        }
    }

    /// Writes what the connection's session has to send.
    fn flush(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let Some(s) = conn.session else { return };
        let session = &mut self.sessions[s];
        loop {
            let out = session.outbound();
            if out.is_empty() {
                break;
            }
            match conn.stream.write(out) {
                Ok(0) => return self.close(i, "write returned 0"),
                Ok(n) => {
                    self.metrics.bytes_sent.add(n as u64);
                    session.consume_outbound(n);
                }
                Err(e) if would_block(&e) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i, "write error"),
            }
        }
    }

    /// Reading stopped on a full receive buffer: go on once the session took some.
    fn read_if_pending(&mut self, i: usize) {
        if self.conns[i].as_ref().is_some_and(|c| c.read_pending && c.rx.len() < self.rx_limit) {
            self.read(i);
        }
    }

    fn timers(&mut self) {
        let logged_on = self.sessions.iter().filter(|s| s.is_logged_on()).count();
        self.metrics.sessions.set(logged_on as u64);
        let now = wall_ns();
        for s in 0..self.sessions.len() {
            let Some(i) = self.bound[s] else { continue };
            self.sessions[s].on_tick(now, &mut self.actions);
            self.apply_actions(s);
            self.flush(i);
            // Bytes held while the outbound buffer was full.
            if self.conns[i].as_ref().is_some_and(|c| !c.rx.is_empty() && !c.closing) {
                self.take_input(i);
            }
            self.read_if_pending(i);
        }
        for i in 0..self.conns.len() {
            let late = self.conns[i].as_ref().is_some_and(|c| {
                c.session.is_none() && now.saturating_sub(c.opened_ns) >= self.logon_timeout_ns
            });
            if late {
                self.close(i, "no Logon in time");
            }
        }
    }

    fn log_everyone_out(&mut self) {
        let now = wall_ns();
        for s in 0..self.sessions.len() {
            if let Some(i) = self.bound[s] {
                self.sessions[s].logout(b"gateway shutting down", now, &mut self.actions);
                self.apply_actions(s);
                self.flush(i);
            }
        }
        // Connections that never logged on have nobody to say goodbye to.
        for i in 0..self.conns.len() {
            if self.conns[i].as_ref().is_some_and(|c| c.session.is_none()) {
                self.close(i, "gateway shutting down");
            }
        }
    }

    fn close(&mut self, i: usize, why: &str) {
        let Some(mut conn) = self.conns[i].take() else { return };
        conn.closing = true;
        let _ = self.registry.deregister(&mut conn.stream);
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        if let Some(s) = conn.session {
            self.sessions[s].disconnected();
            self.bound[s] = None;
            self.metrics.disconnects.inc();
            if std::mem::take(&mut self.links[s].attached) {
                self.send_to_io(s, ToIo::Detach);
            }
            log::info!(
                "FIX session {} disconnected: {why}",
                self.sessions[s].config().login.comp_id
            );
        } else {
            self.metrics.connections_refused.inc();
            let peer = conn.peer;
            self.warn("fix-closed-unbound", &format!("FIX door: closed {peer}: {why}"));
        }
    }

    /// Queues a message for the io thread, behind any that wait already.
    fn send_to_io(&mut self, session: usize, msg: ToIo) {
        let Some(link) = &self.link else { return };
        let state = &mut self.links[session];
        if state.spill.is_empty() {
            if let Err(msg) = link.sessions[session].to_io.push(msg) {
                state.spill.push_back(msg);
                self.pump_due = true;
            }
        } else {
            state.spill.push_back(msg);
        }
        self.io_due = true;
    }

    /// Moves messages both ways between the sessions and the io thread: what
    /// waits in the spills goes out, and the logins' streams come in.
    fn pump(&mut self) -> bool {
        self.pump_due = false;
        let Some(link) = self.link.clone() else { return false };
        let mut moved = false;
        for s in 0..self.sessions.len() {
            let queues = &link.sessions[s];
            while let Some(&msg) = self.links[s].spill.front() {
                if queues.to_io.push(msg).is_err() {
                    break;
                }
                self.links[s].spill.pop_front();
                self.io_due = true;
                moved = true;
            }
            if !self.links[s].spill.is_empty() {
                self.pump_due = true; // the queue is full: go on next turn
            }
            let mut took = false;
            loop {
                let msg = match self.links[s].held.take() {
                    Some(held) => ToDoor::App(held),
                    None => match queues.to_door.pop() {
                        Some(m) => {
                            took = true;
                            m
                        }
                        None => break,
                    },
                };
                if !self.take_from_io(s, msg) {
                    break;
                }
            }
            if took {
                self.io_due = true; // room for more of the stream
                moved = true;
            }
            if let Some(i) = self.bound[s] {
                self.flush(i);
                if self.conns[i].as_ref().is_some_and(|c| !c.rx.is_empty()) {
                    self.take_input(i);
                }
                self.read_if_pending(i);
            }
        }
        moved
    }

    /// Handles one message from the io thread; false when the session cannot take
    /// more now (the message is held).
    fn take_from_io(&mut self, s: usize, msg: ToDoor) -> bool {
        match msg {
            ToDoor::Attached { next_seq } => {
                // A session with no past starts at the stream's end (a fact).
                if self.sessions[s].follow_stream_from(next_seq, &mut self.actions) {
                    self.apply_actions(s);
                }
            }
            ToDoor::App(m) => match self.sessions[s].on_app(&m) {
                Ok(()) => self.metrics.stream_messages.inc(),
                Err(AppError::Full) => {
                    self.links[s].held = Some(m);
                    self.pump_due = true;
                    return false;
                }
                Err(e @ AppError::StreamGap { .. }) => {
                    // The io thread hands the stream over in order: a gap is a bug.
                    log::error!("FIX session {s}: {e}: logging it out");
                    self.end_session(s, b"gateway error: stream gap");
                }
            },
            ToDoor::Refused(code) => {
                self.links[s].attached = false;
                log::warn!(
                    "FIX session {s}: the login is busy or its stream is gone (code {code})"
                );
                self.end_session(s, b"login already has a live session");
            }
            ToDoor::Dropped => {
                self.links[s].attached = false;
                self.end_session(s, b"fell too far behind its stream");
            }
        }
        true
    }

    /// Starts the Logout handshake (or closes, when not logged on).
    fn end_session(&mut self, s: usize, text: &[u8]) {
        let Some(i) = self.bound[s] else { return };
        if self.sessions[s].is_logged_on() {
            self.sessions[s].logout(text, wall_ns(), &mut self.actions);
            self.apply_actions(s);
            self.flush(i);
        } else {
            self.close(i, "ended by the gateway");
        }
    }

    fn warn(&mut self, site: &'static str, line: &str) {
        if let Some(suffix) = self.logs.admit(site, wall_ns()) {
            log::warn!("{line}{suffix}");
        }
    }
}
