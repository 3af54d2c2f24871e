//! The order path: [`RiskEngine::check_new_order`], [`RiskEngine::check_cancel`]
//! and [`RiskEngine::check_replace`], running DOMAIN.md's catalogue in order.
//!
//! Two departures from a literal reading of the catalogue, both so that one
//! cl_ord_id always gets one answer:
//!
//! * The idempotency lookup (check 3's first half) runs right after the binding
//!   (check 1), before the kill switch: a resend of an order accepted before a halt
//!   is answered `Repeat`, not "halted", because the order exists.
//! * An order from a login that is not bound to the account is not recorded: a
//!   session must not be able to use up another account's cl_ord_ids.

use protocol::codec::{EntryState, NewOrder, ReplaceOrder};
use protocol::rules::{
    BP_PER_WHOLE, BoardRules, PriceBand, cage_band, needs_protective_price, notional,
    offers_order_type, on_tick,
};
use protocol::{
    ClOrdId, CreditTag, OrderType, Price, RejectCode, RejectDetail, Side, TradingPhase,
};

use crate::config::Limits;
use crate::engine::{AccountState, RiskEngine};
use crate::instrument::{Instrument, RiskLevel};
use crate::order::{
    LoginIdx, NIL, OrderRecord, OrderRef, OrderState, PendingChange, Reject, Reserve, reserve_for,
    reserve_of,
};
use crate::order_index::Probe;
use crate::window::Fingerprint;

/// What the venue shows for the order's security at this moment; the gateway fills
/// it from its exchange's state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MarketContext {
    /// The security's trading phase.
    pub phase: TradingPhase,
    /// The venue's cage reference price for the order's side, when it has one.
    pub cage_reference: Option<Price>,
    /// The last trade price, else the previous close: the fat-finger reference.
    /// Zero or less turns the collar off for this order.
    pub last_price: Price,
}

/// The answer to a NewOrder.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum NewOrderVerdict {
    /// Passed every check: cash or shares are frozen and the order is recorded as
    /// PendingVenue. `confirmation_recorded` is true when it passed on the client's
    /// suitability confirmation.
    Pass {
        /// The record.
        order: OrderRef,
        /// The client confirmed a suitability mismatch; recorded for audit.
        confirmation_recorded: bool,
    },
    /// Refused.
    Reject {
        /// The record, when the order was recorded (a resend gets the same answer);
        /// `None` for an unknown or unbound account, a cl_ord_id already used for a
        /// different order, or a full order table.
        order: Option<OrderRef>,
        /// Why.
        reject: Reject,
    },
    /// The same account, cl_ord_id and content were recorded before: nothing
    /// changed; the caller repeats the original answer from the record.
    Repeat {
        /// The original record.
        order: OrderRef,
    },
}

/// Message counts of an account after counting the current message.
#[derive(Clone, Copy, Debug)]
struct MessageCounts {
    in_window: u32,
    today: u32,
}

/// What a passed new order freezes and records.
#[derive(Clone, Copy, Debug)]
struct Approval {
    instr_idx: u32,
    /// The position slot, when the account already has one for this security.
    pos_idx: Option<u32>,
    freeze_price: Price,
    reserve: Reserve,
    confirmation_recorded: bool,
}

/// An order's terms as checks 5-11 see them.
#[derive(Clone, Copy, Debug)]
struct Terms {
    side: Side,
    order_type: OrderType,
    credit: CreditTag,
    price: Price,
    qty: u64,
    /// Shares a cash sell can draw on (for the odd-lot rule).
    sell_basis: u64,
    /// A market order's price is a protective price (STAR), else it must be 0.
    protective: bool,
}

