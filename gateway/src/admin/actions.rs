//! Operator actions of the admin API: `POST /admin/<action>?params`, parsed into the
//! [`AdminCommand`] the engine applies in sequence with client input.
//!
//! | action | parameters | command |
//! |---|---|---|
//! | `halt` | `security` (omit for all) | `Halt` |
//! | `resume` | `security` (omit for all), `auction_ms` (optional) | `Resume`, or `ResumeWithAuction` when `auction_ms` > 0 |
//! | `venue/pause` | `ms` | `PauseMatching` until now + ms |
//! | `venue/ack-delay` | `ms` (0 turns it off) | `AckDelay` |
//! | `account` | `account`, `state` = `active`, `reducing-only`, `blocked` | `AccountState` |
//! | `firm` | `state` | `FirmState` |
//! | `cancel-account` | `account` | `CancelAccount` |
//! | `phase` | `security` (omit for all), `phase` (a trading phase name) | `SetPhase` |
//! | `limit` | `name` = `max_notional` (CNY), `fat_finger_bp`, `rate_limit_per_s`, `open_orders_per_security`; `value` | `SetLimit` |
//! | `end-of-day` | none | `EndOfDay` |
//! | `start-of-day` | none | `StartOfDay` |
//!
//! Parameters are checked strictly (unknown or repeated names, unknown securities
//! and accounts are refused) so that an operator's typo is a 400, not a silent no-op.

use std::collections::HashSet;

use protocol::codec::EntryState;
use protocol::{AccountId, Price, SecurityId, TradingPhase};

use crate::input::{AdminCommand, LimitChange};

/// Every action name, for messages.
pub const ACTIONS: &[&str] = &[
    "halt",
    "resume",
    "venue/pause",
    "venue/ack-delay",
    "account",
    "firm",
    "cancel-account",
    "phase",
    "limit",
    "end-of-day",
    "start-of-day",
];

/// The run-time limits the `limit` action can change, by the names the admin API
/// and the load generator's scenarios use.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LimitName {
    /// `max_notional`: per-order notional, in whole CNY.
    MaxNotional,
    /// `fat_finger_bp`: the fat-finger collar, in basis points.
    FatFingerBp,
    /// `rate_limit_per_s`: messages per account per second.
    RateLimitPerS,
    /// `open_orders_per_security`: open orders per security per account.
    OpenOrdersPerSecurity,
}

impl LimitName {
    /// Every limit, in the order the documentation lists them.
    pub const ALL: [LimitName; 4] = [
        LimitName::MaxNotional,
        LimitName::FatFingerBp,
        LimitName::RateLimitPerS,
        LimitName::OpenOrdersPerSecurity,
    ];

    /// The name as the admin API spells it.
    pub const fn name(self) -> &'static str {
        match self {
            LimitName::MaxNotional => "max_notional",
            LimitName::FatFingerBp => "fat_finger_bp",
            LimitName::RateLimitPerS => "rate_limit_per_s",
            LimitName::OpenOrdersPerSecurity => "open_orders_per_security",
        }
    }

    /// Every name, comma-separated (for error messages).
    pub fn names() -> String {
        let names: Vec<&str> = LimitName::ALL.iter().map(|l| l.name()).collect();
        names.join(", ")
    }
}

impl std::fmt::Display for LimitName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for LimitName {
    type Err = String;

    fn from_str(text: &str) -> Result<LimitName, String> {
        LimitName::ALL
            .into_iter()
            .find(|l| l.name() == text)
            .ok_or_else(|| format!("name must be one of {}, got {text:?}", LimitName::names()))
    }
}

/// The longest pause, delay or auction an operator may ask for (one day): keeps
/// the nanosecond arithmetic far from overflow and catches unit mistakes.
pub const MAX_MS: u64 = 86_400_000;

/// What the gateway is configured with, to refuse unknown names early.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// Configured securities.
    pub securities: HashSet<SecurityId>,
    /// Configured accounts.
    pub accounts: HashSet<AccountId>,
}

/// Why an action was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionError {
    /// No such action (404).
    UnknownAction(String),
    /// A parameter is missing, unknown or wrong (400).
    BadParameter(String),
}

/// Parses `600519.SH`, `000001.SZ`, `430047.BJ`.
pub fn parse_security(text: &str) -> Option<SecurityId> {
    text.parse().ok()
}

/// The parameters of one request, consumed as the action reads them; whatever is
/// left over was not expected.
struct Params {
    action: String,
    pairs: Vec<(String, String)>,
}

impl Params {
    fn take(&mut self, name: &str) -> Option<String> {
        let i = self.pairs.iter().position(|(n, _)| n == name)?;
        Some(self.pairs.swap_remove(i).1)
    }

    fn bad(&self, message: String) -> ActionError {
        ActionError::BadParameter(format!("{}: {message}", self.action))
    }

