//! The admin endpoint: HTTP on its own thread and port (`[admin] listen`).
//!
//! * `GET /metrics`: Prometheus text format ([`exposition`]).
//! * `GET /health`: 200 while the process runs.
//! * `GET /ready`: 200 while the gateway accepts logins, 503 once it shuts down.
//! * `POST /admin/<action>?params`: operator commands ([`actions`]), with
//!   `Authorization: Bearer <[admin] token>`; 202 once queued.
//! * `GET /accounts/{id}/funds|positions|orders|fills`: the risk desk's views of
//!   an account ([`views`]), JSON, with the same token.
//!
//! The same thread is the stage-latency reporter: it merges the pipeline threads'
//! one-second histograms (`StageCollector::collect`) once a second, so `/metrics`
//! always reads a merged, cumulative set and never touches a hot thread's data.
//!
//! One thread serves every client through a mio poll loop with non-blocking
//! sockets: a client that sends slowly, never finishes its request, or never reads
//! its answer holds one of [`MAX_CONNECTIONS`] slots until its deadline, and no
//! one else waits for it. Requests are bounded ([`http::MAX_REQUEST_BYTES`]), every
//! connection closes after one answer, and nothing here can panic on input. The
//! thread allocates freely: it is off the order path.
//!
//! Monitoring must get through a flood of slow clients: when every slot is taken,
//! a newcomer takes the slot of a client that has not finished its request (else
//! of one lingering after its answer), chosen from the address holding the most
//! slots, oldest first; the client cut off is told `503`. A scraper, which sends
//! its whole request at once, is answered before a flood can reach it; a client
//! being answered is never cut. Only when every slot is writing an answer is a
//! newcomer turned away (`503`).

pub mod actions;
pub mod exposition;
pub mod http;
pub mod views;

