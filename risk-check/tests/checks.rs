//! One test per check of the catalogue: it passes at the boundary and rejects just
//! past it, with the check's own code and detail.

mod util;

use protocol::codec::EntryState;
use protocol::{CreditTag, OrderType, Price, Qty, RejectCode, RejectDetail, Side, TradingPhase};
use risk_check::{NewOrderVerdict, OrderState, RiskEngine};
use util::*;

#[test]
fn check_01_login_must_be_bound_to_a_known_account() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&o);
    let mut other = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let ctx = h.ctx;
    match h.engine.check_new_order(LOGIN + 1, &other, &ctx, T0 + 10_000 * MS) {
        NewOrderVerdict::Reject { order: None, reject } => {
            assert_eq!(reject.code, RejectCode::ACCOUNT_NOT_PERMITTED);
        }
        v => panic!("unbound login: {v:?}"),
    }
    // Not recorded: the account's cl_ord_id stays free for its own sessions.
    assert_eq!(h.engine.lookup(&main_account(), other.cl_ord_id), None);
    h.engine.bind_login(LOGIN + 1, main_account()).unwrap();
    assert!(matches!(
        h.engine.check_new_order(LOGIN + 1, &other, &ctx, T0 + 20_000 * MS),
        NewOrderVerdict::Pass { .. }
    ));
    other.account = acct("NOBODY");
    other.cl_ord_id += 1;
    match h.send(&other) {
        NewOrderVerdict::Reject { order: None, reject } => {
            assert_eq!(reject.code, RejectCode::UNKNOWN_ACCOUNT);
        }
        v => panic!("unknown account: {v:?}"),
    }
}

#[test]
fn check_02_kill_switches_firm_then_account_then_reducing_only() {
    let mut h = Harness::default_market();
    h.engine.set_firm_state(EntryState::Blocked);
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.reject(&buy, RejectCode::FIRM_HALTED);
    h.engine.set_firm_state(EntryState::Active);
    h.engine.set_account_state(&main_account(), EntryState::Blocked).unwrap();
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.reject(&buy, RejectCode::ACCOUNT_HALTED);
    for firm in [false, true] {
        if firm {
            h.engine.set_account_state(&main_account(), EntryState::Active).unwrap();
            h.engine.set_firm_state(EntryState::ReducingOnly);
        } else {
            h.engine.set_account_state(&main_account(), EntryState::ReducingOnly).unwrap();
        }
        // A sell of a held long position reduces it: passes.
        let sell = h.limit(Side::Sell, "600000.SH", "10.00", 100);
        h.pass(&sell);
        // A buy, a sell of nothing held, and a short sale all add risk.
        let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
        h.reject(&buy, RejectCode::REDUCING_ONLY);
        let naked = h.limit(Side::Sell, "600519.SH", "1500.00", 100);
        h.reject(&naked, RejectCode::REDUCING_ONLY);
        let mut short = h.limit(Side::Sell, "600000.SH", "10.00", 100);
        short.credit = CreditTag::ShortSell;
        h.reject(&short, RejectCode::REDUCING_ONLY);
    }
    assert_eq!(h.engine.account_state(&main_account()), Some(EntryState::Active));
    assert!(h.engine.set_account_state(&acct("NOBODY"), EntryState::Blocked).is_err());
}

/// The risk desk's state and the clients' are kept apart: orders meet the stricter
/// of the two, and lifting one never lifts the other.
#[test]
fn check_02_desk_and_client_states_are_kept_apart() {
    let mut h = Harness::default_market();
    let a = main_account();
    h.engine.set_account_state(&a, EntryState::Blocked).unwrap();
    h.engine.set_client_state(&a, EntryState::Active).unwrap();
    assert_eq!(h.engine.account_state(&a), Some(EntryState::Blocked));
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.reject(&buy, RejectCode::ACCOUNT_HALTED);
    h.engine.set_account_state(&a, EntryState::ReducingOnly).unwrap();
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.reject(&buy, RejectCode::REDUCING_ONLY);
    // The client's own block is stricter than the desk's reducing-only.
    h.engine.set_client_state(&a, EntryState::Blocked).unwrap();
    let sell = h.limit(Side::Sell, "600000.SH", "10.00", 100);
    h.reject(&sell, RejectCode::ACCOUNT_HALTED);
    assert_eq!(
        (h.engine.desk_state(&a), h.engine.client_state(&a), h.engine.account_state(&a)),
        (Some(EntryState::ReducingOnly), Some(EntryState::Blocked), Some(EntryState::Blocked))
    );
    // The desk lifts its state; the client's block stays until the client lifts it.
    h.engine.set_account_state(&a, EntryState::Active).unwrap();
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.reject(&buy, RejectCode::ACCOUNT_HALTED);
    h.engine.set_client_state(&a, EntryState::Active).unwrap();
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&buy);
    let snap = h.engine.account_snapshot(&a).unwrap();
    assert_eq!(
        (snap.state, snap.desk_state, snap.client_state),
        (EntryState::Active, EntryState::Active, EntryState::Active)
    );
}
#[test]
fn check_03_resend_repeats_and_a_reused_cl_ord_id_is_refused() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let first = h.pass(&o);
    let before = h.snapshot();
    // Identical content: a Repeat, and nothing changes.
    assert_eq!(h.send(&o), NewOrderVerdict::Repeat { order: first });
    assert_eq!(h.snapshot(), before);
    // Even after a halt: the order exists, so the answer is the original one.
    h.engine.set_firm_state(EntryState::Blocked);
    assert_eq!(h.send(&o), NewOrderVerdict::Repeat { order: first });
    h.engine.set_firm_state(EntryState::Active);
    // Same cl_ord_id, other content: refused and not recorded over the original.
    let mut changed = o;
    changed.qty = Qty(200);
    assert_eq!(
        h.send(&changed),
        NewOrderVerdict::Reject {
            order: None,
            reject: risk_check::Reject::new(RejectCode::DUPLICATE_CL_ORD_ID)
        }
    );
    assert_eq!(h.engine.order(first).qty, Qty(100));
    // A rejected order's resend repeats its reject.
    let bad = h.limit(Side::Buy, "600000.SH", "10.005", 100);
    let NewOrderVerdict::Reject { order: Some(r), .. } = h.send(&bad) else { panic!() };
    assert_eq!(h.send(&bad), NewOrderVerdict::Repeat { order: r });
    assert_eq!(h.engine.order(r).reject().unwrap().code, RejectCode::TICK_VIOLATION);
}

