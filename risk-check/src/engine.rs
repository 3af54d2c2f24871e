//! The engine's state and everything outside the order path: start-up, bindings,
//! run-time settings, queries, snapshots and the day roll.
//!
//! Tables, all allocated in [`RiskEngine::new`] and never grown:
//!
//! | table | size | index |
//! |---|---|---|
//! | accounts | configured accounts | `AccountId` → u32 |
//! | instruments | configured instruments | `SecurityId` → u32 |
//! | positions: one per (account, security) ever used | `max_positions` | (account, instrument) → u32 |
//! | orders: the day's records, the idempotency table | `max_orders_per_day` | (account, cl_ord_id) → u32 ([`crate::order_index`]) |
//! | login bindings | `max_login_bindings` | (login, account) set |
//! | fills: the day's fills, for the fills query | `max_fills_per_day` | in booking order |
//! | last trade prices | instruments | instrument index |
//!
//! Open orders are intrusive doubly linked lists through the order records, one
//! list per position slot; an account's position slots are a singly linked list.
//! So "open orders of this account in this security" and "every open order of this
//! account" walk only what they return, and need no storage of their own.

use protocol::codec::EntryState;
use protocol::rules::FeeSchedule;
use protocol::{AccountId, Price, RejectCode, SecurityId};

use crate::account::{
    AccountConfig, AccountSnapshot, BoardPermissions, ClientClass, PositionSnapshot,
};
use crate::config::{Capacity, ConfigError, Limits, RiskConfig};
use crate::counters::RiskCounters;
use crate::fees::FeeBreakdown;
use crate::fills::FillRecord;
use crate::fxhash::{FxHashMap, FxHashSet, map_with_capacity, set_with_capacity};
use crate::instrument::{Instrument, InstrumentTable};
use crate::order::{LoginIdx, NIL, OrderRecord, OrderRef, OrderState, Reject};
use crate::order_index::OrderIndex;
use crate::window::{FingerprintRing, SlidingWindow};

/// Flags raised on an account today (monitors: counted, never rejected on).
#[derive(Clone, Copy, Default, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct DailyFlags {
    pub high_rate: bool,
    pub high_daily: bool,
    pub rapid_cancel: bool,
    pub rapid_orders: bool,
}

/// Live state of one account.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct AccountState {
    pub id: AccountId,
    pub cash_available: i64,
    pub cash_frozen: i64,
    /// Cash owed by the account: what fills cost beyond its available cash (see
    /// [`AccountState::settle`]). Paid down before available cash grows again.
    pub debit: i64,
    pub short_proceeds: i64,
    /// Fees paid, all days.
    pub fees_paid: i64,
    /// Fees paid today, by kind (reset by the day roll).
    pub fees_today: FeeBreakdown,
    /// P&L realised today by cash sells, fees included (reset by the day roll).
    pub realized_today: i64,
    pub class: ClientClass,
    pub lowest_category: bool,
    pub professional: bool,
    pub boards: BoardPermissions,
    pub programmatic: bool,
    pub credit: bool,
    /// Order-entry state set by the broker's risk desk (configuration or the admin
    /// endpoint). Only the desk lifts it.
    pub state: EntryState,
    /// Order-entry state the account's own logins set (OrderEntryControl, a kill
    /// switch): `Active` or `Blocked`. Kept apart from the desk's so that a client
    /// can lift what it set, and nothing more.
    pub client_state: EntryState,
    /// First and last position slot of this account (NIL when none).
    pub first_pos: u32,
    pub last_pos: u32,
    pub messages: SlidingWindow,
    pub new_orders: SlidingWindow,
    pub messages_today: u32,
    pub orders_today: u32,
    pub rapid_cancels_today: u32,
    pub flags: DailyFlags,
    pub fingerprints: FingerprintRing,
}

impl AccountState {
    /// The state orders are checked against: the stricter of the two.
    #[inline]
    pub fn effective_state(&self) -> EntryState {
        stricter(self.state, self.client_state)
    }

