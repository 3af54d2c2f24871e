//! `protocol`'s AppMessages to ExecutionReport (8), OrderCancelReject (9),
//! OrderMassCancelReport (r) and BusinessMessageReject (j).
//!
//! Mapping is two steps. [`map`] turns a sequenced AppMessage into a [`Report`]: every
//! field value resolved, fields the domain message lacks taken from the order
//! cache (which the same call updates). [`encode_report`] writes a Report's body.
//! The session keeps Reports for ResendRequest, so a resent message carries the
//! values it had when first sent, whatever happened to the order since.

use protocol::codec::{AppMessage, MassCancelScope, RequestKind, Sequenced, answer_flags};
use protocol::{
    AccountId, CancelReason, ClOrdId, Market, OrderId, OrderType, Price, Qty, RejectCode,
    RejectDetail, SecurityId, Side, TextBuf, TimeInForce,
};

use crate::encode::Encoder;
use crate::orders::{OrderCache, OrderInfo, ord_status};
use crate::tag;

/// ExecType (150) values.
pub mod exec_type {
    #![allow(missing_docs)] // Each constant is the FIX value of the same name.
    pub const NEW: u8 = b'0';
    pub const CANCELED: u8 = b'4';
    pub const REPLACED: u8 = b'5';
    pub const REJECTED: u8 = b'8';
    pub const EXPIRED: u8 = b'C';
    pub const TRADE: u8 = b'F';
    pub const ORDER_STATUS: u8 = b'I';
}

/// An ExecutionReport with every value resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ExecReport {
    /// ClOrdID (11).
    pub cl_ord_id: ClOrdId,
    /// OrigClOrdID (41), on answers to a cancel or replace.
    pub orig_cl_ord_id: Option<ClOrdId>,
    /// OrderID (37); 0 is sent as `NONE`.
    pub order_id: OrderId,
    /// ExecID (17): `T<exec id>` for a fill, `S<stream seq>` otherwise.
    pub exec_id: ExecIdRef,
    /// ExecType (150).
    pub exec_type: u8,
    /// OrdStatus (39).
    pub ord_status: u8,
    /// Account (1).
    pub account: AccountId,
    /// Symbol (55), SecurityExchange (207), Side (54), OrdType (40): when known.
    pub order: Option<OrderFields>,
    /// OrderQty (38), when known.
    pub order_qty: Option<Qty>,
    /// Price (44) of a limit order, when known.
    pub price: Option<Price>,
    /// LastPx (31) and LastQty (32) of a fill.
    pub last: Option<(Price, Qty)>,
    /// LeavesQty (151).
    pub leaves: Qty,
    /// CumQty (14).
    pub cum: Qty,
    /// AvgPx (6).
    pub avg_px: Price,
    /// OrdRejReason (103), Text (58) and the Breakwater code (5005) of a reject.
    pub reject: Option<(RejectCode, RejectDetail)>,
    /// TransactTime (60).
    pub transact_time_ns: u64,
}

/// The ExecID of a report.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExecIdRef {
    /// A venue execution id (fills).
    Trade(u64),
    /// The sequence number of the AppMessage in the login's stream.
    Stream(u64),
    /// An order-status answer (sent as `0`).
    Status,
}

/// The instrument and order fields an ExecutionReport repeats.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OrderFields {
    /// Symbol and SecurityExchange.
    pub security: SecurityId,
    /// Side.
    pub side: Side,
    /// OrdType (40) and the market type (5001).
    pub order_type: OrderType,
}

/// An OrderCancelReject with every value resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CancelReject {
    /// ClOrdID (11) of the cancel or replace request.
    pub request_id: u64,
    /// OrigClOrdID (41).
    pub orig_cl_ord_id: ClOrdId,
    /// OrderID (37); 0 is sent as `NONE`.
    pub order_id: OrderId,
    /// OrdStatus (39) of the order.
    pub ord_status: u8,
    /// Account (1).
    pub account: AccountId,
    /// CxlRejResponseTo (434): 1 cancel, 2 replace.
    pub response_to: u8,
    /// Why.
    pub code: RejectCode,
}

