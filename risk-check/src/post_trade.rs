//! Venue events: acknowledgements, rejects, fills, cancels and replaces. Each
//! moves frozen cash and shares to where they now belong and keeps the open-order
//! lists true.
//!
//! One rule keeps the books exact: after every event an open order's freeze is
//! recomputed from its remaining terms ([`reserve_of`]) and only the difference
//! moves between available and frozen. A fill's cash flow (value and fees) is
//! applied to available cash on its own. So frozen cash always equals the sum of
//! the open orders' reserves, whatever order the events arrive in.
//!
//! Events that do not fit the order's state (a fill for a closed order, more than
//! the open quantity) are venue or gateway bugs: they are clamped or ignored and
//! counted in `venue_anomalies`, never allowed to corrupt the books.

use protocol::rules::FeeSchedule;
use protocol::{CreditTag, Price, Qty, RejectCode, SecurityId, Side};

use crate::engine::RiskEngine;
use crate::fees::{FeeBreakdown, order_fees};
use crate::fills::FillRecord;
use crate::order::{NIL, OrderRef, OrderState, PendingChange, clamp_i64, reserve_of};

impl RiskEngine {
    /// The venue accepted the order.
    pub fn on_venue_accepted(&mut self, o: OrderRef) {
        let rec = &mut self.orders[o.0 as usize];
        match rec.state {
            OrderState::PendingVenue => rec.state = OrderState::Open,
            OrderState::Open => {}
            _ => self.counters.venue_anomalies += 1,
        }
    }

    /// The venue refused the order: its freeze is released.
    pub fn on_venue_rejected(&mut self, o: OrderRef, code: RejectCode) {
        let r = o.0 as usize;
        if !self.orders[r].is_open() {
            self.counters.venue_anomalies += 1;
            return;
        }
        self.orders[r].leaves = Qty::ZERO;
        self.close_order(r, OrderState::VenueRejected { code });
    }

    /// A fill of `qty` at `price`, partial or full.
    ///
    /// * Buy: value plus the fees it adds leave the order's frozen cash; the shares
    ///   arrive as bought today (sellable from the next trading day); on the last
    ///   fill the rest of the freeze is released.
    /// * Sell: the shares leave the holding; value less fees arrives as available
    ///   cash; realised P&L is booked against the average cost.
    /// * Short sell: the lending line is used; the proceeds are held for the
    ///   lender; fees come from the order's freeze.
    ///
    /// Fees are charged so that an order's total is [`order_fees`] of its total
    /// value: the minimum commission is charged once per order, not per fill, and
    /// each kind is rounded to the fen on the order's cumulative value. Returns the
    /// fill's fees by kind, exactly as the account was charged (zero for a fill
    /// that is ignored as an anomaly); the fill is recorded in the fills table
    /// with execution id zero ([`RiskEngine::on_execution`] takes the venue's).
    pub fn on_fill(&mut self, o: OrderRef, price: Price, qty: Qty, now_ns: u64) -> FeeBreakdown {
        self.on_execution(o, 0, price, qty, now_ns)
    }