    /// Keeps available cash non-negative: a shortfall becomes a debit, and cash
    /// arriving while in debit pays it down first. Returns the debit added.
    ///
    /// A debit arises only from fills that cost more than the order kept frozen:
    /// a cash sell's first partial fill that cannot pay the minimum commission out
    /// of its own proceeds, or a market buy on a day without price limits filling
    /// above the price it was valued at.
    #[inline]
    pub fn settle(&mut self) -> i64 {
        if self.cash_available < 0 {
            let added = -self.cash_available;
            self.debit += added;
            self.cash_available = 0;
            added
        } else {
            let pay = self.debit.min(self.cash_available);
            self.debit -= pay;
            self.cash_available -= pay;
            0
        }
    }
}

/// Live state of one (account, security) pair.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct PositionState {
    pub account_idx: u32,
    pub instr_idx: u32,
    pub next_of_account: u32,
    /// Held at the start of the day: the only shares a sell may use (T+1).
    pub start_of_day: u64,
    pub bought_today: u64,
    pub sold_today: u64,
    /// Shares frozen for open cash sells.
    pub frozen_sell: u64,
    /// Cost of the holding, fees included.
    pub cost_total: i64,
    pub realized_pnl: i64,
    pub short_qty: u64,
    pub lend_quota: u64,
    pub lend_used: u64,
    pub lend_frozen: u64,
    pub restricted: bool,
    /// Head of the open-order list, and its counts.
    pub open_head: u32,
    pub open_count: u32,
    pub open_buys: u32,
    pub open_sells: u32,
    pub cancels_today: u32,
}

impl PositionState {
    fn new(account_idx: u32, instr_idx: u32) -> PositionState {
        PositionState {
            account_idx,
            instr_idx,
            next_of_account: NIL,
            start_of_day: 0,
            bought_today: 0,
            sold_today: 0,
            frozen_sell: 0,
            cost_total: 0,
            realized_pnl: 0,
            short_qty: 0,
            lend_quota: 0,
            lend_used: 0,
            lend_frozen: 0,
            restricted: false,
            open_head: NIL,
            open_count: 0,
            open_buys: 0,
            open_sells: 0,
            cancels_today: 0,
        }
    }

    /// Shares a new sell may use now.
    #[inline]
    pub fn sellable(&self) -> u64 {
        self.start_of_day.saturating_sub(self.sold_today).saturating_sub(self.frozen_sell)
    }

    /// Shares held now.
    #[inline]
    pub fn holding(&self) -> u64 {
        (self.start_of_day + self.bought_today).saturating_sub(self.sold_today)
    }

    /// Lending line left for new short sells.
    #[inline]
    pub fn lendable(&self) -> u64 {
        self.lend_quota.saturating_sub(self.lend_used).saturating_sub(self.lend_frozen)
    }
}

/// The pre-trade risk and suitability engine. One owner (the engine thread); no
/// locks, no I/O, no clock, no allocation after [`RiskEngine::new`] on the order path.
#[derive(Debug)]
pub struct RiskEngine {
    pub(crate) limits: Limits,
    pub(crate) capacity: Capacity,
    pub(crate) fees: FeeSchedule,
    pub(crate) firm_state: EntryState,
    pub(crate) accounts: Vec<AccountState>,
    pub(crate) account_index: FxHashMap<AccountId, u32>,
    pub(crate) instruments: InstrumentTable,
    pub(crate) positions: Vec<PositionState>,
    pub(crate) position_index: FxHashMap<u64, u32>,
    pub(crate) bindings: FxHashSet<u64>,
    pub(crate) binding_list: Vec<(LoginIdx, u32)>,
    pub(crate) orders: Vec<OrderRecord>,
    pub(crate) order_index: OrderIndex,
    pub(crate) counters: RiskCounters,
    pub(crate) day_start_ns: u64,
    /// The day's fills ([`crate::fills`]), `max_fills_per_day` at most.
    pub(crate) fills: Vec<FillRecord>,
    /// Fills booked today that the full fills table could not record.
    pub(crate) fills_not_recorded: u64,
    /// Last trade price per instrument (from fills and [`RiskEngine::on_trade`]);
    /// zero until the first trade seen.
    pub(crate) last_prices: Vec<Price>,
}

