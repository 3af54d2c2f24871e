//! Version 3: the query request, its answers and FillFees encode and decode
//! losslessly, every page fits one frame, and malformed answers are errors.

use protocol::codec::{DecodeError, body_len, msg_type};
use protocol::query::{
    AnswerHeader, FillFees, FillRow, FillsAnswer, FundsAnswer, FundsRow, MAX_FILL_ROWS,
    MAX_ORDER_ROWS, MAX_POSITION_ROWS, OrderRow, OrderStatus, OrdersAnswer, PositionRow,
    PositionsAnswer, Query, QueryAnswer, QueryKind, QueryRejected, Rows, VERSION_QUERIES,
    answer_header_flags, query_flags,
};
use protocol::{
    AccountId, AppMessage, ClientMessage, MAX_FRAME_LEN, Market, OrderType, PROTOCOL_VERSION,
    Price, Qty, RejectCode, SecurityId, Sequenced, ServerMessage, Side,
};

fn a001() -> AccountId {
    AccountId::new("A001").unwrap()
}

fn security(code: u32) -> SecurityId {
    SecurityId::new(Market::Sse, code).unwrap()
}

fn header(next_cursor: u32) -> AnswerHeader {
    AnswerHeader { query_id: 77, as_of_seq: 12, account: a001(), next_cursor, flags: 0 }
}

fn server_round_trip(msg: ServerMessage) -> Vec<u8> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = msg.encode_to_slice(&mut buf).unwrap();
    assert!(n <= MAX_FRAME_LEN);
    assert_eq!(ServerMessage::decode(&buf[..n]), Ok(msg));
    buf[..n].to_vec()
}

fn position(i: u32) -> PositionRow {
    PositionRow {
        security: security(600_000 + i),
        qty: 1000 + u64::from(i),
        sellable: 500,
        frozen: 100,
        average_cost: Price(1_234_500),
        last_price: Price(1_300_000),
        market_value: 1_300_000_000,
        unrealized_pnl: -5,
    }
}

fn order(i: u32) -> OrderRow {
    OrderRow {
        cl_ord_id: u64::from(i) + 1,
        security: security(600_519),
        side: Side::Sell,
        order_type: OrderType::Limit,
        status: OrderStatus::VenueRejected,
        code: RejectCode(5001),
        price: Price(17_000_000),
        qty: Qty(300),
        filled_qty: Qty(100),
        open_qty: Qty(0),
        average_price: Price(16_990_000),
        fees_paid: 50_000,
        entered_ns: 1_700_000_000_000_000_000,
    }
}

fn fill(i: u32) -> FillRow {
    FillRow {
        exec_id: u64::from(i) + 9,
        cl_ord_id: 3,
        security: security(600_519),
        side: Side::Sell,
        price: Price(17_000_000),
        qty: Qty(100),
        commission: 50_000,
        stamp_duty: 85_000,
        transfer_fee: 1_700,
        booked_ns: 5,
    }
}

#[test]
fn version_3_is_the_crates_version() {
    assert_eq!(PROTOCOL_VERSION, 3);
    assert_eq!(VERSION_QUERIES, 3);
}

#[test]
fn a_query_round_trips_and_refuses_undefined_kinds_and_flags() {
    let q = Query {
        query_id: u64::MAX,
        kind: QueryKind::Orders,
        account: a001(),
        cursor: 42,
        page_size: 3,
        flags: query_flags::OPEN_ONLY,
    };
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = ClientMessage::Query(q).encode_to_slice(&mut buf).unwrap();
    assert_eq!(n, 3 + body_len::QUERY);
    assert_eq!(buf[2], msg_type::QUERY);
    assert_eq!(ClientMessage::decode(&buf[..n]), Ok(ClientMessage::Query(q)));
    assert!(q.open_only());

    let mut bad_kind = buf;
    bad_kind[3 + 28] = 9;
    assert_eq!(
        ClientMessage::decode(&bad_kind[..n]),
        Err(DecodeError::BadEnum { field: "kind", value: 9 })
    );
    let mut bad_flags = buf;
    bad_flags[3 + 30] = 0x80;
    assert_eq!(
        ClientMessage::decode(&bad_flags[..n]),
        Err(DecodeError::BadEnum { field: "flags", value: 0x80 })
    );
}

#[test]
fn page_sizes_clamp_to_what_one_frame_holds() {
    assert_eq!((MAX_POSITION_ROWS, MAX_ORDER_ROWS, MAX_FILL_ROWS), (7, 5, 6));
    let q = |kind, page_size| Query {
        query_id: 1,
        kind,
        account: a001(),
        cursor: 0,
        page_size,
        flags: 0,
    };
    assert_eq!(q(QueryKind::Orders, 0).rows_wanted(), Some(5));
    assert_eq!(q(QueryKind::Orders, 5).rows_wanted(), Some(5));
    assert_eq!(q(QueryKind::Orders, 6).rows_wanted(), None);
    assert_eq!(q(QueryKind::Fills, 6).rows_wanted(), Some(6));
    assert_eq!(q(QueryKind::Positions, 8).rows_wanted(), None);
    assert_eq!(q(QueryKind::Funds, 0).rows_wanted(), Some(1));
}

