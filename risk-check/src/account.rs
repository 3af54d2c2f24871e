//! Accounts as configured: cash, investor profile, permissions and holdings.
//!
//! The engine's live account state (cash frozen, open orders, counters) lives in
//! `engine`; these types are the start-up description and the snapshot view.

use core::fmt;

use protocol::codec::EntryState;
use protocol::{AccountId, Board, Price, SecurityId};

use crate::instrument::RiskLevel;

/// Investor class C1 (most conservative) to C5 (most aggressive), from the
/// client's risk assessment.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[repr(u8)]
pub enum ClientClass {
    /// C1: conservative.
    C1 = 1,
    /// C2: cautious.
    C2 = 2,
    /// C3: steady.
    C3 = 3,
    /// C4: active.
    C4 = 4,
    /// C5: aggressive.
    C5 = 5,
}

impl ClientClass {
    /// Every class, lowest first.
    pub const ALL: [ClientClass; 5] =
        [ClientClass::C1, ClientClass::C2, ClientClass::C3, ClientClass::C4, ClientClass::C5];

    /// 1..=5.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Parses `"C1"`..`"C5"`.
    pub fn parse(text: &str) -> Option<ClientClass> {
        match text {
            "C1" => Some(ClientClass::C1),
            "C2" => Some(ClientClass::C2),
            "C3" => Some(ClientClass::C3),
            "C4" => Some(ClientClass::C4),
            "C5" => Some(ClientClass::C5),
            _ => None,
        }
    }

    /// True when products of `level` suit this class without confirmation
    /// (C*n* takes R1..R*n*).
    pub const fn suits(self, level: RiskLevel) -> bool {
        level.as_u8() <= self.as_u8()
    }
}

impl fmt::Display for ClientClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C{}", self.as_u8())
    }
}

/// Permissions for the boards that need one (STAR, ChiNext, BSE). The main boards
/// need none.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, Default, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct BoardPermissions {
    /// STAR Market.
    pub star: bool,
    /// ChiNext.
    pub chinext: bool,
    /// Beijing Stock Exchange.
    pub bse: bool,
}

impl BoardPermissions {
    /// Every permission granted.
    pub const ALL: BoardPermissions = BoardPermissions { star: true, chinext: true, bse: true };

    /// True when the account may trade on `board`.
    pub const fn allows(self, board: Board) -> bool {
        match board {
            Board::SseMain | Board::SzseMain => true,
            Board::Star => self.star,
            Board::ChiNext => self.chinext,
            Board::Bse => self.bse,
        }
    }

    /// Grants the permission for `board` given by its configuration name
    /// (`"star"`, `"chinext"`, `"bse"`); false for any other name.
    pub fn grant(&mut self, name: &str) -> bool {
        match name {
            "star" => self.star = true,
            "chinext" => self.chinext = true,
            "bse" => self.bse = true,
            _ => return false,
        }
        true
    }
}

/// A holding carried in from the previous day (sellable today).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PositionConfig {
    /// The security.
    pub security: SecurityId,
    /// Shares held.
    pub qty: u64,
    /// Average cost per share, fees included (1/10000 CNY; may be finer than the tick).
    pub cost: Price,
}

/// A securities-lending line: how many shares of a security the account may
/// borrow and sell short.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LendableConfig {
    /// The security.
    pub security: SecurityId,
    /// Shares that may be borrowed in total (filled short sales count against it
    /// until the credit desk settles them).
    pub qty: u64,
}

/// One account at start-up.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountConfig {
    /// The account id clients send.
    pub id: AccountId,
    /// Display name.
    pub name: String,
    /// Cash, 1/10000 CNY, all available.
    pub cash: i64,
    /// Investor class.
    pub class: ClientClass,
    /// Lowest-risk-category client (最低风险等级): refused anything above R1.
    pub lowest_category: bool,
    /// Professional investor: suitability passes (board permissions still apply).
    pub professional: bool,
    /// Board permissions.
    pub boards: BoardPermissions,
    /// Reported for programmatic trading.
    pub programmatic: bool,
    /// A credit (margin and securities-lending) account.
    pub credit: bool,
    /// Securities this account may not trade (insider, lock-up, AML freeze).
    pub restricted: Vec<SecurityId>,
    /// Holdings carried in.
    pub positions: Vec<PositionConfig>,
    /// Securities-lending lines.
    pub lendable: Vec<LendableConfig>,
    /// Order-entry state at start-up.
    pub state: EntryState,
}