/// The stricter of two entry states (`Blocked` over `ReducingOnly` over `Active`).
#[inline]
pub(crate) fn stricter(a: EntryState, b: EntryState) -> EntryState {
    if (b as u8) > (a as u8) { b } else { a }
}

#[inline]
pub(crate) fn pair_key(high: u32, low: u32) -> u64 {
    (u64::from(high) << 32) | u64::from(low)
}

/// The day's fills table ([`crate::fills`]): the engine owns it, the record type
/// lives beside the table's rules.
impl RiskEngine {
    /// Records a fill if the table has room; counts it as missing otherwise.
    /// Never allocates: the table's capacity was reserved at start-up.
    #[inline]
    pub(crate) fn record_fill(&mut self, fill: FillRecord) {
        if self.fills.len() < self.capacity.max_fills_per_day as usize {
            self.fills.push(fill);
        } else {
            self.fills_not_recorded += 1;
        }
    }

    /// Fills booked today but not in the fills table (it was full): when non-zero,
    /// the fills query's answers are incomplete. The money is right either way.
    pub fn fills_not_recorded(&self) -> u64 {
        self.fills_not_recorded
    }

    /// Fills recorded today, every account.
    pub fn fills_today(&self) -> &[FillRecord] {
        &self.fills
    }
}

impl RiskEngine {
    /// Validates `cfg` and allocates every table.
    pub fn new(cfg: RiskConfig) -> Result<RiskEngine, ConfigError> {
        cfg.validate()?;
        let RiskConfig { limits, capacity, fees, accounts, instruments, origin } = cfg;
        let instruments =
            InstrumentTable::new(instruments).ok_or_else(|| ConfigError::Invalid {
                file: origin.clone(),
                field: "instruments".into(),
                message: "duplicate security".into(),
            })?;
        let max_orders = capacity.max_orders_per_day as usize;
        let max_positions = capacity.max_positions as usize;
        let max_bindings = capacity.max_login_bindings as usize;
        let max_fills = capacity.max_fills_per_day as usize;
        let instrument_count = instruments.len();
        let mut engine = RiskEngine {
            limits,
            capacity,
            fees,
            firm_state: EntryState::Active,
            accounts: Vec::with_capacity(accounts.len()),
            account_index: map_with_capacity(accounts.len()),
            instruments,
            positions: Vec::with_capacity(max_positions),
            position_index: map_with_capacity(max_positions),
            bindings: set_with_capacity(max_bindings),
            binding_list: Vec::with_capacity(max_bindings),
            orders: Vec::with_capacity(max_orders),
            order_index: OrderIndex::with_records(max_orders),
            counters: RiskCounters::default(),
            day_start_ns: 0,
            fills: Vec::with_capacity(max_fills),
            fills_not_recorded: 0,
            last_prices: vec![Price::ZERO; instrument_count],
        };
        // Commit the tables' memory now: otherwise the first record written to each
        // page pays for a page fault on the order path, all day long.
        prefault(&mut engine.orders);
        prefault(&mut engine.positions);
        prefault(&mut engine.fills);
        for account in &accounts {
            engine.add_account(account)?;
        }
        Ok(engine)
    }