impl RiskEngine {
    /// Runs the risk and suitability checks on a new order and, when it passes,
    /// freezes its cash or shares and records it as PendingVenue.
    ///
    /// Every order of a bound account is recorded while the table has room, so a
    /// resend is answered from the record ([`NewOrderVerdict::Repeat`]). The one
    /// exception is a suitability confirmation: an order refused with
    /// CONFIRMATION_REQUIRED may be sent again with the same cl_ord_id and the
    /// confirmation flag set, and is then evaluated afresh in the same record.
    pub fn check_new_order(
        &mut self,
        login: LoginIdx,
        o: &NewOrder,
        ctx: &MarketContext,
        now_ns: u64,
    ) -> NewOrderVerdict {
        // Check 1: the session may trade for the account.
        let acct = match self.bound_account(login, &o.account) {
            Ok(acct) => acct,
            Err(reject) => return self.refuse_unrecorded(reject),
        };
        // Check 3, first half: the order table answers resends.
        let slot = match self.order_index.probe(acct, o.cl_ord_id, &self.orders) {
            Probe::Found(r) => {
                let rec = &self.orders[r as usize];
                if rec.same_content(o) {
                    self.counters.repeats += 1;
                    return NewOrderVerdict::Repeat { order: OrderRef(r) };
                }
                if !rec.is_confirmation_retry(o) {
                    self.count_message(acct, now_ns, true);
                    return self.refuse_unrecorded(Reject::new(RejectCode::DUPLICATE_CL_ORD_ID));
                }
                self.orders[r as usize] = OrderRecord::from_new_order(r, login, acct, o, now_ns);
                r
            }
            Probe::Vacant(at) => {
                if self.orders.len() >= self.capacity.max_orders_per_day as usize {
                    self.count_message(acct, now_ns, true);
                    return self.refuse_unrecorded(Reject::new(RejectCode::ORDER_CAPACITY));
                }
                let r = self.orders.len() as u32;
                self.orders.push(OrderRecord::from_new_order(r, login, acct, o, now_ns));
                self.order_index.insert_at(at, acct, o.cl_ord_id, r);
                r
            }
        };
        let counts = self.count_message(acct, now_ns, true);
        match self.evaluate(acct, o, ctx, now_ns, counts) {
            Ok(approval) => self.accept(slot, acct, o, approval, now_ns),
            Err(reject) => self.refuse_recorded(slot, reject),
        }
    }

    /// Checks 2 to 21 for a new order. Reads state, changes none.
    fn evaluate(
        &self,
        acct: u32,
        o: &NewOrder,
        ctx: &MarketContext,
        now_ns: u64,
        counts: MessageCounts,
    ) -> Result<Approval, Reject> {
        // Fields that need no state (the decoder checks them too).
        o.validate().map_err(Reject::new)?;
        if matches!(
            (o.side, o.credit),
            (Side::Buy, CreditTag::ShortSell) | (Side::Sell, CreditTag::MarginBuy)
        ) {
            return Err(Reject::new(RejectCode::INVALID_FIELD_COMBINATION));
        }
        let a = &self.accounts[acct as usize];
        let instr = self.instruments.index_of(o.security);
        let pos_idx = instr.and_then(|i| self.find_position(acct, i));
        let pos = pos_idx.map(|p| &self.positions[p as usize]);
        // Check 2: kill switches.
        let reduces = o.side == Side::Sell
            && o.credit != CreditTag::ShortSell
            && pos.is_some_and(|p| p.holding() > 0);
        check_entry_state(self.firm_state, a.effective_state(), reduces)?;
        // Check 3, second half: the same order moments ago under another cl_ord_id.
        let window_ns = self.limits.duplicate_window_ms.saturating_mul(1_000_000);
        let fp = Fingerprint { security: o.security, side: o.side, price: o.price, qty: o.qty };
        if window_ns > 0 && a.fingerprints.recent(&fp, now_ns, window_ns).is_some() {
            return Err(Reject::new(RejectCode::DUPLICATE_ORDER));
        }
        // Check 4: instrument and phase.
        let instr = instr.ok_or(Reject::new(RejectCode::UNKNOWN_SECURITY))?;
        let x = self.instruments.at(instr);
        check_tradable(x, ctx.phase)?;
        if !offers_order_type(x.board, o.order_type) {
            return Err(Reject::new(RejectCode::ORDER_TYPE_NOT_OFFERED));
        }
        // Checks 5-11: tick, lot, quantity, limit, cage, collar, notional.
        let sellable = pos.map_or(0, |p| p.sellable());
        let terms = Terms {
            side: o.side,
            order_type: o.order_type,
            credit: o.credit,
            price: o.price,
            qty: o.qty.0,
            sell_basis: sellable,
            protective: needs_protective_price(x.board),
        };
        let freeze_price =
            check_terms(&x.rules, self.instruments.band_at(instr), &terms, ctx, &self.limits)?;
        // Check 12: buying power (value plus fees; for sells, any fee shortfall).
        let reserve = reserve_for(&self.fees, o.side, o.credit, freeze_price, o.qty.0, 0, 0);
        if reserve.cash > a.cash_available {
            return Err(Reject::with(
                RejectCode::INSUFFICIENT_FUNDS,
                RejectDetail::Amount { needed: reserve.cash, available: a.cash_available },
            ));
        }
        // Check 13: sellable shares under T+1.
        if o.side == Side::Sell && o.credit != CreditTag::ShortSell && o.qty.0 > sellable {
            return Err(Reject::with(
                RejectCode::INSUFFICIENT_POSITION,
                RejectDetail::Quantity { qty: o.qty.0, limit: sellable },
            ));
        }
        // Check 14: credit orders.
        check_credit(a, x, o.credit, o.qty.0, pos.map_or(0, |p| p.lendable()))?;
        // Check 15: restricted lists.
        if x.restricted || pos.is_some_and(|p| p.restricted) {
            return Err(Reject::new(RejectCode::RESTRICTED_SECURITY));
        }
        // Check 16: board permission and suitability, for orders that take on risk;
        // a client is never trapped in a holding it may no longer buy.
        let opens_risk = o.side == Side::Buy || o.credit == CreditTag::ShortSell;
        let confirmation_recorded =
            opens_risk && check_suitability(a, x, o.suitability_confirmed())?;
        // Check 17: message throttles (checks 17's flags and 18's monitors were
        // counted when the message arrived).
        check_throttle(&self.limits, counts)?;
        // Checks 19-20: self-trade, then open orders in this security. The walk is
        // over this account's open orders in this one security, which check 20 caps.
        if let Some(p) = pos {
            let opposite = if o.side == Side::Buy { p.open_sells } else { p.open_buys };
            if opposite > 0 && self.crosses_own(p.open_head, o.side, o.order_type, o.price, NIL) {
                return Err(Reject::new(RejectCode::SELF_TRADE));
            }
            let limit = self.limits.open_orders_per_security;
            if limit > 0 && p.open_count >= limit {
                return Err(Reject::with(
                    RejectCode::OPEN_ORDER_LIMIT,
                    RejectDetail::Count {
                        count: u64::from(p.open_count) + 1,
                        limit: u64::from(limit),
                    },
                ));
            }
        }
        // Check 21: the programmatic flag.
        if o.programmatic() && !a.programmatic {
            return Err(Reject::new(RejectCode::PROGRAMMATIC_NOT_REPORTED));
        }
        Ok(Approval { instr_idx: instr, pos_idx, freeze_price, reserve, confirmation_recorded })
    }

