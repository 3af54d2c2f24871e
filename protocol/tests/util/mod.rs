//! Shared helpers for the protocol's integration tests: proptest strategies that
//! cover each message's whole valid domain, the case-count configuration, and the
//! byte ranges a decoder ignores (reserved bytes and fields unused by a variant).

#![allow(dead_code)] // Each test binary uses a different subset.

mod samples;
#[allow(unused_imports)] // Each test binary uses a different subset.
pub use samples::*;

use std::ops::Range;

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config;
use protocol::codec::{
    CancelOrder, CancelRejected, Canceled, EndOfSession, EntryState, Executed, Login,
    LoginAccepted, LoginRejected, MassCancel, MassCancelAck, MassCancelScope, NewOrder,
    OrderAccepted, OrderEntryControl, OrderEntryStatus, OrderPending, OrderRejected, ReplaceOrder,
    Replaced, RequestKind, SystemEvent, SystemEventKind, body_len, msg_type, order_flags,
};
use protocol::query::{
    AnswerHeader, FillFees, FillRow, FillsAnswer, FundsAnswer, FundsRow, MAX_FILL_ROWS,
    MAX_ORDER_ROWS, MAX_POSITION_ROWS, OrderRow, OrderStatus, OrdersAnswer, PositionRow,
    PositionsAnswer, Query, QueryAnswer, QueryKind, QueryRejected, Rows, query_flags,
};
use protocol::{
    AccountId, AppMessage, CancelReason, ClientMessage, CreditTag, Liquidity, Market, OrderType,
    PendingStatus, Price, Qty, RejectCode, RejectDetail, SecurityId, Sequenced, ServerMessage,
    Side, TimeInForce, Token, TradingPhase, Username,
};

/// Bytes before the body: `u16 length | u8 type`.
pub const HEADER: usize = 3;

/// A proptest configuration with `default_cases` cases unless the `PROPTEST_CASES`
/// environment variable says otherwise. (`Config::with_cases` alone would override
/// the variable, so it is read here.)
pub fn config(default_cases: u32) -> Config {
    let cases =
        std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default_cases);
    Config { cases, failure_persistence: None, ..Config::default() }
}

/// Encodes into a fresh buffer pre-filled with garbage, so that a field the
/// encoder forgot to write (or to zero) shows up as a difference.
pub fn encode_client(m: &ClientMessage) -> Vec<u8> {
    let mut buf = [0xa5u8; protocol::MAX_FRAME_LEN];
    let n = m.encode_to_slice(&mut buf).expect("a maximum frame always fits");
    buf[..n].to_vec()
}

/// As [`encode_client`], for the server direction.
pub fn encode_server(m: &ServerMessage) -> Vec<u8> {
    let mut buf = [0x5au8; protocol::MAX_FRAME_LEN];
    let n = m.encode_to_slice(&mut buf).expect("a maximum frame always fits");
    buf[..n].to_vec()
}

// ---------------------------------------------------------------------------
// Strategies: every value the decoder accepts, nothing it refuses.
// ---------------------------------------------------------------------------

fn printable(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(0x21u8..=0x7e, 1..=max)
        .prop_map(|bytes| String::from_utf8(bytes).expect("printable ASCII is UTF-8"))
}

pub fn account() -> impl Strategy<Value = AccountId> {
    printable(AccountId::LEN).prop_map(|s| AccountId::new(&s).expect("valid by construction"))
}

pub fn username() -> impl Strategy<Value = Username> {
    printable(Username::LEN).prop_map(|s| Username::new(&s).expect("valid by construction"))
}

pub fn security() -> impl Strategy<Value = SecurityId> {
    (select(Market::ALL), 0..=SecurityId::CODE_MAX)
        .prop_map(|(m, c)| SecurityId::new(m, c).expect("code in range"))
}

pub fn reject_code() -> impl Strategy<Value = RejectCode> {
    // Any u16 decodes; defined codes are weighted in so they are well covered.
    prop_oneof![select(RejectCode::ALL), any::<u16>().prop_map(RejectCode)]
}