/// An OrderMassCancelReport with every value resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MassCancelReport {
    /// ClOrdID (11) of the request.
    pub request_id: u64,
    /// MassCancelRequestType (530) as requested.
    pub request_type: u8,
    /// Account (1), when one.
    pub account: Option<AccountId>,
    /// Orders cancelled (533).
    pub affected: u32,
    /// Zero when done, else why it was refused (531=0, 532, 58, 5005).
    pub code: RejectCode,
}

/// A BusinessMessageReject for an input the engine could not process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct BusinessRejectReport {
    /// RefMsgType (372).
    pub ref_msg_type: u8,
    /// BusinessRejectRefID (379).
    pub ref_id: u64,
    /// Why (58, 5005).
    pub code: RejectCode,
}

/// An outbound application message with every value resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Report {
    /// ExecutionReport (8).
    Exec(ExecReport),
    /// OrderCancelReject (9).
    CancelReject(CancelReject),
    /// OrderMassCancelReport (r).
    MassCancel(MassCancelReport),
    /// BusinessMessageReject (j).
    BusinessReject(BusinessRejectReport),
}

impl Report {
    /// MsgType (35).
    pub fn msg_type(&self) -> &'static [u8] {
        match self {
            Report::Exec(_) => b"8",
            Report::CancelReject(_) => b"9",
            Report::MassCancel(_) => b"r",
            Report::BusinessReject(_) => b"j",
        }
    }
}

