//! The engine's end of the feed and the publisher together, without threads: a
//! full engine -> publisher ring is counted, never waited for, and the books it
//! lost are re-sent so the publisher's images come back to the venue's; and the
//! publisher allocates nothing per event once it runs.

use std::sync::Arc;

use gateway::GatewayConfig;
use gateway::md::{Limits, MdLogin, Publisher, seeded};
use gateway::md_feed::{MarketTap, MdFeed};
use gateway::metrics::MdMetrics;
use gateway::ring::{Consumer, ring};
use gateway::wait::PollWakeup;
use protocol::marketdata::{Depth, FLAG_CONFLATED, MdMessage, Mode, Target, decode_server};
use protocol::{Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce, Token, Username};
use sim_exchange::{Event, Exchange, Level, VenueOrder};

#[global_allocator]
static GLOBAL: testkit::Counting = testkit::Counting::new();

const NOW: u64 = 1_796_613_000_000_000_000;

fn setup(
    ring_capacity: usize,
) -> (Exchange, MarketTap, Consumer<MdFeed>, Publisher, Arc<MdMetrics>, Vec<SecurityId>) {
    let mut config = GatewayConfig::demo();
    config.exchange.market_data = true;
    let mut venue = Exchange::new(config.exchange.clone()).unwrap();
    venue.advance(NOW, &mut |_| {});
    let securities: Vec<SecurityId> =
        config.exchange.instruments.iter().map(|i| i.security).collect();
    let metrics = Arc::new(MdMetrics::default());
    let (to_md, from_engine) = ring::<MdFeed>(ring_capacity);
    // No thread sleeps on this ring: the poll only gives the tap its wake-up.
    let poll = mio::Poll::new().unwrap();
    let wakeup = PollWakeup::new(poll.registry(), mio::Token(0)).unwrap();
    let tap = MarketTap::new(to_md, wakeup, &securities, 64, Arc::clone(&metrics));
    let limits = Limits {
        max_connections: 2,
        max_subscriptions: 4,
        queue_bytes: 1 << 20,
        history_messages: 4096,
        heartbeat_ns: 1_000_000_000,
        login_timeout_ns: 1_000_000_000,
    };
    let logins = vec![MdLogin {
        username: Username::new("u").unwrap(),
        token: Token::from_text("u-secret-1").unwrap(),
        depth: Some(Depth::Level2),
    }];
    let publisher = Publisher::new(limits, 1, logins, &securities, 64, Arc::clone(&metrics));
    let publisher = seeded(publisher, &securities, &venue, 4096);
    (venue, tap, from_engine, publisher, metrics, securities)
}

fn order(id: u64, code: u32, side: Side, price: i64, qty: u64) -> VenueOrder {
    VenueOrder {
        order_id: id,
        owner: (id % 3) as u32,
        security: SecurityId { market: Market::Sse, code },
        side,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(price),
        qty: Qty(qty),
    }
}

/// One venue operation, its events offered to the tap as the engine does.
fn operate(venue: &mut Exchange, tap: &mut MarketTap, o: &VenueOrder, events: &mut Vec<Event>) {
    events.clear();
    venue.submit(o, NOW, &mut |e| events.push(e));
    for e in events.iter() {
        if let Event::Market(m) = e {
            tap.offer(*m);
        }
    }
    tap.finish_operation(venue, NOW);
}

fn frame(msg: &MdMessage) -> Vec<u8> {
    let mut buf = [0u8; 512];
    let n = msg.encode(&mut buf).unwrap();
    buf[..n].to_vec()
}

fn login_and_subscribe(p: &mut Publisher) {
    p.open(0, NOW);
    let login = MdMessage::Login {
        version: 1,
        username: Username::new("u").unwrap(),
        token: Token::from_text("u-secret-1").unwrap(),
    };
    p.on_frame(0, &frame(&login), NOW);
    let sub = MdMessage::Subscribe {
        request_id: 1,
        target: Target::Channel(160),
        depth: Depth::Level2,
        mode: Mode::RealTime,
        interval_ms: 0,
    };
    p.on_frame(0, &frame(&sub), NOW);
}

fn decode_all(bytes: &[u8]) -> Vec<MdMessage> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]])) + 2;
        out.push(decode_server(&bytes[at..at + len]).unwrap());
        at += len;
    }
    out
}

