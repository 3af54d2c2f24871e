//! The order table's records, and the arithmetic of what an order keeps frozen.

use protocol::codec::NewOrder;
use protocol::rules::FeeSchedule;

use crate::fees::order_fees_total;
use protocol::{
    AccountId, ClOrdId, CreditTag, OrderType, Price, Qty, RejectCode, RejectDetail, SecurityId,
    Side, TimeInForce,
};

/// A login (session) slot of the gateway.
pub type LoginIdx = u32;

/// "No link" in the engine's intrusive lists.
pub(crate) const NIL: u32 = u32::MAX;

/// A slot in the day's order table. The gateway routes venue events back with it
/// and uses [`OrderRef::venue_order_id`] as the venue's order id.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
pub struct OrderRef(pub u32);

impl OrderRef {
    /// The order id sent to the venue: the slot plus one (zero is never an id).
    pub const fn venue_order_id(self) -> u64 {
        self.0 as u64 + 1
    }

    /// The slot for a venue order id; `None` for zero or an id past `u32`.
    pub const fn from_venue_order_id(id: u64) -> Option<OrderRef> {
        if id == 0 || id > u32::MAX as u64 { None } else { Some(OrderRef((id - 1) as u32)) }
    }
}

/// Why a check refused: the code and the facts for the reject text.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reject {
    /// Reject code (risk 3001-3036, suitability 4001-4003, or a protocol code for
    /// an order whose fields do not fit together).
    pub code: RejectCode,
    /// Structured detail for the text.
    pub detail: RejectDetail,
}

impl Reject {
    /// A reject with no detail.
    pub const fn new(code: RejectCode) -> Reject {
        Reject { code, detail: RejectDetail::None }
    }

    /// A reject with detail.
    pub const fn with(code: RejectCode, detail: RejectDetail) -> Reject {
        Reject { code, detail }
    }
}

/// Where an order stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub enum OrderState {
    /// Refused by the risk checks; never sent.
    Rejected {
        /// Why.
        code: RejectCode,
        /// The facts of the refusal, so a resend is answered with the same text.
        detail: RejectDetail,
    },
    /// Passed the checks, sent to the venue, not yet acknowledged.
    PendingVenue,
    /// Acknowledged by the venue and working.
    Open,
    /// Completely filled.
    Filled,
    /// Cancelled (by the client, the venue, or expiry), possibly after partial fills.
    Canceled,
    /// Refused by the venue.
    VenueRejected {
        /// The venue's code.
        code: RejectCode,
    },
}

impl OrderState {
    /// True while the order may still trade (PendingVenue or Open).
    pub const fn is_open(&self) -> bool {
        matches!(self, OrderState::PendingVenue | OrderState::Open)
    }
}

/// A cancel or replace sent to the venue and not yet answered.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub enum PendingChange {
    /// Nothing in flight.
    None,
    /// A cancel is in flight.
    Cancel,
    /// A replace is in flight; until it is answered the order keeps frozen the
    /// larger of what the old and the new terms need.
    Replace {
        /// New limit price.
        price: Price,
        /// New total quantity.
        qty: Qty,
    },
}

/// One order of the day, accepted or rejected: the idempotency record and the
/// live order in one.
#[derive(Clone, Copy, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct OrderRecord {
    /// This record's slot.
    pub order: OrderRef,
    /// The login that entered it.
    pub login: LoginIdx,
    /// The account.
    pub account: AccountId,
    /// The client's order id.
    pub cl_ord_id: ClOrdId,
    /// Security.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// Order type.
    pub order_type: OrderType,
    /// Time in force.
    pub tif: TimeInForce,
    /// Limit price (zero for market orders); the new price once a replace is done.
    pub price: Price,
    /// Total quantity; the new quantity once a replace is done.
    pub qty: Qty,
    /// The price the NewOrder carried (what a resend is compared with).
    pub sent_price: Price,
    /// The quantity the NewOrder carried.
    pub sent_qty: Qty,
    /// NewOrder flag bits as sent.
    pub flags: u8,
    /// Credit tag.
    pub credit: CreditTag,
    /// Filled quantity.
    pub cum: Qty,
    /// Open quantity (zero once closed).
    pub leaves: Qty,
    /// Value filled so far, 1/10000 CNY.
    pub cum_value: i64,
    /// Fees charged so far: always [`crate::fees::order_fees`] of `cum_value` (under
    /// the schedule in force at the last fill), so a partly filled order pays the
    /// minimum commission once, not per fill.
    pub fees_paid: i64,
    /// The price the freeze is computed at: buys, the limit (market buys: the
    /// upper price limit); cash sells, the limit (market sells: the lower limit);
    /// short sells, the upper price limit (their fee basis).
    pub freeze_price: Price,
    /// Cash frozen for this order now, 1/10000 CNY.
    pub frozen_cash: i64,
    /// Shares frozen for this order now (sells: holdings; short sells: lending line).
    pub frozen_shares: u64,
    /// State.
    pub state: OrderState,
    /// Cancel or replace in flight.
    pub pending: PendingChange,
    /// The client confirmed a suitability mismatch and the order passed on it: kept
    /// for audit.
    pub confirmation_recorded: bool,
    /// When the engine saw it (ns since the Unix epoch).
    pub entered_ns: u64,
    pub(crate) account_idx: u32,
    pub(crate) pos_idx: u32,
    pub(crate) next: u32,
    pub(crate) prev: u32,
}

