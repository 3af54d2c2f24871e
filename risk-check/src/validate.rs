//! [`RiskEngine::validate`]: the engine's invariants, checked from scratch.
//!
//! The fast structures (running sums, intrusive lists, indices) are compared with
//! totals recomputed from the order records, which are the plain truth. Tests call
//! it after every step; it allocates and walks everything, so it is not for the
//! order path.

use crate::engine::{RiskEngine, pair_key};
use crate::order::{NIL, OrderRecord, OrderState, reserve_of};
use protocol::{CreditTag, Side};

/// What the open records hold, summed record by record: frozen cash per account,
/// frozen shares and lending lines per position, how many are open, and each
/// position's open list as seen in table order.
pub(crate) struct Totals {
    cash: Vec<i64>,
    shares: Vec<u64>,
    lent: Vec<u64>,
    open: usize,
    lists: Vec<ListScan>,
}

impl Totals {
    pub(crate) fn new(engine: &RiskEngine) -> Totals {
        Totals {
            cash: vec![0; engine.accounts.len()],
            shares: vec![0; engine.positions.len()],
            lent: vec![0; engine.positions.len()],
            open: 0,
            lists: vec![ListScan::EMPTY; engine.positions.len()],
        }
    }
}

/// One position's open list, checked from the records in table order instead of by
/// following its links, which reads the table at random (0.6 s for a million open
/// orders in a 10M table). A new order goes to the head of its list, so a list
/// runs from its newest record to its oldest: read in table order, each record
/// must point back (`next`) to the one before it, which must point forward
/// (`prev`) to it, and the last must be the head. A list that is out of table
/// order (a suitability retry reuses its old record) is marked and walked instead.
#[derive(Clone, Copy)]
struct ListScan {
    /// The newest open record of the position so far.
    last: u32,
    /// That record's `prev`: the next open record of the position must be it.
    expect: u32,
    count: u32,
    buys: u32,
    sells: u32,
    out_of_order: bool,
}

impl ListScan {
    const EMPTY: ListScan =
        ListScan { last: NIL, expect: NIL, count: 0, buys: 0, sells: 0, out_of_order: false };

    fn add(&mut self, i: u32, rec: &OrderRecord) {
        let follows = if self.count == 0 {
            rec.next == NIL
        } else {
            rec.next == self.last && self.expect == i
        };
        self.out_of_order |= !follows;
        self.last = i;
        self.expect = rec.prev;
        self.count += 1;
        match rec.side {
            Side::Buy => self.buys += 1,
            Side::Sell => self.sells += 1,
        }
    }

    /// True when the scan proved the position's list: it holds exactly the open
    /// records, linked both ways, from the head down, with the counts given.
    fn proves(&self, head: u32, counts: (u32, u32, u32)) -> bool {
        let ends =
            if self.count == 0 { head == NIL } else { head == self.last && self.expect == NIL };
        !self.out_of_order && ends && (self.count, self.buys, self.sells) == counts
    }
}

