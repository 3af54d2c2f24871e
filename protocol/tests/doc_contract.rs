//! `docs/protocol.md` is the contract for client authors; these tests hold it to
//! the code. They read the document itself and check:
//!
//! * every layout table (offsets, sizes, types, field names) against the layout
//!   declared once in `protocol::codec::layout`, row by row, and against real
//!   frames, field by field; and the message-type summary against the codec;
//! * every enumeration table against the enums' wire values and names;
//! * the reject-code tables against `RejectCode::ALL`, exactly;
//! * every hex example: it decodes to the message the document describes and
//!   re-encodes to the same bytes.
//!
//! The generated parts of the document (the worked examples and the reject-code
//! tables) must appear in it verbatim; to regenerate them after a change:
//! `PRINT_PROTOCOL_DOC=1 cargo test -p protocol --test doc_contract -- --nocapture generated`.

/// Appends a line to `out`: `emit!(out)` an empty one, `emit!(out, "...", args)`
/// a formatted one (`println!` into a string, for the generated parts).
macro_rules! emit {
    ($out:ident) => {
        $out.push('\n')
    };
    ($out:ident, $($t:tt)*) => {{
        $out.push_str(&format!($($t)*));
        $out.push('\n');
    }};
}

mod util;

use std::collections::BTreeMap;

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use protocol::codec::FRAME_HEADER_LEN;
use protocol::codec::{
    CancelOrder, Canceled, EndOfSession, EntryState, Executed, Login, LoginAccepted, LoginRejected,
    MassCancel, MassCancelAck, MassCancelScope, NewOrder, OrderAccepted, OrderEntryControl,
    OrderRejected, RequestKind, SystemEventKind, body_len, msg_type, wire_text,
};
use protocol::query::{
    AnswerHeader, FillFees, FillRow, FundsAnswer, FundsRow, OrderRow, OrderStatus, PositionRow,
    Query, QueryAnswer, QueryKind, answer_header_flags, query_flags,
};
use protocol::reject::RejectFamily;
use protocol::wire::Field;
use protocol::{
    AccountId, AppMessage, CancelReason, ClientMessage, CreditTag, Liquidity, Market, OrderType,
    PendingStatus, Price, Qty, RejectCode, RejectDetail, SecurityId, Sequenced, ServerMessage,
    Side, TimeInForce, Token, TradingPhase, Username,
};

// ---------------------------------------------------------------------------
// Reading the document
// ---------------------------------------------------------------------------

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/protocol.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// The part of the document from the line `start` up to the next line that starts
/// with `end_prefix` (or the end).
fn section<'a>(doc: &'a str, start: &str, end_prefix: &str) -> &'a str {
    let at = doc
        .lines()
        .scan(0usize, |pos, line| {
            let here = *pos;
            *pos += line.len() + 1;
            Some((here, line))
        })
        .find(|(_, line)| *line == start)
        .unwrap_or_else(|| panic!("docs/protocol.md has no line {start:?}"))
        .0;
    let rest = &doc[at..];
    let first_line_len = rest.find('\n').map_or(rest.len(), |n| n + 1);
    let end = rest[first_line_len..]
        .find(&format!("\n{end_prefix}"))
        .map_or(rest.len(), |n| first_line_len + n + 1);
    &rest[..end]
}

/// A markdown table: its header cells and its rows (separator row dropped).
#[derive(Debug)]
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("table {:?} has no column {name:?}", self.header))
    }
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// Every table in `text`, in order.
fn tables(text: &str) -> Vec<Table> {
    let mut out = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if !line.starts_with('|') {
            continue;
        }
        let header = cells(line);
        let mut rows = Vec::new();
        while let Some(next) = lines.peek().filter(|l| l.starts_with('|')) {
            let row = cells(next);
            if !row.iter().all(|c| c.chars().all(|ch| ch == '-' || ch == ':')) {
                rows.push(row);
            }
            lines.next();
        }
        out.push(Table { header, rows });
    }
    out
}

/// The first table after the heading line `heading` (and before the next heading).
fn table_under(doc: &str, heading: &str) -> Table {
    let text = section(doc, heading, "#");
    tables(text).into_iter().next().unwrap_or_else(|| panic!("no table under {heading:?}"))
}

fn unquote(cell: &str) -> &str {
    cell.trim_matches('`')
}

// ---------------------------------------------------------------------------
// Field values of a message, by the names the layout tables use
// ---------------------------------------------------------------------------

#[derive(Clone, PartialEq, Eq, Debug)]
enum Val {
    U(u64),
    I(i64),
    Bytes(Vec<u8>),
}

fn u(v: impl Into<u64>) -> Val {
    Val::U(v.into())
}

fn security_fields(f: &mut BTreeMap<&'static str, Val>, s: Option<SecurityId>) {
    f.insert("market", u(s.map_or(0, |s| s.market.as_u8())));
    f.insert("security_code", u(s.map_or(0, |s| s.code)));
}

fn client_fields(m: &ClientMessage) -> BTreeMap<&'static str, Val> {
    let mut f = BTreeMap::new();
    match m {
        ClientMessage::Login(m) => {
            f.insert("version", u(m.version));
            f.insert("username", Val::Bytes(m.username.to_wire().to_vec()));
            f.insert("token", Val::Bytes(m.token.0.to_vec()));
            f.insert("next_seq", u(m.next_seq));
        }
        ClientMessage::Heartbeat | ClientMessage::Logout => {}
        ClientMessage::NewOrder(m) => {
            f.insert("cl_ord_id", u(m.cl_ord_id));
            f.insert("account", Val::Bytes(m.account.to_wire().to_vec()));
            security_fields(&mut f, Some(m.security));
            f.insert("side", u(m.side.as_u8()));
            f.insert("order_type", u(m.order_type.as_u8()));
            f.insert("tif", u(m.tif.as_u8()));
            f.insert("price", Val::I(m.price.0));
            f.insert("qty", u(m.qty.0));
            f.insert("flags", u(m.flags));
            f.insert("credit", u(m.credit.as_u8()));
        }
        ClientMessage::CancelOrder(m) => {
            f.insert("request_id", u(m.request_id));
            f.insert("orig_cl_ord_id", u(m.orig_cl_ord_id));
            f.insert("account", Val::Bytes(m.account.to_wire().to_vec()));
        }
        ClientMessage::ReplaceOrder(m) => {
            f.insert("request_id", u(m.request_id));
            f.insert("orig_cl_ord_id", u(m.orig_cl_ord_id));
            f.insert("account", Val::Bytes(m.account.to_wire().to_vec()));
            f.insert("price", Val::I(m.price.0));
            f.insert("qty", u(m.qty.0));
        }
        ClientMessage::MassCancel(m) => {
            let (scope, account, security) = match m.scope {
                MassCancelScope::Account(a) => (1u8, Some(a), None),
                MassCancelScope::Security(a, s) => (2, Some(a), Some(s)),
                MassCancelScope::Login => (3, None, None),
            };
            f.insert("request_id", u(m.request_id));
            let account = account.map_or([0; 16], |a| a.to_wire());
            f.insert("account", Val::Bytes(account.to_vec()));
            f.insert("scope", u(scope));
            f.insert("block_new", u(m.block_new));
            security_fields(&mut f, security);
        }
        ClientMessage::OrderEntryControl(m) => {
            f.insert("request_id", u(m.request_id));
            f.insert("account", Val::Bytes(m.account.to_wire().to_vec()));
            f.insert("action", u(if m.enable { 1u8 } else { 2 }));
        }
        ClientMessage::Query(m) => {
            f.insert("query_id", u(m.query_id));
            f.insert("account", Val::Bytes(m.account.to_wire().to_vec()));
            f.insert("cursor", u(m.cursor));
            f.insert("kind", u(m.kind.as_u8()));
            f.insert("page_size", u(m.page_size));
            f.insert("flags", u(m.flags));
        }
    }
    f
}

fn text_fields(f: &mut BTreeMap<&'static str, Val>, text: &[u8]) {
    f.insert("text_len", u(text.len() as u64));
    f.insert("text", Val::Bytes(text.to_vec()));
}

