//! The four terminal queries (funds, positions, orders, fills) and the fees they
//! report: hand-computed fee cases to the fen, each view after a day of orders,
//! fills, cancels, a reject and a T+1 roll, paging, the fills table's capacity,
//! money conservation, and a property test against a simple model.

mod util;

use std::collections::HashMap;

use proptest::prelude::*;
use protocol::{Qty, RejectCode, Side};
use risk_check::{
    FeeBreakdown, FillRecord, NewOrderVerdict, OrderFilter, OrderRef, OrderStatus, OrderView,
    PositionView, RiskEngine,
};
use util::*;

fn units(text: &str) -> i64 {
    cny(text).0
}

fn fees(commission: &str, stamp_duty: &str, transfer: &str) -> FeeBreakdown {
    FeeBreakdown {
        commission: units(commission),
        stamp_duty: units(stamp_duty),
        transfer: units(transfer),
    }
}

/// Fills `qty` at `price` and returns the fees charged, checking that the
/// account's cash moved by exactly value plus (buys) or less (sells) those fees.
fn fill(h: &mut Harness, r: OrderRef, price: &str, qty: u64) -> FeeBreakdown {
    let rec = *h.engine.order(r);
    let before = h.engine.account_snapshot(&rec.account).unwrap().cash_total();
    let charged = h.engine.on_fill(r, cny(price), Qty(qty), h.now_ns);
    h.validate();
    let after = h.engine.account_snapshot(&rec.account).unwrap().cash_total();
    let value = cny(price).0 * qty as i64;
    let flow = if rec.side == Side::Buy { -value } else { value };
    assert_eq!(after - before, flow - charged.total(), "cash charged = value and the fees");
    charged
}

fn b002(mut o: protocol::codec::NewOrder) -> protocol::codec::NewOrder {
    o.account = acct("B002");
    o
}

#[test]
fn a_small_buy_pays_the_minimum_commission_and_no_stamp_duty() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 1_000);
    let r = h.pass(&o);
    // CNY 10,000: commission 2.50 → the 5.00 minimum; transfer 0.001% = 0.10.
    assert_eq!(fill(&mut h, r, "10.00", 1_000), fees("5.00", "0", "0.10"));
}

#[test]
fn a_sell_pays_stamp_duty() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Sell, "600000.SH", "10.00", 10_000);
    let r = h.pass(&o);
    // CNY 100,000: commission 25.00, stamp duty 0.05% = 50.00, transfer 1.00.
    assert_eq!(fill(&mut h, r, "10.00", 10_000), fees("25.00", "50.00", "1.00"));
}

#[test]
fn partial_fills_cross_the_minimum_commission_once() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 10_000);
    let r = h.pass(&o);
    // 1,000: commission 2.50 → minimum 5.00 on the first fill; transfer 0.10.
    assert_eq!(fill(&mut h, r, "10.00", 1_000), fees("5.00", "0", "0.10"));
    // Cumulative CNY 30,000: commission 7.50, of which 5.00 is paid → 2.50.
    assert_eq!(fill(&mut h, r, "10.00", 2_000), fees("2.50", "0", "0.20"));
    // Cumulative CNY 100,000: commission 25.00 → 17.50 more; transfer 1.00 → 0.70.
    assert_eq!(fill(&mut h, r, "10.00", 7_000), fees("17.50", "0", "0.70"));
    let funds = h.engine.funds(&main_account()).unwrap();
    assert_eq!(funds.fees_today, fees("25.00", "0", "1.00"));
    assert_eq!(h.engine.order(r).fees_paid, units("26.00"));
}

#[test]
fn a_partial_sell_below_the_minimum_then_above_it() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Sell, "600000.SH", "10.00", 5_000);
    let r = h.pass(&o);
    // CNY 1,000: commission 0.25 → 5.00; stamp 0.50; transfer 0.01.
    assert_eq!(fill(&mut h, r, "10.00", 100), fees("5.00", "0.50", "0.01"));
    // Cumulative CNY 50,000: commission 12.50 → 7.50 more; stamp 25.00 → 24.50;
    // transfer 0.50 → 0.49.
    assert_eq!(fill(&mut h, r, "10.00", 4_900), fees("7.50", "24.50", "0.49"));
}