use std::cmp::Reverse;
use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use log::{info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use subtle::ConstantTimeEq;

use crate::clock::Clock;
use crate::config::{Durability, GatewayConfig, Topology};
use crate::input::AdminCommand;
use crate::metrics::{StageCollector, StageSet};
use crate::pipeline::{AdminHandle, Running, StartError};
use crate::server::DeskQueries;
use crate::wait::WaitStrategy;
use actions::{ActionError, Catalog};
use exposition::{HttpCounts, Sources, StaticInfo};
use http::{Parsed, Request, Response};

/// Most clients served at once. Past it a newcomer displaces an unfinished request
/// (see the module's notes), or is answered 503 when every slot is answering.
pub const MAX_CONNECTIONS: usize = 32;
/// A client must send its whole request within this time.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// A client must take its whole answer within this time.
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may keep its side open after its answer was sent.
pub const LINGER: Duration = Duration::from_secs(1);
/// How often the stage collector merges the threads' intervals.
const COLLECT_EVERY: Duration = Duration::from_secs(1);

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

/// The running admin endpoint; stops (and joins its thread) when dropped.
#[derive(Debug)]
pub struct AdminServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

impl AdminServer {
    /// Binds `listen` and starts the admin thread for a running gateway: takes its
    /// stage collector, its command queue, its counters and journal positions.
    pub fn start(
        listen: SocketAddr,
        config: &GatewayConfig,
        running: &mut Running,
        clock: Clock,
    ) -> io::Result<AdminServer> {
        let journal = (config.journal.durability != Durability::None)
            .then(|| Arc::clone(&running.journal_progress));
        let mut listener = TcpListener::bind(listen).map_err(|e| {
            io::Error::new(e.kind(), format!("admin endpoint admin.listen on {listen}: {e}"))
        })?;
        let addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = Arc::new(AtomicBool::new(false));
        let state = State {
            poll,
            listener,
            conns: (0..MAX_CONNECTIONS).map(|_| None).collect(),
            token: config.admin.token.clone(),
            commands: running.admin(),
            shutdown: running.shutdown_flag(),
            clock,
            catalog: catalog(config),
            sources: Sources {
                io: Arc::clone(&running.io_metrics),
                engine: Arc::clone(&running.engine_stats),
                journal,
                info: static_info(config, running, clock),
            },
            collector: running.take_stage_collector(),
            empty: StageSet::new(),
            http: HttpCounts::default(),
            stop: Arc::clone(&stop),
            accepted: 0,
            desk: running.desk(),
            tickets: 0,
        };
        let thread = std::thread::Builder::new().name("bw-admin".into()).spawn(move || {
            let mut state = state;
            if let Err(e) = state.run() {
                warn!("admin endpoint stopped: {e}");
            }
        })?;
        info!("admin endpoint on http://{addr}: /metrics /health /ready /admin/<action>");
        Ok(AdminServer { addr, stop, waker, thread: Some(thread) })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl crate::pipeline::Attachment for AdminServer {
    fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Starts the admin endpoint for a gateway that has just started, when
/// `[admin] listen` is set (called by [`crate::start`]). On error the gateway is
/// dropped, which stops the threads it started.
pub fn attach(config: &GatewayConfig, mut running: Running) -> Result<Running, StartError> {
    if let Some(listen) = config.admin.listen {
        let clock = running.clock;
        let server = AdminServer::start(listen, config, &mut running, clock)?;
        running.attach(Box::new(server));
    }
    Ok(running)
}

fn catalog(config: &GatewayConfig) -> Catalog {
    Catalog {
        securities: config.exchange.instruments.iter().map(|i| i.security).collect(),
        accounts: config.risk.accounts.iter().map(|a| a.id).collect::<HashSet<_>>(),
    }
}

fn wait_name(w: WaitStrategy) -> &'static str {
    match w {
        WaitStrategy::BusySpin => "busy-spin",
        WaitStrategy::Yield { .. } => "yield",
        WaitStrategy::SpinThenPark { .. } => "spin-then-park",
    }
}

fn static_info(config: &GatewayConfig, running: &Running, clock: Clock) -> StaticInfo {
    let r = running.resolved;
    StaticInfo {
        version: env!("CARGO_PKG_VERSION"),
        topology: if r.topology == Topology::Pipelined { "pipelined" } else { "fused" },
        io_wait: wait_name(r.io_wait),
        engine_wait: wait_name(r.engine_wait),
        durability: match config.journal.durability {
            Durability::None => "none",
            Durability::Async => "async",
            Durability::Sync => "sync",
        },
        stage_metrics: config.admin.stage_metrics,
        logins: config.logins.iter().map(|l| l.username.to_string()).collect(),
        in_ring_capacity: config.pipeline.in_ring_capacity as u64,
        out_ring_capacity: config.pipeline.out_ring_capacity as u64,
        max_sessions: config.server.max_sessions as u64,
        backlog_limit_bytes: config.outbound.backlog_limit_bytes,
        start_time_s: clock.now_ns() as f64 / 1e9,
    }
}

/// Where a client's one exchange stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// Reading the request.
    Reading,
    /// Writing the answer.
    Writing,
    /// Answer sent and our side shut: reading (and dropping) whatever the client
    /// still sends until it closes, so that closing does not reset the connection
    /// and destroy the answer in flight (a "lingering close").
    Lingering,
}

/// One client.
#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// Accept order: the oldest unfinished request is displaced first.
    serial: u64,
    request: Vec<u8>,
    answer: Vec<u8>,
    written: usize,
    phase: Phase,
    deadline: Instant,
}

/// The admin thread's state.
struct State {
    poll: Poll,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    token: Option<String>,
    commands: AdminHandle,
    shutdown: Arc<AtomicBool>,
    clock: Clock,
    catalog: Catalog,
    sources: Sources,
    collector: Option<StageCollector>,
    empty: StageSet,
    http: HttpCounts,
    stop: Arc<AtomicBool>,
    accepted: u64,
    /// The engine exchange for account views, and the last ticket used.
    desk: DeskQueries,
    tickets: u64,
}

impl State {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(64);
        let mut next_collect = Instant::now() + COLLECT_EVERY;
        while !self.stop.load(Ordering::SeqCst) {
            let timeout = next_collect
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(100));
            if let Err(e) = self.poll.poll(&mut events, Some(timeout))
                && e.kind() != io::ErrorKind::Interrupted
            {
                return Err(e);
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    LISTENER => self.accept(),
                    Token(i) => self.serve(i),
                }
            }
            let now = Instant::now();
            self.expire(now);
            if now >= next_collect {
                next_collect = now + COLLECT_EVERY;
                if let Some(c) = &mut self.collector {
                    c.collect(|_| {});
                }
            }
        }
        Ok(())
    }

    fn accept(&mut self) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(x) => x,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!("admin endpoint: accept failed: {e}");
                    return;
                }
            };
            let free = self.conns.iter().position(Option::is_none);
            let Some(slot) = free.or_else(|| self.displace()) else {
                // Best effort, never blocking: the socket is fresh, so this small
                // answer fits its send buffer.
                let busy = Response::text(503, "admin endpoint busy, try again\n");
                let _ = stream.write(&busy.to_bytes());
                self.http.count(503);
                continue;
            };
            if self.poll.registry().register(&mut stream, Token(slot), Interest::READABLE).is_err()
            {
                continue;
            }
            self.accepted += 1;
            self.conns[slot] = Some(Conn {
                stream,
                peer,
                serial: self.accepted,
                request: Vec::with_capacity(1024),
                answer: Vec::new(),
                written: 0,
                phase: Phase::Reading,
                deadline: Instant::now() + REQUEST_TIMEOUT,
            });
            // Edge-triggered: data may already be waiting.
            self.serve(slot);
        }
    }

    /// Frees a slot for a newcomer when every slot is taken: the client to cut is
    /// one still sending its request (else one lingering after its answer), from
    /// the address that holds the most slots, the oldest first. A client being
    /// answered is never cut. The client cut off from its request is told 503
    /// (best effort: its socket has room for that small answer).
    fn displace(&mut self) -> Option<usize> {
        let held = |ip| self.conns.iter().flatten().filter(|c| c.peer.ip() == ip).count();
        let (_, _, _, victim) = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                let c = c.as_ref()?;
                let phase_rank = match c.phase {
                    Phase::Reading => 0,
                    Phase::Lingering => 1,
                    Phase::Writing => return None,
                };
                Some((Reverse(held(c.peer.ip())), phase_rank, c.serial, i))
            })
            .min()?;
        if let Some(conn) = self.conns[victim].as_mut()
            && conn.phase == Phase::Reading
        {
            let busy = Response::text(503, "admin endpoint busy: request not finished in time\n");
            let _ = conn.stream.write(&busy.to_bytes());
            self.http.count(503);
        }
        self.close(victim);
        Some(victim)
    }

    /// Moves a client's exchange on as far as its socket allows.
    fn serve(&mut self, i: usize) {
        let Some(conn) = self.conns.get(i).and_then(Option::as_ref) else { return };
        match conn.phase {
            Phase::Reading => self.read_request(i),
            Phase::Writing => self.write_answer(i),
            Phase::Lingering => self.linger(i),
        }
    }

    /// Reads the request; once it is whole (or refused), prepares the answer.
    fn read_request(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let mut buf = [0u8; 4096];
        let mut eof = false;
        loop {
            let room = http::MAX_REQUEST_BYTES - conn.request.len();
            if room == 0 {
                break;
            }
            let want = room.min(buf.len());
            match conn.stream.read(&mut buf[..want]) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => conn.request.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i),
            }
        }
        let response = match http::parse(&conn.request) {
            Parsed::Incomplete if eof => return self.close(i),
            Parsed::Incomplete => return,
            Parsed::Bad(status, why) => Response::text(status, format!("{why}\n")),
            Parsed::Done(request) => {
                let peer = conn.peer;
                self.route(&request, peer)
            }
        };
        self.answer(i, &response);
    }

    /// Starts writing `response` to client `i`.
    fn answer(&mut self, i: usize, response: &Response) {
        self.http.count(response.status);
        let Some(conn) = self.conns[i].as_mut() else { return };
        conn.answer = response.to_bytes();
        conn.written = 0;
        conn.phase = Phase::Writing;
        conn.deadline = Instant::now() + RESPONSE_TIMEOUT;
        let _ = self.poll.registry().reregister(&mut conn.stream, Token(i), Interest::WRITABLE);
        self.write_answer(i);
    }

    fn write_answer(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        while conn.written < conn.answer.len() {
            match conn.stream.write(&conn.answer[conn.written..]) {
                Ok(0) => return self.close(i),
                Ok(n) => conn.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i),
            }
        }
        let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        conn.phase = Phase::Lingering;
        conn.deadline = Instant::now() + LINGER;
        conn.answer = Vec::new();
        let _ = self.poll.registry().reregister(&mut conn.stream, Token(i), Interest::READABLE);
        self.linger(i);
    }

    fn linger(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let mut buf = [0u8; 4096];
        loop {
            match conn.stream.read(&mut buf) {
                Ok(0) => return self.close(i),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return self.close(i),
            }
        }
    }

    fn close(&mut self, i: usize) {
        if let Some(mut conn) = self.conns[i].take() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
    }

    /// Drops clients past their deadline; one that never finished its request is
    /// told so (best effort).
    fn expire(&mut self, now: Instant) {
        for i in 0..self.conns.len() {
            let Some(conn) = self.conns[i].as_ref() else { continue };
            if now < conn.deadline {
                continue;
            }
            if conn.phase == Phase::Reading {
                self.answer(i, &Response::text(408, "request timeout\n"));
            } else {
                self.close(i);
            }
        }
    }

    fn route(&mut self, req: &Request, peer: SocketAddr) -> Response {
        let get = req.method == "GET";
        match req.path.as_str() {
            "/metrics" | "/health" | "/ready" | "/" if !get => {
                Response::text(405, "use GET\n").with_header("Allow", "GET")
            }
            "/metrics" => self.metrics(),
            "/health" => Response::text(200, "ok\n"),
            "/ready" if self.ready() => Response::text(200, "ready\n"),
            "/ready" => Response::text(503, "shutting down\n"),
            "/" => Response::text(
                200,
                "Breakwater admin endpoint: GET /metrics, GET /health, GET /ready, \
                 POST /admin/<action>?params (see docs/operations.md)\n",
            ),
            path if path.starts_with("/accounts/") => {
                if !get {
                    return Response::json_error(405, "account views are GET requests")
                        .with_header("Allow", "GET");
                }
                self.view(&path["/accounts/".len()..], req, peer)
            }
            path => match path.strip_prefix("/admin/") {
                Some(action) if req.method == "POST" => self.action(action, req, peer),
                Some(_) => Response::json_error(405, "admin actions are POST requests")
                    .with_header("Allow", "POST"),
                None => Response::text(404, "not found: try /metrics, /health, /ready\n"),
            },
        }
    }

    fn ready(&self) -> bool {
        !self.shutdown.load(Ordering::Relaxed)
    }

    fn metrics(&mut self) -> Response {
        if let Some(c) = &mut self.collector {
            // Fresh figures for the scrape (cheap: merges at most a few sets).
            c.collect(|_| {});
        }
        let stages = self.collector.as_ref().map_or(&self.empty, |c| &c.total);
        let mut body = String::with_capacity(64 * 1024);
        exposition::render(&mut body, &self.sources, stages, &self.http, self.ready());
        Response {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            ..Response::text(200, body)
        }
    }

    /// An account view for the risk desk: token required, answered by the engine.
    fn view(&mut self, rest: &str, req: &Request, peer: SocketAddr) -> Response {
        if let Some(refused) = self.refuse_token(rest, req, peer) {
            return refused;
        }
        let pairs = match http::query_pairs(&req.query) {
            Ok(p) => p,
            Err(e) => return Response::json_error(400, &e),
        };
        let query = match views::parse(rest, &pairs, &self.catalog.accounts) {
            Ok(q) => q,
            Err((status, message)) => return Response::json_error(status, &message),
        };
        self.tickets += 1;
        let answer = views::ask(&self.desk, self.tickets, query).and_then(|a| views::to_json(&a));
        match answer {
            Ok(json) => Response::json(200, format!("{json}\n")),
            Err((status, message)) => Response::json_error(status, &message),
        }
    }

    /// `None` when the request carries the admin token; else the refusal.
    fn refuse_token(&self, what: &str, req: &Request, peer: SocketAddr) -> Option<Response> {
        let Some(token) = &self.token else {
            warn!("admin: {peer} asked for {what}: refused, no admin token is configured");
            return Some(Response::json_error(
                403,
                "admin actions are disabled: no [admin] token is configured",
            ));
        };
        let presented = req.authorization.as_deref().and_then(http::bearer_token);
        let Some(presented) = presented else {
            warn!("admin: {peer} asked for {what} without a bearer token: refused");
            return Some(unauthorized("missing Authorization: Bearer <admin token>"));
        };
        if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
            warn!("admin: {peer} asked for {what} with a wrong token: refused");
            return Some(unauthorized("wrong admin token"));
        }
        None
    }

    fn action(&mut self, action: &str, req: &Request, peer: SocketAddr) -> Response {
        let Some(token) = &self.token else {
            warn!("admin: {peer} asked for {action}: refused, no admin token is configured");
            return Response::json_error(
                403,
                "admin actions are disabled: no [admin] token is configured",
            );
        };
        let presented = req.authorization.as_deref().and_then(http::bearer_token);
        let Some(presented) = presented else {
            warn!("admin: {peer} asked for {action} without a bearer token: refused");
            return unauthorized("missing Authorization: Bearer <admin token>");
        };
        // Constant time in the token's contents (a length mismatch fails early,
        // which reveals only the length).
        if !bool::from(presented.as_bytes().ct_eq(token.as_bytes())) {
            warn!("admin: {peer} asked for {action} with a wrong token: refused");
            return unauthorized("wrong admin token");
        }
        let pairs = match http::query_pairs(&req.query) {
            Ok(p) => p,
            Err(e) => return Response::json_error(400, &format!("{action}: {e}")),
        };
        let command = match actions::parse_action(action, pairs, &self.catalog, self.clock.now_ns())
        {
            Ok(c) => c,
            Err(ActionError::UnknownAction(a)) => {
                let message = format!(
                    "unknown action {a:?}: expected one of {}",
                    actions::ACTIONS.join(", ")
                );
                return Response::json_error(404, &message);
            }
            Err(ActionError::BadParameter(message)) => {
                warn!("admin: {peer} asked for {action}?{}: refused: {message}", req.query);
                return Response::json_error(400, &message);
            }
        };
        self.submit(action, command, peer)
    }

    fn submit(&mut self, action: &str, command: AdminCommand, peer: SocketAddr) -> Response {
        if self.commands.submit(command).is_err() {
            warn!("admin: {peer} asked for {action}: the command queue is full");
            return Response::json_error(503, "the operator command queue is full; try again")
                .with_header("Retry-After", "1");
        }
        info!("admin: {peer} queued {action}: {command:?}");
        let body = format!(
            "{{\"status\":\"queued\",\"action\":{},\"command\":{}}}\n",
            http::json_string(action),
            http::json_string(&format!("{command:?}"))
        );
        Response::json(202, body)
    }
}

fn unauthorized(message: &str) -> Response {
    Response::json_error(401, message)
        .with_header("WWW-Authenticate", "Bearer realm=\"breakwater\"")
}