fn server_fields(m: &ServerMessage) -> BTreeMap<&'static str, Val> {
    let mut f = BTreeMap::new();
    let acct = |a: AccountId| Val::Bytes(a.to_wire().to_vec());
    match m {
        ServerMessage::LoginAccepted(m) => {
            f.insert("version", u(m.version));
            f.insert("heartbeat_ms", u(m.heartbeat_ms));
            f.insert("dead_peer_ms", u(m.dead_peer_ms));
            f.insert("session_id", u(m.session_id));
            f.insert("next_seq", u(m.next_seq));
        }
        ServerMessage::LoginRejected(m) => {
            f.insert("code", u(m.code.0));
        }
        ServerMessage::Heartbeat => {}
        ServerMessage::EndOfSession(m) => {
            f.insert("reason", u(m.reason.0));
            f.insert("last_seq", u(m.last_seq));
        }
        ServerMessage::App(s) => {
            f.insert("seq", u(s.seq));
            f.insert("ts_ns", u(s.ts_ns));
            match &s.msg {
                AppMessage::OrderAccepted(m) => {
                    f.insert("cl_ord_id", u(m.cl_ord_id));
                    f.insert("order_id", u(m.order_id));
                    f.insert("account", acct(m.account));
                    security_fields(&mut f, Some(m.security));
                    f.insert("side", u(m.side.as_u8()));
                    f.insert("order_type", u(m.order_type.as_u8()));
                    f.insert("tif", u(m.tif.as_u8()));
                    f.insert("price", Val::I(m.price.0));
                    f.insert("qty", u(m.qty.0));
                    f.insert("flags", u(m.flags));
                    f.insert("credit", u(m.credit.as_u8()));
                }
                AppMessage::OrderRejected(m) => {
                    f.insert("cl_ord_id", u(m.cl_ord_id));
                    f.insert("account", acct(m.account));
                    f.insert("code", u(m.code.0));
                    f.insert("flags", u(m.flags));
                    f.insert("detail_kind", u(m.detail.kind()));
                    let [a, b, c] = m.detail.values();
                    f.insert("detail_0", Val::I(a));
                    f.insert("detail_1", Val::I(b));
                    f.insert("detail_2", Val::I(c));
                    text_fields(&mut f, m.text().as_bytes());
                }
                AppMessage::Executed(m) => {
                    f.insert("cl_ord_id", u(m.cl_ord_id));
                    f.insert("order_id", u(m.order_id));
                    f.insert("exec_id", u(m.exec_id));
                    f.insert("account", acct(m.account));
                    f.insert("price", Val::I(m.price.0));
                    f.insert("qty", u(m.qty.0));
                    f.insert("leaves", u(m.leaves.0));
                    f.insert("cum", u(m.cum.0));
                    f.insert("side", u(m.side.as_u8()));
                    f.insert("liquidity", u(m.liquidity.as_u8()));
                    security_fields(&mut f, Some(m.security));
                }
                AppMessage::Canceled(m) => {
                    f.insert("cl_ord_id", u(m.cl_ord_id));
                    f.insert("order_id", u(m.order_id));
                    f.insert("account", acct(m.account));
                    f.insert("request_id", u(m.request_id));
                    f.insert("canceled_qty", u(m.canceled_qty.0));
                    f.insert("cum", u(m.cum.0));
                    f.insert("reason", u(m.reason.as_u8()));
                }
                AppMessage::CancelRejected(m) => {
                    f.insert("request_id", u(m.request_id));
                    f.insert("orig_cl_ord_id", u(m.orig_cl_ord_id));
                    f.insert("account", acct(m.account));
                    f.insert("code", u(m.code.0));
                    f.insert("kind", u(m.kind as u8));
                }
                AppMessage::Replaced(m) => {
                    f.insert("request_id", u(m.request_id));
                    f.insert("cl_ord_id", u(m.cl_ord_id));
                    f.insert("order_id", u(m.order_id));
                    f.insert("account", acct(m.account));
                    f.insert("price", Val::I(m.price.0));
                    f.insert("qty", u(m.qty.0));
                    f.insert("leaves", u(m.leaves.0));
                    f.insert("priority_kept", u(m.priority_kept));
                }
                AppMessage::SystemEvent(m) => {
                    f.insert("event", u(m.kind as u8));
                    f.insert("phase", u(m.phase.as_u8()));
                    security_fields(&mut f, m.security);
                }
                AppMessage::BusinessReject(m) => {
                    f.insert("ref_msg_type", u(m.ref_msg_type));
                    f.insert("code", u(m.code.0));
                    f.insert("ref_id", u(m.ref_id));
                    text_fields(&mut f, m.text().as_bytes());
                }
                AppMessage::MassCancelAck(m) => {
                    f.insert("request_id", u(m.request_id));
                    let account = m.account.map_or([0; 16], |a| a.to_wire());
                    f.insert("account", Val::Bytes(account.to_vec()));
                    f.insert("canceled_count", u(m.canceled_count));
                    f.insert("code", u(m.code.0));
                    f.insert("blocked", u(m.blocked));
                }
                AppMessage::OrderEntryStatus(m) => {
                    f.insert("request_id", u(m.request_id));
                    f.insert("account", acct(m.account));
                    f.insert("state", u(m.state as u8));
                    f.insert("code", u(m.code.0));
                }
                AppMessage::OrderPending(m) => {
                    f.insert("cl_ord_id", u(m.cl_ord_id));
                    f.insert("order_id", u(m.order_id));
                    f.insert("request_id", u(m.request_id));
                    f.insert("account", acct(m.account));
                    f.insert("status", u(m.status.as_u8()));
                    f.insert("phase", u(m.phase.as_u8()));
                }
                AppMessage::FillFees(m) => {
                    f.insert("cl_ord_id", u(m.cl_ord_id));
                    f.insert("order_id", u(m.order_id));
                    f.insert("exec_id", u(m.exec_id));
                    f.insert("account", acct(m.account));
                    f.insert("commission", Val::I(m.commission));
                    f.insert("stamp_duty", Val::I(m.stamp_duty));
                    f.insert("transfer_fee", Val::I(m.transfer_fee));
                    f.insert("total", Val::I(m.total()));
                }
            }
        }
        ServerMessage::Query(a) => {
            answer_fields(&mut f, a);
            if util::answer_row_len(a.msg_type()).is_some() {
                // The rows' bytes; their fields are checked row by row against
                // the row tables (`answer_rows_match_the_row_tables`).
                f.insert("rows", Val::Bytes(util::encode_server(m)[43..].to_vec()));
            }
        }
    }
    f
}

/// The fields of an answer's fixed part: the header and, for funds, its row.
fn answer_fields(f: &mut BTreeMap<&'static str, Val>, a: &QueryAnswer) {
    let rows = match a {
        QueryAnswer::Funds(_) => 1,
        QueryAnswer::Positions(p) => p.rows.len(),
        QueryAnswer::Orders(o) => o.rows.len(),
        QueryAnswer::Fills(x) => x.rows.len(),
        QueryAnswer::Rejected(r) => {
            f.insert("query_id", u(r.query_id));
            let account = r.account.map_or([0; 16], |a| a.to_wire());
            f.insert("account", Val::Bytes(account.to_vec()));
            f.insert("code", u(r.code.0));
            f.insert("kind", u(r.kind));
            return;
        }
    };
    let h = a.header().expect("an answer has a header");
    f.insert("query_id", u(h.query_id));
    f.insert("as_of_seq", u(h.as_of_seq));
    f.insert("account", Val::Bytes(h.account.to_wire().to_vec()));
    f.insert("next_cursor", u(h.next_cursor));
    f.insert("row_count", u(rows as u64));
    f.insert("flags", u(h.flags));
    if let QueryAnswer::Funds(a) = a {
        let r = &a.funds;
        f.insert("cash_available", Val::I(r.cash_available));
        f.insert("cash_frozen", Val::I(r.cash_frozen));
        f.insert("cash_debit", Val::I(r.cash_debit));
        f.insert("market_value", Val::I(r.market_value));
        f.insert("total_assets", Val::I(r.total_assets));
        f.insert("realized_pnl_today", Val::I(r.realized_pnl_today));
        f.insert("commission_today", Val::I(r.commission_today));
        f.insert("stamp_duty_today", Val::I(r.stamp_duty_today));
        f.insert("transfer_fee_today", Val::I(r.transfer_fee_today));
        f.insert("fees_today", Val::I(r.fees_today));
    }
}

