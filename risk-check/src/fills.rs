//! The day's fills table: one record per fill the engine booked, in the order
//! they came, for the fills query (查询成交).
//!
//! Allocated once at `limits.max_fills_per_day` and never grown. When it is full
//! a fill still happens and is charged in full (the venue's trade stands); only
//! its record is not kept, and the table counts it
//! ([`crate::RiskEngine::fills_not_recorded`], kept beside the table in `engine`) so a query can say that its answer is
//! incomplete instead of pretending it is not. Emptied by the day roll.

use protocol::{AccountId, ClOrdId, Price, Qty, SecurityId, Side};

use crate::fees::FeeBreakdown;
use crate::order::OrderRef;

/// One fill as the account was charged for it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct FillRecord {
    /// The order it filled.
    pub order: OrderRef,
    /// The order's account.
    pub account: AccountId,
    /// The order's cl_ord_id.
    pub cl_ord_id: ClOrdId,
    /// The venue's execution id (zero when the venue gave none).
    pub exec_id: u64,
    /// Security.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// Fill price.
    pub price: Price,
    /// Shares filled (after clamping to the order's open quantity).
    pub qty: Qty,
    /// Value, price × quantity, 1/10000 CNY.
    pub value: i64,
    /// What this fill was charged, by kind.
    pub fees: FeeBreakdown,
    /// When the engine booked it (ns since the Unix epoch).
    pub booked_ns: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_record_is_the_size_the_configuration_docs_give() {
        // docs/configuration.md and `Capacity` size the table at 112 bytes a fill.
        assert!(core::mem::size_of::<FillRecord>() <= 112);
    }
}
