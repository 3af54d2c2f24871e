//! Venue events: fills spend what was frozen and book positions and P&L, cancels
//! and rejects release, T+1 holds bought shares until the next trading day.

mod util;

use risk_check::fees::order_fees_total;

use protocol::{Board, CreditTag, Qty, RejectCode, RejectDetail, Side};
use risk_check::RiskLevel;
use risk_check::{NewOrderVerdict, OrderState};
use util::*;

fn b002(mut o: protocol::codec::NewOrder) -> protocol::codec::NewOrder {
    o.account = acct("B002");
    o
}

#[test]
fn bought_today_is_sellable_only_after_the_day_roll() {
    let mut h = Harness::default_market();
    let buy = b002(h.limit(Side::Buy, "600000.SH", "10.00", 1_000));
    let r = h.pass(&buy);
    h.engine.on_venue_accepted(r);
    h.fill(r, "10.00", 1_000);
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    let p = snap.position(sec("600000.SH")).unwrap();
    assert_eq!((p.holding, p.bought_today, p.sellable), (1_000, 1_000, 0));
    let sell = b002(h.limit(Side::Sell, "600000.SH", "10.00", 1_000));
    let rej = h.reject(&sell, RejectCode::INSUFFICIENT_POSITION);
    assert_eq!(rej.detail, RejectDetail::Quantity { qty: 1_000, limit: 0 });
    h.engine.start_trading_day(h.now_ns);
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    let p = snap.position(sec("600000.SH")).unwrap();
    assert_eq!((p.start_of_day, p.bought_today, p.sellable), (1_000, 0, 1_000));
    // The order table is new: the same cl_ord_id is a new order today.
    let again = h.pass(&sell);
    assert_eq!(h.engine.order(again).cl_ord_id, sell.cl_ord_id);
}

#[test]
fn partial_fills_charge_the_minimum_commission_once() {
    let mut h = Harness::default_market();
    let buy = b002(h.limit(Side::Buy, "600000.SH", "10.00", 1_000));
    let r = h.pass(&buy);
    let start = cny("100000").0;
    assert_eq!(h.engine.order(r).frozen_cash, cny("10005.10").0);
    h.fill(r, "9.90", 400);
    // 3,960 + commission minimum 5.00 + transfer 0.0396 → 0.04 (to the fen).
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    assert_eq!(snap.fees_paid, cny("5.04").0);
    assert_eq!(snap.cash_available + snap.cash_frozen, start - cny("3960").0 - cny("5.04").0);
    assert_eq!(h.engine.order(r).state, OrderState::Open);
    h.fill(r, "10.00", 600);
    // Total value 9,960: commission still the minimum, transfer 0.0996 → 0.10.
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    assert_eq!(snap.fees_paid, cny("5.10").0);
    assert_eq!(snap.cash_frozen, 0, "the rest of the freeze is released on the last fill");
    assert_eq!(snap.cash_available, start - cny("9960").0 - cny("5.10").0);
    assert_eq!(h.engine.order(r).state, OrderState::Filled);
    let p = snap.position(sec("600000.SH")).unwrap();
    assert_eq!(p.cost_total, cny("9965.10").0);
}

#[test]
fn sells_book_proceeds_less_fees_and_realised_pnl_at_average_cost() {
    let mut h = Harness::default_market();
    let before = h.snapshot().cash_available;
    let sell = h.limit(Side::Sell, "600000.SH", "10.00", 10_000);
    let r = h.pass(&sell);
    assert_eq!(h.snapshot().position(sec("600000.SH")).unwrap().frozen_for_sells, 10_000);
    h.fill(r, "10.00", 10_000);
    // Proceeds 100,000; commission 25, stamp duty 50, transfer 1.
    let snap = h.snapshot();
    assert_eq!(snap.cash_available, before + cny("100000").0 - cny("76").0);
    let p = snap.position(sec("600000.SH")).unwrap();
    assert_eq!((p.holding, p.sold_today, p.frozen_for_sells), (50, 10_000, 0));
    // Cost 9.00 a share: 100,000 − 76 − 90,000.
    assert_eq!(p.realized_pnl, cny("9924").0);
    assert_eq!(p.cost_total, cny("450").0);
    assert_eq!(snap.realized_pnl, cny("9924").0);
}

