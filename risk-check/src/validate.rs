//! [`RiskEngine::validate`]: the engine's invariants, checked from scratch.
//!
//! The fast structures (running sums, intrusive lists, indices) are compared with
//! totals recomputed from the order records, which are the plain truth. Tests call
//! it after every step; it allocates and walks everything, so it is not for the
//! order path.

use crate::engine::{RiskEngine, pair_key};
use crate::order::{NIL, OrderState, reserve_of};
use protocol::{CreditTag, Side};

impl RiskEngine {
    /// Checks every invariant; the error names the first one broken.
    ///
    /// * Each account's frozen cash equals the sum of its open orders' reserves,
    ///   and each open order's freeze equals what its remaining terms need.
    /// * Frozen shares (and lending lines) equal the sums over open sells (and
    ///   short sells); nothing sells more than the start-of-day holding (T+1).
    /// * No cash, frozen amount, cost or position is negative; an empty holding
    ///   carries no cost.
    /// * The open-order lists hold exactly the records in PendingVenue or Open, with
    ///   consistent links and counts; closed records keep nothing frozen.
    /// * The indices map every key to its own record or slot.
    pub fn validate(&self) -> Result<(), String> {
        let mut cash = vec![0i64; self.accounts.len()];
        let mut shares = vec![0u64; self.positions.len()];
        let mut lent = vec![0u64; self.positions.len()];
        let mut open_total = 0usize;
        if self.order_index.len() != self.orders.len() {
            return Err(format!(
                "order index has {} keys for {} records",
                self.order_index.len(),
                self.orders.len()
            ));
        }
        for (i, rec) in self.orders.iter().enumerate() {
            let at = format!("order {i} ({} {})", rec.account, rec.cl_ord_id);
            if rec.order.0 as usize != i {
                return Err(format!("{at}: records slot {}", rec.order.0));
            }
            if self.order_index.get(rec.account_idx, rec.cl_ord_id, &self.orders) != Some(i as u32)
            {
                return Err(format!("{at}: not found under its own key"));
            }
            if rec.cum.0 + rec.leaves.0 > rec.qty.0 {
                return Err(format!(
                    "{at}: cum {} + leaves {} > qty {}",
                    rec.cum, rec.leaves, rec.qty
                ));
            }
            if !rec.is_open() {
                if rec.frozen_cash != 0 || rec.frozen_shares != 0 || rec.leaves.0 != 0 {
                    return Err(format!(
                        "{at}: closed ({:?}) but keeps a freeze or leaves",
                        rec.state
                    ));
                }
                if rec.next != NIL || rec.prev != NIL {
                    return Err(format!("{at}: closed but still linked"));
                }
                continue;
            }
            open_total += 1;
            let need = reserve_of(&self.fees, rec);
            if need.cash != rec.frozen_cash || need.shares != rec.frozen_shares {
                return Err(format!(
                    "{at}: frozen {} cash / {} shares, its terms need {} / {}",
                    rec.frozen_cash, rec.frozen_shares, need.cash, need.shares
                ));
            }
            cash[rec.account_idx as usize] += rec.frozen_cash;
            match (rec.side, rec.credit) {
                (Side::Buy, _) => {}
                (Side::Sell, CreditTag::ShortSell) => {
                    lent[rec.pos_idx as usize] += rec.frozen_shares
                }
                (Side::Sell, _) => shares[rec.pos_idx as usize] += rec.frozen_shares,
            }
        }
        for (i, a) in self.accounts.iter().enumerate() {
            let at = format!("account {}", a.id);
            if a.cash_frozen != cash[i] {
                return Err(format!(
                    "{at}: frozen cash {} but open orders hold {}",
                    a.cash_frozen, cash[i]
                ));
            }
            if a.debit < 0 || (a.debit > 0 && a.cash_available != 0) {
                return Err(format!(
                    "{at}: debit {} beside available {}",
                    a.debit, a.cash_available
                ));
            }
            if a.cash_available < 0 || a.short_proceeds < 0 || a.fees_paid < 0 {
                return Err(format!(
                    "{at}: negative cash (available {}, short proceeds {}, fees {})",
                    a.cash_available, a.short_proceeds, a.fees_paid
                ));
            }
            if self.account_index.get(&a.id) != Some(&(i as u32)) {
                return Err(format!("{at}: not found under its own id"));
            }
        }
        let listed = self.validate_positions(&shares, &lent)?;
        if listed != open_total {
            return Err(format!("open lists hold {listed} orders, {open_total} records are open"));
        }
        Ok(())
    }