    /// True when an order on `side` at `price` would trade against one of the
    /// account's own open orders in the list starting at `head` (skipping `skip`).
    fn crosses_own(
        &self,
        head: u32,
        side: Side,
        order_type: OrderType,
        price: Price,
        skip: u32,
    ) -> bool {
        let mut r = head;
        while r != NIL {
            let rec = &self.orders[r as usize];
            if r != skip && rec.side != side && would_cross(side, order_type, price, rec) {
                return true;
            }
            r = rec.next;
        }
        false
    }

    /// Freezes, links and records a passed order.
    fn accept(
        &mut self,
        slot: u32,
        acct: u32,
        o: &NewOrder,
        ok: Approval,
        now_ns: u64,
    ) -> NewOrderVerdict {
        let Some(pos) = ok.pos_idx.or_else(|| self.position_slot(acct, ok.instr_idx)) else {
            return self.refuse_recorded(slot, Reject::new(RejectCode::ORDER_CAPACITY));
        };
        let rec = &mut self.orders[slot as usize];
        rec.state = OrderState::PendingVenue;
        rec.leaves = rec.qty;
        rec.freeze_price = ok.freeze_price;
        rec.pos_idx = pos;
        rec.confirmation_recorded = ok.confirmation_recorded;
        rec.frozen_cash = ok.reserve.cash;
        rec.frozen_shares = ok.reserve.shares;
        let a = &mut self.accounts[acct as usize];
        a.cash_available -= ok.reserve.cash;
        a.cash_frozen += ok.reserve.cash;
        let fp = Fingerprint { security: o.security, side: o.side, price: o.price, qty: o.qty };
        a.fingerprints.remember(fp, now_ns);
        let p = &mut self.positions[pos as usize];
        match (o.side, o.credit) {
            (Side::Buy, _) => {}
            (Side::Sell, CreditTag::ShortSell) => p.lend_frozen += ok.reserve.shares,
            (Side::Sell, _) => p.frozen_sell += ok.reserve.shares,
        }
        self.link_open(slot, pos);
        self.counters.passed += 1;
        if ok.confirmation_recorded {
            self.counters.confirmations_recorded += 1;
        }
        NewOrderVerdict::Pass {
            order: OrderRef(slot),
            confirmation_recorded: ok.confirmation_recorded,
        }
    }