#[test]
fn a_full_ring_is_counted_and_the_lost_books_are_resent() {
    let (mut venue, mut tap, mut from_engine, mut publisher, metrics, securities) = setup(64);
    login_and_subscribe(&mut publisher);
    let mut events = Vec::with_capacity(256);
    let mut id = 0;
    // The publisher does not run while the venue trades: the ring fills.
    for round in 0..6 {
        for k in 0..40 {
            id += 1;
            let (side, price) = if (k + round) % 2 == 0 {
                (Side::Buy, 14_900_000 - (k % 7) * 10_000)
            } else {
                (Side::Sell, 14_880_000 + (k % 5) * 10_000)
            };
            operate(
                &mut venue,
                &mut tap,
                &order(id, 600_519, side, price, 100 * (1 + k as u64 % 3)),
                &mut events,
            );
            id += 1;
            operate(
                &mut venue,
                &mut tap,
                &order(id, 601_318, Side::Buy, 520_000 - (k % 4) * 100, 100),
                &mut events,
            );
        }
        // Now it catches up with what the ring held.
        while let Some(item) = from_engine.pop() {
            publisher.on_feed(item, NOW);
        }
    }
    // Room again: the marks left are re-sent with the next operation.
    id += 1;
    operate(&mut venue, &mut tap, &order(id, 601_318, Side::Buy, 510_000, 100), &mut events);
    while let Some(item) = from_engine.pop() {
        publisher.on_feed(item, NOW);
    }
    assert!(metrics.ring_dropped.get() > 0, "the ring filled");
    assert!(metrics.resyncs.get() > 0, "lost books were re-sent");
    assert!(metrics.feed_gaps.get() > 0, "the publisher saw the jumps");
    let mut bids = vec![Level::default(); 4096];
    let mut asks = vec![Level::default(); 4096];
    for s in &securities {
        let snap = venue.market_snapshot(*s, &mut bids, &mut asks).unwrap();
        let image = publisher.book(*s).unwrap();
        let wire = |l: &Level| protocol::marketdata::WireLevel {
            price: l.price,
            qty: l.qty,
            orders: l.orders,
        };
        let venue_bids: Vec<_> = bids[..snap.bid_levels].iter().map(wire).collect();
        let venue_asks: Vec<_> = asks[..snap.ask_levels].iter().map(wire).collect();
        assert_eq!(image.bids(), &venue_bids[..], "{s} bids");
        assert_eq!(image.asks(), &venue_asks[..], "{s} asks");
        assert_eq!(image.security_seq, snap.security_seq, "{s}");
    }
    // The subscriber was told, and was sent the resynced books.
    let msgs = decode_all(publisher.pending(0));
    assert!(msgs.iter().any(|m| matches!(m, MdMessage::GapNotice { channel: 160, .. })));
    assert!(
        msgs.iter().any(|m| matches!(m, MdMessage::Snapshot(s) if s.flags & FLAG_CONFLATED != 0))
    );
}

#[test]
fn the_publisher_allocates_nothing_per_event() {
    let (mut venue, mut tap, mut from_engine, mut publisher, _, _) = setup(1 << 14);
    login_and_subscribe(&mut publisher);
    let mut events = Vec::with_capacity(256);
    let mut run =
        |from: u64, to: u64, venue: &mut Exchange, tap: &mut MarketTap, p: &mut Publisher| {
            for id in from..to {
                let k = id as i64 % 11;
                let (side, price) = if id % 2 == 0 {
                    (Side::Buy, 14_900_000 - k * 10_000)
                } else {
                    (Side::Sell, 14_880_000 + k * 10_000)
                };
                operate(venue, tap, &order(id, 600_519, side, price, 100), &mut events);
                while let Some(item) = from_engine.pop() {
                    p.on_feed(item, NOW);
                }
                let n = p.pending(0).len();
                p.written(0, n, NOW);
            }
        };
    run(1, 500, &mut venue, &mut tap, &mut publisher);
    // This thread's count: the other test runs beside it.
    let before = testkit::thread_allocations();
    run(500, 2_500, &mut venue, &mut tap, &mut publisher);
    let allocated = testkit::thread_allocations() - before;
    assert_eq!(allocated, 0, "the venue, the tap and the publisher allocated {allocated} times");
}
