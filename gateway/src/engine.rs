//! The engine: one thread's deterministic business logic. It owns the risk engine,
//! the venue and every login's sequence counter, so nothing here needs a lock.
//!
//! `handle` turns one sequenced input into sequenced outputs. It reads no clock and
//! does no I/O: the caller passes the time. Given the same inputs at the same times
//! it produces the same outputs, which is what journal replay relies on.

use protocol::codec::{
    AppMessage, BusinessReject, CancelRejected, Canceled, EntryState, Executed, MassCancelAck,
    MassCancelScope, NewOrder, OrderAccepted, OrderEntryStatus, OrderPending, OrderRejected,
    Replaced, RequestKind, SystemEvent, SystemEventKind, VERSION_ORDER_PENDING, answer_flags,
};
use protocol::{
    AccountId, CancelReason, OrderId, PendingStatus, RejectCode, RejectDetail, SecurityId, Side,
    TradingPhase,
};
use risk_check::fxhash::{FxHashMap, map_with_capacity};
use risk_check::{MarketContext, NewOrderVerdict, OrderRef, OrderState, PendingChange, RiskEngine};
use sim_exchange::{Event, Exchange, PhaseEventKind, VenueOrder};

use protocol::query::{FillFees, Query, QueryRejected, VERSION_QUERIES};

use crate::answers::AnswerScratch;
use crate::input::{AdminCommand, Asker, Input, LimitChange, LoginIdx, Output, Reply};
use crate::md_feed::MarketTap;
use crate::stats::EngineStats;
use std::sync::Arc;

/// Stage timestamps from inside the engine. Metrics only: a probe must not change
/// what the engine does (replays use [`NoProbe`]).
pub trait Probe {
    /// The risk checks of a new order are done.
    fn risk_done(&mut self);
    /// The venue has processed the order and post-trade risk is done.
    fn matched(&mut self);
}

/// A probe that records nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProbe;

impl Probe for NoProbe {
    #[inline]
    fn risk_done(&mut self) {}
    #[inline]
    fn matched(&mut self) {}
}

/// Per-login settings the engine needs.
#[derive(Clone, Debug)]
pub struct LoginPolicy {
    /// Cancel the login's open orders when its connection ends.
    pub cancel_on_disconnect: bool,
    /// Answer THROTTLED to an order that waited longer than this in the gateway
    /// (0: never; the order waits its turn).
    pub throttle_queue_ns: u64,
    /// The accounts the login may trade for.
    pub accounts: Vec<AccountId>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct PendingRequest {
    active: bool,
    request_id: u64,
    /// The login that asked, when a login asked (not the risk desk or the venue).
    requester: Option<LoginIdx>,
    reason: Option<CancelReason>,
}

impl PendingRequest {
    /// The `request_id` that `login`'s copy of the outcome carries: the request's
    /// own id for the login that asked, 0 for any other (section 7: "0 when no
    /// request of this login caused it").
    fn request_id_for(&self, login: LoginIdx) -> u64 {
        if self.active && self.requester == Some(login) { self.request_id } else { 0 }
    }

    /// The login that asked, when it is not `owner` (it gets its own copy).
    fn other_requester(&self, owner: LoginIdx) -> Option<LoginIdx> {
        self.requester.filter(|&l| self.active && l != owner)
    }
}

#[derive(Clone, Copy, Debug)]
struct LoginState {
    next_seq: u64,
    /// The protocol version of the login's stream: 0 until its first login of the
    /// day, then that login's version. Decides which messages the stream carries.
    version: u8,
    cancel_on_disconnect: bool,
    throttle_queue_ns: u64,
}

/// The engine's own state, apart from the risk engine and the venue: what a
/// snapshot carries for it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EngineCore {
    next_seqs: Vec<u64>,
    versions: Vec<u8>,
    pending: Vec<(u32, PendingRequest)>,
    input_seq: u64,
    now_ns: u64,
    read_ns: u64,
}

/// The deterministic core.
#[derive(Debug)]
pub struct Engine {
    risk: RiskEngine,
    exchange: Exchange,
    logins: Vec<LoginState>,
    login_accounts: Vec<Vec<AccountId>>,
    /// A small dense number per account: the venue's owner id for self-trade prevention.
    owners: FxHashMap<AccountId, u32>,
    /// Cancel/replace in flight, by order slot.
    pending: Vec<PendingRequest>,
    events: Vec<Event>,
    scratch: Vec<OrderRef>,
    input_seq: u64,
    now_ns: u64,
    read_ns: u64,
    stats: Arc<EngineStats>,
    answers: AnswerScratch,
    /// The market-data feed to the publisher, when one runs.
    market: Option<MarketTap>,
}

fn order_id_of(r: OrderRef) -> OrderId {
    u64::from(r.0) + 1
}

fn ref_of(order_id: OrderId) -> OrderRef {
    debug_assert!(
        order_id > 0 && order_id <= u64::from(u32::MAX),
        "venue order ids come from OrderRef"
    );
    OrderRef((order_id - 1) as u32)
}

