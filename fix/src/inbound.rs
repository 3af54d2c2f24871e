//! NewOrderSingle (D), OrderCancelRequest (F), OrderCancelReplaceRequest (G) and
//! OrderMassCancelRequest (q) to `protocol`'s domain inputs.
//!
//! The mapping checks what the domain types need beyond the dictionary (an
//! Account, a six-digit Symbol on XSHG/XSHE/BJSE, a ClOrdID that is a decimal u64,
//! Side buy or sell) and reports the first problem as a [`Violation`] for a
//! session-level Reject. Order rules (price for the order type, lots, limits) are
//! left to the engine, so an order gets the same decision through either door.

use protocol::codec::{
    CancelOrder, MassCancel, MassCancelScope, NewOrder, ReplaceOrder, order_flags,
};
use protocol::{AccountId, CreditTag, Market, OrderType, Price, SecurityId, Side, TimeInForce};

use crate::dict::{Violation, reason, value_violation};
use crate::field::{self, ValueError};
use crate::message::Message;
use crate::tag;

/// An input for the engine, from one application message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Input {
    /// From NewOrderSingle (D).
    NewOrder(NewOrder),
    /// From OrderCancelRequest (F).
    CancelOrder(CancelOrder),
    /// From OrderCancelReplaceRequest (G).
    ReplaceOrder(ReplaceOrder),
    /// From OrderMassCancelRequest (q).
    MassCancel(MassCancel),
}

/// The fields the mapping reads, found in one pass over the message (the first
/// occurrence of each; the dictionary refuses repeats before mapping).
struct View<'a> {
    values: [Option<&'a [u8]>; 15],
}

/// The slot of a tag the mapping reads.
fn slot(tag: u32) -> Option<usize> {
    Some(match tag {
        tag::ACCOUNT => 0,
        tag::CL_ORD_ID => 1,
        tag::ORDER_QTY => 2,
        tag::ORD_TYPE => 3,
        tag::ORIG_CL_ORD_ID => 4,
        tag::PRICE => 5,
        tag::SIDE => 6,
        tag::SYMBOL => 7,
        tag::TIME_IN_FORCE => 8,
        tag::SECURITY_EXCHANGE => 9,
        tag::MASS_CANCEL_REQUEST_TYPE => 10,
        tag::BW_MARKET_TYPE => 11,
        tag::BW_SUITABILITY_CONFIRMED => 12,
        tag::BW_PROGRAMMATIC => 13,
        tag::BW_CREDIT_TAG => 14,
        _ => return None,
    })
}

impl<'a> View<'a> {
    fn of(msg: &Message<'a>) -> View<'a> {
        let mut values = [None; 15];
        for pos in msg.fields() {
            if let Some(i) = slot(pos.tag) {
                values[i] = values[i].or(Some(msg.value(pos)));
            }
        }
        View { values }
    }

    fn get(&self, tag: u32) -> Option<&'a [u8]> {
        slot(tag).and_then(|i| self.values[i])
    }
}

/// A required field that the dictionary leaves optional but Breakwater needs.
fn required<'a>(msg: &View<'a>, tag: u32) -> Result<&'a [u8], Violation> {
    msg.get(tag).ok_or(Violation { reason: reason::REQUIRED_TAG_MISSING, ref_tag: Some(tag) })
}

fn read<T>(
    msg: &View<'_>,
    tag: u32,
    getter: fn(&[u8]) -> Result<T, ValueError>,
) -> Result<T, Violation> {
    getter(required(msg, tag)?).map_err(|e| value_violation(tag, e))
}

fn out_of_range(tag: u32) -> Violation {
    Violation { reason: reason::VALUE_OUT_OF_RANGE, ref_tag: Some(tag) }
}

/// ClOrdID and OrigClOrdID: decimal digits that fit a u64 (the binary protocol's
/// cl_ord_id), documented in `docs/fix.md`.
pub fn get_cl_ord_id(value: &[u8]) -> Result<u64, ValueError> {
    field::get_u64(value).map_err(|_| ValueError::Range)
}