    fn refuse_unrecorded(&mut self, reject: Reject) -> NewOrderVerdict {
        self.counters.rejected += 1;
        self.counters.count_reject(reject.code);
        NewOrderVerdict::Reject { order: None, reject }
    }

    fn refuse_recorded(&mut self, slot: u32, reject: Reject) -> NewOrderVerdict {
        self.orders[slot as usize].state =
            OrderState::Rejected { code: reject.code, detail: reject.detail };
        self.counters.rejected += 1;
        self.counters.count_reject(reject.code);
        NewOrderVerdict::Reject { order: Some(OrderRef(slot)), reject }
    }

    fn refuse_change(&mut self, reject: Reject) -> Reject {
        self.counters.changes_rejected += 1;
        self.counters.count_reject(reject.code);
        reject
    }

    /// Counts a message for check 17's throttles and flags and check 18's
    /// order-rate monitor.
    #[inline]
    fn count_message(&mut self, acct: u32, now_ns: u64, new_order: bool) -> MessageCounts {
        let limits = &self.limits;
        let a = &mut self.accounts[acct as usize];
        let in_window = a.messages.add(now_ns);
        a.messages_today = a.messages_today.saturating_add(1);
        if limits.hft_rate_flag_per_s > 0 && in_window == limits.hft_rate_flag_per_s {
            a.flags.high_rate = true;
            self.counters.high_rate_flags += 1;
        }
        if limits.hft_daily_flag > 0
            && a.messages_today >= limits.hft_daily_flag
            && !a.flags.high_daily
        {
            a.flags.high_daily = true;
            self.counters.high_daily_flags += 1;
        }
        if new_order {
            a.orders_today = a.orders_today.saturating_add(1);
            let orders = a.new_orders.add(now_ns);
            if limits.rapid_order_flag_per_s > 0 && orders == limits.rapid_order_flag_per_s {
                a.flags.rapid_orders = true;
                self.counters.rapid_order_flags += 1;
            }
        }
        MessageCounts { in_window, today: a.messages_today }
    }

    /// Finds an open order of a bound account for a cancel or replace; counts the
    /// message.
    fn changeable_order(
        &mut self,
        login: LoginIdx,
        account: &protocol::AccountId,
        cl_ord_id: ClOrdId,
        now_ns: u64,
    ) -> Result<(u32, MessageCounts), Reject> {
        let acct = self.bound_account(login, account)?;
        let counts = self.count_message(acct, now_ns, false);
        let r = self
            .order_index
            .get(acct, cl_ord_id, &self.orders)
            .ok_or(Reject::new(RejectCode::UNKNOWN_ORDER))?;
        let rec = &self.orders[r as usize];
        if matches!(rec.state, OrderState::Rejected { .. }) {
            return Err(Reject::new(RejectCode::UNKNOWN_ORDER));
        }
        if !rec.is_open() {
            return Err(Reject::new(RejectCode::ORDER_CLOSED));
        }
        if rec.pending != PendingChange::None {
            return Err(Reject::new(RejectCode::PENDING_CHANGE));
        }
        Ok((r, counts))
    }

    /// Checks a cancel: binding, a known open order with nothing in flight, the
    /// no-cancel window, the throttles and the per-security cancel count. On a pass
    /// the cancel is marked in flight (a second one is PENDING_CHANGE until the
    /// venue answers: [`RiskEngine::on_canceled`] or
    /// [`RiskEngine::on_cancel_rejected`]). Kill switches do not stop cancels.
    pub fn check_cancel(
        &mut self,
        login: LoginIdx,
        account: &protocol::AccountId,
        cl_ord_id: ClOrdId,
        ctx: &MarketContext,
        now_ns: u64,
    ) -> Result<OrderRef, Reject> {
        match self.cancel_checks(login, account, cl_ord_id, ctx, now_ns) {
            Ok(r) => Ok(r),
            Err(reject) => Err(self.refuse_change(reject)),
        }
    }