impl Engine {
    /// An engine over a configured risk engine and venue. `order_capacity` must be
    /// the risk engine's order-table capacity (one slot per order of the day).
    pub fn new(
        mut risk: RiskEngine,
        exchange: Exchange,
        logins: Vec<LoginPolicy>,
        order_capacity: usize,
    ) -> Engine {
        for (i, policy) in logins.iter().enumerate() {
            for account in &policy.accounts {
                // Unknown accounts were rejected when the configuration was validated.
                let _ = risk.bind_login(i as LoginIdx, *account);
            }
        }
        let mut owners = map_with_capacity(1024);
        for (i, id) in risk.account_ids().enumerate() {
            owners.insert(id, i as u32);
        }
        Engine {
            risk,
            exchange,
            owners,
            logins: logins
                .iter()
                .map(|p| LoginState {
                    next_seq: 1,
                    version: 0,
                    cancel_on_disconnect: p.cancel_on_disconnect,
                    throttle_queue_ns: p.throttle_queue_ns,
                })
                .collect(),
            login_accounts: logins.into_iter().map(|p| p.accounts).collect(),
            pending: vec![PendingRequest::default(); order_capacity],
            events: Vec::with_capacity(4096),
            scratch: Vec::with_capacity(4096),
            input_seq: 0,
            now_ns: 0,
            read_ns: 0,
            stats: Arc::new(EngineStats::default()),
            answers: AnswerScratch::default(),
            market: None,
        }
    }

    /// Writes the engine's own state (login sequence numbers, requests in flight,
    /// clock) for a snapshot.
    pub fn write_core(&self, w: &mut impl std::io::Write) -> std::io::Result<()> {
        let put = |w: &mut dyn std::io::Write, v: u64| w.write_all(&v.to_le_bytes());
        put(w, self.input_seq)?;
        put(w, self.now_ns)?;
        put(w, self.read_ns)?;
        put(w, self.logins.len() as u64)?;
        for l in &self.logins {
            put(w, l.next_seq)?;
            put(w, u64::from(l.version))?;
        }
        let active: Vec<(usize, &PendingRequest)> =
            self.pending.iter().enumerate().filter(|(_, p)| p.active).collect();
        put(w, active.len() as u64)?;
        for (slot, p) in active {
            put(w, slot as u64)?;
            put(w, p.request_id)?;
            put(w, p.requester.map_or(u64::MAX, u64::from))?;
            put(w, p.reason.map_or(0, |r| u64::from(r.as_u8())))?;
        }
        Ok(())
    }