/// One row of a layout table, parsed.
#[derive(Debug)]
struct Row {
    offset: usize,
    /// `None` for the variable-length text.
    size: Option<usize>,
    ty: String,
    field: String,
}

fn layout_rows(table: &Table) -> Vec<Row> {
    assert_eq!(table.header, ["offset", "size", "type", "field", "meaning"], "layout table header");
    table
        .rows
        .iter()
        .map(|r| Row {
            offset: r[0].parse().unwrap_or_else(|_| panic!("offset {:?}", r[0])),
            size: r[1].parse().ok(),
            ty: r[2].clone(),
            field: r[3].clone(),
        })
        .collect()
}

/// Reads the field a row describes out of a frame.
fn read_field(frame: &[u8], row: &Row) -> Val {
    let at = row.offset;
    let size = row.size.unwrap_or(frame.len() - at);
    let raw = &frame[at..at + size];
    let mut le = [0u8; 8];
    match row.ty.as_str() {
        "u8" | "u16" | "u32" | "u64" => {
            le[..size].copy_from_slice(raw);
            Val::U(u64::from_le_bytes(le))
        }
        "i64" => Val::I(i64::from_le_bytes(raw.try_into().expect("i64 is 8 bytes"))),
        _ => Val::Bytes(raw.to_vec()),
    }
}

fn type_size(ty: &str) -> Option<usize> {
    match ty {
        "u8" => Some(1),
        "u16" => Some(2),
        "u32" => Some(4),
        "u64" | "i64" => Some(8),
        "utf8[text_len]" | "rows[row_count]" => None,
        _ => {
            let n = ty.strip_prefix("bytes[").or_else(|| ty.strip_prefix("ascii["));
            let n = n.and_then(|n| n.strip_suffix(']')).unwrap_or_else(|| panic!("type {ty:?}"));
            Some(n.parse().expect("width"))
        }
    }
}

/// Checks one frame against a layout table: rows cover every byte in order, each
/// type has its size, and every field holds the message's value.
fn check_layout(heading: &str, rows: &[Row], frame: &[u8], fields: &BTreeMap<&str, Val>) {
    let mut next = 0;
    for row in rows {
        assert_eq!(row.offset, next, "{heading}: row {} is not contiguous", row.field);
        assert_eq!(row.size, type_size(&row.ty), "{heading}: size of {} vs its type", row.field);
        let got = read_field(frame, row);
        let want = match row.field.as_str() {
            "length" => Val::U(frame.len() as u64 - 2),
            "type" => Val::U(u64::from(frame[2])),
            "reserved" => Val::Bytes(vec![0; row.size.expect("reserved has a size")]),
            name => fields
                .get(name)
                .unwrap_or_else(|| panic!("{heading}: the code has no field {name:?}"))
                .clone(),
        };
        assert_eq!(got, want, "{heading}: field {} at offset {}", row.field, row.offset);
        next = row.offset + row.size.unwrap_or(frame.len() - row.offset);
    }
    assert_eq!(next, frame.len(), "{heading}: the table does not cover the whole frame");
    let named: Vec<&str> = rows.iter().map(|r| r.field.as_str()).collect();
    for name in fields.keys() {
        assert!(named.contains(name), "{heading}: the table lacks field {name:?}");
    }
}

/// (heading, client direction, type byte) of every message layout.
const LAYOUTS: &[(&str, bool, u8)] = &[
    ("### Login", true, msg_type::LOGIN),
    ("### Heartbeat (client)", true, msg_type::CLIENT_HEARTBEAT),
    ("### Logout", true, msg_type::LOGOUT),
    ("### NewOrder", true, msg_type::NEW_ORDER),
    ("### CancelOrder", true, msg_type::CANCEL_ORDER),
    ("### ReplaceOrder", true, msg_type::REPLACE_ORDER),
    ("### MassCancel", true, msg_type::MASS_CANCEL),
    ("### OrderEntryControl", true, msg_type::ORDER_ENTRY_CONTROL),
    ("### LoginAccepted", false, msg_type::LOGIN_ACCEPTED),
    ("### LoginRejected", false, msg_type::LOGIN_REJECTED),
    ("### Heartbeat (server)", false, msg_type::SERVER_HEARTBEAT),
    ("### EndOfSession", false, msg_type::END_OF_SESSION),
    ("### OrderAccepted", false, msg_type::ORDER_ACCEPTED),
    ("### OrderRejected", false, msg_type::ORDER_REJECTED),
    ("### Executed", false, msg_type::EXECUTED),
    ("### Canceled", false, msg_type::CANCELED),
    ("### CancelRejected", false, msg_type::CANCEL_REJECTED),
    ("### Replaced", false, msg_type::REPLACED),
    ("### SystemEvent", false, msg_type::SYSTEM_EVENT),
    ("### BusinessReject", false, msg_type::BUSINESS_REJECT),
    ("### MassCancelAck", false, msg_type::MASS_CANCEL_ACK),
    ("### OrderEntryStatus", false, msg_type::ORDER_ENTRY_STATUS),
    ("### OrderPending", false, msg_type::ORDER_PENDING),
    ("### Query", true, msg_type::QUERY),
    ("### FillFees", false, msg_type::FILL_FEES),
    ("### FundsAnswer", false, msg_type::FUNDS_ANSWER),
    ("### PositionsAnswer", false, msg_type::POSITIONS_ANSWER),
    ("### OrdersAnswer", false, msg_type::ORDERS_ANSWER),
    ("### FillsAnswer", false, msg_type::FILLS_ANSWER),
    ("### QueryRejected", false, msg_type::QUERY_REJECTED),
];

/// The fields of one row of a paged answer, by the names the row tables use.
fn row_fields(frame: &[u8], i: usize) -> BTreeMap<&'static str, Val> {
    let mut f = BTreeMap::new();
    let Ok(ServerMessage::Query(answer)) = ServerMessage::decode(frame) else {
        panic!("a paged answer decodes")
    };
    match answer {
        QueryAnswer::Positions(a) => {
            let r: PositionRow = a.rows.as_slice()[i];
            security_fields(&mut f, Some(r.security));
            f.insert("qty", u(r.qty));
            f.insert("sellable", u(r.sellable));
            f.insert("frozen", u(r.frozen));
            f.insert("average_cost", Val::I(r.average_cost.0));
            f.insert("last_price", Val::I(r.last_price.0));
            f.insert("market_value", Val::I(r.market_value));
            f.insert("unrealized_pnl", Val::I(r.unrealized_pnl));
        }
        QueryAnswer::Orders(a) => {
            let r: OrderRow = a.rows.as_slice()[i];
            f.insert("cl_ord_id", u(r.cl_ord_id));
            security_fields(&mut f, Some(r.security));
            f.insert("side", u(r.side.as_u8()));
            f.insert("order_type", u(r.order_type.as_u8()));
            f.insert("status", u(r.status.as_u8()));
            f.insert("code", u(r.code.0));
            f.insert("price", Val::I(r.price.0));
            f.insert("qty", u(r.qty.0));
            f.insert("filled_qty", u(r.filled_qty.0));
            f.insert("open_qty", u(r.open_qty.0));
            f.insert("average_price", Val::I(r.average_price.0));
            f.insert("fees_paid", Val::I(r.fees_paid));
            f.insert("entered_ns", u(r.entered_ns));
        }
        QueryAnswer::Fills(a) => {
            let r: FillRow = a.rows.as_slice()[i];
            f.insert("exec_id", u(r.exec_id));
            f.insert("cl_ord_id", u(r.cl_ord_id));
            security_fields(&mut f, Some(r.security));
            f.insert("side", u(r.side.as_u8()));
            f.insert("price", Val::I(r.price.0));
            f.insert("qty", u(r.qty.0));
            f.insert("commission", Val::I(r.commission));
            f.insert("stamp_duty", Val::I(r.stamp_duty));
            f.insert("transfer_fee", Val::I(r.transfer_fee));
            f.insert("booked_ns", u(r.booked_ns));
        }
        other => panic!("{other:?} has no rows"),
    }
    f
}

