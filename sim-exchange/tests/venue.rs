//! Scenario tests for the venue rules (every reject code), the A-share schedule,
//! halts and reopen auctions, fault injection, end of day and worked uncross
//! examples, run against both the fast books and the reference books.

mod common;

use common::*;
use protocol::rules::CageRule;
use protocol::{
    Board, CancelReason, Liquidity, OrderType, Price, Qty, RejectCode, RejectDetail, Side,
    TimeInForce, TradingPhase,
};
use sim_exchange::{Event, Exchange, Matcher, PhaseEventKind, Schedule, Uncross, VenueOrder};

use Side::{Buy, Sell};
use TradingPhase as Ph;

fn rejected(events: &[Event]) -> (RejectCode, RejectDetail) {
    match events {
        [Event::Rejected { code, detail, .. }] => (*code, *detail),
        other => panic!("expected one Rejected, got {other:?}"),
    }
}

fn code(events: &[Event]) -> RejectCode {
    rejected(events).0
}

fn phase_event(security: Option<protocol::SecurityId>, phase: Ph, kind: PhaseEventKind) -> Event {
    Event::Phase { security, phase, kind }
}

fn trades(events: &[Event]) -> Vec<(Price, u64, u64, u64)> {
    events
        .iter()
        .filter_map(|e| match *e {
            Event::Trade { price, qty, buy_order_id, sell_order_id, .. } => {
                Some((price, qty.0, buy_order_id, sell_order_id))
            }
            _ => None,
        })
        .collect()
}

fn ashare<M: Matcher>(now: u64) -> Venue<M> {
    Venue::new(
        config(
            vec![spec(SEC, "10.00"), spec(SEC2, "20.00")],
            Schedule::AShare { utc_offset_s: BEIJING },
        ),
        now,
    )
}

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
    every_order_reject_code,
    a_book_without_limits_takes_any_price,
    price_cage_in_continuous_trading_only,
    capacity_rejects_instead_of_growing,
    a_share_day_driven_by_the_clock,
    no_cancels_from_9_20_to_9_25,
    break_and_pre_continuous_queue_until_continuous,
    halt_and_resume,
    halt_and_reopen_through_a_call_auction,
    pause_matching_queues_in_arrival_order,
    ack_delay_processes_each_operation_late,
    end_of_day_expires_everything,
    the_day_roll_leaves_the_scheduled_phase,
    cancels_refused_in_the_closing_auction,
    weekends_and_holidays_are_closed_all_day,
    uncross_maximises_volume,
    uncross_prefers_least_imbalance,
    uncross_prefers_the_reference_price_then_the_higher,
    uncross_reference_outside_the_crossed_range,
    manual_phase_changes_uncross_when_leaving_an_auction,
);