    /// Reads what `write_core` wrote, checking it against the configuration's
    /// number of logins and order capacity.
    pub fn read_core(
        r: &mut impl std::io::Read,
        logins: usize,
        capacity: usize,
    ) -> std::io::Result<EngineCore> {
        let bad = |why: String| std::io::Error::new(std::io::ErrorKind::InvalidData, why);
        let mut get = || -> std::io::Result<u64> {
            let mut b = [0u8; 8];
            r.read_exact(&mut b)?;
            Ok(u64::from_le_bytes(b))
        };
        let (input_seq, now_ns, read_ns) = (get()?, get()?, get()?);
        let n = get()? as usize;
        if n != logins {
            return Err(bad(format!("{n} logins in the snapshot, {logins} configured")));
        }
        let (mut next_seqs, mut versions) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            next_seqs.push(get()?);
            let version = get()?;
            versions.push(u8::try_from(version).map_err(|_| bad(format!("version {version}")))?);
        }
        let active = get()? as usize;
        if active > capacity {
            return Err(bad(format!("{active} requests in flight, capacity {capacity}")));
        }
        let mut pending = Vec::with_capacity(active);
        for _ in 0..active {
            let slot = get()?;
            let request_id = get()?;
            let requester = get()?;
            let reason = get()?;
            if slot as usize >= capacity {
                return Err(bad(format!("request slot {slot} beyond capacity {capacity}")));
            }
            let requester = if requester == u64::MAX { None } else { Some(requester as LoginIdx) };
            let reason = match reason {
                0 => None,
                r => Some(
                    CancelReason::from_u8(r as u8)
                        .ok_or_else(|| bad(format!("cancel reason {r}")))?,
                ),
            };
            pending.push((
                slot as u32,
                PendingRequest { active: true, request_id, requester, reason },
            ));
        }
        Ok(EngineCore { next_seqs, versions, pending, input_seq, now_ns, read_ns })
    }

    /// An engine from a restored risk engine and venue plus its own core state.
    pub fn from_parts(
        risk: RiskEngine,
        exchange: Exchange,
        logins: Vec<LoginPolicy>,
        order_capacity: usize,
        core: EngineCore,
    ) -> Engine {
        let mut engine = Engine::new(risk, exchange, logins, order_capacity);
        for ((state, next), version) in
            engine.logins.iter_mut().zip(&core.next_seqs).zip(&core.versions)
        {
            state.next_seq = *next;
            state.version = *version;
        }
        for (slot, p) in core.pending {
            engine.pending[slot as usize] = p;
        }
        engine.input_seq = core.input_seq;
        engine.now_ns = core.now_ns;
        engine.read_ns = core.read_ns;
        engine
    }

    /// The risk engine (read-only: accounts, orders, counters).
    pub fn risk(&self) -> &RiskEngine {
        &self.risk
    }

    /// The venue (read-only: books, market data).
    pub fn exchange(&self) -> &Exchange {
        &self.exchange
    }

    /// Counters for metrics.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// The counters, shared with a metrics reporter.
    pub fn shared_stats(&self) -> Arc<EngineStats> {
        Arc::clone(&self.stats)
    }

    /// Copies state that is not counted event by event (book sizes, risk flags,
    /// kill switches) into the shared gauges. Cheap; call a few times a second.
    pub fn publish_gauges(&self, inputs: u64) {
        let s = &self.stats;
        s.inputs.set(inputs);
        s.venue_open_orders.set(self.exchange.open_orders() as u64);
        s.venue_queued.set(self.exchange.queued() as u64);
        s.orders_today.set(self.risk.orders_today() as u64);
        s.orders_capacity.set(u64::from(self.risk.capacity().max_orders_per_day));
        let c = self.risk.counters();
        s.flags_high_rate.set(c.high_rate_flags);
        s.flags_high_daily.set(c.high_daily_flags);
        s.flags_rapid_cancel.set(c.rapid_cancel_flags);
        s.flags_rapid_orders.set(c.rapid_order_flags);
        s.venue_anomalies.set(c.venue_anomalies);
        s.firm_state.set(self.risk.firm_state() as u64);
        let restricted = self
            .owners
            .keys()
            .filter(|a| self.risk.account_state(a).is_some_and(|st| st != EntryState::Active))
            .count();
        s.accounts_restricted.set(restricted as u64);
    }

    /// When the venue next has timed work (a `Tick` is due then).
    pub fn next_deadline(&self) -> Option<u64> {
        self.exchange.next_deadline()
    }

    /// The next sequence number of each login's stream.
    pub fn next_seqs(&self) -> impl Iterator<Item = u64> + '_ {
        self.logins.iter().map(|l| l.next_seq)
    }

    /// The protocol version of each login's stream (0: no login yet today).
    pub fn stream_versions(&self) -> impl Iterator<Item = u8> + '_ {
        self.logins.iter().map(|l| l.version)
    }

    /// Processes one input. `arrival_ns` is when it reached the gateway (for the
    /// throttle policy); `now_ns` is the engine's time for it.
    pub fn handle(
        &mut self,
        input_seq: u64,
        now_ns: u64,
        arrival_ns: u64,
        input: &Input,
        out: &mut impl FnMut(Output),
        probe: &mut impl Probe,
    ) {
        debug_assert!(now_ns >= self.now_ns, "engine time must not go backwards");
        self.input_seq = input_seq;
        self.now_ns = now_ns;
        self.read_ns = arrival_ns;
        match *input {
            Input::NewOrder { login, order } => {
                self.new_order(login, &order, arrival_ns, out, probe)
            }
            Input::Cancel { login, cancel } => {
                self.cancel(login, cancel.request_id, &cancel.account, cancel.orig_cl_ord_id, out)
            }
            Input::Replace { login, replace } => self.replace(login, &replace, out),
            Input::MassCancel { login, mass } => {
                self.mass_cancel(login, mass.request_id, mass.scope, mass.block_new, out)
            }
            Input::EntryControl { login, control } => self.entry_control(login, &control, out),
            Input::Malformed { login, ref_msg_type, code, ref_id } => {
                self.stats.business_rejects.inc();
                let msg = BusinessReject { ref_msg_type, code, ref_id };
                self.emit(login, AppMessage::BusinessReject(msg), out);
            }
            Input::LoggedIn { login, version } => {
                let state = &mut self.logins[login as usize];
                if state.version == 0 {
                    state.version = version;
                }
            }
            Input::Disconnected { login } => self.disconnected(login, out),
            Input::Tick => {
                self.with_venue(|x, now, ev| x.advance(now, &mut |e| ev.push(e)));
                self.apply_venue_events(out);
            }
            Input::Admin(cmd) => self.admin(cmd, out),
            // For the FIX door's rebuild after a restart (pipeline::start).
            Input::FixFact { .. } => {}
            // Answered by `answer_query`, outside the sequenced inputs.
            Input::Query { .. } => {}
        }
    }

    /// Answers a query from the state as it stands between two inputs. A login's
    /// answer is consistent with its stream up to the last message emitted to it;
    /// the risk desk's with every input so far. Changes nothing.
    pub fn answer_query(&mut self, asker: Asker, query: &Query) -> Reply {
        // The io thread refused page sizes beyond the maximum already.
        let rows = query.rows_wanted().unwrap_or(query.kind.max_rows());
        let as_of_seq = match asker {
            Asker::Login { login, .. } => {
                if !self.risk.is_bound(login, &query.account) {
                    let answer = protocol::query::QueryAnswer::Rejected(QueryRejected {
                        query_id: query.query_id,
                        account: Some(query.account),
                        kind: query.kind.as_u8(),
                        code: RejectCode::ACCOUNT_NOT_PERMITTED,
                    });
                    return Reply { asker, answer };
                }
                self.logins[login as usize].next_seq - 1
            }
            Asker::Desk { .. } => self.input_seq,
        };
        let answer = crate::answers::answer(&self.risk, &mut self.answers, query, rows, as_of_seq);
        Reply { asker, answer }
    }

    /// OrderEntryControl: a login disables or enables order entry for one of its
    /// accounts. It sets only the clients' state: an enable lifts what a client set
    /// (a disable, a kill switch) and never the risk desk's state, which stays in
    /// force and is named in the answer's code.
    fn entry_control(
        &mut self,
        login: LoginIdx,
        control: &protocol::codec::OrderEntryControl,
        out: &mut impl FnMut(Output),
    ) {
        let account = control.account;
        let code = if !self.risk.is_bound(login, &account) {
            RejectCode::ACCOUNT_NOT_PERMITTED
        } else {
            let wanted = if control.enable { EntryState::Active } else { EntryState::Blocked };
            // Bound accounts exist (validated at start-up), so this cannot fail.
            let _ = self.risk.set_client_state(&account, wanted);
            match self.risk.desk_state(&account) {
                Some(EntryState::Blocked) if control.enable => RejectCode::ACCOUNT_HALTED,
                Some(EntryState::ReducingOnly) if control.enable => RejectCode::REDUCING_ONLY,
                _ => RejectCode(0),
            }
        };
        let msg = OrderEntryStatus {
            request_id: control.request_id,
            account,
            state: self.risk.account_state(&account).unwrap_or(EntryState::Blocked),
            code,
        };
        self.emit(login, AppMessage::OrderEntryStatus(msg), out);
    }

    /// Tells every login bound to `account` the state now in force: `requester`'s
    /// copy carries its `request_id`, the others 0 (the request was not theirs).
    fn announce_entry_state(
        &mut self,
        account: AccountId,
        requester: Option<LoginIdx>,
        request_id: u64,
        out: &mut impl FnMut(Output),
    ) {
        let Some(state) = self.risk.account_state(&account) else { return };
        for login in 0..self.login_accounts.len() {
            if !self.login_accounts[login].contains(&account) {
                continue;
            }
            let login = login as LoginIdx;
            let request_id = if requester == Some(login) { request_id } else { 0 };
            let msg = OrderEntryStatus { request_id, account, state, code: RejectCode(0) };
            self.emit(login, AppMessage::OrderEntryStatus(msg), out);
        }
    }

    fn emit(&mut self, login: LoginIdx, msg: AppMessage, out: &mut impl FnMut(Output)) {
        let state = &mut self.logins[login as usize];
        let seq = state.next_seq;
        state.next_seq += 1;
        out(Output {
            login,
            seq,
            ts_ns: self.now_ns,
            input_seq: self.input_seq,
            read_ns: self.read_ns,
            msg,
        });
    }

    fn market_context(&self, security: SecurityId, side: Side) -> MarketContext {
        MarketContext {
            phase: self.exchange.phase(security).unwrap_or(protocol::TradingPhase::Closed),
            cage_reference: self.exchange.reference_price(security, side),
            last_price: self.exchange.last_price(security).unwrap_or(protocol::Price::ZERO),
        }
    }

    fn reject_order(
        &mut self,
        login: LoginIdx,
        order: &NewOrder,
        code: RejectCode,
        detail: RejectDetail,
        flags: u8,
        out: &mut impl FnMut(Output),
    ) {
        self.stats.count_reject(code);
        let msg = OrderRejected {
            cl_ord_id: order.cl_ord_id,
            account: order.account,
            code,
            flags,
            detail,
        };
        self.emit(login, AppMessage::OrderRejected(msg), out);
    }

    fn new_order(
        &mut self,
        login: LoginIdx,
        order: &NewOrder,
        arrival_ns: u64,
        out: &mut impl FnMut(Output),
        probe: &mut impl Probe,
    ) {
        self.stats.orders_received.inc();
        let policy = self.logins[login as usize];
        if policy.throttle_queue_ns > 0
            && self.now_ns.saturating_sub(arrival_ns) > policy.throttle_queue_ns
        {
            self.stats.throttled.inc();
            return self.reject_order(
                login,
                order,
                RejectCode::THROTTLED,
                RejectDetail::None,
                0,
                out,
            );
        }
        if let Err(code) = order.validate() {
            return self.reject_order(login, order, code, RejectDetail::None, 0, out);
        }
        let ctx = self.market_context(order.security, order.side);
        let verdict = self.risk.check_new_order(login, order, &ctx, self.now_ns);
        probe.risk_done();
        match verdict {
            NewOrderVerdict::Pass { order: r, confirmation_recorded } => {
                self.pending[r.0 as usize] = PendingRequest::default();
                if confirmation_recorded {
                    self.stats.confirmations.inc();
                }
                // The midday break is the one phase in which the broker holds an
                // order for the venue (待报); otherwise it is reported at once (已报).
                let status = match ctx.phase {
                    TradingPhase::Break => PendingStatus::Queued,
                    _ => PendingStatus::Reported,
                };
                self.broker_answer(login, r, 0, status, out);
                let venue_order = VenueOrder {
                    order_id: order_id_of(r),
                    owner: self.owners.get(&order.account).copied().unwrap_or(u32::MAX),
                    security: order.security,
                    side: order.side,
                    order_type: order.order_type,
                    tif: order.tif,
                    price: order.price,
                    qty: order.qty,
                };
                self.with_venue(|x, now, ev| x.submit(&venue_order, now, &mut |e| ev.push(e)));
                self.apply_venue_events(out);
                probe.matched();
            }
            NewOrderVerdict::Reject { reject, .. } => {
                self.reject_order(login, order, reject.code, reject.detail, 0, out)
            }
            NewOrderVerdict::Repeat { order: r } => self.repeat_answer(login, r, out),
        }
    }

    /// A resent order: repeat its original answer, flagged. An order still in flight
    /// at the venue has no answer yet; its one answer follows when the venue answers.
    fn repeat_answer(&mut self, login: LoginIdx, r: OrderRef, out: &mut impl FnMut(Output)) {
        self.stats.repeats.inc();
        let rec = *self.risk.order(r);
        let msg = match rec.state {
            OrderState::PendingVenue => return,
            OrderState::Rejected { code, detail } => AppMessage::OrderRejected(OrderRejected {
                cl_ord_id: rec.cl_ord_id,
                account: rec.account,
                code,
                flags: answer_flags::REPEAT,
                detail,
            }),
            OrderState::VenueRejected { code } => AppMessage::OrderRejected(OrderRejected {
                cl_ord_id: rec.cl_ord_id,
                account: rec.account,
                code,
                flags: answer_flags::REPEAT,
                detail: RejectDetail::None,
            }),
            OrderState::Open | OrderState::Filled | OrderState::Canceled => {
                AppMessage::OrderAccepted(self.accepted_message(r, answer_flags::REPEAT))
            }
        };
        self.emit(login, msg, out);
    }

    /// The broker's own answer, before the venue's (OrderPending): only in streams
    /// of version 2 and later, so a version 1 client sees the stream it expects.
    fn broker_answer(
        &mut self,
        login: LoginIdx,
        r: OrderRef,
        request_id: u64,
        status: PendingStatus,
        out: &mut impl FnMut(Output),
    ) {
        if self.logins[login as usize].version < VERSION_ORDER_PENDING {
            return;
        }
        let rec = self.risk.order(r);
        let msg = OrderPending {
            cl_ord_id: rec.cl_ord_id,
            order_id: order_id_of(r),
            request_id,
            account: rec.account,
            status,
            phase: self.exchange.phase(rec.security).unwrap_or(TradingPhase::Closed),
        };
        self.emit(login, AppMessage::OrderPending(msg), out);
    }

    fn accepted_message(&self, r: OrderRef, flags: u8) -> OrderAccepted {
        let rec = self.risk.order(r);
        let confirmed =
            if rec.confirmation_recorded { answer_flags::CONFIRMATION_RECORDED } else { 0 };
        OrderAccepted {
            cl_ord_id: rec.cl_ord_id,
            order_id: order_id_of(r),
            account: rec.account,
            security: rec.security,
            side: rec.side,
            order_type: rec.order_type,
            tif: rec.tif,
            price: rec.price,
            qty: rec.qty,
            flags: flags | confirmed,
            credit: rec.credit,
        }
    }

    fn cancel(
        &mut self,
        login: LoginIdx,
        request_id: u64,
        account: &AccountId,
        cl_ord_id: u64,
        out: &mut impl FnMut(Output),
    ) {
        self.stats.cancels_received.inc();
        let ctx = self.context_of_order(account, cl_ord_id);
        match self.risk.check_cancel(login, account, cl_ord_id, &ctx, self.now_ns) {
            Ok(r) => {
                self.pending[r.0 as usize] = PendingRequest {
                    active: true,
                    request_id,
                    requester: Some(login),
                    reason: Some(CancelReason::Client),
                };
                self.broker_answer(login, r, request_id, PendingStatus::CancelPending, out);
                self.with_venue(|x, now, ev| x.cancel(order_id_of(r), now, &mut |e| ev.push(e)));
                self.apply_venue_events(out);
            }
            Err(reject) => {
                self.stats.count_reject(reject.code);
                let msg = CancelRejected {
                    request_id,
                    orig_cl_ord_id: cl_ord_id,
                    account: *account,
                    code: reject.code,
                    kind: RequestKind::Cancel,
                };
                self.emit(login, AppMessage::CancelRejected(msg), out);
            }
        }
    }

    fn replace(
        &mut self,
        login: LoginIdx,
        replace: &protocol::codec::ReplaceOrder,
        out: &mut impl FnMut(Output),
    ) {
        self.stats.replaces_received.inc();
        let ctx = self.context_of_order(&replace.account, replace.orig_cl_ord_id);
        match self.risk.check_replace(login, replace, &ctx, self.now_ns) {
            Ok(r) => {
                self.pending[r.0 as usize] = PendingRequest {
                    active: true,
                    request_id: replace.request_id,
                    requester: Some(login),
                    reason: None,
                };
                let status = PendingStatus::ReplacePending;
                self.broker_answer(login, r, replace.request_id, status, out);
                let (price, qty) = (replace.price, replace.qty);
                self.with_venue(|x, now, ev| {
                    x.replace(order_id_of(r), price, qty, now, &mut |e| ev.push(e))
                });
                self.apply_venue_events(out);
            }
            Err(reject) => {
                self.stats.count_reject(reject.code);
                let msg = CancelRejected {
                    request_id: replace.request_id,
                    orig_cl_ord_id: replace.orig_cl_ord_id,
                    account: replace.account,
                    code: reject.code,
                    kind: RequestKind::Replace,
                };
                self.emit(login, AppMessage::CancelRejected(msg), out);
            }
        }
    }

    fn context_of_order(&self, account: &AccountId, cl_ord_id: u64) -> MarketContext {
        match self.risk.lookup(account, cl_ord_id) {
            Some(r) => {
                let rec = self.risk.order(r);
                self.market_context(rec.security, rec.side)
            }
            None => MarketContext {
                phase: protocol::TradingPhase::Continuous,
                cage_reference: None,
                last_price: protocol::Price::ZERO,
            },
        }
    }

    /// Issues a venue cancel for each order in `self.scratch` that has no request in
    /// flight; returns how many were issued.
    fn cancel_scratch(
        &mut self,
        request_id: u64,
        requester: Option<LoginIdx>,
        reason: CancelReason,
    ) -> u32 {
        let mut issued = 0;
        let orders = std::mem::take(&mut self.scratch);
        for &r in &orders {
            // An order with a cancel or replace already in flight is left to it.
            if self.pending[r.0 as usize].active
                || self.risk.order(r).pending != PendingChange::None
            {
                continue;
            }
            self.pending[r.0 as usize] =
                PendingRequest { active: true, request_id, requester, reason: Some(reason) };
            self.with_venue(|x, now, ev| x.cancel(order_id_of(r), now, &mut |e| ev.push(e)));
            issued += 1;
        }
        self.scratch = orders;
        self.scratch.clear();
        issued
    }

    fn mass_cancel(
        &mut self,
        login: LoginIdx,
        request_id: u64,
        scope: MassCancelScope,
        block_new: bool,
        out: &mut impl FnMut(Output),
    ) {
        let reason = if block_new { CancelReason::KillSwitch } else { CancelReason::Client };
        let (account, security) = match scope {
            MassCancelScope::Account(a) => (Some(a), None),
            MassCancelScope::Security(a, s) => (Some(a), Some(s)),
            MassCancelScope::Login => (None, None),
        };
        if let Some(a) = account
            && !self.risk.is_bound(login, &a)
        {
            let msg = MassCancelAck {
                request_id,
                account,
                canceled_count: 0,
                code: RejectCode::ACCOUNT_NOT_PERMITTED,
                blocked: false,
            };
            return self.emit(login, AppMessage::MassCancelAck(msg), out);
        }
        let accounts_in_scope: &[AccountId] = match &account {
            Some(a) => std::slice::from_ref(a),
            None => &self.login_accounts[login as usize],
        };
        let mut scratch = std::mem::take(&mut self.scratch);
        for a in accounts_in_scope {
            self.risk.open_orders(a, security, &mut scratch);
        }
        if block_new {
            for a in accounts_in_scope {
                // Bound accounts exist (validated at start-up), so this cannot fail.
                let _ = self.risk.set_client_state(a, EntryState::Blocked);
            }
        }
        self.scratch = scratch;
        let count = self.cancel_scratch(request_id, Some(login), reason);
        self.apply_venue_events(out);
        if block_new {
            // Each account in scope reports its new state, after its Canceled
            // messages and before the MassCancelAck (section 9.5).
            let in_scope =
                if account.is_some() { 1 } else { self.login_accounts[login as usize].len() };
            for k in 0..in_scope {
                let a = match account {
                    Some(a) => a,
                    None => self.login_accounts[login as usize][k],
                };
                self.announce_entry_state(a, Some(login), request_id, out);
            }
        }
        self.stats.mass_cancels.inc();
        let msg = MassCancelAck {
            request_id,
            account,
            canceled_count: count,
            code: RejectCode(0),
            blocked: block_new,
        };
        self.emit(login, AppMessage::MassCancelAck(msg), out);
    }

    fn disconnected(&mut self, login: LoginIdx, out: &mut impl FnMut(Output)) {
        if !self.logins[login as usize].cancel_on_disconnect {
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        self.risk.open_orders_of_login(login, &mut scratch);
        self.scratch = scratch;
        let n = self.cancel_scratch(0, Some(login), CancelReason::CancelOnDisconnect);
        self.stats.cancel_on_disconnect.add(u64::from(n));
        self.apply_venue_events(out);
    }

    /// Runs `f` on the venue with the event buffer as its sink.
    fn with_venue(&mut self, f: impl FnOnce(&mut Exchange, u64, &mut Vec<Event>)) {
        f(&mut self.exchange, self.now_ns, &mut self.events);
    }

    fn admin(&mut self, cmd: AdminCommand, out: &mut impl FnMut(Output)) {
        self.stats.admin_commands.inc();
        match cmd {
            AdminCommand::FirmState(state) => self.risk.set_firm_state(state),
            AdminCommand::AccountState(account, state) => {
                if self.risk.set_account_state(&account, state).is_ok() {
                    self.announce_entry_state(account, None, 0, out);
                }
            }
            AdminCommand::CancelAccount(account) => {
                let mut scratch = std::mem::take(&mut self.scratch);
                self.risk.open_orders(&account, None, &mut scratch);
                self.scratch = scratch;
                self.cancel_scratch(0, None, CancelReason::KillSwitch);
            }
            AdminCommand::Halt(security) => {
                self.with_venue(|x, now, ev| x.halt(security, now, &mut |e| ev.push(e)))
            }
            AdminCommand::Resume(security) => {
                self.with_venue(|x, now, ev| x.resume(security, now, &mut |e| ev.push(e)))
            }
            AdminCommand::ResumeWithAuction(security, auction_ns) => {
                self.with_venue(|x, now, ev| {
                    x.resume_with_auction(security, auction_ns, now, &mut |e| ev.push(e))
                })
            }
            AdminCommand::SetPhase(security, phase) => {
                self.with_venue(|x, now, ev| x.set_phase(security, phase, now, &mut |e| ev.push(e)))
            }
            AdminCommand::PauseMatching { until_ns } => self.exchange.pause_matching(until_ns),
            AdminCommand::AckDelay { delay_ns } => self.exchange.set_ack_delay(delay_ns),
            AdminCommand::SetLimit(change) => apply_limit(&mut self.risk, change),
            AdminCommand::EndOfDay => {
                self.with_venue(|x, now, ev| x.end_of_day(now, &mut |e| ev.push(e)))
            }
            AdminCommand::StartOfDay => {
                self.risk.start_trading_day(self.now_ns);
                let event = SystemEvent {
                    kind: SystemEventKind::StartOfDay,
                    phase: self.exchange.scheduled_phase(self.now_ns),
                    security: None,
                };
                self.broadcast(event, out);
            }
        }
        self.apply_venue_events(out);
    }

    fn broadcast(&mut self, event: SystemEvent, out: &mut impl FnMut(Output)) {
        for login in 0..self.logins.len() {
            self.emit(login as LoginIdx, AppMessage::SystemEvent(event), out);
        }
    }

    /// Applies the venue's events in order: post-trade risk, then the client messages.
    fn apply_venue_events(&mut self, out: &mut impl FnMut(Output)) {
        let mut events = std::mem::take(&mut self.events);
        for event in events.drain(..) {
            self.venue_event(event, out);
        }
        self.events = events;
        if let Some(tap) = &mut self.market {
            tap.finish_operation(&self.exchange, self.now_ns);
        }
    }

    /// Feeds the venue's market-data events to the publisher from now on (after
    /// any replay: the publisher is seeded from the venue as it stands).
    pub fn attach_market_tap(&mut self, tap: MarketTap) {
        self.market = Some(tap);
    }

    fn venue_event(&mut self, event: Event, out: &mut impl FnMut(Output)) {
        match event {
            Event::Accepted { order_id } => {
                let r = ref_of(order_id);
                self.risk.on_venue_accepted(r);
                self.stats.orders_accepted.inc();
                let login = self.risk.order(r).login;
                let msg = self.accepted_message(r, 0);
                self.emit(login, AppMessage::OrderAccepted(msg), out);
            }
            Event::Rejected { order_id, code, detail } => {
                let r = ref_of(order_id);
                self.risk.on_venue_rejected(r, code);
                self.stats.count_reject(code);
                let rec = *self.risk.order(r);
                let msg = OrderRejected {
                    cl_ord_id: rec.cl_ord_id,
                    account: rec.account,
                    code,
                    flags: 0,
                    detail,
                };
                self.emit(rec.login, AppMessage::OrderRejected(msg), out);
            }
            Event::Executed { order_id, exec_id, price, qty, leaves, cum, liquidity } => {
                let r = ref_of(order_id);
                let fees = self.risk.on_execution(r, exec_id, price, qty, self.now_ns);
                self.stats.executions.inc();
                let rec = *self.risk.order(r);
                if leaves.0 == 0 {
                    self.pending[r.0 as usize].active = false;
                }
                let msg = Executed {
                    cl_ord_id: rec.cl_ord_id,
                    order_id,
                    exec_id,
                    account: rec.account,
                    security: rec.security,
                    side: rec.side,
                    liquidity,
                    price,
                    qty,
                    leaves,
                    cum,
                };
                self.emit(rec.login, AppMessage::Executed(msg), out);
                if self.logins[rec.login as usize].version >= VERSION_QUERIES {
                    let msg = FillFees {
                        cl_ord_id: rec.cl_ord_id,
                        order_id,
                        exec_id,
                        account: rec.account,
                        commission: fees.commission,
                        stamp_duty: fees.stamp_duty,
                        transfer_fee: fees.transfer,
                    };
                    self.emit(rec.login, AppMessage::FillFees(msg), out);
                }
            }
            Event::Trade { qty, .. } => {
                self.stats.trades.inc();
                self.stats.traded_shares.add(qty.0);
            }
            Event::Canceled { order_id, canceled_qty, cum, reason } => {
                let r = ref_of(order_id);
                self.risk.on_canceled(r, canceled_qty);
                self.stats.cancels.inc();
                let pending = std::mem::take(&mut self.pending[r.0 as usize]);
                let rec = *self.risk.order(r);
                let reason = match (pending.active, pending.reason) {
                    // The venue's own reasons (expiry, IOC remainder) win over a
                    // request still in flight only when no request caused this.
                    (true, Some(requested)) if reason == CancelReason::Client => requested,
                    _ => reason,
                };
                let msg = Canceled {
                    cl_ord_id: rec.cl_ord_id,
                    order_id,
                    account: rec.account,
                    request_id: pending.request_id_for(rec.login),
                    canceled_qty,
                    cum,
                    reason,
                };
                self.emit(rec.login, AppMessage::Canceled(msg), out);
                if let Some(requester) = pending.other_requester(rec.login) {
                    let msg = Canceled { request_id: pending.request_id, ..msg };
                    self.emit(requester, AppMessage::Canceled(msg), out);
                }
            }
            Event::CancelRejected { order_id, code } => {
                let r = ref_of(order_id);
                self.risk.on_cancel_rejected(r);
                self.stats.count_reject(code);
                let pending = std::mem::take(&mut self.pending[r.0 as usize]);
                let rec = *self.risk.order(r);
                let msg = CancelRejected {
                    request_id: pending.request_id,
                    orig_cl_ord_id: rec.cl_ord_id,
                    account: rec.account,
                    code,
                    kind: RequestKind::Cancel,
                };
                let to = pending.requester.filter(|_| pending.active).unwrap_or(rec.login);
                self.emit(to, AppMessage::CancelRejected(msg), out);
            }
            Event::Replaced { order_id, price, qty, leaves, priority_kept } => {
                let r = ref_of(order_id);
                self.risk.on_replaced(r, price, qty, leaves);
                self.stats.replaces.inc();
                let pending = std::mem::take(&mut self.pending[r.0 as usize]);
                let rec = *self.risk.order(r);
                let msg = Replaced {
                    request_id: pending.request_id_for(rec.login),
                    cl_ord_id: rec.cl_ord_id,
                    order_id,
                    account: rec.account,
                    price,
                    qty,
                    leaves,
                    priority_kept,
                };
                self.emit(rec.login, AppMessage::Replaced(msg), out);
                if let Some(requester) = pending.other_requester(rec.login) {
                    let msg = Replaced { request_id: pending.request_id, ..msg };
                    self.emit(requester, AppMessage::Replaced(msg), out);
                }
            }
            Event::ReplaceRejected { order_id, code } => {
                let r = ref_of(order_id);
                self.risk.on_replace_rejected(r);
                self.stats.count_reject(code);
                let pending = std::mem::take(&mut self.pending[r.0 as usize]);
                let rec = *self.risk.order(r);
                let msg = CancelRejected {
                    request_id: pending.request_id,
                    orig_cl_ord_id: rec.cl_ord_id,
                    account: rec.account,
                    code,
                    kind: RequestKind::Replace,
                };
                let to = pending.requester.filter(|_| pending.active).unwrap_or(rec.login);
                self.emit(to, AppMessage::CancelRejected(msg), out);
            }
            Event::Phase { security, phase, kind } => {
                let kind = match kind {
                    PhaseEventKind::PhaseChange => SystemEventKind::PhaseChange,
                    PhaseEventKind::Halt => SystemEventKind::Halt,
                    PhaseEventKind::Resume => SystemEventKind::Resume,
                };
                self.broadcast(SystemEvent { kind, phase, security }, out);
            }
            // The market-data publisher consumes these; the order path has no use for them.
            Event::Market(m) => {
                if let Some(tap) = &mut self.market {
                    tap.offer(m);
                }
            }
        }
    }
}

fn apply_limit(risk: &mut RiskEngine, change: LimitChange) {
    let mut limits = *risk.limits();
    match change {
        LimitChange::MaxNotional(v) => limits.max_notional = v,
        LimitChange::FatFingerBp(v) => limits.fat_finger_bp = v,
        LimitChange::MaxMessagesPerSecond(v) => limits.rate_limit_per_s = v,
        LimitChange::MaxOpenOrdersPerSecurity(v) => limits.open_orders_per_security = v,
    }
    risk.set_limits(limits);
}
