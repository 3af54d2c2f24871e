//! Every request the harness sends, its answer and its terminal state: the latency
//! measurements and the reconciliation.
//!
//! Requests live in a fixed table of slots allocated at start-up. An id on the wire
//! (`cl_ord_id` for orders, `request_id` for cancels, replaces and mass cancels)
//! encodes the slot, a generation and the run's tag:
//!
//! ```text
//!  63        48 47                    22 21               0
//! [ run tag  ][ generation (26 bits)   ][ slot (22 bits)  ]
//! ```
//!
//! so an answer finds its request with one index and one compare, and an id is
//! never reused in a run (a slot's generation moves on when it is freed, and freed
//! slots are reused in FIFO order, as late as possible, so a late duplicate still
//! finds its old request and is recognised as a duplicate). The run tag keeps ids
//! unique per account per day across runs against the same gateway.

use std::collections::{BTreeMap, VecDeque};

use hdrhistogram::Histogram;
use protocol::codec::answer_flags;
use protocol::{CancelReason, RejectCode};
use serde::Serialize;

/// Bits of the slot index in an id.
pub const SLOT_BITS: u32 = 22;
/// Bits of the generation in an id.
pub const GEN_BITS: u32 = 26;
const SLOT_MASK: u64 = (1 << SLOT_BITS) - 1;
const GEN_MASK: u64 = (1 << GEN_BITS) - 1;

/// What a slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Kind {
    /// A NewOrder.
    Order,
    /// A CancelOrder.
    Cancel,
    /// A ReplaceOrder.
    Replace,
    /// A MassCancel.
    Mass,
}

/// Where a request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Free for a new request.
    Free,
    /// Sent, not answered.
    Sent,
    /// An order that was accepted and is not terminal.
    Open,
    /// Answered and (for an order) terminal.
    Closed,
}

/// What the flow meant an order to do, checked against what happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// An ordinary order.
    Normal,
    /// Built to be refused by a risk or suitability check.
    Reject,
    /// Needs a suitability confirmation (refused first, then resent with the flag).
    Confirm,
    /// The resend with the confirmation flag.
    Confirmed,
}

/// One request.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    /// Generation (part of the id).
    pub generation: u32,
    /// Life stage.
    pub state: State,
    /// Request kind.
    pub kind: Kind,
    /// What the flow meant.
    pub intent: Intent,
    /// Session index.
    pub session: u16,
    /// Account index (in the universe).
    pub account: u16,
    /// Instrument index.
    pub instr: u16,
    /// Side (wire value).
    pub side: u8,
    /// Order type (wire value).
    pub order_type: u8,
    /// Time in force (wire value).
    pub tif: u8,
    /// Sent again after a reconnect this many times.
    pub resends: u8,
    /// A cancel or replace of this order is in flight.
    pub pending_change: bool,
    /// The order has had at least one execution.
    pub traded: bool,
    /// The broker's answer (OrderPending, version 2) has arrived.
    pub broker_answered: bool,
    /// Counted in the measured window (sent after the warm-up).
    pub measured: bool,
    /// Priced to trade at once: its terminal state is measured too.
    pub marketable: bool,
    /// Position in the session's open list.
    pub open_idx: u32,
    /// The order a cancel or replace names (slot index).
    pub target: u32,
    /// When the request was meant to be sent, ns.
    pub intended_ns: u64,
    /// Order quantity (total).
    pub qty: u64,
    /// Executed so far.
    pub cum: u64,
    /// Limit price.
    pub price: i64,
}

impl Slot {
    /// A free slot (a template for new requests).
    pub const EMPTY: Slot = Slot {
        generation: 0,
        state: State::Free,
        kind: Kind::Order,
        intent: Intent::Normal,
        session: 0,
        account: 0,
        instr: 0,
        side: 1,
        order_type: 1,
        tif: 1,
        resends: 0,
        pending_change: false,
        traded: false,
        broker_answered: false,
        measured: false,
        marketable: false,
        open_idx: u32::MAX,
        target: u32::MAX,
        intended_ns: 0,
        qty: 0,
        cum: 0,
        price: 0,
    };
}

