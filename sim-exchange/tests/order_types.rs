//! Scenario tests for every order type, replace, self-trade prevention and the
//! market-data views, run against both the fast books and the reference books.

mod common;

use common::*;
use protocol::{
    CancelReason, Liquidity, OrderId, OrderType, Price, Qty, RejectCode, RejectDetail, Side,
    TimeInForce,
};
use sim_exchange::{Event, Level, Matcher};

fn acc(order_id: OrderId) -> Event {
    Event::Accepted { order_id }
}

fn exec(
    order_id: OrderId,
    exec_id: u64,
    price: &str,
    qty: u64,
    leaves: u64,
    cum: u64,
    liquidity: Liquidity,
) -> Event {
    Event::Executed {
        order_id,
        exec_id,
        price: p(price),
        qty: Qty(qty),
        leaves: Qty(leaves),
        cum: Qty(cum),
        liquidity,
    }
}

fn trade(exec_id: u64, price: &str, qty: u64, buy: OrderId, sell: OrderId) -> Event {
    Event::Trade {
        security: SEC,
        exec_id,
        price: p(price),
        qty: Qty(qty),
        buy_order_id: buy,
        sell_order_id: sell,
    }
}

fn canceled(order_id: OrderId, qty: u64, cum: u64, reason: CancelReason) -> Event {
    Event::Canceled { order_id, canceled_qty: Qty(qty), cum: Qty(cum), reason }
}

fn rejected(events: &[Event]) -> RejectCode {
    match events {
        [Event::Rejected { code, .. }] => *code,
        other => panic!("expected one Rejected, got {other:?}"),
    }
}

use Liquidity::{Added, Removed};
use Side::{Buy, Sell};

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod fast {
            $(#[test] fn $name() { super::$name::<sim_exchange::FastMatcher>() })*
        }
        mod reference {
            $(#[test] fn $name() { super::$name::<sim_exchange::reference::ReferenceMatcher>() })*
        }
    };
}

both!(
    limit_day_rests_then_matches_in_price_time_priority,
    limit_ioc_cancels_the_remainder,
    limit_fok_fills_whole_or_not_at_all,
    market_best_own_rests_at_the_best_own_price,
    market_best_counter_takes_one_level_and_rests_the_rest,
    market_best5_takes_five_levels_and_cancels_the_rest,
    market_ioc_sweeps_within_the_limits,
    market_fok_fills_whole_or_not_at_all,
    market_orders_on_an_empty_book,
    market_best5_limit_rests_at_its_last_trade_price,
    star_market_orders_trade_within_their_protective_price,
    order_types_follow_the_market,
    replace_keeps_priority_only_when_quantity_goes_down,
    replace_that_crosses_trades,
    replace_refusals,
    self_trade_prevention_refuses_the_incoming_order,
    l1_and_l2_show_the_book_and_the_tape,
    reference_price_follows_the_cage_rule,
);

fn limit_day_rests_then_matches_in_price_time_priority<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    assert_eq!(v.submit(limit(1, Sell, "10.01", 200)), [acc(1)]);
    assert_eq!(v.submit(limit(2, Sell, "10.00", 200)), [acc(2)]);
    assert_eq!(v.submit(limit(3, Sell, "10.00", 300)), [acc(3)]);
    // A buy through two levels: 10.00 first (order 2 before 3), then 10.01.
    assert_eq!(
        v.submit(limit(4, Buy, "10.01", 600)),
        [
            acc(4),
            exec(4, 1, "10.00", 200, 400, 200, Removed),
            exec(2, 1, "10.00", 200, 0, 200, Added),
            trade(1, "10.00", 200, 4, 2),
            exec(4, 2, "10.00", 300, 100, 500, Removed),
            exec(3, 2, "10.00", 300, 0, 300, Added),
            trade(2, "10.00", 300, 4, 3),
            exec(4, 3, "10.01", 100, 0, 600, Removed),
            exec(1, 3, "10.01", 100, 100, 100, Added),
            trade(3, "10.01", 100, 4, 1),
        ]
    );
    assert_eq!(v.book(), (vec![], vec![(p("10.01"), 100)]));
    // A buy below the ask rests.
    assert_eq!(v.submit(limit(5, Buy, "9.99", 100)), [acc(5)]);
    assert_eq!(v.book(), (vec![(p("9.99"), 100)], vec![(p("10.01"), 100)]));
    assert_eq!(v.ex.open_orders(), 2);
}