#[test]
fn check_03_duplicate_fingerprint_inside_the_window() {
    let mut h = Harness::default_market();
    h.step_ns = 0;
    let a = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&a);
    // Same account/security/side/price/qty under a new cl_ord_id, 99 ms later.
    h.now_ns += 99 * MS;
    let b = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.reject(&b, RejectCode::DUPLICATE_ORDER);
    // Different quantity: not a duplicate.
    let c = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    h.pass(&c);
    // 100 ms after the first: outside the window.
    h.now_ns += MS;
    let d = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&d);
    // A window of zero turns the check off.
    h.engine.limits_mut().duplicate_window_ms = 0;
    let e = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&e);
}

#[test]
fn check_04_instrument_status_and_phase() {
    let mut h = Harness::default_market();
    let mut unknown = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    unknown.security = sec("601999.SH");
    h.reject(&unknown, RejectCode::UNKNOWN_SECURITY);
    let suspended = h.limit(Side::Buy, "600002.SH", "10.00", 100);
    h.reject(&suspended, RejectCode::SECURITY_SUSPENDED);
    h.engine.set_suspended(sec("600002.SH"), false).unwrap();
    let resumed = h.limit(Side::Buy, "600002.SH", "10.00", 100);
    h.pass(&resumed);
    for (phase, verdict) in [
        (TradingPhase::Halted, Some(RejectCode::SECURITY_HALTED)),
        (TradingPhase::Closed, Some(RejectCode::MARKET_CLOSED)),
        (TradingPhase::OpeningAuction, None),
        (TradingPhase::OpeningAuctionNoCancel, None),
        (TradingPhase::Break, None),
        (TradingPhase::ClosingAuction, None),
    ] {
        h.ctx.phase = phase;
        let o = h.limit(Side::Buy, "600000.SH", "10.00", 100);
        match verdict {
            Some(code) => drop(h.reject(&o, code)),
            None => drop(h.pass(&o)),
        }
    }
}

#[test]
fn check_04_no_cancels_in_the_auction_freeze() {
    let mut h = Harness::default_market();
    h.ctx.phase = TradingPhase::OpeningAuction;
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let r = h.pass(&o);
    h.ctx.phase = TradingPhase::OpeningAuctionNoCancel;
    assert_eq!(h.cancel(r).unwrap_err().code, RejectCode::NO_CANCEL_PHASE);
    h.ctx.phase = TradingPhase::PreContinuous;
    assert_eq!(h.cancel(r), Ok(r));
}

#[test]
fn check_04_no_cancels_or_replaces_in_the_closing_auction() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let r = h.pass(&o);
    h.ctx.phase = TradingPhase::ClosingAuction;
    assert_eq!(h.cancel(r).unwrap_err().code, RejectCode::NO_CANCEL_PHASE);
    assert_eq!(h.replace(r, "10.01", 100).unwrap_err().code, RejectCode::NO_CANCEL_PHASE);
    // New orders still join the auction.
    let late = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    h.pass(&late);
    h.ctx.phase = TradingPhase::Continuous;
    assert_eq!(h.cancel(r), Ok(r));
}

#[test]
fn check_04_order_types_by_market() {
    let mut h = Harness::default_market();
    let typed = |h: &mut Harness, security: &str, order_type: OrderType| {
        let mut o = h.market(Side::Buy, security, 200);
        o.order_type = order_type;
        o.tif = order_type.implied_tif().unwrap();
        o
    };
    // Shanghai offers no market IOC or FOK; Shenzhen no best-5-then-limit.
    for t in [OrderType::MarketIoc, OrderType::MarketFok] {
        let o = typed(&mut h, "600000.SH", t);
        h.reject(&o, RejectCode::ORDER_TYPE_NOT_OFFERED);
        let o = typed(&mut h, "000001.SZ", t);
        h.pass(&o);
    }
    let o = typed(&mut h, "000001.SZ", OrderType::MarketBest5Limit);
    h.reject(&o, RejectCode::ORDER_TYPE_NOT_OFFERED);
    let o = typed(&mut h, "600000.SH", OrderType::MarketBest5Limit);
    h.pass(&o);
    // Outside STAR a market order's price is 0.
    let mut priced = typed(&mut h, "600000.SH", OrderType::MarketBest5Cancel);
    priced.price = cny("10.00");
    h.reject(&priced, RejectCode::INVALID_PRICE);
}