#[test]
fn venue_rejects_and_cancels_release_the_freeze() {
    let mut h = Harness::default_market();
    let start = h.snapshot();
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 1_000);
    let r = h.pass(&buy);
    assert!(h.snapshot().cash_frozen > 0);
    h.engine.on_venue_rejected(r, RejectCode::VENUE_PRICE_CAGE);
    h.validate();
    assert_eq!(h.snapshot(), {
        let mut s = start.clone();
        s.messages_today = 1;
        s.orders_today = 1;
        s
    });
    assert_eq!(
        h.engine.order(r).state,
        OrderState::VenueRejected { code: RejectCode::VENUE_PRICE_CAGE }
    );
    // A sell cancelled in two steps gives its shares back.
    let sell = h.limit(Side::Sell, "600000.SH", "10.00", 1_000);
    let s = h.pass(&sell);
    h.engine.on_venue_accepted(s);
    h.engine.on_canceled(s, Qty(400));
    h.validate();
    assert_eq!(h.snapshot().position(sec("600000.SH")).unwrap().frozen_for_sells, 600);
    h.engine.on_canceled(s, Qty(600));
    h.validate();
    assert_eq!(h.snapshot().position(sec("600000.SH")).unwrap().frozen_for_sells, 0);
    assert_eq!(h.engine.order(s).state, OrderState::Canceled);
}

#[test]
fn market_buy_spends_actual_prices_and_releases_the_rest() {
    let mut h = Harness::default_market();
    let start = h.snapshot().cash_available;
    let m = h.market(Side::Buy, "600000.SH", 1_000);
    let r = h.pass(&m);
    assert_eq!(h.engine.order(r).freeze_price, cny("11.00"));
    h.fill(r, "10.02", 300);
    h.fill(r, "10.03", 200);
    // The remainder of a best-five order is cancelled by the venue.
    h.engine.on_canceled(r, Qty(500));
    h.validate();
    let value = cny("3006").0 + cny("2006").0;
    let fees = order_fees_total(h.engine.fees(), Side::Buy, value);
    let snap = h.snapshot();
    assert_eq!(snap.cash_frozen, 0);
    assert_eq!(snap.cash_available, start - value - fees);
    assert_eq!(h.engine.order(r).cum, Qty(500));
}

#[test]
fn market_buy_without_price_limits_is_valued_above_the_last_price() {
    // A ChiNext stock in its first days after the IPO (STAR market orders carry a
    // protective price instead).
    let mut cfg = config();
    let mut ipo = instrument("301001.SZ", Board::ChiNext, "30.00", RiskLevel::R4);
    ipo.no_price_limit = true;
    cfg.instruments.push(ipo);
    let mut h = Harness::new(cfg);
    let m = h.market(Side::Buy, "301001.SZ", 200);
    // No last price and no limit: nothing to value it at.
    h.reject(&m, RejectCode::INVALID_PRICE);
    h.ctx.last_price = cny("90.00");
    let m = h.market(Side::Buy, "301001.SZ", 200);
    let r = h.pass(&m);
    // 90.00 + 20% = 108.00.
    assert_eq!(h.engine.order(r).freeze_price, cny("108.00"));
}

#[test]
fn short_sale_proceeds_are_held_for_the_lender() {
    let mut h = Harness::default_market();
    let before = h.snapshot();
    let mut short = h.limit(Side::Sell, "600000.SH", "10.00", 1_000);
    short.credit = CreditTag::ShortSell;
    let r = h.pass(&short);
    // It keeps its whole fees at the upper limit (11.00, the most it can fill at):
    // commission minimum 5.00, stamp duty 5.50, transfer 0.11.
    assert_eq!(h.engine.order(r).frozen_cash, cny("10.61").0);
    h.fill(r, "10.00", 1_000);
    let snap = h.snapshot();
    assert_eq!(snap.short_proceeds, cny("10000").0);
    // Filled at 10.00, it pays 5.00 + 5.00 + 0.10 and the rest is released.
    assert_eq!(snap.cash_available, before.cash_available - cny("10.10").0);
    let p = snap.position(sec("600000.SH")).unwrap();
    assert_eq!((p.short_qty, p.lend_used, p.lend_frozen, p.holding), (1_000, 1_000, 0, 10_050));
}

