//! What a query costs the engine, beside what an order costs it, on one thread.
//!
//! ```text
//!   order input     Sequencer::process of one input of benches::flow (rest, cross,
//!                   rest, cancel): sequence, risk, match, answers
//!   funds query     Sequencer::process of a funds query of A001 and the drain of
//!                   its answer (what the engine thread does between two inputs)
//!   positions query the same for A001's positions (one page, up to 9 rows)
//! ```
//!
//! The engine answers a query between two inputs, so a query delays the orders
//! behind it by its own service time and nothing else. The figure that matters
//! for the order path is the share of the engine's time the load test's probe
//! takes: `loadtest run steady --query-every-ms 100` sends, per session, one funds
//! and one positions query every 100 ms (4 sessions: 80 queries a second) beside
//! 1,000 orders a second; the bench prints that share and the chance that an order
//! arrives while a query is being answered.
//!
//! Checks before timing: the funds answer is a funds answer for A001 as of the
//! last sequenced output, the positions answer lists A001's holdings, and every
//! order input of the flow is answered; so nothing is measured empty.
//!
//! Run: `cargo bench -p benches --bench query` (a few seconds).

use std::time::Instant;

use benches::flow::{answered_id, config, input};
use gateway::clock::Clock;
use gateway::input::{Arrival, Asker, Input, Stamps};
use gateway::pipeline::{Sequencer, build_engine};
use hdrhistogram::Histogram;
use protocol::AccountId;
use protocol::query::{Query, QueryAnswer, QueryKind};

const ORDERS: u64 = 400_000;
const QUERIES: u64 = 200_000;
const WARMUP: u64 = 40_000;

fn query(kind: QueryKind, query_id: u64) -> Arrival {
    let query = Query {
        query_id,
        kind,
        account: AccountId::new("A001").expect("valid account"),
        cursor: 0,
        page_size: 0,
        flags: 0,
    };
    Arrival {
        input: Input::Query { asker: Asker::Login { login: 0, slot: 0 }, query },
        stamps: Stamps { read_ns: 0, decoded_ns: 0 },
    }
}

fn arrival(i: u64) -> Arrival {
    Arrival { input: input(i), stamps: Stamps { read_ns: 0, decoded_ns: 0 } }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

fn line(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<18} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9.0}",
        h.len(),
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.90),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.mean(),
    );
}

fn main() {
    if !benches::run::under_cargo_bench("query") {
        return;
    }
    let config = config(2 * (ORDERS + WARMUP));
    let engine = build_engine(&config).expect("the bench configuration is valid");
    let mut seq = Sequencer::new(engine, Clock::new());
    seq.reserve_replies(4);

    // Orders first: the book and A001's holdings and fills are those of a trading day.
    let mut orders = hist();
    let mut answered = 0u64;
    for i in 0..WARMUP + ORDERS {
        let a = arrival(i);
        let t = Instant::now();
        seq.process(&a, &mut |o| answered += u64::from(answered_id(&o).is_some()));
        let ns = t.elapsed().as_nanos() as u64;
        if i >= WARMUP {
            orders.record(ns.max(1)).expect("within bounds");
        }
    }
    assert!(answered >= WARMUP + ORDERS, "every order input is answered ({answered})");

    let mut results = Vec::new();
    for (name, kind) in
        [("funds query", QueryKind::Funds), ("positions query", QueryKind::Positions)]
    {
        let mut h = hist();
        for i in 0..WARMUP + QUERIES {
            let a = query(kind, i);
            let t = Instant::now();
            seq.process(&a, &mut |_| unreachable!("a query emits no sequenced output"));
            let reply = seq.take_replies().next().expect("a query is answered");
            let ns = t.elapsed().as_nanos() as u64;
            if i == 0 {
                match (&reply.answer, kind) {
                    (QueryAnswer::Funds(f), QueryKind::Funds) => {
                        assert_eq!(f.header.account.as_str(), "A001");
                    }
                    (QueryAnswer::Positions(p), QueryKind::Positions) => {
                        assert!(!p.rows.as_slice().is_empty(), "A001 holds shares");
                    }
                    (other, _) => panic!("{name}: unexpected answer {other:?}"),
                }
            }
            if i >= WARMUP {
                h.record(ns.max(1)).expect("within bounds");
            }
        }
        results.push((name, h));
    }

    println!("\nengine time per input (ns), one thread, timer included");
    println!(
        "{:<18} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9}",
        "input", "count", "p50", "p90", "p99", "p99.9", "mean"
    );
    line("order input", &orders);
    for (name, h) in &results {
        line(name, h);
    }
    let probe_ns_per_s = 40.0 * (results[0].1.mean() + results[1].1.mean());
    let orders_ns_per_s = 1_000.0 * orders.mean();
    println!(
        "\nthe load test's probe (40 funds + 40 positions queries/s) beside 1,000 orders/s:\n\
         engine busy {:.1} µs/s on queries vs {:.1} µs/s on orders ({:.3}% of one core); \
         an order arrives during a query answer with probability {:.5}",
        probe_ns_per_s / 1e3,
        orders_ns_per_s / 1e3,
        probe_ns_per_s / 1e7,
        probe_ns_per_s / 1e9,
    );
}