#[test]
fn check_05_star_market_orders_carry_a_protective_price() {
    let mut h = Harness::default_market();
    // 688981.SH, previous close 50.00: limits 40.00 .. 60.00.
    let bare = h.market(Side::Buy, "688981.SH", 200);
    h.reject(&bare, RejectCode::INVALID_PRICE);
    let mut off_tick = h.market(Side::Buy, "688981.SH", 200);
    off_tick.price = cny("50.005");
    h.reject(&off_tick, RejectCode::TICK_VIOLATION);
    let mut beyond = h.market(Side::Buy, "688981.SH", 200);
    beyond.price = cny("60.01");
    h.reject(&beyond, RejectCode::PRICE_LIMIT);
    // A protected buy freezes at its protective price, not at the upper limit.
    let mut buy = h.market(Side::Buy, "688981.SH", 200);
    buy.price = cny("51.00");
    let r = h.pass(&buy);
    assert_eq!(h.engine.order(r).freeze_price, cny("51.00"));
    // Without daily limits (688001.SH after its IPO) and with no last price, the
    // protective price still values the buy.
    let mut ipo = h.market(Side::Buy, "688001.SH", 200);
    ipo.price = cny("90.00");
    let r = h.pass(&ipo);
    assert_eq!(h.engine.order(r).freeze_price, cny("90.00"));
}

#[test]
fn check_05_tick() {
    let mut h = Harness::default_market();
    let on = h.limit(Side::Buy, "600000.SH", "10.01", 100);
    h.pass(&on);
    let off = h.limit(Side::Buy, "600000.SH", "10.005", 100);
    h.reject(&off, RejectCode::TICK_VIOLATION);
}

#[test]
fn check_06_board_lots_for_buys() {
    let mut h = Harness::default_market();
    let lot = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    h.pass(&lot);
    let odd = h.limit(Side::Buy, "600000.SH", "10.00", 250);
    let r = h.reject(&odd, RejectCode::LOT_VIOLATION);
    assert_eq!(r.detail, RejectDetail::Quantity { qty: 250, limit: 100 });
    // STAR: at least 200, then steps of one.
    let star_min = h.limit(Side::Buy, "688981.SH", "50.00", 200);
    h.pass(&star_min);
    let star_step = h.limit(Side::Buy, "688981.SH", "50.00", 201);
    h.pass(&star_step);
    let star_short = h.limit(Side::Buy, "688981.SH", "50.00", 199);
    let r = h.reject(&star_short, RejectCode::LOT_VIOLATION);
    assert_eq!(r.detail, RejectDetail::Quantity { qty: 199, limit: 200 });
}

#[test]
fn check_06_odd_lot_remainder_sold_whole() {
    let mut h = Harness::default_market();
    // 10,050 held: the odd 50 may be sold, but only whole.
    let part = h.limit(Side::Sell, "600000.SH", "10.00", 30);
    let r = h.reject(&part, RejectCode::ODD_LOT_SELL);
    assert_eq!(r.detail, RejectDetail::Quantity { qty: 30, limit: 50 });
    let whole = h.limit(Side::Sell, "600000.SH", "10.00", 50);
    h.pass(&whole);
    let lots = h.limit(Side::Sell, "600000.SH", "10.00", 10_000);
    h.pass(&lots);
}

#[test]
fn check_06_a_whole_odd_holding_sells_in_one_order() {
    // 10,050 held: lots with the whole odd part, or all of it, in one order.
    for qty in [10_050, 1_050, 150] {
        let mut h = Harness::default_market();
        let o = h.limit(Side::Sell, "600000.SH", "10.00", qty);
        h.pass(&o);
    }
    let mut h = Harness::default_market();
    let part = h.limit(Side::Sell, "600000.SH", "10.00", 10_020);
    let r = h.reject(&part, RejectCode::ODD_LOT_SELL);
    assert_eq!(r.detail, RejectDetail::Quantity { qty: 10_020, limit: 50 });
}

#[test]
fn check_07_max_quantity_by_order_type() {
    let mut h = Harness::default_market();
    h.engine.limits_mut().max_notional = 0;
    h.engine.adjust_cash(&main_account(), cny("100000000").0).unwrap();
    // Main board: 1,000,000 per order at CNY 1.00.
    let max = h.limit(Side::Buy, "600004.SH", "1.00", 1_000_000);
    h.pass(&max);
    let over = h.limit(Side::Buy, "600004.SH", "1.00", 1_000_100);
    let r = h.reject(&over, RejectCode::MAX_QUANTITY);
    assert_eq!(r.detail, RejectDetail::Quantity { qty: 1_000_100, limit: 1_000_000 });
    // ChiNext market orders: 150,000 (limit orders 300,000).
    h.engine.limits_mut().open_orders_per_security = 0;
    let market_max = h.market(Side::Buy, "300750.SZ", 150_000);
    h.pass(&market_max);
    let market_over = h.market(Side::Buy, "300750.SZ", 150_100);
    h.reject(&market_over, RejectCode::MAX_QUANTITY);
    let limit_ok = h.limit(Side::Buy, "300750.SZ", "200.00", 150_100);
    h.pass(&limit_ok);
}

