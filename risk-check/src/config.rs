//! Configuration: limits, capacities, fees, accounts and instruments, from code or
//! from TOML.
//!
//! TOML is read in two steps: serde reads the text into plain `*Toml` records
//! (strings for every enum and amount), then [`RawConfig::into_config`] turns them
//! into typed values and names the file and field of the first thing that is
//! wrong (`risk.toml: accounts[2].class: expected C1..C5, got C7`). Indices are
//! zero-based, as in the TOML array. Amounts of money are decimal strings or
//! integers of CNY, parsed with [`Price::parse_cny`]: no floating point.

use core::fmt;
use std::collections::BTreeMap;
use std::path::Path;

use protocol::codec::EntryState;
use protocol::rules::{CageRule, FeeSchedule, LotRule};
use protocol::{AccountId, Board, Price, SecurityId};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::account::{
    AccountConfig, BoardPermissions, ClientClass, LendableConfig, PositionConfig,
};
use crate::instrument::{Instrument, RiskLevel, parse_board, parse_security};

/// Limits that may change while the engine runs ([`crate::RiskEngine::set_limits`]).
///
/// A limit of zero turns its check (or flag) off.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, Deserialize)]
pub struct Limits {
    /// Check 11: maximum value of one order, 1/10000 CNY (default CNY 5,000,000).
    pub max_notional: i64,
    /// Check 10: fat-finger collar around the last price, basis points (default 500 = ±5%).
    pub fat_finger_bp: u32,
    /// Check 3: an identical order (account, security, side, price, quantity) within
    /// this many milliseconds of a passed one is a duplicate (default 100).
    pub duplicate_window_ms: u64,
    /// Check 17: hard limit on messages (new, cancel, replace) per account in any
    /// one-second window (default 1,000).
    pub rate_limit_per_s: u32,
    /// Check 17: hard limit on messages per account per day (default 200,000).
    pub daily_message_limit: u32,
    /// Check 17: flag (not reject) an account that reaches this many messages in a
    /// second: the exchanges' high-frequency threshold (default 300).
    pub hft_rate_flag_per_s: u32,
    /// Check 17: flag an account that reaches this many messages in a day (default 20,000).
    pub hft_daily_flag: u32,
    /// Check 20: open orders per account per security (default 50).
    pub open_orders_per_security: u32,
    /// Check 20: cancels per account per security per day (default 500).
    pub cancels_per_security_per_day: u32,
    /// Check 18: a cancel this soon after its order's entry is a rapid cancel
    /// (default 1,000 ms).
    pub rapid_cancel_window_ms: u64,
    /// Check 18: flag an account after this many rapid cancels in a day (default 100).
    pub rapid_cancel_flag_count: u32,
    /// Check 18: flag an account that sends this many new orders in a second (default 100).
    pub rapid_order_flag_per_s: u32,
    /// Market buys on a security without a daily price limit are valued (and their
    /// cash frozen) at the last price plus this many basis points (default 2,000 = 20%).
    pub market_buy_unlimited_bp: u32,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_notional: 5_000_000 * Price::SCALE,
            fat_finger_bp: 500,
            duplicate_window_ms: 100,
            rate_limit_per_s: 1_000,
            daily_message_limit: 200_000,
            hft_rate_flag_per_s: 300,
            hft_daily_flag: 20_000,
            open_orders_per_security: 50,
            cancels_per_security_per_day: 500,
            rapid_cancel_window_ms: 1_000,
            rapid_cancel_flag_count: 100,
            rapid_order_flag_per_s: 100,
            market_buy_unlimited_bp: 2_000,
        }
    }
}