/// Each row of every sampled paged answer matches its row table, byte for byte.
#[test]
fn answer_rows_match_the_row_tables() {
    let doc = doc();
    let tables = [
        (msg_type::POSITIONS_ANSWER, "### Position row"),
        (msg_type::ORDERS_ANSWER, "### Order row"),
        (msg_type::FILLS_ANSWER, "### Fill row"),
    ];
    let mut checked = 0;
    for (client, frame, _) in sample_frames(64) {
        let Some(&(t, heading)) = tables.iter().find(|(t, _)| !client && frame[2] == *t) else {
            continue;
        };
        let len = util::answer_row_len(t).unwrap();
        let rows = layout_rows(&table_under(&doc, heading));
        let count = usize::from(frame[39]);
        assert_eq!(frame.len(), 43 + count * len, "{heading}: row_count");
        for i in 0..count {
            let row = &frame[43 + i * len..43 + (i + 1) * len];
            check_layout(heading, &rows, row, &row_fields(&frame, i));
            checked += 1;
        }
    }
    assert!(checked > 100, "enough rows checked: {checked}");
}

/// Random frames of every type, with the field values they were built from.
fn sample_frames(per_type: usize) -> Vec<(bool, Vec<u8>, BTreeMap<&'static str, Val>)> {
    let mut runner = TestRunner::deterministic();
    let mut out = Vec::new();
    let mut count: BTreeMap<(bool, u8), usize> = BTreeMap::new();
    let client = util::client_message();
    let server = util::server_message();
    for _ in 0..per_type * 200 {
        let c = client.new_tree(&mut runner).expect("strategy").current();
        let frame = util::encode_client(&c);
        let n = count.entry((true, frame[2])).or_default();
        if *n < per_type {
            *n += 1;
            out.push((true, frame, client_fields(&c)));
        }
        let s = server.new_tree(&mut runner).expect("strategy").current();
        let frame = util::encode_server(&s);
        let n = count.entry((false, frame[2])).or_default();
        if *n < per_type {
            *n += 1;
            out.push((false, frame, server_fields(&s)));
        }
    }
    assert_eq!(count.len(), LAYOUTS.len(), "every type sampled: {count:?}");
    assert!(count.values().all(|&n| n == per_type), "enough samples of every type: {count:?}");
    out
}

#[test]
fn layout_tables_match_encoded_frames() {
    let doc = doc();
    let mut rows_by_type = BTreeMap::new();
    for (heading, client, t) in LAYOUTS {
        let rows = layout_rows(&table_under(&doc, heading));
        assert_eq!(rows[1].field, "type");
        rows_by_type.insert((*client, *t), (*heading, rows));
    }
    for (client, frame, fields) in sample_frames(64) {
        let (heading, rows) = &rows_by_type[&(client, frame[2])];
        check_layout(heading, rows, &frame, &fields);
    }
    // The sequenced header table is the common prefix of every sequenced layout.
    let header = layout_rows(&table_under(&doc, "### Sequenced header"));
    for ((client, t), (heading, rows)) in &rows_by_type {
        if *client || !t.is_ascii_lowercase() {
            continue;
        }
        for (h, r) in header.iter().zip(rows) {
            let (h, r) = ((h.offset, h.size, &h.ty, &h.field), (r.offset, r.size, &r.ty, &r.field));
            assert_eq!(h, r, "{heading} starts with the sequenced header");
        }
    }
}

#[test]
fn reserved_rows_are_the_ranges_the_decoder_ignores() {
    let doc = doc();
    for (heading, client, t) in LAYOUTS {
        let rows = layout_rows(&table_under(&doc, heading));
        let documented: Vec<_> = rows
            .iter()
            .filter(|r| r.field == "reserved")
            .map(|r| r.offset..r.offset + r.size.unwrap())
            .collect();
        assert_eq!(documented, util::reserved_ranges(*client, *t), "{heading}");
    }
}

/// The declared layouts one byte table describes, in order.
type Layouts = &'static [&'static [Field]];
/// What follows the declared layouts in a table: (type, field) of the text or rows.
type Trailer = Option<(&'static str, &'static str)>;

/// The declared layouts a table describes, in order, and what follows them: a
/// frame's table starts with `length` and `type`, then the declarations' fields
/// (offsets shifted by the frame header); a text message ends with its text, a
/// paged answer with its rows.
fn declared_rows(layouts: Layouts, framed: bool, trailer: Trailer) -> Vec<Row> {
    let row = |offset, size, ty: &str, field: &str| Row {
        offset,
        size,
        ty: ty.to_string(),
        field: field.to_string(),
    };
    let mut rows = Vec::new();
    let mut base = 0;
    if framed {
        rows.push(row(0, Some(2), "u16", "length"));
        rows.push(row(2, Some(1), "u8", "type"));
        base = FRAME_HEADER_LEN;
    }
    for fields in layouts {
        for f in *fields {
            rows.push(row(base + f.offset, Some(f.size), f.ty, f.name));
        }
        base += fields.last().map_or(0, |f| f.offset + f.size);
    }
    if let Some((ty, field)) = trailer {
        rows.push(row(base, None, ty, field));
    }
    rows
}

/// Every byte table of the document is exactly its declared layout: the same
/// rows, offsets, sizes, types and field names, in the same order.
#[test]
fn layout_tables_are_the_declared_layouts() {
    use protocol::codec::layout as l;
    const TEXT: Trailer = Some(("utf8[text_len]", "text"));
    const ROWS: Trailer = Some(("rows[row_count]", "rows"));
    let none: Layouts = &[];
    let tables: &[(&str, Layouts, bool, Trailer)] = &[
        ("### Login", &[l::login::FIELDS], true, None),
        ("### Heartbeat (client)", none, true, None),
        ("### Logout", none, true, None),
        ("### NewOrder", &[l::new_order::FIELDS], true, None),
        ("### CancelOrder", &[l::cancel_order::FIELDS], true, None),
        ("### ReplaceOrder", &[l::replace_order::FIELDS], true, None),
        ("### MassCancel", &[l::mass_cancel::FIELDS], true, None),
        ("### OrderEntryControl", &[l::order_entry_control::FIELDS], true, None),
        ("### Query", &[l::query::FIELDS], true, None),
        ("### LoginAccepted", &[l::login_accepted::FIELDS], true, None),
        ("### LoginRejected", &[l::login_rejected::FIELDS], true, None),
        ("### Heartbeat (server)", none, true, None),
        ("### EndOfSession", &[l::end_of_session::FIELDS], true, None),
        ("### Sequenced header", &[l::seq_header::FIELDS], true, None),
        ("### OrderAccepted", &[l::order_accepted::FIELDS], true, None),
        ("### OrderRejected", &[l::order_rejected::FIELDS], true, TEXT),
        ("### Executed", &[l::executed::FIELDS], true, None),
        ("### Canceled", &[l::canceled::FIELDS], true, None),
        ("### CancelRejected", &[l::cancel_rejected::FIELDS], true, None),
        ("### Replaced", &[l::replaced::FIELDS], true, None),
        ("### SystemEvent", &[l::system_event::FIELDS], true, None),
        ("### BusinessReject", &[l::business_reject::FIELDS], true, TEXT),
        ("### MassCancelAck", &[l::mass_cancel_ack::FIELDS], true, None),
        ("### OrderEntryStatus", &[l::order_entry_status::FIELDS], true, None),
        ("### OrderPending", &[l::order_pending::FIELDS], true, None),
        ("### FillFees", &[l::fill_fees::FIELDS], true, None),
        ("### FundsAnswer", &[l::answer_header::FIELDS, l::funds_row::FIELDS], true, None),
        ("### PositionsAnswer", &[l::answer_header::FIELDS], true, ROWS),
        ("### OrdersAnswer", &[l::answer_header::FIELDS], true, ROWS),
        ("### FillsAnswer", &[l::answer_header::FIELDS], true, ROWS),
        ("### QueryRejected", &[l::query_rejected::FIELDS], true, None),
        ("### Position row", &[l::position_row::FIELDS], false, None),
        ("### Order row", &[l::order_row::FIELDS], false, None),
        ("### Fill row", &[l::fill_row::FIELDS], false, None),
    ];
    let doc = doc();
    for (heading, _, _) in LAYOUTS {
        assert!(tables.iter().any(|t| t.0 == *heading), "{heading} has a declared layout");
    }
    for (heading, layouts, framed, trailer) in tables {
        let documented = layout_rows(&table_under(&doc, heading));
        let declared = declared_rows(layouts, *framed, *trailer);
        let key = |r: &Row| (r.offset, r.size, r.ty.clone(), r.field.clone());
        let documented: Vec<_> = documented.iter().map(key).collect();
        let declared: Vec<_> = declared.iter().map(key).collect();
        assert_eq!(documented, declared, "{heading}: document vs declared layout");
    }
}

