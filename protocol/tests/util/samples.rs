//! One plain, valid message of every type, for the tests that need a fixed example
//! rather than a strategy.

#![allow(dead_code)] // Each test binary uses a different subset.

use protocol::codec::{
    CancelOrder, CancelRejected, Canceled, EndOfSession, EntryState, Executed, Login,
    LoginAccepted, LoginRejected, MassCancel, MassCancelAck, MassCancelScope, NewOrder,
    OrderAccepted, OrderEntryControl, OrderEntryStatus, OrderPending, OrderRejected, ReplaceOrder,
    Replaced, RequestKind, SystemEvent, SystemEventKind, msg_type,
};
use protocol::query::{
    AnswerHeader, FillFees, FillRow, FillsAnswer, FundsAnswer, FundsRow, OrderRow, OrderStatus,
    OrdersAnswer, PositionRow, PositionsAnswer, Query, QueryAnswer, QueryKind, QueryRejected, Rows,
    query_flags,
};
use protocol::{
    AccountId, AppMessage, CancelReason, ClientMessage, CreditTag, Liquidity, Market, OrderType,
    PendingStatus, Price, Qty, RejectCode, RejectDetail, SecurityId, Sequenced, ServerMessage,
    Side, TimeInForce, Token, TradingPhase, Username,
};

pub fn a001() -> AccountId {
    AccountId::new("A001").expect("valid account")
}

pub fn kweichow() -> SecurityId {
    SecurityId::new(Market::Sse, 600_519).expect("valid security")
}

