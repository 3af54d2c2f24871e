//! The load generator: one mio event loop for every session.
//!
//! Each turn of the loop reads the clock once, sends every message whose intended
//! time has come (several frames per write when several are due for a session),
//! writes, and polls the sockets: it sleeps in `poll` while the next send is more
//! than two milliseconds away and spins on non-blocking polls for the rest, so a
//! send leaves within microseconds of its time and an answer is stamped when it
//! lands. Latency runs from the *intended* send time, so a late send (the
//! generator's own lag, recorded separately) or a socket the gateway stopped
//! reading (back-pressure) counts against the gateway: no coordinated omission.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use protocol::codec::{
    AppMessage, CancelOrder, ClientMessage, Login, MassCancel, MassCancelScope, NewOrder,
    ReplaceOrder, ServerMessage,
};
use protocol::framing::FrameBuffer;
use protocol::{MAX_FRAME_LEN, OrderType, Price, Qty, RejectCode, Side, TimeInForce};

use crate::clock::{Clock, Rng};
use crate::fixwire::{Answer, FixSession, SeqCheck};
use crate::flow::{Flow, Mix, Next};
use crate::live::IntervalRecord;
use crate::operator::{OperatorAction, OperatorThread};
use crate::queries::Queries;
use crate::scenario::{Action, Scenario, Shape};
use crate::tracker::{Intent, Kind, Outcome, Slot, Tracker, new_histogram};
use crate::universe::Universe;

/// What is on the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A Breakwater gateway: orders trade and must close.
    Gateway,
    /// The echo baseline: answers only.
    Echo,
}

/// Everything a run needs.
pub struct RunSpec<'a> {
    /// The scenario, scaled.
    pub scenario: &'a Scenario,
    /// Instruments, accounts, logins.
    pub universe: &'a Universe,
    /// Where to connect.
    pub addr: SocketAddr,
    /// Gateway or echo.
    pub target: Target,
    /// Operator commands (none for the echo baseline).
    pub operator: Option<OperatorThread>,
    /// Per-interval records go here (progress, metrics, logs).
    pub intervals: mpsc::Sender<IntervalRecord>,
    /// Tag for this run's ids.
    pub tag: u16,
    /// Request-table size.
    pub capacity: usize,
    /// Pin the generator's thread to this core.
    pub pin_core: Option<usize>,
    /// The protocol version to log in with (1 or 2).
    pub protocol_version: u8,
    /// Which of the gateway's front doors the sessions use.
    pub front_door: FrontDoor,
}

/// The gateway's front door a run's sessions use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FrontDoor {
    /// The binary protocol (docs/protocol.md).
    #[default]
    Binary,
    /// FIX 4.4 (docs/fix.md), one FIX session per login (`crate::fixwire`).
    Fix,
}

impl std::fmt::Debug for RunSpec<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunSpec").field("addr", &self.addr).field("target", &self.target).finish()
    }
}

/// One step of a headroom ladder.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LadderStep {
    /// Intended rate, messages per second.
    pub rate_per_s: f64,
    /// Answers in the step.
    pub answers: u64,
    /// p99 answer latency in the step, µs.
    pub p99_us: f64,
    /// Passed the objective.
    pub passed: bool,
}

/// A timed event as it happened.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EventRecord {
    /// Seconds from the profile's start.
    pub t_s: f64,
    /// What.
    pub what: String,
    /// `ok` or why not.
    pub result: String,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunResult {
    /// The request table (counts and latency histograms).
    pub tracker: Tracker,
    /// Schedule lag: actual minus intended send time, ns.
    pub lag: Histogram<u64>,
    /// Events as they happened.
    pub events: Vec<EventRecord>,
    /// Ladder steps, for a ladder scenario.
    pub ladder: Vec<LadderStep>,
    /// Seconds the profile ran (shorter when a ladder stopped).
    pub profile_s: f64,
    /// Scheduled messages (the open-loop schedule) in the measured window.
    pub scheduled: u64,
    /// Messages not sent because no session could take them.
    pub dropped_no_session: u64,
    /// Times a session found the gateway not reading (socket full).
    pub backpressure_events: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Logins refused, by code.
    pub login_failures: Vec<(u16, u64)>,
    /// First unanswered requests (id, kind, session).
    pub unanswered_sample: Vec<(u64, Kind, u16)>,
    /// Problems found by the reconciliation.
    pub problems: Vec<String>,
    /// Queries: counts and the reconciliation of their answers.
    pub queries: crate::queries::QueryCounts,
    /// Query answers: intended send to answer, ns.
    pub query_latency: Histogram<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SState {
    Down { until_ns: u64 },
    AwaitingLogin,
    Active,
    LoggingOut,
    Finished,
}

struct Session {
    login: usize,
    stream: Option<TcpStream>,
    rx: FrameBuffer,
    tx: Vec<u8>,
    tx_pos: usize,
    state: SState,
    last_seq: u64,
    logged_in_once: bool,
    resend_on_login: bool,
    mass_cancel_on_login: bool,
    last_tx_ns: u64,
    last_rx_ns: u64,
    dirty: bool,
    login_retries: u32,
    /// FIX state, when the run uses the FIX door.
    fix: Option<Box<FixSession>>,
}

/// Unsent bytes a session may hold before new messages go to other sessions.
/// The protocol version the harness logs in with unless told otherwise: 1, whose
/// only answer to an order is the venue's (OrderAccepted or OrderRejected). With 2
/// the broker's OrderPending comes first and is timed on its own.
pub const LOGIN_VERSION: u8 = 1;

const TX_LIMIT: usize = 4 << 20;
/// Messages generated per loop turn at most, so reads are never starved.
const BATCH: usize = 2_048;
/// Sleep in poll only when the next send is further away than this.
const SPIN_NS: u64 = 2_000_000;

/// Runs a scenario against `spec.addr` and returns the measurements.
pub fn run(spec: RunSpec<'_>) -> io::Result<RunResult> {
    if let Some(core) = spec.pin_core {
        pin_current_thread(core);
    }
    Driver::new(spec)?.run()
}

struct Driver<'a> {
    s: &'a Scenario,
    u: &'a Universe,
    addr: SocketAddr,
    target: Target,
    protocol_version: u8,
    operator: Option<OperatorThread>,
    intervals: mpsc::Sender<IntervalRecord>,
    clock: Clock,
    poll: Poll,
    sessions: Vec<Session>,
    dirty: Vec<usize>,
    tracker: Tracker,
    flow: Flow,
    mixes: Vec<Mix>,
    lag: Histogram<u64>,
    lag_interval: Histogram<u64>,
    reactions: VecDeque<(u64, ConfirmOrder)>,
    rr: usize,
    events: Vec<EventRecord>,
    undo: Vec<OperatorAction>,
    scratch: Vec<u32>,
    profile_end_ns: u64,
    scheduled: u64,
    sent_interval: u64,
    scheduled_interval: u64,
    answered_interval: u64,
    dropped_no_session: u64,
    backpressure_events: u64,
    reconnects: u64,
    login_failures: Vec<(u16, u64)>,
    ladder: Vec<LadderStep>,
    ladder_step: Option<(usize, u64)>,
    ladder_hist: Histogram<u64>,
    teardown_pending: usize,
    schedule_rng: Rng,
    queries: Queries,
    /// Queries go out (a gateway that speaks version 3).
    queries_on: bool,
}