/// Names a record in an error. Only called on the error path: formatting it for
/// every record would cost more than the checks on a full table.
fn record_name(i: usize, rec: &OrderRecord) -> String {
    format!("order {i} ({} {})", rec.account, rec.cl_ord_id)
}

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
        if self.order_index.len() != self.orders.len() {
            return Err(format!(
                "order index has {} keys for {} records",
                self.order_index.len(),
                self.orders.len()
            ));
        }
        let mut totals = Totals::new(self);
        for (i, rec) in self.orders.iter().enumerate() {
            if self.order_index.get(rec.account_idx, rec.cl_ord_id, &self.orders) != Some(i as u32)
            {
                return Err(format!("{}: not found under its own key", record_name(i, rec)));
            }
            self.validate_record(i, rec, &mut totals)?;
        }
        self.validate_totals(&totals)
    }

    /// One record's own invariants, added to the running totals. Everything in
    /// [`RiskEngine::validate`] but the index lookup and the totals' comparison, so
    /// that a restore can check each record as it reads it.
    pub(crate) fn validate_record(
        &self,
        i: usize,
        rec: &OrderRecord,
        totals: &mut Totals,
    ) -> Result<(), String> {
        if rec.order.0 as usize != i {
            return Err(format!("{}: records slot {}", record_name(i, rec), rec.order.0));
        }
        if rec.cum.0.checked_add(rec.leaves.0).is_none_or(|sum| sum > rec.qty.0) {
            return Err(format!(
                "{}: cum {} + leaves {} > qty {}",
                record_name(i, rec),
                rec.cum,
                rec.leaves,
                rec.qty
            ));
        }
        if !rec.is_open() {
            if rec.frozen_cash != 0 || rec.frozen_shares != 0 || rec.leaves.0 != 0 {
                return Err(format!(
                    "{}: closed ({:?}) but keeps a freeze or leaves",
                    record_name(i, rec),
                    rec.state
                ));
            }
            if rec.next != NIL || rec.prev != NIL {
                return Err(format!("{}: closed but still linked", record_name(i, rec)));
            }
            return Ok(());
        }
        totals.open += 1;
        if rec.account_idx as usize >= self.accounts.len()
            || rec.pos_idx as usize >= self.positions.len()
        {
            return Err(format!(
                "{}: open without an account or position slot",
                record_name(i, rec)
            ));
        }
        let need = reserve_of(&self.fees, rec);
        if need.cash != rec.frozen_cash || need.shares != rec.frozen_shares {
            return Err(format!(
                "{}: frozen {} cash / {} shares, its terms need {} / {}",
                record_name(i, rec),
                rec.frozen_cash,
                rec.frozen_shares,
                need.cash,
                need.shares
            ));
        }
        // Saturating: validation also reads restored snapshots, whose numbers are
        // not to be trusted not to overflow.
        let cash = &mut totals.cash[rec.account_idx as usize];
        *cash = cash.saturating_add(rec.frozen_cash);
        totals.lists[rec.pos_idx as usize].add(i as u32, rec);
        let shares = match (rec.side, rec.credit) {
            (Side::Buy, _) => return Ok(()),
            (Side::Sell, CreditTag::ShortSell) => &mut totals.lent[rec.pos_idx as usize],
            (Side::Sell, _) => &mut totals.shares[rec.pos_idx as usize],
        };
        *shares = shares.saturating_add(rec.frozen_shares);
        Ok(())
    }

    /// The account and position invariants, against the totals of every record.
    pub(crate) fn validate_totals(&self, totals: &Totals) -> Result<(), String> {
        for (i, a) in self.accounts.iter().enumerate() {
            let at = format!("account {}", a.id);
            if a.cash_frozen != totals.cash[i] {
                return Err(format!(
                    "{at}: frozen cash {} but open orders hold {}",
                    a.cash_frozen, totals.cash[i]
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
        self.validate_fills()?;
        let listed = self.validate_positions(totals)?;
        if listed != totals.open {
            return Err(format!(
                "open lists hold {listed} orders, {} records are open",
                totals.open
            ));
        }
        Ok(())
    }

    /// The fills table: within its capacity, each fill on one of the day's orders
    /// of its account, and, while it is complete, today's fees per account are
    /// what its fills were charged.
    fn validate_fills(&self) -> Result<(), String> {
        if self.fills.len() > self.capacity.max_fills_per_day as usize {
            return Err(format!(
                "{} fills in a table of {}",
                self.fills.len(),
                self.capacity.max_fills_per_day
            ));
        }
        if self.last_prices.len() != self.instruments.len() {
            return Err("last trade prices do not match the instruments".into());
        }
        let mut fees = vec![0i64; self.accounts.len()];
        for (i, f) in self.fills.iter().enumerate() {
            let rec = self.orders.get(f.order.0 as usize);
            match rec {
                Some(rec) if rec.account == f.account => {
                    fees[rec.account_idx as usize] += f.fees.total()
                }
                _ => return Err(format!("fill {i}: not one of its account's orders today")),
            }
        }
        if self.fills_not_recorded > 0 {
            return Ok(());
        }
        for (a, paid) in self.accounts.iter().zip(fees) {
            if a.fees_today.total() != paid {
                return Err(format!(
                    "account {}: fees today {} but its fills were charged {paid}",
                    a.id,
                    a.fees_today.total()
                ));
            }
        }
        Ok(())
    }

    /// Position invariants; returns how many orders the open lists hold.
    fn validate_positions(&self, totals: &Totals) -> Result<usize, String> {
        let (shares, lent) = (&totals.shares, &totals.lent);
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
            if p.sold_today.checked_add(p.frozen_sell).is_none_or(|sum| sum > p.start_of_day) {
                return Err(format!(
                    "{at}: sold {} + frozen {} exceeds the start-of-day holding {} (T+1)",
                    p.sold_today, p.frozen_sell, p.start_of_day
                ));
            }
            if p.lend_used.checked_add(p.lend_frozen).is_none_or(|sum| sum > p.lend_quota) {
                return Err(format!(
                    "{at}: lending used {} + frozen {} over quota {}",
                    p.lend_used, p.lend_frozen, p.lend_quota
                ));
            }
            let Some(bought) = p.start_of_day.checked_add(p.bought_today) else {
                return Err(format!("{at}: holding overflows"));
            };
            let holding = bought.saturating_sub(p.sold_today);
            if p.cost_total < 0 || (holding == 0 && p.cost_total != 0) {
                return Err(format!("{at}: cost {} for a holding of {holding}", p.cost_total));
            }
            let counts = (p.open_count, p.open_buys, p.open_sells);
            if totals.lists[i].proves(p.open_head, counts) {
                listed += p.open_count as usize;
                continue;
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
            if (count, buys, sells) != counts {
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
