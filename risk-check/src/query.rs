//! The four queries of a broker terminal, answered from the engine's books:
//! funds (查询资金), positions (查询持仓), the day's orders (查询委托) and the
//! day's fills (查询成交).
//!
//! Every view is a small `Copy` struct built from the live state; nothing here
//! runs on the order path, and nothing allocates except by pushing into the
//! caller's `Vec` (reserve it once and reuse it, and a query allocates nothing).
//!
//! Holdings are valued at the last trade price: the last fill or venue trade the
//! engine saw ([`RiskEngine::on_trade`]), kept across the day roll, or the
//! previous close before any. Money is in 1/10000 CNY throughout.
//!
//! Orders and fills are paged by a cursor, the record's index in the day's table
//! (order slot or fill number): a page holds the first `page_size` matching
//! records at or after the cursor, and [`Page::next`] is the cursor of the next
//! matching record, `None` when there is none. Indexes never move during a day,
//! so paging is stable while orders and fills keep arriving (new ones appear on
//! later pages). Each page scans the day's table from the cursor: the order
//! table has no per-account list, to keep the order path as it is.

use protocol::{AccountId, ClOrdId, OrderType, Price, Qty, RejectCode, SecurityId, Side};

use crate::engine::{PositionState, RiskEngine};
use crate::fees::FeeBreakdown;
use crate::fills::FillRecord;
use crate::order::{NIL, OrderRecord, OrderRef, OrderState, clamp_i64};

/// An account's funds (查询资金).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FundsView {
    /// The account.
    pub account: AccountId,
    /// Cash free for new orders.
    pub cash_available: i64,
    /// Cash frozen for open orders: buys' value and fees, sells' fee shortfalls.
    pub cash_frozen: i64,
    /// Cash owed by the account (fills that cost more than it had).
    pub cash_debit: i64,
    /// Short-sale proceeds held for the lender (not the account's assets).
    pub short_proceeds: i64,
    /// Holdings valued at the last trade prices.
    pub market_value: i64,
    /// Cash available + frozen − debit + market value.
    pub total_assets: i64,
    /// P&L realised today by sells, after their fees.
    pub realized_pnl_today: i64,
    /// Fees paid today, by kind (`.total()` for the sum).
    pub fees_today: FeeBreakdown,
    /// Fees paid on all days.
    pub fees_paid_total: i64,
}

/// One holding (查询持仓).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PositionView {
    /// The security.
    pub security: SecurityId,
    /// Shares held now.
    pub qty: u64,
    /// Shares a new sell may use today (T+1: held since yesterday, less sold and
    /// frozen).
    pub sellable: u64,
    /// Shares frozen by open sells.
    pub frozen: u64,
    /// Shares bought today (sellable from the next trading day).
    pub bought_today: u64,
    /// Cost of the holding, fees included.
    pub cost_total: i64,
    /// Cost per share, rounded half up to 1/10000 CNY (zero when nothing is held).
    pub average_cost: Price,
    /// Last trade price (previous close before any trade).
    pub last_price: Price,
    /// Holding at the last price.
    pub market_value: i64,
    /// Market value − cost.
    pub unrealized_pnl: i64,
    /// P&L realised on this security, all days.
    pub realized_pnl: i64,
}

/// Where an order of the day stands, as a terminal shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OrderStatus {
    /// Sent to the venue, not yet acknowledged (未报/待报).
    PendingVenue,
    /// Working, nothing filled (已报).
    Open,
    /// Working, partly filled (部成).
    PartlyFilled,
    /// Completely filled (已成).
    Filled,
    /// Cancelled after partial fills (部撤).
    PartlyFilledCanceled,
    /// Cancelled with nothing filled (已撤).
    Canceled,
    /// Refused by the risk checks (废单).
    Rejected {
        /// Why.
        code: RejectCode,
    },
    /// Refused by the venue (废单).
    VenueRejected {
        /// The venue's code.
        code: RejectCode,
    },
}