    fn add_account(&mut self, cfg: &AccountConfig) -> Result<(), ConfigError> {
        let idx = self.accounts.len() as u32;
        self.accounts.push(AccountState {
            id: cfg.id,
            cash_available: cfg.cash,
            cash_frozen: 0,
            debit: 0,
            short_proceeds: 0,
            fees_paid: 0,
            fees_today: FeeBreakdown::ZERO,
            realized_today: 0,
            class: cfg.class,
            lowest_category: cfg.lowest_category,
            professional: cfg.professional,
            boards: cfg.boards,
            programmatic: cfg.programmatic,
            credit: cfg.credit,
            state: cfg.state,
            client_state: EntryState::Active,
            first_pos: NIL,
            last_pos: NIL,
            messages: SlidingWindow::default(),
            new_orders: SlidingWindow::default(),
            messages_today: 0,
            orders_today: 0,
            rapid_cancels_today: 0,
            flags: DailyFlags::default(),
            fingerprints: FingerprintRing::default(),
        });
        self.account_index.insert(cfg.id, idx);
        for p in &cfg.positions {
            let slot = self.config_slot(idx, p.security)?;
            let pos = &mut self.positions[slot as usize];
            pos.start_of_day = p.qty;
            pos.cost_total = i64::try_from(i128::from(p.cost.0) * i128::from(p.qty))
                .map_err(|_| ConfigError::Full { table: "position cost", capacity: 0 })?;
        }
        for l in &cfg.lendable {
            let slot = self.config_slot(idx, l.security)?;
            self.positions[slot as usize].lend_quota = l.qty;
        }
        for s in &cfg.restricted {
            let slot = self.config_slot(idx, *s)?;
            self.positions[slot as usize].restricted = true;
        }
        Ok(())
    }

    fn config_slot(&mut self, account_idx: u32, security: SecurityId) -> Result<u32, ConfigError> {
        let instr = self.instruments.index_of(security).expect("validated: a known security");
        self.position_slot(account_idx, instr)
            .ok_or(ConfigError::Full { table: "position", capacity: self.capacity.max_positions })
    }

    /// The position slot of (account, instrument), created if absent; `None` when
    /// the table is full.
    #[inline]
    pub(crate) fn position_slot(&mut self, account_idx: u32, instr_idx: u32) -> Option<u32> {
        let key = pair_key(account_idx, instr_idx);
        if let Some(&slot) = self.position_index.get(&key) {
            return Some(slot);
        }
        if self.positions.len() >= self.capacity.max_positions as usize {
            return None;
        }
        let slot = self.positions.len() as u32;
        self.positions.push(PositionState::new(account_idx, instr_idx));
        self.position_index.insert(key, slot);
        let account = &mut self.accounts[account_idx as usize];
        if account.last_pos == NIL {
            account.first_pos = slot;
        } else {
            self.positions[account.last_pos as usize].next_of_account = slot;
        }
        account.last_pos = slot;
        Some(slot)
    }

    /// The position slot of (account, instrument) if it exists.
    #[inline]
    pub(crate) fn find_position(&self, account_idx: u32, instr_idx: u32) -> Option<u32> {
        self.position_index.get(&pair_key(account_idx, instr_idx)).copied()
    }

    /// Lets `login` trade for `account` (check 1). Binding twice is harmless.
    pub fn bind_login(&mut self, login: LoginIdx, account: AccountId) -> Result<(), ConfigError> {
        let idx = *self.account_index.get(&account).ok_or(ConfigError::UnknownAccount(account))?;
        let key = pair_key(login, idx);
        if self.bindings.contains(&key) {
            return Ok(());
        }
        if self.binding_list.len() >= self.capacity.max_login_bindings as usize {
            return Err(ConfigError::Full {
                table: "login binding",
                capacity: self.capacity.max_login_bindings,
            });
        }
        self.bindings.insert(key);
        self.binding_list.push((login, idx));
        Ok(())
    }

    /// True when `login` may trade for `account`.
    pub fn is_bound(&self, login: LoginIdx, account: &AccountId) -> bool {
        self.account_index
            .get(account)
            .is_some_and(|&idx| self.bindings.contains(&pair_key(login, idx)))
    }

    /// Finds the account and checks the binding (check 1).
    #[inline]
    pub(crate) fn bound_account(
        &self,
        login: LoginIdx,
        account: &AccountId,
    ) -> Result<u32, Reject> {
        let Some(&idx) = self.account_index.get(account) else {
            return Err(Reject::new(RejectCode::UNKNOWN_ACCOUNT));
        };
        if !self.bindings.contains(&pair_key(login, idx)) {
            return Err(Reject::new(RejectCode::ACCOUNT_NOT_PERMITTED));
        }
        Ok(idx)
    }

    // ---- run-time settings ----