    fn cancel_checks(
        &mut self,
        login: LoginIdx,
        account: &protocol::AccountId,
        cl_ord_id: ClOrdId,
        ctx: &MarketContext,
        now_ns: u64,
    ) -> Result<OrderRef, Reject> {
        let (r, counts) = self.changeable_order(login, account, cl_ord_id, now_ns)?;
        if no_cancel_phase(ctx.phase) {
            return Err(Reject::new(RejectCode::NO_CANCEL_PHASE));
        }
        check_throttle(&self.limits, counts)?;
        let rec = &self.orders[r as usize];
        let (pos, acct, entered_ns) = (rec.pos_idx, rec.account_idx, rec.entered_ns);
        let limit = self.limits.cancels_per_security_per_day;
        let done = self.positions[pos as usize].cancels_today;
        if limit > 0 && done >= limit {
            return Err(Reject::with(
                RejectCode::CANCEL_LIMIT,
                RejectDetail::Count { count: u64::from(done) + 1, limit: u64::from(limit) },
            ));
        }
        // Check 18: rapid order-then-cancel monitor (a flag, not a reject).
        let window_ns = self.limits.rapid_cancel_window_ms.saturating_mul(1_000_000);
        if window_ns > 0 && now_ns.saturating_sub(entered_ns) < window_ns {
            self.counters.rapid_cancels += 1;
            let a = &mut self.accounts[acct as usize];
            a.rapid_cancels_today += 1;
            let flag_at = self.limits.rapid_cancel_flag_count;
            if flag_at > 0 && a.rapid_cancels_today >= flag_at && !a.flags.rapid_cancel {
                a.flags.rapid_cancel = true;
                self.counters.rapid_cancel_flags += 1;
            }
        }
        self.positions[pos as usize].cancels_today += 1;
        self.orders[r as usize].pending = PendingChange::Cancel;
        self.counters.cancels_passed += 1;
        Ok(OrderRef(r))
    }

    /// Checks a replace (new price and total quantity of an open limit order): as a
    /// cancel, plus the kill switches, the instrument's state, and checks 5-13 and
    /// 19 on the new terms. On a pass the replace is marked in flight and the order
    /// freezes the larger of what its old and new terms need until the venue
    /// answers ([`RiskEngine::on_replaced`] or [`RiskEngine::on_replace_rejected`]).
    pub fn check_replace(
        &mut self,
        login: LoginIdx,
        r: &ReplaceOrder,
        ctx: &MarketContext,
        now_ns: u64,
    ) -> Result<OrderRef, Reject> {
        match self.replace_checks(login, r, ctx, now_ns) {
            Ok(order) => Ok(order),
            Err(reject) => Err(self.refuse_change(reject)),
        }
    }

    fn replace_checks(
        &mut self,
        login: LoginIdx,
        req: &ReplaceOrder,
        ctx: &MarketContext,
        now_ns: u64,
    ) -> Result<OrderRef, Reject> {
        let (r, counts) = self.changeable_order(login, &req.account, req.orig_cl_ord_id, now_ns)?;
        let rec = self.orders[r as usize];
        if rec.order_type.is_market() || req.price.0 <= 0 || req.qty.0 <= rec.cum.0 {
            return Err(Reject::new(RejectCode::INVALID_REPLACE));
        }
        let a = &self.accounts[rec.account_idx as usize];
        let p = &self.positions[rec.pos_idx as usize];
        let x = self.instruments.at(p.instr_idx);
        check_entry_state(self.firm_state, a.effective_state(), req.qty.0 <= rec.qty.0)?;
        if no_cancel_phase(ctx.phase) {
            return Err(Reject::new(RejectCode::NO_CANCEL_PHASE));
        }
        check_tradable(x, ctx.phase)?;
        let new_leaves = req.qty.0 - rec.cum.0;
        let terms = Terms {
            side: rec.side,
            order_type: rec.order_type,
            credit: rec.credit,
            price: req.price,
            qty: req.qty.0,
            sell_basis: p.sellable() + rec.frozen_shares + rec.cum.0,
            protective: needs_protective_price(x.board),
        };
        check_terms(&x.rules, self.instruments.band_at(p.instr_idx), &terms, ctx, &self.limits)?;
        let mut next = rec;
        next.pending = PendingChange::Replace { price: req.price, qty: req.qty };
        let need = reserve_of(&self.fees, &next);
        let extra_cash = need.cash - rec.frozen_cash;
        if extra_cash > a.cash_available {
            return Err(Reject::with(
                RejectCode::INSUFFICIENT_FUNDS,
                RejectDetail::Amount { needed: extra_cash, available: a.cash_available },
            ));
        }
        let shares_left = match (rec.side, rec.credit) {
            (Side::Buy, _) => u64::MAX,
            (Side::Sell, CreditTag::ShortSell) => p.lendable() + rec.frozen_shares,
            (Side::Sell, _) => p.sellable() + rec.frozen_shares,
        };
        if new_leaves > shares_left {
            return Err(Reject::with(
                RejectCode::INSUFFICIENT_POSITION,
                RejectDetail::Quantity { qty: new_leaves, limit: shares_left },
            ));
        }
        check_throttle(&self.limits, counts)?;
        if self.crosses_own(p.open_head, rec.side, rec.order_type, req.price, r) {
            return Err(Reject::new(RejectCode::SELF_TRADE));
        }
        self.orders[r as usize].pending = next.pending;
        self.refreeze(r as usize);
        self.counters.replaces_passed += 1;
        Ok(OrderRef(r))
    }
}