#[test]
fn message_type_summary_matches_the_codec() {
    let doc = doc();
    let table = &tables(section(&doc, "## 4. Message types", "## "))[0];
    let (ty, hex, dir, name, body, frame) = (
        table.col("type"),
        table.col("hex"),
        table.col("direction"),
        table.col("message"),
        table.col("body bytes"),
        table.col("frame bytes"),
    );
    assert_eq!(table.rows.len(), LAYOUTS.len());
    let samples = sample_frames(1);
    for row in &table.rows {
        let t = unquote(&row[ty]).as_bytes();
        assert_eq!(t.len(), 1, "{row:?}");
        let t = t[0];
        assert_eq!(row[hex], format!("0x{t:02X}"), "{row:?}");
        let client = row[dir] == "client → server";
        let heading =
            LAYOUTS.iter().find(|l| l.1 == client && l.2 == t).expect("type in LAYOUTS").0;
        assert!(heading[4..].starts_with(row[name].as_str()), "{row:?} vs {heading}");
        if let Some(len) = util::answer_row_len(t).filter(|_| !client) {
            assert_eq!(row[body], format!("40 + {len} × row_count"), "{row:?}");
            assert_eq!(row[frame], format!("43 + {len} × row_count"), "{row:?}");
            continue;
        }
        let fixed = util::text_fixed_len(t).filter(|_| !client);
        match fixed {
            Some(fixed) => {
                assert_eq!(row[body], format!("{fixed} + text_len"));
                assert_eq!(row[frame], format!("{} + text_len", fixed + 3));
            }
            None => {
                let sample = samples.iter().find(|s| s.0 == client && s.1[2] == t).unwrap();
                assert_eq!(row[frame], sample.1.len().to_string(), "{row:?}");
                assert_eq!(row[body], (sample.1.len() - 3).to_string(), "{row:?}");
            }
        }
    }
    // The largest frame the document promises.
    let text = 3 + body_len::ORDER_REJECTED_FIXED + 255;
    let pages = [
        protocol::query::MAX_POSITION_ROWS * protocol::query::POSITION_ROW_LEN,
        protocol::query::MAX_ORDER_ROWS * protocol::query::ORDER_ROW_LEN,
        protocol::query::MAX_FILL_ROWS * protocol::query::FILL_ROW_LEN,
    ];
    let page = 3 + protocol::query::ANSWER_HEADER_LEN + pages.iter().max().unwrap();
    let largest = text.max(page);
    assert_eq!(largest, 3 + 40 + 7 * 64, "a full page of positions is the largest");
    assert!(doc.contains(&format!(
        "The\n  largest message defined today is {largest} bytes (a full page of positions)"
    )));
    assert!(largest <= protocol::MAX_FRAME_LEN);
}

// ---------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------

fn enum_rows(doc: &str, heading: &str) -> Vec<(u8, String)> {
    let table = table_under(doc, heading);
    let (v, n) = (table.col("value"), table.col("name"));
    table
        .rows
        .iter()
        .map(|r| (r[v].parse().expect("enum value"), unquote(&r[n]).to_string()))
        .collect()
}

fn named<T: Copy>(all: &[T], f: impl Fn(T) -> (u8, &'static str)) -> Vec<(u8, String)> {
    all.iter().map(|&x| f(x)).map(|(v, n)| (v, n.to_string())).collect()
}

#[test]
fn enumeration_tables_match_the_code() {
    let doc = doc();
    let wire: [(&str, Vec<(u8, String)>); 11] = [
        ("### Side", named(Side::ALL, |x| (x.as_u8(), x.name()))),
        ("### OrderType", named(OrderType::ALL, |x| (x.as_u8(), x.name()))),
        ("### TimeInForce", named(TimeInForce::ALL, |x| (x.as_u8(), x.name()))),
        ("### Market", named(Market::ALL, |x| (x.as_u8(), x.name()))),
        ("### CreditTag", named(CreditTag::ALL, |x| (x.as_u8(), x.name()))),
        ("### CancelReason", named(CancelReason::ALL, |x| (x.as_u8(), x.name()))),
        ("### TradingPhase", named(TradingPhase::ALL, |x| (x.as_u8(), x.name()))),
        ("### QueryKind", named(QueryKind::ALL, |x| (x.as_u8(), x.name()))),
        ("### OrderStatus", named(OrderStatus::ALL, |x| (x.as_u8(), x.name()))),
        ("### Liquidity", named(Liquidity::ALL, |x| (x.as_u8(), x.name()))),
        ("### PendingStatus", named(PendingStatus::ALL, |x| (x.as_u8(), x.name()))),
    ];
    for (heading, want) in wire {
        assert_eq!(enum_rows(&doc, heading), want, "{heading}");
    }

    // The time in force each market order type implies.
    let table = table_under(&doc, "### OrderType");
    for (row, ot) in table.rows.iter().zip(OrderType::ALL) {
        let want = match ot.implied_tif() {
            None => "any".to_string(),
            Some(tif) => format!("{} {}", tif.as_u8(), tif.name()),
        };
        assert_eq!(row[table.col("implied tif")], want, "{ot:?}");
    }

    // Enumerations without a `name()` in the code: values from the code, names from here.
    let states: Vec<_> = util::ENTRY_STATES.iter().map(|s| *s as u8).collect();
    let doc_states = enum_rows(&doc, "### EntryState");
    assert_eq!(doc_states.iter().map(|r| r.0).collect::<Vec<_>>(), states);
    assert_eq!(EntryState::from_u8(3), None);
    let kinds = [RequestKind::Cancel as u8, RequestKind::Replace as u8];
    assert_eq!(enum_rows(&doc, "### RequestKind").iter().map(|r| r.0).collect::<Vec<_>>(), kinds);
    let events: Vec<_> = util::SYSTEM_EVENT_KINDS.iter().map(|k| *k as u8).collect();
    let doc_events = enum_rows(&doc, "### SystemEventKind");
    assert_eq!(doc_events.iter().map(|r| r.0).collect::<Vec<_>>(), events);
    assert_eq!(SystemEventKind::EndOfDay as u8, 5);

    let details = [
        RejectDetail::None,
        RejectDetail::PriceBand { price: Price(1), lower: Price(1), upper: Price(1) },
        RejectDetail::Quantity { qty: 1, limit: 1 },
        RejectDetail::Amount { needed: 1, available: 1 },
        RejectDetail::Count { count: 1, limit: 1 },
        RejectDetail::Suitability { client_class: 1, product_level: 1 },
    ];
    let detail_kinds: Vec<u8> = details.iter().map(|d| d.kind()).collect();
    let doc_details = enum_rows(&doc, "### RejectDetail kinds");
    assert_eq!(doc_details.iter().map(|r| r.0).collect::<Vec<_>>(), detail_kinds);

    // MassCancel scope and OrderEntryControl action: read back from encoded frames.
    let a = AccountId::new("A001").unwrap();
    let s = SecurityId::new(Market::Sse, 600_519).unwrap();
    let scopes =
        [MassCancelScope::Account(a), MassCancelScope::Security(a, s), MassCancelScope::Login];
    let scope_bytes: Vec<u8> = scopes
        .iter()
        .map(|&scope| {
            let m =
                ClientMessage::MassCancel(MassCancel { request_id: 1, scope, block_new: false });
            util::encode_client(&m)[27]
        })
        .collect();
    let doc_scopes = enum_rows(&doc, "### MassCancel scope");
    assert_eq!(doc_scopes.iter().map(|r| r.0).collect::<Vec<_>>(), scope_bytes);
    let actions: Vec<u8> = [true, false]
        .iter()
        .map(|&enable| {
            let m = ClientMessage::OrderEntryControl(OrderEntryControl {
                request_id: 1,
                account: a,
                enable,
            });
            util::encode_client(&m)[27]
        })
        .collect();
    let doc_actions = enum_rows(&doc, "### OrderEntryControl action");
    assert_eq!(doc_actions, [(actions[0], "enable".into()), (actions[1], "disable".into())]);
}

#[test]
fn flag_tables_match_the_code() {
    use protocol::codec::{answer_flags, order_flags};
    let doc = doc();
    let order = tables(section(&doc, "### NewOrder", "#"));
    let order = order.iter().find(|t| t.header[0] == "bit").expect("NewOrder flags table");
    let rows: Vec<_> = order.rows.iter().map(|r| (r[1].clone(), r[2].clone())).collect();
    assert_eq!(
        rows,
        [
            (
                format!("0x{:02X}", order_flags::SUITABILITY_CONFIRMED),
                "SUITABILITY_CONFIRMED".into()
            ),
            (format!("0x{:02X}", order_flags::PROGRAMMATIC), "PROGRAMMATIC".into()),
        ]
    );
    assert_eq!(order_flags::ALL, order_flags::SUITABILITY_CONFIRMED | order_flags::PROGRAMMATIC);
    let answer = table_under(&doc, "### Answer flags");
    let rows: Vec<_> = answer.rows.iter().map(|r| (r[1].clone(), r[2].clone())).collect();
    assert_eq!(
        rows,
        [
            (
                format!("0x{:02X}", answer_flags::CONFIRMATION_RECORDED),
                "CONFIRMATION_RECORDED".into()
            ),
            (format!("0x{:02X}", answer_flags::REPEAT), "REPEAT".into()),
        ]
    );
    let flag_rows = |heading: &str| -> Vec<(String, String)> {
        table_under(&doc, heading).rows.iter().map(|r| (r[1].clone(), r[2].clone())).collect()
    };
    assert_eq!(
        flag_rows("### Query flags"),
        [(format!("0x{:02X}", query_flags::OPEN_ONLY), "OPEN_ONLY".to_string())]
    );
    assert_eq!(query_flags::ALL, query_flags::OPEN_ONLY);
    assert_eq!(
        flag_rows("### Answer header flags"),
        [(format!("0x{:02X}", answer_header_flags::INCOMPLETE), "INCOMPLETE".to_string())]
    );
}

// ---------------------------------------------------------------------------
// Reject codes
// ---------------------------------------------------------------------------

fn family_name(f: RejectFamily) -> &'static str {
    match f {
        RejectFamily::Session => "session",
        RejectFamily::Protocol => "protocol",
        RejectFamily::Risk => "risk",
        RejectFamily::Suitability => "suitability",
        RejectFamily::Exchange => "exchange",
        RejectFamily::Unknown => "unknown",
    }
}