fn every_order_reject_code<M: Matcher>() {
    let mut suspended = spec(SEC2, "20.00");
    suspended.suspended = true;
    let mut v =
        Venue::<M>::new(config(vec![spec(SEC, "10.00"), suspended], Schedule::AlwaysContinuous), 1);
    let on2 = |o: VenueOrder| VenueOrder { security: SEC2, ..o };
    assert_eq!(
        code(&v.submit(VenueOrder { security: UNLISTED, ..limit(1, Buy, "10.00", 100) })),
        RejectCode::VENUE_UNKNOWN_SECURITY
    );
    assert_eq!(code(&v.submit(on2(limit(2, Buy, "20.00", 100)))), RejectCode::VENUE_SUSPENDED);
    assert_eq!(code(&v.submit(limit(3, Buy, "10.005", 100))), RejectCode::VENUE_TICK_VIOLATION);
    assert_eq!(code(&v.submit(limit(4, Buy, "0", 100))), RejectCode::VENUE_INVALID_PRICE);
    assert_eq!(
        code(&v.submit(VenueOrder { price: Price(-10_000), ..limit(5, Buy, "1", 100) })),
        RejectCode::VENUE_INVALID_PRICE
    );
    assert_eq!(
        rejected(&v.submit(limit(6, Buy, "10.00", 150))),
        (RejectCode::VENUE_LOT_VIOLATION, RejectDetail::Quantity { qty: 150, limit: 100 })
    );
    assert_eq!(code(&v.submit(limit(7, Buy, "10.00", 0))), RejectCode::VENUE_LOT_VIOLATION);
    assert_eq!(code(&v.submit(limit(8, Sell, "10.00", 0))), RejectCode::VENUE_ODD_LOT_SELL);
    // Lots with or without an odd part: the venue cannot see the holding (1,050 of
    // 1,050 is fine; the broker refuses 1,020 of 1,050).
    assert_eq!(v.submit(limit(80, Sell, "10.50", 1_050)), [Event::Accepted { order_id: 80 }]);
    assert_eq!(v.submit(limit(81, Sell, "10.50", 150)), [Event::Accepted { order_id: 81 }]);
    // An odd lot below one board lot may be sold whole.
    assert_eq!(v.submit(limit(9, Sell, "10.50", 50)), [Event::Accepted { order_id: 9 }]);
    assert_eq!(
        rejected(&v.submit(limit(10, Buy, "10.00", 1_000_100))),
        (
            RejectCode::VENUE_MAX_QUANTITY,
            RejectDetail::Quantity { qty: 1_000_100, limit: 1_000_000 }
        )
    );
    assert_eq!(
        rejected(&v.submit(limit(11, Buy, "11.01", 100))),
        (
            RejectCode::VENUE_PRICE_LIMIT,
            RejectDetail::PriceBand { price: p("11.01"), lower: p("9.00"), upper: p("11.00") }
        )
    );
    assert_eq!(code(&v.submit(limit(12, Sell, "8.99", 100))), RejectCode::VENUE_PRICE_LIMIT);
    // A duplicate live order id.
    assert_eq!(code(&v.submit(limit(9, Buy, "9.00", 100))), RejectCode::VENUE_INVALID_ORDER);
    let mut bad_tif = market(13, Buy, OrderType::MarketBestOwn, 100);
    bad_tif.tif = TimeInForce::Ioc;
    assert_eq!(code(&v.submit(bad_tif)), RejectCode::VENUE_INVALID_ORDER);
    // Halted, then closed.
    v.halt(Some(SEC));
    assert_eq!(code(&v.submit(limit(14, Buy, "10.00", 100))), RejectCode::VENUE_HALTED);
    assert_eq!(
        v.replace(9, "10.40", 50),
        [Event::ReplaceRejected { order_id: 9, code: RejectCode::VENUE_HALTED }]
    );
    v.set_phase(Some(SEC), Ph::Closed);
    assert_eq!(code(&v.submit(limit(15, Buy, "10.00", 100))), RejectCode::VENUE_CLOSED);
    assert_eq!(
        v.cancel(9),
        [Event::CancelRejected { order_id: 9, code: RejectCode::VENUE_CLOSED }]
    );
    // Call auctions take day limit orders only.
    v.set_phase(Some(SEC), Ph::OpeningAuction);
    assert_eq!(
        code(&v.submit(market(16, Buy, OrderType::MarketBest5Cancel, 100))),
        RejectCode::VENUE_MARKET_ORDER_NOT_ALLOWED
    );
    assert_eq!(
        code(&v.submit(limit_tif(17, Buy, "10.00", 100, TimeInForce::Ioc))),
        RejectCode::VENUE_INVALID_ORDER
    );
    // STAR: 200 minimum then steps of 1; market maximum 50,000.
    let star = protocol::SecurityId { market: protocol::Market::Sse, code: 688_981 };
    let mut s = spec(star, "50.00");
    s.board = Board::Star;
    s.rules = protocol::rules::BoardRules::default_for(Board::Star);
    s.rules.cage = None;
    let mut w = Venue::<M>::new(config(vec![s], Schedule::AlwaysContinuous), 1);
    let on_star = |o: VenueOrder| VenueOrder { security: star, ..o };
    assert_eq!(
        code(&w.submit(on_star(limit(1, Buy, "50.00", 199)))),
        RejectCode::VENUE_LOT_VIOLATION
    );
    assert_eq!(w.submit(on_star(limit(2, Buy, "50.00", 201))), [Event::Accepted { order_id: 2 }]);
    let protected = VenueOrder {
        price: p("49.00"),
        ..on_star(market(3, Sell, OrderType::MarketBest5Cancel, 50_001))
    };
    assert_eq!(code(&w.submit(protected)), RejectCode::VENUE_MAX_QUANTITY);
}