pub fn reject_detail() -> impl Strategy<Value = RejectDetail> {
    prop_oneof![
        Just(RejectDetail::None),
        (any::<i64>(), any::<i64>(), any::<i64>()).prop_map(|(p, l, u)| {
            RejectDetail::PriceBand { price: Price(p), lower: Price(l), upper: Price(u) }
        }),
        (any::<u64>(), any::<u64>()).prop_map(|(qty, limit)| RejectDetail::Quantity { qty, limit }),
        (any::<i64>(), any::<i64>())
            .prop_map(|(needed, available)| RejectDetail::Amount { needed, available }),
        (any::<u64>(), any::<u64>())
            .prop_map(|(count, limit)| RejectDetail::Count { count, limit }),
        (1u8..=5, 1u8..=5).prop_map(|(client_class, product_level)| {
            RejectDetail::Suitability { client_class, product_level }
        }),
    ]
}

pub fn login() -> impl Strategy<Value = Login> {
    (1u8..=255, username(), any::<[u8; 32]>(), any::<u64>()).prop_map(
        |(version, username, token, next_seq)| Login {
            version,
            username,
            token: Token(token),
            next_seq,
        },
    )
}

pub fn new_order() -> impl Strategy<Value = NewOrder> {
    (
        (any::<u64>(), account(), security(), select(Side::ALL), select(OrderType::ALL)),
        (select(TimeInForce::ALL), any::<i64>(), any::<u64>(), 0..=order_flags::ALL),
        select(CreditTag::ALL),
    )
        .prop_map(
            |((cl_ord_id, account, security, side, order_type), (tif, p, q, flags), credit)| {
                NewOrder {
                    cl_ord_id,
                    account,
                    security,
                    side,
                    order_type,
                    tif,
                    price: Price(p),
                    qty: Qty(q),
                    flags,
                    credit,
                }
            },
        )
}

pub fn mass_cancel_scope() -> impl Strategy<Value = MassCancelScope> {
    prop_oneof![
        account().prop_map(MassCancelScope::Account),
        (account(), security()).prop_map(|(a, s)| MassCancelScope::Security(a, s)),
        Just(MassCancelScope::Login),
    ]
}

pub fn client_message() -> impl Strategy<Value = ClientMessage> {
    prop_oneof![
        login().prop_map(ClientMessage::Login),
        Just(ClientMessage::Heartbeat),
        Just(ClientMessage::Logout),
        new_order().prop_map(ClientMessage::NewOrder),
        (any::<u64>(), any::<u64>(), account()).prop_map(
            |(request_id, orig_cl_ord_id, account)| {
                ClientMessage::CancelOrder(CancelOrder { request_id, orig_cl_ord_id, account })
            }
        ),
        (any::<u64>(), any::<u64>(), account(), any::<i64>(), any::<u64>()).prop_map(
            |(request_id, orig_cl_ord_id, account, p, q)| {
                ClientMessage::ReplaceOrder(ReplaceOrder {
                    request_id,
                    orig_cl_ord_id,
                    account,
                    price: Price(p),
                    qty: Qty(q),
                })
            }
        ),
        (any::<u64>(), mass_cancel_scope(), any::<bool>()).prop_map(
            |(request_id, scope, block_new)| {
                ClientMessage::MassCancel(MassCancel { request_id, scope, block_new })
            }
        ),
        (any::<u64>(), account(), any::<bool>()).prop_map(|(request_id, account, enable)| {
            ClientMessage::OrderEntryControl(OrderEntryControl { request_id, account, enable })
        }),
        query().prop_map(ClientMessage::Query),
    ]
}

pub fn query() -> impl Strategy<Value = Query> {
    (
        any::<u64>(),
        select(QueryKind::ALL),
        account(),
        any::<u32>(),
        any::<u8>(),
        0..=query_flags::ALL,
    )
        .prop_map(|(query_id, kind, account, cursor, page_size, flags)| Query {
            query_id,
            kind,
            account,
            cursor,
            page_size,
            flags,
        })
}

pub fn answer_header() -> impl Strategy<Value = AnswerHeader> {
    (any::<u64>(), any::<u64>(), account(), any::<u32>(), any::<u8>()).prop_map(
        |(query_id, as_of_seq, account, next_cursor, flags)| AnswerHeader {
            query_id,
            as_of_seq,
            account,
            next_cursor,
            flags,
        },
    )
}