    /// Position invariants; returns how many orders the open lists hold.
    fn validate_positions(&self, shares: &[u64], lent: &[u64]) -> Result<usize, String> {
        let mut listed = 0usize;
        for (i, p) in self.positions.iter().enumerate() {
            let security = self.instruments.at(p.instr_idx).security;
            let at = format!("position {} {security}", self.accounts[p.account_idx as usize].id);
            if self.position_index.get(&pair_key(p.account_idx, p.instr_idx)) != Some(&(i as u32)) {
                return Err(format!("{at}: not found under its own key"));
            }
            if p.frozen_sell != shares[i] {
                return Err(format!(
                    "{at}: frozen {} shares, open sells hold {}",
                    p.frozen_sell, shares[i]
                ));
            }
            if p.lend_frozen != lent[i] {
                return Err(format!(
                    "{at}: lending frozen {}, open short sells hold {}",
                    p.lend_frozen, lent[i]
                ));
            }
            if p.sold_today + p.frozen_sell > p.start_of_day {
                return Err(format!(
                    "{at}: sold {} + frozen {} exceeds the start-of-day holding {} (T+1)",
                    p.sold_today, p.frozen_sell, p.start_of_day
                ));
            }
            if p.lend_used + p.lend_frozen > p.lend_quota {
                return Err(format!(
                    "{at}: lending used {} + frozen {} over quota {}",
                    p.lend_used, p.lend_frozen, p.lend_quota
                ));
            }
            if p.cost_total < 0 || (p.holding() == 0 && p.cost_total != 0) {
                return Err(format!(
                    "{at}: cost {} for a holding of {}",
                    p.cost_total,
                    p.holding()
                ));
            }
            let (mut count, mut buys, mut sells) = (0u32, 0u32, 0u32);
            let (mut r, mut prev) = (p.open_head, NIL);
            while r != NIL {
                let rec = &self.orders[r as usize];
                if !matches!(rec.state, OrderState::PendingVenue | OrderState::Open) {
                    return Err(format!("{at}: closed order {r} on the open list"));
                }
                if rec.pos_idx as usize != i || rec.prev != prev {
                    return Err(format!("{at}: order {r} linked into the wrong list"));
                }
                count += 1;
                match rec.side {
                    Side::Buy => buys += 1,
                    Side::Sell => sells += 1,
                }
                if count as usize > self.orders.len() {
                    return Err(format!("{at}: open list has a cycle"));
                }
                prev = r;
                r = rec.next;
            }
            if (count, buys, sells) != (p.open_count, p.open_buys, p.open_sells) {
                return Err(format!(
                    "{at}: list holds {count} ({buys} buys, {sells} sells), counts say {} ({}, {})",
                    p.open_count, p.open_buys, p.open_sells
                ));
            }
            listed += count as usize;
        }
        let mut chained = 0usize;
        for a in &self.accounts {
            let mut slot = a.first_pos;
            while slot != NIL {
                chained += 1;
                if chained > self.positions.len() {
                    return Err(format!("account {}: position chain has a cycle", a.id));
                }
                slot = self.positions[slot as usize].next_of_account;
            }
        }
        if chained != self.positions.len() {
            return Err(format!(
                "account chains hold {chained} of {} positions",
                self.positions.len()
            ));
        }
        Ok(listed)
    }
}