#[test]
fn full_pages_of_every_kind_round_trip_within_one_frame() {
    let mut positions = Rows::new(PositionRow::EMPTY);
    for i in 0..MAX_POSITION_ROWS as u32 {
        assert!(positions.push(position(i)));
    }
    assert!(!positions.push(position(99)), "a full page takes no more rows");
    let frame = server_round_trip(ServerMessage::Query(QueryAnswer::Positions(PositionsAnswer {
        header: header(8),
        rows: positions,
    })));
    assert_eq!(frame.len(), 3 + 40 + 7 * 64);

    let mut orders = Rows::new(OrderRow::EMPTY);
    for i in 0..MAX_ORDER_ROWS as u32 {
        orders.push(order(i));
    }
    let frame = server_round_trip(ServerMessage::Query(QueryAnswer::Orders(OrdersAnswer {
        header: header(0),
        rows: orders,
    })));
    assert_eq!(frame.len(), 3 + 40 + 5 * 80);

    let mut fills = Rows::new(FillRow::EMPTY);
    for i in 0..MAX_FILL_ROWS as u32 {
        fills.push(fill(i));
    }
    let mut h = header(3);
    h.flags = answer_header_flags::INCOMPLETE;
    let frame = server_round_trip(ServerMessage::Query(QueryAnswer::Fills(FillsAnswer {
        header: h,
        rows: fills,
    })));
    assert_eq!(frame.len(), 3 + 40 + 6 * 72);
}

#[test]
fn empty_pages_funds_and_rejections_round_trip() {
    let empty = Rows::new(FillRow::EMPTY);
    let frame = server_round_trip(ServerMessage::Query(QueryAnswer::Fills(FillsAnswer {
        header: header(0),
        rows: empty,
    })));
    assert_eq!(frame.len(), 3 + 40);
    let funds = FundsRow {
        cash_available: 1,
        cash_frozen: 2,
        cash_debit: 3,
        market_value: 4,
        total_assets: 5,
        realized_pnl_today: -6,
        commission_today: 7,
        stamp_duty_today: 8,
        transfer_fee_today: 9,
        fees_today: 24,
    };
    let frame = server_round_trip(ServerMessage::Query(QueryAnswer::Funds(FundsAnswer {
        header: header(0),
        funds,
    })));
    assert_eq!(frame.len(), 3 + body_len::FUNDS_ANSWER);
    for account in [Some(a001()), None] {
        server_round_trip(ServerMessage::Query(QueryAnswer::Rejected(QueryRejected {
            query_id: 5,
            account,
            kind: QueryKind::Fills.as_u8(),
            code: RejectCode::QUERY_RATE_LIMITED,
        })));
    }
}

#[test]
fn an_answer_whose_row_count_disagrees_with_its_length_is_refused() {
    let mut rows = Rows::new(OrderRow::EMPTY);
    rows.push(order(0));
    let answer =
        ServerMessage::Query(QueryAnswer::Orders(OrdersAnswer { header: header(0), rows }));
    let mut frame = server_round_trip(answer);
    frame[3 + 36] = 2; // claims two rows, carries one
    assert!(matches!(ServerMessage::decode(&frame), Err(DecodeError::BadBodyLength { .. })));
    frame[3 + 36] = 6; // more than a page holds
    assert_eq!(ServerMessage::decode(&frame), Err(DecodeError::OutOfRange { field: "row_count" }));
}

#[test]
fn fill_fees_round_trip_and_a_wrong_total_is_refused() {
    let fees = FillFees {
        cl_ord_id: 3,
        order_id: 4,
        exec_id: 5,
        account: a001(),
        commission: 50_000,
        stamp_duty: 85_000,
        transfer_fee: 1_700,
    };
    assert_eq!(fees.total(), 136_700);
    let msg = ServerMessage::App(Sequenced { seq: 9, ts_ns: 10, msg: AppMessage::FillFees(fees) });
    let mut frame = server_round_trip(msg);
    assert_eq!(frame.len(), 3 + body_len::FILL_FEES);
    assert_eq!(frame[2], msg_type::FILL_FEES);
    frame[3 + 80] ^= 1;
    assert_eq!(ServerMessage::decode(&frame), Err(DecodeError::OutOfRange { field: "total" }));
}

#[test]
fn order_statuses_say_which_may_still_trade() {
    let open: Vec<_> = OrderStatus::ALL.iter().filter(|s| s.is_open()).collect();
    assert_eq!(open, [&OrderStatus::PendingVenue, &OrderStatus::Open, &OrderStatus::PartlyFilled]);
}

#[cfg(feature = "serde")]
#[test]
fn rows_round_trip_through_serde() {
    fn round_trip<
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + core::fmt::Debug,
    >(
        value: T,
    ) {
        let config = bincode::config::standard();
        let bytes = bincode::serde::encode_to_vec(&value, config).unwrap();
        let (back, _): (T, usize) = bincode::serde::decode_from_slice(&bytes, config).unwrap();
        assert_eq!(back, value);
    }
    round_trip(fill(0));
    round_trip(order(0));
    round_trip(position(0));
    round_trip(FundsRow { fees_today: 3, ..FundsRow::default() });
    round_trip(header(4));
}