/// Maps one AppMessage of the login's stream, updating the order cache; `None`
/// for messages FIX clients are not sent (SystemEvent, OrderEntryStatus,
/// OrderPending).
pub fn map(msg: &Sequenced, cache: &mut OrderCache) -> Option<Report> {
    let stream = ExecIdRef::Stream(msg.seq);
    let time = msg.ts_ns;
    match &msg.msg {
        AppMessage::OrderAccepted(a) => {
            let info = OrderInfo {
                security: a.security,
                side: a.side,
                order_type: a.order_type,
                price: a.price,
                qty: a.qty,
                order_id: a.order_id,
                cum: Qty::ZERO,
                notional: 0,
                status: ord_status::NEW,
            };
            // A repeated answer to a resent order repeats; it does not reset the order.
            if a.flags & answer_flags::REPEAT == 0 || cache.get(a.account, a.cl_ord_id).is_none() {
                cache.upsert(a.account, a.cl_ord_id, info);
            }
            let info = *cache.get(a.account, a.cl_ord_id).unwrap_or(&info);
            Some(Report::Exec(report(a.cl_ord_id, a.account, &info, exec_type::NEW, stream, time)))
        }
        AppMessage::OrderRejected(r) => {
            let known = cache.get_mut(r.account, r.cl_ord_id).map(|info| {
                if r.flags & answer_flags::REPEAT == 0 {
                    info.status = ord_status::REJECTED;
                }
                *info
            });
            let mut er = match known {
                Some(info) => {
                    report(r.cl_ord_id, r.account, &info, exec_type::REJECTED, stream, time)
                }
                None => bare_report(r.cl_ord_id, r.account, exec_type::REJECTED, stream, time),
            };
            er.ord_status = ord_status::REJECTED;
            er.leaves = Qty::ZERO;
            er.reject = Some((r.code, r.detail));
            Some(Report::Exec(er))
        }
        AppMessage::Executed(e) => {
            let fallback = OrderInfo {
                security: e.security,
                side: e.side,
                order_type: OrderType::Limit,
                price: Price::ZERO,
                qty: Qty(e.cum.0 + e.leaves.0),
                order_id: e.order_id,
                cum: Qty::ZERO,
                notional: 0,
                status: ord_status::NEW,
            };
            let mut info = cache.get(e.account, e.cl_ord_id).copied().unwrap_or(fallback);
            info.order_id = e.order_id;
            info.cum = e.cum;
            info.notional += u128::from(e.price.0.unsigned_abs()) * u128::from(e.qty.0);
            info.status =
                if e.leaves.0 == 0 { ord_status::FILLED } else { ord_status::PARTIALLY_FILLED };
            cache.upsert(e.account, e.cl_ord_id, info);
            let mut er = report(
                e.cl_ord_id,
                e.account,
                &info,
                exec_type::TRADE,
                ExecIdRef::Trade(e.exec_id),
                time,
            );
            er.last = Some((e.price, e.qty));
            er.leaves = e.leaves;
            Some(Report::Exec(er))
        }
        AppMessage::Canceled(c) => {
            let expired = c.reason == CancelReason::Expired;
            let (kind, status) = if expired {
                (exec_type::EXPIRED, ord_status::EXPIRED)
            } else {
                (exec_type::CANCELED, ord_status::CANCELED)
            };
            let known = cache.get_mut(c.account, c.cl_ord_id).map(|info| {
                info.status = status;
                info.cum = c.cum;
                info.order_id = c.order_id;
                *info
            });
            let mut er = match known {
                Some(info) => report(c.cl_ord_id, c.account, &info, kind, stream, time),
                None => bare_report(c.cl_ord_id, c.account, kind, stream, time),
            };
            er.order_id = c.order_id;
            er.ord_status = status;
            er.leaves = Qty::ZERO;
            er.cum = c.cum;
            if c.request_id != 0 {
                er.cl_ord_id = c.request_id;
                er.orig_cl_ord_id = Some(c.cl_ord_id);
            }
            Some(Report::Exec(er))
        }
        AppMessage::CancelRejected(k) => {
            let info = cache.get(k.account, k.orig_cl_ord_id);
            Some(Report::CancelReject(CancelReject {
                request_id: k.request_id,
                orig_cl_ord_id: k.orig_cl_ord_id,
                order_id: info.map_or(0, |i| i.order_id),
                ord_status: info.map_or(ord_status::REJECTED, |i| i.status),
                account: k.account,
                response_to: if k.kind == RequestKind::Replace { b'2' } else { b'1' },
                code: k.code,
            }))
        }
        AppMessage::Replaced(r) => {
            let known = cache.get_mut(r.account, r.cl_ord_id).map(|info| {
                info.price = r.price;
                info.qty = r.qty;
                info.order_id = r.order_id;
                *info
            });
            let mut er = match known {
                Some(info) => {
                    report(r.request_id, r.account, &info, exec_type::REPLACED, stream, time)
                }
                None => bare_report(r.request_id, r.account, exec_type::REPLACED, stream, time),
            };
            er.orig_cl_ord_id = Some(r.cl_ord_id);
            er.order_id = r.order_id;
            er.price = Some(r.price);
            er.order_qty = Some(r.qty);
            er.leaves = r.leaves;
            Some(Report::Exec(er))
        }
        AppMessage::MassCancelAck(m) => {
            let request_type = match cache.mass_scope(m.request_id) {
                Some(MassCancelScope::Security(..)) => b'1',
                _ => b'7',
            };
            Some(Report::MassCancel(MassCancelReport {
                request_id: m.request_id,
                request_type,
                account: m.account,
                affected: m.canceled_count,
                code: m.code,
            }))
        }
        AppMessage::BusinessReject(b) => Some(Report::BusinessReject(BusinessRejectReport {
            ref_msg_type: b.ref_msg_type,
            ref_id: b.ref_id,
            code: b.code,
        })),
        AppMessage::SystemEvent(_) | AppMessage::OrderEntryStatus(_) => None,
        // Version 2's broker answer. A FIX session's stream is version 1 (the
        // ExecutionReport PendingNew needs the order's instrument and side, which
        // OrderPending does not carry), so it never reaches here from a FIX login.
        AppMessage::OrderPending(_) => None,
        // Version 3's fee companion of an Executed; a FIX stream is version 1.
        AppMessage::FillFees(_) => None,
    }
}