impl OrderRecord {
    pub(crate) fn from_new_order(
        slot: u32,
        login: LoginIdx,
        account_idx: u32,
        o: &NewOrder,
        now_ns: u64,
    ) -> OrderRecord {
        OrderRecord {
            order: OrderRef(slot),
            login,
            account: o.account,
            cl_ord_id: o.cl_ord_id,
            security: o.security,
            side: o.side,
            order_type: o.order_type,
            tif: o.tif,
            price: o.price,
            qty: o.qty,
            sent_price: o.price,
            sent_qty: o.qty,
            flags: o.flags,
            credit: o.credit,
            cum: Qty::ZERO,
            leaves: Qty::ZERO,
            cum_value: 0,
            fees_paid: 0,
            freeze_price: o.price,
            frozen_cash: 0,
            frozen_shares: 0,
            state: OrderState::Rejected { code: RejectCode(0), detail: RejectDetail::None },
            pending: PendingChange::None,
            confirmation_recorded: false,
            entered_ns: now_ns,
            account_idx,
            pos_idx: NIL,
            next: NIL,
            prev: NIL,
        }
    }

    /// The venue order id the gateway uses for this record.
    pub const fn venue_order_id(&self) -> u64 {
        self.order.venue_order_id()
    }

    /// True while the order may still trade.
    pub const fn is_open(&self) -> bool {
        self.state.is_open()
    }

    /// The reject this record answers with, for a rejected order.
    pub const fn reject(&self) -> Option<Reject> {
        match self.state {
            OrderState::Rejected { code, detail } => Some(Reject { code, detail }),
            _ => None,
        }
    }

    /// True when `o` is the same order as recorded (a resend).
    pub(crate) fn same_content(&self, o: &NewOrder) -> bool {
        self.security == o.security
            && self.side == o.side
            && self.order_type == o.order_type
            && self.tif == o.tif
            && self.sent_price == o.price
            && self.sent_qty == o.qty
            && self.flags == o.flags
            && self.credit == o.credit
    }

    /// True when the record was refused for want of a suitability confirmation and
    /// `o` is the same order with the confirmation flag added: the one case where a
    /// cl_ord_id is evaluated again.
    pub(crate) fn is_confirmation_retry(&self, o: &NewOrder) -> bool {
        let refused_for_confirmation = matches!(
            self.state,
            OrderState::Rejected { code: RejectCode::CONFIRMATION_REQUIRED, .. }
        );
        refused_for_confirmation
            && !self.is_confirmed()
            && o.suitability_confirmed()
            && self.flags | protocol::codec::order_flags::SUITABILITY_CONFIRMED == o.flags
            && self.security == o.security
            && self.side == o.side
            && self.order_type == o.order_type
            && self.tif == o.tif
            && self.sent_price == o.price
            && self.sent_qty == o.qty
            && self.credit == o.credit
    }

    fn is_confirmed(&self) -> bool {
        self.flags & protocol::codec::order_flags::SUITABILITY_CONFIRMED != 0
    }

    /// The terms a pending replace would give: (freeze price, leaves).
    pub(crate) fn replace_terms(&self) -> Option<(Price, u64)> {
        match self.pending {
            PendingChange::Replace { price, qty } => {
                Some((price, qty.0.saturating_sub(self.cum.0)))
            }
            _ => None,
        }
    }
}

/// What an order needs frozen: cash (1/10000 CNY) and shares.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct Reserve {
    pub cash: i64,
    pub shares: u64,
}