#[test]
fn fees_round_half_up_to_the_fen() {
    let mut h = Harness::default_market();
    // 500 at CNY 1.00 = 500.00: transfer 0.005 → 0.01.
    let o = b002(h.limit(Side::Buy, "600004.SH", "1.00", 500));
    let r = h.pass(&o);
    assert_eq!(fill(&mut h, r, "1.00", 500), fees("5.00", "0", "0.01"));
    // 400 at CNY 1.01 = 404.00: transfer 0.00404 → 0.00.
    let o = b002(h.limit(Side::Buy, "600004.SH", "1.01", 400));
    let r = h.pass(&o);
    assert_eq!(fill(&mut h, r, "1.01", 400), fees("5.00", "0", "0"));
    // Every charge is whole fen.
    let funds = h.engine.funds(&acct("B002")).unwrap();
    assert_eq!(funds.fees_paid_total % 100, 0);
    assert_eq!(funds.fees_today, fees("10.00", "0", "0.01"));
}

#[test]
fn buying_power_is_exact_with_fen_fees() {
    let mut cfg = config();
    // 1,000 at 10.00 needs 10,000 + 5.00 + 0.10 and not a unit more.
    cfg.accounts[1].cash = units("10005.10");
    let mut h = Harness::new(cfg);
    let o = b002(h.limit(Side::Buy, "600000.SH", "10.00", 1_000));
    let r = h.pass(&o);
    assert_eq!(h.engine.funds(&acct("B002")).unwrap().cash_available, 0);
    fill(&mut h, r, "9.99", 400);
    fill(&mut h, r, "10.00", 600);
    let funds = h.engine.funds(&acct("B002")).unwrap();
    // Value 3,996.00 + 6,000.00, fees 5.00 + 0.10 (0.09996 to the fen): 4.00 left
    // of 10,005.10, nothing owed.
    assert_eq!((funds.cash_available, funds.cash_frozen, funds.cash_debit), (units("4.00"), 0, 0));
    let mut cfg = config();
    cfg.accounts[1].cash = units("10005.09");
    let mut h = Harness::new(cfg);
    let o = b002(h.limit(Side::Buy, "600000.SH", "10.00", 1_000));
    h.reject(&o, RejectCode::INSUFFICIENT_FUNDS);
}

/// A001's day: a buy partly filled then cancelled, a sell filled, a reject, an
/// order waiting for the venue and one working; B002 trades in between.
struct Day {
    h: Harness,
    buy: OrderRef,
    sell: OrderRef,
    pending: OrderRef,
    working: OrderRef,
}

fn trading_day() -> Day {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 1_000);
    let buy = h.pass(&o);
    h.engine.on_venue_accepted(buy);
    fill(&mut h, buy, "9.99", 400);
    let other = b002(h.limit(Side::Buy, "000001.SZ", "10.00", 100));
    let b = h.pass(&other);
    fill(&mut h, b, "10.00", 100);
    let o = h.limit(Side::Sell, "600000.SH", "10.50", 2_000);
    let sell = h.pass(&o);
    h.engine.on_venue_accepted(sell);
    fill(&mut h, sell, "10.50", 2_000);
    let wild = h.limit(Side::Buy, "600000.SH", "12.00", 100);
    h.reject(&wild, RejectCode::PRICE_LIMIT);
    let o = h.limit(Side::Buy, "000001.SZ", "9.00", 100);
    let pending = h.pass(&o);
    let o = h.limit(Side::Sell, "600000.SH", "10.80", 300);
    let working = h.pass(&o);
    h.engine.on_venue_accepted(working);
    h.engine.on_trade(sec("600000.SH"), cny("10.20"));
    Day { h, buy, sell, pending, working }
}

fn all_orders(e: &RiskEngine, filter: OrderFilter) -> Vec<OrderView> {
    let mut out = Vec::new();
    let page = e.orders_page(&main_account(), filter, 0, usize::MAX, &mut out);
    assert_eq!((page.returned, page.next), (out.len(), None));
    out
}