#[test]
fn check_08_daily_price_limit() {
    let mut h = Harness::default_market();
    for (price, ok) in [("11.00", true), ("11.01", false), ("9.00", true), ("8.99", false)] {
        let o = h.limit(Side::Buy, "600000.SH", price, 100);
        if ok {
            h.pass(&o);
        } else {
            let r = h.reject(&o, RejectCode::PRICE_LIMIT);
            assert_eq!(
                r.detail,
                RejectDetail::PriceBand {
                    price: cny(price),
                    lower: cny("9.00"),
                    upper: cny("11.00")
                }
            );
        }
    }
    // Main-board ST: ±10% since 2025-07-07 (it was ±5%) of 3.33 → 3.00 .. 3.66.
    let st_ok = h.limit(Side::Buy, "600001.SH", "3.66", 100);
    h.pass(&st_ok);
    let st_over = h.limit(Side::Buy, "600001.SH", "3.67", 100);
    h.reject(&st_over, RejectCode::PRICE_LIMIT);
    // No limit on an IPO day: three times the reference passes.
    let ipo = h.limit(Side::Buy, "688001.SH", "90.00", 200);
    h.pass(&ipo);
    // A new previous close moves the band.
    h.engine.set_prev_close(sec("600000.SH"), cny("10.10")).unwrap();
    let moved = h.limit(Side::Buy, "600000.SH", "11.11", 100);
    h.pass(&moved);
}

#[test]
fn check_09_price_cage_in_continuous_trading() {
    let mut h = Harness::default_market();
    h.ctx.cage_reference = Some(cny("10.00"));
    let edge = h.limit(Side::Buy, "600000.SH", "10.20", 100);
    let edge = h.pass(&edge);
    // Closed, so the sells below do not meet it as a self-trade.
    h.engine.on_venue_rejected(edge, RejectCode::VENUE_CAPACITY);
    let over = h.limit(Side::Buy, "600000.SH", "10.21", 100);
    let r = h.reject(&over, RejectCode::PRICE_CAGE);
    assert_eq!(
        r.detail,
        RejectDetail::PriceBand { price: cny("10.21"), lower: cny("9.00"), upper: cny("10.20") }
    );
    let sell_edge = h.limit(Side::Sell, "600000.SH", "9.80", 100);
    let sell_edge = h.pass(&sell_edge);
    h.engine.on_venue_rejected(sell_edge, RejectCode::VENUE_CAPACITY);
    let sell_under = h.limit(Side::Sell, "600000.SH", "9.79", 100);
    h.reject(&sell_under, RejectCode::PRICE_CAGE);
    // Not in a call auction, and not without a reference.
    h.ctx.phase = TradingPhase::OpeningAuction;
    let auction = h.limit(Side::Buy, "600000.SH", "10.50", 100);
    h.pass(&auction);
    h.ctx.phase = TradingPhase::Continuous;
    h.ctx.cage_reference = None;
    let no_ref = h.limit(Side::Buy, "600000.SH", "10.60", 100);
    h.pass(&no_ref);
}

#[test]
fn check_10_fat_finger_collar() {
    let mut h = Harness::default_market();
    h.ctx.last_price = cny("10.00");
    for (side, price, ok) in [
        (Side::Buy, "10.50", true),
        (Side::Buy, "10.51", false),
        (Side::Sell, "9.50", true),
        (Side::Sell, "9.49", false),
    ] {
        let o = h.limit(side, "600000.SH", price, 100);
        if ok {
            let r = h.pass(&o);
            h.engine.on_venue_rejected(r, RejectCode::VENUE_CAPACITY);
        } else {
            let r = h.reject(&o, RejectCode::FAT_FINGER);
            assert_eq!(
                r.detail,
                RejectDetail::PriceBand {
                    price: cny(price),
                    lower: cny("9.50"),
                    upper: cny("10.50")
                }
            );
        }
    }
    h.engine.limits_mut().fat_finger_bp = 800;
    let wider = h.limit(Side::Buy, "600000.SH", "10.80", 100);
    h.pass(&wider);
}

