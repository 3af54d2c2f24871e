//! The engine thread's counters (single writer; see `metrics`).

use protocol::RejectCode;

use crate::counters::{Counter, Gauge};

/// What the engine counts.
#[derive(Debug)]
pub struct EngineStats {
    /// NewOrder inputs.
    pub orders_received: Counter,
    /// Orders the venue accepted.
    pub orders_accepted: Counter,
    /// Rejects of any kind (orders, cancels, replaces), total.
    pub rejects: Counter,
    /// Rejects by code, indexed like `RejectCode::ALL`.
    pub rejects_by_code: Box<[Counter]>,
    /// Resent orders answered with their original outcome.
    pub repeats: Counter,
    /// Orders refused as THROTTLED by the queue-time policy.
    pub throttled: Counter,
    /// Suitability confirmations recorded.
    pub confirmations: Counter,
    /// CancelOrder inputs.
    pub cancels_received: Counter,
    /// ReplaceOrder inputs.
    pub replaces_received: Counter,
    /// Orders cancelled (any reason).
    pub cancels: Counter,
    /// Orders cancelled by cancel-on-disconnect (cancels issued).
    pub cancel_on_disconnect: Counter,
    /// Replaces that took effect.
    pub replaces: Counter,
    /// Executed messages (one per side of a trade).
    pub executions: Counter,
    /// Trades.
    pub trades: Counter,
    /// Shares traded.
    pub traded_shares: Counter,
    /// MassCancel inputs.
    pub mass_cancels: Counter,
    /// BusinessReject answers.
    pub business_rejects: Counter,
    /// Operator commands applied.
    pub admin_commands: Counter,
    /// Inputs sequenced (journal position).
    pub inputs: Gauge,
    /// Orders resting at the venue.
    pub venue_open_orders: Gauge,
    /// Operations queued at the venue (paused, delayed, or waiting for continuous trading).
    pub venue_queued: Gauge,
    /// Orders recorded in the risk engine's table today (its capacity bounds the day).
    pub orders_today: Gauge,
    /// Capacity of that table.
    pub orders_capacity: Gauge,
    /// Risk flags raised: high message rate (per second).
    pub flags_high_rate: Gauge,
    /// Risk flags raised: high daily message count.
    pub flags_high_daily: Gauge,
    /// Risk flags raised: rapid order-then-cancel.
    pub flags_rapid_cancel: Gauge,
    /// Risk flags raised: rapid order rate.
    pub flags_rapid_orders: Gauge,
    /// Venue events that did not fit an order's state.
    pub venue_anomalies: Gauge,
    /// Firm-wide order-entry state (0 active, 1 reducing only, 2 blocked).
    pub firm_state: Gauge,
    /// Accounts whose order entry is blocked or reducing only.
    pub accounts_restricted: Gauge,
}

impl Default for EngineStats {
    fn default() -> Self {
        EngineStats {
            orders_received: Counter::default(),
            orders_accepted: Counter::default(),
            rejects: Counter::default(),
            rejects_by_code: RejectCode::ALL.iter().map(|_| Counter::default()).collect(),
            repeats: Counter::default(),
            throttled: Counter::default(),
            confirmations: Counter::default(),
            cancels_received: Counter::default(),
            replaces_received: Counter::default(),
            cancels: Counter::default(),
            cancel_on_disconnect: Counter::default(),
            replaces: Counter::default(),
            executions: Counter::default(),
            trades: Counter::default(),
            traded_shares: Counter::default(),
            mass_cancels: Counter::default(),
            business_rejects: Counter::default(),
            admin_commands: Counter::default(),
            inputs: Gauge::default(),
            venue_open_orders: Gauge::default(),
            venue_queued: Gauge::default(),
            orders_today: Gauge::default(),
            orders_capacity: Gauge::default(),
            flags_high_rate: Gauge::default(),
            flags_high_daily: Gauge::default(),
            flags_rapid_cancel: Gauge::default(),
            flags_rapid_orders: Gauge::default(),
            venue_anomalies: Gauge::default(),
            firm_state: Gauge::default(),
            accounts_restricted: Gauge::default(),
        }
    }
}

impl EngineStats {
    /// Counts one reject.
    #[inline]
    pub fn count_reject(&self, code: RejectCode) {
        self.rejects.inc();
        if let Ok(i) = RejectCode::ALL.binary_search(&code) {
            self.rejects_by_code[i].inc();
        }
    }
}