/// Check 2: firm-wide, then account, kill switch.
fn check_entry_state(firm: EntryState, account: EntryState, reduces: bool) -> Result<(), Reject> {
    match firm {
        EntryState::Blocked => return Err(Reject::new(RejectCode::FIRM_HALTED)),
        EntryState::ReducingOnly if !reduces => return Err(Reject::new(RejectCode::REDUCING_ONLY)),
        _ => {}
    }
    match account {
        EntryState::Blocked => Err(Reject::new(RejectCode::ACCOUNT_HALTED)),
        EntryState::ReducingOnly if !reduces => Err(Reject::new(RejectCode::REDUCING_ONLY)),
        _ => Ok(()),
    }
}

/// Check 4: the call-auction phases that take no cancels (9:20-9:25, 14:57-15:00).
const fn no_cancel_phase(phase: TradingPhase) -> bool {
    matches!(phase, TradingPhase::OpeningAuctionNoCancel | TradingPhase::ClosingAuction)
}

/// Check 4: suspended, halted, closed.
fn check_tradable(x: &Instrument, phase: TradingPhase) -> Result<(), Reject> {
    if x.suspended {
        return Err(Reject::new(RejectCode::SECURITY_SUSPENDED));
    }
    match phase {
        TradingPhase::Halted => Err(Reject::new(RejectCode::SECURITY_HALTED)),
        TradingPhase::Closed => Err(Reject::new(RejectCode::MARKET_CLOSED)),
        _ => Ok(()),
    }
}