#[test]
fn check_11_max_notional() {
    let mut h = Harness::default_market();
    h.engine.limits_mut().max_notional = cny("100000").0;
    let at = h.limit(Side::Buy, "600000.SH", "10.00", 10_000);
    h.pass(&at);
    let over = h.limit(Side::Buy, "600000.SH", "10.00", 10_100);
    let r = h.reject(&over, RejectCode::MAX_NOTIONAL);
    assert_eq!(
        r.detail,
        RejectDetail::Amount { needed: cny("101000").0, available: cny("100000").0 }
    );
    // Market orders are valued at the upper limit: 9,100 × 11.00 = 100,100.
    let market = h.market(Side::Buy, "600000.SH", 9_100);
    h.reject(&market, RejectCode::MAX_NOTIONAL);
    // Default: CNY 5,000,000.
    h.engine.limits_mut().max_notional = risk_check::Limits::default().max_notional;
    h.engine.adjust_cash(&main_account(), cny("10000000").0).unwrap();
    let five_million = h.limit(Side::Buy, "600519.SH", "1562.50", 3_200);
    h.pass(&five_million);
    let more = h.limit(Side::Buy, "600519.SH", "1562.51", 3_200);
    h.reject(&more, RejectCode::MAX_NOTIONAL);
}

#[test]
fn check_12_buying_power_covers_value_and_fees() {
    let mut cfg = config();
    // CNY 10,000 + commission minimum 5.00 + transfer 0.10 exactly.
    cfg.accounts[1].cash = cny("10005.10").0;
    let mut h = Harness::new(cfg);
    let mut o = h.limit(Side::Buy, "600000.SH", "10.00", 1_000);
    o.account = acct("B002");
    let ok = h.pass(&o);
    assert_eq!(h.engine.order(ok).frozen_cash, cny("10005.10").0);
    h.engine.on_venue_rejected(ok, RejectCode::VENUE_CAPACITY);
    h.engine.adjust_cash(&acct("B002"), -1).unwrap();
    let mut short_by_one = h.limit(Side::Buy, "600000.SH", "10.00", 1_000);
    short_by_one.account = acct("B002");
    let r = h.reject(&short_by_one, RejectCode::INSUFFICIENT_FUNDS);
    assert_eq!(
        r.detail,
        RejectDetail::Amount { needed: cny("10005.10").0, available: cny("10005.0999").0 }
    );
    // A market buy freezes at the upper limit (11.00): 900 × 11 + 5.00 + 0.099,
    // the transfer fee rounded to the fen (0.10).
    let mut market = h.market(Side::Buy, "600000.SH", 900);
    market.account = acct("B002");
    let m = h.pass(&market);
    assert_eq!(h.engine.order(m).freeze_price, cny("11.00"));
    assert_eq!(h.engine.order(m).frozen_cash, cny("9905.10").0);
}

#[test]
fn check_13_sellable_position_under_t_plus_1() {
    let mut h = Harness::default_market();
    let all = h.limit(Side::Sell, "600000.SH", "10.00", 10_000);
    h.pass(&all);
    // 50 odd shares left; 100 more is past the holding.
    let more = h.limit(Side::Sell, "600000.SH", "10.00", 100);
    let r = h.reject(&more, RejectCode::INSUFFICIENT_POSITION);
    assert_eq!(r.detail, RejectDetail::Quantity { qty: 100, limit: 50 });
    let none = h.limit(Side::Sell, "600519.SH", "1500.00", 100);
    h.reject(&none, RejectCode::INSUFFICIENT_POSITION);
}

#[test]
fn check_14_short_sales_only_through_securities_lending() {
    let mut h = Harness::default_market();
    let mut quota = h.limit(Side::Sell, "600000.SH", "10.00", 5_000);
    quota.credit = CreditTag::ShortSell;
    let r = h.pass(&quota);
    assert_eq!(h.snapshot().position(sec("600000.SH")).unwrap().lend_frozen, 5_000);
    let mut past = h.limit(Side::Sell, "600000.SH", "10.00", 100);
    past.credit = CreditTag::ShortSell;
    let rej = h.reject(&past, RejectCode::INSUFFICIENT_POSITION);
    assert_eq!(rej.detail, RejectDetail::Quantity { qty: 100, limit: 0 });
    h.engine.on_canceled(r, Qty(5_000));
    let mut ineligible = h.limit(Side::Sell, "600519.SH", "1500.00", 100);
    ineligible.credit = CreditTag::ShortSell;
    h.reject(&ineligible, RejectCode::SHORT_SELL_INELIGIBLE);
    // B002 is a cash account.
    let mut cash_account = h.limit(Side::Sell, "600000.SH", "10.00", 100);
    cash_account.credit = CreditTag::ShortSell;
    cash_account.account = acct("B002");
    h.reject(&cash_account, RejectCode::SHORT_SELL_NOT_PERMITTED);
    // A short-sell tag on a buy does not fit.
    let mut buy = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    buy.credit = CreditTag::ShortSell;
    h.reject(&buy, RejectCode::INVALID_FIELD_COMBINATION);
}

#[test]
fn check_15_restricted_lists() {
    let mut h = Harness::default_market();
    let firm_wide = h.limit(Side::Buy, "600003.SH", "10.00", 100);
    h.reject(&firm_wide, RejectCode::RESTRICTED_SECURITY);
    h.engine.set_account_restricted(&main_account(), sec("600519.SH"), true).unwrap();
    let mine = h.limit(Side::Buy, "600519.SH", "1500.00", 100);
    h.reject(&mine, RejectCode::RESTRICTED_SECURITY);
    // The list is A001's alone.
    h.engine.set_account_restricted(&acct("B002"), sec("600000.SH"), true).unwrap();
    let mine_elsewhere = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&mine_elsewhere);
    h.engine.set_account_restricted(&main_account(), sec("600519.SH"), false).unwrap();
    let lifted = h.limit(Side::Buy, "600519.SH", "1500.00", 100);
    h.pass(&lifted);
}