pub fn funds_row() -> impl Strategy<Value = FundsRow> {
    proptest::array::uniform10(any::<i64>()).prop_map(|v| FundsRow {
        cash_available: v[0],
        cash_frozen: v[1],
        cash_debit: v[2],
        market_value: v[3],
        total_assets: v[4],
        realized_pnl_today: v[5],
        commission_today: v[6],
        stamp_duty_today: v[7],
        transfer_fee_today: v[8],
        fees_today: v[9],
    })
}

pub fn position_row() -> impl Strategy<Value = PositionRow> {
    (security(), proptest::array::uniform3(any::<u64>()), proptest::array::uniform4(any::<i64>()))
        .prop_map(|(security, q, m)| PositionRow {
            security,
            qty: q[0],
            sellable: q[1],
            frozen: q[2],
            average_cost: Price(m[0]),
            last_price: Price(m[1]),
            market_value: m[2],
            unrealized_pnl: m[3],
        })
}

pub fn order_row() -> impl Strategy<Value = OrderRow> {
    (
        (any::<u64>(), security(), select(Side::ALL), select(OrderType::ALL)),
        (select(OrderStatus::ALL), any::<u16>(), any::<i64>(), any::<i64>(), any::<i64>()),
        proptest::array::uniform4(any::<u64>()),
    )
        .prop_map(
            |((cl_ord_id, security, side, order_type), (status, code, p, a, fees), q)| OrderRow {
                cl_ord_id,
                security,
                side,
                order_type,
                status,
                code: RejectCode(code),
                price: Price(p),
                qty: Qty(q[0]),
                filled_qty: Qty(q[1]),
                open_qty: Qty(q[2]),
                average_price: Price(a),
                fees_paid: fees,
                entered_ns: q[3],
            },
        )
}

pub fn fill_row() -> impl Strategy<Value = FillRow> {
    (
        (any::<u64>(), any::<u64>(), security(), select(Side::ALL), any::<i64>(), any::<u64>()),
        proptest::array::uniform3(any::<i64>()),
        any::<u64>(),
    )
        .prop_map(|((exec_id, cl_ord_id, security, side, p, qty), fees, booked_ns)| FillRow {
            exec_id,
            cl_ord_id,
            security,
            side,
            price: Price(p),
            qty: Qty(qty),
            commission: fees[0],
            stamp_duty: fees[1],
            transfer_fee: fees[2],
            booked_ns,
        })
}

fn rows<T: Copy + core::fmt::Debug, const N: usize>(
    row: impl Strategy<Value = T>,
    empty: T,
) -> impl Strategy<Value = Rows<T, N>> {
    proptest::collection::vec(row, 0..=N).prop_map(move |v| {
        let mut rows = Rows::new(empty);
        for r in v {
            rows.push(r);
        }
        rows
    })
}

pub fn query_answer_of_type(t: u8) -> BoxedStrategy<QueryAnswer> {
    match t {
        msg_type::FUNDS_ANSWER => (answer_header(), funds_row())
            .prop_map(|(header, funds)| QueryAnswer::Funds(FundsAnswer { header, funds }))
            .boxed(),
        msg_type::POSITIONS_ANSWER => {
            (answer_header(), rows::<_, MAX_POSITION_ROWS>(position_row(), PositionRow::EMPTY))
                .prop_map(|(header, rows)| QueryAnswer::Positions(PositionsAnswer { header, rows }))
                .boxed()
        }
        msg_type::ORDERS_ANSWER => {
            (answer_header(), rows::<_, MAX_ORDER_ROWS>(order_row(), OrderRow::EMPTY))
                .prop_map(|(header, rows)| QueryAnswer::Orders(OrdersAnswer { header, rows }))
                .boxed()
        }
        msg_type::FILLS_ANSWER => {
            (answer_header(), rows::<_, MAX_FILL_ROWS>(fill_row(), FillRow::EMPTY))
                .prop_map(|(header, rows)| QueryAnswer::Fills(FillsAnswer { header, rows }))
                .boxed()
        }
        msg_type::QUERY_REJECTED => {
            (any::<u64>(), proptest::option::of(account()), any::<u8>(), reject_code())
                .prop_map(|(query_id, account, kind, code)| {
                    QueryAnswer::Rejected(QueryRejected { query_id, account, kind, code })
                })
                .boxed()
        }
        other => panic!("0x{other:02x} is not a query answer type"),
    }
}