    /// The firm-wide kill switch: Blocked stops every new order, ReducingOnly lets
    /// only position-reducing sells through. Open orders are untouched (the gateway
    /// mass-cancels if it wants them gone).
    pub fn set_firm_state(&mut self, s: EntryState) {
        self.firm_state = s;
    }

    /// The firm-wide state.
    pub fn firm_state(&self) -> EntryState {
        self.firm_state
    }

    /// The risk desk's state for one account (configuration, the admin endpoint).
    /// The account trades under the stricter of this and its clients' state.
    pub fn set_account_state(&mut self, account: &AccountId, s: EntryState) -> Result<(), Reject> {
        let idx = self.account_idx(account)?;
        self.accounts[idx as usize].state = s;
        Ok(())
    }

    /// The state the account's own logins set: `Blocked` by a disable or a kill
    /// switch, `Active` by an enable. It never lifts the desk's state.
    pub fn set_client_state(&mut self, account: &AccountId, s: EntryState) -> Result<(), Reject> {
        let idx = self.account_idx(account)?;
        self.accounts[idx as usize].client_state = s;
        Ok(())
    }

    /// One account's effective state: the stricter of the desk's and its clients';
    /// `None` for an unknown account.
    pub fn account_state(&self, account: &AccountId) -> Option<EntryState> {
        self.account_index.get(account).map(|&i| self.accounts[i as usize].effective_state())
    }

    /// The risk desk's state for one account; `None` for an unknown account.
    pub fn desk_state(&self, account: &AccountId) -> Option<EntryState> {
        self.account_index.get(account).map(|&i| self.accounts[i as usize].state)
    }

    /// The state the account's logins set; `None` for an unknown account.
    pub fn client_state(&self, account: &AccountId) -> Option<EntryState> {
        self.account_index.get(account).map(|&i| self.accounts[i as usize].client_state)
    }

    /// Replaces every run-time limit at once.
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The limits, to change one field: `engine.limits_mut().max_notional = ...`.
    pub fn limits_mut(&mut self) -> &mut Limits {
        &mut self.limits
    }

    /// Replaces the fee schedule. Open orders re-freeze at once for their
    /// remaining terms under the new schedule (an increase is taken from available
    /// cash even if that runs short: fees are owed whatever the balance).
    pub fn set_fees(&mut self, fees: FeeSchedule) {
        self.fees = fees;
        for r in 0..self.orders.len() {
            if self.orders[r].is_open() {
                self.refreeze(r);
            }
        }
    }

    /// The fee schedule in force.
    pub fn fees(&self) -> &FeeSchedule {
        &self.fees
    }

    /// The start-up table sizes.
    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// The instrument table (the gateway builds its venue's instruments from it).
    pub fn instruments(&self) -> &InstrumentTable {
        &self.instruments
    }

    /// Changes an instrument's run-time facts (suspension, restriction, previous
    /// close, flags); its price band is recomputed. Errors on an unknown security.
    pub fn update_instrument(
        &mut self,
        security: SecurityId,
        change: impl FnOnce(&mut Instrument),
    ) -> Result<(), Reject> {
        let idx =
            self.instruments.index_of(security).ok_or(Reject::new(RejectCode::UNKNOWN_SECURITY))?;
        self.instruments.update(idx, change);
        Ok(())
    }

    /// Sets the previous close that tomorrow's (or today's) price limits are computed from.
    pub fn set_prev_close(
        &mut self,
        security: SecurityId,
        prev_close: Price,
    ) -> Result<(), Reject> {
        self.update_instrument(security, |x| x.prev_close = prev_close)
    }

    /// Suspends or resumes a security.
    pub fn set_suspended(&mut self, security: SecurityId, suspended: bool) -> Result<(), Reject> {
        self.update_instrument(security, |x| x.suspended = suspended)
    }