/// Counts for the summary and the reconciliation.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    /// NewOrders sent (confirmations included, resends not).
    pub orders_sent: u64,
    /// CancelOrders sent.
    pub cancels_sent: u64,
    /// ReplaceOrders sent.
    pub replaces_sent: u64,
    /// MassCancels sent.
    pub mass_cancels_sent: u64,
    /// Requests sent again after a reconnect (same id).
    pub resent: u64,
    /// Orders sent again with the suitability confirmation flag.
    pub confirmations_sent: u64,
    /// Orders accepted.
    pub accepted: u64,
    /// Of those, with CONFIRMATION_RECORDED.
    pub accepted_with_confirmation: u64,
    /// Orders rejected, by code.
    pub rejected: BTreeMap<u16, u64>,
    /// Orders built to be refused that were accepted instead.
    pub reject_intent_accepted: u64,
    /// Orders filled completely.
    pub filled: u64,
    /// Orders with some but not all of their quantity executed at their end.
    pub partially_filled: u64,
    /// Executions received.
    pub executions: u64,
    /// Orders cancelled, by reason name.
    pub canceled: BTreeMap<String, u64>,
    /// Cancel requests answered by Canceled.
    pub cancel_done: u64,
    /// Cancel and replace requests refused, by code.
    pub cancel_rejected: BTreeMap<u16, u64>,
    /// Replaces done.
    pub replaced: u64,
    /// Mass cancels acknowledged.
    pub mass_acks: u64,
    /// Answers flagged REPEAT (answers to resends).
    pub repeats: u64,
    /// Answers to a request that was already answered (not flagged REPEAT).
    pub duplicate_answers: u64,
    /// Terminal states for an order that was already terminal.
    pub duplicate_terminals: u64,
    /// Messages naming an id this run never sent (or that was already reused).
    pub unknown_ids: u64,
    /// Executions, cancels or replaces for an order not yet accepted.
    pub out_of_order: u64,
    /// BusinessRejects (the harness sends no malformed messages: each is a fault).
    pub business_rejects: u64,
    /// SystemEvents (halts, resumes, phase changes).
    pub system_events: u64,
    /// OrderEntryStatus messages.
    pub entry_status: u64,
    /// OrderPending (only on version 2 streams).
    pub pending: u64,
    /// Sequence gaps seen (a sequenced message that was not last + 1).
    pub seq_gaps: u64,
    /// Sequenced messages seen again (at or below the last processed).
    pub seq_repeats: u64,
    /// Requests with no answer when the drain window closed.
    pub unanswered: u64,
    /// Requests still unanswered after reconnecting with replay and a final wait.
    pub lost: u64,
    /// Orders still open at the end (accepted, not terminal).
    pub still_open: u64,
}

/// Latency histograms in nanoseconds from the intended send time.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// Every first answer (orders, cancels, replaces, mass cancels).
    pub answer: Histogram<u64>,
    /// OrderAccepted / OrderRejected.
    pub order: Histogram<u64>,
    /// Canceled / CancelRejected for cancels.
    pub cancel: Histogram<u64>,
    /// Replaced / CancelRejected for replaces.
    pub replace: Histogram<u64>,
    /// Intended send to the terminal state (filled, or the unfilled rest cancelled
    /// by the venue), for orders priced to trade at once.
    pub fill: Histogram<u64>,
    /// The answer histogram of the current interval.
    pub interval: Histogram<u64>,
    /// Orders: intended send time to the gateway's time stamp on the answer (the
    /// engine's time for the input): the way in, the gateway's wake-up and work.
    pub to_stamp: Histogram<u64>,
    /// Orders: the gateway's time stamp to the answer's arrival: the way out.
    pub from_stamp: Histogram<u64>,
    /// Orders on a version 2 stream: intended send to the broker's answer
    /// (OrderPending), which comes before the venue's (`order`).
    pub broker: Histogram<u64>,
}

/// Histogram range: 1 ns to 1 hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid histogram bounds")
}