/// Checks 5-11 on an order's terms; returns the price its freeze is computed at.
fn check_terms(
    rules: &BoardRules,
    band: PriceBand,
    t: &Terms,
    ctx: &MarketContext,
    limits: &Limits,
) -> Result<Price, Reject> {
    let limit = t.order_type == OrderType::Limit;
    // A STAR market order's protective price is a price like a limit's; elsewhere a
    // market order carries 0.
    let protected = !limit && t.protective;
    if !limit && !t.protective && t.price.0 != 0 {
        return Err(Reject::new(RejectCode::INVALID_PRICE));
    }
    if protected && t.price.0 <= 0 {
        return Err(Reject::new(RejectCode::INVALID_PRICE));
    }
    // Check 5: tick.
    if (limit || protected) && !on_tick(t.price, rules.tick) {
        return Err(Reject::new(RejectCode::TICK_VIOLATION));
    }
    // Check 6: lots. A sell larger than the holding is left to check 13's clearer code.
    let lot = rules.lot;
    if t.side == Side::Buy || t.credit == CreditTag::ShortSell {
        if !lot.buy_ok(t.qty) {
            let step = if t.qty < lot.min_qty { lot.min_qty } else { lot.step };
            return Err(Reject::with(
                RejectCode::LOT_VIOLATION,
                RejectDetail::Quantity { qty: t.qty, limit: step },
            ));
        }
    } else if t.qty <= t.sell_basis && !lot.broker_sell_ok(t.qty, t.sell_basis) {
        return Err(Reject::with(
            RejectCode::ODD_LOT_SELL,
            RejectDetail::Quantity { qty: t.qty, limit: lot.odd_remainder(t.sell_basis) },
        ));
    }
    // Check 7: quantity cap by order type.
    let max_qty = rules.max_qty(t.order_type);
    if t.qty > max_qty {
        return Err(Reject::with(
            RejectCode::MAX_QUANTITY,
            RejectDetail::Quantity { qty: t.qty, limit: max_qty },
        ));
    }
    // What the order is valued at (check 11) and what its freeze is computed at
    // (check 12; see `reserve_for`). Market orders are valued at the upper price
    // limit; on a day without limits, at the last price plus a configured margin.
    let bounded = band.upper.0 != i64::MAX;
    let upper = if bounded {
        Some(band.upper)
    } else if ctx.last_price.0 > 0 {
        Some(raise_bp(ctx.last_price, limits.market_buy_unlimited_bp, rules.tick))
    } else {
        None
    };
    let lower = if bounded { band.lower } else { rules.tick };
    let (freeze_price, value_price) = match (limit, t.side, t.credit) {
        (true, Side::Sell, CreditTag::ShortSell) => {
            check_limit_price(rules, band, t, ctx, limits)?;
            let fee_basis =
                upper.unwrap_or(raise_bp(t.price, limits.market_buy_unlimited_bp, rules.tick));
            (fee_basis.max(t.price), t.price)
        }
        (true, _, _) => {
            check_limit_price(rules, band, t, ctx, limits)?;
            (t.price, t.price)
        }
        (false, side, credit) => {
            if protected && !band.contains(t.price) {
                return Err(Reject::with(
                    RejectCode::PRICE_LIMIT,
                    RejectDetail::PriceBand {
                        price: t.price,
                        lower: band.lower,
                        upper: band.upper,
                    },
                ));
            }
            let cash_sell = side == Side::Sell && credit != CreditTag::ShortSell;
            if protected && side == Side::Buy {
                // A protected buy trades and rests at its protective price or lower.
                (t.price, t.price)
            } else {
                let upper = upper.ok_or(Reject::new(RejectCode::INVALID_PRICE))?;
                match (protected, cash_sell) {
                    // A protected sell trades at its protective price or higher.
                    (true, true) => (t.price, upper),
                    (_, true) => (lower, upper),
                    (_, false) => (upper, upper),
                }
            }
        }
    };
    // Check 11: notional.
    let value = notional(value_price, t.qty).unwrap_or(i64::MAX);
    if limits.max_notional > 0 && value > limits.max_notional {
        return Err(Reject::with(
            RejectCode::MAX_NOTIONAL,
            RejectDetail::Amount { needed: value, available: limits.max_notional },
        ));
    }
    Ok(freeze_price)
}

/// Checks 8-10 for a limit order: daily limit, cage, fat-finger collar.
fn check_limit_price(
    rules: &BoardRules,
    band: PriceBand,
    t: &Terms,
    ctx: &MarketContext,
    limits: &Limits,
) -> Result<(), Reject> {
    let price = t.price;
    if !band.contains(price) {
        return Err(Reject::with(
            RejectCode::PRICE_LIMIT,
            RejectDetail::PriceBand { price, lower: band.lower, upper: band.upper },
        ));
    }
    if ctx.phase == TradingPhase::Continuous
        && let (Some(reference), Some(cage)) = (ctx.cage_reference, rules.cage)
    {
        let cb = cage_band(t.side, reference, cage, rules.tick);
        if !cb.contains(price) {
            // The cage is one-sided; the daily band closes the other side of the text.
            let (lower, upper) = match t.side {
                Side::Buy => (band.lower, cb.upper),
                Side::Sell => (cb.lower, band.upper),
            };
            return Err(Reject::with(
                RejectCode::PRICE_CAGE,
                RejectDetail::PriceBand { price, lower, upper },
            ));
        }
    }
    if limits.fat_finger_bp > 0 && ctx.last_price.0 > 0 {
        let last = i128::from(ctx.last_price.0);
        let bp = i128::from(limits.fat_finger_bp);
        let whole = i128::from(BP_PER_WHOLE);
        let p = i128::from(price.0) * whole;
        if p > last * (whole + bp) || p < last * (whole - bp) {
            let upper = Price((last * (whole + bp) / whole) as i64);
            let lower = Price(((last * (whole - bp) + whole - 1) / whole) as i64);
            return Err(Reject::with(
                RejectCode::FAT_FINGER,
                RejectDetail::PriceBand { price, lower, upper },
            ));
        }
    }
    Ok(())
}