/// Table sizes, fixed at start-up. Every table the check path writes is allocated
/// here once; when one is full the order is rejected (`ORDER_CAPACITY`).
///
/// Memory, roughly: 200 bytes per order-table slot plus its index entry, 120 bytes
/// per position slot, 24 bytes per binding, 112 bytes per fills-table slot; the
/// defaults (262,144 orders and fills) are about 90 MB.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, Deserialize)]
pub struct Capacity {
    /// Orders recorded per trading day, accepted and rejected (the idempotency table).
    pub max_orders_per_day: u32,
    /// (account, security) slots: holdings, lending lines, restrictions, and the
    /// per-security open-order lists and counters.
    pub max_positions: u32,
    /// Login-to-account bindings.
    pub max_login_bindings: u32,
    /// Fills recorded per trading day (the fills query's table). A fill past it
    /// still happens and is charged; the table counts it as missing
    /// ([`crate::RiskEngine::fills_not_recorded`]).
    pub max_fills_per_day: u32,
}

impl Default for Capacity {
    fn default() -> Capacity {
        Capacity {
            max_orders_per_day: 262_144,
            max_positions: 65_536,
            max_login_bindings: 4_096,
            max_fills_per_day: 262_144,
        }
    }
}

/// Everything the engine starts from.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RiskConfig {
    /// Run-time limits.
    pub limits: Limits,
    /// Start-up table sizes.
    pub capacity: Capacity,
    /// Fee schedule.
    pub fees: FeeSchedule,
    /// Accounts.
    pub accounts: Vec<AccountConfig>,
    /// Instruments.
    pub instruments: Vec<Instrument>,
    /// Where this came from, for error messages (a file name; empty when embedded).
    pub origin: String,
}

impl Default for RiskConfig {
    fn default() -> RiskConfig {
        RiskConfig {
            limits: Limits::default(),
            capacity: Capacity::default(),
            fees: FeeSchedule::DEFAULT,
            accounts: Vec::new(),
            instruments: Vec::new(),
            origin: String::new(),
        }
    }
}

/// A configuration that cannot be used, or a start-up table that is full.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not valid TOML, or a value has the wrong type.
    #[error("{}{message}", prefix(file))]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message (it names the line and key).
        message: String,
    },
    /// A value is present but wrong.
    #[error("{}{field}: {message}", prefix(file))]
    Invalid {
        /// The file.
        file: String,
        /// The field, as a TOML path (`accounts[2].class`).
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A start-up table has no room left.
    #[error("the {table} table is full ({capacity} entries)")]
    Full {
        /// Which table.
        table: &'static str,
        /// Its capacity.
        capacity: u32,
    },
    /// The account is not configured.
    #[error("unknown account {0}")]
    UnknownAccount(AccountId),
}

fn prefix(file: &str) -> String {
    if file.is_empty() { String::new() } else { format!("{file}: ") }
}

impl ConfigError {
    /// The field path of an [`ConfigError::Invalid`], for tests and tools.
    pub fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Builds [`ConfigError::Invalid`]s that name one file.
struct Errors<'a> {
    file: &'a str,
}