impl OrderStatus {
    /// The status of a record.
    pub fn of(rec: &OrderRecord) -> OrderStatus {
        let filled = rec.cum.0 > 0;
        match rec.state {
            OrderState::PendingVenue if filled => OrderStatus::PartlyFilled,
            OrderState::PendingVenue => OrderStatus::PendingVenue,
            OrderState::Open if filled => OrderStatus::PartlyFilled,
            OrderState::Open => OrderStatus::Open,
            OrderState::Filled => OrderStatus::Filled,
            OrderState::Canceled if filled => OrderStatus::PartlyFilledCanceled,
            OrderState::Canceled => OrderStatus::Canceled,
            OrderState::Rejected { code, .. } => OrderStatus::Rejected { code },
            OrderState::VenueRejected { code } => OrderStatus::VenueRejected { code },
        }
    }

    /// True while the order may still trade.
    pub const fn is_open(self) -> bool {
        matches!(self, OrderStatus::PendingVenue | OrderStatus::Open | OrderStatus::PartlyFilled)
    }
}

/// One order of the day (查询委托).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderView {
    /// Its slot in the day's table: the paging cursor.
    pub order: OrderRef,
    /// The client's order id.
    pub cl_ord_id: ClOrdId,
    /// Security.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Limit price (zero for market orders).
    pub price: Price,
    /// Total quantity.
    pub qty: Qty,
    /// Status.
    pub status: OrderStatus,
    /// Filled quantity.
    pub filled_qty: Qty,
    /// Open quantity.
    pub open_qty: Qty,
    /// Value filled, 1/10000 CNY.
    pub filled_value: i64,
    /// Average fill price, rounded half up to 1/10000 CNY (zero before a fill).
    pub average_price: Price,
    /// Fees charged so far.
    pub fees_paid: i64,
    /// When the engine saw it.
    pub entered_ns: u64,
}

impl OrderView {
    fn of(rec: &OrderRecord) -> OrderView {
        OrderView {
            order: rec.order,
            cl_ord_id: rec.cl_ord_id,
            security: rec.security,
            side: rec.side,
            order_type: rec.order_type,
            price: rec.price,
            qty: rec.qty,
            status: OrderStatus::of(rec),
            filled_qty: rec.cum,
            open_qty: rec.leaves,
            filled_value: rec.cum_value,
            average_price: per_share(rec.cum_value, rec.cum.0),
            fees_paid: rec.fees_paid,
            entered_ns: rec.entered_ns,
        }
    }
}

/// Which orders the orders query returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum OrderFilter {
    /// Every order of the day, rejected ones included.
    #[default]
    All,
    /// Only orders that may still trade (可撤单: pending, open, partly filled).
    OpenOnly,
}

/// Where the next page starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Page {
    /// Records pushed into the caller's vector.
    pub returned: usize,
    /// The cursor of the next matching record; `None` at the end.
    pub next: Option<u32>,
}

impl RiskEngine {
    /// The last trade price of the instrument at `instr`; its previous close
    /// before any trade was seen.
    fn last_price_at(&self, instr: u32) -> Price {
        let last = self.last_prices[instr as usize];
        if last.0 > 0 { last } else { self.instruments.at(instr).prev_close }
    }

    /// The last trade price of `security` (previous close before any trade);
    /// `None` for an unknown security.
    pub fn last_price(&self, security: SecurityId) -> Option<Price> {
        self.instruments.index_of(security).map(|i| self.last_price_at(i))
    }

    /// An account's funds; `None` for an unknown account.
    pub fn funds(&self, account: &AccountId) -> Option<FundsView> {
        let idx = *self.account_index.get(account)?;
        let a = &self.accounts[idx as usize];
        let mut market_value = 0i64;
        let mut slot = a.first_pos;
        while slot != NIL {
            let p = &self.positions[slot as usize];
            market_value = market_value.saturating_add(self.value_of(p));
            slot = p.next_of_account;
        }
        let cash = a.cash_available + a.cash_frozen - a.debit;
        Some(FundsView {
            account: a.id,
            cash_available: a.cash_available,
            cash_frozen: a.cash_frozen,
            cash_debit: a.debit,
            short_proceeds: a.short_proceeds,
            market_value,
            total_assets: cash.saturating_add(market_value),
            realized_pnl_today: a.realized_today,
            fees_today: a.fees_today,
            fees_paid_total: a.fees_paid,
        })
    }

