//! Start-up configuration: instruments, pool sizes, the trading schedule.
//!
//! Every pool the engine uses is sized here, once; nothing grows afterwards.

use protocol::rules::BoardRules;
use protocol::{Board, Price, SecurityId};

/// One listed instrument and today's facts about it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct InstrumentSpec {
    /// The security.
    pub security: SecurityId,
    /// Its listing board.
    pub board: Board,
    /// Yesterday's close: the base of the daily price limits and the first reference price.
    pub prev_close: Price,
    /// Tick, lot, quantity, limit and cage rules (usually `BoardRules::default_for(board)`).
    pub rules: BoardRules,
    /// ST securities use `rules.st_limit_bp`.
    pub is_st: bool,
    /// No daily price limit (the first days after an IPO on registration boards).
    pub no_price_limit: bool,
    /// Suspended for the day: every order is refused with `VENUE_SUSPENDED`.
    pub suspended: bool,
}

impl InstrumentSpec {
    /// An instrument with today's default rules for its board.
    pub const fn new(security: SecurityId, board: Board, prev_close: Price) -> InstrumentSpec {
        InstrumentSpec {
            security,
            board,
            prev_close,
            rules: BoardRules::default_for(board),
            is_st: false,
            no_price_limit: false,
            suspended: false,
        }
    }
}

/// How trading phases follow the clock.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub enum Schedule {
    /// Continuous trading from the start, phases change only by hand (`set_phase`, `halt`).
    AlwaysContinuous,
    /// The SSE/SZSE day on local time (UTC + `utc_offset_s`; 28,800 for Beijing):
    /// 9:15 opening call auction, 9:20 no cancels, 9:25 uncross then pre-continuous,
    /// 9:30-11:30 continuous, break, 13:00-14:57 continuous, 14:57 closing call
    /// auction, 15:00 uncross then closed. Saturdays, Sundays and the configured
    /// `ExchangeConfig::holidays` are closed all day.
    AShare {
        /// Seconds east of UTC.
        utc_offset_s: i32,
    },
}

/// Everything the engine needs at start-up.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct ExchangeConfig {
    /// The instruments listed today.
    pub instruments: Vec<InstrumentSpec>,
    /// Resting orders across all instruments (the order pool and the id index are sized from it).
    pub max_orders: usize,
    /// Price levels per side for an instrument with no daily price limit: its price array
    /// spans this many ticks around the previous close. Instruments with a limit get
    /// exactly their band.
    pub max_levels_per_side: usize,
    /// Further price levels per side for an instrument with no daily price limit, for
    /// prices outside its array (any positive price on the tick): preallocated and kept
    /// sorted by price. An order that would rest at a new price outside the array
    /// while they are all occupied is refused with `VENUE_CAPACITY`.
    pub overflow_levels_per_side: usize,
    /// Operations held while matching is paused, delayed, or waiting for continuous trading.
    pub inbound_queue_capacity: usize,
    /// Refuse an incoming order that would trade against its owner's resting order.
    pub self_trade_prevention: bool,
    /// How phases follow the clock.
    pub schedule: Schedule,
    /// Exchange holidays under `Schedule::AShare`, as local dates `yyyymmdd`
    /// (20261001); weekends are closed without being listed. See
    /// [`crate::schedule::parse_date`].
    pub holidays: Vec<u32>,
    /// Simulator extension: accept IOC and FOK limit orders. Off by default, as on SSE
    /// and SZSE, where limit orders are day orders (`VENUE_DAY_ORDERS_ONLY`).
    pub limit_ioc_fok: bool,
    /// Publish the market-data feed ([`crate::feed`]): level, trade, order, phase and
    /// indicative-uncross events as [`crate::Event::Market`], sequenced per channel.
    /// Off: none is produced and the matching path pays one branch per hook.
    pub market_data: bool,
}

/// Why a configuration cannot start an engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum ConfigError {
    /// The same security is listed twice.
    #[error("security {0} is listed twice")]
    DuplicateSecurity(SecurityId),
    /// A previous close that is not positive.
    #[error("security {0} has a non-positive previous close")]
    BadPrevClose(SecurityId),
    /// A tick that is not positive.
    #[error("security {0} has a non-positive tick")]
    BadTick(SecurityId),
    /// `max_orders` is zero or does not fit the 32-bit slot index.
    #[error("max_orders must be between 1 and {max}, got {got}")]
    BadMaxOrders {
        /// What was asked.
        got: usize,
        /// The largest supported.
        max: usize,
    },
    /// A price array that is empty or too wide for the 32-bit level index.
    #[error("security {security} needs {levels} price levels per side (allowed 1..={max})")]
    BadLevelCount {
        /// The security.
        security: SecurityId,
        /// Levels it would need.
        levels: u64,
        /// The largest supported.
        max: u64,
    },
    /// More instruments than the 32-bit instrument index holds.
    #[error("too many instruments")]
    TooManyInstruments,
    /// A holiday that is not a calendar date `yyyymmdd`.
    #[error("holiday {0} is not a date yyyymmdd")]
    BadHoliday(u32),
}