#[test]
fn positions_after_a_day_of_trading() {
    let d = trading_day();
    let p = d.h.engine.position(&main_account(), sec("600000.SH")).unwrap();
    // 10,050 held + 400 bought − 2,000 sold.
    assert_eq!(p.qty, 8_450);
    // T+1: only yesterday's 10,050 less the 2,000 sold and the 300 frozen.
    assert_eq!((p.sellable, p.frozen, p.bought_today), (7_750, 300, 400));
    // Cost: 90,450.00 + 3,996.00 + fees 5.04 = 94,451.04 for 10,450 shares; the
    // sell takes 94,451.04 × 2,000 / 10,450 = 18,076.7540 of it.
    assert_eq!(p.cost_total, 944_510_400 - 180_767_540);
    assert_eq!(p.average_cost.0, (763_742_860 * 2 + 8_450) / (2 * 8_450));
    assert_eq!(p.last_price, cny("10.20"));
    assert_eq!(p.market_value, units("86190.00"));
    assert_eq!(p.unrealized_pnl, units("86190.00") - 763_742_860);
    // 21,000 − fees 15.96 (5.25 + 10.50 + 0.21) − 18,076.7540.
    assert_eq!(p.realized_pnl, 29_072_860);
    // 000001.SZ has an open buy but no holding: not listed.
    let mut out: Vec<PositionView> = Vec::new();
    assert_eq!(d.h.engine.positions(&main_account(), &mut out), Some(1));
    assert_eq!(out, vec![p]);
    let b = d.h.engine.position(&acct("B002"), sec("000001.SZ")).unwrap();
    // Never traded on the venue but for B002's own fill at 10.00.
    assert_eq!((b.qty, b.sellable, b.last_price), (100, 0, cny("10.00")));
}

#[test]
fn funds_after_a_day_of_trading() {
    let d = trading_day();
    let f = d.h.engine.funds(&main_account()).unwrap();
    // Frozen: the rest of the buy (600 at 10.00 + fees of 9,996.00 − 5.04 paid =
    // 0.06) and the pending buy (900.00 + 5.00 + 0.01).
    assert_eq!(f.cash_frozen, units("6000.06") + units("905.01"));
    let spent = units("3996.00") + units("5.04");
    let received = units("21000.00") - units("15.96");
    assert_eq!(f.cash_available, units("1000000") - spent + received - f.cash_frozen);
    assert_eq!(f.market_value, units("86190.00"));
    assert_eq!(f.total_assets, f.cash_available + f.cash_frozen + units("86190.00"));
    assert_eq!(f.realized_pnl_today, 29_072_860);
    assert_eq!(f.fees_today, fees("10.25", "10.50", "0.25"));
    assert_eq!(f.fees_today.total(), units("21.00"));
    assert_eq!(f.fees_paid_total, units("21.00"));
}

#[test]
fn orders_of_the_day_and_their_states() {
    let mut d = trading_day();
    d.h.cancel(d.buy).unwrap();
    d.h.engine.on_canceled(d.buy, Qty(600));
    let orders = all_orders(&d.h.engine, OrderFilter::All);
    let statuses: Vec<_> = orders.iter().map(|o| o.status).collect();
    assert_eq!(
        statuses,
        vec![
            OrderStatus::PartlyFilledCanceled,
            OrderStatus::Filled,
            OrderStatus::Rejected { code: RejectCode::PRICE_LIMIT },
            OrderStatus::PendingVenue,
            OrderStatus::Open,
        ]
    );
    let buy = orders[0];
    assert_eq!((buy.order, buy.filled_qty, buy.open_qty), (d.buy, Qty(400), Qty(0)));
    assert_eq!((buy.average_price, buy.fees_paid), (cny("9.99"), units("5.04")));
    assert_eq!((orders[1].order, orders[1].average_price), (d.sell, cny("10.50")));
    let open = all_orders(&d.h.engine, OrderFilter::OpenOnly);
    let open: Vec<_> = open.iter().map(|o| o.order).collect();
    assert_eq!(open, vec![d.pending, d.working]);
    // A partial fill makes the working order partly filled, and still open.
    fill(&mut d.h, d.working, "10.80", 100);
    let open = all_orders(&d.h.engine, OrderFilter::OpenOnly);
    assert_eq!(open[1].status, OrderStatus::PartlyFilled);
    assert_eq!((open[1].filled_qty, open[1].open_qty), (Qty(100), Qty(200)));
    // A venue reject.
    d.h.engine.on_venue_rejected(d.pending, RejectCode::VENUE_PRICE_CAGE);
    let all = all_orders(&d.h.engine, OrderFilter::All);
    assert_eq!(all[3].status, OrderStatus::VenueRejected { code: RejectCode::VENUE_PRICE_CAGE });
}