#[test]
fn check_16_board_permission_is_a_hard_gate() {
    let mut cfg = config();
    cfg.accounts[0].boards.star = false;
    let mut h = Harness::new(cfg);
    let star = h.limit(Side::Buy, "688981.SH", "50.00", 200);
    h.reject(&star, RejectCode::BOARD_NOT_PERMITTED);
    // A confirmation does not open a board.
    let star = confirmed(h.limit(Side::Buy, "688981.SH", "50.00", 200));
    h.reject(&star, RejectCode::BOARD_NOT_PERMITTED);
    let chinext = h.limit(Side::Buy, "300750.SZ", "200.00", 100);
    h.pass(&chinext);
}

#[test]
fn check_17_message_rate_and_daily_limits() {
    let mut h = Harness::default_market();
    h.engine.limits_mut().rate_limit_per_s = 5;
    h.step_ns = MS;
    for qty in 1..=5 {
        let o = h.limit(Side::Buy, "600000.SH", "10.00", qty * 100);
        h.pass(&o);
    }
    let sixth = h.limit(Side::Buy, "600000.SH", "10.00", 600);
    let r = h.reject(&sixth, RejectCode::RATE_LIMITED);
    assert_eq!(r.detail, RejectDetail::Count { count: 6, limit: 5 });
    // A second later the window is empty again.
    h.now_ns += 1_000 * MS;
    h.engine.limits_mut().daily_message_limit = 8;
    let seventh = h.limit(Side::Buy, "600000.SH", "10.00", 700);
    h.pass(&seventh);
    let eighth = h.limit(Side::Buy, "600000.SH", "10.00", 800);
    h.pass(&eighth);
    let ninth = h.limit(Side::Buy, "600000.SH", "10.00", 900);
    let r = h.reject(&ninth, RejectCode::DAILY_LIMIT);
    assert_eq!(r.detail, RejectDetail::Count { count: 9, limit: 8 });
    // The day roll resets the daily count.
    h.engine.start_trading_day(h.now_ns);
    let next_day = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&next_day);
}

#[test]
fn check_17_high_frequency_thresholds_flag_without_rejecting() {
    let mut h = Harness::default_market();
    {
        let limits = h.engine.limits_mut();
        limits.hft_rate_flag_per_s = 3;
        limits.hft_daily_flag = 4;
        limits.rapid_order_flag_per_s = 0;
    }
    h.step_ns = MS;
    for qty in 1..=2 {
        let o = h.limit(Side::Buy, "600000.SH", "10.00", qty * 100);
        h.pass(&o);
    }
    assert!(!h.snapshot().flagged_high_rate);
    let third = h.limit(Side::Buy, "600000.SH", "10.00", 300);
    h.pass(&third);
    assert!(h.snapshot().flagged_high_rate);
    assert_eq!(h.engine.counters().high_rate_flags, 1);
    assert!(!h.snapshot().flagged_high_daily);
    let fourth = h.limit(Side::Buy, "600000.SH", "10.00", 400);
    h.pass(&fourth);
    assert!(h.snapshot().flagged_high_daily);
    assert_eq!(h.engine.counters().high_daily_flags, 1);
    let fifth = h.limit(Side::Buy, "600000.SH", "10.00", 500);
    h.pass(&fifth);
    assert_eq!(h.engine.counters().high_daily_flags, 1, "once per account per day");
}

#[test]
fn check_18_rapid_cancel_and_rapid_order_monitors_only_flag() {
    let mut h = Harness::default_market();
    {
        let limits = h.engine.limits_mut();
        limits.rapid_cancel_window_ms = 500;
        limits.rapid_cancel_flag_count = 2;
        limits.rapid_order_flag_per_s = 3;
    }
    h.step_ns = 100 * MS;
    // Orders at +100, +200, +300 ms: the third within a second raises the flag.
    let a = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let a = h.pass(&a);
    let b = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    let b = h.pass(&b);
    assert!(!h.snapshot().flagged_rapid_orders);
    let c = h.limit(Side::Buy, "600000.SH", "10.00", 300);
    let c = h.pass(&c);
    assert!(h.snapshot().flagged_rapid_orders);
    assert_eq!(h.engine.counters().rapid_order_flags, 1);
    // a is cancelled 300 ms after entry: rapid.
    h.cancel(a).unwrap();
    assert_eq!(h.engine.counters().rapid_cancels, 1);
    // b, 500 ms after entry (the window's edge): not rapid.
    h.step_ns = 300 * MS;
    h.cancel(b).unwrap();
    assert_eq!(h.engine.counters().rapid_cancels, 1);
    assert!(!h.snapshot().flagged_rapid_cancel);
    // c, 499 ms after entry... c entered at +300 and it is now +700: 400 ms, rapid.
    h.step_ns = 0;
    h.cancel(c).unwrap();
    assert_eq!(h.engine.counters().rapid_cancels, 2);
    assert!(h.snapshot().flagged_rapid_cancel);
    assert_eq!(h.engine.counters().rapid_cancel_flags, 1);
    // Nothing was rejected on either monitor.
    assert_eq!(h.engine.counters().rejected, 0);
}

