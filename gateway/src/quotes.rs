//! The quote screen of `bw quotes`: one home for how a market-data book prints.
//!
//! A ladder per security (asks from the deepest down to the best, then bids from
//! the best down), its last price, volume, turnover, phase, the indicative uncross
//! in a call auction and its latest trades; or, for `--ticks`, one line per trade,
//! order or phase message. Pure functions of the book: the command redraws their
//! text in place, the tests read it. Row labels are ASCII (`Ask5`..`Ask1`,
//! `Bid1`..`Bid5`) or the brokers' Chinese (卖五..卖一, 买一..买五).

use protocol::marketdata::SyncState;
use protocol::marketdata::{DeltaBody, DeltaHeader, FLAG_RETRANSMIT, Indicative, WireLevel};
use protocol::mdclient::{FeedCounters, SecurityBook, TradeTick};
use protocol::{Price, SecurityId, Side, TradingPhase};

use crate::views::{cny, time_of_day};

/// Moves the cursor home and clears the terminal: a redraw in place.
pub const CLEAR_HOME: &str = "\x1b[H\x1b[2J";

/// Chinese numerals for level numbers 1 to 10.
const NUMERALS: [&str; 10] = ["一", "二", "三", "四", "五", "六", "七", "八", "九", "十"];

/// How the ladder's rows are named.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Labels {
    /// `Ask5`..`Ask1`, `Bid1`..`Bid5`.
    Ascii,
    /// 卖五..卖一, 买一..买五.
    Chinese,
}

/// One security as the screen shows it.
#[derive(Clone, Debug)]
pub struct Quote<'a> {
    /// The security.
    pub security: SecurityId,
    /// Where its synchronisation stands.
    pub state: SyncState,
    /// Phase in force.
    pub phase: TradingPhase,
    /// Last trade price, else the previous close.
    pub last: Price,
    /// Shares traded today.
    pub volume: u64,
    /// Value traded today, 1/10000 CNY.
    pub turnover: i64,
    /// The indicative uncross (qty 0: none).
    pub indicative: Indicative,
    /// Bids, best first.
    pub bids: &'a [WireLevel],
    /// Asks, best first.
    pub asks: &'a [WireLevel],
    /// Latest trades, newest first.
    pub trades: Vec<TradeTick>,
}