fn limit_ioc_cancels_the_remainder<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.submit(limit(1, Sell, "10.00", 100));
    assert_eq!(
        v.submit(limit_tif(2, Buy, "10.00", 300, TimeInForce::Ioc)),
        [
            acc(2),
            exec(2, 1, "10.00", 100, 200, 100, Removed),
            exec(1, 1, "10.00", 100, 0, 100, Added),
            trade(1, "10.00", 100, 2, 1),
            canceled(2, 200, 100, CancelReason::Venue),
        ]
    );
    // Nothing crosses: cancelled whole.
    assert_eq!(
        v.submit(limit_tif(3, Buy, "9.50", 100, TimeInForce::Ioc)),
        [acc(3), canceled(3, 100, 0, CancelReason::Venue)]
    );
    assert_eq!(v.ex.open_orders(), 0);
}

fn limit_fok_fills_whole_or_not_at_all<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.submit(limit(1, Sell, "10.00", 100));
    v.submit(limit(2, Sell, "10.02", 100));
    // 200 wanted, only 100 within 10.01: killed, no executions.
    assert_eq!(
        v.submit(limit_tif(3, Buy, "10.01", 200, TimeInForce::Fok)),
        [acc(3), canceled(3, 200, 0, CancelReason::Venue)]
    );
    assert_eq!(v.book().1, vec![(p("10.00"), 100), (p("10.02"), 100)]);
    let events = v.submit(limit_tif(4, Buy, "10.02", 200, TimeInForce::Fok));
    assert_eq!(events.len(), 7);
    assert_eq!(events[4], exec(4, 2, "10.02", 100, 0, 200, Removed));
    assert_eq!(v.book(), (vec![], vec![]));
}

fn market_best_own_rests_at_the_best_own_price<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    assert_eq!(
        rejected(&v.submit(market(1, Buy, OrderType::MarketBestOwn, 100))),
        RejectCode::VENUE_NO_LIQUIDITY
    );
    v.submit(limit(2, Buy, "9.98", 100));
    v.submit(limit(3, Sell, "10.05", 100));
    assert_eq!(v.submit(market(4, Buy, OrderType::MarketBestOwn, 300)), [acc(4)]);
    assert_eq!(v.book().0, vec![(p("9.98"), 400)]);
    // It queues behind the order already there.
    let events = v.submit(limit(5, Sell, "9.98", 200));
    assert_eq!(events[2], exec(2, 1, "9.98", 100, 0, 100, Added));
    assert_eq!(events[5], exec(4, 2, "9.98", 100, 200, 100, Added));
    // A market order that rests cannot be replaced.
    assert_eq!(
        v.replace(4, "9.97", 300),
        [Event::ReplaceRejected { order_id: 4, code: RejectCode::VENUE_INVALID_REPLACE }]
    );
}

fn market_best_counter_takes_one_level_and_rests_the_rest<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    assert_eq!(
        rejected(&v.submit(market(1, Buy, OrderType::MarketBestCounter, 100))),
        RejectCode::VENUE_NO_LIQUIDITY
    );
    v.submit(limit(2, Sell, "10.01", 100));
    v.submit(limit(3, Sell, "10.02", 100));
    assert_eq!(
        v.submit(market(4, Buy, OrderType::MarketBestCounter, 300)),
        [
            acc(4),
            exec(4, 1, "10.01", 100, 200, 100, Removed),
            exec(2, 1, "10.01", 100, 0, 100, Added),
            trade(1, "10.01", 100, 4, 2),
        ]
    );
    // The rest rests at the counter price, below the next ask.
    assert_eq!(v.book(), (vec![(p("10.01"), 200)], vec![(p("10.02"), 100)]));
}

fn market_best5_takes_five_levels_and_cancels_the_rest<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    for (i, price) in ["9.99", "9.98", "9.97", "9.96", "9.95", "9.94"].iter().enumerate() {
        v.submit(limit(i as u64 + 1, Buy, price, 100));
    }
    let events = v.submit(market(10, Sell, OrderType::MarketBest5Cancel, 1_000));
    assert_eq!(events.len(), 1 + 5 * 3 + 1);
    assert_eq!(events[13], exec(10, 5, "9.95", 100, 500, 500, Removed));
    assert_eq!(events[16], canceled(10, 500, 500, CancelReason::Venue));
    assert_eq!(v.book(), (vec![(p("9.94"), 100)], vec![]));
}

