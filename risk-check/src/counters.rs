//! What the engine counts for metrics: outcomes, flags raised, rejects per code.

use protocol::RejectCode;

/// Slots for per-code reject counts: risk 3000-3063, suitability 4000-4015, and
/// one for anything else (protocol codes on malformed orders).
const RISK_SLOTS: usize = 64;
const SUITABILITY_SLOTS: usize = 16;
const CODE_SLOTS: usize = RISK_SLOTS + SUITABILITY_SLOTS + 1;

/// Counters since start-up (not reset by the trading day). Flags are counted, never
/// rejected on.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RiskCounters {
    /// New orders that passed every check.
    pub passed: u64,
    /// New orders refused (every code, recorded or not).
    pub rejected: u64,
    /// Resends answered from the order table.
    pub repeats: u64,
    /// Orders that passed on a recorded suitability confirmation.
    pub confirmations_recorded: u64,
    /// Cancels that passed.
    pub cancels_passed: u64,
    /// Replaces that passed.
    pub replaces_passed: u64,
    /// Cancel and replace requests refused.
    pub changes_rejected: u64,
    /// Times an account reached the high-frequency message rate in a second.
    pub high_rate_flags: u64,
    /// Accounts that reached the high-frequency daily message count (once per day each).
    pub high_daily_flags: u64,
    /// Cancels sent within the rapid-cancel window of their order's entry.
    pub rapid_cancels: u64,
    /// Accounts flagged for rapid order-then-cancel (once per day each).
    pub rapid_cancel_flags: u64,
    /// Times an account reached the rapid order rate in a second.
    pub rapid_order_flags: u64,
    /// Fills applied.
    pub fills: u64,
    /// Venue events that did not fit the order's state (late, duplicate, or for more
    /// than the open quantity); ignored or clamped, and counted here.
    pub venue_anomalies: u64,
    /// Events that left an account owing cash (a debit): a fill that cost more
    /// than its order kept frozen and the account had available.
    pub overdrafts: u64,
    /// Orders still open at the day roll, expired by the engine.
    pub expired_at_roll: u64,
    #[serde(with = "code_counts")]
    rejects_by_code: [u64; CODE_SLOTS],
}

impl Default for RiskCounters {
    fn default() -> RiskCounters {
        RiskCounters {
            passed: 0,
            rejected: 0,
            repeats: 0,
            confirmations_recorded: 0,
            cancels_passed: 0,
            replaces_passed: 0,
            changes_rejected: 0,
            high_rate_flags: 0,
            high_daily_flags: 0,
            rapid_cancels: 0,
            rapid_cancel_flags: 0,
            rapid_order_flags: 0,
            fills: 0,
            venue_anomalies: 0,
            overdrafts: 0,
            expired_at_roll: 0,
            rejects_by_code: [0; CODE_SLOTS],
        }
    }
}

/// Serde for the per-code counts: serde's arrays stop at 32 elements, so they
/// travel as a sequence of exactly `CODE_SLOTS` counts.
mod code_counts {
    use super::CODE_SLOTS;
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(counts: &[u64; CODE_SLOTS], s: S) -> Result<S::Ok, S::Error> {
        counts.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u64; CODE_SLOTS], D::Error> {
        let counts = Vec::<u64>::deserialize(d)?;
        let len = counts.len();
        counts.try_into().map_err(|_| D::Error::invalid_length(len, &"one count per code slot"))
    }
}

fn slot(code: RejectCode) -> usize {
    match code.0 {
        c @ 3000..3064 => usize::from(c - 3000),
        c @ 4000..4016 => RISK_SLOTS + usize::from(c - 4000),
        _ => CODE_SLOTS - 1,
    }
}

impl RiskCounters {
    /// Rejects counted for `code` (new orders, cancels and replaces together).
    /// Codes outside the risk and suitability ranges share one count.
    pub fn rejects(&self, code: RejectCode) -> u64 {
        self.rejects_by_code[slot(code)]
    }

    /// Rejects outside the risk and suitability ranges.
    pub fn other_rejects(&self) -> u64 {
        self.rejects_by_code[CODE_SLOTS - 1]
    }

    /// Every defined risk or suitability code with its count, for a metrics page.
    pub fn reject_counts(&self) -> impl Iterator<Item = (RejectCode, u64)> + '_ {
        RejectCode::ALL
            .iter()
            .filter(|c| slot(**c) != CODE_SLOTS - 1)
            .map(|c| (*c, self.rejects(*c)))
    }

    #[inline]
    pub(crate) fn count_reject(&mut self, code: RejectCode) {
        self.rejects_by_code[slot(code)] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_risk_and_suitability_code_has_its_own_slot() {
        let mut seen = std::collections::BTreeSet::new();
        for code in RejectCode::ALL {
            if (3000..=4999).contains(&code.0) {
                assert!(seen.insert(slot(*code)), "{code:?} shares a slot");
                assert_ne!(slot(*code), CODE_SLOTS - 1, "{code:?} has no slot");
            }
        }
    }
}
