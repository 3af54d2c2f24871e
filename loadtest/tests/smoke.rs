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
    assert!(
        g.reconnects >= 2,
        "the reconnect storm dropped sessions: {} reconnects; {:?}",
        g.reconnects,
        g.events
    );
    assert!(c.system_events > 0, "the halt and the reopening were seen");
    assert!(g.events.iter().all(|e| e.result == "ok"), "{:?}", g.events);
    assert!(out.summary.passed, "{}", loadtest::report::table(&out.summary));
}

/// `--durability sync --compare-durability`: the same schedule through the gateway
/// without a journal, then with `sync` (every answer waits for its input to be on
/// disk); both reconcile completely.
#[test]
fn sync_durability_under_load_loses_nothing() {
    let o = Options {
        scenario: "smoke".into(),
        time_scale: 0.5,
        baseline: false,
        write_files: false,
        quiet: true,
        durability: Some("sync".into()),
        compare_durability: true,
        command: "cargo test sync".into(),
        ..Options::default()
    };
    let out = harness::run(&o).expect("the run completes");
    assert!(out.summary.gateway.contains("durability Sync"), "{}", out.summary.gateway);
    let plain = out.summary.no_journal_run.as_ref().expect("the run without a journal");
    assert!(out.summary.ratio_to_no_journal.is_some());
    for g in [&out.summary.gateway_run, plain] {
        let c = &g.counts;
        assert!(c.orders_sent > 2_000, "the flow ran: {c:?}");
        assert_eq!((c.lost, c.unanswered, c.seq_gaps), (0, 0, 0), "{:?}", g.unanswered_sample);
        assert_eq!(c.duplicate_answers + c.duplicate_terminals + c.unknown_ids, 0);
        assert!(g.problems.is_empty(), "{:?}", g.problems);
        assert!(c.accepted > 0 && c.filled > 0);
    }
    let bad = Options { durability: Some("fast".into()), ..o.clone() };
    assert!(harness::run(&bad).unwrap_err().contains("--durability"));
    let no_journal = Options { durability: None, ..o };
    assert!(harness::run(&no_journal).unwrap_err().contains("--compare-durability"));
}

/// `--protocol-version 2`: the broker answers every order that passes its checks
/// at once (OrderPending), the venue's answer follows; the report times both and
/// everything still reconciles.
#[test]
fn version_2_times_the_brokers_answer_beside_the_venues() {
    let o = Options {
        scenario: "smoke".into(),
        time_scale: 0.5,
        baseline: false,
        write_files: false,
        quiet: true,
        protocol_version: 2,
        command: "cargo test version 2".into(),
        ..Options::default()
    };
    let out = harness::run(&o).expect("the run completes");
    let g = &out.summary.gateway_run;
    let c = &g.counts;
    assert_eq!((c.lost, c.unanswered, c.seq_gaps), (0, 0, 0), "{:?}", g.unanswered_sample);
    assert_eq!(c.duplicate_answers + c.duplicate_terminals + c.unknown_ids, 0);
    assert!(c.accepted > 0 && c.pending >= c.accepted, "an OrderPending before each accept");
    assert!(g.broker.count > 0, "the broker's answers were timed");
    assert!(g.broker.count <= g.order_ack.count, "at most one broker answer per order");
    let table = loadtest::report::table(&out.summary);
    assert!(table.contains("order broker answer"), "{table}");
}

/// Queries in the flow and the 100 ms funds-and-positions probe on the smoke
/// scenario (halts, a reconnect storm): every funds and positions answer equals
/// the harness's own book-keeping of what filled, and every query is answered.
#[test]
fn queries_reconcile_with_what_filled() {
    let o = Options {
        scenario: "smoke".into(),
        time_scale: 0.5,
        baseline: false,
        write_files: false,
        quiet: true,
        query_share: Some(0.02),
        query_every_ms: Some(100),
        command: "cargo test queries".into(),
        ..Options::default()
    };
    let out = harness::run(&o).expect("the run completes");
    let g = &out.summary.gateway_run;
    let q = &g.queries;
    assert!(q.answered > 100, "queries were answered: {q:?}");
    assert!(q.checks.funds_checked > 20 && q.checks.position_rows_checked > 20, "{q:?}");
    assert_eq!(q.checks.mismatches, 0, "{:?}", q.checks.mismatch_sample);
    assert_eq!(q.unanswered + q.unknown_answers, 0, "{q:?}");
    assert!(q.refused.is_empty(), "no query refused: {:?}", q.refused);
    assert!(g.query.count > 0, "query answers timed as their own class");
    assert_eq!(g.counts.lost, 0);
    assert_eq!(g.counts.business_rejects, 0, "every query was understood");
    assert!(out.summary.passed, "{}", loadtest::report::table(&out.summary));
}

/// `--compare-query-probe --probe-first`: both sides run (the probed one first),
/// each answers every order, and the report holds both and their ratio;
/// `--probe-first` alone is refused, as is the comparison without a probe.
#[test]
fn the_query_probe_comparison_runs_both_sides_in_either_order() {
    let o = Options {
        scenario: "smoke".into(),
        time_scale: 0.25,
        baseline: false,
        write_files: false,
        quiet: true,
        query_every_ms: Some(100),
        compare_query_probe: true,
        probe_first: true,
        command: "cargo test probe".into(),
        ..Options::default()
    };
    let out = harness::run(&o).expect("the run completes");
    let s = &out.summary;
    let probed = &s.gateway_run;
    let plain = s.no_probe_run.as_ref().expect("the side without the probe ran");
    assert!(probed.queries.answered > 0, "the probed side queried: {:?}", probed.queries);
    assert_eq!(plain.queries.answered, 0, "the other side did not: {:?}", plain.queries);
    for side in [probed, plain] {
        assert_eq!(side.counts.lost, 0);
        assert!(side.order_ack.count > 0, "{}: orders answered", side.target);
    }
    assert!(s.ratio_to_no_probe.is_some(), "the report holds the ratio");
    let alone = Options { compare_query_probe: false, ..o.clone() };
    assert!(harness::run(&alone).unwrap_err().contains("--probe-first"));
    let no_probe = Options { query_every_ms: None, probe_first: false, ..o };
    assert!(harness::run(&no_probe).unwrap_err().contains("--compare-query-probe"));
}