impl Errors<'_> {
    fn invalid(&self, field: impl fmt::Display, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

// ---- typed validation ----

impl RiskConfig {
    /// Reads a standalone risk file: only `[limits]`, `[fees]`, `[[accounts]]` and
    /// `[[instruments]]` may appear at the top level.
    pub fn from_toml_str(text: &str, file_name: &str) -> Result<RiskConfig, ConfigError> {
        Self::parse(text, file_name, true)
    }

    /// Reads the risk tables out of a larger file (the gateway's), ignoring every
    /// other top-level key.
    pub fn from_toml_str_embedded(text: &str, file_name: &str) -> Result<RiskConfig, ConfigError> {
        Self::parse(text, file_name, false)
    }

    /// Reads a standalone risk file from disk.
    pub fn from_file(path: impl AsRef<Path>) -> Result<RiskConfig, ConfigError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { file: file.clone(), source })?;
        Self::from_toml_str(&text, &file)
    }

    fn parse(text: &str, file: &str, strict: bool) -> Result<RiskConfig, ConfigError> {
        let syntax = |e: toml::de::Error| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        if strict {
            let table: toml::Table = toml::from_str(text).map_err(syntax)?;
            if let Some(key) = table.keys().find(|k| !RawConfig::KEYS.contains(&k.as_str())) {
                return Err(Errors { file }.invalid(
                    key,
                    "unknown table; expected limits, fees, accounts or instruments",
                ));
            }
        }
        let raw: RawConfig = toml::from_str(text).map_err(syntax)?;
        raw.into_config(file)
    }

    /// Checks what types cannot: duplicates, prices on the tick, boards on the
    /// right exchange, holdings of known securities, room in the tables.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let errors = Errors { file: &self.origin };
        validate_limits(&errors, &self.limits, &self.capacity, &self.fees)?;
        let mut securities = BTreeMap::new();
        for (i, instrument) in self.instruments.iter().enumerate() {
            validate_instrument(&errors, i, instrument)?;
            if let Some(first) = securities.insert(instrument.security, (i, instrument)) {
                return Err(errors.invalid(
                    format_args!("instruments[{i}].security"),
                    format!(
                        "duplicate security {} (first at instruments[{}])",
                        instrument.security, first.0
                    ),
                ));
            }
        }
        let mut ids = BTreeMap::new();
        let mut slots = 0u64;
        for (i, account) in self.accounts.iter().enumerate() {
            if let Some(first) = ids.insert(account.id, i) {
                return Err(errors.invalid(
                    format_args!("accounts[{i}].id"),
                    format!("duplicate account {} (first at accounts[{first}])", account.id),
                ));
            }
            slots += validate_account(&errors, i, account, &securities)?;
        }
        if slots > u64::from(self.capacity.max_positions) {
            return Err(errors.invalid(
                "limits.max_positions",
                format!(
                    "{} is fewer than the {slots} holdings, lending lines and restrictions configured",
                    self.capacity.max_positions
                ),
            ));
        }
        Ok(())
    }
}

/// The configuration checks that still apply to an engine's live settings: limits,
/// capacities, fees and instrument rules (for a restored snapshot, whose values
/// the checks and their arithmetic rely on as much as on a configuration's).
pub(crate) fn validate_settings<'a>(
    origin: &str,
    limits: &Limits,
    capacity: &Capacity,
    fees: &FeeSchedule,
    instruments: impl Iterator<Item = &'a Instrument>,
) -> Result<(), ConfigError> {
    let errors = Errors { file: origin };
    validate_limits(&errors, limits, capacity, fees)?;
    for (i, instrument) in instruments.enumerate() {
        validate_instrument(&errors, i, instrument)?;
    }
    Ok(())
}

fn validate_limits(
    errors: &Errors<'_>,
    limits: &Limits,
    capacity: &Capacity,
    fees: &FeeSchedule,
) -> Result<(), ConfigError> {
    if limits.max_notional < 0 {
        return Err(errors.invalid("limits.max_notional", "must not be negative"));
    }
    if limits.fat_finger_bp > 10_000 {
        return Err(errors.invalid(
            "limits.fat_finger_bp",
            format!("expected 0..=10000 (0 turns the collar off), got {}", limits.fat_finger_bp),
        ));
    }
    if limits.market_buy_unlimited_bp == 0 || limits.market_buy_unlimited_bp > 100_000 {
        return Err(errors.invalid(
            "limits.market_buy_unlimited_bp",
            format!("expected 1..=100000, got {}", limits.market_buy_unlimited_bp),
        ));
    }
    // u32::MAX is the engine's "no link" marker, so tables stop one short of it.
    for (field, value) in [
        ("limits.max_orders_per_day", capacity.max_orders_per_day),
        ("limits.max_positions", capacity.max_positions),
        ("limits.max_login_bindings", capacity.max_login_bindings),
        ("limits.max_fills_per_day", capacity.max_fills_per_day),
    ] {
        if value == 0 || value == u32::MAX {
            return Err(errors.invalid(field, format!("expected 1..{}, got {value}", u32::MAX)));
        }
    }
    if fees.commission_min < 0 {
        return Err(errors.invalid("fees.commission_min", "must not be negative"));
    }
    for (field, cbp) in [
        ("fees.commission_cbp", fees.commission_cbp),
        ("fees.stamp_duty_sell_cbp", fees.stamp_duty_sell_cbp),
        ("fees.transfer_cbp", fees.transfer_cbp),
    ] {
        if cbp > 100_000 {
            return Err(
                errors.invalid(field, format!("{cbp} cbp is over 10%; expected at most 100000"))
            );
        }
    }
    Ok(())
}

