//! The four account views (funds, positions, orders, fills) printed for a person
//! (aligned tables) or a script (JSON): one home for how they print, shared by
//! `bw` (answers from a live gateway) and `bw-journal` (a journal replayed to any
//! input). They print the protocol's query rows ([`protocol::query`]), the
//! vocabulary the wire answers carry; `bw-journal` gets the same rows from the
//! same code that answers the wire ([`crate::answers::answer`]).
//!
//! Tables show money in CNY with two decimals, rounded half away from zero to the
//! fen (half up in magnitude, as [`risk_check::query`] rounds averages), and P&L
//! with its sign. JSON carries every figure exactly: money as a decimal number of
//! CNY (two decimals, or four when the value needs them), never a float.
//! Times are the exchange's (Beijing, UTC+8), as the venue's sessions are.

use std::fmt::Write;

use protocol::query::{
    FillRow, FundsRow, OrderRow, PositionRow, QueryAnswer, QueryKind, answer_header_flags,
};
use protocol::{AccountId, Price};

/// Table for people, JSON for scripts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// One JSON object.
    Json,
}

/// The point in time an answer reflects.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AsOf {
    /// A journal replayed up to and including this input.
    InputSeq(u64),
    /// A live answer reflecting the login's stream up to this sequence number.
    StreamSeq(u64),
}

/// Whose view and as of when: the heading of every view.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Heading {
    /// The account.
    pub account: AccountId,
    /// The state it reflects.
    pub as_of: AsOf,
}

/// The exchange's offset from UTC (Beijing time).
const EXCHANGE_UTC_OFFSET_S: u64 = 8 * 3600;

/// The view of a query's answers, page after page (rejections carry no rows).
pub fn of_answers(h: &Heading, kind: QueryKind, answers: &[QueryAnswer], format: Format) -> String {
    match kind {
        QueryKind::Funds => match answers.iter().find_map(|a| match a {
            QueryAnswer::Funds(f) => Some(f.funds),
            _ => None,
        }) {
            Some(row) => funds(h, &row, format),
            None => funds(h, &FundsRow::default(), format),
        },
        QueryKind::Positions => {
            let rows = rows_of(answers, |a| match a {
                QueryAnswer::Positions(p) => p.rows.as_slice(),
                _ => &[],
            });
            positions(h, &rows, format)
        }
        QueryKind::Orders => {
            let rows = rows_of(answers, |a| match a {
                QueryAnswer::Orders(o) => o.rows.as_slice(),
                _ => &[],
            });
            orders(h, &rows, format)
        }
        QueryKind::Fills => {
            let rows = rows_of(answers, |a| match a {
                QueryAnswer::Fills(f) => f.rows.as_slice(),
                _ => &[],
            });
            let incomplete = answers
                .iter()
                .filter_map(QueryAnswer::header)
                .any(|h| h.flags & answer_header_flags::INCOMPLETE != 0);
            fills(h, &rows, incomplete, format)
        }
    }
}

fn rows_of<T: Copy>(answers: &[QueryAnswer], rows: impl Fn(&QueryAnswer) -> &[T]) -> Vec<T> {
    answers.iter().flat_map(|a| rows(a).iter().copied()).collect()
}

/// An account's funds.
pub fn funds(h: &Heading, v: &FundsRow, format: Format) -> String {
    let rows: [(&str, Money); 10] = [
        ("cash available", Money::Plain(v.cash_available)),
        ("cash frozen", Money::Plain(v.cash_frozen)),
        ("cash debit", Money::Plain(v.cash_debit)),
        ("market value", Money::Plain(v.market_value)),
        ("total assets", Money::Plain(v.total_assets)),
        ("realized P&L today", Money::Signed(v.realized_pnl_today)),
        ("fees today", Money::Plain(v.fees_today)),
        ("  commission", Money::Plain(v.commission_today)),
        ("  stamp duty", Money::Plain(v.stamp_duty_today)),
        ("  transfer fee", Money::Plain(v.transfer_fee_today)),
    ];
    match format {
        Format::Table => {
            let mut t = Table::new(&[("", Align::Left), ("CNY", Align::Right)]);
            for (name, money) in rows {
                t.row(vec![name.to_string(), money.text()]);
            }
            format!("{}{}", heading_line(h, "funds"), t.render())
        }
        Format::Json => {
            let mut o = Json::object();
            o.cny("cash_available", v.cash_available)
                .cny("cash_frozen", v.cash_frozen)
                .cny("cash_debit", v.cash_debit)
                .cny("market_value", v.market_value)
                .cny("total_assets", v.total_assets)
                .cny("realized_pnl_today", v.realized_pnl_today)
                .cny("commission_today", v.commission_today)
                .cny("stamp_duty_today", v.stamp_duty_today)
                .cny("transfer_fee_today", v.transfer_fee_today)
                .cny("fees_today", v.fees_today);
            document(h, "funds", &o.close())
        }
    }
}