pub fn query_answer() -> impl Strategy<Value = QueryAnswer> {
    let all: Vec<_> = ANSWER_TYPES.iter().map(|&t| (1, query_answer_of_type(t))).collect();
    proptest::strategy::Union::new_weighted(all)
}

/// The unsequenced answers to queries (version 3).
pub const ANSWER_TYPES: &[u8] = &[
    msg_type::FUNDS_ANSWER,
    msg_type::POSITIONS_ANSWER,
    msg_type::ORDERS_ANSWER,
    msg_type::FILLS_ANSWER,
    msg_type::QUERY_REJECTED,
];

/// Row length of a paged answer type, `None` for other types.
pub fn answer_row_len(msg_type: u8) -> Option<usize> {
    match msg_type {
        msg_type::POSITIONS_ANSWER => Some(protocol::query::POSITION_ROW_LEN),
        msg_type::ORDERS_ANSWER => Some(protocol::query::ORDER_ROW_LEN),
        msg_type::FILLS_ANSWER => Some(protocol::query::FILL_ROW_LEN),
        _ => None,
    }
}

pub fn order_accepted() -> impl Strategy<Value = OrderAccepted> {
    (
        (any::<u64>(), any::<u64>(), account(), security(), select(Side::ALL)),
        (select(OrderType::ALL), select(TimeInForce::ALL), any::<i64>(), any::<u64>()),
        (any::<u8>(), select(CreditTag::ALL)),
    )
        .prop_map(
            |(
                (cl_ord_id, order_id, account, security, side),
                (order_type, tif, p, q),
                (flags, credit),
            )| {
                OrderAccepted {
                    cl_ord_id,
                    order_id,
                    account,
                    security,
                    side,
                    order_type,
                    tif,
                    price: Price(p),
                    qty: Qty(q),
                    flags,
                    credit,
                }
            },
        )
}

pub fn executed() -> impl Strategy<Value = Executed> {
    (
        (any::<u64>(), any::<u64>(), any::<u64>(), account(), security()),
        (select(Side::ALL), select(Liquidity::ALL), any::<i64>()),
        (any::<u64>(), any::<u64>(), any::<u64>()),
    )
        .prop_map(
            |(
                (cl_ord_id, order_id, exec_id, account, security),
                (side, liquidity, p),
                (q, l, c),
            )| {
                Executed {
                    cl_ord_id,
                    order_id,
                    exec_id,
                    account,
                    security,
                    side,
                    liquidity,
                    price: Price(p),
                    qty: Qty(q),
                    leaves: Qty(l),
                    cum: Qty(c),
                }
            },
        )
}