/// `price` raised by `bp` basis points, rounded up to the tick.
fn raise_bp(price: Price, bp: u32, tick: Price) -> Price {
    let scaled = i128::from(price.0) * i128::from(BP_PER_WHOLE + i64::from(bp));
    let unit = i128::from(BP_PER_WHOLE) * i128::from(tick.0);
    let ticks = (scaled + unit - 1) / unit;
    Price(crate::order::clamp_i64(ticks * i128::from(tick.0)))
}

/// Check 14: credit orders need a credit account; short sales an eligible security
/// and room on the account's lending line.
///
/// Lending is tracked per (account, security): `lend_quota` from configuration,
/// `lend_frozen` for open short sells, `lend_used` for filled ones (until the
/// credit desk settles the loan outside this engine). Short-sale proceeds are held
/// for the lender and are not buying power.
fn check_credit(
    a: &AccountState,
    x: &Instrument,
    credit: CreditTag,
    qty: u64,
    lendable: u64,
) -> Result<(), Reject> {
    match credit {
        CreditTag::Cash => Ok(()),
        // Margin financing lines are not modelled: a margin buy on a credit account
        // is paid from the account's cash like a cash buy.
        CreditTag::MarginBuy if a.credit => Ok(()),
        CreditTag::MarginBuy => Err(Reject::new(RejectCode::SHORT_SELL_NOT_PERMITTED)),
        CreditTag::ShortSell => {
            if !a.credit {
                return Err(Reject::new(RejectCode::SHORT_SELL_NOT_PERMITTED));
            }
            if !x.lending_eligible {
                return Err(Reject::new(RejectCode::SHORT_SELL_INELIGIBLE));
            }
            if qty > lendable {
                return Err(Reject::with(
                    RejectCode::INSUFFICIENT_POSITION,
                    RejectDetail::Quantity { qty, limit: lendable },
                ));
            }
            Ok(())
        }
    }
}

/// Check 16: board permission (a hard gate), then suitability. Returns true when
/// the order passes on the client's confirmation.
fn check_suitability(a: &AccountState, x: &Instrument, confirmed: bool) -> Result<bool, Reject> {
    if !a.boards.allows(x.board) {
        return Err(Reject::new(RejectCode::BOARD_NOT_PERMITTED));
    }
    if a.professional {
        return Ok(false);
    }
    let detail = RejectDetail::Suitability {
        client_class: a.class.as_u8(),
        product_level: x.risk_level.as_u8(),
    };
    if a.lowest_category && x.risk_level > RiskLevel::R1 {
        return Err(Reject::with(RejectCode::LOWEST_CATEGORY_REFUSED, detail));
    }
    if a.class.suits(x.risk_level) {
        Ok(false)
    } else if confirmed {
        Ok(true)
    } else {
        Err(Reject::with(RejectCode::CONFIRMATION_REQUIRED, detail))
    }
}

/// Check 17: the hard message limits (the message itself is already counted).
#[inline]
fn check_throttle(limits: &Limits, counts: MessageCounts) -> Result<(), Reject> {
    if limits.rate_limit_per_s > 0 && counts.in_window > limits.rate_limit_per_s {
        return Err(Reject::with(
            RejectCode::RATE_LIMITED,
            RejectDetail::Count {
                count: u64::from(counts.in_window),
                limit: u64::from(limits.rate_limit_per_s),
            },
        ));
    }
    if limits.daily_message_limit > 0 && counts.today > limits.daily_message_limit {
        return Err(Reject::with(
            RejectCode::DAILY_LIMIT,
            RejectDetail::Count {
                count: u64::from(counts.today),
                limit: u64::from(limits.daily_message_limit),
            },
        ));
    }
    Ok(())
}

/// Check 19: would an order on `side` at `price` trade with `resting`? Market
/// orders (incoming or resting, whose price the engine cannot know) are taken to
/// cross; a resting order's in-flight replace price counts as well as its price.
fn would_cross(side: Side, order_type: OrderType, price: Price, resting: &OrderRecord) -> bool {
    if order_type.is_market() || resting.order_type.is_market() {
        return true;
    }
    let crosses = |p: Price| match side {
        Side::Buy => price >= p,
        Side::Sell => price <= p,
    };
    crosses(resting.price)
        || matches!(resting.pending, PendingChange::Replace { price: p, .. } if crosses(p))
}