fn account(msg: &View<'_>) -> Result<AccountId, Violation> {
    let value = required(msg, tag::ACCOUNT)?;
    let text = core::str::from_utf8(value).map_err(|_| out_of_range(tag::ACCOUNT))?;
    AccountId::new(text).map_err(|_| out_of_range(tag::ACCOUNT))
}

/// Symbol (55) and SecurityExchange (207).
fn security(msg: &View<'_>) -> Result<SecurityId, Violation> {
    let symbol = required(msg, tag::SYMBOL)?;
    let market = match required(msg, tag::SECURITY_EXCHANGE)? {
        b"XSHG" => Market::Sse,
        b"XSHE" => Market::Szse,
        b"BJSE" => Market::Bse,
        _ => return Err(out_of_range(tag::SECURITY_EXCHANGE)),
    };
    if symbol.len() != 6 {
        return Err(out_of_range(tag::SYMBOL));
    }
    let code = field::get_u64(symbol).map_err(|_| out_of_range(tag::SYMBOL))?;
    SecurityId::new(market, code as u32).ok_or(out_of_range(tag::SYMBOL))
}

fn side(msg: &View<'_>) -> Result<Side, Violation> {
    match required(msg, tag::SIDE)? {
        b"1" => Ok(Side::Buy),
        b"2" => Ok(Side::Sell),
        _ => Err(out_of_range(tag::SIDE)),
    }
}

fn flag(msg: &View<'_>, tag: u32) -> Result<bool, Violation> {
    match msg.get(tag) {
        None => Ok(false),
        Some(value) => field::get_bool(value).map_err(|e| value_violation(tag, e)),
    }
}

/// OrdType (40), TimeInForce (59) and the market type (5001) to the domain's order
/// type and time in force (the mapping table is in `docs/fix.md`).
fn order_type_and_tif(msg: &View<'_>) -> Result<(OrderType, TimeInForce), Violation> {
    let tif = match msg.get(tag::TIME_IN_FORCE) {
        None | Some(b"0") => None,
        Some(b"3") => Some(TimeInForce::Ioc),
        Some(b"4") => Some(TimeInForce::Fok),
        Some(_) => return Err(out_of_range(tag::TIME_IN_FORCE)),
    };
    let order_type = match required(msg, tag::ORD_TYPE)? {
        b"2" => OrderType::Limit,
        b"1" => match (msg.get(tag::BW_MARKET_TYPE), tif) {
            (Some(b"O"), _) => OrderType::MarketBestOwn,
            (Some(b"C"), _) => OrderType::MarketBestCounter,
            (Some(b"5"), _) => OrderType::MarketBest5Cancel,
            (Some(b"L"), _) => OrderType::MarketBest5Limit,
            (Some(b"I"), _) | (None, Some(TimeInForce::Ioc)) => OrderType::MarketIoc,
            (Some(b"F"), _) | (None, Some(TimeInForce::Fok)) => OrderType::MarketFok,
            (None, _) => {
                return Err(Violation {
                    reason: reason::REQUIRED_TAG_MISSING,
                    ref_tag: Some(tag::BW_MARKET_TYPE),
                });
            }
            (Some(_), _) => return Err(out_of_range(tag::BW_MARKET_TYPE)),
        },
        _ => return Err(out_of_range(tag::ORD_TYPE)),
    };
    let tif = tif.or(order_type.implied_tif()).unwrap_or(TimeInForce::Day);
    Ok((order_type, tif))
}

/// NewOrderSingle (D) to a NewOrder.
pub fn new_order(msg: &Message<'_>) -> Result<NewOrder, Violation> {
    new_order_from(&View::of(msg))
}