#[test]
fn check_19_self_trade() {
    let mut h = Harness::default_market();
    let sell = h.limit(Side::Sell, "600000.SH", "10.10", 100);
    let resting = h.pass(&sell);
    h.engine.on_venue_accepted(resting);
    let below = h.limit(Side::Buy, "600000.SH", "10.09", 100);
    h.pass(&below);
    let at = h.limit(Side::Buy, "600000.SH", "10.10", 100);
    h.reject(&at, RejectCode::SELF_TRADE);
    let market = h.market(Side::Buy, "600000.SH", 100);
    h.reject(&market, RejectCode::SELF_TRADE);
    // Another account may trade with it.
    let mut other = h.limit(Side::Buy, "600000.SH", "10.10", 100);
    other.account = acct("B002");
    h.pass(&other);
    // Once the sell is gone, so is the conflict.
    h.engine.on_canceled(resting, Qty(100));
    let after = h.limit(Side::Buy, "600000.SH", "10.10", 200);
    h.pass(&after);
}

#[test]
fn check_20_open_orders_per_security() {
    let mut h = Harness::default_market();
    h.engine.limits_mut().open_orders_per_security = 3;
    let mut refs = Vec::new();
    for qty in 1..=3 {
        let o = h.limit(Side::Buy, "600000.SH", "10.00", qty * 100);
        refs.push(h.pass(&o));
    }
    let fourth = h.limit(Side::Buy, "600000.SH", "10.00", 400);
    let r = h.reject(&fourth, RejectCode::OPEN_ORDER_LIMIT);
    assert_eq!(r.detail, RejectDetail::Count { count: 4, limit: 3 });
    // Other securities have their own count.
    let other = h.limit(Side::Buy, "600519.SH", "1500.00", 100);
    h.pass(&other);
    h.engine.on_fill(refs[0], cny("10.00"), Qty(100), h.now_ns);
    let fifth = h.limit(Side::Buy, "600000.SH", "10.00", 500);
    h.pass(&fifth);
}

#[test]
fn check_20_cancels_per_security_per_day() {
    let mut h = Harness::default_market();
    h.engine.limits_mut().cancels_per_security_per_day = 2;
    for qty in 1..=3u64 {
        let o = h.limit(Side::Buy, "600000.SH", "10.00", qty * 100);
        let r = h.pass(&o);
        let result = h.cancel(r);
        if qty <= 2 {
            assert_eq!(result, Ok(r));
            h.engine.on_canceled(r, Qty(qty * 100));
        } else {
            let reject = result.unwrap_err();
            assert_eq!(reject.code, RejectCode::CANCEL_LIMIT);
            assert_eq!(reject.detail, RejectDetail::Count { count: 3, limit: 2 });
            assert!(h.engine.order(r).is_open());
        }
    }
    assert_eq!(h.engine.counters().rejects(RejectCode::CANCEL_LIMIT), 1);
}

#[test]
fn check_21_programmatic_flag_only_from_reported_accounts() {
    let mut cfg = config();
    cfg.accounts[1].programmatic = true;
    let mut h = Harness::new(cfg);
    let mut unreported = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    unreported.flags |= protocol::codec::order_flags::PROGRAMMATIC;
    h.reject(&unreported, RejectCode::PROGRAMMATIC_NOT_REPORTED);
    let mut reported = unreported;
    reported.cl_ord_id = 99;
    reported.account = acct("B002");
    h.pass(&reported);
}

#[test]
fn full_tables_reject_with_order_capacity() {
    let mut cfg = config();
    cfg.capacity.max_orders_per_day = 3;
    let mut h = Harness::new(cfg);
    for qty in 1..=3 {
        let o = h.limit(Side::Buy, "600000.SH", "10.00", qty * 100);
        h.pass(&o);
    }
    let fourth = h.limit(Side::Buy, "600000.SH", "10.00", 400);
    assert_eq!(
        h.send(&fourth),
        NewOrderVerdict::Reject {
            order: None,
            reject: risk_check::Reject::new(RejectCode::ORDER_CAPACITY)
        }
    );
    // The position table: A001 uses one slot, so a limit of one fills on a new security.
    let mut cfg = config();
    cfg.capacity.max_positions = 1;
    cfg.accounts.truncate(1);
    let mut h = Harness::new(cfg);
    let new_security = h.limit(Side::Buy, "600519.SH", "1500.00", 100);
    h.reject(&new_security, RejectCode::ORDER_CAPACITY);
    let held = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    h.pass(&held);
}