fn a_book_without_limits_takes_any_price<M: Matcher>() {
    // An IPO-day instrument (previous close 10.00), its array ten ticks wide
    // (9.95-10.04) and two overflow levels a side.
    let mut ipo = spec(SEC, "10.00");
    ipo.no_price_limit = true;
    let mut cfg = config(vec![ipo], Schedule::AlwaysContinuous);
    cfg.max_levels_per_side = 10;
    cfg.overflow_levels_per_side = 2;
    let mut v = Venue::<M>::new(cfg, 1);
    let acc = |order_id| [Event::Accepted { order_id }];
    assert_eq!(v.ex.price_band(SEC).map(|b| b.lower), Some(p("0.01")));
    // Far beyond any daily limit, on both sides of the array.
    assert_eq!(v.submit(limit(1, Sell, "45.00", 100)), acc(1));
    assert_eq!(v.submit(limit(2, Sell, "30.00", 100)), acc(2));
    assert_eq!(v.submit(limit(3, Buy, "1.50", 100)), acc(3));
    assert_eq!(v.submit(limit(4, Buy, "10.00", 100)), acc(4));
    assert_eq!(
        v.book(),
        (vec![(p("10.00"), 100), (p("1.50"), 100)], vec![(p("30.00"), 100), (p("45.00"), 100)])
    );
    // Both ask overflow levels are taken: a third price is refused, an occupied one is not.
    assert_eq!(code(&v.submit(limit(5, Sell, "60.00", 100))), RejectCode::VENUE_CAPACITY);
    assert_eq!(v.submit(limit(6, Sell, "45.00", 100)), acc(6));
    // A buy takes them in price order and frees them.
    let events = v.submit(limit(7, Buy, "50.00", 300));
    assert_eq!(
        trades(&events),
        [(p("30.00"), 100, 7, 2), (p("45.00"), 100, 7, 1), (p("45.00"), 100, 7, 6)]
    );
    assert_eq!(v.submit(limit(8, Sell, "60.00", 100)), acc(8));
    // A call auction uncrosses across the overflow: the volume is the same from 2.00 to
    // 50.00, the imbalance least above 10.00, and 45.00 (the last trade) nearest.
    v.set_phase(Some(SEC), Ph::OpeningAuction);
    v.submit(limit(9, Buy, "50.00", 100));
    v.submit(limit(10, Sell, "2.00", 100));
    let events = v.set_phase(Some(SEC), Ph::Continuous);
    assert_eq!(trades(&events), [(p("45.00"), 100, 9, 10)]);
}

fn price_cage_in_continuous_trading_only<M: Matcher>() {
    let mut s = spec(SEC, "10.00");
    s.rules.cage = Some(CageRule { pct_bp: 200, min_ticks: 10 });
    let mut v = Venue::<M>::new(config(vec![s], Schedule::AlwaysContinuous), 1);
    // Empty book: reference = previous close 10.00 → buy cap 10.20, sell floor 9.80.
    assert_eq!(
        rejected(&v.submit(limit(1, Buy, "10.21", 100))),
        (
            RejectCode::VENUE_PRICE_CAGE,
            RejectDetail::PriceBand { price: p("10.21"), lower: Price(1), upper: p("10.20") }
        )
    );
    assert_eq!(v.submit(limit(2, Buy, "10.20", 100)), [Event::Accepted { order_id: 2 }]);
    assert_eq!(code(&v.submit(limit(3, Sell, "9.79", 100))), RejectCode::VENUE_PRICE_CAGE);
    // A sell's reference is the best bid (10.20): floor 9.99.
    assert_eq!(code(&v.submit(limit(4, Sell, "9.98", 100))), RejectCode::VENUE_PRICE_CAGE);
    assert_eq!(v.submit(limit(5, Sell, "10.25", 100)), [Event::Accepted { order_id: 5 }]);
    // A replace that moves the price is caged as well.
    assert_eq!(
        v.replace(5, "9.50", 100),
        [Event::ReplaceRejected { order_id: 5, code: RejectCode::VENUE_PRICE_CAGE }]
    );
    // No cage in a call auction.
    v.set_phase(Some(SEC), Ph::OpeningAuction);
    assert_eq!(v.submit(limit(6, Buy, "10.90", 100)), [Event::Accepted { order_id: 6 }]);
}