    /// [`RiskEngine::on_fill`] with the venue's execution id, kept in the fills
    /// table.
    pub fn on_execution(
        &mut self,
        o: OrderRef,
        exec_id: u64,
        price: Price,
        qty: Qty,
        now_ns: u64,
    ) -> FeeBreakdown {
        let r = o.0 as usize;
        let rec = &mut self.orders[r];
        if !rec.is_open() || qty.0 == 0 {
            self.counters.venue_anomalies += 1;
            return FeeBreakdown::ZERO;
        }
        let q = qty.0.min(rec.leaves.0);
        if q != qty.0 {
            self.counters.venue_anomalies += 1;
        }
        let value = clamp_i64(i128::from(price.0) * i128::from(q));
        let cum_value = rec.cum_value.saturating_add(value);
        let fee = fill_fees(&self.fees, rec.side, rec.cum_value, cum_value, rec.fees_paid);
        let fees_total = rec.fees_paid + fee.total();
        rec.cum = Qty(rec.cum.0 + q);
        rec.leaves = Qty(rec.leaves.0 - q);
        rec.cum_value = cum_value;
        rec.fees_paid = fees_total;
        if rec.state == OrderState::PendingVenue {
            rec.state = OrderState::Open;
        }
        let (side, credit, acct, pos, done) = (
            rec.side,
            rec.credit,
            rec.account_idx as usize,
            rec.pos_idx as usize,
            rec.leaves.0 == 0,
        );
        let fill = FillRecord {
            order: o,
            account: rec.account,
            cl_ord_id: rec.cl_ord_id,
            exec_id,
            security: rec.security,
            side,
            price,
            qty: Qty(q),
            value,
            fees: fee,
            booked_ns: now_ns,
        };
        let fee_cash = fee.total();
        let a = &mut self.accounts[acct];
        let p = &mut self.positions[pos];
        match (side, credit) {
            (Side::Buy, _) => {
                a.cash_available -= value + fee_cash;
                p.bought_today += q;
                p.cost_total += value + fee_cash;
            }
            (Side::Sell, CreditTag::ShortSell) => {
                a.cash_available -= fee_cash;
                a.short_proceeds += value;
                p.short_qty += q;
                p.lend_used += q;
            }
            (Side::Sell, _) => {
                let holding = p.holding();
                debug_assert!(holding >= q, "a sell never exceeds the shares frozen for it");
                let cost_out = if holding == 0 {
                    p.cost_total
                } else {
                    clamp_i64(i128::from(p.cost_total) * i128::from(q) / i128::from(holding))
                };
                a.cash_available += value - fee_cash;
                p.sold_today += q;
                p.cost_total -= cost_out;
                p.realized_pnl += value - fee_cash - cost_out;
                a.realized_today += value - fee_cash - cost_out;
            }
        }
        a.fees_paid += fee_cash;
        a.fees_today = a.fees_today.plus(&fee);
        self.last_prices[p.instr_idx as usize] = price;
        self.record_fill(fill);
        self.counters.fills += 1;
        if done {
            self.close_order(r, OrderState::Filled);
        } else {
            self.refreeze(r);
        }
        if self.accounts[acct].settle() > 0 {
            // The venue's trade stands; the account owes the difference.
            self.counters.overdrafts += 1;
        }
        fee
    }

    /// A trade on the venue in `security` at `price` (anyone's): the last trade
    /// price the funds and positions queries value holdings at. Unknown
    /// securities and non-positive prices are ignored.
    pub fn on_trade(&mut self, security: SecurityId, price: Price) {
        if price.0 <= 0 {
            return;
        }
        if let Some(i) = self.instruments.index_of(security) {
            self.last_prices[i as usize] = price;
        }
    }

    /// The venue cancelled `canceled_qty` of the order (a client cancel, an IOC or
    /// market remainder, expiry): what was frozen for that quantity is released.
    /// Any cancel in flight is settled by it.
    pub fn on_canceled(&mut self, o: OrderRef, canceled_qty: Qty) {
        let r = o.0 as usize;
        let rec = &mut self.orders[r];
        if !rec.is_open() {
            self.counters.venue_anomalies += 1;
            return;
        }
        if canceled_qty.0 > rec.leaves.0 {
            self.counters.venue_anomalies += 1;
        }
        rec.leaves = Qty(rec.leaves.0.saturating_sub(canceled_qty.0));
        if rec.pending == PendingChange::Cancel {
            rec.pending = PendingChange::None;
        }
        if rec.leaves.0 == 0 {
            self.close_order(r, OrderState::Canceled);
        } else {
            self.refreeze(r);
        }
    }

    /// The venue refused a cancel (the order had already traded away, say): the
    /// order may be cancelled again.
    pub fn on_cancel_rejected(&mut self, o: OrderRef) {
        let rec = &mut self.orders[o.0 as usize];
        if rec.pending == PendingChange::Cancel {
            rec.pending = PendingChange::None;
        } else {
            self.counters.venue_anomalies += 1;
        }
    }

    /// The venue applied a replace: new price, new total quantity, and the open
    /// quantity it reports. The freeze shrinks to the new terms.
    pub fn on_replaced(&mut self, o: OrderRef, price: Price, qty: Qty, leaves: Qty) {
        let r = o.0 as usize;
        let rec = &mut self.orders[r];
        if !rec.is_open() {
            self.counters.venue_anomalies += 1;
            return;
        }
        // The venue refuses a quantity at or below what has traded; if it reports
        // one anyway, keep cum + leaves <= qty by trusting the fills.
        let qty = Qty(qty.0.max(rec.cum.0));
        let leaves = Qty(leaves.0.min(qty.0 - rec.cum.0));
        rec.pending = PendingChange::None;
        rec.price = price;
        if rec.credit != CreditTag::ShortSell {
            rec.freeze_price = price;
        }
        rec.qty = qty;
        rec.leaves = leaves;
        if leaves.0 == 0 {
            let state = if rec.cum.0 >= qty.0 { OrderState::Filled } else { OrderState::Canceled };
            self.close_order(r, state);
        } else {
            self.refreeze(r);
        }
    }