pub fn sample_new_order() -> NewOrder {
    NewOrder {
        cl_ord_id: 1,
        account: a001(),
        security: kweichow(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price::from_yuan_fen(1500, 0),
        qty: Qty(100),
        flags: 0,
        credit: CreditTag::Cash,
    }
}

pub fn sample_executed() -> Executed {
    Executed {
        cl_ord_id: 1,
        order_id: 1_000_001,
        exec_id: 7_000_001,
        account: a001(),
        security: kweichow(),
        side: Side::Buy,
        liquidity: Liquidity::Removed,
        price: Price::from_yuan_fen(1500, 0),
        qty: Qty(100),
        leaves: Qty(0),
        cum: Qty(100),
    }
}

/// One valid client message of every type, in [`CLIENT_TYPES`] order.
pub fn sample_client() -> Vec<ClientMessage> {
    vec![
        ClientMessage::Login(Login {
            version: 1,
            username: Username::new("trader01").expect("valid"),
            token: Token::from_text("secret").expect("fits"),
            next_seq: 1,
        }),
        ClientMessage::Heartbeat,
        ClientMessage::Logout,
        ClientMessage::NewOrder(sample_new_order()),
        ClientMessage::CancelOrder(CancelOrder {
            request_id: 7,
            orig_cl_ord_id: 1,
            account: a001(),
        }),
        ClientMessage::ReplaceOrder(ReplaceOrder {
            request_id: 8,
            orig_cl_ord_id: 1,
            account: a001(),
            price: Price::from_yuan_fen(1499, 0),
            qty: Qty(100),
        }),
        ClientMessage::MassCancel(MassCancel {
            request_id: 9,
            scope: MassCancelScope::Security(a001(), kweichow()),
            block_new: false,
        }),
        ClientMessage::OrderEntryControl(OrderEntryControl {
            request_id: 10,
            account: a001(),
            enable: true,
        }),
        ClientMessage::Query(Query {
            query_id: 11,
            kind: QueryKind::Orders,
            account: a001(),
            cursor: 0,
            page_size: 0,
            flags: query_flags::OPEN_ONLY,
        }),
    ]
}

/// One valid server message of every type, in [`SERVER_TYPES`] order.
pub fn sample_server() -> Vec<ServerMessage> {
    let app =
        |seq, msg| ServerMessage::App(Sequenced { seq, ts_ns: 1_751_851_800_000_000_000, msg });
    vec![
        ServerMessage::LoginAccepted(LoginAccepted {
            version: 1,
            heartbeat_ms: 1_000,
            dead_peer_ms: 15_000,
            session_id: 20_250_707,
            next_seq: 1,
        }),
        ServerMessage::LoginRejected(LoginRejected { code: RejectCode::INVALID_CREDENTIALS }),
        ServerMessage::Heartbeat,
        ServerMessage::EndOfSession(EndOfSession { reason: RejectCode::LOGGED_OUT, last_seq: 9 }),
        app(
            1,
            AppMessage::OrderAccepted(OrderAccepted {
                cl_ord_id: 1,
                order_id: 1_000_001,
                account: a001(),
                security: kweichow(),
                side: Side::Buy,
                order_type: OrderType::Limit,
                tif: TimeInForce::Day,
                price: Price::from_yuan_fen(1500, 0),
                qty: Qty(100),
                flags: 0,
                credit: CreditTag::Cash,
            }),
        ),
        app(
            2,
            AppMessage::OrderRejected(OrderRejected {
                cl_ord_id: 2,
                account: a001(),
                code: RejectCode::PRICE_LIMIT,
                flags: 0,
                detail: RejectDetail::PriceBand {
                    price: Price::from_yuan_fen(11, 50),
                    lower: Price::from_yuan_fen(9, 0),
                    upper: Price::from_yuan_fen(11, 0),
                },
            }),
        ),
        app(3, AppMessage::Executed(sample_executed())),
        app(
            4,
            AppMessage::Canceled(Canceled {
                cl_ord_id: 3,
                order_id: 1_000_002,
                account: a001(),
                request_id: 7,
                canceled_qty: Qty(200),
                cum: Qty(0),
                reason: CancelReason::Client,
            }),
        ),
        app(
            5,
            AppMessage::CancelRejected(CancelRejected {
                request_id: 8,
                orig_cl_ord_id: 4,
                account: a001(),
                code: RejectCode::ORDER_CLOSED,
                kind: RequestKind::Cancel,
            }),
        ),
        app(
            6,
            AppMessage::Replaced(Replaced {
                request_id: 9,
                cl_ord_id: 5,
                order_id: 1_000_003,
                account: a001(),
                price: Price::from_yuan_fen(1500, 0),
                qty: Qty(200),
                leaves: Qty(100),
                priority_kept: true,
            }),
        ),
        app(
            7,
            AppMessage::SystemEvent(SystemEvent {
                kind: SystemEventKind::Halt,
                phase: TradingPhase::Halted,
                security: Some(kweichow()),
            }),
        ),
        app(
            8,
            AppMessage::BusinessReject(protocol::codec::BusinessReject {
                ref_msg_type: msg_type::NEW_ORDER,
                code: RejectCode::BAD_ENUM_VALUE,
                ref_id: 6,
            }),
        ),
        app(
            9,
            AppMessage::MassCancelAck(MassCancelAck {
                request_id: 10,
                account: Some(a001()),
                canceled_count: 3,
                code: RejectCode(0),
                blocked: true,
            }),
        ),
        app(
            10,
            AppMessage::OrderEntryStatus(OrderEntryStatus {
                request_id: 11,
                account: a001(),
                state: EntryState::Blocked,
                code: RejectCode(0),
            }),
        ),
        app(
            11,
            AppMessage::OrderPending(OrderPending {
                cl_ord_id: 7,
                order_id: 42,
                request_id: 0,
                account: a001(),
                status: PendingStatus::Queued,
                phase: TradingPhase::Break,
            }),
        ),
    ]
    .into_iter()
    .chain(sample_answers())
    .chain([app(
        12,
        AppMessage::FillFees(FillFees {
            cl_ord_id: 1,
            order_id: 1_000_001,
            exec_id: 1,
            account: a001(),
            commission: 50_000,
            stamp_duty: 0,
            transfer_fee: 1_500,
        }),
    )])
    .collect()
}

/// One answer of every type, in [`ANSWER_TYPES`] order.
pub fn sample_answers() -> Vec<ServerMessage> {
    let header =
        AnswerHeader { query_id: 11, as_of_seq: 3, account: a001(), next_cursor: 0, flags: 0 };
    let mut positions = Rows::new(PositionRow::EMPTY);
    positions.push(PositionRow {
        security: kweichow(),
        qty: 100,
        sellable: 0,
        frozen: 0,
        average_cost: Price::from_yuan_fen(1500, 0),
        last_price: Price::from_yuan_fen(1500, 0),
        market_value: Price::from_yuan_fen(150_000, 0).0,
        unrealized_pnl: 0,
    });
    let mut orders = Rows::new(OrderRow::EMPTY);
    orders.push(OrderRow {
        cl_ord_id: 1,
        security: kweichow(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        status: OrderStatus::Filled,
        code: RejectCode(0),
        price: Price::from_yuan_fen(1500, 0),
        qty: Qty(100),
        filled_qty: Qty(100),
        open_qty: Qty(0),
        average_price: Price::from_yuan_fen(1500, 0),
        fees_paid: 51_500,
        entered_ns: 1_751_851_800_000_000_000,
    });
    let mut fills = Rows::new(FillRow::EMPTY);
    fills.push(FillRow {
        exec_id: 1,
        cl_ord_id: 1,
        security: kweichow(),
        side: Side::Buy,
        price: Price::from_yuan_fen(1500, 0),
        qty: Qty(100),
        commission: 50_000,
        stamp_duty: 0,
        transfer_fee: 1_500,
        booked_ns: 1_751_851_800_000_000_000,
    });
    vec![
        ServerMessage::Query(QueryAnswer::Funds(FundsAnswer {
            header,
            funds: FundsRow { cash_available: 1, ..FundsRow::default() },
        })),
        ServerMessage::Query(QueryAnswer::Positions(PositionsAnswer { header, rows: positions })),
        ServerMessage::Query(QueryAnswer::Orders(OrdersAnswer { header, rows: orders })),
        ServerMessage::Query(QueryAnswer::Fills(FillsAnswer { header, rows: fills })),
        ServerMessage::Query(QueryAnswer::Rejected(QueryRejected {
            query_id: 12,
            account: Some(a001()),
            kind: QueryKind::Funds.as_u8(),
            code: RejectCode::QUERY_RATE_LIMITED,
        })),
    ]
}