fn validate_instrument(errors: &Errors<'_>, i: usize, x: &Instrument) -> Result<(), ConfigError> {
    let field = |name: &str| format!("instruments[{i}].{name}");
    if x.board.market() != x.security.market {
        return Err(errors.invalid(
            field("board"),
            format!(
                "{} is listed on {}, but {} is on {}",
                x.board,
                x.board.market(),
                x.security,
                x.security.market
            ),
        ));
    }
    let rules = &x.rules;
    if rules.tick.0 <= 0 {
        return Err(errors.invalid(field("tick"), "must be positive"));
    }
    if x.prev_close.0 <= 0 {
        return Err(errors.invalid(field("prev_close"), "must be positive"));
    }
    if x.prev_close.0 % rules.tick.0 != 0 {
        return Err(errors.invalid(
            field("prev_close"),
            format!("{} is not a multiple of the tick {}", x.prev_close, rules.tick),
        ));
    }
    if rules.lot.min_qty == 0 || rules.lot.step == 0 {
        return Err(errors.invalid(field("lot_min"), "lot minimum and step must be positive"));
    }
    if rules.max_qty_limit == 0 || rules.max_qty_market == 0 {
        return Err(errors.invalid(field("max_qty_limit"), "maximum quantities must be positive"));
    }
    if rules.limit_bp > 100_000 || rules.st_limit_bp > 100_000 {
        return Err(errors.invalid(field("limit_bp"), "a daily limit over 1000% is not a limit"));
    }
    if let Some(cage) = rules.cage
        && cage.pct_bp >= 10_000
    {
        return Err(errors.invalid(field("cage_pct_bp"), "expected below 10000"));
    }
    Ok(())
}

/// Validates one account; returns how many (account, security) slots it needs.
fn validate_account(
    errors: &Errors<'_>,
    i: usize,
    a: &AccountConfig,
    instruments: &BTreeMap<SecurityId, (usize, &Instrument)>,
) -> Result<u64, ConfigError> {
    let field = |name: &str| format!("accounts[{i}].{name}");
    if a.cash < 0 {
        return Err(
            errors.invalid(field("cash"), format!("must not be negative, got {}", Price(a.cash)))
        );
    }
    if a.lowest_category && a.class != ClientClass::C1 {
        return Err(errors.invalid(
            field("lowest_category"),
            format!("only a C1 client can be in the lowest category, this one is {}", a.class),
        ));
    }
    if a.lowest_category && a.professional {
        return Err(errors.invalid(
            field("professional"),
            "a lowest-category client cannot be a professional investor",
        ));
    }
    let known = |path: String, security: SecurityId| match instruments.get(&security) {
        Some((_, instrument)) => Ok(*instrument),
        None => Err(errors.invalid(path, format!("{security} is not in [[instruments]]"))),
    };
    let mut slots = std::collections::BTreeSet::new();
    for (j, security) in a.restricted.iter().enumerate() {
        known(field(&format!("restricted[{j}]")), *security)?;
        slots.insert(*security);
    }
    let mut held = std::collections::BTreeSet::new();
    for (j, p) in a.positions.iter().enumerate() {
        known(field(&format!("positions[{j}].security")), p.security)?;
        if !held.insert(p.security) {
            return Err(errors.invalid(
                field(&format!("positions[{j}].security")),
                format!("{} is listed twice", p.security),
            ));
        }
        if p.cost.0 < 0 {
            return Err(
                errors.invalid(field(&format!("positions[{j}].cost")), "must not be negative")
            );
        }
        if p.qty > i64::MAX as u64 / 1_000_000 {
            return Err(errors.invalid(field(&format!("positions[{j}].qty")), "too large"));
        }
        slots.insert(p.security);
    }
    let mut lent = std::collections::BTreeSet::new();
    for (j, l) in a.lendable.iter().enumerate() {
        let path = field(&format!("lendable[{j}].security"));
        let instrument = known(path.clone(), l.security)?;
        if !a.credit {
            return Err(errors.invalid(path, "lending lines need a credit account (credit = true)"));
        }
        if !instrument.lending_eligible {
            return Err(errors.invalid(path, format!("{} is not lending_eligible", l.security)));
        }
        if !lent.insert(l.security) {
            return Err(errors.invalid(path, format!("{} is listed twice", l.security)));
        }
        slots.insert(l.security);
    }
    Ok(slots.len() as u64)
}