/// The risk-catalogue check number the code's documentation names ("Check 12: ...").
fn check_number(code: RejectCode) -> Option<u32> {
    let src = include_str!("../src/reject.rs");
    let konst = src
        .lines()
        .position(|l| l.contains(&format!("= {}, \"", code.0)))
        .expect("code defined in reject.rs");
    let comment = src.lines().nth(konst - 1)?;
    let rest = comment.trim().strip_prefix("/// Check ")?;
    rest.split(':').next()?.parse().ok()
}

#[test]
fn reject_code_tables_list_exactly_reject_code_all() {
    let doc = doc();
    let text = section(&doc, "## 12. Reject codes", "## ");
    let mut listed = Vec::new();
    for table in tables(text).iter().filter(|t| t.header.iter().any(|h| h == "code")) {
        let (c, n, s, f) =
            (table.col("code"), table.col("name"), table.col("sentence"), table.col("family"));
        let check = table.header.iter().position(|h| h == "check");
        for row in &table.rows {
            let code = RejectCode(row[c].parse().unwrap_or_else(|_| panic!("code {:?}", row[c])));
            assert_eq!(Some(unquote(&row[n])), code.name(), "name of {}", code.0);
            assert_eq!(Some(row[s].as_str()), code.sentence(), "sentence of {}", code.0);
            assert_eq!(row[f], family_name(code.family()), "family of {}", code.0);
            if let Some(col) = check {
                let want = check_number(code).map_or("—".to_string(), |n| n.to_string());
                assert_eq!(row[col], want, "check number of {}", code.0);
            }
            listed.push(code);
        }
    }
    assert_eq!(listed, RejectCode::ALL, "the document lists every code once, in order");
}

/// The reject-code tables of section 12 are exactly what the code generates (the
/// "raised by" column is written by hand and kept). `PRINT_PROTOCOL_DOC=1` prints
/// them, to regenerate the section after a change.
#[test]
fn reject_tables_are_generated_from_the_code() {
    let doc = doc();
    let mut blocks = Vec::new();
    let text = section(&doc, "## 12. Reject codes", "## ");
    let mut raised = BTreeMap::new();
    for table in tables(text).iter().filter(|t| t.header.iter().any(|h| h == "code")) {
        for row in &table.rows {
            raised.insert(row[0].clone(), row[table.col("raised by, answered in")].clone());
        }
    }
    let groups = [
        ("Session", RejectFamily::Session),
        ("Protocol", RejectFamily::Protocol),
        ("Risk", RejectFamily::Risk),
        ("Suitability", RejectFamily::Suitability),
        ("Exchange", RejectFamily::Exchange),
    ];
    for (title, family) in groups {
        let mut out = String::new();
        let first = RejectCode::ALL.iter().find(|c| c.family() == family).unwrap().0 / 1000;
        emit!(out, "### {title} ({first}000-{first}999)\n");
        let risk = family == RejectFamily::Risk;
        if risk {
            emit!(out, "| code | check | name | sentence | family | raised by, answered in |");
            emit!(out, "|---|---|---|---|---|---|");
        } else {
            emit!(out, "| code | name | sentence | family | raised by, answered in |");
            emit!(out, "|---|---|---|---|---|");
        }
        for code in RejectCode::ALL.iter().filter(|c| c.family() == family) {
            let by = raised.get(&code.0.to_string()).cloned().unwrap_or_else(|| "TODO".into());
            let check = check_number(*code).map_or("—".to_string(), |n| n.to_string());
            let check = if risk { format!(" {check} |") } else { String::new() };
            emit!(
                out,
                "| {} |{check} `{}` | {} | {} | {by} |",
                code.0,
                code.name().unwrap(),
                code.sentence().unwrap(),
                family_name(code.family())
            );
        }
        emit!(out);
        blocks.push(out);
    }
    check_generated(&doc, &blocks);
}

// ---------------------------------------------------------------------------
// Worked examples
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)] // As ServerMessage itself.
enum Msg {
    Client(ClientMessage),
    Server(ServerMessage),
}

fn a001() -> AccountId {
    AccountId::new("A001").unwrap()
}

fn kweichow() -> SecurityId {
    SecurityId::new(Market::Sse, 600_519).unwrap()
}

/// 2025-07-07 09:30:00 Beijing time (01:30 UTC), in ns since the Unix epoch.
const OPEN_NS: u64 = 1_751_851_800_000_000_000;

fn app(seq: u64, ts_ns: u64, msg: AppMessage) -> Msg {
    Msg::Server(ServerMessage::App(Sequenced { seq, ts_ns, msg }))
}