/// An account's holdings.
pub fn positions(h: &Heading, rows: &[PositionRow], format: Format) -> String {
    match format {
        Format::Table => {
            let mut t = Table::new(&[
                ("security", Align::Left),
                ("qty", Align::Right),
                ("sellable", Align::Right),
                ("frozen", Align::Right),
                ("avg cost", Align::Right),
                ("last", Align::Right),
                ("market value", Align::Right),
                ("unrealized P&L", Align::Right),
            ]);
            for p in rows {
                t.row(vec![
                    p.security.to_string(),
                    p.qty.to_string(),
                    p.sellable.to_string(),
                    p.frozen.to_string(),
                    cny(p.average_cost.0),
                    cny(p.last_price.0),
                    cny(p.market_value),
                    signed_cny(p.unrealized_pnl),
                ]);
            }
            format!("{}{}", heading_line(h, "positions"), t.render())
        }
        Format::Json => {
            let items: Vec<String> = rows
                .iter()
                .map(|p| {
                    let mut o = Json::object();
                    o.str("security", &p.security.to_string())
                        .int("qty", p.qty)
                        .int("sellable", p.sellable)
                        .int("frozen", p.frozen)
                        .cny("average_cost", p.average_cost.0)
                        .cny("last_price", p.last_price.0)
                        .cny("market_value", p.market_value)
                        .cny("unrealized_pnl", p.unrealized_pnl);
                    o.close()
                })
                .collect();
            document(h, "positions", &array(&items))
        }
    }
}

/// An account's orders of the day.
pub fn orders(h: &Heading, rows: &[OrderRow], format: Format) -> String {
    match format {
        Format::Table => {
            let mut t = Table::new(&[
                ("time", Align::Left),
                ("cl_ord_id", Align::Right),
                ("security", Align::Left),
                ("side", Align::Left),
                ("type", Align::Left),
                ("price", Align::Right),
                ("qty", Align::Right),
                ("filled", Align::Right),
                ("open", Align::Right),
                ("avg price", Align::Right),
                ("fees", Align::Right),
                ("status", Align::Left),
            ]);
            for o in rows {
                let price = if o.order_type.is_market() { "market".into() } else { cny(o.price.0) };
                t.row(vec![
                    time_of_day(o.entered_ns),
                    o.cl_ord_id.to_string(),
                    o.security.to_string(),
                    o.side.to_string(),
                    o.order_type.to_string(),
                    price,
                    o.qty.0.to_string(),
                    o.filled_qty.0.to_string(),
                    o.open_qty.0.to_string(),
                    cny(o.average_price.0),
                    cny(o.fees_paid),
                    status_text(o),
                ]);
            }
            format!("{}{}", heading_line(h, "orders"), t.render())
        }
        Format::Json => {
            let items: Vec<String> = rows.iter().map(order_json).collect();
            document(h, "orders", &array(&items))
        }
    }
}

fn order_json(v: &OrderRow) -> String {
    let mut o = Json::object();
    o.int("cl_ord_id", v.cl_ord_id)
        .str("security", &v.security.to_string())
        .str("side", v.side.name())
        .str("order_type", v.order_type.name())
        .cny("price", v.price.0)
        .int("qty", v.qty.0)
        .str("status", v.status.name());
    if v.code.0 != 0 {
        o.int("reject_code", u64::from(v.code.0));
    }
    o.int("filled_qty", v.filled_qty.0)
        .int("open_qty", v.open_qty.0)
        .cny("average_price", v.average_price.0)
        .cny("fees_paid", v.fees_paid)
        .int("entered_ns", v.entered_ns);
    o.close()
}