#[test]
fn fills_of_the_day_with_their_fees() {
    let d = trading_day();
    let mut out: Vec<FillRecord> = Vec::new();
    let page = d.h.engine.fills_page(&main_account(), 0, 10, &mut out);
    assert_eq!((page.returned, page.next), (2, None));
    let (buy, sell) = (out[0], out[1]);
    assert_eq!((buy.order, buy.side, buy.security), (d.buy, Side::Buy, sec("600000.SH")));
    assert_eq!((buy.price, buy.qty, buy.value), (cny("9.99"), Qty(400), units("3996.00")));
    assert_eq!(buy.cl_ord_id, d.h.engine.order(d.buy).cl_ord_id);
    assert_eq!(buy.fees, fees("5.00", "0", "0.04"));
    assert_eq!((sell.order, sell.side, sell.qty), (d.sell, Side::Sell, Qty(2_000)));
    assert_eq!(sell.fees, fees("5.25", "10.50", "0.21"));
    let mut b = Vec::new();
    d.h.engine.fills_page(&acct("B002"), 0, 10, &mut b);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].account, acct("B002"));
}

#[test]
fn the_venue_execution_id_is_kept() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    let r = h.pass(&o);
    let charged = h.engine.on_execution(r, 77, cny("10.00"), Qty(200), h.now_ns);
    assert_eq!(charged, fees("5.00", "0", "0.02"));
    let fills = h.engine.fills_today();
    assert_eq!((fills[0].exec_id, fills[0].fees), (77, charged));
}

#[test]
fn the_day_roll_makes_bought_shares_sellable_and_empties_the_day() {
    let mut d = trading_day();
    d.h.engine.start_trading_day(d.h.now_ns);
    let p = d.h.engine.position(&main_account(), sec("600000.SH")).unwrap();
    assert_eq!((p.qty, p.sellable, p.frozen, p.bought_today), (8_450, 8_450, 0, 0));
    // The last trade price carries over until the next trade.
    assert_eq!(p.last_price, cny("10.20"));
    let f = d.h.engine.funds(&main_account()).unwrap();
    assert_eq!((f.cash_frozen, f.realized_pnl_today), (0, 0));
    assert_eq!(f.fees_today, FeeBreakdown::ZERO);
    assert_eq!(f.fees_paid_total, units("21.00"));
    assert!(all_orders(&d.h.engine, OrderFilter::All).is_empty());
    assert!(d.h.engine.fills_today().is_empty());
    // Bought shares sell today.
    let o = d.h.limit(Side::Sell, "600000.SH", "10.00", 8_400);
    d.h.pass(&o);
}