impl<'a> Quote<'a> {
    /// The screen's view of a book, with its `trades_shown` newest trades.
    pub fn of(book: &'a SecurityBook, trades_shown: usize) -> Quote<'a> {
        Quote {
            security: book.security(),
            state: book.state(),
            phase: book.phase(),
            last: book.last(),
            volume: book.volume(),
            turnover: book.turnover(),
            indicative: book.indicative(),
            bids: book.bids(),
            asks: book.asks(),
            trades: book.trades().rev().take(trades_shown).copied().collect(),
        }
    }
}

/// Display columns of a label (a CJK character takes two).
fn width(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

fn label(labels: Labels, side: Side, n: usize) -> String {
    match (labels, side) {
        (Labels::Ascii, Side::Sell) => format!("Ask{n}"),
        (Labels::Ascii, Side::Buy) => format!("Bid{n}"),
        (Labels::Chinese, Side::Sell) => format!("卖{}", NUMERALS[n - 1]),
        (Labels::Chinese, Side::Buy) => format!("买{}", NUMERALS[n - 1]),
    }
}

fn row(label: &str, label_width: usize, cells: [&str; 3]) -> String {
    let pad = " ".repeat(label_width.saturating_sub(width(label)));
    let [price, qty, orders] = cells;
    format!("{label}{pad}  {price:>10}  {qty:>10}  {orders:>6}").trim_end().to_string()
}

fn level_row(label: &str, label_width: usize, level: Option<&WireLevel>) -> String {
    match level {
        Some(l) => {
            let cells = [&l.price.to_string(), &l.qty.0.to_string(), &l.orders.to_string()];
            row(label, label_width, cells.map(String::as_str))
        }
        None => row(label, label_width, ["-", "", ""]),
    }
}

fn aggressor(side: Option<Side>) -> &'static str {
    match side {
        Some(Side::Buy) => "buy",
        Some(Side::Sell) => "sell",
        None => "auction",
    }
}

/// One security's ladder: `levels` rows a side (5 or 10, at most 10), then its
/// indicative uncross when there is one and its latest trades.
pub fn ladder(q: &Quote<'_>, levels: usize, labels: Labels) -> String {
    let levels = levels.clamp(1, NUMERALS.len());
    let label_width = (1..=levels).map(|n| width(&label(labels, Side::Sell, n))).max().unwrap_or(4);
    let state = match q.state {
        SyncState::Synced => "",
        SyncState::Recovering(_) => "  (recovering)",
        SyncState::Unsynced => "  (waiting for a snapshot)",
    };
    let mut lines = vec![format!(
        "{}  {}  last {}  volume {}  turnover {}{state}",
        q.security,
        q.phase,
        q.last,
        q.volume,
        cny(q.turnover)
    )];
    lines.push(row("", label_width, ["price", "qty", "orders"]));
    for n in (1..=levels).rev() {
        lines.push(level_row(&label(labels, Side::Sell, n), label_width, q.asks.get(n - 1)));
    }
    for n in 1..=levels {
        lines.push(level_row(&label(labels, Side::Buy, n), label_width, q.bids.get(n - 1)));
    }
    let i = q.indicative;
    if i.qty.0 > 0 {
        lines.push(format!("indicative {} x {}, imbalance {}", i.price, i.qty, i.imbalance));
    }
    if q.trades.is_empty() {
        lines.push("trades  (none)".into());
    }
    for (k, t) in q.trades.iter().enumerate() {
        let head = if k == 0 { "trades" } else { "" };
        lines.push(format!(
            "{head:6}  {}  {:>10}  {:>10}  {}",
            time_of_day(t.time_ns),
            t.price.to_string(),
            t.qty.0,
            aggressor(t.aggressor)
        ));
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// The whole screen: a status line, then each security's ladder, a blank line apart.
pub fn screen(
    quotes: &[Quote<'_>],
    levels: usize,
    labels: Labels,
    session_id: u64,
    c: &FeedCounters,
) -> String {
    let mut text = format!(
        "session {session_id}  gaps recovered {}  new snapshots {}  conflated {}\n",
        c.gaps_recovered, c.resnapshots, c.conflated_updates
    );
    for q in quotes {
        text.push('\n');
        text.push_str(&ladder(q, levels, labels));
    }
    text
}

/// One line of the tick-by-tick stream: trades, orders and phases (`None` for
/// level and indicative updates, which the ladder shows).
pub fn tick(h: &DeltaHeader, body: &DeltaBody) -> Option<String> {
    let what = match *body {
        DeltaBody::Trade { exec_id, price, qty, buy_order_id, sell_order_id, aggressor: a } => {
            format!(
                "trade {qty} @ {price} {} (exec {exec_id}, buy order {buy_order_id}, sell order {sell_order_id})",
                aggressor(a)
            )
        }
        DeltaBody::OrderAdded { order_id, side, price, qty } => {
            format!("order {order_id} {side} {qty} @ {price}")
        }
        DeltaBody::OrderRemoved { order_id, qty } if qty.0 == 0 => {
            format!("order {order_id} removed")
        }
        DeltaBody::OrderRemoved { order_id, qty } => format!("order {order_id} reduced to {qty}"),
        DeltaBody::Phase { phase, .. } => format!("phase {phase}"),
        DeltaBody::Level { .. } | DeltaBody::Indicative(_) => return None,
    };
    let again = if h.flags & FLAG_RETRANSMIT != 0 { " (retransmitted)" } else { "" };
    Some(format!("{}  {}  #{}  {what}{again}", h.security, time_of_day(h.time_ns), h.seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Market, Qty};

    const SEC: SecurityId = SecurityId { market: Market::Sse, code: 600_519 };
    /// 2026-12-07 10:00:00.001 in Beijing.
    const TEN_NS: u64 = 1_796_608_800_001_000_000;

    fn lv(price: i64, qty: u64, orders: u32) -> WireLevel {
        WireLevel { price: Price(price), qty: Qty(qty), orders }
    }

    fn quote<'a>(bids: &'a [WireLevel], asks: &'a [WireLevel]) -> Quote<'a> {
        Quote {
            security: SEC,
            state: SyncState::Synced,
            phase: TradingPhase::Continuous,
            last: Price(14_850_100),
            volume: 12_500,
            turnover: 185_625_200_000,
            indicative: Indicative::default(),
            bids,
            asks,
            trades: vec![TradeTick {
                seq: 1202,
                time_ns: TEN_NS,
                exec_id: 5001,
                price: Price(14_850_100),
                qty: Qty(200),
                aggressor: Some(Side::Buy),
            }],
        }
    }

    #[test]
    fn a_five_level_ladder_reads_from_the_deepest_ask_to_the_deepest_bid() {
        let bids = [lv(14_850_000, 300, 2), lv(14_849_900, 100, 1)];
        let asks = [lv(14_850_100, 300, 2)];
        let text = ladder(&quote(&bids, &asks), 5, Labels::Ascii);
        let expected = "\
600519.SH  continuous  last 1485.01  volume 12500  turnover 18562520.00
           price         qty  orders
Ask5           -
Ask4           -
Ask3           -
Ask2           -
Ask1     1485.01         300       2
Bid1     1485.00         300       2
Bid2     1484.99         100       1
Bid3           -
Bid4           -
Bid5           -
trades  10:00:00.001     1485.01         200  buy
";
        assert_eq!(text, expected);
    }

    #[test]
    fn ten_levels_and_chinese_labels_keep_the_columns() {
        let bids: Vec<WireLevel> = (0..10).map(|i| lv(14_850_000 - i * 100, 100, 1)).collect();
        let text = ladder(&quote(&bids, &[]), 10, Labels::Ascii);
        assert!(text.contains("\nAsk10           -\n"), "{text}");
        assert!(text.contains("\nBid10     1484.91         100       1\n"), "{text}");
        let text = ladder(&quote(&bids, &[]), 10, Labels::Chinese);
        assert!(text.contains("\n卖十           -\n"), "{text}");
        assert!(text.contains("\n买一     1485.00         100       1\n"), "{text}");
        assert_eq!(text.lines().count(), 2 + 20 + 1);
    }

    #[test]
    fn a_call_auction_shows_its_uncross_and_an_empty_tape_says_so() {
        let mut q = quote(&[], &[]);
        q.phase = TradingPhase::OpeningAuction;
        q.state = SyncState::Recovering(1300);
        q.indicative = Indicative { price: Price(14_850_000), qty: Qty(1200), imbalance: 300 };
        q.trades.clear();
        let text = ladder(&q, 5, Labels::Ascii);
        assert!(text.starts_with("600519.SH  opening-auction  last 1485.01"), "{text}");
        assert!(text.lines().next().unwrap().ends_with("(recovering)"), "{text}");
        assert!(text.contains("\nindicative 1485.00 x 1200, imbalance 300\ntrades  (none)\n"));
    }

    #[test]
    fn the_screen_heads_its_ladders_with_the_feed_counters() {
        let c = FeedCounters {
            gaps_recovered: 2,
            resnapshots: 1,
            conflated_updates: 7,
            ..FeedCounters::default()
        };
        let q = quote(&[], &[]);
        let text = screen(&[q.clone(), q], 5, Labels::Ascii, 20_261_207, &c);
        assert!(text.starts_with(
            "session 20261207  gaps recovered 2  new snapshots 1  conflated 7\n\n600519.SH"
        ));
        assert_eq!(text.matches("\nAsk1").count(), 2);
    }

    #[test]
    fn ticks_name_trades_orders_and_phases() {
        let h = DeltaHeader {
            channel: 160,
            seq: 1202,
            prev_seq: 1201,
            security: SEC,
            flags: 0,
            time_ns: TEN_NS,
        };
        let trade = DeltaBody::Trade {
            exec_id: 5001,
            price: Price(14_850_100),
            qty: Qty(200),
            buy_order_id: 88,
            sell_order_id: 61,
            aggressor: Some(Side::Buy),
        };
        assert_eq!(
            tick(&h, &trade).unwrap(),
            "600519.SH  10:00:00.001  #1202  trade 200 @ 1485.01 buy (exec 5001, buy order 88, sell order 61)"
        );
        let added = DeltaBody::OrderAdded {
            order_id: 89,
            side: Side::Buy,
            price: Price(14_850_000),
            qty: Qty(400),
        };
        assert!(tick(&h, &added).unwrap().ends_with("order 89 buy 400 @ 1485.00"));
        let gone = DeltaBody::OrderRemoved { order_id: 89, qty: Qty(0) };
        let again = DeltaHeader { flags: FLAG_RETRANSMIT, ..h };
        assert!(tick(&again, &gone).unwrap().ends_with("order 89 removed (retransmitted)"));
        let level = DeltaBody::Level { side: Side::Buy, level: lv(14_850_000, 100, 1) };
        assert_eq!(tick(&h, &level), None);
    }
}