/// Application messages of one type (by type byte), over the type's whole domain.
pub fn app_of_type(t: u8) -> BoxedStrategy<AppMessage> {
    match t {
        msg_type::ORDER_ACCEPTED => order_accepted().prop_map(AppMessage::OrderAccepted).boxed(),
        msg_type::ORDER_REJECTED => {
            (any::<u64>(), account(), reject_code(), any::<u8>(), reject_detail())
                .prop_map(|(cl_ord_id, account, code, flags, detail)| {
                    AppMessage::OrderRejected(OrderRejected {
                        cl_ord_id,
                        account,
                        code,
                        flags,
                        detail,
                    })
                })
                .boxed()
        }
        msg_type::EXECUTED => executed().prop_map(AppMessage::Executed).boxed(),
        msg_type::CANCELED => (
            (any::<u64>(), any::<u64>(), account(), any::<u64>()),
            (any::<u64>(), any::<u64>(), select(CancelReason::ALL)),
        )
            .prop_map(|((cl_ord_id, order_id, account, request_id), (cq, cum, reason))| {
                AppMessage::Canceled(Canceled {
                    cl_ord_id,
                    order_id,
                    account,
                    request_id,
                    canceled_qty: Qty(cq),
                    cum: Qty(cum),
                    reason,
                })
            })
            .boxed(),
        msg_type::CANCEL_REJECTED => (
            any::<u64>(),
            any::<u64>(),
            account(),
            reject_code(),
            select(&[RequestKind::Cancel, RequestKind::Replace][..]),
        )
            .prop_map(|(request_id, orig_cl_ord_id, account, code, kind)| {
                AppMessage::CancelRejected(CancelRejected {
                    request_id,
                    orig_cl_ord_id,
                    account,
                    code,
                    kind,
                })
            })
            .boxed(),
        msg_type::REPLACED => (
            (any::<u64>(), any::<u64>(), any::<u64>(), account()),
            (any::<i64>(), any::<u64>(), any::<u64>(), any::<bool>()),
        )
            .prop_map(|((request_id, cl_ord_id, order_id, account), (p, q, l, priority_kept))| {
                AppMessage::Replaced(Replaced {
                    request_id,
                    cl_ord_id,
                    order_id,
                    account,
                    price: Price(p),
                    qty: Qty(q),
                    leaves: Qty(l),
                    priority_kept,
                })
            })
            .boxed(),
        msg_type::SYSTEM_EVENT => (
            select(SYSTEM_EVENT_KINDS),
            select(TradingPhase::ALL),
            proptest::option::of(security()),
        )
            .prop_map(|(kind, phase, security)| {
                AppMessage::SystemEvent(SystemEvent { kind, phase, security })
            })
            .boxed(),
        msg_type::BUSINESS_REJECT => (any::<u8>(), reject_code(), any::<u64>())
            .prop_map(|(ref_msg_type, code, ref_id)| {
                AppMessage::BusinessReject(protocol::codec::BusinessReject {
                    ref_msg_type,
                    code,
                    ref_id,
                })
            })
            .boxed(),
        msg_type::MASS_CANCEL_ACK => (
            any::<u64>(),
            proptest::option::of(account()),
            any::<u32>(),
            reject_code(),
            any::<bool>(),
        )
            .prop_map(|(request_id, account, canceled_count, code, blocked)| {
                AppMessage::MassCancelAck(MassCancelAck {
                    request_id,
                    account,
                    canceled_count,
                    code,
                    blocked,
                })
            })
            .boxed(),
        msg_type::ORDER_ENTRY_STATUS => {
            (any::<u64>(), account(), select(ENTRY_STATES), reject_code())
                .prop_map(|(request_id, account, state, code)| {
                    AppMessage::OrderEntryStatus(OrderEntryStatus {
                        request_id,
                        account,
                        state,
                        code,
                    })
                })
                .boxed()
        }
        msg_type::ORDER_PENDING => (
            any::<u64>(),
            any::<u64>(),
            any::<u64>(),
            account(),
            select(PendingStatus::ALL),
            select(TradingPhase::ALL),
        )
            .prop_map(|(cl_ord_id, order_id, request_id, account, status, phase)| {
                AppMessage::OrderPending(OrderPending {
                    cl_ord_id,
                    order_id,
                    request_id,
                    account,
                    status,
                    phase,
                })
            })
            .boxed(),
        msg_type::FILL_FEES => (
            (any::<u64>(), any::<u64>(), any::<u64>(), account()),
            proptest::array::uniform3(any::<i64>()),
        )
            .prop_map(|((cl_ord_id, order_id, exec_id, account), fees)| {
                AppMessage::FillFees(FillFees {
                    cl_ord_id,
                    order_id,
                    exec_id,
                    account,
                    commission: fees[0],
                    stamp_duty: fees[1],
                    transfer_fee: fees[2],
                })
            })
            .boxed(),
        other => panic!("0x{other:02x} is not an application message type"),
    }
}

pub fn app_message() -> impl Strategy<Value = AppMessage> {
    let all: Vec<_> = SERVER_TYPES
        .iter()
        .filter(|t| t.is_ascii_lowercase())
        .map(|&t| (1, app_of_type(t)))
        .collect();
    proptest::strategy::Union::new_weighted(all)
}