#[test]
fn pages_follow_the_cursor_and_the_filter() {
    let mut h = Harness::default_market();
    let mut mine = Vec::new();
    for i in 0..7 {
        let o = h.limit(Side::Buy, "600000.SH", "10.00", 100);
        mine.push(h.pass(&o));
        // B002's orders in between are not A001's.
        let o = b002(h.limit(Side::Buy, "600000.SH", "10.00", 100));
        h.pass(&o);
        if i % 2 == 0 {
            fill(&mut h, mine[i], "10.00", 100);
        }
    }
    let e = &h.engine;
    let mut out = Vec::new();
    // Pages of three: 3, 3, 1.
    let first = e.orders_page(&main_account(), OrderFilter::All, 0, 3, &mut out);
    assert_eq!((first.returned, first.next), (3, Some(mine[3].0)));
    let second = e.orders_page(&main_account(), OrderFilter::All, mine[3].0, 3, &mut out);
    assert_eq!((second.returned, second.next), (3, Some(mine[6].0)));
    let last = e.orders_page(&main_account(), OrderFilter::All, mine[6].0, 3, &mut out);
    assert_eq!((last.returned, last.next), (1, None));
    assert_eq!(out.iter().map(|o| o.order).collect::<Vec<_>>(), mine);
    // A page that ends exactly on the last order says there is no next page.
    out.clear();
    let exact = e.orders_page(&main_account(), OrderFilter::All, mine[4].0, 3, &mut out);
    assert_eq!((exact.returned, exact.next), (3, None));
    // Open only: the unfilled ones (1, 3, 5), two to a page.
    out.clear();
    let p = e.orders_page(&main_account(), OrderFilter::OpenOnly, 0, 2, &mut out);
    assert_eq!((p.returned, p.next), (2, Some(mine[5].0)));
    let p = e.orders_page(&main_account(), OrderFilter::OpenOnly, p.next.unwrap(), 2, &mut out);
    assert_eq!((p.returned, p.next), (1, None));
    assert_eq!(out.iter().map(|o| o.order).collect::<Vec<_>>(), vec![mine[1], mine[3], mine[5]]);
    // Page size zero returns nothing and points at the first match; a cursor past
    // the end returns nothing.
    out.clear();
    let p = e.orders_page(&main_account(), OrderFilter::All, 0, 0, &mut out);
    assert_eq!((p.returned, p.next, out.len()), (0, Some(mine[0].0), 0));
    let p = e.orders_page(&main_account(), OrderFilter::All, 1_000, 5, &mut out);
    assert_eq!((p.returned, p.next), (0, None));
    // Fills page the same way: four fills of A001, numbered 0, 1, 2, 3.
    let mut fills = Vec::new();
    let p = e.fills_page(&main_account(), 0, 3, &mut fills);
    assert_eq!((p.returned, p.next), (3, Some(3)));
    let p = e.fills_page(&main_account(), 3, 3, &mut fills);
    assert_eq!((p.returned, p.next), (1, None));
    let orders: Vec<_> = fills.iter().map(|f| f.order).collect();
    assert_eq!(orders, vec![mine[0], mine[2], mine[4], mine[6]]);
}

#[test]
fn a_full_fills_table_still_charges_and_says_it_is_incomplete() {
    let mut cfg = config();
    cfg.capacity.max_fills_per_day = 2;
    let mut h = Harness::new(cfg);
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 300);
    let r = h.pass(&o);
    for _ in 0..3 {
        fill(&mut h, r, "10.00", 100);
    }
    assert_eq!(h.engine.fills_today().len(), 2);
    assert_eq!(h.engine.fills_not_recorded(), 1);
    // Charged in full: 3,000.00 + 5.00 + 0.03.
    let f = h.engine.funds(&main_account()).unwrap();
    assert_eq!(f.fees_today, fees("5.00", "0", "0.03"));
    assert_eq!(h.engine.position(&main_account(), sec("600000.SH")).unwrap().bought_today, 300);
    h.engine.start_trading_day(h.now_ns);
    assert_eq!(h.engine.fills_not_recorded(), 0);
}

#[test]
fn the_fills_capacity_comes_from_configuration() {
    let text = "[limits]\nmax_fills_per_day = 5\n";
    let cfg = risk_check::RiskConfig::from_toml_str(text, "risk.toml").unwrap();
    assert_eq!(cfg.capacity.max_fills_per_day, 5);
    let zero = "[limits]\nmax_fills_per_day = 0\n";
    let e = risk_check::RiskConfig::from_toml_str(zero, "risk.toml").unwrap_err();
    assert!(e.to_string().contains("max_fills_per_day"), "{e}");
}

/// Cash, positions at cost and realised P&L across every account: buys turn cash
/// into cost (fees included), sells turn cost into cash and realised P&L, so
/// `cash + cost − realised` never moves; and cash falls by exactly the fees the
/// fills table shows, net of the trades' values.
fn books(e: &RiskEngine) -> (i64, i64) {
    let mut held = 0;
    let mut cash = 0;
    for id in e.account_ids() {
        let s = e.account_snapshot(&id).unwrap();
        cash += s.cash_total();
        held +=
            s.cash_total() - s.realized_pnl + s.positions.iter().map(|p| p.cost_total).sum::<i64>();
    }
    (held, cash)
}