impl Latencies {
    fn new() -> Latencies {
        Latencies {
            answer: new_histogram(),
            order: new_histogram(),
            cancel: new_histogram(),
            replace: new_histogram(),
            fill: new_histogram(),
            interval: new_histogram(),
            to_stamp: new_histogram(),
            from_stamp: new_histogram(),
            broker: new_histogram(),
        }
    }
}

/// An order the flow should send again with the confirmation flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConfirmRequest {
    /// Session.
    pub session: u16,
    /// Account.
    pub account: u16,
    /// Instrument.
    pub instr: u16,
    /// Side, price, quantity as first sent.
    pub side: u8,
    /// Limit price.
    pub price: i64,
    /// Quantity.
    pub qty: u64,
}

/// What an incoming message meant, for the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing for the caller to do.
    None,
    /// An answer arrived; its latency in ns (if measured).
    Answered(Option<u64>),
    /// Send this order again with the confirmation flag.
    Confirm(ConfirmRequest),
}

/// The request table.
#[derive(Debug)]
pub struct Tracker {
    slots: Vec<Slot>,
    free: VecDeque<u32>,
    tag: u64,
    open: Vec<Vec<u32>>,
    /// Counts.
    pub counts: Counts,
    /// Latencies.
    pub lat: Latencies,
    in_flight: u64,
    /// Requests sent before this time are not measured (warm-up), ns.
    pub measure_from_ns: u64,
}

impl Tracker {
    /// A table of `capacity` slots for `sessions` sessions; `tag` (16 bits, not 0)
    /// marks this run's ids.
    pub fn new(capacity: usize, sessions: usize, tag: u16) -> Tracker {
        assert!(capacity > 0 && capacity as u64 <= SLOT_MASK, "capacity within the id's slot bits");
        assert!(tag != 0, "a zero tag would let ids collide with small hand-made ones");
        Tracker {
            slots: vec![Slot::EMPTY; capacity],
            free: (0..capacity as u32).collect(),
            tag: u64::from(tag),
            open: (0..sessions).map(|_| Vec::with_capacity(4096)).collect(),
            counts: Counts::default(),
            lat: Latencies::new(),
            in_flight: 0,
            measure_from_ns: 0,
        }
    }

    /// The id of slot `i` at its current generation.
    pub fn id_of(&self, i: u32) -> u64 {
        (self.tag << 48)
            | ((u64::from(self.slots[i as usize].generation) & GEN_MASK) << SLOT_BITS)
            | u64::from(i)
    }

    /// The kind of request an id names, if it is one of this run's and current.
    pub fn kind_of(&self, id: u64) -> Option<Kind> {
        self.slot_of(id).map(|i| self.slots[i as usize].kind)
    }

    /// The slot an id names, if it is one of this run's and still current.
    fn slot_of(&self, id: u64) -> Option<u32> {
        if id >> 48 != self.tag {
            return None;
        }
        let i = (id & SLOT_MASK) as usize;
        let generation = ((id >> SLOT_BITS) & GEN_MASK) as u32;
        let slot = self.slots.get(i)?;
        (slot.generation & GEN_MASK as u32 == generation).then_some(i as u32)
    }

    /// Requests sent and not answered.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// Free slots.
    pub fn free_slots(&self) -> usize {
        self.free.len()
    }

    /// A slot (read-only).
    pub fn slot(&self, i: u32) -> &Slot {
        &self.slots[i as usize]
    }

    /// Open orders of a session.
    pub fn open_orders(&self, session: usize) -> &[u32] {
        &self.open[session]
    }

    fn begin(&mut self, mut slot: Slot) -> Option<u32> {
        let i = self.free.pop_front()?;
        let generation = self.slots[i as usize].generation;
        debug_assert_eq!(self.slots[i as usize].state, State::Free, "free list holds free slots");
        slot.generation = generation;
        slot.state = State::Sent;
        slot.open_idx = u32::MAX;
        slot.measured = slot.intended_ns >= self.measure_from_ns;
        match slot.kind {
            Kind::Order => {
                self.counts.orders_sent += 1;
                if slot.intent == Intent::Confirmed {
                    self.counts.confirmations_sent += 1;
                }
            }
            Kind::Cancel => self.counts.cancels_sent += 1,
            Kind::Replace => self.counts.replaces_sent += 1,
            Kind::Mass => self.counts.mass_cancels_sent += 1,
        }
        if matches!(slot.kind, Kind::Cancel | Kind::Replace) {
            self.slots[slot.target as usize].pending_change = true;
        }
        self.slots[i as usize] = slot;
        self.in_flight += 1;
        Some(i)
    }