fn market_ioc_sweeps_within_the_limits<M: Matcher>() {
    // Market IOC and FOK are Shenzhen order types.
    let mut v = Venue::<M>::continuous_on(SEC2);
    for (i, price) in ["10.01", "10.50", "11.00"].iter().enumerate() {
        v.submit(on(SEC2, limit(i as u64 + 1, Sell, price, 100)));
    }
    let events = v.submit(on(SEC2, market(10, Buy, OrderType::MarketIoc, 500)));
    assert_eq!(events.len(), 1 + 3 * 3 + 1);
    assert_eq!(events[7], exec(10, 3, "11.00", 100, 200, 300, Removed));
    assert_eq!(events[10], canceled(10, 200, 300, CancelReason::Venue));
}

fn market_fok_fills_whole_or_not_at_all<M: Matcher>() {
    let mut v = Venue::<M>::continuous_on(SEC2);
    v.submit(on(SEC2, limit(1, Sell, "10.01", 100)));
    v.submit(on(SEC2, limit(2, Sell, "10.90", 100)));
    assert_eq!(
        v.submit(on(SEC2, market(3, Buy, OrderType::MarketFok, 300))),
        [acc(3), canceled(3, 300, 0, CancelReason::Venue)]
    );
    let events = v.submit(on(SEC2, market(4, Buy, OrderType::MarketFok, 200)));
    let on_sec2 = |e: Event| match e {
        Event::Trade { exec_id, price, qty, buy_order_id, sell_order_id, .. } => {
            Event::Trade { security: SEC2, exec_id, price, qty, buy_order_id, sell_order_id }
        }
        other => other,
    };
    assert_eq!(events.last(), Some(&on_sec2(trade(2, "10.90", 100, 4, 2))));
    assert_eq!(events[4], exec(4, 2, "10.90", 100, 0, 200, Removed));
}

fn market_orders_on_an_empty_book<M: Matcher>() {
    let mut v = Venue::<M>::continuous_on(SEC2);
    for (id, t) in
        [(1, OrderType::MarketBest5Cancel), (2, OrderType::MarketIoc), (3, OrderType::MarketFok)]
    {
        assert_eq!(
            v.submit(on(SEC2, market(id, Sell, t, 100))),
            [acc(id), canceled(id, 100, 0, CancelReason::Venue)]
        );
    }
    // Best-5-then-limit with nothing to trade and nothing on its own side (SSE).
    let mut w = Venue::<M>::continuous();
    assert_eq!(
        w.submit(market(5, Sell, OrderType::MarketBest5Limit, 100)),
        [acc(5), canceled(5, 100, 0, CancelReason::Venue)]
    );
    // A market order whose time in force is not its implied one.
    let mut bad = on(SEC2, market(4, Buy, OrderType::MarketIoc, 100));
    bad.tif = TimeInForce::Day;
    assert_eq!(rejected(&v.submit(bad)), RejectCode::VENUE_INVALID_ORDER);
}

fn market_best5_limit_rests_at_its_last_trade_price<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    for (i, price) in ["10.01", "10.02", "10.03", "10.04", "10.05", "10.06"].iter().enumerate() {
        v.submit(limit(i as u64 + 1, Sell, price, 100));
    }
    // Five levels at most; the rest becomes a limit order at the last trade price.
    let events = v.submit(market(10, Buy, OrderType::MarketBest5Limit, 700));
    assert_eq!(events.len(), 1 + 5 * 3);
    assert_eq!(events[13], exec(10, 5, "10.05", 100, 200, 500, Removed));
    assert_eq!(v.book(), (vec![(p("10.05"), 200)], vec![(p("10.06"), 100)]));
    // A sell takes the bid it reaches, whole: nothing is left to rest.
    v.submit(limit(11, Sell, "10.06", 100));
    let events = v.submit(market(12, Sell, OrderType::MarketBest5Limit, 100));
    assert_eq!(events.len(), 1 + 3);
    let events = v.submit(market(13, Buy, OrderType::MarketBest5Limit, 300));
    assert_eq!(events.len(), 1 + 2 * 3);
    assert_eq!(v.book(), (vec![(p("10.06"), 100), (p("10.05"), 100)], vec![]));
    // Nothing to trade: it rests at the best price on its own side.
    let events = v.submit(market(14, Buy, OrderType::MarketBest5Limit, 100));
    assert_eq!(events, [acc(14)]);
    assert_eq!(v.book(), (vec![(p("10.06"), 200), (p("10.05"), 100)], vec![]));
    // Still a market order: it cannot be replaced.
    assert_eq!(
        v.replace(14, "10.07", 100),
        [Event::ReplaceRejected { order_id: 14, code: RejectCode::VENUE_INVALID_REPLACE }]
    );
}