fn capacity_rejects_instead_of_growing<M: Matcher>() {
    let mut cfg = config(vec![spec(SEC, "10.00")], Schedule::AlwaysContinuous);
    cfg.max_orders = 2;
    cfg.inbound_queue_capacity = 1;
    let mut v = Venue::<M>::new(cfg, 1);
    v.submit(limit(1, Buy, "9.90", 100));
    v.submit(limit(2, Buy, "9.91", 100));
    assert_eq!(
        rejected(&v.submit(limit(3, Buy, "9.92", 100))),
        (RejectCode::VENUE_CAPACITY, RejectDetail::Count { count: 3, limit: 2 })
    );
    // An IOC needs no slot; a fill frees one.
    let events = v.submit(limit_tif(4, Sell, "9.91", 100, TimeInForce::Ioc));
    assert_eq!(events.len(), 4);
    assert_eq!(v.submit(limit(5, Buy, "9.92", 100)), [Event::Accepted { order_id: 5 }]);
    // The inbound queue has one place.
    v.ex.pause_matching(100);
    assert_eq!(v.submit(limit(6, Sell, "10.50", 100)), []);
    assert_eq!(code(&v.submit(limit(7, Sell, "10.50", 100))), RejectCode::VENUE_CAPACITY);
    assert_eq!(
        v.cancel(1),
        [Event::CancelRejected { order_id: 1, code: RejectCode::VENUE_CAPACITY }]
    );
    assert_eq!(
        v.replace(1, "9.90", 100),
        [Event::ReplaceRejected { order_id: 1, code: RejectCode::VENUE_CAPACITY }]
    );
}

fn a_share_day_driven_by_the_clock<M: Matcher>() {
    let mut v = ashare::<M>(at(9, 0, 0));
    assert_eq!(
        v.advance(at(9, 0, 0)),
        [phase_event(None, Ph::Closed, PhaseEventKind::PhaseChange)]
    );
    assert_eq!(v.ex.next_deadline(), Some(at(9, 15, 0)));
    assert_eq!(code(&v.submit(limit(1, Buy, "10.00", 100))), RejectCode::VENUE_CLOSED);
    assert_eq!(
        v.advance(at(9, 15, 0)),
        [phase_event(None, Ph::OpeningAuction, PhaseEventKind::PhaseChange)]
    );
    assert_eq!(v.ex.phase(SEC), Some(Ph::OpeningAuction));
    v.submit(limit(2, Buy, "10.10", 300));
    v.submit(limit(3, Sell, "9.90", 200));
    // Crossed but nothing trades during the auction.
    assert_eq!(
        v.ex.indicative_uncross(SEC),
        Some(Uncross { price: p("10.00"), qty: Qty(200), imbalance: 100 })
    );
    // 9:25: the uncross, then PreContinuous; 9:30 continuous.
    let events = v.advance(at(9, 26, 0));
    assert_eq!(trades(&events), vec![(p("10.00"), 200, 2, 3)]);
    assert!(matches!(events[0], Event::Phase { phase: Ph::OpeningAuctionNoCancel, .. }));
    assert!(matches!(
        events[1],
        Event::Executed { order_id: 2, liquidity: Liquidity::Auction, .. }
    ));
    assert_eq!(
        events.last(),
        Some(&phase_event(None, Ph::PreContinuous, PhaseEventKind::PhaseChange))
    );
    assert_eq!(v.ex.last_price(SEC), Some(p("10.00")));
    assert_eq!(v.ex.next_deadline(), Some(at(9, 30, 0)));
    assert_eq!(
        v.advance(at(9, 30, 0)),
        [phase_event(None, Ph::Continuous, PhaseEventKind::PhaseChange)]
    );
    // A submit far in the future catches up with every boundary first.
    v.now = at(14, 58, 0);
    let events = v.submit(limit(4, Sell, "10.10", 100));
    let phases: Vec<Ph> = events
        .iter()
        .filter_map(|e| if let Event::Phase { phase, .. } = e { Some(*phase) } else { None })
        .collect();
    assert_eq!(phases, [Ph::Break, Ph::Continuous, Ph::ClosingAuction]);
    assert_eq!(events.last(), Some(&Event::Accepted { order_id: 4 }));
    // 15:00 closing uncross with the resting buy of 100 at 10.10.
    let events = v.advance(at(15, 0, 0));
    assert_eq!(trades(&events), vec![(p("10.10"), 100, 2, 4)]);
    assert_eq!(v.ex.phase(SEC), Some(Ph::Closed));
    assert_eq!(v.ex.next_deadline(), Some(at(24 + 9, 15, 0)));
}