    /// A request was sent again after a reconnect.
    pub fn resent(&mut self, i: u32) {
        let s = &mut self.slots[i as usize];
        s.resends = s.resends.saturating_add(1);
        self.counts.resent += 1;
    }

    /// Unanswered requests of a session (to resend after a reconnect).
    pub fn unanswered_of(&self, session: u16, out: &mut Vec<u32>) {
        out.clear();
        out.extend(
            self.slots
                .iter()
                .enumerate()
                .filter(|(_, s)| s.state == State::Sent && s.session == session)
                .map(|(i, _)| i as u32),
        );
    }

    fn free_slot(&mut self, i: u32) {
        let s = &mut self.slots[i as usize];
        s.state = State::Closed;
        if s.resends > 0 {
            // A REPEAT for it may still be on its way: keep it, never reuse it.
            return;
        }
        // The generation moves on only when the slot is reused, so a late duplicate
        // finds this Closed request until then.
        self.free.push_back(i);
    }

    fn add_open(&mut self, i: u32) {
        let session = self.slots[i as usize].session as usize;
        self.slots[i as usize].open_idx = self.open[session].len() as u32;
        self.open[session].push(i);
    }

    fn remove_open(&mut self, i: u32) {
        let s = self.slots[i as usize];
        let list = &mut self.open[s.session as usize];
        let at = s.open_idx as usize;
        if at < list.len() && list[at] == i {
            list.swap_remove(at);
            if let Some(&moved) = list.get(at) {
                self.slots[moved as usize].open_idx = at as u32;
            }
        }
        self.slots[i as usize].open_idx = u32::MAX;
    }

    /// Records the answer latency of slot `i` at `now_ns`; returns it when measured.
    fn answered(&mut self, i: u32, now_ns: u64) -> Option<u64> {
        self.in_flight -= 1;
        let s = self.slots[i as usize];
        if !s.measured {
            return None;
        }
        let lat = now_ns.saturating_sub(s.intended_ns).max(1);
        if s.kind == Kind::Mass {
            // The closing mass cancel is housekeeping after the profile, not flow.
            return Some(lat);
        }
        let _ = self.lat.answer.record(lat);
        let _ = self.lat.interval.record(lat);
        let _ = match s.kind {
            Kind::Order => self.lat.order.record(lat),
            Kind::Cancel => self.lat.cancel.record(lat),
            Kind::Replace => self.lat.replace.record(lat),
            Kind::Mass => Ok(()),
        };
        Some(lat)
    }

    /// An answer to a request: `Some(i)` when it is the first, else counts why not.
    fn first_answer(&mut self, id: u64, flags: u8, want: &[Kind]) -> Option<u32> {
        let Some(i) = self.slot_of(id) else {
            self.counts.unknown_ids += 1;
            return None;
        };
        let s = self.slots[i as usize];
        if !want.contains(&s.kind) {
            self.counts.unknown_ids += 1;
            return None;
        }
        if flags & answer_flags::REPEAT != 0 {
            self.counts.repeats += 1;
            // A REPEAT is the answer only if the original never arrived.
            return (s.state == State::Sent).then_some(i);
        }
        match s.state {
            State::Sent => Some(i),
            State::Free => {
                self.counts.unknown_ids += 1;
                None
            }
            _ if s.resends > 0 => {
                // A resent request answered twice: once from the replay, once anew.
                self.counts.repeats += 1;
                None
            }
            _ => {
                self.counts.duplicate_answers += 1;
                None
            }
        }
    }