#[test]
fn tiny_sells_keep_the_fee_shortfall() {
    let mut cfg = config();
    cfg.accounts[0].positions.push(risk_check::PositionConfig {
        security: sec("600004.SH"),
        qty: 4,
        cost: cny("1.00"),
    });
    let mut h = Harness::new(cfg);
    let before = h.snapshot().cash_available;
    // Four odd shares at CNY 1.00: proceeds 4.00 against fees of 5.00 (commission
    // minimum; stamp duty 0.002 and transfer 0.00004 round to nothing).
    let odd = h.limit(Side::Sell, "600004.SH", "1.00", 4);
    let r = h.pass(&odd);
    assert_eq!(h.engine.order(r).frozen_cash, cny("1.00").0);
    h.fill(r, "1.00", 4);
    let snap = h.snapshot();
    assert_eq!(snap.cash_available, before - cny("1.00").0);
    assert_eq!(snap.position(sec("600004.SH")).unwrap().realized_pnl, -cny("5.00").0);
    // An account without that cash cannot send it.
    let mut cfg = config();
    cfg.accounts[1].positions.push(risk_check::PositionConfig {
        security: sec("600004.SH"),
        qty: 4,
        cost: cny("1.00"),
    });
    cfg.accounts[1].cash = cny("1.00").0 - 1;
    let mut h = Harness::new(cfg);
    let odd = b002(h.limit(Side::Sell, "600004.SH", "1.00", 4));
    let rej = h.reject(&odd, RejectCode::INSUFFICIENT_FUNDS);
    assert_eq!(
        rej.detail,
        RejectDetail::Amount { needed: cny("1.00").0, available: cny("1.00").0 - 1 }
    );
}

#[test]
fn a_partial_fill_that_cannot_pay_its_commission_leaves_a_debit() {
    let mut cfg = config();
    cfg.accounts[1].cash = 0;
    cfg.accounts[1].positions.push(risk_check::PositionConfig {
        security: sec("600004.SH"),
        qty: 10_000,
        cost: cny("1.00"),
    });
    let mut h = Harness::new(cfg);
    let sell = b002(h.limit(Side::Sell, "600004.SH", "1.00", 10_000));
    let r = h.pass(&sell);
    assert_eq!(h.engine.order(r).frozen_cash, 0, "the whole order's proceeds cover its fees");
    // The first fill is one share: CNY 1.00 in, the CNY 5 minimum commission out.
    h.fill(r, "1.00", 1);
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    let fee = order_fees_total(h.engine.fees(), Side::Sell, cny("1").0);
    assert_eq!((snap.cash_available, snap.cash_debit), (0, fee - cny("1").0));
    assert_eq!(h.engine.counters().overdrafts, 1);
    // The next fill's proceeds pay the debit first.
    h.fill(r, "1.00", 9_999);
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    let total_fee = order_fees_total(h.engine.fees(), Side::Sell, cny("10000").0);
    assert_eq!((snap.cash_available, snap.cash_debit), (cny("10000").0 - total_fee, 0));
    assert_eq!(snap.cash_total(), cny("10000").0 - total_fee);
}