/// OrderStatusRequest (H): an ExecutionReport with ExecType I from the cache, or
/// OrdStatus rejected with "Unknown order" when the cache does not hold it.
pub fn status_report(
    cache: &OrderCache,
    account: AccountId,
    cl_ord_id: ClOrdId,
    now_ns: u64,
) -> Report {
    let mut er = match cache.get(account, cl_ord_id) {
        Some(info) => {
            report(cl_ord_id, account, info, exec_type::ORDER_STATUS, ExecIdRef::Status, now_ns)
        }
        None => {
            let mut er =
                bare_report(cl_ord_id, account, exec_type::ORDER_STATUS, ExecIdRef::Status, now_ns);
            er.reject = Some((RejectCode::UNKNOWN_ORDER, RejectDetail::None));
            er
        }
    };
    if matches!(er.ord_status, ord_status::CANCELED | ord_status::EXPIRED | ord_status::REJECTED) {
        er.leaves = Qty::ZERO;
    }
    Report::Exec(er)
}

fn report(
    cl_ord_id: ClOrdId,
    account: AccountId,
    info: &OrderInfo,
    kind: u8,
    exec_id: ExecIdRef,
    time: u64,
) -> ExecReport {
    ExecReport {
        cl_ord_id,
        orig_cl_ord_id: None,
        order_id: info.order_id,
        exec_id,
        exec_type: kind,
        ord_status: info.status,
        account,
        order: Some(OrderFields {
            security: info.security,
            side: info.side,
            order_type: info.order_type,
        }),
        order_qty: Some(info.qty),
        price: (info.order_type == OrderType::Limit && info.price.0 > 0).then_some(info.price),
        last: None,
        leaves: Qty(info.qty.0.saturating_sub(info.cum.0)),
        cum: info.cum,
        avg_px: info.avg_px(),
        reject: None,
        transact_time_ns: time,
    }
}

/// A report for an order the cache does not hold (evicted): no instrument fields.
fn bare_report(
    cl_ord_id: ClOrdId,
    account: AccountId,
    kind: u8,
    exec_id: ExecIdRef,
    time: u64,
) -> ExecReport {
    ExecReport {
        cl_ord_id,
        orig_cl_ord_id: None,
        order_id: 0,
        exec_id,
        exec_type: kind,
        ord_status: ord_status::REJECTED,
        account,
        order: None,
        order_qty: None,
        price: None,
        last: None,
        leaves: Qty::ZERO,
        cum: Qty::ZERO,
        avg_px: Price::ZERO,
        reject: None,
        transact_time_ns: time,
    }
}

/// SecurityExchange (207) of a market.
pub fn exchange_code(market: Market) -> &'static [u8] {
    match market {
        Market::Sse => b"XSHG",
        Market::Szse => b"XSHE",
        Market::Bse => b"BJSE",
    }
}

/// The six-digit Symbol (55).
fn symbol(security: SecurityId) -> [u8; 6] {
    let mut out = [b'0'; 6];
    let mut code = security.code;
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (code % 10) as u8;
        code /= 10;
    }
    out
}

/// OrdType (40) and, for market orders, the Breakwater market type (5001).
pub fn ord_type_fields(order_type: OrderType) -> (u8, Option<u8>) {
    match order_type {
        OrderType::Limit => (b'2', None),
        OrderType::MarketBestOwn => (b'1', Some(b'O')),
        OrderType::MarketBestCounter => (b'1', Some(b'C')),
        OrderType::MarketBest5Cancel => (b'1', Some(b'5')),
        OrderType::MarketBest5Limit => (b'1', Some(b'L')),
        OrderType::MarketIoc => (b'1', Some(b'I')),
        OrderType::MarketFok => (b'1', Some(b'F')),
    }
}