#[test]
fn money_is_conserved_across_accounts() {
    let (held_before, cash_before) = books(&Harness::default_market().engine);
    let h = trading_day().h;
    let (held_after, cash_after) = books(&h.engine);
    assert_eq!(held_after, held_before);
    let fills = h.engine.fills_today();
    let net: i64 = fills.iter().map(|f| if f.side == Side::Buy { -f.value } else { f.value }).sum();
    let fees: i64 = fills.iter().map(|f| f.fees.total()).sum();
    assert_eq!(cash_after, cash_before + net - fees);
    let by_account: i64 =
        h.engine.account_ids().map(|id| h.engine.funds(&id).unwrap().fees_today.total()).sum();
    assert_eq!(by_account, fees);
}

// ---- property test: random flows against a simple model ----

#[derive(Clone, Debug)]
enum Op {
    New { b002: bool, buy: bool, security: usize, off_pct: i64, lots: u64 },
    Accept(prop::sample::Index),
    Fill { order: prop::sample::Index, part_pct: u8 },
    Cancel(prop::sample::Index),
    Trade { security: usize, off_pct: i64 },
    Roll,
}

const SECURITIES: [&str; 2] = ["600000.SH", "000001.SZ"];

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), any::<bool>(), 0..2usize, -5i64..=5, 1u64..20)
            .prop_map(|(b002, buy, security, off_pct, lots)| Op::New { b002, buy, security, off_pct, lots }),
        2 => any::<prop::sample::Index>().prop_map(Op::Accept),
        5 => (any::<prop::sample::Index>(), 1u8..=100).prop_map(|(order, part_pct)| Op::Fill { order, part_pct }),
        2 => any::<prop::sample::Index>().prop_map(Op::Cancel),
        1 => (0..2usize, -5i64..=5).prop_map(|(security, off_pct)| Op::Trade { security, off_pct }),
        1 => Just(Op::Roll),
    ]
}

#[derive(Default)]
struct Model {
    /// Orders passed today.
    orders: Vec<OrderRef>,
    /// Filled quantity per order today, from the fills fed in.
    filled: HashMap<OrderRef, u64>,
    /// Shares held per (account, security), all days.
    shares: HashMap<(String, usize), i64>,
    /// Fees per account today, from `on_fill`'s answers.
    fees_today: HashMap<String, i64>,
    last: HashMap<usize, protocol::Price>,
}

fn apply(h: &mut Harness, m: &mut Model, op: &Op) {
    match *op {
        Op::New { b002, buy, security, off_pct, lots } => {
            let side = if buy { Side::Buy } else { Side::Sell };
            let prev = h.engine.instruments().get(sec(SECURITIES[security])).unwrap().prev_close;
            let price = price_at(prev, off_pct);
            let mut o = h.limit(side, SECURITIES[security], "10.00", lots * 100);
            o.price = price;
            if b002 {
                o.account = acct("B002");
            }
            if let NewOrderVerdict::Pass { order, .. } = h.send(&o) {
                m.orders.push(order);
            }
        }
        Op::Accept(ref i) if !m.orders.is_empty() => {
            h.engine.on_venue_accepted(*i.get(&m.orders));
        }
        Op::Fill { ref order, part_pct } if !m.orders.is_empty() => {
            let r = *order.get(&m.orders);
            let rec = *h.engine.order(r);
            if !rec.is_open() {
                return;
            }
            let q = (rec.leaves.0 * u64::from(part_pct)).div_ceil(100);
            let charged = h.engine.on_fill(r, rec.price, Qty(q), h.now_ns);
            *m.filled.entry(r).or_default() += q;
            let sign = if rec.side == Side::Buy { 1 } else { -1 };
            let s = SECURITIES.iter().position(|s| sec(s) == rec.security).unwrap();
            *m.shares.entry((rec.account.as_str().to_owned(), s)).or_default() += sign * q as i64;
            *m.fees_today.entry(rec.account.as_str().to_owned()).or_default() += charged.total();
            m.last.insert(s, rec.price);
        }
        Op::Cancel(ref i) if !m.orders.is_empty() => {
            let r = *i.get(&m.orders);
            let rec = *h.engine.order(r);
            if rec.is_open() {
                h.engine.on_canceled(r, rec.leaves);
            }
        }
        Op::Trade { security, off_pct } => {
            let prev = h.engine.instruments().get(sec(SECURITIES[security])).unwrap().prev_close;
            let price = price_at(prev, off_pct);
            h.engine.on_trade(sec(SECURITIES[security]), price);
            m.last.insert(security, price);
        }
        Op::Roll => {
            h.engine.start_trading_day(h.now_ns);
            m.orders.clear();
            m.filled.clear();
            m.fees_today.clear();
        }
        _ => {}
    }
}

