//! Query answers from the risk engine's views: funds, positions, the day's orders
//! and fills, one page each, as the protocol's rows.
//!
//! Runs on the engine thread between two inputs (never during one), reading state
//! only; the answer is consistent with every stream message emitted so far. The
//! scratch vectors are reserved once, so a query allocates nothing (a positions
//! query of an account with more holdings than reserved grows its scratch once).

use protocol::RejectCode;
use protocol::query::{
    AnswerHeader, FillRow, FillsAnswer, FundsAnswer, FundsRow, OrderRow, OrderStatus, OrdersAnswer,
    PositionRow, PositionsAnswer, Query, QueryAnswer, QueryKind, QueryRejected, Rows,
    answer_header_flags,
};
use risk_check::{FillRecord, OrderFilter, OrderView, PositionView, RiskEngine};

/// Reused buffers for the risk engine's views.
#[derive(Debug)]
pub struct AnswerScratch {
    positions: Vec<PositionView>,
    orders: Vec<OrderView>,
    fills: Vec<FillRecord>,
}

impl Default for AnswerScratch {
    fn default() -> Self {
        AnswerScratch {
            positions: Vec::with_capacity(256),
            orders: Vec::with_capacity(protocol::query::MAX_ORDER_ROWS),
            fills: Vec::with_capacity(protocol::query::MAX_FILL_ROWS),
        }
    }
}

/// The answer to `query` at `as_of_seq`, from `risk`. The caller has checked the
/// asker's permission and the page size (`rows`, at most the kind's maximum).
pub fn answer(
    risk: &RiskEngine,
    scratch: &mut AnswerScratch,
    query: &Query,
    rows: usize,
    as_of_seq: u64,
) -> QueryAnswer {
    let mut header = AnswerHeader {
        query_id: query.query_id,
        as_of_seq,
        account: query.account,
        next_cursor: 0,
        flags: 0,
    };
    let unknown = QueryAnswer::Rejected(QueryRejected {
        query_id: query.query_id,
        account: Some(query.account),
        kind: query.kind.as_u8(),
        code: RejectCode::UNKNOWN_ACCOUNT,
    });
    match query.kind {
        QueryKind::Funds => match risk.funds(&query.account) {
            Some(f) => QueryAnswer::Funds(FundsAnswer {
                header,
                funds: FundsRow {
                    cash_available: f.cash_available,
                    cash_frozen: f.cash_frozen,
                    cash_debit: f.cash_debit,
                    market_value: f.market_value,
                    total_assets: f.total_assets,
                    realized_pnl_today: f.realized_pnl_today,
                    commission_today: f.fees_today.commission,
                    stamp_duty_today: f.fees_today.stamp_duty,
                    transfer_fee_today: f.fees_today.transfer,
                    fees_today: f.fees_today.total(),
                },
            }),
            None => unknown,
        },
        QueryKind::Positions => {
            scratch.positions.clear();
            if risk.positions(&query.account, &mut scratch.positions).is_none() {
                return unknown;
            }
            let start = query.cursor as usize;
            let mut page = Rows::new(PositionRow::EMPTY);
            for p in scratch.positions.iter().skip(start).take(rows) {
                page.push(position_row(p));
            }
            if start + page.len() < scratch.positions.len() {
                header.next_cursor = (start + page.len()) as u32;
            }
            QueryAnswer::Positions(PositionsAnswer { header, rows: page })
        }
        QueryKind::Orders => {
            if risk.funds(&query.account).is_none() {
                return unknown;
            }
            let filter = if query.open_only() { OrderFilter::OpenOnly } else { OrderFilter::All };
            scratch.orders.clear();
            let at =
                risk.orders_page(&query.account, filter, query.cursor, rows, &mut scratch.orders);
            header.next_cursor = at.next.unwrap_or(0);
            let mut page = Rows::new(OrderRow::EMPTY);
            for o in &scratch.orders {
                page.push(order_row(o));
            }
            QueryAnswer::Orders(OrdersAnswer { header, rows: page })
        }
        QueryKind::Fills => {
            if risk.funds(&query.account).is_none() {
                return unknown;
            }
            scratch.fills.clear();
            let at = risk.fills_page(&query.account, query.cursor, rows, &mut scratch.fills);
            header.next_cursor = at.next.unwrap_or(0);
            if risk.fills_not_recorded() > 0 {
                header.flags |= answer_header_flags::INCOMPLETE;
            }
            let mut page = Rows::new(FillRow::EMPTY);
            for f in &scratch.fills {
                page.push(fill_row(f));
            }
            QueryAnswer::Fills(FillsAnswer { header, rows: page })
        }
    }
}

fn position_row(p: &PositionView) -> PositionRow {
    PositionRow {
        security: p.security,
        qty: p.qty,
        sellable: p.sellable,
        frozen: p.frozen,
        average_cost: p.average_cost,
        last_price: p.last_price,
        market_value: p.market_value,
        unrealized_pnl: p.unrealized_pnl,
    }
}

fn order_row(o: &OrderView) -> OrderRow {
    use risk_check::OrderStatus as S;
    let (status, code) = match o.status {
        S::PendingVenue => (OrderStatus::PendingVenue, RejectCode(0)),
        S::Open => (OrderStatus::Open, RejectCode(0)),
        S::PartlyFilled => (OrderStatus::PartlyFilled, RejectCode(0)),
        S::Filled => (OrderStatus::Filled, RejectCode(0)),
        S::PartlyFilledCanceled => (OrderStatus::PartlyFilledCanceled, RejectCode(0)),
        S::Canceled => (OrderStatus::Canceled, RejectCode(0)),
        S::Rejected { code } => (OrderStatus::Rejected, code),
        S::VenueRejected { code } => (OrderStatus::VenueRejected, code),
    };
    OrderRow {
        cl_ord_id: o.cl_ord_id,
        security: o.security,
        side: o.side,
        order_type: o.order_type,
        status,
        code,
        price: o.price,
        qty: o.qty,
        filled_qty: o.filled_qty,
        open_qty: o.open_qty,
        average_price: o.average_price,
        fees_paid: o.fees_paid,
        entered_ns: o.entered_ns,
    }
}

fn fill_row(f: &FillRecord) -> FillRow {
    FillRow {
        exec_id: f.exec_id,
        cl_ord_id: f.cl_ord_id,
        security: f.security,
        side: f.side,
        price: f.price,
        qty: f.qty,
        commission: f.fees.commission,
        stamp_duty: f.fees.stamp_duty,
        transfer_fee: f.fees.transfer,
        booked_ns: f.booked_ns,
    }
}