    fn value_of(&self, p: &PositionState) -> i64 {
        clamp_i64(i128::from(self.last_price_at(p.instr_idx).0) * i128::from(p.holding()))
    }

    fn position_view(&self, p: &PositionState) -> PositionView {
        let qty = p.holding();
        let market_value = self.value_of(p);
        PositionView {
            security: self.instruments.at(p.instr_idx).security,
            qty,
            sellable: p.sellable(),
            frozen: p.frozen_sell,
            bought_today: p.bought_today,
            cost_total: p.cost_total,
            average_cost: per_share(p.cost_total, qty),
            last_price: self.last_price_at(p.instr_idx),
            market_value,
            unrealized_pnl: market_value.saturating_sub(p.cost_total),
            realized_pnl: p.realized_pnl,
        }
    }

    /// One holding; `None` for an unknown account or a security it never used.
    pub fn position(&self, account: &AccountId, security: SecurityId) -> Option<PositionView> {
        let idx = *self.account_index.get(account)?;
        let instr = self.instruments.index_of(security)?;
        let slot = *self.position_index.get(&crate::engine::pair_key(idx, instr))?;
        Some(self.position_view(&self.positions[slot as usize]))
    }

    /// Pushes the account's holdings onto `out`, in the order first used: every
    /// security it holds, or traded or has open sells in today. Returns how many;
    /// `None` for an unknown account.
    pub fn positions(&self, account: &AccountId, out: &mut Vec<PositionView>) -> Option<usize> {
        let idx = *self.account_index.get(account)?;
        let mut slot = self.accounts[idx as usize].first_pos;
        let mut n = 0;
        while slot != NIL {
            let p = &self.positions[slot as usize];
            let shown = p.holding() > 0 || p.bought_today > 0 || p.sold_today > 0;
            if shown || p.frozen_sell > 0 {
                out.push(self.position_view(p));
                n += 1;
            }
            slot = p.next_of_account;
        }
        Some(n)
    }

    /// Pushes up to `page_size` of the account's orders of the day, from order
    /// slot `cursor` on, onto `out` (see the module docs for paging).
    pub fn orders_page(
        &self,
        account: &AccountId,
        filter: OrderFilter,
        cursor: u32,
        page_size: usize,
        out: &mut Vec<OrderView>,
    ) -> Page {
        let matches = |rec: &OrderRecord| {
            rec.account == *account && (filter == OrderFilter::All || rec.is_open())
        };
        page(&self.orders, matches, cursor, page_size, |rec| out.push(OrderView::of(rec)))
    }

    /// Pushes up to `page_size` of the account's fills of the day, from fill
    /// number `cursor` on, onto `out`. When [`RiskEngine::fills_not_recorded`] is
    /// non-zero the table was full and later fills are missing.
    pub fn fills_page(
        &self,
        account: &AccountId,
        cursor: u32,
        page_size: usize,
        out: &mut Vec<FillRecord>,
    ) -> Page {
        let matches = |f: &FillRecord| f.account == *account;
        page(&self.fills, matches, cursor, page_size, |f| out.push(*f))
    }
}

/// The paging walk shared by orders and fills.
fn page<T>(
    table: &[T],
    matches: impl Fn(&T) -> bool,
    cursor: u32,
    page_size: usize,
    mut push: impl FnMut(&T),
) -> Page {
    let mut returned = 0;
    let start = (cursor as usize).min(table.len());
    for (i, item) in table.iter().enumerate().skip(start) {
        if !matches(item) {
            continue;
        }
        if returned == page_size {
            return Page { returned, next: Some(i as u32) };
        }
        push(item);
        returned += 1;
    }
    Page { returned, next: None }
}

/// `total / count` rounded half up to 1/10000 CNY; zero when `count` is zero.
fn per_share(total: i64, count: u64) -> Price {
    if count == 0 {
        return Price::ZERO;
    }
    let (t, c) = (i128::from(total), i128::from(count));
    let q = if t >= 0 { (2 * t + c) / (2 * c) } else { -((-2 * t + c) / (2 * c)) };
    Price(clamp_i64(q))
}