fn star_market_orders_trade_within_their_protective_price<M: Matcher>() {
    let star = protocol::SecurityId { market: protocol::Market::Sse, code: 688_981 };
    let mut s = spec(star, "10.00");
    s.board = protocol::Board::Star;
    s.rules = protocol::rules::BoardRules::default_for(protocol::Board::Star);
    s.rules.cage = None;
    let mut v = Venue::<M>::new(config(vec![s], sim_exchange::Schedule::AlwaysContinuous), 1);
    let protected = |o: sim_exchange::VenueOrder, price: &str| sim_exchange::VenueOrder {
        price: p(price),
        ..on(star, o)
    };
    for (i, price) in ["10.01", "10.02", "10.03"].iter().enumerate() {
        v.submit(on(star, limit(i as u64 + 1, Sell, price, 200)));
    }
    // A STAR market order without a protective price is refused.
    let bare = on(star, market(10, Buy, OrderType::MarketBest5Cancel, 600));
    assert_eq!(rejected(&v.submit(bare)), RejectCode::VENUE_INVALID_PRICE);
    // Off tick, or outside the daily limits, like a limit price.
    let off_tick = protected(market(10, Buy, OrderType::MarketBest5Cancel, 600), "10.015");
    assert_eq!(rejected(&v.submit(off_tick)), RejectCode::VENUE_TICK_VIOLATION);
    let beyond = protected(market(10, Buy, OrderType::MarketBest5Cancel, 600), "12.01");
    assert_eq!(rejected(&v.submit(beyond)), RejectCode::VENUE_PRICE_LIMIT);
    // Best-5-then-cancel buys up to 10.02 only; the rest is cancelled.
    let events = v.submit(protected(market(11, Buy, OrderType::MarketBest5Cancel, 600), "10.02"));
    assert_eq!(events.len(), 1 + 2 * 3 + 1);
    assert_eq!(events[7], canceled(11, 200, 400, CancelReason::Venue));
    assert_eq!(v.book_of(star), (vec![], vec![(p("10.03"), 200)]));
    // Best-5-then-limit: trades up to the protective price, rests at its last trade.
    v.submit(on(star, limit(20, Sell, "10.01", 200)));
    let events = v.submit(protected(market(21, Buy, OrderType::MarketBest5Limit, 400), "10.02"));
    assert_eq!(events.len(), 1 + 3);
    assert_eq!(v.book_of(star), (vec![(p("10.01"), 200)], vec![(p("10.03"), 200)]));
    // Best-counter priced beyond the protective price rests at the protective price.
    let events = v.submit(protected(market(22, Buy, OrderType::MarketBestCounter, 200), "10.02"));
    assert_eq!(events, [acc(22)]);
    assert_eq!(
        v.book_of(star),
        (vec![(p("10.02"), 200), (p("10.01"), 200)], vec![(p("10.03"), 200)])
    );
    // A sell trades no lower than its protective price.
    let events = v.submit(protected(market(23, Sell, OrderType::MarketBest5Cancel, 600), "10.02"));
    assert_eq!(events.len(), 1 + 3 + 1);
    assert_eq!(events[4], canceled(23, 400, 200, CancelReason::Venue));
}