fn no_cancels_from_9_20_to_9_25<M: Matcher>() {
    let mut v = ashare::<M>(at(9, 16, 0));
    v.submit(limit(1, Buy, "9.95", 100));
    v.submit(limit(2, Buy, "9.96", 100));
    assert_eq!(
        v.cancel(1),
        [Event::Canceled {
            order_id: 1,
            canceled_qty: Qty(100),
            cum: Qty(0),
            reason: CancelReason::Client
        }]
    );
    v.now = at(9, 21, 0);
    let events = v.cancel(2);
    assert_eq!(
        events.last(),
        Some(&Event::CancelRejected { order_id: 2, code: RejectCode::VENUE_NO_CANCEL_PHASE })
    );
    assert_eq!(
        v.replace(2, "9.97", 100),
        [Event::ReplaceRejected { order_id: 2, code: RejectCode::VENUE_NO_CANCEL_PHASE }]
    );
    // New orders are still welcome.
    assert_eq!(v.submit(limit(3, Buy, "9.97", 100)), [Event::Accepted { order_id: 3 }]);
    v.now = at(9, 40, 0);
    assert!(matches!(v.cancel(2).last(), Some(Event::Canceled { order_id: 2, .. })));
}

fn break_and_pre_continuous_queue_until_continuous<M: Matcher>() {
    let mut v = ashare::<M>(at(11, 0, 0));
    v.advance(at(11, 0, 0));
    v.submit(limit(1, Sell, "10.00", 100));
    v.now = at(12, 0, 0);
    // In the break, operations are held, in order.
    let events = v.submit(limit(2, Buy, "10.00", 100));
    assert_eq!(events, [phase_event(None, Ph::Break, PhaseEventKind::PhaseChange)]);
    assert_eq!(v.cancel(1), []);
    assert_eq!(v.submit(limit(3, Buy, "10.01", 100)), []);
    assert_eq!(v.ex.queued(), 3);
    assert_eq!(v.ex.next_deadline(), Some(at(13, 0, 0)));
    // 13:00: order 2 matches order 1 before the cancel arrives; the cancel finds nothing.
    let events = v.advance(at(13, 0, 0));
    assert_eq!(events[0], phase_event(None, Ph::Continuous, PhaseEventKind::PhaseChange));
    assert_eq!(trades(&events), vec![(p("10.00"), 100, 2, 1)]);
    assert_eq!(
        events[5],
        Event::CancelRejected { order_id: 1, code: RejectCode::VENUE_UNKNOWN_ORDER }
    );
    assert_eq!(events[6], Event::Accepted { order_id: 3 });
    assert_eq!(v.ex.queued(), 0);
}

fn halt_and_resume<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.submit(limit(1, Buy, "9.99", 100));
    assert_eq!(v.halt(None), [phase_event(None, Ph::Halted, PhaseEventKind::Halt)]);
    assert_eq!(v.ex.phase(SEC), Some(Ph::Halted));
    assert_eq!(code(&v.submit(limit(2, Sell, "9.99", 100))), RejectCode::VENUE_HALTED);
    // Cancels still work during a halt.
    v.submit(limit(3, Buy, "9.98", 100));
    assert!(matches!(v.cancel(1)[..], [Event::Canceled { order_id: 1, .. }]));
    assert_eq!(
        v.resume(Some(SEC)),
        [phase_event(Some(SEC), Ph::Continuous, PhaseEventKind::Resume)]
    );
    assert_eq!(v.submit(limit(4, Sell, "9.99", 100)), [Event::Accepted { order_id: 4 }]);
    // Resuming what is not halted does nothing.
    assert_eq!(v.resume(Some(SEC)), []);
}

fn halt_and_reopen_through_a_call_auction<M: Matcher>() {
    // 2016-01-07: a halt at 9:42, a 15-minute pause, a reopen.
    let mut v = ashare::<M>(at(9, 40, 0));
    v.submit(limit(1, Buy, "9.50", 500));
    v.now = at(9, 42, 0);
    v.halt(Some(SEC));
    v.now = at(9, 57, 0);
    let events = v.resume_with_auction(Some(SEC), 120 * 1_000_000_000);
    assert_eq!(events, [phase_event(Some(SEC), Ph::OpeningAuction, PhaseEventKind::Resume)]);
    assert_eq!(v.ex.phase(SEC), Some(Ph::OpeningAuction));
    assert_eq!(v.ex.phase(SEC2), Some(Ph::Continuous));
    v.submit(limit(2, Sell, "9.40", 300));
    v.submit(limit(3, Sell, "9.45", 300));
    assert_eq!(v.ex.next_deadline(), Some(at(9, 59, 0)));
    let events = v.advance(at(9, 59, 0));
    // Buy 500 at 9.50 against 600 offered up to 9.45: 500 at the price that leaves the least imbalance.
    let t = trades(&events);
    assert_eq!(t.iter().map(|x| x.1).sum::<u64>(), 500);
    assert!(t.iter().all(|x| x.0 == t[0].0));
    assert_eq!(
        events.last(),
        Some(&phase_event(Some(SEC), Ph::Continuous, PhaseEventKind::PhaseChange))
    );
    assert_eq!(v.ex.phase(SEC), Some(Ph::Continuous));
}