/// TimeInForce (59).
pub fn tif_value(tif: TimeInForce) -> u8 {
    match tif {
        TimeInForce::Day => b'0',
        TimeInForce::Ioc => b'3',
        TimeInForce::Fok => b'4',
    }
}

/// OrdRejReason (103) for a Breakwater reject code.
pub fn ord_rej_reason(code: RejectCode) -> u64 {
    match code {
        RejectCode::UNKNOWN_SECURITY | RejectCode::VENUE_UNKNOWN_SECURITY => 1,
        RejectCode::MARKET_CLOSED | RejectCode::VENUE_CLOSED => 2,
        RejectCode::MAX_QUANTITY | RejectCode::VENUE_MAX_QUANTITY | RejectCode::MAX_NOTIONAL => 3,
        RejectCode::DUPLICATE_CL_ORD_ID | RejectCode::DUPLICATE_ORDER => 6,
        RejectCode::INVALID_FIELD_COMBINATION | RejectCode::VENUE_INVALID_ORDER => 11,
        RejectCode::INVALID_QUANTITY
        | RejectCode::LOT_VIOLATION
        | RejectCode::VENUE_LOT_VIOLATION => 13,
        RejectCode::UNKNOWN_ORDER | RejectCode::VENUE_UNKNOWN_ORDER => 5,
        RejectCode::UNKNOWN_ACCOUNT | RejectCode::ACCOUNT_NOT_PERMITTED => 15,
        _ => 99,
    }
}

/// CxlRejReason (102) for a Breakwater reject code.
pub fn cxl_rej_reason(code: RejectCode) -> u64 {
    match code {
        RejectCode::ORDER_CLOSED | RejectCode::VENUE_ORDER_CLOSED | RejectCode::NO_CANCEL_PHASE => {
            0
        }
        RejectCode::UNKNOWN_ORDER | RejectCode::VENUE_UNKNOWN_ORDER => 1,
        RejectCode::PENDING_CHANGE => 3,
        _ => 99,
    }
}

/// The binary protocol's type byte of a refused input, as the FIX MsgType.
fn fix_msg_type(binary: u8) -> &'static [u8] {
    use protocol::codec::msg_type as b;
    match binary {
        b::NEW_ORDER => b"D",
        b::CANCEL_ORDER => b"F",
        b::REPLACE_ORDER => b"G",
        b::MASS_CANCEL => b"q",
        _ => b"0",
    }
}

fn order_id_field(enc: &mut Encoder<'_>, order_id: OrderId) {
    if order_id == 0 { enc.bytes(tag::ORDER_ID, b"NONE") } else { enc.u64(tag::ORDER_ID, order_id) }
}

fn reject_fields(enc: &mut Encoder<'_>, code: RejectCode, detail: &RejectDetail) {
    let text = TextBuf::render(code, detail);
    enc.bytes(tag::TEXT, text.as_bytes());
    enc.u64(tag::BW_REJECT_CODE, u64::from(code.0));
}

