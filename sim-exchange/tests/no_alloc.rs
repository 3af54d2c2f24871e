//! Steady-state order flow allocates nothing: a counting global allocator watches
//! submit, cancel, replace and matching after a warm-up, with the market-data feed
//! off and on (its level, trade, order and indicative-uncross events included).

use protocol::{Board, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce};
use sim_exchange::{Event, Exchange, ExchangeConfig, InstrumentSpec, Level, Schedule, VenueOrder};

#[global_allocator]
static GLOBAL: testkit::Counting = testkit::Counting::new();

const SEC: SecurityId = SecurityId { market: Market::Sse, code: 600_000 };

fn order(
    id: u64,
    side: Side,
    ticks: i64,
    qty: u64,
    order_type: OrderType,
    tif: TimeInForce,
) -> VenueOrder {
    VenueOrder {
        order_id: id,
        owner: (id % 5) as u32,
        security: SEC,
        side,
        order_type,
        tif,
        // Market orders carry price 0 outside STAR.
        price: if order_type.is_market() { Price::ZERO } else { Price(100_000 + ticks * 100) },
        qty: Qty(qty),
    }
}

#[test]
fn steady_state_order_flow_does_not_allocate() {
    // One test for both, in turn: the allocation counter is shared.
    let off = flow_allocations(false);
    assert_eq!(off.0, 0, "steady-state order flow allocated {} times (feed off)", off.0);
    assert_eq!(off.1, 0, "the feed is off");
    let on = flow_allocations(true);
    assert!(on.1 > 100_000, "the feed published ({} events)", on.1);
    assert_eq!(on.0, 0, "steady-state order flow allocated {} times (feed on)", on.0);
}

/// Allocations in the steady state, and market-data events seen.
fn flow_allocations(market_data: bool) -> (u64, u64) {
    let mut spec = InstrumentSpec::new(SEC, Board::SseMain, Price(100_000));
    spec.rules.cage = None;
    // An IPO-day book without limits, its array 20 ticks wide: the flow's ±20 ticks
    // reach the overflow levels on both sides as well as the array.
    spec.no_price_limit = true;
    let mut ex = Exchange::new(ExchangeConfig {
        instruments: vec![spec],
        max_orders: 4_096,
        max_levels_per_side: 20,
        overflow_levels_per_side: 64,
        inbound_queue_capacity: 1_024,
        self_trade_prevention: true,
        schedule: Schedule::AlwaysContinuous,
        holidays: Vec::new(),
        limit_ioc_fok: false,
        market_data,
    })
    .unwrap();
    let mut events = 0u64;
    let mut trades = 0u64;
    let mut market = 0u64;
    let mut sink = |e: Event| {
        events += 1;
        if matches!(e, Event::Trade { .. }) {
            trades += 1;
        }
        if matches!(e, Event::Market(_)) {
            market += 1;
        }
    };
    let mut rng = testkit::Rng::new(1);
    let mut rand = move || rng.next_u64();
    let mut run = |ex: &mut Exchange, rounds: u64, first_id: u64, sink: &mut dyn FnMut(Event)| {
        let mut sink = |e| sink(e);
        let mut levels = [Level::default(); 10];
        for i in 0..rounds {
            let id = first_id + i;
            let r = rand();
            let side = if r & 1 == 0 { Side::Buy } else { Side::Sell };
            let ticks = (r >> 8) as i64 % 40 - 20;
            let now = id;
            // Cancels and replaces name one of the 50 orders before this one in the
            // run (ids first_id..id), so the first operation of a run is a new order.
            let earlier = id - 1 - (r >> 45) % i.clamp(1, 50);
            let kind = if i == 0 { 0 } else { (r >> 32) % 10 };
            match kind {
                0..=4 => ex.submit(
                    &order(
                        id,
                        side,
                        ticks,
                        100 * (1 + (r >> 40) % 5),
                        OrderType::Limit,
                        TimeInForce::Day,
                    ),
                    now,
                    &mut sink,
                ),
                5 => ex.submit(
                    &order(id, side, 0, 300, OrderType::MarketBest5Limit, TimeInForce::Day),
                    now,
                    &mut sink,
                ),
                6 => ex.submit(
                    &order(id, side, 0, 500, OrderType::MarketBest5Cancel, TimeInForce::Ioc),
                    now,
                    &mut sink,
                ),
                7 => ex.cancel(earlier, now, &mut sink),
                _ => ex.replace(earlier, Price(100_000 + ticks * 100), Qty(200), now, &mut sink),
            }
            let _ = ex.l1(SEC);
            let _ = ex.l2(SEC, &mut levels[..5], &mut []);
            let (bids, asks) = levels.split_at_mut(5);
            let _ = ex.market_snapshot(SEC, bids, asks);
        }
        // Fault injection and an auction round trip use the preallocated queue.
        ex.set_ack_delay(3);
        for i in 0..20 {
            ex.submit(
                &order(
                    first_id + rounds + i,
                    Side::Buy,
                    -25,
                    100,
                    OrderType::Limit,
                    TimeInForce::Day,
                ),
                first_id + rounds,
                &mut sink,
            );
        }
        ex.advance(first_id + rounds + 10, &mut sink);
        ex.set_ack_delay(0);
        ex.set_phase(
            None,
            protocol::TradingPhase::OpeningAuction,
            first_id + rounds + 11,
            &mut sink,
        );
        ex.submit(
            &order(first_id + rounds + 50, Side::Buy, 15, 500, OrderType::Limit, TimeInForce::Day),
            first_id + rounds + 12,
            &mut sink,
        );
        ex.set_phase(None, protocol::TradingPhase::Continuous, first_id + rounds + 13, &mut sink);
    };
    // Warm-up: first touches of everything (nothing should allocate here either, but
    // the test only claims the steady state).
    run(&mut ex, 20_000, 1, &mut sink);
    // The counter sees an allocation on this thread.
    let before = testkit::thread_allocations();
    std::hint::black_box(Box::new(7u64));
    assert_eq!(testkit::thread_allocations() - before, 1, "the counting allocator counts");
    let before = testkit::thread_allocations();
    run(&mut ex, 100_000, 1_000_000, &mut sink);
    let allocated = testkit::thread_allocations() - before;
    ex.validate().unwrap();
    assert!(trades > 1_000, "the flow traded ({trades} trades, {events} events)");
    (allocated, market)
}