// ---- TOML ----

/// A CNY amount as written in TOML: a decimal string (`"1500.25"`) or an integer.
/// Floats are refused so that no amount ever passes through binary floating point.
#[derive(Clone, PartialEq, Eq, Debug)]
struct CnyText(String);

impl<'de> Deserialize<'de> for CnyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CnyText, D::Error> {
        struct CnyVisitor;
        impl Visitor<'_> for CnyVisitor {
            type Value = CnyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a CNY amount as a string such as \"1500.00\", or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<CnyText, E> {
                Ok(CnyText(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<CnyText, E> {
                Ok(CnyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<CnyText, E> {
                Ok(CnyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<CnyText, E> {
                Err(E::custom(format!(
                    "write CNY amounts as a string such as \"{v}\" or an integer; floats are not accepted"
                )))
            }
        }
        d.deserialize_any(CnyVisitor)
    }
}

/// The risk tables as serde reads them, before validation.
#[derive(Deserialize, Default, Debug)]
#[serde(default)]
pub struct RawConfig {
    limits: LimitsToml,
    fees: FeesToml,
    accounts: Vec<AccountToml>,
    instruments: Vec<InstrumentToml>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, deny_unknown_fields)]
struct LimitsToml {
    max_notional: Option<CnyText>,
    fat_finger_bp: Option<u32>,
    duplicate_window_ms: Option<u64>,
    rate_limit_per_s: Option<u32>,
    daily_message_limit: Option<u32>,
    hft_rate_flag_per_s: Option<u32>,
    hft_daily_flag: Option<u32>,
    open_orders_per_security: Option<u32>,
    cancels_per_security_per_day: Option<u32>,
    rapid_cancel_window_ms: Option<u64>,
    rapid_cancel_flag_count: Option<u32>,
    rapid_order_flag_per_s: Option<u32>,
    market_buy_unlimited_bp: Option<u32>,
    max_orders_per_day: Option<u32>,
    max_positions: Option<u32>,
    max_login_bindings: Option<u32>,
    max_fills_per_day: Option<u32>,
    /// The gateway's query rate limit per login, read by the gateway from the same
    /// table; nothing here uses it.
    #[allow(dead_code)]
    max_queries_per_second: Option<toml::Value>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(default, deny_unknown_fields)]
struct FeesToml {
    commission_cbp: Option<u32>,
    commission_min: Option<CnyText>,
    stamp_duty_sell_cbp: Option<u32>,
    transfer_cbp: Option<u32>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AccountToml {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    cash: Option<CnyText>,
    class: String,
    #[serde(default)]
    lowest_category: bool,
    #[serde(default)]
    professional: bool,
    #[serde(default)]
    boards: Vec<String>,
    #[serde(default)]
    programmatic: bool,
    #[serde(default)]
    credit: bool,
    #[serde(default)]
    restricted: Vec<String>,
    #[serde(default)]
    positions: Vec<PositionToml>,
    #[serde(default)]
    lendable: Vec<LendableToml>,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PositionToml {
    security: String,
    qty: u64,
    #[serde(default)]
    cost: Option<CnyText>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LendableToml {
    security: String,
    qty: u64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct InstrumentToml {
    security: String,
    #[serde(default)]
    name: Option<String>,
    board: String,
    prev_close: CnyText,
    risk_level: String,
    #[serde(default)]
    st: bool,
    #[serde(default)]
    no_price_limit: bool,
    #[serde(default)]
    suspended: bool,
    #[serde(default)]
    restricted: bool,
    #[serde(default)]
    lending_eligible: bool,
    // Rule overrides; absent means the board default.
    #[serde(default)]
    tick: Option<CnyText>,
    #[serde(default)]
    lot_min: Option<u64>,
    #[serde(default)]
    lot_step: Option<u64>,
    #[serde(default)]
    max_qty_limit: Option<u64>,
    #[serde(default)]
    max_qty_market: Option<u64>,
    #[serde(default)]
    limit_bp: Option<u32>,
    #[serde(default)]
    st_limit_bp: Option<u32>,
    #[serde(default)]
    cage: Option<bool>,
    #[serde(default)]
    cage_pct_bp: Option<u32>,
    #[serde(default)]
    cage_min_ticks: Option<u32>,
}

impl RawConfig {
    /// The top-level keys a standalone risk file may have.
    pub const KEYS: [&'static str; 4] = ["limits", "fees", "accounts", "instruments"];

    /// Types and validates the tables; errors name `file` and the field.
    pub fn into_config(self, file: &str) -> Result<RiskConfig, ConfigError> {
        let errors = Errors { file };
        let (limits, capacity) = self.limits.into_limits(&errors)?;
        let fees = self.fees.into_fees(&errors)?;
        let instruments = self
            .instruments
            .into_iter()
            .enumerate()
            .map(|(i, x)| x.into_instrument(&errors, i))
            .collect::<Result<Vec<_>, _>>()?;
        let accounts = self
            .accounts
            .into_iter()
            .enumerate()
            .map(|(i, a)| a.into_account(&errors, i))
            .collect::<Result<Vec<_>, _>>()?;
        let config =
            RiskConfig { limits, capacity, fees, accounts, instruments, origin: file.to_owned() };
        config.validate()?;
        Ok(config)
    }
}

impl<'de> Deserialize<'de> for RiskConfig {
    /// Reads `[limits]`, `[fees]`, `[[accounts]]` and `[[instruments]]` from the
    /// surrounding table, so a larger configuration can embed them with
    /// `#[serde(flatten)]`. Errors name the field but not the file (the caller knows it).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RiskConfig, D::Error> {
        RawConfig::deserialize(d)?.into_config("").map_err(de::Error::custom)
    }
}

fn cny(errors: &Errors<'_>, field: impl fmt::Display, text: &CnyText) -> Result<i64, ConfigError> {
    if let Some(rest) = text.0.strip_prefix('-') {
        return Err(errors.invalid(field, format!("must not be negative, got -{rest}")));
    }
    match Price::parse_cny(&text.0) {
        Some(p) => Ok(p.0),
        None => Err(errors.invalid(
            field,
            format!(
                "expected a CNY amount such as \"1500.00\" (at most 4 decimals), got {:?}",
                text.0
            ),
        )),
    }
}

fn security(
    errors: &Errors<'_>,
    field: impl fmt::Display,
    text: &str,
) -> Result<SecurityId, ConfigError> {
    parse_security(text).ok_or_else(|| {
        errors.invalid(
            field,
            format!(
                "expected a code like 600519.SH (six digits, then .SH, .SZ or .BJ), got {text:?}"
            ),
        )
    })
}

impl LimitsToml {
    fn into_limits(self, errors: &Errors<'_>) -> Result<(Limits, Capacity), ConfigError> {
        let d = Limits::default();
        let c = Capacity::default();
        let max_notional = match &self.max_notional {
            Some(text) => cny(errors, "limits.max_notional", text)?,
            None => d.max_notional,
        };
        let limits = Limits {
            max_notional,
            fat_finger_bp: self.fat_finger_bp.unwrap_or(d.fat_finger_bp),
            duplicate_window_ms: self.duplicate_window_ms.unwrap_or(d.duplicate_window_ms),
            rate_limit_per_s: self.rate_limit_per_s.unwrap_or(d.rate_limit_per_s),
            daily_message_limit: self.daily_message_limit.unwrap_or(d.daily_message_limit),
            hft_rate_flag_per_s: self.hft_rate_flag_per_s.unwrap_or(d.hft_rate_flag_per_s),
            hft_daily_flag: self.hft_daily_flag.unwrap_or(d.hft_daily_flag),
            open_orders_per_security: self
                .open_orders_per_security
                .unwrap_or(d.open_orders_per_security),
            cancels_per_security_per_day: self
                .cancels_per_security_per_day
                .unwrap_or(d.cancels_per_security_per_day),
            rapid_cancel_window_ms: self.rapid_cancel_window_ms.unwrap_or(d.rapid_cancel_window_ms),
            rapid_cancel_flag_count: self
                .rapid_cancel_flag_count
                .unwrap_or(d.rapid_cancel_flag_count),
            rapid_order_flag_per_s: self.rapid_order_flag_per_s.unwrap_or(d.rapid_order_flag_per_s),
            market_buy_unlimited_bp: self
                .market_buy_unlimited_bp
                .unwrap_or(d.market_buy_unlimited_bp),
        };
        let capacity = Capacity {
            max_orders_per_day: self.max_orders_per_day.unwrap_or(c.max_orders_per_day),
            max_positions: self.max_positions.unwrap_or(c.max_positions),
            max_login_bindings: self.max_login_bindings.unwrap_or(c.max_login_bindings),
            max_fills_per_day: self.max_fills_per_day.unwrap_or(c.max_fills_per_day),
        };
        Ok((limits, capacity))
    }
}

impl FeesToml {
    fn into_fees(self, errors: &Errors<'_>) -> Result<FeeSchedule, ConfigError> {
        let d = FeeSchedule::DEFAULT;
        let commission_min = match &self.commission_min {
            Some(text) => cny(errors, "fees.commission_min", text)?,
            None => d.commission_min,
        };
        Ok(FeeSchedule {
            commission_cbp: self.commission_cbp.unwrap_or(d.commission_cbp),
            commission_min,
            stamp_duty_sell_cbp: self.stamp_duty_sell_cbp.unwrap_or(d.stamp_duty_sell_cbp),
            transfer_cbp: self.transfer_cbp.unwrap_or(d.transfer_cbp),
        })
    }
}

impl AccountToml {
    fn into_account(self, errors: &Errors<'_>, i: usize) -> Result<AccountConfig, ConfigError> {
        let field = |name: &str| format!("accounts[{i}].{name}");
        let id = AccountId::new(&self.id).map_err(|e| {
            errors.invalid(
                field("id"),
                format!("{e} (1 to 16 printable ASCII bytes), got {:?}", self.id),
            )
        })?;
        let cash = match &self.cash {
            Some(text) => cny(errors, field("cash"), text)?,
            None => 0,
        };
        let class = ClientClass::parse(&self.class).ok_or_else(|| {
            errors.invalid(field("class"), format!("expected C1..C5, got {}", self.class))
        })?;
        let mut boards = BoardPermissions::default();
        for (j, name) in self.boards.iter().enumerate() {
            if !boards.grant(name) {
                return Err(errors.invalid(
                    field(&format!("boards[{j}]")),
                    format!("expected star, chinext or bse, got {name:?}"),
                ));
            }
        }
        let restricted = self
            .restricted
            .iter()
            .enumerate()
            .map(|(j, text)| security(errors, field(&format!("restricted[{j}]")), text))
            .collect::<Result<Vec<_>, _>>()?;
        let mut positions = Vec::with_capacity(self.positions.len());
        for (j, p) in self.positions.iter().enumerate() {
            let security =
                security(errors, field(&format!("positions[{j}].security")), &p.security)?;
            let cost = match &p.cost {
                Some(text) => Price(cny(errors, field(&format!("positions[{j}].cost")), text)?),
                None => Price::ZERO,
            };
            positions.push(PositionConfig { security, qty: p.qty, cost });
        }
        let lendable = self
            .lendable
            .iter()
            .enumerate()
            .map(|(j, l)| {
                let security =
                    security(errors, field(&format!("lendable[{j}].security")), &l.security)?;
                Ok(LendableConfig { security, qty: l.qty })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        let state = match self.state.as_deref() {
            None => EntryState::Active,
            Some(text) => text
                .parse()
                .map_err(|e| errors.invalid(field("state"), format!("{e}, got {text:?}")))?,
        };
        Ok(AccountConfig {
            id,
            name: self.name.unwrap_or_else(|| self.id.clone()),
            cash,
            class,
            lowest_category: self.lowest_category,
            professional: self.professional,
            boards,
            programmatic: self.programmatic,
            credit: self.credit,
            restricted,
            positions,
            lendable,
            state,
        })
    }
}

impl InstrumentToml {
    fn into_instrument(self, errors: &Errors<'_>, i: usize) -> Result<Instrument, ConfigError> {
        let field = |name: &str| format!("instruments[{i}].{name}");
        let security = security(errors, field("security"), &self.security)?;
        let board = parse_board(&self.board).ok_or_else(|| {
            let names: Vec<&str> = Board::ALL.iter().map(|b| b.name()).collect();
            errors.invalid(
                field("board"),
                format!("expected one of {}, got {:?}", names.join(", "), self.board),
            )
        })?;
        let prev_close = Price(cny(errors, field("prev_close"), &self.prev_close)?);
        let risk_level = RiskLevel::parse(&self.risk_level).ok_or_else(|| {
            errors.invalid(field("risk_level"), format!("expected R1..R5, got {}", self.risk_level))
        })?;
        let name = self.name.clone().unwrap_or_else(|| security.to_string());
        let mut x = Instrument::new(security, &name, board, prev_close);
        x.risk_level = risk_level;
        x.st = self.st;
        x.no_price_limit = self.no_price_limit;
        x.suspended = self.suspended;
        x.restricted = self.restricted;
        x.lending_eligible = self.lending_eligible;
        self.apply_overrides(errors, i, &mut x)?;
        Ok(x)
    }

    fn apply_overrides(
        &self,
        errors: &Errors<'_>,
        i: usize,
        x: &mut Instrument,
    ) -> Result<(), ConfigError> {
        let rules = &mut x.rules;
        if let Some(text) = &self.tick {
            rules.tick = Price(cny(errors, format_args!("instruments[{i}].tick"), text)?);
        }
        rules.lot = LotRule {
            min_qty: self.lot_min.unwrap_or(rules.lot.min_qty),
            step: self.lot_step.unwrap_or(rules.lot.step),
        };
        rules.max_qty_limit = self.max_qty_limit.unwrap_or(rules.max_qty_limit);
        rules.max_qty_market = self.max_qty_market.unwrap_or(rules.max_qty_market);
        rules.limit_bp = self.limit_bp.unwrap_or(rules.limit_bp);
        rules.st_limit_bp = self.st_limit_bp.unwrap_or(rules.st_limit_bp);
        if self.cage == Some(false) {
            rules.cage = None;
        } else if self.cage_pct_bp.is_some()
            || self.cage_min_ticks.is_some()
            || self.cage == Some(true)
        {
            let base = rules.cage.unwrap_or(CageRule { pct_bp: 200, min_ticks: 10 });
            rules.cage = Some(CageRule {
                pct_bp: self.cage_pct_bp.unwrap_or(base.pct_bp),
                min_ticks: self.cage_min_ticks.unwrap_or(base.min_ticks),
            });
        }
        Ok(())
    }
}