    /// Splits an order's answer latency at the gateway's time stamp (`stamp_ns` on
    /// the harness's clock; both clocks run on the monotonic clock from a wall-clock
    /// anchor). Call before the answer itself is handled.
    pub fn split(&mut self, cl_ord_id: u64, stamp_ns: u64, now_ns: u64) {
        let Some(i) = self.slot_of(cl_ord_id) else { return };
        let s = &self.slots[i as usize];
        if s.state != State::Sent || s.kind != Kind::Order || !s.measured {
            return;
        }
        if stamp_ns < s.intended_ns || stamp_ns > now_ns {
            return; // the anchors disagree by more than the interval: no split
        }
        let _ = self.lat.to_stamp.record((stamp_ns - s.intended_ns).max(1));
        let _ = self.lat.from_stamp.record((now_ns - stamp_ns).max(1));
    }

    /// OrderPending for a new order (version 2): the broker's answer, timed apart
    /// from the venue's, which stays the order's answer for every other figure.
    pub fn on_pending(&mut self, cl_ord_id: u64, now_ns: u64) {
        self.counts.pending += 1;
        let Some(i) = self.slot_of(cl_ord_id) else { return };
        let s = &mut self.slots[i as usize];
        if s.state != State::Sent || s.kind != Kind::Order || !s.measured || s.broker_answered {
            return;
        }
        s.broker_answered = true;
        let _ = self.lat.broker.record(now_ns.saturating_sub(s.intended_ns).max(1));
    }

    /// OrderAccepted.
    pub fn on_accepted(&mut self, cl_ord_id: u64, flags: u8, now_ns: u64) -> Outcome {
        let Some(i) = self.first_answer(cl_ord_id, flags, &[Kind::Order]) else {
            return Outcome::None;
        };
        let lat = self.answered(i, now_ns);
        self.counts.accepted += 1;
        if flags & answer_flags::CONFIRMATION_RECORDED != 0 {
            self.counts.accepted_with_confirmation += 1;
        }
        let s = &mut self.slots[i as usize];
        if matches!(s.intent, Intent::Reject | Intent::Confirm) {
            self.counts.reject_intent_accepted += 1;
        }
        s.state = State::Open;
        self.add_open(i);
        Outcome::Answered(lat)
    }

    /// OrderRejected.
    pub fn on_rejected(
        &mut self,
        cl_ord_id: u64,
        code: RejectCode,
        flags: u8,
        now_ns: u64,
    ) -> Outcome {
        let Some(i) = self.first_answer(cl_ord_id, flags, &[Kind::Order]) else {
            return Outcome::None;
        };
        let lat = self.answered(i, now_ns);
        *self.counts.rejected.entry(code.0).or_default() += 1;
        let s = self.slots[i as usize];
        self.free_slot(i);
        if code == RejectCode::CONFIRMATION_REQUIRED && s.intent == Intent::Confirm {
            return Outcome::Confirm(ConfirmRequest {
                session: s.session,
                account: s.account,
                instr: s.instr,
                side: s.side,
                price: s.price,
                qty: s.qty,
            });
        }
        Outcome::Answered(lat)
    }

    /// An order reached a terminal state (filled or cancelled).
    fn terminal(&mut self, i: u32) {
        self.remove_open(i);
        self.free_slot(i);
    }

    /// The order an execution, cancel or replace names, if it is open.
    fn open_order(&mut self, cl_ord_id: u64) -> Option<u32> {
        let Some(i) = self.slot_of(cl_ord_id) else {
            self.counts.unknown_ids += 1;
            return None;
        };
        match self.slots[i as usize].state {
            State::Open => Some(i),
            State::Sent => {
                self.counts.out_of_order += 1;
                None
            }
            State::Closed => {
                self.counts.duplicate_terminals += 1;
                None
            }
            State::Free => {
                self.counts.unknown_ids += 1;
                None
            }
        }
    }