#[test]
fn cancel_and_replace_need_an_open_order_with_nothing_in_flight() {
    let mut h = Harness::default_market();
    let ctx = h.ctx;
    let err = h.engine.check_cancel(LOGIN, &main_account(), 12_345, &ctx, h.now_ns).unwrap_err();
    assert_eq!(err.code, RejectCode::UNKNOWN_ORDER);
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 100);
    let r = h.pass(&o);
    assert_eq!(h.cancel(r), Ok(r));
    assert_eq!(h.cancel(r).unwrap_err().code, RejectCode::PENDING_CHANGE);
    assert_eq!(h.replace(r, "10.01", 100).unwrap_err().code, RejectCode::PENDING_CHANGE);
    h.engine.on_cancel_rejected(r);
    assert_eq!(h.cancel(r), Ok(r));
    h.engine.on_canceled(r, Qty(100));
    assert_eq!(h.cancel(r).unwrap_err().code, RejectCode::ORDER_CLOSED);
    assert_eq!(h.replace(r, "10.01", 100).unwrap_err().code, RejectCode::ORDER_CLOSED);
    // A rejected order was never live.
    let bad = h.limit(Side::Buy, "600000.SH", "10.005", 100);
    let NewOrderVerdict::Reject { order: Some(bad), .. } = h.send(&bad) else { panic!() };
    assert_eq!(h.cancel(bad).unwrap_err().code, RejectCode::UNKNOWN_ORDER);
    // Another login may not touch it.
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 200);
    let live = h.pass(&o);
    let cl = h.engine.order(live).cl_ord_id;
    let err = h.engine.check_cancel(LOGIN + 1, &main_account(), cl, &ctx, h.now_ns).unwrap_err();
    assert_eq!(err.code, RejectCode::ACCOUNT_NOT_PERMITTED);
}

#[test]
fn replace_rechecks_the_new_terms_and_freezes_the_extra() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Buy, "600000.SH", "10.00", 1_000);
    let r = h.pass(&o);
    h.engine.on_venue_accepted(r);
    let frozen = h.snapshot().cash_frozen;
    assert_eq!(h.replace(r, "11.01", 1_000).unwrap_err().code, RejectCode::PRICE_LIMIT);
    assert_eq!(h.replace(r, "10.005", 1_000).unwrap_err().code, RejectCode::TICK_VIOLATION);
    assert_eq!(h.replace(r, "10.00", 1_050).unwrap_err().code, RejectCode::LOT_VIOLATION);
    assert_eq!(h.replace(r, "10.00", 0).unwrap_err().code, RejectCode::INVALID_REPLACE);
    h.engine.limits_mut().max_notional = cny("15000").0;
    assert_eq!(h.replace(r, "10.00", 1_600).unwrap_err().code, RejectCode::MAX_NOTIONAL);
    // Up: 1,500 at 10.50 freezes the difference now.
    assert_eq!(h.replace(r, "10.50", 1_400), Ok(r));
    let pending = h.snapshot().cash_frozen;
    // Transfer fee 0.147, rounded to the fen.
    assert_eq!(pending, cny("14700").0 + cny("5.00").0 + cny("0.15").0);
    assert!(pending > frozen);
    // The venue refuses: back to the old freeze.
    h.engine.on_replace_rejected(r);
    h.validate();
    assert_eq!(h.snapshot().cash_frozen, frozen);
    // Down: 500 at 9.90 applied by the venue shrinks the freeze.
    assert_eq!(h.replace(r, "9.90", 500), Ok(r));
    h.engine.on_replaced(r, cny("9.90"), Qty(500), Qty(500));
    h.validate();
    // Transfer fee 0.0495, rounded to the fen.
    assert_eq!(h.snapshot().cash_frozen, cny("4950").0 + cny("5.00").0 + cny("0.05").0);
    // Replacing into buying power the account lacks (CNY 0.10 left).
    let spare = h.snapshot().cash_available - 1_000;
    h.engine.adjust_cash(&main_account(), -spare).unwrap();
    let err = h.replace(r, "9.90", 600).unwrap_err();
    assert_eq!(err.code, RejectCode::INSUFFICIENT_FUNDS);
}

#[test]
fn replace_of_a_sell_needs_the_shares_and_keeps_the_odd_lot_rule() {
    let mut h = Harness::default_market();
    let o = h.limit(Side::Sell, "600000.SH", "10.00", 5_000);
    let r = h.pass(&o);
    assert_eq!(h.replace(r, "10.00", 10_000), Ok(r));
    h.engine.on_replaced(r, cny("10.00"), Qty(10_000), Qty(10_000));
    let err = h.replace(r, "10.00", 10_100).unwrap_err();
    assert_eq!(err.code, RejectCode::INSUFFICIENT_POSITION);
    // 10,050 held: 9,920 is neither lots nor lots with the whole odd 50 (9,950 is).
    assert_eq!(h.replace(r, "10.00", 9_920).unwrap_err().code, RejectCode::ODD_LOT_SELL);
}

#[test]
fn every_reject_is_counted_by_code() {
    let mut h = Harness::default_market();
    let bad = h.limit(Side::Buy, "600000.SH", "10.005", 100);
    h.reject(&bad, RejectCode::TICK_VIOLATION);
    let c = h.engine.counters();
    assert_eq!(c.rejects(RejectCode::TICK_VIOLATION), 1);
    assert_eq!(c.rejected, 1);
    assert!(c.reject_counts().any(|(code, n)| code == RejectCode::TICK_VIOLATION && n == 1));
    let _: &RiskEngine = &h.engine;
    let _ = (Price::ZERO, OrderState::Open);
}
