//! Market-data subscribers beside the smoke scenario (in-process gateway with its
//! publisher on): every rebuilt book equals the venue's, trades reconcile, nothing
//! is lost on the order side, and a subscriber that reads too slowly falls behind
//! and still ends consistent. Behaviour only, never timing.

use loadtest::harness::{self, Options};
use loadtest::marketdata::{ClassKind, MdOptions};

#[test]
fn subscribers_beside_the_smoke_flow_rebuild_the_venues_books() {
    let o = Options {
        scenario: "smoke".into(),
        baseline: false,
        write_files: false,
        quiet: true,
        md: MdOptions {
            fast: 3,
            slow: 1,
            // Far below the feed's rate, with a small publisher queue and socket
            // buffer, so that the slow one falls behind within the run.
            slow_read_bytes_per_s: 4_096,
            l1: 1,
            queue_bytes: 65_536,
            send_buffer_bytes: 32_768,
            ..MdOptions::new()
        },
        command: "cargo test marketdata".into(),
        ..Options::default()
    };
    let out = harness::run(&o).expect("the run completes");
    let table = loadtest::report::table(&out.summary);
    let g = &out.summary.gateway_run;
    let c = &g.counts;
    assert!(c.orders_sent > 5_000 && c.filled > 0, "the flow ran: {c:?}");
    assert_eq!((c.lost, c.unanswered, c.seq_gaps), (0, 0, 0), "{:?}", g.unanswered_sample);
    let m = out.summary.market_data.as_ref().expect("a market-data section");
    let r = &m.reconciliation;
    assert!(r.passed, "{table}");
    assert_eq!(m.subscribers, 5);
    // Every subscriber holds every book of the universe, each equal to the venue's.
    let instruments = 8;
    assert_eq!(r.books, 5 * instruments, "{table}");
    assert_eq!(r.books_equal, r.books, "{table}");
    assert_eq!(r.fresh_equal, instruments, "{table}");
    assert_eq!(r.seqs_equal, r.seqs_checked, "{table}");
    // Subscribers that never missed a range (on a loaded machine a fast one may
    // fall behind too) counted every trade of the day, equal to the venue's.
    assert!(r.trades_checked >= instruments && r.trades_equal == r.trades_checked, "{table}");
    let class = |k: ClassKind| m.classes.iter().find(|c| c.class.kind == k).expect("the class");
    let fast = class(ClassKind::Fast);
    assert!(fast.counts.trades > 0 && fast.counts.deltas > 0 && fast.latency.count > 0, "{table}");
    let slow = class(ClassKind::Slow);
    assert!(
        slow.counts.conflated + slow.counts.gap_notices > 0,
        "the slow subscriber was neither conflated nor sent a gap notice: {table}"
    );
    let l1 = class(ClassKind::Level1);
    assert!(l1.counts.conflated > 0, "Level-1 conflated updates arrived: {table}");
    assert!(out.summary.passed, "{table}");
    assert!(table.contains("market data: 5 subscribers"), "{table}");
}

#[test]
fn market_data_options_are_checked() {
    let o = Options {
        scenario: "smoke".into(),
        baseline: false,
        write_files: false,
        quiet: true,
        md: MdOptions { fast: 5_000, ..MdOptions::new() },
        ..Options::default()
    };
    assert!(harness::run(&o).unwrap_err().contains("at most"));
    let threads =
        Options { md: MdOptions { fast: 1, threads: 65, ..MdOptions::new() }, ..o.clone() };
    assert!(harness::run(&threads).unwrap_err().contains("--md-threads"));
    let running = Options {
        gateway: Some("127.0.0.1:9".parse().unwrap()),
        md: MdOptions { fast: 1, ..MdOptions::new() },
        ..o
    };
    assert!(harness::run(&running).unwrap_err().contains("in-process"));
}

/// More subscribers than threads: six (one of them rate-bounded) on two
/// threads, each driving its share over non-blocking sockets; every book of
/// every subscriber still equals the venue's.
#[test]
fn more_subscribers_than_threads_all_reconcile() {
    let o = Options {
        scenario: "smoke".into(),
        baseline: false,
        write_files: false,
        quiet: true,
        md: MdOptions {
            fast: 4,
            slow: 1,
            slow_read_bytes_per_s: 4_096,
            l1: 1,
            queue_bytes: 65_536,
            send_buffer_bytes: 32_768,
            threads: 2,
            ..MdOptions::new()
        },
        command: "cargo test marketdata".into(),
        ..Options::default()
    };
    assert_eq!(o.md.threads_used(), 2);
    let out = harness::run(&o).expect("the run completes");
    let table = loadtest::report::table(&out.summary);
    let m = out.summary.market_data.as_ref().expect("a market-data section");
    let r = &m.reconciliation;
    assert_eq!(m.subscribers, 6);
    let instruments = 8;
    assert_eq!(r.books, 6 * instruments, "{table}");
    assert_eq!(r.books_equal, r.books, "{table}");
    assert_eq!(r.seqs_equal, r.seqs_checked, "{table}");
    assert!(r.passed && out.summary.passed, "{table}");
    let slow = m.classes.iter().find(|c| c.class.kind == ClassKind::Slow).expect("the class");
    assert!(
        slow.counts.conflated + slow.counts.gap_notices > 0,
        "the slow subscriber fell behind while the others were read: {table}"
    );
}