    fn required(&mut self, name: &str) -> Result<String, ActionError> {
        self.take(name).ok_or_else(|| self.bad(format!("parameter {name} is required")))
    }

    fn security(&mut self, catalog: &Catalog) -> Result<Option<SecurityId>, ActionError> {
        match self.take("security") {
            None => Ok(None),
            Some(s) if s == "all" => Ok(None),
            Some(s) => {
                let Some(id) = parse_security(&s) else {
                    return Err(self.bad(format!(
                        "security must look like 600519.SH, 000001.SZ or 430047.BJ, got {s:?}"
                    )));
                };
                if !catalog.securities.contains(&id) {
                    return Err(self.bad(format!("security {s} is not configured")));
                }
                Ok(Some(id))
            }
        }
    }

    fn account(&mut self, catalog: &Catalog) -> Result<AccountId, ActionError> {
        let a = self.required("account")?;
        let id = AccountId::new(&a).map_err(|e| self.bad(format!("account {a:?}: {e}")))?;
        if !catalog.accounts.contains(&id) {
            return Err(self.bad(format!("account {a} is not configured")));
        }
        Ok(id)
    }

    fn state(&mut self) -> Result<EntryState, ActionError> {
        let s = self.required("state")?;
        s.parse::<EntryState>().map_err(|_| {
            self.bad(format!("state must be active, reducing-only or blocked, got {s:?}"))
        })
    }

    fn number(&mut self, name: &str, text: &str) -> Result<u64, ActionError> {
        text.parse::<u64>()
            .map_err(|_| self.bad(format!("{name} must be a non-negative integer, got {text:?}")))
    }

    fn ms(&mut self, name: &str, required: bool) -> Result<Option<u64>, ActionError> {
        let text = if required { Some(self.required(name)?) } else { self.take(name) };
        let Some(text) = text else { return Ok(None) };
        let ms = self.number(name, &text)?;
        if ms > MAX_MS {
            return Err(self.bad(format!("{name} must be at most {MAX_MS} (one day), got {ms}")));
        }
        Ok(Some(ms))
    }

    fn finish(self, command: AdminCommand) -> Result<AdminCommand, ActionError> {
        if let Some((name, _)) = self.pairs.first() {
            return Err(self.bad(format!("unknown parameter {name}")));
        }
        Ok(command)
    }
}

/// Parses an action (the path after `/admin/`) and its query pairs. `now_ns` (the
/// gateway clock) dates a venue pause.
pub fn parse_action(
    action: &str,
    pairs: Vec<(String, String)>,
    catalog: &Catalog,
    now_ns: u64,
) -> Result<AdminCommand, ActionError> {
    let mut p = Params { action: action.to_owned(), pairs };
    let command = match action {
        "halt" => AdminCommand::Halt(p.security(catalog)?),
        "resume" => {
            let security = p.security(catalog)?;
            match p.ms("auction_ms", false)? {
                None | Some(0) => AdminCommand::Resume(security),
                Some(ms) => AdminCommand::ResumeWithAuction(security, ms * 1_000_000),
            }
        }
        "venue/pause" => {
            let ms = p.ms("ms", true)?.unwrap_or(0);
            AdminCommand::PauseMatching { until_ns: now_ns + ms * 1_000_000 }
        }
        "venue/ack-delay" => {
            AdminCommand::AckDelay { delay_ns: p.ms("ms", true)?.unwrap_or(0) * 1_000_000 }
        }
        "account" => {
            let account = p.account(catalog)?;
            AdminCommand::AccountState(account, p.state()?)
        }
        "firm" => AdminCommand::FirmState(p.state()?),
        "cancel-account" => AdminCommand::CancelAccount(p.account(catalog)?),
        "phase" => {
            let security = p.security(catalog)?;
            let name = p.required("phase")?;
            let Some(phase) = TradingPhase::ALL.iter().copied().find(|ph| ph.name() == name) else {
                let names: Vec<&str> = TradingPhase::ALL.iter().map(|ph| ph.name()).collect();
                return Err(
                    p.bad(format!("phase must be one of {}, got {name:?}", names.join(", ")))
                );
            };
            AdminCommand::SetPhase(security, phase)
        }
        "limit" => AdminCommand::SetLimit(limit(&mut p)?),
        "end-of-day" => AdminCommand::EndOfDay,
        "start-of-day" => AdminCommand::StartOfDay,
        other => return Err(ActionError::UnknownAction(other.to_owned())),
    };
    p.finish(command)
}

