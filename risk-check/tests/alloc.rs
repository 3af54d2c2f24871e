//! The order path allocates nothing after start-up: a counting global allocator
//! (this file's own, so it sees only this test binary) watches check_new_order,
//! check_cancel, check_replace and every venue event over thousands of orders.

mod util;

use protocol::codec::{NewOrder, ReplaceOrder};
use protocol::{Qty, RejectCode, Side};
use risk_check::{NewOrderVerdict, RiskEngine};
use util::*;

#[global_allocator]
static GLOBAL: testkit::Counting = testkit::Counting::new();

fn allocations() -> u64 {
    testkit::thread_allocations()
}

/// One round of the order path: passes, rejects, fills, cancels, a replace.
fn round(engine: &mut RiskEngine, h: &mut Harness, now_ns: &mut u64) {
    let ctx = h.ctx;
    let step = |o: &NewOrder, engine: &mut RiskEngine, now_ns: &mut u64| {
        *now_ns += 5 * MS;
        engine.check_new_order(LOGIN, o, &ctx, *now_ns)
    };
    // A buy that fills in two parts.
    let buy = h.limit(Side::Buy, "600000.SH", "10.00", 1_000);
    // Rounds are 100 ms apart, so a round's orders are not duplicates of the last's.
    *now_ns += 100 * MS;
    let v = step(&buy, engine, now_ns);
    let NewOrderVerdict::Pass { order: b, .. } = v else { panic!("buy: {v:?}") };
    engine.on_venue_accepted(b);
    engine.on_fill(b, cny("9.99"), Qty(400), *now_ns);
    engine.on_fill(b, cny("10.00"), Qty(600), *now_ns);
    // A sell of shares held since yesterday, replaced and then cancelled.
    let sell = h.limit(Side::Sell, "600000.SH", "10.50", 500);
    let NewOrderVerdict::Pass { order: s, .. } = step(&sell, engine, now_ns) else {
        panic!("sell")
    };
    engine.on_venue_accepted(s);
    let replace = ReplaceOrder {
        request_id: 1,
        orig_cl_ord_id: sell.cl_ord_id,
        account: sell.account,
        price: cny("10.40"),
        qty: Qty(400),
    };
    *now_ns += 5 * MS;
    engine.check_replace(LOGIN, &replace, &ctx, *now_ns).expect("replace passes");
    engine.on_replaced(s, cny("10.40"), Qty(400), Qty(400));
    *now_ns += 5 * MS;
    engine
        .check_cancel(LOGIN, &sell.account, sell.cl_ord_id, &ctx, *now_ns)
        .expect("cancel passes");
    engine.on_canceled(s, Qty(400));
    // Rejects: a price-limit reject and an insufficient-funds reject (recorded).
    let wild = h.limit(Side::Buy, "600000.SH", "12.00", 100);
    assert!(matches!(step(&wild, engine, now_ns), NewOrderVerdict::Reject { .. }));
    let mut huge = h.limit(Side::Buy, "600519.SH", "1500.00", 3_000);
    huge.account = acct("B002");
    let NewOrderVerdict::Reject { reject, .. } = step(&huge, engine, now_ns) else {
        panic!("huge")
    };
    assert_eq!(reject.code, RejectCode::INSUFFICIENT_FUNDS);
    // A resend and a venue reject.
    assert!(matches!(step(&buy, engine, now_ns), NewOrderVerdict::Repeat { .. }));
    let other = h.limit(Side::Buy, "000001.SZ", "10.00", 100);
    let NewOrderVerdict::Pass { order: o, .. } = step(&other, engine, now_ns) else {
        panic!("other")
    };
    engine.on_venue_rejected(o, RejectCode::VENUE_PRICE_CAGE);
}

#[test]
fn the_order_path_allocates_nothing_after_start_up() {
    let mut cfg = config();
    cfg.capacity.max_orders_per_day = 65_536;
    // 5,000 cancels in one security: over the default daily cancel limit of 500.
    cfg.limits.cancels_per_security_per_day = 0;
    cfg.accounts[0].cash = cny("100000000000").0;
    cfg.accounts[0].positions[0].qty = 100_000_000;
    let mut h = Harness::new(cfg);
    let mut engine = std::mem::replace(&mut h.engine, RiskEngine::new(config()).unwrap());
    let mut now_ns = T0;
    // Warm-up: the first round creates position slots (inside their reservations).
    round(&mut engine, &mut h, &mut now_ns);
    let before = allocations();
    for _ in 0..5_000 {
        round(&mut engine, &mut h, &mut now_ns);
    }
    let allocated = allocations() - before;
    assert_eq!(engine.orders_today(), 5 * 5_001, "five orders recorded a round");
    assert_eq!(allocated, 0, "the order path allocated {allocated} times over 5,000 rounds");
    engine.validate().unwrap();
    // The counter does count: this allocates.
    let probe = allocations();
    let v: Vec<u64> = Vec::with_capacity(4);
    assert!(allocations() > probe && v.capacity() >= 4);
}