fn pause_matching_queues_in_arrival_order<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.now = 1_000;
    v.ex.pause_matching(5_000);
    assert_eq!(v.submit(limit(1, Sell, "10.00", 100)), []);
    v.now = 2_000;
    assert_eq!(v.submit(limit(2, Buy, "10.00", 100)), []);
    assert_eq!(v.cancel(1), []);
    assert_eq!(v.ex.next_deadline(), Some(5_000));
    assert_eq!(v.advance(4_999), []);
    let events = v.advance(5_000);
    assert_eq!(events[0], Event::Accepted { order_id: 1 });
    assert_eq!(events[1], Event::Accepted { order_id: 2 });
    assert_eq!(trades(&events).len(), 1);
    assert_eq!(
        events.last(),
        Some(&Event::CancelRejected { order_id: 1, code: RejectCode::VENUE_UNKNOWN_ORDER })
    );
    // After the pause, operations are immediate again.
    v.now = 6_000;
    assert_eq!(v.submit(limit(3, Sell, "10.00", 100)), [Event::Accepted { order_id: 3 }]);
}

fn ack_delay_processes_each_operation_late<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.ex.set_ack_delay(1_000);
    v.now = 10;
    assert_eq!(v.submit(limit(1, Sell, "10.00", 100)), []);
    v.now = 20;
    assert_eq!(v.submit(limit(2, Buy, "10.00", 100)), []);
    assert_eq!(v.ex.next_deadline(), Some(1_010));
    assert_eq!(v.advance(1_010), [Event::Accepted { order_id: 1 }]);
    assert_eq!(v.ex.next_deadline(), Some(1_020));
    let events = v.advance(1_020);
    assert_eq!(events.len(), 4);
    assert_eq!(events[0], Event::Accepted { order_id: 2 });
    v.ex.set_ack_delay(0);
    v.now = 2_000;
    assert_eq!(v.submit(limit(3, Sell, "10.00", 100)), [Event::Accepted { order_id: 3 }]);
    assert_eq!(v.ex.next_deadline(), None);
}

fn end_of_day_expires_everything<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.submit(limit(1, Buy, "9.99", 100));
    v.submit(limit(2, Buy, "9.98", 200));
    v.submit(limit(3, Sell, "10.01", 300));
    v.submit(limit(4, Buy, "10.01", 100));
    v.ex.set_ack_delay(50);
    v.submit(limit(5, Buy, "9.90", 100));
    let expired = |id, qty, cum| Event::Canceled {
        order_id: id,
        canceled_qty: Qty(qty),
        cum: Qty(cum),
        reason: CancelReason::Expired,
    };
    assert_eq!(
        v.end_of_day(),
        [
            Event::Rejected {
                order_id: 5,
                code: RejectCode::VENUE_CLOSED,
                detail: RejectDetail::None
            },
            expired(1, 100, 0),
            expired(2, 200, 0),
            expired(3, 200, 100),
            // The schedule's phase now: continuous all day here.
            phase_event(None, Ph::Continuous, PhaseEventKind::PhaseChange),
        ]
    );
    assert_eq!(v.ex.open_orders(), 0);
    assert_eq!(v.book(), (vec![], vec![]));
    // The next day trades without a hand-set phase.
    v.ex.set_ack_delay(0);
    v.advance(v.now + 100);
    assert_eq!(v.submit(limit(6, Buy, "9.90", 100)), [Event::Accepted { order_id: 6 }]);
}