    /// Puts a security on or off one account's restricted list. Needs a position
    /// slot; errors with ORDER_CAPACITY when the table is full.
    pub fn set_account_restricted(
        &mut self,
        account: &AccountId,
        security: SecurityId,
        restricted: bool,
    ) -> Result<(), Reject> {
        let idx = self.account_idx(account)?;
        let instr =
            self.instruments.index_of(security).ok_or(Reject::new(RejectCode::UNKNOWN_SECURITY))?;
        let slot = self.position_slot(idx, instr).ok_or(Reject::new(RejectCode::ORDER_CAPACITY))?;
        self.positions[slot as usize].restricted = restricted;
        Ok(())
    }

    /// Deposits (positive) or withdraws (negative) cash. A withdrawal may not take
    /// more than the available cash (INSUFFICIENT_FUNDS); a deposit pays any debit
    /// first. Returns the new available cash.
    pub fn adjust_cash(&mut self, account: &AccountId, delta: i64) -> Result<i64, Reject> {
        let idx = self.account_idx(account)?;
        let a = &mut self.accounts[idx as usize];
        let next = a.cash_available.checked_add(delta).filter(|c| *c >= 0).ok_or(Reject::with(
            RejectCode::INSUFFICIENT_FUNDS,
            protocol::RejectDetail::Amount { needed: -delta, available: a.cash_available },
        ))?;
        a.cash_available = next;
        a.settle();
        Ok(a.cash_available)
    }

    fn account_idx(&self, account: &AccountId) -> Result<u32, Reject> {
        self.account_index.get(account).copied().ok_or(Reject::new(RejectCode::UNKNOWN_ACCOUNT))
    }

    // ---- queries ----

    /// The record behind an [`OrderRef`]. Panics on a ref this engine did not hand
    /// out today (a gateway bug).
    pub fn order(&self, o: OrderRef) -> &OrderRecord {
        &self.orders[o.0 as usize]
    }

    /// The record for (account, cl_ord_id), if one was recorded today.
    pub fn lookup(&self, account: &AccountId, cl_ord_id: u64) -> Option<OrderRef> {
        let idx = *self.account_index.get(account)?;
        self.order_index.get(idx, cl_ord_id, &self.orders).map(OrderRef)
    }

    /// Appends the account's open orders (PendingVenue or Open), in one security or
    /// all, to `out`. Allocates nothing if `out` has room.
    pub fn open_orders(
        &self,
        account: &AccountId,
        security: Option<SecurityId>,
        out: &mut Vec<OrderRef>,
    ) {
        let Some(&idx) = self.account_index.get(account) else { return };
        match security {
            Some(s) => {
                let Some(instr) = self.instruments.index_of(s) else { return };
                if let Some(pos) = self.find_position(idx, instr) {
                    self.push_open(pos, None, out);
                }
            }
            None => self.push_account_open(idx, None, out),
        }
    }

    /// Appends the open orders entered through `login` (for cancel-on-disconnect).
    pub fn open_orders_of_login(&self, login: LoginIdx, out: &mut Vec<OrderRef>) {
        for &(bound_login, idx) in &self.binding_list {
            if bound_login == login {
                self.push_account_open(idx, Some(login), out);
            }
        }
    }

    fn push_account_open(
        &self,
        account_idx: u32,
        login: Option<LoginIdx>,
        out: &mut Vec<OrderRef>,
    ) {
        let mut pos = self.accounts[account_idx as usize].first_pos;
        while pos != NIL {
            self.push_open(pos, login, out);
            pos = self.positions[pos as usize].next_of_account;
        }
    }

    fn push_open(&self, pos: u32, login: Option<LoginIdx>, out: &mut Vec<OrderRef>) {
        let mut r = self.positions[pos as usize].open_head;
        while r != NIL {
            let rec = &self.orders[r as usize];
            if login.is_none_or(|l| rec.login == l) {
                out.push(rec.order);
            }
            r = rec.next;
        }
    }

    /// Counters for metrics.
    pub fn counters(&self) -> &RiskCounters {
        &self.counters
    }

    /// Orders recorded today (accepted and rejected).
    pub fn orders_today(&self) -> usize {
        self.orders.len()
    }