#[derive(Clone, Copy, Debug)]
struct ConfirmOrder {
    session: u16,
    account: u16,
    instr: u16,
    side: u8,
    price: i64,
    qty: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Profile,
    Teardown,
    Drain,
    Recovery,
    Logout,
}

impl<'a> Driver<'a> {
    fn new(spec: RunSpec<'a>) -> io::Result<Driver<'a>> {
        let s = spec.scenario;
        let u = spec.universe;
        let sessions = (0..u.logins.len())
            .map(|login| Session {
                login,
                stream: None,
                rx: FrameBuffer::new(512 * 1024),
                tx: Vec::with_capacity(TX_LIMIT + 64 * 1024),
                tx_pos: 0,
                state: SState::Down { until_ns: 0 },
                last_seq: 0,
                logged_in_once: false,
                resend_on_login: false,
                mass_cancel_on_login: false,
                last_tx_ns: 0,
                last_rx_ns: 0,
                dirty: false,
                login_retries: 0,
                fix: (spec.front_door == FrontDoor::Fix && spec.target == Target::Gateway)
                    .then(|| Box::new(FixSession::new(login))),
            })
            .collect::<Vec<_>>();
        let mut tracker = Tracker::new(spec.capacity, sessions.len(), spec.tag);
        tracker.measure_from_ns = s.warmup_ns;
        let mixes = s.segments.iter().map(|seg| Mix::of(&s.flow, &seg.flow)).collect();
        let queries_on = spec.target == Target::Gateway
            && spec.protocol_version >= protocol::query::VERSION_QUERIES;
        let mut queries =
            Queries::new(u, spec.tag, if queries_on { s.flow.query_every_ms } else { 0 });
        queries.measure_from_ns = s.warmup_ns;
        Ok(Driver {
            s,
            u,
            addr: spec.addr,
            target: spec.target,
            protocol_version: spec.protocol_version,
            operator: spec.operator,
            intervals: spec.intervals,
            clock: Clock::new(),
            poll: Poll::new()?,
            dirty: Vec::with_capacity(sessions.len()),
            sessions,
            tracker,
            flow: Flow::new(u, &s.flow, s.seed),
            mixes,
            lag: new_histogram(),
            lag_interval: new_histogram(),
            reactions: VecDeque::with_capacity(4096),
            rr: 0,
            events: Vec::new(),
            undo: Vec::new(),
            scratch: Vec::with_capacity(4096),
            profile_end_ns: s.warmup_ns + s.duration_ns(),
            scheduled: 0,
            sent_interval: 0,
            scheduled_interval: 0,
            answered_interval: 0,
            dropped_no_session: 0,
            backpressure_events: 0,
            reconnects: 0,
            login_failures: Vec::new(),
            ladder: Vec::new(),
            ladder_step: None,
            ladder_hist: new_histogram(),
            teardown_pending: 0,
            schedule_rng: Rng::new(s.seed ^ 0x5C4E_D01E),
            queries,
            queries_on,
        })
    }

    fn run(mut self) -> io::Result<RunResult> {
        // Log everyone in before the clock starts counting the schedule.
        for i in 0..self.sessions.len() {
            self.connect(i, 0);
        }
        let mut events = Events::with_capacity(1024);
        let login_deadline = self.clock.now_ns() + 10_000_000_000;
        while self.sessions.iter().any(|s| s.state == SState::AwaitingLogin)
            && self.clock.now_ns() < login_deadline
        {
            self.flush_dirty();
            self.poll_once(&mut events, Some(Duration::from_millis(5)))?;
        }
        if !self.sessions.iter().any(|s| s.state == SState::Active) {
            return Err(io::Error::other(format!(
                "no session could log in to {} (refusals by code: {:?})",
                self.addr, self.login_failures
            )));
        }
        // The schedule starts now.
        self.clock = Clock::new();
        for s in &mut self.sessions {
            s.last_tx_ns = 0;
            s.last_rx_ns = 0;
        }
        self.main_loop(&mut events)?;
        let profile_s = self.profile_end_ns.saturating_sub(self.s.warmup_ns) as f64 / 1e9;
        let unanswered = self.tracker.count_unanswered();
        let sample = self.tracker.sample_unanswered(20);
        let queries = self.queries.finish();
        let query_latency = self.queries.latency.clone();
        let mut tracker = self.tracker;
        tracker.finish(unanswered);
        let mut problems = tracker.problems(self.target == Target::Gateway);
        problems.extend(query_problems(&queries));
        if let Some(op) = self.operator.take() {
            for (t, a, r) in op.finish() {
                self.events.push(record_result(t, &a, &r, self.s.warmup_ns));
            }
        }
        let failed = self.events.iter().filter(|e| e.result != "ok").count();
        if failed > 0 && self.target == Target::Gateway {
            problems.push(format!(
                "{failed} operator commands failed or were skipped: the scenario did not happen as written"
            ));
        }
        Ok(RunResult {
            tracker,
            lag: self.lag,
            events: self.events,
            ladder: self.ladder,
            profile_s,
            scheduled: self.scheduled,
            dropped_no_session: self.dropped_no_session,
            backpressure_events: self.backpressure_events,
            reconnects: self.reconnects,
            login_failures: self.login_failures,
            unanswered_sample: sample,
            problems,
            queries,
            query_latency,
        })
    }

    #[allow(clippy::too_many_lines)]
    fn main_loop(&mut self, events: &mut Events) -> io::Result<()> {
        let s = self.s;
        let mut next_send = 0u64;
        let mut next_event = 0usize;
        let mut next_interval = 1_000_000_000u64;
        let mut interval_start = 0u64;
        let mut interval_index = 0u64;
        let mut next_housekeeping = 0u64;
        let mut phase = Phase::Profile;
        let mut phase_deadline = u64::MAX;
        let mut unanswered_at_drain: Option<u64> = None;
        let drain_ns = s.drain_ns.max(1_000_000_000);
        // Every loop is bounded in time: the profile plus generous tails.
        let hard_stop = self.profile_end_ns + 3 * drain_ns + 30_000_000_000;
        let mut storms: Vec<(u64, usize, u64)> = Vec::new();
        loop {
            let now = self.clock.now_ns();
            if now > hard_stop {
                self.events.push(EventRecord {
                    t_s: self.t_s(now),
                    what: "hard stop: the run outlived its time bound".into(),
                    result: "aborted".into(),
                });
                return Ok(());
            }
            // Timed events.
            while phase == Phase::Profile
                && next_event < s.events.len()
                && s.warmup_ns + s.events[next_event].at_ns <= now
            {
                let e = s.events[next_event].clone();
                next_event += 1;
                match e.action {
                    Action::Operator(a) => self.operator_action(now, a),
                    Action::ReconnectStorm { sessions_share, over_ns, down_ns } => {
                        let n = ((self.sessions.len() as f64 * sessions_share).round() as usize)
                            .min(self.sessions.len());
                        // n distinct sessions from a random start: a session drawn twice
                        // could be dropped again before its first reconnect completes,
                        // and the storm would reconnect fewer sessions than it says.
                        let first = self.flow.rng().below(self.sessions.len() as u64) as usize;
                        for k in 0..n {
                            let at = now + over_ns * k as u64 / n.max(1) as u64;
                            let victim = (first + k) % self.sessions.len();
                            storms.push((at, victim, down_ns));
                        }
                        self.events.push(EventRecord {
                            t_s: self.t_s(now),
                            what: format!(
                                "reconnect storm: {n} sessions drop over {} ms",
                                over_ns / 1_000_000
                            ),
                            result: "ok".into(),
                        });
                    }
                }
            }
            storms.retain(|&(at, victim, down_ns)| {
                if at <= now {
                    self.drop_session(victim, now, down_ns, true);
                    false
                } else {
                    true
                }
            });
            // The open-loop schedule.
            if phase == Phase::Profile {
                let mut n = 0;
                while next_send <= now && n < BATCH {
                    if next_send >= self.profile_end_ns {
                        break;
                    }
                    if !self.send_scheduled(next_send, now) {
                        // Every session's socket is full: the gateway is pushing back.
                        // Hold the schedule; the wait shows as lag and as latency.
                        break;
                    }
                    next_send = self.advance_schedule(next_send);
                    n += 1;
                }
                while let Some(&(due, c)) = self.reactions.front() {
                    if due > now {
                        break;
                    }
                    self.reactions.pop_front();
                    self.send_confirmed(due, now, c);
                }
                self.send_probes(now);
                self.ladder_check(now);
                if next_send >= self.profile_end_ns && now >= self.profile_end_ns {
                    phase = Phase::Teardown;
                    phase_deadline = now + 3_000_000_000;
                    self.teardown(now);
                }
            }
            self.flush_dirty();
            if now >= next_interval {
                self.emit_interval(interval_index, interval_start, now, phase);
                interval_index += 1;
                interval_start = now;
                next_interval = now + 1_000_000_000;
            }
            if now >= next_housekeeping {
                next_housekeeping = now + 100_000_000;
                self.housekeeping(now, phase);
                if let Some(op) = &self.operator {
                    for (t, a, r) in op.poll_results() {
                        self.teardown_pending = self
                            .teardown_pending
                            .saturating_sub(usize::from(phase == Phase::Teardown));
                        self.events.push(record_result(t, &a, &r, s.warmup_ns));
                    }
                }
                // Phase changes after the profile.
                let idle = self.tracker.in_flight() == 0
                    && (self.target == Target::Echo || self.tracker.count_open() == 0);
                let all_up = self
                    .sessions
                    .iter()
                    .all(|x| matches!(x.state, SState::Active | SState::Finished));
                match phase {
                    Phase::Teardown if now >= phase_deadline || self.teardown_pending == 0 => {
                        phase = Phase::Drain;
                        phase_deadline = now + drain_ns;
                        self.mass_cancel_all(now);
                    }
                    Phase::Drain if (idle && all_up) || now >= phase_deadline => {
                        unanswered_at_drain = Some(self.tracker.count_unanswered());
                        if idle && all_up {
                            phase = Phase::Logout;
                            phase_deadline = now + 3_000_000_000;
                            self.logout_all(now);
                        } else {
                            // Reconnect with replay: whatever the gateway answered
                            // and we did not see comes back now.
                            phase = Phase::Recovery;
                            phase_deadline = now + drain_ns.max(5_000_000_000);
                            for i in 0..self.sessions.len() {
                                if self.sessions[i].state != SState::Finished {
                                    self.drop_session(i, now, 10_000_000, false);
                                    self.sessions[i].mass_cancel_on_login =
                                        self.target == Target::Gateway;
                                }
                            }
                            self.events.push(EventRecord {
                                t_s: self.t_s(now),
                                what: format!(
                                    "drain window closed with {} unanswered, {} open: reconnecting every session with replay",
                                    self.tracker.count_unanswered(),
                                    self.tracker.count_open()
                                ),
                                result: "ok".into(),
                            });
                        }
                    }
                    Phase::Recovery if (idle && all_up) || now >= phase_deadline => {
                        phase = Phase::Logout;
                        phase_deadline = now + 3_000_000_000;
                        self.logout_all(now);
                    }
                    Phase::Logout
                        if now >= phase_deadline
                            || self.sessions.iter().all(|x| x.state == SState::Finished) =>
                    {
                        self.emit_interval(interval_index, interval_start, now, phase);
                        let _ = unanswered_at_drain;
                        return Ok(());
                    }
                    _ => {}
                }
            }
            // Wait: in poll when the next send is far, spinning when it is near.
            let next_due = if phase == Phase::Profile {
                let r = self.reactions.front().map_or(u64::MAX, |r| r.0);
                next_send.min(r).min(next_interval).min(self.queries.next_probe_ns())
            } else {
                next_housekeeping
            };
            let now = self.clock.now_ns();
            let timeout = if next_due > now + SPIN_NS {
                Duration::from_millis((next_due - now - SPIN_NS / 2) / 1_000_000)
            } else {
                Duration::ZERO
            };
            self.poll_once(events, Some(timeout))?;
        }
    }

    fn t_s(&self, now: u64) -> f64 {
        (now as f64 - self.s.warmup_ns as f64) / 1e9
    }

    /// The next intended send time after `t` (the schedule's own random stream).
    fn advance_schedule(&mut self, t: u64) -> u64 {
        self.s.next_send_ns(t, &mut self.schedule_rng)
    }

    fn mix_at(&self, t: u64) -> Mix {
        let seg = self.s.segment_at(t.saturating_sub(self.s.warmup_ns));
        self.mixes[seg]
    }

    fn target_pct(&self, t: u64) -> f64 {
        self.s.price_pct_at(t.saturating_sub(self.s.warmup_ns))
    }

    /// The next session that can take a message (round robin over active ones).
    fn pick_session(&mut self) -> Option<usize> {
        let n = self.sessions.len();
        for k in 0..n {
            let i = (self.rr + k) % n;
            let s = &self.sessions[i];
            if s.state == SState::Active
                && s.tx.len() - s.tx_pos < TX_LIMIT
                && self.flow.can_trade(i)
            {
                self.rr = i + 1;
                return Some(i);
            }
        }
        None
    }

    /// Sends the message scheduled at `intended`; false when it must wait (every
    /// logged-in session has a full send buffer).
    fn send_scheduled(&mut self, intended: u64, now: u64) -> bool {
        let Some(session) = self.pick_session() else {
            let blocked = (0..self.sessions.len())
                .any(|i| self.sessions[i].state == SState::Active && self.flow.can_trade(i));
            if blocked {
                return false;
            }
            // Nobody is logged in (a reconnect storm took every session down).
            self.dropped_no_session += 1;
            self.scheduled_interval += 1;
            return true;
        };
        if intended >= self.s.warmup_ns {
            self.scheduled += 1;
        }
        self.scheduled_interval += 1;
        let lag = now.saturating_sub(intended).max(1);
        let _ = self.lag.record(lag);
        let _ = self.lag_interval.record(lag);
        let mix = self.mix_at(intended);
        let open = self.tracker.open_orders(session).len();
        let next = self.flow.next_kind(&mix, open, self.s.flow.max_open_per_session);
        let sent = match next {
            Next::Cancel => self.send_cancel(session, intended),
            Next::Replace => self.send_replace(session, intended),
            Next::Query => self.send_query(session, intended),
            Next::New => false,
        };
        if !sent {
            self.send_new(session, intended, &mix);
        }
        true
    }

    /// A query of the flow instead of an order message; false when none can go.
    fn send_query(&mut self, session: usize, intended: u64) -> bool {
        if !self.queries_on {
            return false;
        }
        match self.queries.next_flow_query(session, intended) {
            Some(q) => {
                self.push(session, &ClientMessage::Query(q));
                true
            }
            None => false,
        }
    }

    /// The funds-and-positions probe of every logged-in session that is due.
    fn send_probes(&mut self, now: u64) {
        let sessions = &self.sessions;
        let due = self.queries.due_probes(now, |i| sessions[i].state == SState::Active);
        for (session, q) in due {
            self.push(session, &ClientMessage::Query(q));
        }
    }

    fn pick_open(&mut self, session: usize, limit_day_only: bool) -> Option<u32> {
        let open = self.tracker.open_orders(session);
        if open.is_empty() {
            return None;
        }
        for _ in 0..4 {
            let k = self.flow.rng().below(open.len() as u64) as usize;
            let i = open[k];
            let s = self.tracker.slot(i);
            if s.pending_change {
                continue;
            }
            if limit_day_only
                && (s.order_type != OrderType::Limit.as_u8() || s.tif != TimeInForce::Day.as_u8())
            {
                continue;
            }
            return Some(i);
        }
        None
    }

    fn send_cancel(&mut self, session: usize, intended: u64) -> bool {
        let Some(target) = self.pick_open(session, false) else { return false };
        let t = *self.tracker.slot(target);
        let slot = Slot {
            kind: Kind::Cancel,
            session: session as u16,
            account: t.account,
            target,
            intended_ns: intended,
            ..Slot::EMPTY
        };
        let Some(i) = self.tracker.start(slot) else { return false };
        self.write_request(session, i);
        true
    }

    fn send_replace(&mut self, session: usize, intended: u64) -> bool {
        let Some(target) = self.pick_open(session, true) else { return false };
        let t = *self.tracker.slot(target);
        let (price, qty) = self.flow.replace_terms(self.u, t.instr as usize, t.price, t.qty, t.cum);
        let slot = Slot {
            kind: Kind::Replace,
            session: session as u16,
            account: t.account,
            instr: t.instr,
            target,
            price,
            qty,
            intended_ns: intended,
            ..Slot::EMPTY
        };
        let Some(i) = self.tracker.start(slot) else { return false };
        self.write_request(session, i);
        true
    }

    fn send_new(&mut self, session: usize, intended: u64, mix: &Mix) {
        let target_pct = self.target_pct(intended);
        let Some(b) = self.flow.new_order(self.u, session, mix, target_pct) else {
            self.dropped_no_session += 1;
            return;
        };
        let o = b.order;
        let slot = Slot {
            kind: Kind::Order,
            intent: b.intent,
            session: session as u16,
            account: b.account,
            instr: b.instr,
            side: o.side.as_u8(),
            order_type: o.order_type.as_u8(),
            tif: o.tif.as_u8(),
            price: o.price.0,
            qty: o.qty.0,
            intended_ns: intended,
            marketable: b.marketable,
            ..Slot::EMPTY
        };
        let Some(i) = self.tracker.start(slot) else {
            self.dropped_no_session += 1;
            return;
        };
        self.write_request(session, i);
    }

    fn send_confirmed(&mut self, intended: u64, now: u64, c: ConfirmOrder) {
        let session = c.session as usize;
        if self.sessions[session].state != SState::Active {
            return;
        }
        let lag = now.saturating_sub(intended).max(1);
        let _ = self.lag.record(lag);
        let slot = Slot {
            kind: Kind::Order,
            intent: Intent::Confirmed,
            session: c.session,
            account: c.account,
            instr: c.instr,
            side: c.side,
            order_type: OrderType::Limit.as_u8(),
            tif: TimeInForce::Day.as_u8(),
            price: c.price,
            qty: c.qty,
            intended_ns: intended,
            ..Slot::EMPTY
        };
        if let Some(i) = self.tracker.start(slot) {
            self.write_request(session, i);
        }
    }

    /// Encodes request `i` from its slot into its session's send buffer.
    fn write_request(&mut self, session: usize, i: u32) {
        let s = *self.tracker.slot(i);
        let id = self.tracker.id_of(i);
        let msg = match s.kind {
            Kind::Order => {
                let mut o = if s.intent == Intent::Confirmed {
                    Flow::confirmed(
                        self.u,
                        s.account as usize,
                        s.instr as usize,
                        s.side,
                        s.price,
                        s.qty,
                    )
                } else {
                    NewOrder {
                        cl_ord_id: 0,
                        account: self.u.accounts[s.account as usize].id,
                        security: self.u.instruments[s.instr as usize].security,
                        side: Side::from_u8(s.side).unwrap_or(Side::Buy),
                        order_type: OrderType::from_u8(s.order_type).unwrap_or(OrderType::Limit),
                        tif: TimeInForce::from_u8(s.tif).unwrap_or(TimeInForce::Day),
                        price: Price(s.price),
                        qty: Qty(s.qty),
                        flags: 0,
                        credit: protocol::CreditTag::Cash,
                    }
                };
                o.cl_ord_id = id;
                ClientMessage::NewOrder(o)
            }
            Kind::Cancel => ClientMessage::CancelOrder(CancelOrder {
                request_id: id,
                orig_cl_ord_id: self.tracker.id_of(s.target),
                account: self.u.accounts[s.account as usize].id,
            }),
            Kind::Replace => ClientMessage::ReplaceOrder(ReplaceOrder {
                request_id: id,
                orig_cl_ord_id: self.tracker.id_of(s.target),
                account: self.u.accounts[s.account as usize].id,
                price: Price(s.price),
                qty: Qty(s.qty),
            }),
            Kind::Mass => ClientMessage::MassCancel(MassCancel {
                request_id: id,
                scope: MassCancelScope::Login,
                block_new: false,
            }),
        };
        self.push(session, &msg);
        self.sent_interval += 1;
    }

    fn push(&mut self, session: usize, msg: &ClientMessage) {
        let sess = &mut self.sessions[session];
        if let Some(fix) = sess.fix.as_mut() {
            fix.encode(msg, unix_now_ns(), &mut sess.tx);
        } else {
            let mut buf = [0u8; MAX_FRAME_LEN];
            let n = msg.encode_to_slice(&mut buf).expect("a client message fits a frame");
            sess.tx.extend_from_slice(&buf[..n]);
        }
        if !sess.dirty {
            sess.dirty = true;
            self.dirty.push(session);
        }
    }

    fn flush_dirty(&mut self) {
        let now = self.clock.now_ns();
        let mut k = 0;
        while k < self.dirty.len() {
            let i = self.dirty[k];
            k += 1;
            self.sessions[i].dirty = false;
            if let Err(e) = self.flush(i, now) {
                let _ = e;
                self.drop_session(i, now, 10_000_000, true);
            }
        }
        self.dirty.clear();
    }

    /// Writes a session's pending bytes until done or the socket is full.
    fn flush(&mut self, i: usize, now: u64) -> io::Result<()> {
        let s = &mut self.sessions[i];
        let Some(stream) = s.stream.as_mut() else { return Ok(()) };
        while s.tx_pos < s.tx.len() {
            match stream.write(&s.tx[s.tx_pos..]) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "wrote nothing")),
                Ok(n) => {
                    s.tx_pos += n;
                    s.last_tx_ns = now;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // The gateway is not reading: TCP back-pressure. Writable comes back.
                    self.backpressure_events += 1;
                    if s.tx_pos > 1 << 20 {
                        s.tx.drain(..s.tx_pos);
                        s.tx_pos = 0;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        s.tx.clear();
        s.tx_pos = 0;
        Ok(())
    }

    fn poll_once(&mut self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        if let Err(e) = self.poll.poll(events, timeout)
            && e.kind() != io::ErrorKind::Interrupted
        {
            return Err(e);
        }
        for event in events.iter() {
            let i = event.token().0;
            if i >= self.sessions.len() {
                continue;
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                // A close that came with this event raises no other: read it out.
                self.read_session(i, !(event.is_read_closed() || event.is_error()));
            }
            if event.is_writable() && self.sessions[i].tx_pos < self.sessions[i].tx.len() {
                let s = &mut self.sessions[i];
                if !s.dirty {
                    s.dirty = true;
                    self.dirty.push(i);
                }
            }
        }
        Ok(())
    }

    /// Reads until the socket is empty (WouldBlock, or with `short_read_ends` a
    /// read that did not fill the buffer) or the connection ended.
    fn read_session(&mut self, i: usize, short_read_ends: bool) {
        if self.sessions[i].fix.is_some() {
            return self.read_fix(i);
        }
        loop {
            let s = &mut self.sessions[i];
            let Some(stream) = s.stream.as_mut() else { return };
            match s.rx.read_from(stream) {
                Ok(0) => {
                    let now = self.clock.now_ns();
                    self.connection_ended(i, now, None);
                    return;
                }
                Ok(_) => {
                    let now = self.clock.now_ns();
                    let drained = short_read_ends && s.rx.drained();
                    self.sessions[i].last_rx_ns = now;
                    if !self.take_frames(i, now) || drained {
                        // A short read emptied the socket; epoll reports what comes next.
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    let now = self.clock.now_ns();
                    self.connection_ended(i, now, None);
                    return;
                }
            }
        }
    }

    /// Handles every buffered frame; false when the connection ended.
    fn take_frames(&mut self, i: usize, now: u64) -> bool {
        loop {
            let msg = match self.sessions[i].rx.next_frame() {
                Ok(Some(frame)) => ServerMessage::decode(frame),
                Ok(None) => return true,
                Err(_) => {
                    self.connection_ended(i, now, None);
                    return false;
                }
            };
            let Ok(msg) = msg else {
                // A malformed server message: the protocol says reconnect.
                self.connection_ended(i, now, None);
                return false;
            };
            match msg {
                ServerMessage::App(seq) => {
                    let s = &mut self.sessions[i];
                    if seq.seq != s.last_seq + 1 {
                        if seq.seq <= s.last_seq {
                            self.tracker.counts.seq_repeats += 1;
                            continue;
                        }
                        self.tracker.counts.seq_gaps += 1;
                    }
                    s.last_seq = seq.seq;
                    self.on_app(i, seq.msg, seq.ts_ns, now);
                    self.queries.on_stream(i, seq.seq);
                }
                ServerMessage::Heartbeat => {}
                ServerMessage::LoginAccepted(a) => self.logged_in(i, a.next_seq, now),
                ServerMessage::LoginRejected(r) => {
                    self.login_refused(i, r.code, now);
                    return false;
                }
                ServerMessage::EndOfSession(e) => {
                    self.connection_ended(i, now, Some(e.reason));
                    return false;
                }
                ServerMessage::Query(a) => {
                    let last_seq = self.sessions[i].last_seq;
                    if let Some(next_page) = self.queries.on_answer(i, &a, last_seq, now) {
                        self.push(i, &ClientMessage::Query(next_page));
                    }
                }
            }
        }
    }

    /// Reads a FIX session's socket until it would block, and handles each
    /// whole message.
    fn read_fix(&mut self, i: usize) {
        let mut buf = [0u8; 64 * 1024];
        loop {
            let s = &mut self.sessions[i];
            let (Some(stream), Some(fix)) = (s.stream.as_mut(), s.fix.as_mut()) else { return };
            match std::io::Read::read(stream, &mut buf) {
                Ok(0) => {
                    let now = self.clock.now_ns();
                    return self.connection_ended(i, now, None);
                }
                Ok(n) => {
                    fix.received(&buf[..n]);
                    let now = self.clock.now_ns();
                    self.sessions[i].last_rx_ns = now;
                    if !self.take_fix(i, now) {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    let now = self.clock.now_ns();
                    return self.connection_ended(i, now, None);
                }
            }
        }
    }

    /// Handles every whole FIX message read; false when the connection ended.
    fn take_fix(&mut self, i: usize, now: u64) -> bool {
        loop {
            let Driver { sessions, tracker, .. } = self;
            let Some(fix) = sessions[i].fix.as_mut() else { return false };
            if let Some(answer) = fix.release() {
                if !self.on_fix_answer(i, answer, now) {
                    return false;
                }
                continue;
            }
            let kinds = |id: u64| match tracker.kind_of(id) {
                Some(Kind::Order) => crate::fixwire::Kind::Order,
                Some(Kind::Cancel | Kind::Replace) => crate::fixwire::Kind::CancelOrReplace,
                _ => crate::fixwire::Kind::Unknown,
            };
            let (answer, check) = match fix.next_answer(&kinds) {
                Ok(Some(a)) => a,
                Ok(None) => return true,
                Err(crate::fixwire::Garbled) => {
                    self.connection_ended(i, now, None);
                    return false;
                }
            };
            match check {
                SeqCheck::Resent => {}
                SeqCheck::InOrder | SeqCheck::Gap { .. } => {
                    if let SeqCheck::Gap { from, to } = check {
                        // Sent to the connection before, never read: ask for them.
                        let s = &mut self.sessions[i];
                        if let Some(fix) = s.fix.as_mut() {
                            fix.resend_request(from, to, unix_now_ns(), &mut s.tx);
                        }
                        if !s.dirty {
                            s.dirty = true;
                            self.dirty.push(i);
                        }
                    }
                    let s = &mut self.sessions[i];
                    if let Some(fix) = s.fix.as_mut()
                        && fix.recovering()
                        && !answer.is_session_level()
                    {
                        fix.hold(answer);
                        continue;
                    }
                }
                SeqCheck::Duplicate => {
                    self.tracker.counts.seq_repeats += 1;
                    continue;
                }
            }
            if !self.on_fix_answer(i, answer, now) {
                return false;
            }
        }
    }

    /// One FIX answer; false when it ended the connection.
    fn on_fix_answer(&mut self, i: usize, answer: Answer, now: u64) -> bool {
        let t = &mut self.tracker;
        let out = match answer {
            Answer::LoggedOn => {
                let next = self.sessions[i].last_seq + 1;
                self.logged_in(i, next, now);
                Outcome::None
            }
            Answer::Heartbeat | Answer::Other => Outcome::None,
            Answer::TestRequest(id) => {
                let s = &mut self.sessions[i];
                if let Some(fix) = s.fix.as_mut() {
                    fix.heartbeat_for(id, unix_now_ns(), &mut s.tx);
                }
                if !s.dirty {
                    s.dirty = true;
                    self.dirty.push(i);
                }
                Outcome::None
            }
            Answer::Logout => {
                self.connection_ended(i, now, None);
                return false;
            }
            Answer::Accepted { cl_ord_id } => t.on_accepted(cl_ord_id, 0, now),
            Answer::Rejected { cl_ord_id, code } => t.on_rejected(cl_ord_id, code, 0, now),
            Answer::Executed { cl_ord_id, leaves, cum, price } => {
                if let Some(instr) = t.on_executed(cl_ord_id, leaves, cum, now) {
                    self.flow.on_trade(instr as usize, price);
                }
                Outcome::None
            }
            Answer::Canceled { cl_ord_id, request_id, reason } => {
                t.on_canceled(cl_ord_id, request_id, reason, now)
            }
            Answer::CancelRejected { request_id, code } => {
                t.on_cancel_rejected(request_id, code, now)
            }
            Answer::Replaced { request_id, qty, price } => {
                t.on_replaced(request_id, qty, price, now)
            }
            Answer::MassCancelAck { request_id } => t.on_mass_ack(request_id, now),
            Answer::OtherReject => {
                t.counts.business_rejects += 1;
                Outcome::None
            }
        };
        self.on_outcome(i, out, now);
        true
    }

    fn on_app(&mut self, i: usize, msg: AppMessage, ts_ns: u64, now: u64) {
        let out = match msg {
            AppMessage::OrderAccepted(a) => {
                if let Some(stamp) = self.clock.from_unix_ns(ts_ns) {
                    self.tracker.split(a.cl_ord_id, stamp, now);
                }
                self.tracker.on_accepted(a.cl_ord_id, a.flags, now)
            }
            AppMessage::OrderRejected(r) => {
                if let Some(stamp) = self.clock.from_unix_ns(ts_ns) {
                    self.tracker.split(r.cl_ord_id, stamp, now);
                }
                self.tracker.on_rejected(r.cl_ord_id, r.code, r.flags, now)
            }
            AppMessage::Executed(e) => {
                if self.queries_on {
                    self.queries.ledger().on_executed(&e);
                }
                if let Some(instr) = self.tracker.on_executed(e.cl_ord_id, e.leaves.0, e.cum.0, now)
                {
                    self.flow.on_trade(instr as usize, e.price.0);
                }
                Outcome::None
            }
            AppMessage::Canceled(c) => {
                self.tracker.on_canceled(c.cl_ord_id, c.request_id, c.reason, now)
            }
            AppMessage::CancelRejected(k) => {
                self.tracker.on_cancel_rejected(k.request_id, k.code, now)
            }
            AppMessage::Replaced(r) => {
                self.tracker.on_replaced(r.request_id, r.qty.0, r.price.0, now)
            }
            AppMessage::MassCancelAck(m) => self.tracker.on_mass_ack(m.request_id, now),
            AppMessage::SystemEvent(_) => {
                self.tracker.counts.system_events += 1;
                Outcome::None
            }
            AppMessage::BusinessReject(_) => {
                self.tracker.counts.business_rejects += 1;
                Outcome::None
            }
            AppMessage::OrderEntryStatus(_) => {
                self.tracker.counts.entry_status += 1;
                Outcome::None
            }
            AppMessage::OrderPending(p) => {
                if p.request_id == 0 {
                    self.tracker.on_pending(p.cl_ord_id, now);
                } else {
                    self.tracker.counts.pending += 1;
                }
                Outcome::None
            }
            AppMessage::FillFees(f) => {
                if self.queries_on {
                    self.queries.ledger().on_fill_fees(&f);
                }
                Outcome::None
            }
        };
        self.on_outcome(i, out, now);
    }

    /// What the tracker made of an answer: count it, or schedule a confirmation.
    fn on_outcome(&mut self, i: usize, out: Outcome, now: u64) {
        match out {
            Outcome::Answered(lat) => {
                self.answered_interval += 1;
                if let Some(l) = lat
                    && self.ladder_step.is_some()
                {
                    let _ = self.ladder_hist.record(l);
                }
            }
            Outcome::Confirm(c) => {
                let delay = (self.s.flow.confirm_delay_ms * 1e6) as u64;
                self.answered_interval += 1;
                self.reactions.push_back((
                    now + delay,
                    ConfirmOrder {
                        session: c.session,
                        account: c.account,
                        instr: c.instr,
                        side: c.side,
                        price: c.price,
                        qty: c.qty,
                    },
                ));
                let _ = i;
            }
            Outcome::None => {}
        }
    }

    fn connect(&mut self, i: usize, now: u64) {
        let stream = match std::net::TcpStream::connect_timeout(&self.addr, Duration::from_secs(2))
        {
            Ok(s) => s,
            Err(_) => {
                self.sessions[i].state = SState::Down { until_ns: now + 100_000_000 };
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        if stream.set_nonblocking(true).is_err() {
            self.sessions[i].state = SState::Down { until_ns: now + 100_000_000 };
            return;
        }
        let mut stream = TcpStream::from_std(stream);
        if self
            .poll
            .registry()
            .register(&mut stream, Token(i), Interest::READABLE | Interest::WRITABLE)
            .is_err()
        {
            self.sessions[i].state = SState::Down { until_ns: now + 100_000_000 };
            return;
        }
        let login = &self.u.logins[self.sessions[i].login];
        let s = &mut self.sessions[i];
        s.stream = Some(stream);
        s.rx.clear();
        s.tx.clear();
        s.tx_pos = 0;
        s.state = SState::AwaitingLogin;
        s.last_rx_ns = now;
        // First login: only new messages (a gateway used before has an old stream).
        let next_seq = if s.logged_in_once { s.last_seq + 1 } else { 0 };
        let msg = ClientMessage::Login(Login {
            version: self.protocol_version,
            username: login.username,
            token: login.token,
            next_seq,
        });
        self.push(i, &msg);
    }

    fn logged_in(&mut self, i: usize, next_seq: u64, now: u64) {
        let s = &mut self.sessions[i];
        if s.logged_in_once {
            self.reconnects += 1;
            if next_seq != s.last_seq + 1 {
                self.tracker.counts.seq_gaps += 1;
            }
        } else {
            s.last_seq = next_seq.saturating_sub(1);
            s.logged_in_once = true;
        }
        s.state = SState::Active;
        s.login_retries = 0;
        s.last_tx_ns = now;
        if std::mem::take(&mut s.resend_on_login) {
            // The client checklist: after a reconnect, resend what was not answered,
            // unchanged. The replay answers what the gateway did process first.
            let mut list = std::mem::take(&mut self.scratch);
            self.tracker.unanswered_of(i as u16, &mut list);
            for &r in &list {
                self.tracker.resent(r);
                self.write_request_again(i, r);
            }
            self.scratch = list;
        }
        if std::mem::take(&mut self.sessions[i].mass_cancel_on_login) {
            self.mass_cancel(i, now);
        }
    }

    fn write_request_again(&mut self, session: usize, r: u32) {
        self.write_request(session, r);
        self.sent_interval -= 1;
    }

    fn login_refused(&mut self, i: usize, code: RejectCode, now: u64) {
        match self.login_failures.iter_mut().find(|(c, _)| *c == code.0) {
            Some((_, n)) => *n += 1,
            None => self.login_failures.push((code.0, 1)),
        }
        self.close_stream(i);
        let s = &mut self.sessions[i];
        s.login_retries += 1;
        // The old connection may not be gone yet (ALREADY_LOGGED_IN): back off and
        // retry, for up to about the dead-peer timeout.
        s.state = if code == RejectCode::ALREADY_LOGGED_IN && s.login_retries < 300 {
            SState::Down { until_ns: now + 50_000_000 }
        } else {
            SState::Finished
        };
    }

    fn connection_ended(&mut self, i: usize, now: u64, reason: Option<RejectCode>) {
        let _ = reason;
        self.close_stream(i);
        let s = &mut self.sessions[i];
        s.state = match s.state {
            SState::LoggingOut | SState::Finished => SState::Finished,
            _ => {
                s.resend_on_login = true;
                SState::Down { until_ns: now + 20_000_000 }
            }
        };
    }

    fn close_stream(&mut self, i: usize) {
        self.queries.on_disconnect(i);
        if let Some(mut stream) = self.sessions[i].stream.take() {
            let _ = self.poll.registry().deregister(&mut stream);
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        let s = &mut self.sessions[i];
        s.tx.clear();
        s.tx_pos = 0;
        s.rx.clear();
        if let Some(fix) = s.fix.as_mut() {
            fix.clear_received();
        }
    }

    /// Drops a session's connection; it logs in again after `down_ns` with its next
    /// sequence number (and, if `resend`, resends what was not answered).
    fn drop_session(&mut self, i: usize, now: u64, down_ns: u64, resend: bool) {
        if matches!(self.sessions[i].state, SState::Finished) {
            return;
        }
        self.close_stream(i);
        let s = &mut self.sessions[i];
        s.resend_on_login |= resend;
        s.state = SState::Down { until_ns: now + down_ns.max(1) };
    }

    fn housekeeping(&mut self, now: u64, phase: Phase) {
        for i in 0..self.sessions.len() {
            match self.sessions[i].state {
                SState::Down { until_ns } if now >= until_ns => {
                    self.connect(i, now);
                }
                SState::Active => {
                    let s = &self.sessions[i];
                    if now.saturating_sub(s.last_rx_ns) > 15_000_000_000 {
                        // The server has been silent for its dead-peer timeout.
                        self.drop_session(i, now, 10_000_000, true);
                    } else if now.saturating_sub(s.last_tx_ns) >= 1_000_000_000 {
                        self.push(i, &ClientMessage::Heartbeat);
                        self.sessions[i].last_tx_ns = now;
                    }
                }
                _ => {}
            }
        }
        let _ = phase;
    }

    fn operator_action(&mut self, now: u64, a: OperatorAction) {
        if a.needs_undo() && !self.undo.contains(&a) {
            self.undo.push(a.clone());
        }
        match &self.operator {
            Some(op) => op.submit(now, a),
            None => self.events.push(EventRecord {
                t_s: self.t_s(now),
                what: a.http_path(),
                result: "skipped: no operator for this target".into(),
            }),
        }
    }

    /// Undoes venue faults and halts so that the final mass cancel can close everything.
    fn teardown(&mut self, now: u64) {
        let Some(op) = &self.operator else {
            self.undo.clear();
            return;
        };
        let mut undo = Vec::new();
        for a in &self.undo {
            let u = match a {
                OperatorAction::Halt(_) | OperatorAction::Phase(..) => {
                    OperatorAction::Resume(None, 0)
                }
                OperatorAction::AckDelay(_) => OperatorAction::AckDelay(0),
                OperatorAction::FirmState(_) => {
                    OperatorAction::FirmState(protocol::codec::EntryState::Active)
                }
                OperatorAction::AccountState(acct, _) => {
                    OperatorAction::AccountState(*acct, protocol::codec::EntryState::Active)
                }
                _ => continue,
            };
            if !undo.contains(&u) {
                undo.push(u);
            }
        }
        self.teardown_pending = undo.len();
        for u in undo {
            op.submit(now, u);
        }
        self.undo.clear();
    }

    fn mass_cancel(&mut self, i: usize, now: u64) {
        if self.target == Target::Echo || self.tracker.open_orders(i).is_empty() {
            return;
        }
        let slot = Slot { kind: Kind::Mass, session: i as u16, intended_ns: now, ..Slot::EMPTY };
        if let Some(r) = self.tracker.start(slot) {
            self.write_request(i, r);
        }
    }

    fn mass_cancel_all(&mut self, now: u64) {
        for i in 0..self.sessions.len() {
            match self.sessions[i].state {
                SState::Active => self.mass_cancel(i, now),
                SState::Finished => {}
                _ => self.sessions[i].mass_cancel_on_login = true,
            }
        }
    }

    fn logout_all(&mut self, now: u64) {
        let _ = now;
        for i in 0..self.sessions.len() {
            match self.sessions[i].state {
                SState::Active => {
                    self.push(i, &ClientMessage::Logout);
                    self.sessions[i].state = SState::LoggingOut;
                }
                SState::LoggingOut | SState::Finished => {}
                _ => {
                    self.close_stream(i);
                    self.sessions[i].state = SState::Finished;
                }
            }
        }
    }

    fn emit_interval(&mut self, index: u64, start: u64, end: u64, phase: Phase) {
        let lat = std::mem::replace(&mut self.tracker.lat.interval, new_histogram());
        let lag = std::mem::replace(&mut self.lag_interval, new_histogram());
        let t = start + (end - start) / 2;
        let intended = if phase != Phase::Profile {
            0.0
        } else if t < self.s.warmup_ns {
            self.s.base_rate_per_s
        } else {
            self.s.rate_at(t - self.s.warmup_ns)
        };
        let record = IntervalRecord {
            index,
            start_s: self.t_s(start),
            end_s: self.t_s(end),
            intended_rate_per_s: intended,
            scheduled: std::mem::take(&mut self.scheduled_interval),
            sent: std::mem::take(&mut self.sent_interval),
            answered: std::mem::take(&mut self.answered_interval),
            in_flight: self.tracker.in_flight(),
            open_orders: self.tracker.count_open(),
            sent_total: self.tracker.counts.orders_sent
                + self.tracker.counts.cancels_sent
                + self.tracker.counts.replaces_sent
                + self.tracker.counts.mass_cancels_sent,
            answered_total: self.tracker.lat.answer.len(),
            latency: lat,
            lag,
            phase: match phase {
                Phase::Profile if end < self.s.warmup_ns => "warm-up",
                Phase::Profile => "profile",
                Phase::Teardown => "teardown",
                Phase::Drain => "drain",
                Phase::Recovery => "recovery",
                Phase::Logout => "logout",
            },
        };
        let _ = self.intervals.send(record);
    }

    /// Headroom ladder: at each step's end, stop when its p99 passed the objective.
    fn ladder_check(&mut self, now: u64) {
        if now < self.s.warmup_ns {
            return;
        }
        let t = now - self.s.warmup_ns;
        let seg_i = self.s.segment_at(t);
        let seg = &self.s.segments[seg_i];
        let Shape::Ladder { from_x, factor, step_ns, stop_p99_ns } = seg.shape else {
            if let Some((si, step)) = self.ladder_step.take() {
                self.close_ladder_step(si, step, u64::MAX);
            }
            return;
        };
        let step = t.saturating_sub(seg.start_ns) / step_ns.max(1);
        match self.ladder_step {
            None => {
                self.ladder_step = Some((seg_i, step));
                self.ladder_hist.reset();
            }
            Some((si, prev)) if si != seg_i || prev != step => {
                let passed = self.close_ladder_step(si, prev, stop_p99_ns);
                let _ = (from_x, factor);
                if passed {
                    self.ladder_step = Some((seg_i, step));
                } else {
                    // The knee is found: end the profile here.
                    self.profile_end_ns = now.max(self.s.warmup_ns);
                    self.ladder_step = None;
                }
            }
            _ => {}
        }
    }

    fn close_ladder_step(&mut self, seg_i: usize, step: u64, stop_p99_ns: u64) -> bool {
        let seg = &self.s.segments[seg_i];
        let Shape::Ladder { from_x, factor, .. } = seg.shape else { return true };
        let rate = self.s.base_rate_per_s * from_x * factor.powi(step as i32);
        let p99 = self.ladder_hist.value_at_quantile(0.99);
        let passed = p99 <= stop_p99_ns;
        self.ladder.push(LadderStep {
            rate_per_s: rate,
            answers: self.ladder_hist.len(),
            p99_us: p99 as f64 / 1e3,
            passed,
        });
        self.ladder_hist.reset();
        passed
    }
}

/// Wall-clock time, Unix ns (FIX SendingTime and TransactTime).
fn unix_now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// What the queries' reconciliation found wrong, in words.
fn query_problems(q: &crate::queries::QueryCounts) -> Vec<String> {
    let mut out = Vec::new();
    if q.checks.mismatches > 0 {
        out.push(format!(
            "{} query answer figures differ from the harness's book-keeping: {:?}",
            q.checks.mismatches, q.checks.mismatch_sample
        ));
    }
    if q.unanswered > 0 {
        out.push(format!("{} queries unanswered while their session stayed up", q.unanswered));
    }
    if q.unknown_answers > 0 {
        out.push(format!("{} query answers to no outstanding query", q.unknown_answers));
    }
    out
}

/// Pins the calling thread to `core` (no effect if the core does not exist).
pub fn pin_current_thread(core: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id: core })
}

fn record_result(
    t: u64,
    a: &OperatorAction,
    r: &Result<(), String>,
    warmup_ns: u64,
) -> EventRecord {
    EventRecord {
        t_s: (t as f64 - warmup_ns as f64) / 1e9,
        what: a.http_path(),
        result: match r {
            Ok(()) => "ok".into(),
            Err(e) => e.clone(),
        },
    }
}