    /// The venue refused a replace: the order keeps its old terms and the extra
    /// freeze of [`RiskEngine::check_replace`] is released.
    pub fn on_replace_rejected(&mut self, o: OrderRef) {
        let r = o.0 as usize;
        if matches!(self.orders[r].pending, PendingChange::Replace { .. }) {
            self.orders[r].pending = PendingChange::None;
            self.refreeze(r);
        } else {
            self.counters.venue_anomalies += 1;
        }
    }

    /// Recomputes an order's freeze and moves the difference between available and
    /// frozen (cash on the account; shares or lending line on the position).
    pub(crate) fn refreeze(&mut self, r: usize) {
        let rec = &mut self.orders[r];
        let need = reserve_of(&self.fees, rec);
        let a = &mut self.accounts[rec.account_idx as usize];
        a.cash_available += rec.frozen_cash - need.cash;
        a.cash_frozen += need.cash - rec.frozen_cash;
        if rec.side == Side::Sell {
            let p = &mut self.positions[rec.pos_idx as usize];
            let frozen = if rec.credit == CreditTag::ShortSell {
                &mut p.lend_frozen
            } else {
                &mut p.frozen_sell
            };
            *frozen = *frozen + need.shares - rec.frozen_shares;
        }
        rec.frozen_cash = need.cash;
        rec.frozen_shares = need.shares;
        if a.settle() > 0 {
            self.counters.overdrafts += 1;
        }
    }

    /// Closes an open order: unlinks it, sets its final state, releases its freeze.
    pub(crate) fn close_order(&mut self, r: usize, state: OrderState) {
        debug_assert!(self.orders[r].is_open(), "only open orders close");
        debug_assert!(!state.is_open(), "closing into a closed state");
        self.unlink_open(r as u32);
        let rec = &mut self.orders[r];
        rec.state = state;
        rec.pending = PendingChange::None;
        rec.leaves = Qty::ZERO;
        self.refreeze(r);
        debug_assert_eq!(self.orders[r].frozen_cash, 0, "a closed order keeps nothing frozen");
    }

    /// Puts an order at the head of its position's open list.
    pub(crate) fn link_open(&mut self, r: u32, pos: u32) {
        let side = self.orders[r as usize].side;
        let p = &mut self.positions[pos as usize];
        let head = p.open_head;
        p.open_head = r;
        p.open_count += 1;
        match side {
            Side::Buy => p.open_buys += 1,
            Side::Sell => p.open_sells += 1,
        }
        if head != NIL {
            self.orders[head as usize].prev = r;
        }
        let rec = &mut self.orders[r as usize];
        rec.next = head;
        rec.prev = NIL;
    }

    fn unlink_open(&mut self, r: u32) {
        let rec = self.orders[r as usize];
        let p = &mut self.positions[rec.pos_idx as usize];
        if rec.prev == NIL {
            debug_assert_eq!(p.open_head, r, "a first element is its list's head");
            p.open_head = rec.next;
        } else {
            self.orders[rec.prev as usize].next = rec.next;
        }
        if rec.next != NIL {
            self.orders[rec.next as usize].prev = rec.prev;
        }
        p.open_count -= 1;
        match rec.side {
            Side::Buy => p.open_buys -= 1,
            Side::Sell => p.open_sells -= 1,
        }
        let rec = &mut self.orders[r as usize];
        rec.next = NIL;
        rec.prev = NIL;
    }
}

/// What a fill that takes an order's filled value from `before` to `after` is
/// charged, by kind: what lifts each kind's total for the order, so the minimum
/// commission falls on the first fill (nothing was charged before it).
///
/// The order has paid `paid` so far. That equals [`order_fees`] of `before` unless
/// the schedule changed while the order was partly filled; then the difference
/// that brings the order's total to the new schedule is booked as commission (the
/// broker's own line), so the kinds always add up to the cash charged.
fn fill_fees(fees: &FeeSchedule, side: Side, before: i64, after: i64, paid: i64) -> FeeBreakdown {
    let total = order_fees(fees, side, after);
    if before == 0 && paid == 0 {
        return total;
    }
    let prior = order_fees(fees, side, before);
    let mut fee = total.minus(&prior);
    fee.commission += prior.total() - paid;
    fee
}
