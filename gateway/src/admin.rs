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
//! One thread serves every client ([`serve`]: a mio poll loop with non-blocking
//! sockets, bounded requests, deadlines, and room kept for monitoring under a
//! flood of slow clients); nothing here can panic on input. The thread allocates
//! freely: it is off the order path.

pub mod actions;
pub mod exposition;
pub mod http;
pub mod prometheus;
pub mod serve;
pub mod views;

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use log::{info, warn};
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
use http::{Request, Response};
use serve::{Handler, HttpServer};
pub use serve::{LINGER, MAX_CONNECTIONS, REQUEST_TIMEOUT, RESPONSE_TIMEOUT};

/// How often the stage collector merges the threads' intervals.
const COLLECT_EVERY: Duration = Duration::from_secs(1);

/// The running admin endpoint; stops (and joins its thread) when dropped.
#[derive(Debug)]
pub struct AdminServer {
    server: HttpServer,
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
        let listener = std::net::TcpListener::bind(listen).map_err(|e| {
            io::Error::new(e.kind(), format!("admin endpoint admin.listen on {listen}: {e}"))
        })?;
        let state = State {
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
            next_collect: Instant::now() + COLLECT_EVERY,
            desk: running.desk(),
            tickets: 0,
        };
        let server = HttpServer::start(listener, "admin endpoint", "bw-admin", state)?;
        let addr = server.local_addr();
        info!("admin endpoint on http://{addr}: /metrics /health /ready /admin/<action>");
        Ok(AdminServer { server })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

impl crate::pipeline::Attachment for AdminServer {
    fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
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

/// The admin thread's state.
struct State {
    token: Option<String>,
    commands: AdminHandle,
    shutdown: Arc<AtomicBool>,
    clock: Clock,
    catalog: Catalog,
    sources: Sources,
    collector: Option<StageCollector>,
    empty: StageSet,
    http: HttpCounts,
    /// When the stage collector next merges the threads' intervals.
    next_collect: Instant,
    /// The engine exchange for account views, and the last ticket used.
    desk: DeskQueries,
    tickets: u64,
}

impl Handler for State {
    fn handle(&mut self, req: &Request, peer: SocketAddr) -> Response {
        self.route(req, peer)
    }

    fn answered(&mut self, status: u16) {
        self.http.count(status);
    }

    /// The stage collector merges the threads' intervals once a second.
    fn tick(&mut self, now: Instant) -> Duration {
        if now >= self.next_collect {
            self.next_collect = now + COLLECT_EVERY;
            if let Some(c) = &mut self.collector {
                c.collect(|_| {});
            }
        }
        self.next_collect.saturating_duration_since(now)
    }
}

impl State {
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
        Response { content_type: prometheus::CONTENT_TYPE, ..Response::text(200, body) }
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