#[test]
fn a_replace_in_flight_keeps_enough_for_fills_on_either_terms() {
    let mut cfg = config();
    // Exactly what 2,000 at 10.00 needs: 20,000 + commission 5.00 + transfer 0.20.
    cfg.accounts[1].cash = cny("20005.20").0;
    let mut h = Harness::new(cfg);
    let buy = b002(h.limit(Side::Buy, "600000.SH", "10.00", 1_000));
    let r = h.pass(&buy);
    // Down in price, up in size: the freeze covers 2,000 at the old, higher price.
    assert_eq!(h.replace(r, "9.50", 2_000), Ok(r));
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    assert_eq!(
        snap.cash_frozen,
        cny("20000").0 + order_fees_total(h.engine.fees(), Side::Buy, cny("20000").0)
    );
    // Fills still come on the old terms until the venue answers.
    h.fill(r, "10.00", 900);
    h.engine.on_replaced(r, cny("9.50"), Qty(2_000), Qty(1_100));
    h.validate();
    h.fill(r, "9.50", 1_100);
    let snap = h.engine.account_snapshot(&acct("B002")).unwrap();
    let value = cny("9000").0 + cny("10450").0;
    assert_eq!(snap.cash_debit, 0);
    let fees = order_fees_total(h.engine.fees(), Side::Buy, value);
    assert_eq!((snap.cash_available, snap.cash_frozen), (cny("20005.20").0 - value - fees, 0));
}

#[test]
fn events_that_do_not_fit_are_counted_and_change_nothing() {
    let mut h = Harness::default_market();
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let r = h.pass(&buy);
    h.fill(r, "10.00", 100);
    let after = h.snapshot();
    h.fill(r, "10.00", 100);
    h.engine.on_canceled(r, Qty(100));
    h.engine.on_venue_rejected(r, RejectCode::VENUE_CAPACITY);
    h.engine.on_replaced(r, cny("10.00"), Qty(100), Qty(100));
    h.validate();
    assert_eq!(h.snapshot(), after);
    assert_eq!(h.engine.counters().venue_anomalies, 4);
    // An over-fill is clamped to the open quantity.
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    let r = h.pass(&buy);
    h.fill(r, "10.00", 300);
    assert_eq!(h.engine.order(r).cum, Qty(200));
    assert_eq!(h.engine.counters().venue_anomalies, 5);
}

#[test]
fn open_orders_by_account_security_and_login() {
    let mut h = Harness::default_market();
    h.engine.bind_login(LOGIN + 1, main_account()).unwrap();
    let a = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let a = h.pass(&a);
    let b = h.limit(Side::Buy, "600519.SH", "1500.00", 100);
    let b = h.pass(&b);
    let c = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    let ctx = h.ctx;
    let NewOrderVerdict::Pass { order: c, .. } =
        h.engine.check_new_order(LOGIN + 1, &c, &ctx, h.now_ns + 1)
    else {
        panic!()
    };
    let mut out = Vec::with_capacity(8);
    h.engine.open_orders(&main_account(), None, &mut out);
    out.sort();
    assert_eq!(out, vec![a, b, c]);
    out.clear();
    h.engine.open_orders(&main_account(), Some(sec("600000.SH")), &mut out);
    out.sort();
    assert_eq!(out, vec![a, c]);
    out.clear();
    h.engine.open_orders_of_login(LOGIN + 1, &mut out);
    assert_eq!(out, vec![c]);
    out.clear();
    h.engine.on_canceled(c, Qty(200));
    h.engine.open_orders_of_login(LOGIN + 1, &mut out);
    assert!(out.is_empty());
}

#[test]
fn the_day_roll_expires_what_the_venue_left_open() {
    let mut h = Harness::default_market();
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let r = h.pass(&buy);
    let sell = h.limit(Side::Sell, "600000.SH", "10.50", 100);
    h.pass(&sell);
    h.fill(r, "10.00", 50);
    h.engine.start_trading_day(h.now_ns);
    h.validate();
    assert_eq!(h.engine.counters().expired_at_roll, 2);
    assert_eq!(h.engine.orders_today(), 0);
    let snap = h.snapshot();
    assert_eq!((snap.cash_frozen, snap.messages_today), (0, 0));
    let p = snap.position(sec("600000.SH")).unwrap();
    assert_eq!((p.start_of_day, p.sellable, p.frozen_for_sells), (10_100, 10_100, 0));
}