    /// Executed; returns the order's instrument index.
    pub fn on_executed(
        &mut self,
        cl_ord_id: u64,
        leaves: u64,
        cum: u64,
        now_ns: u64,
    ) -> Option<u16> {
        self.counts.executions += 1;
        let i = self.open_order(cl_ord_id)?;
        let s = &mut self.slots[i as usize];
        let instr = s.instr;
        s.cum = cum;
        s.traded = true;
        if leaves == 0 {
            self.counts.filled += 1;
            if s.measured && s.marketable {
                let lat = now_ns.saturating_sub(s.intended_ns).max(1);
                let _ = self.lat.fill.record(lat);
            }
            self.terminal(i);
        }
        Some(instr)
    }

    /// Canceled: the order's terminal state, and the answer to the cancel request
    /// that caused it when that request is one of ours.
    pub fn on_canceled(
        &mut self,
        cl_ord_id: u64,
        request_id: u64,
        reason: CancelReason,
        now_ns: u64,
    ) -> Outcome {
        let mut outcome = Outcome::None;
        if let Some(i) = self.open_order(cl_ord_id) {
            *self.counts.canceled.entry(reason.name().to_owned()).or_default() += 1;
            let s = self.slots[i as usize];
            if reason == CancelReason::Venue && s.measured && s.marketable {
                let lat = now_ns.saturating_sub(s.intended_ns).max(1);
                let _ = self.lat.fill.record(lat);
            }
            if self.slots[i as usize].traded {
                self.counts.partially_filled += 1;
            }
            self.terminal(i);
        }
        if request_id != 0
            && let Some(r) = self.slot_of(request_id)
            && self.slots[r as usize].kind == Kind::Cancel
        {
            if self.slots[r as usize].state == State::Sent {
                let lat = self.answered(r, now_ns);
                self.counts.cancel_done += 1;
                self.free_slot(r);
                outcome = Outcome::Answered(lat);
            } else if self.slots[r as usize].resends > 0 {
                self.counts.repeats += 1;
            } else {
                self.counts.duplicate_answers += 1;
            }
        }
        outcome
    }

    fn change_answered(&mut self, r: u32, now_ns: u64) -> Option<u64> {
        let lat = self.answered(r, now_ns);
        let target = self.slots[r as usize].target as usize;
        if let Some(t) = self.slots.get_mut(target) {
            t.pending_change = false;
        }
        self.free_slot(r);
        lat
    }

    /// CancelRejected (for a cancel or a replace).
    pub fn on_cancel_rejected(
        &mut self,
        request_id: u64,
        code: RejectCode,
        now_ns: u64,
    ) -> Outcome {
        let Some(r) = self.first_answer(request_id, 0, &[Kind::Cancel, Kind::Replace]) else {
            return Outcome::None;
        };
        *self.counts.cancel_rejected.entry(code.0).or_default() += 1;
        Outcome::Answered(self.change_answered(r, now_ns))
    }

    /// Replaced.
    pub fn on_replaced(&mut self, request_id: u64, qty: u64, price: i64, now_ns: u64) -> Outcome {
        let Some(r) = self.first_answer(request_id, 0, &[Kind::Replace]) else {
            return Outcome::None;
        };
        self.counts.replaced += 1;
        let target = self.slots[r as usize].target as usize;
        if let Some(t) = self.slots.get_mut(target)
            && t.state == State::Open
        {
            t.qty = qty;
            t.price = price;
        }
        Outcome::Answered(self.change_answered(r, now_ns))
    }

    /// MassCancelAck.
    pub fn on_mass_ack(&mut self, request_id: u64, now_ns: u64) -> Outcome {
        let Some(r) = self.first_answer(request_id, 0, &[Kind::Mass]) else {
            return Outcome::None;
        };
        self.counts.mass_acks += 1;
        let lat = self.answered(r, now_ns);
        self.free_slot(r);
        Outcome::Answered(lat)
    }

    /// Counts requests still unanswered (at the end of the drain window).
    pub fn count_unanswered(&self) -> u64 {
        self.slots.iter().filter(|s| s.state == State::Sent).count() as u64
    }

    /// Orders still open.
    pub fn count_open(&self) -> u64 {
        self.open.iter().map(|l| l.len() as u64).sum()
    }