fn new_order_from(msg: &View<'_>) -> Result<NewOrder, Violation> {
    let cl_ord_id = read(msg, tag::CL_ORD_ID, get_cl_ord_id)?;
    let account = account(msg)?;
    let security = security(msg)?;
    let side = side(msg)?;
    let (order_type, tif) = order_type_and_tif(msg)?;
    let price = match msg.get(tag::PRICE) {
        Some(value) => field::get_price(value).map_err(|e| value_violation(tag::PRICE, e))?,
        None if order_type == OrderType::Limit => {
            return Err(Violation {
                reason: reason::REQUIRED_TAG_MISSING,
                ref_tag: Some(tag::PRICE),
            });
        }
        None => Price::ZERO,
    };
    let qty = read(msg, tag::ORDER_QTY, field::get_qty)?;
    let mut flags = 0;
    if flag(msg, tag::BW_SUITABILITY_CONFIRMED)? {
        flags |= order_flags::SUITABILITY_CONFIRMED;
    }
    if flag(msg, tag::BW_PROGRAMMATIC)? {
        flags |= order_flags::PROGRAMMATIC;
    }
    let credit = match msg.get(tag::BW_CREDIT_TAG) {
        None | Some(b"0") => CreditTag::Cash,
        Some(b"1") => CreditTag::MarginBuy,
        Some(b"2") => CreditTag::ShortSell,
        Some(_) => return Err(out_of_range(tag::BW_CREDIT_TAG)),
    };
    Ok(NewOrder { cl_ord_id, account, security, side, order_type, tif, price, qty, flags, credit })
}

/// OrderCancelRequest (F) to a CancelOrder: ClOrdID is the request id.
pub fn cancel_order(msg: &Message<'_>) -> Result<CancelOrder, Violation> {
    cancel_order_from(&View::of(msg))
}

fn cancel_order_from(msg: &View<'_>) -> Result<CancelOrder, Violation> {
    Ok(CancelOrder {
        request_id: read(msg, tag::CL_ORD_ID, get_cl_ord_id)?,
        orig_cl_ord_id: read(msg, tag::ORIG_CL_ORD_ID, get_cl_ord_id)?,
        account: account(msg)?,
    })
}

/// OrderCancelReplaceRequest (G) to a ReplaceOrder: new Price and OrderQty.
pub fn replace_order(msg: &Message<'_>) -> Result<ReplaceOrder, Violation> {
    replace_order_from(&View::of(msg))
}

fn replace_order_from(msg: &View<'_>) -> Result<ReplaceOrder, Violation> {
    Ok(ReplaceOrder {
        request_id: read(msg, tag::CL_ORD_ID, get_cl_ord_id)?,
        orig_cl_ord_id: read(msg, tag::ORIG_CL_ORD_ID, get_cl_ord_id)?,
        account: account(msg)?,
        price: read(msg, tag::PRICE, field::get_price)?,
        qty: read(msg, tag::ORDER_QTY, field::get_qty)?,
    })
}

/// OrderMassCancelRequest (q): 530=1 one security of the Account, 530=7 all
/// orders of the Account, or of the whole login when Account is absent.
pub fn mass_cancel(msg: &Message<'_>) -> Result<MassCancel, Violation> {
    mass_cancel_from(&View::of(msg))
}

fn mass_cancel_from(msg: &View<'_>) -> Result<MassCancel, Violation> {
    let request_id = read(msg, tag::CL_ORD_ID, get_cl_ord_id)?;
    let scope = match required(msg, tag::MASS_CANCEL_REQUEST_TYPE)? {
        b"1" => MassCancelScope::Security(account(msg)?, security(msg)?),
        b"7" if msg.get(tag::ACCOUNT).is_some() => MassCancelScope::Account(account(msg)?),
        b"7" => MassCancelScope::Login,
        _ => return Err(out_of_range(tag::MASS_CANCEL_REQUEST_TYPE)),
    };
    Ok(MassCancel { request_id, scope, block_new: false })
}

/// The application message types mapped to engine inputs.
pub fn map(msg: &Message<'_>) -> Option<Result<Input, Violation>> {
    Some(match msg.msg_type() {
        b"D" => new_order(msg).map(Input::NewOrder),
        b"F" => cancel_order(msg).map(Input::CancelOrder),
        b"G" => replace_order(msg).map(Input::ReplaceOrder),
        b"q" => mass_cancel(msg).map(Input::MassCancel),
        _ => return None,
    })
}