/// The examples of section 13, in document order: (name, message).
fn examples() -> Vec<(&'static str, Msg)> {
    let new_order = NewOrder {
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
    };
    vec![
        (
            "Login",
            Msg::Client(ClientMessage::Login(Login {
                version: 1,
                username: Username::new("trader01").unwrap(),
                token: Token::from_text("correct-horse-battery-staple").unwrap(),
                next_seq: 1,
            })),
        ),
        (
            "LoginAccepted",
            Msg::Server(ServerMessage::LoginAccepted(LoginAccepted {
                version: 1,
                heartbeat_ms: 1_000,
                dead_peer_ms: 15_000,
                session_id: 20_250_707,
                next_seq: 1,
            })),
        ),
        ("NewOrder", Msg::Client(ClientMessage::NewOrder(new_order))),
        (
            "OrderAccepted",
            app(
                1,
                OPEN_NS + 125_000,
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
        ),
        (
            "Executed",
            app(
                2,
                OPEN_NS + 180_000,
                AppMessage::Executed(Executed {
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
                }),
            ),
        ),
        (
            "OrderRejected",
            app(
                3,
                OPEN_NS + 5_250_000_000,
                AppMessage::OrderRejected(OrderRejected {
                    cl_ord_id: 2,
                    account: a001(),
                    code: RejectCode::CONFIRMATION_REQUIRED,
                    flags: 0,
                    detail: RejectDetail::Suitability { client_class: 2, product_level: 3 },
                }),
            ),
        ),
        (
            "CancelOrder",
            Msg::Client(ClientMessage::CancelOrder(CancelOrder {
                request_id: 7,
                orig_cl_ord_id: 3,
                account: a001(),
            })),
        ),
        (
            "Canceled",
            app(
                5,
                OPEN_NS + 12_000_400_000,
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
        ),
        (
            "MassCancel",
            Msg::Client(ClientMessage::MassCancel(MassCancel {
                request_id: 8,
                scope: MassCancelScope::Account(a001()),
                block_new: true,
            })),
        ),
        (
            "MassCancelAck",
            app(
                8,
                OPEN_NS + 20_000_300_000,
                AppMessage::MassCancelAck(MassCancelAck {
                    request_id: 8,
                    account: Some(a001()),
                    canceled_count: 1,
                    code: RejectCode(0),
                    blocked: true,
                }),
            ),
        ),
        ("Heartbeat (client)", Msg::Client(ClientMessage::Heartbeat)),
        ("Heartbeat (server)", Msg::Server(ServerMessage::Heartbeat)),
        ("Logout", Msg::Client(ClientMessage::Logout)),
        (
            "EndOfSession",
            Msg::Server(ServerMessage::EndOfSession(EndOfSession {
                reason: RejectCode::LOGGED_OUT,
                last_seq: 8,
            })),
        ),
        (
            "LoginRejected",
            Msg::Server(ServerMessage::LoginRejected(LoginRejected {
                code: RejectCode::UNSUPPORTED_VERSION,
            })),
        ),
        (
            "FillFees",
            app(
                4,
                OPEN_NS + 1_000_000,
                AppMessage::FillFees(FillFees {
                    cl_ord_id: 1,
                    order_id: 1_000_001,
                    exec_id: 1,
                    account: a001(),
                    commission: Price::parse_cny("37.50").unwrap().0,
                    stamp_duty: 0,
                    transfer_fee: Price::parse_cny("1.50").unwrap().0,
                }),
            ),
        ),
        (
            "Query",
            Msg::Client(ClientMessage::Query(Query {
                query_id: 21,
                kind: QueryKind::Funds,
                account: a001(),
                cursor: 0,
                page_size: 0,
                flags: 0,
            })),
        ),
        (
            "FundsAnswer",
            Msg::Server(ServerMessage::Query(QueryAnswer::Funds(FundsAnswer {
                header: AnswerHeader {
                    query_id: 21,
                    as_of_seq: 4,
                    account: a001(),
                    next_cursor: 0,
                    flags: 0,
                },
                funds: funds_example(),
            }))),
        ),
    ]
}

/// The funds of the FundsAnswer example: CNY 1,000,000 before buying 100
/// 600519 at 1500.00 (commission CNY 37.50, transfer fee CNY 1.50).
fn funds_example() -> FundsRow {
    let cny = |text: &str| Price::parse_cny(text).unwrap().0;
    FundsRow {
        cash_available: cny("849961.00"),
        cash_frozen: 0,
        cash_debit: 0,
        market_value: cny("150000.00"),
        total_assets: cny("999961.00"),
        realized_pnl_today: 0,
        commission_today: cny("37.50"),
        stamp_duty_today: 0,
        transfer_fee_today: cny("1.50"),
        fees_today: cny("39.00"),
    }
}

fn encode(m: &Msg) -> Vec<u8> {
    match m {
        Msg::Client(c) => util::encode_client(c),
        Msg::Server(s) => util::encode_server(s),
    }
}

/// A hex block of the document: its info-string attributes and its bytes.
#[derive(Debug)]
struct HexBlock {
    name: String,
    direction: String,
    bytes: Vec<u8>,
}

fn hex_blocks(doc: &str) -> Vec<HexBlock> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```hex ") else { continue };
        let attr = |key: &str| {
            let start = info.find(&format!("{key}=")).map(|i| i + key.len() + 1)?;
            let rest = &info[start..];
            let value = match rest.strip_prefix('"') {
                Some(quoted) => &quoted[..quoted.find('"')?],
                None => rest.split_whitespace().next()?,
            };
            Some(value.to_string())
        };
        let name = attr("name").unwrap_or_else(|| panic!("hex block without a name: {line}"));
        let direction = attr("direction").unwrap_or_else(|| panic!("no direction: {line}"));
        let mut bytes = Vec::new();
        for body in lines.by_ref().take_while(|l| !l.starts_with("```")) {
            let hex = body.split_once(':').map_or(body, |(_, rest)| rest);
            for pair in hex.split_whitespace() {
                bytes.push(u8::from_str_radix(pair, 16).unwrap_or_else(|_| panic!("{pair:?}")));
            }
        }
        out.push(HexBlock { name, direction, bytes });
    }
    out
}

#[test]
fn every_hex_example_decodes_to_what_the_document_says() {
    let doc = doc();
    let blocks = hex_blocks(&doc);
    let examples = examples();
    let names: Vec<&str> = blocks.iter().map(|b| b.name.as_str()).collect();
    let want: Vec<&str> = examples.iter().map(|e| e.0).collect();
    assert_eq!(names, want, "the document's examples, in order");
    for (block, (name, expected)) in blocks.iter().zip(&examples) {
        let decoded = match block.direction.as_str() {
            "client" => Msg::Client(ClientMessage::decode(&block.bytes).unwrap_or_else(|e| {
                panic!("example {name} does not decode: {e}");
            })),
            "server" => Msg::Server(ServerMessage::decode(&block.bytes).unwrap_or_else(|e| {
                panic!("example {name} does not decode: {e}");
            })),
            other => panic!("example {name}: direction {other:?}"),
        };
        assert_eq!(&decoded, expected, "example {name}");
        assert_eq!(encode(&decoded), block.bytes, "example {name} re-encodes to its bytes");
    }
    check_key_fields(&blocks);
}