pub const SYSTEM_EVENT_KINDS: &[SystemEventKind] = &[
    SystemEventKind::PhaseChange,
    SystemEventKind::Halt,
    SystemEventKind::Resume,
    SystemEventKind::StartOfDay,
    SystemEventKind::EndOfDay,
];

pub const ENTRY_STATES: &[EntryState] =
    &[EntryState::Active, EntryState::ReducingOnly, EntryState::Blocked];

pub fn login_accepted() -> impl Strategy<Value = ServerMessage> {
    (any::<u8>(), any::<u32>(), any::<u32>(), any::<u64>(), any::<u64>()).prop_map(
        |(version, heartbeat_ms, dead_peer_ms, session_id, next_seq)| {
            ServerMessage::LoginAccepted(LoginAccepted {
                version,
                heartbeat_ms,
                dead_peer_ms,
                session_id,
                next_seq,
            })
        },
    )
}

pub fn end_of_session() -> impl Strategy<Value = ServerMessage> {
    (reject_code(), any::<u64>()).prop_map(|(reason, last_seq)| {
        ServerMessage::EndOfSession(EndOfSession { reason, last_seq })
    })
}

pub fn server_message() -> impl Strategy<Value = ServerMessage> {
    prop_oneof![
        1 => login_accepted(),
        1 => reject_code().prop_map(|code| ServerMessage::LoginRejected(LoginRejected { code })),
        1 => Just(ServerMessage::Heartbeat),
        1 => end_of_session(),
        // Application messages dominate real traffic; weight them to match.
        4 => (any::<u64>(), any::<u64>(), app_message())
            .prop_map(|(seq, ts_ns, msg)| ServerMessage::App(Sequenced { seq, ts_ns, msg })),
        2 => query_answer().prop_map(ServerMessage::Query),
    ]
}

// ---------------------------------------------------------------------------
// What a decoder ignores
// ---------------------------------------------------------------------------

/// Reserved byte ranges of each fixed layout, as frame offsets (the length prefix
/// is offset 0). Sent as zero, ignored on receipt; `docs/protocol.md` lists the
/// same ranges as `reserved` rows (checked by `doc_contract.rs`).
#[allow(clippy::single_range_in_vec_init)] // One range per layout is the common case.
pub fn reserved_ranges(client: bool, msg_type: u8) -> &'static [Range<usize>] {
    if client {
        match msg_type {
            msg_type::LOGIN => &[4..7],
            msg_type::NEW_ORDER => &[53..59],
            msg_type::MASS_CANCEL => &[30..31],
            msg_type::ORDER_ENTRY_CONTROL => &[28..35],
            msg_type::QUERY => &[34..35],
            _ => &[],
        }
    } else {
        match msg_type {
            msg_type::LOGIN_ACCEPTED => &[4..7, 15..19],
            msg_type::ORDER_ACCEPTED => &[77..83],
            msg_type::ORDER_REJECTED => &[47..51],
            msg_type::EXECUTED => &[94..95],
            msg_type::CANCELED => &[76..83],
            msg_type::CANCEL_REJECTED => &[54..59],
            msg_type::REPLACED => &[84..91],
            msg_type::SYSTEM_EVENT => &[22..23],
            msg_type::BUSINESS_REJECT => &[20..21, 23..27],
            msg_type::MASS_CANCEL_ACK => &[50..51],
            msg_type::ORDER_ENTRY_STATUS => &[44..45, 47..51],
            msg_type::ORDER_PENDING => &[61..67],
            msg_type::FUNDS_ANSWER
            | msg_type::POSITIONS_ANSWER
            | msg_type::ORDERS_ANSWER
            | msg_type::FILLS_ANSWER => &[41..43],
            msg_type::QUERY_REJECTED => &[30..35],
            _ => &[],
        }
    }
}

