//! The engine thread's counters (single writer; see `metrics`).

use protocol::RejectCode;

use crate::metrics::Counter;

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
