//! The smoke scenario end to end against an in-process gateway: nothing lost,
//! nothing unanswered, every stream gap-free. Behaviour only, never timing.

use loadtest::harness::{self, Options};

#[test]
fn smoke_scenario_loses_nothing() {
    let o = Options {
        scenario: "smoke".into(),
        baseline: false,
        write_files: false,
        quiet: true,
        command: "cargo test smoke".into(),
        ..Options::default()
    };
    let out = harness::run(&o).expect("the smoke run completes");
    let g = &out.summary.gateway_run;
    let c = &g.counts;
    assert!(c.orders_sent > 5_000, "the flow ran: {c:?}");
    assert_eq!(c.lost, 0, "lost: {:?}", g.unanswered_sample);
    assert_eq!(c.unanswered, 0, "unanswered: {:?}", g.unanswered_sample);
    assert_eq!(c.seq_gaps, 0, "every stream gap-free");
    assert_eq!(c.duplicate_answers + c.duplicate_terminals, 0);
    assert_eq!(c.unknown_ids, 0);
    assert_eq!(c.still_open, 0, "the final mass cancel closes everything");
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    // Every path was exercised.
    assert!(c.accepted > 0 && c.filled > 0 && c.cancel_done > 0 && c.replaced > 0);
    assert!(c.accepted_with_confirmation > 0, "suitability confirmations went through");
    for code in [3017u16, 3021, 4002, 4003] {
        assert!(
            c.rejected.get(&code).copied().unwrap_or(0) > 0,
            "no {code} reject: {:?}",
            c.rejected
        );
    }
    assert!(g.reconnects >= 2, "the reconnect storm dropped sessions");
    assert!(c.system_events > 0, "the halt and the reopening were seen");
    assert!(g.events.iter().all(|e| e.result == "ok"), "{:?}", g.events);
    assert!(out.summary.passed, "{}", loadtest::report::table(&out.summary));
}