fn the_day_roll_leaves_the_scheduled_phase<M: Matcher>() {
    // Rolled in the middle of a trading day, the venue is in continuous trading.
    let mut v = ashare::<M>(at(10, 0, 0));
    v.submit(limit(1, Buy, "9.99", 100));
    let events = v.end_of_day();
    assert_eq!(
        events.last(),
        Some(&phase_event(None, Ph::Continuous, PhaseEventKind::PhaseChange))
    );
    assert_eq!(v.ex.phase(SEC), Some(Ph::Continuous));
    assert_eq!(v.submit(limit(2, Buy, "9.99", 100)), [Event::Accepted { order_id: 2 }]);
    // After the close it is closed, and the next morning's auction still comes.
    v.now = at(15, 30, 0);
    let events = v.end_of_day();
    assert_eq!(events.last(), Some(&phase_event(None, Ph::Closed, PhaseEventKind::PhaseChange)));
    v.advance(at(24 + 9, 16, 0));
    assert_eq!(v.ex.phase(SEC), Some(Ph::OpeningAuction));
}

fn cancels_refused_in_the_closing_auction<M: Matcher>() {
    let mut v = ashare::<M>(at(14, 50, 0));
    v.submit(limit(1, Buy, "9.95", 100));
    v.submit(limit(2, Buy, "9.96", 100));
    v.now = at(14, 58, 0);
    assert_eq!(
        v.cancel(1).last(),
        Some(&Event::CancelRejected { order_id: 1, code: RejectCode::VENUE_NO_CANCEL_PHASE })
    );
    assert_eq!(
        v.replace(2, "9.97", 100),
        [Event::ReplaceRejected { order_id: 2, code: RejectCode::VENUE_NO_CANCEL_PHASE }]
    );
    // New orders still join the auction.
    assert_eq!(v.submit(limit(3, Buy, "9.97", 100)), [Event::Accepted { order_id: 3 }]);
}

fn weekends_and_holidays_are_closed_all_day<M: Matcher>() {
    const DAY_NS: u64 = 86_400 * 1_000_000_000;
    // 2024-10-08 (the test day, a Tuesday) as a holiday.
    let mut cfg = config(vec![spec(SEC, "10.00")], Schedule::AShare { utc_offset_s: BEIJING });
    cfg.holidays = vec![20241008];
    let mut v = Venue::<M>::new(cfg, at(10, 0, 0));
    v.advance(at(10, 0, 0));
    assert_eq!(code(&v.submit(limit(1, Buy, "9.99", 100))), RejectCode::VENUE_CLOSED);
    assert_eq!(v.ex.phase(SEC), Some(Ph::Closed));
    // Nothing happens until Wednesday's opening auction.
    assert_eq!(v.ex.next_deadline(), Some(at(24 + 9, 15, 0)));
    v.advance(at(24 + 9, 16, 0));
    assert_eq!(v.ex.phase(SEC), Some(Ph::OpeningAuction));
    // Saturday 2024-10-12 is closed without being listed.
    let mut w = ashare::<M>(at(10, 0, 0) + 4 * DAY_NS);
    w.advance(at(10, 0, 0) + 4 * DAY_NS);
    assert_eq!(code(&w.submit(limit(1, Buy, "9.99", 100))), RejectCode::VENUE_CLOSED);
    assert_eq!(w.ex.phase(SEC), Some(Ph::Closed));
    // A date that does not exist is a configuration error.
    let mut bad = config(vec![spec(SEC, "10.00")], Schedule::AShare { utc_offset_s: BEIJING });
    bad.holidays = vec![20241032];
    assert!(matches!(
        Exchange::<M>::with_matcher(bad),
        Err(sim_exchange::ConfigError::BadHoliday(20241032))
    ));
}

/// Collects `orders` in an opening auction (no cancels needed), then uncrosses at 9:25.
fn auction<M: Matcher>(prev_close: &str, orders: &[(Side, &str, u64)]) -> (Venue<M>, Vec<Event>) {
    let mut v = Venue::<M>::new(
        config(vec![spec(SEC, prev_close)], Schedule::AShare { utc_offset_s: BEIJING }),
        at(9, 16, 0),
    );
    for (i, (side, price, qty)) in orders.iter().enumerate() {
        assert_eq!(
            v.submit(limit(i as u64 + 1, *side, price, *qty)).last(),
            Some(&Event::Accepted { order_id: i as u64 + 1 })
        );
    }
    let events = v.advance(at(9, 25, 0));
    (v, events)
}