fn order_types_follow_the_market<M: Matcher>() {
    let mut cfg = config(
        vec![spec(SEC, "10.00"), spec(SEC2, "10.00")],
        sim_exchange::Schedule::AlwaysContinuous,
    );
    cfg.limit_ioc_fok = false;
    let mut v = Venue::<M>::new(cfg, 1);
    // Shanghai: no market IOC or FOK.
    for (id, t) in [(1, OrderType::MarketIoc), (2, OrderType::MarketFok)] {
        assert_eq!(
            rejected(&v.submit(market(id, Buy, t, 100))),
            RejectCode::VENUE_ORDER_TYPE_NOT_OFFERED
        );
    }
    // Shenzhen: no best-5-then-limit.
    assert_eq!(
        rejected(&v.submit(on(SEC2, market(3, Buy, OrderType::MarketBest5Limit, 100)))),
        RejectCode::VENUE_ORDER_TYPE_NOT_OFFERED
    );
    // Limit orders are day orders on both, unless the simulator extension is on.
    for (id, security, tif) in
        [(4, SEC, TimeInForce::Ioc), (5, SEC, TimeInForce::Fok), (6, SEC2, TimeInForce::Ioc)]
    {
        assert_eq!(
            rejected(&v.submit(on(security, limit_tif(id, Buy, "10.00", 100, tif)))),
            RejectCode::VENUE_DAY_ORDERS_ONLY
        );
    }
    // Outside STAR a market order carries price 0.
    let priced = sim_exchange::VenueOrder {
        price: p("10.00"),
        ..market(7, Buy, OrderType::MarketBest5Cancel, 100)
    };
    assert_eq!(rejected(&v.submit(priced)), RejectCode::VENUE_INVALID_PRICE);
}

fn replace_keeps_priority_only_when_quantity_goes_down<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.submit(limit(1, Buy, "9.99", 300));
    v.submit(limit(2, Buy, "9.99", 300));
    let replaced = |id, price: &str, qty, leaves, kept| Event::Replaced {
        order_id: id,
        price: p(price),
        qty: Qty(qty),
        leaves: Qty(leaves),
        priority_kept: kept,
    };
    // Down at the same price: order 1 stays first.
    assert_eq!(v.replace(1, "9.99", 200), [replaced(1, "9.99", 200, 200, true)]);
    let events = v.submit(limit(3, Sell, "9.99", 100));
    assert_eq!(events[2], exec(1, 1, "9.99", 100, 100, 100, Added));
    // Up at the same price: order 1 (100 open, 100 done) goes behind order 2.
    assert_eq!(v.replace(1, "9.99", 400), [replaced(1, "9.99", 400, 300, false)]);
    let events = v.submit(limit(4, Sell, "9.99", 100));
    assert_eq!(events[2], exec(2, 2, "9.99", 100, 200, 100, Added));
    // A price change loses priority too, and moves the level.
    assert_eq!(v.replace(2, "9.98", 200), [replaced(2, "9.98", 200, 100, false)]);
    assert_eq!(v.book().0, vec![(p("9.99"), 300), (p("9.98"), 100)]);
    // Same price and quantity: nothing moves.
    assert_eq!(v.replace(1, "9.99", 400), [replaced(1, "9.99", 400, 300, true)]);
}

fn replace_that_crosses_trades<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.submit(limit(1, Sell, "10.02", 100));
    v.submit(limit(2, Buy, "9.99", 300));
    assert_eq!(
        v.replace(2, "10.02", 300),
        [
            Event::Replaced {
                order_id: 2,
                price: p("10.02"),
                qty: Qty(300),
                leaves: Qty(300),
                priority_kept: false
            },
            exec(2, 1, "10.02", 100, 200, 100, Removed),
            exec(1, 1, "10.02", 100, 0, 100, Added),
            trade(1, "10.02", 100, 2, 1),
        ]
    );
    assert_eq!(v.book(), (vec![(p("10.02"), 200)], vec![]));
}

fn replace_refusals<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    let rr = |id, code| vec![Event::ReplaceRejected { order_id: id, code }];
    assert_eq!(v.replace(9, "10.00", 100), rr(9, RejectCode::VENUE_UNKNOWN_ORDER));
    v.submit(limit(1, Buy, "10.00", 300));
    v.submit(limit(2, Sell, "10.00", 100));
    // 100 done: a new total of 100 or less is refused.
    assert_eq!(v.replace(1, "10.00", 100), rr(1, RejectCode::VENUE_INVALID_REPLACE));
    assert_eq!(v.replace(1, "10.005", 300), rr(1, RejectCode::VENUE_TICK_VIOLATION));
    assert_eq!(v.replace(1, "11.50", 300), rr(1, RejectCode::VENUE_PRICE_LIMIT));
    assert_eq!(v.replace(1, "10.00", 350), rr(1, RejectCode::VENUE_LOT_VIOLATION));
    assert_eq!(v.replace(1, "0", 300), rr(1, RejectCode::VENUE_INVALID_PRICE));
    assert_eq!(v.cancel(1), [canceled(1, 200, 100, CancelReason::Client)]);
    assert_eq!(
        v.cancel(1),
        [Event::CancelRejected { order_id: 1, code: RejectCode::VENUE_UNKNOWN_ORDER }]
    );
}