/// Writes the body fields of a report (after the header the session wrote).
pub fn encode_report(report: &Report, enc: &mut Encoder<'_>) {
    match report {
        Report::Exec(er) => encode_exec(er, enc),
        Report::CancelReject(k) => {
            order_id_field(enc, k.order_id);
            enc.u64(tag::CL_ORD_ID, k.request_id);
            enc.u64(tag::ORIG_CL_ORD_ID, k.orig_cl_ord_id);
            enc.char(tag::ORD_STATUS, k.ord_status);
            enc.bytes(tag::ACCOUNT, k.account.as_str().as_bytes());
            enc.char(tag::CXL_REJ_RESPONSE_TO, k.response_to);
            enc.u64(tag::CXL_REJ_REASON, cxl_rej_reason(k.code));
            reject_fields(enc, k.code, &RejectDetail::None);
        }
        Report::MassCancel(m) => {
            enc.u64(tag::CL_ORD_ID, m.request_id);
            enc.bytes(tag::ORDER_ID, b"NONE");
            enc.char(tag::MASS_CANCEL_REQUEST_TYPE, m.request_type);
            let done = m.code.0 == 0;
            enc.char(tag::MASS_CANCEL_RESPONSE, if done { m.request_type } else { b'0' });
            if let Some(account) = m.account {
                enc.bytes(tag::ACCOUNT, account.as_str().as_bytes());
            }
            enc.u64(tag::TOTAL_AFFECTED_ORDERS, u64::from(m.affected));
            if !done {
                enc.u64(tag::MASS_CANCEL_REJECT_REASON, 99);
                reject_fields(enc, m.code, &RejectDetail::None);
            }
        }
        Report::BusinessReject(b) => {
            enc.bytes(tag::REF_MSG_TYPE, fix_msg_type(b.ref_msg_type));
            enc.u64(tag::BUSINESS_REJECT_REF_ID, b.ref_id);
            enc.u64(tag::BUSINESS_REJECT_REASON, 0);
            reject_fields(enc, b.code, &RejectDetail::None);
        }
    }
}

fn encode_exec(er: &ExecReport, enc: &mut Encoder<'_>) {
    order_id_field(enc, er.order_id);
    enc.u64(tag::CL_ORD_ID, er.cl_ord_id);
    if let Some(orig) = er.orig_cl_ord_id {
        enc.u64(tag::ORIG_CL_ORD_ID, orig);
    }
    let mut exec_id = [0u8; 21];
    let (prefix, n) = match er.exec_id {
        ExecIdRef::Trade(id) => (b'T', id),
        ExecIdRef::Stream(seq) => (b'S', seq),
        ExecIdRef::Status => (b'0', 0),
    };
    exec_id[0] = prefix;
    let mut digits = [0u8; 20];
    let len = crate::encode::write_u64(n, &mut digits);
    exec_id[1..=len].copy_from_slice(&digits[..len]);
    let exec_id = if er.exec_id == ExecIdRef::Status { &exec_id[..1] } else { &exec_id[..=len] };
    enc.bytes(tag::EXEC_ID, exec_id);
    enc.char(tag::EXEC_TYPE, er.exec_type);
    enc.char(tag::ORD_STATUS, er.ord_status);
    if let Some((code, _)) = er.reject {
        enc.u64(tag::ORD_REJ_REASON, ord_rej_reason(code));
    }
    enc.bytes(tag::ACCOUNT, er.account.as_str().as_bytes());
    if let Some(order) = er.order {
        enc.bytes(tag::SYMBOL, &symbol(order.security));
        enc.bytes(tag::SECURITY_EXCHANGE, exchange_code(order.security.market));
        enc.char(tag::SIDE, order.side.as_u8() + b'0');
        let (ord_type, market_type) = ord_type_fields(order.order_type);
        enc.char(tag::ORD_TYPE, ord_type);
        if let Some(m) = market_type {
            enc.char(tag::BW_MARKET_TYPE, m);
        }
    }
    if let Some(qty) = er.order_qty {
        enc.qty(tag::ORDER_QTY, qty);
    }
    if let Some(price) = er.price {
        enc.price(tag::PRICE, price);
    }
    if let Some((px, qty)) = er.last {
        enc.price(tag::LAST_PX, px);
        enc.qty(tag::LAST_QTY, qty);
    }
    enc.qty(tag::LEAVES_QTY, er.leaves);
    enc.qty(tag::CUM_QTY, er.cum);
    enc.price(tag::AVG_PX, er.avg_px);
    enc.timestamp(tag::TRANSACT_TIME, er.transact_time_ns);
    if let Some((code, detail)) = er.reject {
        reject_fields(enc, code, &detail);
    }
}