fn uncross_maximises_volume<M: Matcher>() {
    // Buys 10.05×300, 10.02×200, 10.00×100; sells 9.98×200, 10.01×200, 10.04×300.
    // Volume: 200 up to 10.00, 400 at 10.01-10.02, 300 above: 10.01 and 10.02 tie on
    // volume and imbalance (100); 10.01 is nearer the close (10.00).
    let (v, events) = auction::<M>(
        "10.00",
        &[
            (Buy, "10.05", 300),
            (Buy, "10.02", 200),
            (Buy, "10.00", 100),
            (Sell, "9.98", 200),
            (Sell, "10.01", 200),
            (Sell, "10.04", 300),
        ],
    );
    assert_eq!(
        trades(&events),
        vec![(p("10.01"), 200, 1, 4), (p("10.01"), 100, 1, 5), (p("10.01"), 100, 2, 5)]
    );
    assert!(events.iter().all(
        |e| !matches!(e, Event::Executed { liquidity, .. } if *liquidity != Liquidity::Auction)
    ));
    // Partials keep their place: order 2 has 100 left at 10.02.
    assert_eq!(v.book(), (vec![(p("10.02"), 100), (p("10.00"), 100)], vec![(p("10.04"), 300)]));
    assert_eq!(v.ex.l1(SEC).unwrap().volume, Qty(400));
    assert_eq!(v.ex.last_price(SEC), Some(p("10.01")));
}

fn uncross_prefers_least_imbalance<M: Matcher>() {
    // Buys 10.02×300, 10.00×200; sells 9.99×300, 10.01×100. Every price matches 300;
    // the imbalance is 200 at 9.99-10.00 and 100 at 10.01-10.02: 10.01 wins although
    // 10.00 is the close.
    let (_, events) = auction::<M>(
        "10.00",
        &[(Buy, "10.02", 300), (Buy, "10.00", 200), (Sell, "9.99", 300), (Sell, "10.01", 100)],
    );
    assert_eq!(trades(&events), vec![(p("10.01"), 300, 1, 3)]);
}

fn uncross_prefers_the_reference_price_then_the_higher<M: Matcher>() {
    // Buy 10.02×100, sell 9.98×100: every price from 9.98 to 10.02 matches 100 with no
    // imbalance, so the close decides.
    let (_, events) = auction::<M>("10.00", &[(Buy, "10.02", 100), (Sell, "9.98", 100)]);
    assert_eq!(trades(&events), vec![(p("10.00"), 100, 1, 2)]);
    // A close of 10.005 is equally far from 10.00 and 10.01: the higher wins.
    let (_, events) = auction::<M>("10.005", &[(Buy, "10.02", 100), (Sell, "9.98", 100)]);
    assert_eq!(trades(&events), vec![(p("10.01"), 100, 1, 2)]);
}

fn uncross_reference_outside_the_crossed_range<M: Matcher>() {
    let (_, events) =
        auction::<M>("10.00", &[(Buy, "10.50", 100), (Sell, "10.40", 100), (Sell, "10.60", 100)]);
    assert_eq!(trades(&events), vec![(p("10.40"), 100, 1, 2)]);
    // Nothing crossed: no trades.
    let (v, events) = auction::<M>("10.00", &[(Buy, "9.90", 100), (Sell, "10.10", 100)]);
    assert!(trades(&events).is_empty());
    assert_eq!(v.ex.indicative_uncross(SEC), None);
}

fn manual_phase_changes_uncross_when_leaving_an_auction<M: Matcher>() {
    let mut v = Venue::<M>::continuous();
    v.set_phase(None, Ph::OpeningAuction);
    v.submit(limit(1, Buy, "10.10", 200));
    v.submit(limit(2, Sell, "10.00", 100));
    assert_eq!(v.ex.open_orders(), 2);
    let events = v.set_phase(None, Ph::Continuous);
    assert_eq!(trades(&events), vec![(p("10.00"), 100, 1, 2)]);
    assert_eq!(
        events.last(),
        Some(&phase_event(None, Ph::Continuous, PhaseEventKind::PhaseChange))
    );
    // Closing auction into Closed uncrosses too.
    v.set_phase(None, Ph::ClosingAuction);
    v.submit(limit(3, Sell, "10.10", 100));
    let events = v.set_phase(None, Ph::Closed);
    assert_eq!(trades(&events), vec![(p("10.10"), 100, 1, 3)]);
    // An unknown configuration is refused at start-up.
    let mut cfg = config(vec![spec(SEC, "10.00"), spec(SEC, "11.00")], Schedule::AlwaysContinuous);
    assert!(Exchange::<M>::with_matcher(cfg.clone()).is_err());
    cfg.instruments.pop();
    cfg.max_orders = 0;
    assert!(Exchange::<M>::with_matcher(cfg).is_err());
}