impl AccountConfig {
    /// An active C3 cash account with `cash` and nothing else.
    pub fn new(id: AccountId, cash: i64) -> AccountConfig {
        AccountConfig {
            id,
            name: id.as_str().to_owned(),
            cash,
            class: ClientClass::C3,
            lowest_category: false,
            professional: false,
            boards: BoardPermissions::default(),
            programmatic: false,
            credit: false,
            restricted: Vec::new(),
            positions: Vec::new(),
            lendable: Vec::new(),
            state: EntryState::Active,
        }
    }
}

/// One holding in an [`AccountSnapshot`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PositionSnapshot {
    /// The security.
    pub security: SecurityId,
    /// Shares held at the start of the day: sellable today under T+1.
    pub start_of_day: u64,
    /// Shares bought today: sellable from the next trading day.
    pub bought_today: u64,
    /// Shares sold today (filled).
    pub sold_today: u64,
    /// Shares frozen for open sell orders.
    pub frozen_for_sells: u64,
    /// Shares that a new sell may use now: start of day − sold − frozen.
    pub sellable: u64,
    /// Shares held now: start of day + bought − sold.
    pub holding: u64,
    /// Cost of the holding, fees included (1/10000 CNY).
    pub cost_total: i64,
    /// Realised P&L on this security today and before (average cost), 1/10000 CNY.
    pub realized_pnl: i64,
    /// Shares borrowed and sold short (owed to the lender).
    pub short_qty: u64,
    /// Lending line for this security.
    pub lend_quota: u64,
    /// Lending line used by filled short sales.
    pub lend_used: u64,
    /// Lending line reserved by open short sells.
    pub lend_frozen: u64,
    /// Open orders in this security.
    pub open_orders: u32,
    /// Cancels sent today in this security.
    pub cancels_today: u32,
    /// On this account's restricted list.
    pub restricted: bool,
}

/// A copy of an account's state for tests, the CLI and the admin endpoint.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountSnapshot {
    /// The account.
    pub account: AccountId,
    /// Cash free for new orders (1/10000 CNY).
    pub cash_available: i64,
    /// Cash frozen for open orders (value plus fees of buys, fee shortfalls of sells).
    pub cash_frozen: i64,
    /// Cash owed: fills that cost more than the account had (a sell's first
    /// partial fill paying the minimum commission, say). Paid down first by cash
    /// that arrives.
    pub cash_debit: i64,
    /// Proceeds of short sales, held for the lender (not buying power).
    pub short_proceeds: i64,
    /// Fees paid, all days (1/10000 CNY).
    pub fees_paid: i64,
    /// Realised P&L across positions (1/10000 CNY).
    pub realized_pnl: i64,
    /// Order-entry state in force: the stricter of `desk_state` and `client_state`.
    pub state: EntryState,
    /// The state the broker's risk desk set (configuration, admin endpoint).
    pub desk_state: EntryState,
    /// The state the account's own logins set (OrderEntryControl, kill switch).
    pub client_state: EntryState,
    /// Messages (new, cancel, replace) counted today.
    pub messages_today: u32,
    /// New orders counted today.
    pub orders_today: u32,
    /// Flagged today for reaching the high-frequency message rate (per second).
    pub flagged_high_rate: bool,
    /// Flagged today for reaching the high-frequency daily message count.
    pub flagged_high_daily: bool,
    /// Flagged today for rapid order-then-cancel behaviour.
    pub flagged_rapid_cancel: bool,
    /// Flagged today for a rapid order rate.
    pub flagged_rapid_orders: bool,
    /// Holdings and per-security state, in the order they were first used.
    pub positions: Vec<PositionSnapshot>,
}

impl AccountSnapshot {
    /// The holding in `security`, if the account has ever touched it.
    pub fn position(&self, security: SecurityId) -> Option<&PositionSnapshot> {
        self.positions.iter().find(|p| p.security == security)
    }

    /// Cash available plus frozen plus short-sale proceeds, less any debit.
    pub fn cash_total(&self) -> i64 {
        self.cash_available + self.cash_frozen + self.short_proceeds - self.cash_debit
    }
}