    /// Closes the books: `unanswered` as counted at the drain window's end, `lost`
    /// after recovery; orders still open are listed.
    pub fn finish(&mut self, unanswered: u64) {
        self.counts.unanswered = unanswered;
        self.counts.lost = self.count_unanswered();
        self.counts.still_open = self.count_open();
        for l in &self.open {
            for &i in l {
                if self.slots[i as usize].traded {
                    self.counts.partially_filled += 1;
                }
            }
        }
    }

    /// The first few unanswered requests, for the report: (id, kind, session).
    pub fn sample_unanswered(&self, n: usize) -> Vec<(u64, Kind, u16)> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.state == State::Sent)
            .take(n)
            .map(|(i, s)| (self.id_of(i as u32), s.kind, s.session))
            .collect()
    }

    /// The reconciliation verdict: problems found, in sentences.
    pub fn problems(&self, gateway_mode: bool) -> Vec<String> {
        let c = &self.counts;
        let mut p = Vec::new();
        let mut check = |n: u64, what: &str| {
            if n > 0 {
                p.push(format!("{n} {what}"));
            }
        };
        check(c.duplicate_answers, "duplicate answers");
        check(c.duplicate_terminals, "duplicate terminal states");
        check(c.unknown_ids, "messages naming unknown ids");
        check(c.out_of_order, "order messages before the order's answer");
        check(c.seq_gaps, "sequence gaps");
        check(c.business_rejects, "business rejects");
        check(c.lost, "lost requests");
        if gateway_mode {
            check(c.still_open, "orders still open after the final mass cancel");
        }
        p
    }
}