/// The frame offsets whose bytes the decoder does not read for this particular
/// frame: the reserved ranges plus fields a variant leaves unused (a MassCancel's
/// account for scope 3, its security for scopes 1 and 3).
pub fn ignored_ranges(client: bool, frame: &[u8]) -> Vec<Range<usize>> {
    let t = frame[2];
    let mut ranges = reserved_ranges(client, t).to_vec();
    if let Some(row_len) = answer_row_len(t).filter(|_| !client) {
        // Each row's own reserved bytes, relative to the row.
        let within = match t {
            msg_type::POSITIONS_ANSWER => 5..8,
            msg_type::ORDERS_ANSWER => 18..24,
            _ => 22..24,
        };
        let rows = (frame.len() - HEADER - 40) / row_len;
        for i in 0..rows {
            let at = HEADER + 40 + i * row_len;
            ranges.push(at + within.start..at + within.end);
        }
    }
    if client && t == msg_type::MASS_CANCEL {
        let scope = frame[27];
        if scope == 3 {
            ranges.push(11..27);
        }
        if scope != 2 {
            ranges.push(29..35);
        }
    }
    ranges
}

/// Fixed-part length (type byte excluded) of the two text-carrying server messages.
pub fn text_fixed_len(msg_type: u8) -> Option<usize> {
    match msg_type {
        msg_type::ORDER_REJECTED => Some(body_len::ORDER_REJECTED_FIXED),
        msg_type::BUSINESS_REJECT => Some(body_len::BUSINESS_REJECT_FIXED),
        _ => None,
    }
}

/// Checks the decoder's contract on one accepted frame: the message re-encodes to
/// the same bytes, except in byte ranges the decoder ignores (which the encoder
/// writes as zero) and in the free text of a reject (which the encoder renders
/// from the code and detail; it must be UTF-8 of the announced length).
pub fn assert_canonical(client: bool, input: &[u8], reencoded: &[u8]) {
    let t = input[2];
    let compared = match text_fixed_len(t).filter(|_| !client) {
        Some(fixed) => {
            let text_at = HEADER + fixed;
            let text = &input[text_at..];
            assert_eq!(usize::from(input[text_at - 1]), text.len(), "text length byte");
            assert!(std::str::from_utf8(text).is_ok(), "accepted text must be UTF-8");
            if text == &reencoded[text_at..] {
                // The text is the one the encoder renders: the whole frame matches.
                0..input.len()
            } else {
                // Other text (cut, or from another renderer): the fields still match.
                2..text_at - 1
            }
        }
        None => 0..input.len(),
    };
    if compared.start == 0 {
        assert_eq!(input.len(), reencoded.len(), "re-encodes to the same length");
    }
    let ignored = ignored_ranges(client, input);
    for at in compared {
        if ignored.iter().any(|r| r.contains(&at)) {
            assert_eq!(reencoded[at], 0, "ignored byte {at} must be written as zero");
        } else {
            assert_eq!(
                input[at], reencoded[at],
                "byte {at} of type 0x{t:02x} changed on re-encode"
            );
        }
    }
}

/// Every client and server type byte defined by the protocol.
pub const CLIENT_TYPES: &[u8] = &[
    msg_type::LOGIN,
    msg_type::CLIENT_HEARTBEAT,
    msg_type::LOGOUT,
    msg_type::NEW_ORDER,
    msg_type::CANCEL_ORDER,
    msg_type::REPLACE_ORDER,
    msg_type::MASS_CANCEL,
    msg_type::ORDER_ENTRY_CONTROL,
    msg_type::QUERY,
];

/// Every server type byte.
pub const SERVER_TYPES: &[u8] = &[
    msg_type::LOGIN_ACCEPTED,
    msg_type::LOGIN_REJECTED,
    msg_type::SERVER_HEARTBEAT,
    msg_type::END_OF_SESSION,
    msg_type::ORDER_ACCEPTED,
    msg_type::ORDER_REJECTED,
    msg_type::EXECUTED,
    msg_type::CANCELED,
    msg_type::CANCEL_REJECTED,
    msg_type::REPLACED,
    msg_type::SYSTEM_EVENT,
    msg_type::BUSINESS_REJECT,
    msg_type::MASS_CANCEL_ACK,
    msg_type::ORDER_ENTRY_STATUS,
    msg_type::ORDER_PENDING,
    msg_type::FUNDS_ANSWER,
    msg_type::POSITIONS_ANSWER,
    msg_type::ORDERS_ANSWER,
    msg_type::FILLS_ANSWER,
    msg_type::QUERY_REJECTED,
    msg_type::FILL_FEES,
];