/// An account's fills of the day. `incomplete`: the gateway's fills table was
/// full, so some of the day's fills are missing from the list.
pub fn fills(h: &Heading, rows: &[FillRow], incomplete: bool, format: Format) -> String {
    match format {
        Format::Table => {
            let mut t = Table::new(&[
                ("time", Align::Left),
                ("cl_ord_id", Align::Right),
                ("exec_id", Align::Right),
                ("security", Align::Left),
                ("side", Align::Left),
                ("price", Align::Right),
                ("qty", Align::Right),
                ("value", Align::Right),
                ("commission", Align::Right),
                ("stamp duty", Align::Right),
                ("transfer", Align::Right),
                ("fees", Align::Right),
            ]);
            for f in rows {
                t.row(vec![
                    time_of_day(f.booked_ns),
                    f.cl_ord_id.to_string(),
                    f.exec_id.to_string(),
                    f.security.to_string(),
                    f.side.to_string(),
                    cny(f.price.0),
                    f.qty.0.to_string(),
                    cny(fill_value(f)),
                    cny(f.commission),
                    cny(f.stamp_duty),
                    cny(f.transfer_fee),
                    cny(f.fees_total()),
                ]);
            }
            let mut out = format!("{}{}", heading_line(h, "fills"), t.render());
            if incomplete {
                out.push_str(INCOMPLETE_NOTE);
            }
            out
        }
        Format::Json => {
            let items: Vec<String> = rows
                .iter()
                .map(|f| {
                    let mut o = Json::object();
                    o.int("exec_id", f.exec_id)
                        .int("cl_ord_id", f.cl_ord_id)
                        .str("security", &f.security.to_string())
                        .str("side", f.side.name())
                        .cny("price", f.price.0)
                        .int("qty", f.qty.0)
                        .cny("value", fill_value(f))
                        .cny("commission", f.commission)
                        .cny("stamp_duty", f.stamp_duty)
                        .cny("transfer_fee", f.transfer_fee)
                        .cny("fees", f.fees_total())
                        .int("booked_ns", f.booked_ns);
                    o.close()
                })
                .collect();
            let mut doc = heading_json(h);
            doc.raw("fills", &array(&items)).bool("incomplete", incomplete);
            format!("{}\n", doc.close())
        }
    }
}

/// What the fills table says when the day's list is not whole.
const INCOMPLETE_NOTE: &str =
    "incomplete: the fills table was full today; later fills are missing (their money is booked)\n";