impl Tracker {
    /// Takes a slot for a new request, moving its generation on first (ids never
    /// repeat in a run); `None` when the table is full.
    pub fn start(&mut self, slot: Slot) -> Option<u32> {
        let &i = self.free.front()?;
        let s = &mut self.slots[i as usize];
        if s.state == State::Closed {
            s.generation = s.generation.wrapping_add(1) & GEN_MASK as u32;
            s.state = State::Free;
        }
        self.begin(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(session: u16, intended_ns: u64) -> Slot {
        Slot {
            kind: Kind::Order,
            session,
            intended_ns,
            qty: 100,
            price: 10_000,
            marketable: true,
            ..Slot::EMPTY
        }
    }

    #[test]
    fn an_order_is_answered_then_filled_once() {
        let mut t = Tracker::new(16, 1, 7);
        let i = t.start(order(0, 1_000)).unwrap();
        let id = t.id_of(i);
        assert_eq!(t.in_flight(), 1);
        assert_eq!(t.on_accepted(id, 0, 51_000), Outcome::Answered(Some(50_000)));
        assert_eq!(t.open_orders(0), &[i]);
        t.on_executed(id, 50, 50, 60_000);
        t.on_executed(id, 0, 100, 71_000);
        assert_eq!(t.counts.filled, 1);
        assert_eq!(t.lat.fill.max(), t.lat.fill.highest_equivalent(70_000));
        // A second terminal state is a duplicate.
        t.on_canceled(id, 0, CancelReason::Client, 80_000);
        assert_eq!(t.counts.duplicate_terminals, 1);
        // So is a second answer.
        t.on_accepted(id, 0, 90_000);
        assert_eq!(t.counts.duplicate_answers, 1);
        t.finish(t.count_unanswered());
        assert_eq!(t.counts.lost, 0);
        assert_eq!(t.problems(true).len(), 2);
    }

    #[test]
    fn missing_answers_are_unanswered_then_lost() {
        let mut t = Tracker::new(16, 2, 7);
        let a = t.start(order(0, 0)).unwrap();
        let b = t.start(order(1, 0)).unwrap();
        t.on_rejected(t.id_of(a), RejectCode::PRICE_LIMIT, 0, 10);
        assert_eq!(t.counts.rejected[&3017], 1);
        let unanswered = t.count_unanswered();
        assert_eq!(unanswered, 1);
        assert_eq!(t.sample_unanswered(5), vec![(t.id_of(b), Kind::Order, 1)]);
        t.finish(unanswered);
        assert_eq!((t.counts.unanswered, t.counts.lost), (1, 1));
        assert!(t.problems(true).iter().any(|p| p.contains("lost")));
    }

    #[test]
    fn repeats_after_a_resend_are_not_duplicates() {
        let mut t = Tracker::new(16, 1, 7);
        let i = t.start(order(0, 0)).unwrap();
        let id = t.id_of(i);
        t.resent(i);
        t.on_accepted(id, 0, 10);
        t.on_accepted(id, answer_flags::REPEAT, 20);
        assert_eq!((t.counts.repeats, t.counts.duplicate_answers), (1, 0));
        // A REPEAT whose original never came is the answer.
        let j = t.start(order(0, 0)).unwrap();
        t.resent(j);
        assert!(matches!(
            t.on_accepted(t.id_of(j), answer_flags::REPEAT, 30),
            Outcome::Answered(_)
        ));
        assert_eq!(t.count_unanswered(), 0);
    }

    #[test]
    fn foreign_and_stale_ids_are_unknown_and_ids_never_repeat() {
        let mut t = Tracker::new(2, 1, 7);
        t.on_accepted(12345, 0, 0);
        assert_eq!(t.counts.unknown_ids, 1);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10 {
            let i = t.start(order(0, 0)).unwrap();
            assert!(seen.insert(t.id_of(i)), "ids are unique");
            t.on_rejected(t.id_of(i), RejectCode::PRICE_LIMIT, 0, 1);
        }
        // An id from a slot that has since been reused.
        let old = *seen.iter().min().unwrap();
        t.on_accepted(old, 0, 0);
        assert!(t.counts.unknown_ids + t.counts.duplicate_answers >= 2);
    }

    #[test]
    fn cancels_answer_their_request_and_close_the_order() {
        let mut t = Tracker::new(16, 1, 9);
        let o = t.start(order(0, 0)).unwrap();
        let oid = t.id_of(o);
        t.on_accepted(oid, 0, 5);
        let c = t
            .start(Slot { kind: Kind::Cancel, target: o, intended_ns: 100, ..Slot::EMPTY })
            .unwrap();
        assert!(t.slot(o).pending_change);
        let cid = t.id_of(c);
        assert_eq!(t.on_canceled(oid, cid, CancelReason::Client, 150), Outcome::Answered(Some(50)));
        assert_eq!(t.counts.cancel_done, 1);
        assert_eq!(t.counts.canceled["client"], 1);
        assert_eq!(t.count_open(), 0);
        // A second cancel of the closed order is refused: still one answer.
        let c2 = t
            .start(Slot { kind: Kind::Cancel, target: o, intended_ns: 200, ..Slot::EMPTY })
            .unwrap();
        t.on_cancel_rejected(t.id_of(c2), RejectCode::ORDER_CLOSED, 260);
        assert_eq!(t.counts.cancel_rejected[&3034], 1);
        assert_eq!(t.count_unanswered(), 0);
        assert!(t.problems(true).is_empty(), "{:?}", t.problems(true));
    }

    #[test]
    fn confirmation_required_asks_for_a_resend() {
        let mut t = Tracker::new(16, 1, 9);
        let i = t.start(Slot { intent: Intent::Confirm, ..order(0, 0) }).unwrap();
        let out = t.on_rejected(t.id_of(i), RejectCode::CONFIRMATION_REQUIRED, 0, 10);
        assert!(matches!(out, Outcome::Confirm(ConfirmRequest { qty: 100, .. })));
        let j = t.start(Slot { intent: Intent::Confirmed, ..order(0, 20) }).unwrap();
        t.on_accepted(t.id_of(j), answer_flags::CONFIRMATION_RECORDED, 30);
        assert_eq!(t.counts.confirmations_sent, 1);
        assert_eq!(t.counts.accepted_with_confirmation, 1);
    }

    #[test]
    fn warm_up_is_not_measured() {
        let mut t = Tracker::new(4, 1, 9);
        t.measure_from_ns = 1_000;
        let i = t.start(order(0, 500)).unwrap();
        assert_eq!(t.on_accepted(t.id_of(i), 0, 900), Outcome::Answered(None));
        assert_eq!(t.lat.answer.len(), 0);
    }
}