fn limit(p: &mut Params) -> Result<LimitChange, ActionError> {
    let name = p.required("name")?;
    let text = p.required("value")?;
    let value = p.number("value", &text)?;
    let small = |p: &Params| {
        u32::try_from(value)
            .map_err(|_| p.bad(format!("value for {name} must fit 32 bits, got {value}")))
    };
    let which = name.parse::<LimitName>().map_err(|e| p.bad(e))?;
    Ok(match which {
        LimitName::MaxNotional => {
            let units = i64::try_from(value).ok().and_then(|v| v.checked_mul(Price::SCALE));
            let units = units.ok_or_else(|| p.bad(format!("max_notional {value} is too large")))?;
            LimitChange::MaxNotional(units)
        }
        LimitName::FatFingerBp => LimitChange::FatFingerBp(small(p)?),
        LimitName::RateLimitPerS => LimitChange::MaxMessagesPerSecond(small(p)?),
        LimitName::OpenOrdersPerSecurity => LimitChange::MaxOpenOrdersPerSecurity(small(p)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog {
            securities: [
                parse_security("600519.SH").unwrap(),
                parse_security("000001.SZ").unwrap(),
            ]
            .into_iter()
            .collect(),
            accounts: [AccountId::new("A001").unwrap()].into_iter().collect(),
        }
    }

    fn pairs(q: &str) -> Vec<(String, String)> {
        super::super::http::query_pairs(q).unwrap()
    }

    fn ok(action: &str, q: &str) -> AdminCommand {
        parse_action(action, pairs(q), &catalog(), 1_000).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn bad(action: &str, q: &str) -> String {
        match parse_action(action, pairs(q), &catalog(), 1_000) {
            Err(ActionError::BadParameter(m)) => m,
            other => panic!("{action}?{q}: {other:?}"),
        }
    }

    #[test]
    fn every_action_of_the_contract() {
        let moutai = parse_security("600519.SH");
        let a001 = AccountId::new("A001").unwrap();
        assert_eq!(ok("halt", ""), AdminCommand::Halt(None));
        assert_eq!(ok("halt", "security=600519.SH"), AdminCommand::Halt(moutai));
        assert_eq!(ok("resume", "security=600519.SH"), AdminCommand::Resume(moutai));
        assert_eq!(ok("resume", "auction_ms=0"), AdminCommand::Resume(None));
        assert_eq!(
            ok("resume", "security=600519.SH&auction_ms=3000"),
            AdminCommand::ResumeWithAuction(moutai, 3_000_000_000)
        );
        assert_eq!(ok("venue/pause", "ms=5"), AdminCommand::PauseMatching { until_ns: 5_001_000 });
        assert_eq!(ok("venue/ack-delay", "ms=0"), AdminCommand::AckDelay { delay_ns: 0 });
        assert_eq!(
            ok("account", "account=A001&state=reducing-only"),
            AdminCommand::AccountState(a001, EntryState::ReducingOnly)
        );
        assert_eq!(ok("firm", "state=blocked"), AdminCommand::FirmState(EntryState::Blocked));
        assert_eq!(ok("cancel-account", "account=A001"), AdminCommand::CancelAccount(a001));
        assert_eq!(
            ok("phase", "security=000001.SZ&phase=continuous"),
            AdminCommand::SetPhase(parse_security("000001.SZ"), TradingPhase::Continuous)
        );
        assert_eq!(
            ok("limit", "name=max_notional&value=1000000"),
            AdminCommand::SetLimit(LimitChange::MaxNotional(1_000_000 * Price::SCALE))
        );
        assert_eq!(
            ok("limit", "name=open_orders_per_security&value=7"),
            AdminCommand::SetLimit(LimitChange::MaxOpenOrdersPerSecurity(7))
        );
        assert_eq!(ok("end-of-day", ""), AdminCommand::EndOfDay);
        assert_eq!(ok("start-of-day", ""), AdminCommand::StartOfDay);
    }

    #[test]
    fn bad_parameters_say_what_is_wrong() {
        assert!(bad("halt", "security=600519").contains("600519.SH"));
        assert!(bad("halt", "security=600000.SH").contains("not configured"));
        assert!(bad("halt", "sec=600519.SH").contains("unknown parameter sec"));
        assert!(bad("venue/pause", "").contains("ms is required"));
        assert!(bad("venue/pause", "ms=-1").contains("non-negative"));
        assert!(bad("venue/pause", "ms=99999999999").contains("one day"));
        assert!(bad("account", "account=A001&state=off").contains("blocked"));
        assert!(bad("account", "account=NOPE&state=blocked").contains("not configured"));
        assert!(bad("cancel-account", "").contains("account is required"));
        assert!(bad("phase", "phase=lunch").contains("continuous"));
        assert!(bad("limit", "name=max_orders&value=1").contains("max_notional"));
        assert!(bad("limit", "name=fat_finger_bp&value=5000000000").contains("32 bits"));
        assert!(bad("limit", "name=max_notional&value=99999999999999999").contains("too large"));
        assert!(bad("end-of-day", "now=1").contains("unknown parameter"));
        assert_eq!(
            parse_action("reboot", vec![], &catalog(), 0),
            Err(ActionError::UnknownAction("reboot".into()))
        );
    }
}