/// The reserve for `leaves` more shares at `freeze_price`, after `cum_value` filled
/// with `fees_paid` charged.
///
/// * A buy keeps the value of what is left plus the fees that filling it would
///   add. Its freeze price is its limit (market buys: the upper price limit) and it
///   never fills above it; fees are non-decreasing in value, so every fill's cost
///   comes out of what the buy kept.
/// * A short sale keeps its whole fees (its proceeds are held for the lender),
///   computed at the upper price limit, the most it can fill at.
/// * A cash sell pays its fees out of its proceeds; it keeps cash only for the
///   part of the fees its proceeds would not cover (tiny orders against the
///   minimum commission), at its limit (market sells: the lower price limit).
///   Partial fills can still cost more than they bring in (a one-share first fill
///   pays the minimum commission); that is booked as a debit on the account.
pub(crate) fn reserve_for(
    fees: &FeeSchedule,
    side: Side,
    credit: CreditTag,
    freeze_price: Price,
    leaves: u64,
    cum_value: i64,
    fees_paid: i64,
) -> Reserve {
    if leaves == 0 {
        return Reserve::default();
    }
    let rest = clamp_i64(i128::from(freeze_price.0) * i128::from(leaves));
    let fees_due = order_fees_total(fees, side, cum_value.saturating_add(rest))
        .saturating_sub(fees_paid)
        .max(0);
    let cash = match (side, credit) {
        (Side::Buy, _) => rest.saturating_add(fees_due),
        (Side::Sell, CreditTag::ShortSell) => fees_due,
        (Side::Sell, _) => fees_due.saturating_sub(rest).max(0),
    };
    let shares = match side {
        Side::Buy => 0,
        Side::Sell => leaves,
    };
    Reserve { cash, shares }
}

/// The price a replace to `new_price` freezes at while it is in flight: fills may
/// still come on the old terms, or already on the new ones, so a buy keeps the
/// higher price and a cash sell the lower; a short sale's fee basis is the upper
/// price limit and does not move.
pub(crate) fn pending_freeze_price(r: &OrderRecord, new_price: Price) -> Price {
    match (r.side, r.credit) {
        (Side::Buy, _) => r.freeze_price.max(new_price),
        (Side::Sell, CreditTag::ShortSell) => r.freeze_price,
        (Side::Sell, _) => r.freeze_price.min(new_price),
    }
}

/// The reserve a record needs now: nothing once closed; with a replace in flight,
/// enough for whichever terms the remaining fills come on (the larger open
/// quantity at the worse price).
pub(crate) fn reserve_of(fees: &FeeSchedule, r: &OrderRecord) -> Reserve {
    if !r.is_open() {
        return Reserve::default();
    }
    let (price, leaves) = match r.replace_terms() {
        None => (r.freeze_price, r.leaves.0),
        Some((new_price, new_leaves)) => {
            (pending_freeze_price(r, new_price), r.leaves.0.max(new_leaves))
        }
    };
    reserve_for(fees, r.side, r.credit, price, leaves, r.cum_value, r.fees_paid)
}

/// Saturates an i128 into i64.
pub(crate) fn clamp_i64(v: i128) -> i64 {
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    const FEES: FeeSchedule = FeeSchedule::DEFAULT;

    fn cny(text: &str) -> i64 {
        Price::parse_cny(text).unwrap().0
    }

    #[test]
    fn buy_keeps_value_plus_fees() {
        let r = reserve_for(&FEES, Side::Buy, CreditTag::Cash, Price(100_000), 1_000, 0, 0);
        // CNY 10,000 + commission min 5.00 + transfer 0.10.
        assert_eq!(r, Reserve { cash: cny("10005.10"), shares: 0 });
    }

    #[test]
    fn sell_keeps_only_a_fee_shortfall() {
        let big = reserve_for(&FEES, Side::Sell, CreditTag::Cash, Price(100_000), 1_000, 0, 0);
        assert_eq!(big, Reserve { cash: 0, shares: 1_000 });
        // One share at CNY 1.00: proceeds 1.00, fees 5.00 + 0.0005 + 0.00001, which
        // round to 5.00 + 0.00 + 0.00.
        let tiny = reserve_for(&FEES, Side::Sell, CreditTag::Cash, Price(10_000), 1, 0, 0);
        assert_eq!(tiny.cash, cny("4.00"));
        let short =
            reserve_for(&FEES, Side::Sell, CreditTag::ShortSell, Price(100_000), 1_000, 0, 0);
        // Commission 2.50 → 5.00, stamp duty 5.00, transfer 0.10.
        assert_eq!(short.cash, cny("10.10"));
    }

    #[test]
    fn partly_filled_buy_keeps_only_the_rest() {
        // 1,000 at 10.00, 400 filled at 9.90: fees so far are the minimum.
        let paid = order_fees_total(&FEES, Side::Buy, cny("3960"));
        let r =
            reserve_for(&FEES, Side::Buy, CreditTag::Cash, Price(100_000), 600, cny("3960"), paid);
        let expect = cny("6000") + order_fees_total(&FEES, Side::Buy, cny("9960")) - paid;
        assert_eq!(r.cash, expect);
    }

    #[test]
    fn venue_order_ids_start_at_one() {
        assert_eq!(OrderRef(0).venue_order_id(), 1);
        assert_eq!(OrderRef::from_venue_order_id(1), Some(OrderRef(0)));
        assert_eq!(OrderRef::from_venue_order_id(0), None);
    }
}