fn self_trade_prevention_refuses_the_incoming_order<M: Matcher>() {
    let mut cfg = config(vec![spec(SEC, "10.00")], sim_exchange::Schedule::AlwaysContinuous);
    cfg.self_trade_prevention = true;
    let mut v = Venue::<M>::new(cfg, 1);
    let owned = |o: sim_exchange::VenueOrder, owner| sim_exchange::VenueOrder { owner, ..o };
    v.submit(owned(limit(1, Sell, "10.00", 100), 7));
    v.submit(owned(limit(2, Sell, "10.01", 100), 8));
    assert!(v.ex.would_self_trade(8, SEC, Buy, p("10.01")));
    assert!(!v.ex.would_self_trade(8, SEC, Buy, p("10.00")));
    // Owner 8 buying 200 would reach its own 10.01 order: refused before any execution.
    let events = v.submit(owned(limit(3, Buy, "10.01", 200), 8));
    assert_eq!(rejected(&events), RejectCode::VENUE_SELF_TRADE);
    assert_eq!(v.book().1, vec![(p("10.00"), 100), (p("10.01"), 100)]);
    // 100 stops at the other owner's order: it trades.
    let events = v.submit(owned(limit(4, Buy, "10.01", 100), 8));
    assert_eq!(events[0], acc(4));
    assert_eq!(events.len(), 4);
    // A replace that would cross its owner's order is refused too.
    v.submit(owned(limit(5, Buy, "9.90", 100), 8));
    assert_eq!(
        v.replace(5, "10.01", 100),
        [Event::ReplaceRejected { order_id: 5, code: RejectCode::VENUE_SELF_TRADE }]
    );
    // A market order as well.
    assert_eq!(
        rejected(&v.submit(owned(market(6, Buy, OrderType::MarketBest5Cancel, 100), 8))),
        RejectCode::VENUE_SELF_TRADE
    );
}

fn l1_and_l2_show_the_book_and_the_tape<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    let l1 = v.ex.l1(SEC).unwrap();
    assert_eq!((l1.bid, l1.ask, l1.last, l1.volume), (None, None, p("10.00"), Qty(0)));
    v.submit(limit(1, Buy, "9.99", 100));
    v.submit(limit(2, Buy, "9.99", 200));
    v.submit(limit(3, Buy, "9.97", 300));
    v.submit(limit(4, Sell, "10.02", 400));
    v.submit(limit(5, Sell, "10.03", 100));
    v.submit(limit(6, Buy, "10.02", 100));
    let l1 = v.ex.l1(SEC).unwrap();
    assert_eq!(l1.bid, Some(Level { price: p("9.99"), qty: Qty(300), orders: 2 }));
    assert_eq!(l1.ask, Some(Level { price: p("10.02"), qty: Qty(300), orders: 1 }));
    assert_eq!(
        (l1.last, l1.volume, l1.turnover, l1.trades),
        (p("10.02"), Qty(100), p("1002").0, 1)
    );
    let (bids, asks) = v.l2(SEC);
    assert_eq!(
        bids,
        vec![
            Level { price: p("9.99"), qty: Qty(300), orders: 2 },
            Level { price: p("9.97"), qty: Qty(300), orders: 1 }
        ]
    );
    assert_eq!(asks.len(), 2);
    // A short buffer gets the best levels only.
    let mut one = [Level::default(); 1];
    assert_eq!(v.ex.l2(SEC, &mut one, &mut []), Some((1, 0)));
    assert_eq!(one[0].price, p("9.99"));
    assert_eq!(v.ex.l2(UNLISTED, &mut one, &mut []), None);
    assert_eq!(v.ex.last_price(SEC), Some(p("10.02")));
}

fn reference_price_follows_the_cage_rule<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    assert_eq!(v.ex.reference_price(SEC, Buy), Some(p("10.00")));
    v.submit(limit(1, Buy, "9.90", 100));
    assert_eq!(v.ex.reference_price(SEC, Buy), Some(p("9.90")));
    assert_eq!(v.ex.reference_price(SEC, Sell), Some(p("9.90")));
    v.submit(limit(2, Sell, "10.10", 100));
    assert_eq!(v.ex.reference_price(SEC, Buy), Some(p("10.10")));
    assert_eq!(v.ex.reference_price(SEC, Sell), Some(p("9.90")));
    let _ = Price::ZERO;
    let _ = RejectDetail::None;
}
