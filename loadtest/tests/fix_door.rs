//! The smoke scenario through the gateway's FIX door (`--front-door fix`): every
//! session a FIX session, the same flow, the same reconciliation. Behaviour only,
//! never timing.

use loadtest::driver::FrontDoor;
use loadtest::harness::{self, Options};

fn run(durability: Option<&str>) -> harness::Outcome {
    let o = Options {
        scenario: "smoke".into(),
        time_scale: 0.5,
        baseline: false,
        write_files: false,
        quiet: true,
        front_door: FrontDoor::Fix,
        durability: durability.map(str::to_owned),
        command: "cargo test fix_door".into(),
        ..Options::default()
    };
    harness::run(&o).expect("the smoke run over FIX completes")
}

#[test]
fn the_smoke_scenario_over_fix_loses_nothing() {
    let out = run(None);
    let g = &out.summary.gateway_run;
    let c = &g.counts;
    assert!(c.orders_sent > 2_000, "the flow ran: {c:?}");
    assert_eq!(c.lost, 0, "lost: {:?}", g.unanswered_sample);
    assert_eq!(c.unanswered, 0, "unanswered: {:?}", g.unanswered_sample);
    assert_eq!(c.seq_gaps, 0, "every FIX session's MsgSeqNums gap-free");
    assert_eq!(c.duplicate_answers + c.duplicate_terminals, 0);
    assert_eq!(c.unknown_ids, 0);
    assert_eq!(c.still_open, 0, "the final mass cancel closes everything");
    assert!(g.problems.is_empty(), "{:?}", g.problems);
    // Every path went through FIX: new, fill, cancel, replace, mass cancel, and
    // rejects answered by the engine's codes in BwRejectCode (5005).
    assert!(c.accepted > 0 && c.filled > 0 && c.cancel_done > 0 && c.replaced > 0, "{c:?}");
    assert!(c.mass_acks > 0, "OrderMassCancelReport answered the mass cancels");
    assert!(c.confirmations_sent > 0, "4002 answers were confirmed with 5002=Y and resent");
    for code in [3017u16, 3021, 4002, 4003] {
        assert!(
            c.rejected.get(&code).copied().unwrap_or(0) > 0,
            "no {code} reject: {:?}",
            c.rejected
        );
    }
    assert!(g.reconnects >= 2, "the reconnect storm dropped FIX sessions: {}", g.reconnects);
    assert!(g.events.iter().all(|e| e.result == "ok"), "{:?}", g.events);
}

/// Under `sync` every session fact is journaled too: still nothing lost.
#[test]
fn the_smoke_scenario_over_fix_under_sync_loses_nothing() {
    let out = run(Some("sync"));
    let g = &out.summary.gateway_run;
    let c = &g.counts;
    assert!(c.orders_sent > 2_000, "the flow ran: {c:?}");
    assert_eq!((c.lost, c.unanswered, c.seq_gaps, c.still_open), (0, 0, 0, 0), "{c:?}");
    assert_eq!(c.duplicate_answers + c.duplicate_terminals + c.unknown_ids, 0, "{c:?}");
}