    /// A copy of one account's cash, holdings and flags.
    pub fn account_snapshot(&self, account: &AccountId) -> Option<AccountSnapshot> {
        let idx = *self.account_index.get(account)?;
        let a = &self.accounts[idx as usize];
        let mut positions = Vec::new();
        let mut realized_pnl = 0;
        let mut slot = a.first_pos;
        while slot != NIL {
            let p = &self.positions[slot as usize];
            realized_pnl += p.realized_pnl;
            positions.push(PositionSnapshot {
                security: self.instruments.at(p.instr_idx).security,
                start_of_day: p.start_of_day,
                bought_today: p.bought_today,
                sold_today: p.sold_today,
                frozen_for_sells: p.frozen_sell,
                sellable: p.sellable(),
                holding: p.holding(),
                cost_total: p.cost_total,
                realized_pnl: p.realized_pnl,
                short_qty: p.short_qty,
                lend_quota: p.lend_quota,
                lend_used: p.lend_used,
                lend_frozen: p.lend_frozen,
                open_orders: p.open_count,
                cancels_today: p.cancels_today,
                restricted: p.restricted,
            });
            slot = p.next_of_account;
        }
        Some(AccountSnapshot {
            account: a.id,
            cash_available: a.cash_available,
            cash_frozen: a.cash_frozen,
            cash_debit: a.debit,
            short_proceeds: a.short_proceeds,
            fees_paid: a.fees_paid,
            realized_pnl,
            state: a.effective_state(),
            desk_state: a.state,
            client_state: a.client_state,
            messages_today: a.messages_today,
            orders_today: a.orders_today,
            flagged_high_rate: a.flags.high_rate,
            flagged_high_daily: a.flags.high_daily,
            flagged_rapid_cancel: a.flags.rapid_cancel,
            flagged_rapid_orders: a.flags.rapid_orders,
            positions,
        })
    }

    /// Every configured account id, in configuration order.
    pub fn account_ids(&self) -> impl Iterator<Item = AccountId> + '_ {
        self.accounts.iter().map(|a| a.id)
    }

    // ---- the day roll ----

    /// Starts a new trading day (T+1 roll): shares bought yesterday become sellable,
    /// daily counters and flags reset, and the order table is emptied so
    /// cl_ord_ids may be used again.
    ///
    /// The venue expires open orders at the end of the day and the gateway reports
    /// each with `on_canceled`; any order still open here is expired by the engine
    /// (its freeze released) and counted in `expired_at_roll`, so the books stay
    /// exact either way. Previous closes are the caller's to set
    /// ([`RiskEngine::set_prev_close`]): the engine sees fills, not the closing auction.
    pub fn start_trading_day(&mut self, now_ns: u64) {
        for r in 0..self.orders.len() {
            if self.orders[r].is_open() {
                self.counters.expired_at_roll += 1;
                self.close_order(r, OrderState::Canceled);
            }
        }
        for p in &mut self.positions {
            debug_assert_eq!(p.open_count, 0, "every order was closed above");
            debug_assert_eq!(p.frozen_sell, 0, "no open sells, so nothing frozen");
            p.start_of_day = p.holding();
            p.bought_today = 0;
            p.sold_today = 0;
            p.cancels_today = 0;
            p.open_head = NIL;
        }
        for a in &mut self.accounts {
            a.messages.clear();
            a.new_orders.clear();
            a.messages_today = 0;
            a.orders_today = 0;
            a.rapid_cancels_today = 0;
            a.flags = DailyFlags::default();
            a.fingerprints.clear();
            a.fees_today = FeeBreakdown::ZERO;
            a.realized_today = 0;
        }
        self.orders.clear();
        self.order_index.clear();
        self.fills.clear();
        self.fills_not_recorded = 0;
        self.day_start_ns = now_ns;
    }

    /// When the current trading day was started (0 before the first roll).
    pub fn day_start_ns(&self) -> u64 {
        self.day_start_ns
    }
}

/// Writes zeros over a vector's spare capacity so the OS backs it with memory now.
/// The bytes are not part of the vector (its length is unchanged).
pub(crate) fn prefault<T>(v: &mut Vec<T>) {
    for slot in v.spare_capacity_mut() {
        *slot = std::mem::MaybeUninit::zeroed();
    }
}