fn check_views(h: &Harness, m: &Model, initial: &HashMap<(String, usize), i64>) {
    let e = &h.engine;
    for id in ["A001", "B002"] {
        let account = acct(id);
        let funds = e.funds(&account).unwrap();
        // Walk every page: four orders, three fills at a time.
        let mut orders = Vec::new();
        let mut next = Some(0);
        while let Some(c) = next {
            next = e.orders_page(&account, OrderFilter::All, c, 4, &mut orders).next;
        }
        let mut fills = Vec::new();
        let mut next = Some(0);
        while let Some(c) = next {
            next = e.fills_page(&account, c, 3, &mut fills).next;
        }
        let mut open = Vec::new();
        e.orders_page(&account, OrderFilter::OpenOnly, 0, usize::MAX, &mut open);
        // Orders: filled quantities match the model and the fills table.
        for o in &orders {
            let model = m.filled.get(&o.order).copied().unwrap_or(0);
            assert_eq!(o.filled_qty.0, model, "{id} order {:?}", o.order);
            let from_fills: u64 =
                fills.iter().filter(|f| f.order == o.order).map(|f| f.qty.0).sum();
            assert_eq!(from_fills, model);
            assert!(o.filled_qty.0 + o.open_qty.0 <= o.qty.0);
            if o.filled_qty.0 > 0 {
                let avg =
                    (o.filled_value * 2 + o.filled_qty.0 as i64) / (2 * o.filled_qty.0 as i64);
                assert_eq!(o.average_price.0, avg);
            }
        }
        let expect_open: Vec<_> = orders.iter().filter(|o| o.status.is_open()).collect();
        assert_eq!(open.iter().collect::<Vec<_>>(), expect_open);
        // Fees: the fills table, the funds view and the model agree.
        let fee_sum: i64 = fills.iter().map(|f| f.fees.total()).sum();
        assert_eq!(fee_sum, funds.fees_today.total(), "{id}");
        assert_eq!(fee_sum, m.fees_today.get(id).copied().unwrap_or(0));
        assert_eq!(funds.fees_today.total() % 100, 0, "whole fen");
        // Positions: holdings match the model, and the funds add up.
        let mut positions = Vec::new();
        e.positions(&account, &mut positions);
        let mut value = 0;
        for (s, code) in SECURITIES.iter().enumerate() {
            let key = (id.to_owned(), s);
            let expect =
                initial.get(&key).copied().unwrap_or(0) + m.shares.get(&key).copied().unwrap_or(0);
            let p = e.position(&account, sec(code));
            assert_eq!(p.map_or(0, |p| p.qty as i64), expect, "{id} {code}");
            if let Some(p) = p {
                let last = m
                    .last
                    .get(&s)
                    .copied()
                    .unwrap_or(e.instruments().get(sec(code)).unwrap().prev_close);
                assert_eq!(p.last_price, last);
                assert_eq!(p.market_value, last.0 * p.qty as i64);
                assert!(p.sellable + p.frozen <= p.qty);
                value += p.market_value;
            }
        }
        assert_eq!(positions.iter().map(|p| p.market_value).sum::<i64>(), value);
        assert_eq!(funds.market_value, value);
        assert_eq!(
            funds.total_assets,
            funds.cash_available + funds.cash_frozen - funds.cash_debit + value
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_flows_keep_the_views_consistent(ops in prop::collection::vec(op(), 1..120)) {
        let mut h = Harness::default_market();
        let mut initial = HashMap::new();
        initial.insert(("A001".to_owned(), 0usize), 10_050i64);
        let mut m = Model::default();
        for op in &ops {
            apply(&mut h, &mut m, op);
            h.validate();
            check_views(&h, &m, &initial);
        }
    }
}