/// Price × quantity, 1/10000 CNY (saturating: a display never panics).
fn fill_value(f: &FillRow) -> i64 {
    let v = i128::from(f.price.0) * i128::from(f.qty.0);
    v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

fn status_text(o: &OrderRow) -> String {
    if o.code.0 != 0 { format!("{} {}", o.status, o.code) } else { o.status.to_string() }
}

fn heading_line(h: &Heading, view: &str) -> String {
    let as_of = match h.as_of {
        AsOf::InputSeq(n) => format!("after journal input {n}"),
        AsOf::StreamSeq(n) => format!("as of stream seq {n}"),
    };
    format!("{view} of account {}, {as_of}\n", h.account)
}

fn heading_json(h: &Heading) -> Json {
    let mut o = Json::object();
    o.str("account", h.account.as_str());
    match h.as_of {
        AsOf::InputSeq(n) => o.int("as_of_input_seq", n),
        AsOf::StreamSeq(n) => o.int("as_of_stream_seq", n),
    };
    o
}

fn document(h: &Heading, view: &str, body: &str) -> String {
    let mut doc = heading_json(h);
    doc.raw(view, body);
    format!("{}\n", doc.close())
}

fn array(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

/// A money figure in a table.
#[derive(Clone, Copy)]
enum Money {
    Plain(i64),
    Signed(i64),
}

impl Money {
    fn text(self) -> String {
        match self {
            Money::Plain(units) => cny(units),
            Money::Signed(units) => signed_cny(units),
        }
    }
}

/// `units` (1/10000 CNY) rounded half away from zero to the fen: (negative?, fen).
fn to_fen(units: i64) -> (bool, u64) {
    // |i64::MIN| + 50 still fits a u64.
    (units < 0, (units.unsigned_abs() + 50) / 100)
}

/// CNY with two decimals, `-` for a negative amount.
pub fn cny(units: i64) -> String {
    let (negative, fen) = to_fen(units);
    let sign = if negative && fen > 0 { "-" } else { "" };
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// CNY with two decimals and a sign (`+`, `-`, none for zero): for P&L.
pub fn signed_cny(units: i64) -> String {
    let (negative, fen) = to_fen(units);
    let sign = match (negative, fen) {
        (_, 0) => "",
        (true, _) => "-",
        (false, _) => "+",
    };
    format!("{sign}{}.{:02}", fen / 100, fen % 100)
}

/// Nanoseconds since the Unix epoch as the exchange's `HH:MM:SS.mmm`; `-` for zero.
pub fn time_of_day(ns: u64) -> String {
    if ns == 0 {
        return "-".into();
    }
    let local_s = ns / 1_000_000_000 + EXCHANGE_UTC_OFFSET_S;
    let ms = ns / 1_000_000 % 1000;
    let s = local_s % 86_400;
    format!("{:02}:{:02}:{:02}.{ms:03}", s / 3600, s / 60 % 60, s % 60)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

/// Columns padded to their widest cell, two spaces apart, no trailing blanks.
struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[(&str, Align)]) -> Table {
        let columns = columns.iter().map(|(n, a)| (n.to_string(), *a)).collect();
        Table { columns, rows: Vec::new() }
    }

    fn row(&mut self, cells: Vec<String>) {
        assert_eq!(cells.len(), self.columns.len(), "a table row has one cell per column");
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let mut widths: Vec<usize> = self.columns.iter().map(|(n, _)| n.chars().count()).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = self.columns.iter().map(|(n, _)| n.clone()).collect();
        self.line(&mut out, &header, &widths);
        for row in &self.rows {
            self.line(&mut out, row, &widths);
        }
        if self.rows.is_empty() {
            out.push_str("(none)\n");
        }
        out
    }

    fn line(&self, out: &mut String, cells: &[String], widths: &[usize]) {
        let mut line = String::new();
        for (i, ((cell, w), (_, align))) in cells.iter().zip(widths).zip(&self.columns).enumerate()
        {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = w - cell.chars().count();
            match align {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
}

/// A JSON object written field by field (the views are flat records).
struct Json {
    text: String,
}

impl Json {
    fn object() -> Json {
        Json { text: String::from("{") }
    }

    fn key(&mut self, key: &str) {
        if self.text.len() > 1 {
            self.text.push(',');
        }
        self.text.push_str(&crate::admin::http::json_string(key));
        self.text.push(':');
    }

    fn str(&mut self, key: &str, value: &str) -> &mut Json {
        self.key(key);
        self.text.push_str(&crate::admin::http::json_string(value));
        self
    }

    fn int(&mut self, key: &str, value: u64) -> &mut Json {
        self.key(key);
        let _ = write!(self.text, "{value}");
        self
    }

    /// Money, exact: 1/10000 CNY printed as a decimal number of CNY.
    fn cny(&mut self, key: &str, units: i64) -> &mut Json {
        self.key(key);
        let _ = write!(self.text, "{}", Price(units));
        self
    }

    fn bool(&mut self, key: &str, value: bool) -> &mut Json {
        self.key(key);
        self.text.push_str(if value { "true" } else { "false" });
        self
    }

    fn raw(&mut self, key: &str, json: &str) -> &mut Json {
        self.key(key);
        self.text.push_str(json);
        self
    }

    fn close(&mut self) -> String {
        let mut text = std::mem::take(&mut self.text);
        text.push('}');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::query::OrderStatus;
    use protocol::{Market, OrderType, Qty, RejectCode, SecurityId, Side};

    fn units(text: &str) -> i64 {
        Price::parse_cny(text).unwrap().0
    }

    fn a001() -> AccountId {
        AccountId::new("A001").unwrap()
    }

    fn heading() -> Heading {
        Heading { account: a001(), as_of: AsOf::InputSeq(42) }
    }

    fn moutai() -> SecurityId {
        SecurityId::new(Market::Sse, 600519).unwrap()
    }

    /// 2026-12-07 01:31:02.123 UTC, 09:31:02.123 in Beijing.
    const MORNING_NS: u64 = 1_796_607_062_123_000_000;

    #[test]
    fn money_rounds_half_away_from_zero_to_the_fen() {
        assert_eq!(cny(12_345), "1.23");
        assert_eq!(cny(12_350), "1.24");
        assert_eq!(cny(-12_350), "-1.24");
        assert_eq!(cny(-49), "0.00", "no minus zero");
        assert_eq!(cny(units("149800")), "149800.00");
        assert_eq!(signed_cny(12_350), "+1.24");
        assert_eq!(signed_cny(-12_349), "-1.23");
        assert_eq!(signed_cny(49), "0.00");
        assert_eq!(cny(i64::MIN), "-922337203685477.58");
        assert_eq!(cny(i64::MAX), "922337203685477.58");
    }

    #[test]
    fn times_are_the_exchanges() {
        assert_eq!(time_of_day(MORNING_NS), "09:31:02.123");
        assert_eq!(time_of_day(0), "-");
    }

    fn funds_row() -> FundsRow {
        FundsRow {
            cash_available: units("850155.45"),
            cash_frozen: 0,
            cash_debit: 0,
            market_value: units("149800"),
            total_assets: units("999955.45"),
            realized_pnl_today: -units("12.345"),
            commission_today: units("37.45"),
            stamp_duty_today: 0,
            transfer_fee_today: units("1.50"),
            fees_today: units("38.95"),
        }
    }

    #[test]
    fn funds_table_is_aligned_and_json_exact() {
        let row = funds_row();
        let expected = "\
funds of account A001, after journal input 42
                          CNY
cash available      850155.45
cash frozen              0.00
cash debit               0.00
market value        149800.00
total assets        999955.45
realized P&L today     -12.35
fees today              38.95
  commission            37.45
  stamp duty             0.00
  transfer fee           1.50
";
        assert_eq!(funds(&heading(), &row, Format::Table), expected);
        assert_eq!(
            funds(&heading(), &row, Format::Json),
            "{\"account\":\"A001\",\"as_of_input_seq\":42,\"funds\":{\"cash_available\":850155.45,\
             \"cash_frozen\":0.00,\"cash_debit\":0.00,\"market_value\":149800.00,\
             \"total_assets\":999955.45,\"realized_pnl_today\":-12.3450,\
             \"commission_today\":37.45,\"stamp_duty_today\":0.00,\"transfer_fee_today\":1.50,\
             \"fees_today\":38.95}}\n"
        );
    }

    #[test]
    fn positions_table_signs_pnl_and_json_is_exact() {
        let p = PositionRow {
            security: moutai(),
            qty: 100,
            sellable: 0,
            frozen: 0,
            average_cost: Price(units("1498.3745")),
            last_price: Price(units("1498.00")),
            market_value: units("149800"),
            unrealized_pnl: -units("37.45"),
        };
        let expected = "\
positions of account A001, as of stream seq 7
security   qty  sellable  frozen  avg cost     last  market value  unrealized P&L
600519.SH  100         0       0   1498.37  1498.00     149800.00          -37.45
";
        let h = Heading { as_of: AsOf::StreamSeq(7), ..heading() };
        assert_eq!(positions(&h, &[p], Format::Table), expected);
        assert_eq!(
            positions(&h, &[], Format::Table),
            "positions of account A001, as of stream seq 7\n\
             security  qty  sellable  frozen  avg cost  last  market value  unrealized P&L\n\
             (none)\n"
        );
        assert_eq!(
            positions(&h, &[p], Format::Json),
            "{\"account\":\"A001\",\"as_of_stream_seq\":7,\"positions\":[{\
             \"security\":\"600519.SH\",\"qty\":100,\"sellable\":0,\"frozen\":0,\
             \"average_cost\":1498.3745,\"last_price\":1498.00,\"market_value\":149800.00,\
             \"unrealized_pnl\":-37.45}]}\n"
        );
    }

    fn order(status: OrderStatus, code: u16, filled: u64) -> OrderRow {
        OrderRow {
            cl_ord_id: 42,
            security: moutai(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            status,
            code: RejectCode(code),
            price: Price(units("1498.00")),
            qty: Qty(300),
            filled_qty: Qty(filled),
            open_qty: Qty(if status.is_open() { 300 - filled } else { 0 }),
            average_price: Price(if filled > 0 { units("1498") } else { 0 }),
            fees_paid: if filled > 0 { units("37.45") } else { 0 },
            entered_ns: MORNING_NS,
        }
    }

    #[test]
    fn orders_show_status_and_reject_code() {
        let rows =
            [order(OrderStatus::PartlyFilled, 0, 100), order(OrderStatus::Rejected, 3001, 0)];
        let expected = format!(
            "\
orders of account A001, after journal input 42
time          cl_ord_id  security   side  type     price  qty  filled  open  avg price   fees  status
09:31:02.123         42  600519.SH  buy   limit  1498.00  300     100   200    1498.00  37.45  partly_filled
09:31:02.123         42  600519.SH  buy   limit  1498.00  300       0     0       0.00   0.00  rejected {}
",
            RejectCode(3001)
        );
        assert_eq!(orders(&heading(), &rows, Format::Table), expected);
        assert_eq!(
            orders(&heading(), &rows[1..], Format::Json),
            "{\"account\":\"A001\",\"as_of_input_seq\":42,\"orders\":[{\
             \"cl_ord_id\":42,\"security\":\"600519.SH\",\"side\":\"buy\",\
             \"order_type\":\"limit\",\"price\":1498.00,\"qty\":300,\"status\":\"rejected\",\
             \"reject_code\":3001,\"filled_qty\":0,\"open_qty\":0,\
             \"average_price\":0.00,\"fees_paid\":0.00,\"entered_ns\":1796607062123000000}]}\n"
        );
    }

    #[test]
    fn fills_break_fees_down_and_say_when_incomplete() {
        let f = FillRow {
            exec_id: 9,
            cl_ord_id: 42,
            security: moutai(),
            side: Side::Sell,
            price: Price(units("1498.00")),
            qty: Qty(100),
            commission: units("37.45"),
            stamp_duty: units("74.90"),
            transfer_fee: units("1.50"),
            booked_ns: MORNING_NS,
        };
        let expected = "\
fills of account A001, after journal input 42
time          cl_ord_id  exec_id  security   side    price  qty      value  commission  stamp duty  transfer    fees
09:31:02.123         42        9  600519.SH  sell  1498.00  100  149800.00       37.45       74.90      1.50  113.85
";
        assert_eq!(fills(&heading(), &[f], false, Format::Table), expected);
        assert_eq!(
            fills(&heading(), &[f], true, Format::Table),
            format!("{expected}{INCOMPLETE_NOTE}")
        );
        assert_eq!(
            fills(&heading(), &[f], true, Format::Json),
            "{\"account\":\"A001\",\"as_of_input_seq\":42,\"fills\":[{\"exec_id\":9,\
             \"cl_ord_id\":42,\"security\":\"600519.SH\",\"side\":\"sell\",\"price\":1498.00,\
             \"qty\":100,\"value\":149800.00,\"commission\":37.45,\"stamp_duty\":74.90,\
             \"transfer_fee\":1.50,\"fees\":113.85,\"booked_ns\":1796607062123000000}],\
             \"incomplete\":true}\n"
        );
    }

    #[test]
    fn pages_join_into_one_view() {
        use protocol::query::{AnswerHeader, FillsAnswer, OrdersAnswer, Rows};
        let header = |next_cursor, flags| AnswerHeader {
            query_id: 1,
            as_of_seq: 9,
            account: a001(),
            next_cursor,
            flags,
        };
        let page = |ids: &[u64], next| {
            let mut rows = Rows::new(OrderRow::EMPTY);
            for &id in ids {
                rows.push(OrderRow { cl_ord_id: id, ..order(OrderStatus::Open, 0, 0) });
            }
            QueryAnswer::Orders(OrdersAnswer { header: header(next, 0), rows })
        };
        let answers = [page(&[1, 2], 5), page(&[3], 0)];
        let json = of_answers(&heading(), QueryKind::Orders, &answers, Format::Json);
        assert_eq!(json.matches("\"cl_ord_id\":").count(), 3, "{json}");
        assert!(json.find("\"cl_ord_id\":1,") < json.find("\"cl_ord_id\":3,"), "{json}");
        let fills = [
            QueryAnswer::Fills(FillsAnswer {
                header: header(4, 0),
                rows: Rows::new(FillRow::EMPTY),
            }),
            QueryAnswer::Fills(FillsAnswer {
                header: header(0, answer_header_flags::INCOMPLETE),
                rows: Rows::new(FillRow::EMPTY),
            }),
        ];
        let table = of_answers(&heading(), QueryKind::Fills, &fills, Format::Table);
        assert!(table.ends_with(INCOMPLETE_NOTE), "any page's flag: {table}");
    }
}