/// The facts the document's prose states about the examples, asserted field by field.
fn check_key_fields(blocks: &[HexBlock]) {
    let bytes = |name: &str| &blocks.iter().find(|b| b.name == name).unwrap().bytes;
    let Ok(ClientMessage::NewOrder(o)) = ClientMessage::decode(bytes("NewOrder")) else {
        panic!("NewOrder example")
    };
    assert_eq!(o.cl_ord_id, 1);
    assert_eq!(o.account.as_str(), "A001");
    assert_eq!(o.security.to_string(), "600519.SH");
    assert_eq!((o.side, o.order_type, o.tif), (Side::Buy, OrderType::Limit, TimeInForce::Day));
    assert_eq!(o.price, Price::parse_cny("1500.00").unwrap());
    assert_eq!(o.price.0, 15_000_000);
    assert_eq!(o.qty, Qty(100));
    assert_eq!(o.validate(), Ok(()));

    let Ok(ClientMessage::Login(l)) = ClientMessage::decode(bytes("Login")) else { panic!() };
    assert_eq!((l.version, l.username.as_str(), l.next_seq), (1, "trader01", 1));

    let Ok(ServerMessage::LoginAccepted(a)) = ServerMessage::decode(bytes("LoginAccepted")) else {
        panic!()
    };
    assert_eq!((a.version, a.heartbeat_ms, a.dead_peer_ms, a.next_seq), (1, 1_000, 15_000, 1));

    let rejected = bytes("OrderRejected");
    let Ok(ServerMessage::App(s)) = ServerMessage::decode(rejected) else { panic!() };
    let AppMessage::OrderRejected(r) = s.msg else { panic!() };
    assert_eq!(r.code, RejectCode::CONFIRMATION_REQUIRED);
    assert_eq!(r.code.0, 4002);
    let text = wire_text(rejected).expect("text");
    assert!(text.starts_with(RejectCode::CONFIRMATION_REQUIRED.sentence().unwrap()));
    assert!(text.contains("R3+") && text.contains("you are C2"), "{text}");

    let Ok(ServerMessage::App(s)) = ServerMessage::decode(bytes("Executed")) else { panic!() };
    let AppMessage::Executed(e) = s.msg else { panic!() };
    assert_eq!((e.qty, e.leaves, e.cum), (Qty(100), Qty(0), Qty(100)), "filled: terminal");

    let Ok(ServerMessage::EndOfSession(z)) = ServerMessage::decode(bytes("EndOfSession")) else {
        panic!()
    };
    assert_eq!(z.reason, RejectCode::LOGGED_OUT);
    assert_eq!(bytes("Heartbeat (client)"), &[1, 0, b'R']);
    assert_eq!(bytes("Heartbeat (server)"), &[1, 0, b'H']);
}

// ---------------------------------------------------------------------------
// Printing the examples section
// ---------------------------------------------------------------------------

fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let pairs: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        out.push_str(&format!("{:3}: {}\n", i * 16, pairs.join(" ")));
    }
    out
}

/// Days since 1970-01-01 to (year, month, day) (H. Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn utc(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let frac = ns % 1_000_000_000;
    format!("{y}-{mo:02}-{d:02} {:02}:{:02}:{:02}.{frac:09} UTC", s / 3600, s / 60 % 60, s % 60)
}

fn ascii_text(raw: &[u8]) -> String {
    let used = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let text = String::from_utf8_lossy(&raw[..used]);
    match raw.len() - used {
        0 => format!("\"{text}\""),
        pad => format!("\"{text}\" + {pad} × NUL"),
    }
}

fn describe(row: &Row, val: &Val) -> String {
    let name =
        |v: u64, f: &dyn Fn(u8) -> Option<&'static str>| match u8::try_from(v).ok().and_then(f) {
            Some(n) => format!("{v} = {n}"),
            None => v.to_string(),
        };
    match (row.field.as_str(), val) {
        ("type", Val::U(v)) => format!("'{}'", char::from(*v as u8)),
        ("reserved", _) => "zero".into(),
        ("price", Val::I(p)) => format!("{p} = CNY {}", Price(*p)),
        ("ts_ns", Val::U(ns)) => format!("{ns} = {}", utc(*ns)),
        ("side", Val::U(v)) => name(*v, &|b| Side::from_u8(b).map(|x| x.name())),
        ("order_type", Val::U(v)) => name(*v, &|b| OrderType::from_u8(b).map(|x| x.name())),
        ("tif", Val::U(v)) => name(*v, &|b| TimeInForce::from_u8(b).map(|x| x.name())),
        ("market", Val::U(v)) => name(*v, &|b| Market::from_u8(b).map(|x| x.name())),
        ("credit", Val::U(v)) => name(*v, &|b| CreditTag::from_u8(b).map(|x| x.name())),
        ("liquidity", Val::U(v)) => name(*v, &|b| Liquidity::from_u8(b).map(|x| x.name())),
        ("reason", Val::U(v)) if row.ty == "u8" => {
            name(*v, &|b| CancelReason::from_u8(b).map(|x| x.name()))
        }
        ("code" | "reason", Val::U(v)) => match RejectCode(*v as u16).name() {
            Some(n) => format!("{v} = {}", n.to_uppercase()),
            None if *v == 0 => "0 = done".into(),
            None => v.to_string(),
        },
        ("flags", Val::U(v)) => match *v {
            0 => "0 = none".into(),
            v => format!("0x{v:02x}"),
        },
        ("detail_kind", Val::U(v)) => {
            let n = ["none", "price-band", "quantity", "amount", "count", "suitability"];
            format!("{v} = {}", n.get(*v as usize).unwrap_or(&"?"))
        }
        ("scope", Val::U(v)) => {
            format!("{v} = {}", ["?", "account", "security", "login"][*v as usize])
        }
        ("block_new" | "blocked" | "priority_kept", Val::U(v)) => {
            format!("{v} = {}", if *v == 1 { "true" } else { "false" })
        }
        ("account" | "username", Val::Bytes(raw)) if raw.iter().all(|&b| b == 0) => {
            "all NUL = none".into()
        }
        ("account" | "username", Val::Bytes(raw)) => ascii_text(raw),
        ("token", Val::Bytes(raw)) => ascii_text(raw),
        ("text", Val::Bytes(raw)) => format!("\"{}\"", String::from_utf8_lossy(raw)),
        (_, Val::U(v)) => v.to_string(),
        (_, Val::I(v)) => v.to_string(),
        (_, Val::Bytes(raw)) => format!("{raw:02x?}"),
    }
    .replace('|', "\\|")
}

/// The worked examples of section 13 (hex dumps and their field tables) are
/// exactly what the codec produces. `PRINT_PROTOCOL_DOC=1` prints them, to
/// regenerate the section after a change.
#[test]
fn worked_examples_are_generated_from_the_code() {
    let doc = doc();
    let mut blocks = Vec::new();
    for (name, msg) in examples() {
        let mut out = String::new();
        let bytes = encode(&msg);
        let (client, direction) = match msg {
            Msg::Client(_) => (true, "client"),
            Msg::Server(_) => (false, "server"),
        };
        let heading = LAYOUTS.iter().find(|l| l.1 == client && l.2 == bytes[2]).unwrap().0;
        let rows = layout_rows(&table_under(&doc, heading));
        emit!(out, "### Example: {name}\n");
        emit!(out, "```hex name=\"{name}\" direction={direction}");
        out.push_str(&hex_dump(&bytes));
        emit!(out, "```\n");
        emit!(out, "| offset | bytes | field | value |");
        emit!(out, "|---|---|---|---|");
        for row in &rows {
            let size = row.size.unwrap_or(bytes.len() - row.offset);
            let raw = &bytes[row.offset..row.offset + size];
            let shown: Vec<String> = raw.iter().map(|b| format!("{b:02x}")).collect();
            let shown = if shown.len() > 16 {
                format!("{} … ({} bytes)", shown[..8].join(" "), shown.len())
            } else {
                shown.join(" ")
            };
            let val = read_field(&bytes, row);
            emit!(
                out,
                "| {} | `{}` | {} | {} |",
                row.offset,
                shown,
                row.field,
                describe(row, &val)
            );
        }
        emit!(out);
        blocks.push(out);
    }
    check_generated(&doc, &blocks);
}

/// Each paragraph of each generated block appears in the document verbatim;
/// prints the blocks when
/// `PRINT_PROTOCOL_DOC` is set.
fn check_generated(doc: &str, blocks: &[String]) {
    if std::env::var_os("PRINT_PROTOCOL_DOC").is_some() {
        for block in blocks {
            print!("{block}");
        }
    }
    assert!(!blocks.is_empty());
    for block in blocks {
        let first = block.lines().next().unwrap_or("");
        // Paragraph by paragraph: the document adds prose between them.
        for part in block.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
            assert!(
                doc.contains(part),
                "docs/protocol.md differs from the generated text under {first:?}:\n{part}\n\
                 (PRINT_PROTOCOL_DOC=1 prints every generated block)"
            );
        }
    }
}
