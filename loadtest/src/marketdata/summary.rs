//! The market-data figures of a run: per class of subscriber, and the
//! reconciliation of every rebuilt book with the venue's; the text table's and the
//! HTML page's "market data" sections.

use std::fmt::Write as _;

use protocol::marketdata::{SNAPSHOT_LEVELS_MAX, SyncState};
use protocol::mdclient::LEVEL1_LEVELS;
use serde::Serialize;

use super::reference::Reference;
use super::subscriber::{Counts, Outcome, histogram};
use super::{Class, ClassKind, FleetResult};
use crate::percentiles::Percentiles;

/// Problems kept in the summary (the rest are counted).
const PROBLEMS_KEPT: usize = 20;

/// One class of subscriber.
#[derive(Clone, Debug, Serialize)]
pub struct ClassSummary {
    /// Its name.
    pub name: String,
    /// Configuration.
    pub class: Class,
    /// Subscribers.
    pub subscribers: usize,
    /// Venue `time_ns` of each delta (a conflated snapshot: the publisher's) to
    /// its receipt, same host wall clock; retransmissions and first snapshots not
    /// included.
    pub latency: Percentiles,
    /// Age of the newest state held, sampled every 10 ms during the flow.
    pub staleness: Percentiles,
    /// Counts, all subscribers of the class together.
    pub counts: Counts,
}

/// The rebuilt books held against the venue's after the flow.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reconciliation {
    /// (subscriber, security) books compared.
    pub books: u64,
    /// Books equal to the venue's in every level held, last, volume, turnover, phase.
    pub books_equal: u64,
    /// Levels compared.
    pub levels: u64,
    /// Books holding fewer levels than their depth and the venue allow (not wrong:
    /// see `docs/loadtest.md`).
    pub books_short: u64,
    /// Books still waiting on a retransmission at the end (their content is
    /// compared like any other; see `docs/loadtest.md`).
    pub books_recovering: u64,
    /// Level-2 real-time books whose last sequence is checked against the venue's.
    pub seqs_checked: u64,
    /// Of those, equal.
    pub seqs_equal: u64,
    /// Books whose trade count is checked against the venue's (subscribers that
    /// never missed a range they did not recover: no gap notice, no new snapshot).
    pub trades_checked: u64,
    /// Of those, equal.
    pub trades_equal: u64,
    /// Securities where the fresh snapshot after the flow and the venue agree.
    pub fresh_equal: u64,
    /// Securities compared between the fresh snapshot and the venue.
    pub fresh_checked: u64,
    /// Seconds the subscribers took to match the fresh snapshot after the flow.
    pub catch_up_s: f64,
    /// The first problems, in words.
    pub problems: Vec<String>,
    /// Problems in all.
    pub problem_count: u64,
    /// Everything reconciled.
    pub passed: bool,
}

impl Reconciliation {
    fn problem(&mut self, p: String) {
        self.problem_count += 1;
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(p);
        }
    }
}

/// The market-data part of a run.
#[derive(Clone, Debug, Serialize)]
pub struct MdSummary {
    /// Subscribers in all.
    pub subscribers: usize,
    /// Per class.
    pub classes: Vec<ClassSummary>,
    /// The reconciliation.
    pub reconciliation: Reconciliation,
}

/// Sums the subscribers by class and holds every book against the venue.
pub fn summarize(result: FleetResult, venue: &sim_exchange::Exchange) -> MdSummary {
    let securities: Vec<_> = result.fresh.iter().map(|r| r.security).collect();
    let truth: Vec<Reference> =
        securities.iter().filter_map(|s| Reference::from_venue(venue, *s)).collect();
    let mut rec = Reconciliation { catch_up_s: result.catch_up_s, ..Reconciliation::default() };
    for p in &result.problems {
        rec.problem(p.clone());
    }
    for f in &result.fresh {
        rec.fresh_checked += 1;
        match truth.iter().find(|t| t.security == f.security) {
            Some(t) if t.security_seq == f.security_seq && prefix_equal(f, t) => {
                rec.fresh_equal += 1;
            }
            _ => rec.problem(format!(
                "the fresh snapshot of {} differs from the venue",
                crate::operator::format_security(f.security)
            )),
        }
    }
    for (i, o) in result.outcomes.iter().enumerate() {
        reconcile_one(i, o, &truth, &mut rec);
    }
    rec.passed = rec.problem_count == 0 && !result.outcomes.is_empty() && !truth.is_empty();
    MdSummary {
        subscribers: result.outcomes.len(),
        classes: classes(&result.outcomes),
        reconciliation: rec,
    }
}

/// The fresh snapshot holds the venue's best ten levels a side.
fn prefix_equal(fresh: &Reference, venue: &Reference) -> bool {
    let n = SNAPSHOT_LEVELS_MAX;
    fresh.bids[..] == venue.bids[..venue.bids.len().min(n)]
        && fresh.asks[..] == venue.asks[..venue.asks.len().min(n)]
        && (fresh.last, fresh.volume, fresh.turnover) == (venue.last, venue.volume, venue.turnover)
}

fn reconcile_one(i: usize, o: &Outcome, truth: &[Reference], rec: &mut Reconciliation) {
    let who = format!("subscriber {i} ({})", o.class.kind.name());
    if let Some(e) = &o.error {
        rec.problem(e.clone());
    }
    if o.caught_up == 0 {
        rec.problem(format!("{who}: did not catch up with the fresh snapshot"));
    }
    let levels_max = match o.class.kind {
        ClassKind::Level1 => LEVEL1_LEVELS,
        ClassKind::Fast | ClassKind::Slow => SNAPSHOT_LEVELS_MAX,
    };
    // A gap notice the book did not recover by retransmission (a conflated
    // snapshot covered it) or a new snapshot leaves trades it never saw.
    let whole_day = o.from_start && o.counts.gap_notices == 0 && o.counts.resnapshots == 0;
    for t in truth {
        let Some((book, trades)) = o.books.iter().find(|(b, _)| b.security() == t.security) else {
            rec.problem(format!(
                "{who}: no book of {}",
                crate::operator::format_security(t.security)
            ));
            continue;
        };
        rec.books += 1;
        rec.levels += (book.bids().len() + book.asks().len()) as u64;
        let diff = t.differences(book);
        if diff.is_empty() {
            rec.books_equal += 1;
        }
        for d in diff {
            rec.problem(format!("{who}: {d}"));
        }
        match book.state() {
            SyncState::Synced => {}
            SyncState::Recovering(_) => rec.books_recovering += 1,
            SyncState::Unsynced => rec.problem(format!(
                "{who}: {} has no snapshot",
                crate::operator::format_security(t.security)
            )),
        }
        if t.short(book, levels_max) > 0 {
            rec.books_short += 1;
        }
        if o.class.kind != ClassKind::Level1 {
            rec.seqs_checked += 1;
            if book.last_seq() == t.security_seq {
                rec.seqs_equal += 1;
            } else {
                rec.problem(format!(
                    "{who}: {} last sequence {}, the venue's {}",
                    crate::operator::format_security(t.security),
                    book.last_seq(),
                    t.security_seq
                ));
            }
        }
        if whole_day && let Some(venue_trades) = t.trades {
            rec.trades_checked += 1;
            if *trades == venue_trades {
                rec.trades_equal += 1;
            } else {
                rec.problem(format!(
                    "{who}: {} trades {trades}, the venue's {venue_trades}",
                    crate::operator::format_security(t.security)
                ));
            }
        }
    }
}

fn classes(outcomes: &[Outcome]) -> Vec<ClassSummary> {
    let mut out: Vec<ClassSummary> = Vec::new();
    for kind in [ClassKind::Fast, ClassKind::Slow, ClassKind::Level1] {
        let members: Vec<&Outcome> = outcomes.iter().filter(|o| o.class.kind == kind).collect();
        let Some(first) = members.first() else { continue };
        let mut latency = histogram();
        let mut staleness = histogram();
        let mut counts = Counts::default();
        for o in &members {
            let _ = latency.add(&o.latency);
            let _ = staleness.add(&o.staleness);
            counts.add(&o.counts);
        }
        out.push(ClassSummary {
            name: kind.name().to_owned(),
            class: first.class,
            subscribers: members.len(),
            latency: Percentiles::of(&latency),
            staleness: Percentiles::of(&staleness),
            counts,
        });
    }
    out
}

fn class_label(c: &ClassSummary) -> String {
    match c.class.kind {
        ClassKind::Fast => format!("{} × {}", c.subscribers, c.name),
        ClassKind::Slow => {
            format!("{} × {} ({} B/s)", c.subscribers, c.name, c.class.read_bytes_per_s)
        }
        ClassKind::Level1 => format!("{} × {} ({} ms)", c.subscribers, c.name, c.class.interval_ms),
    }
}

/// The text table's "market data" section.
pub fn table(m: &MdSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\nmarket data: {} subscribers", m.subscribers);
    let _ = writeln!(
        o,
        "{:<34} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "quote latency / staleness (µs)", "count", "p50", "p99", "p99.9", "max"
    );
    for c in &m.classes {
        for (what, p) in [("latency", &c.latency), ("staleness", &c.staleness)] {
            let _ = writeln!(
                o,
                "{:<34} {:>10} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                format!("{} {what}", class_label(c)),
                p.count,
                p.p50_us,
                p.p99_us,
                p.p999_us,
                p.max_us
            );
        }
    }
    for c in &m.classes {
        let k = &c.counts;
        let _ = writeln!(
            o,
            "{}: {} messages, {} bytes, {} deltas, {} trades, {} snapshots, {} conflated, \
             {} gap notices, {} retransmission requests, {} retransmitted, {} gaps recovered, \
             {} new snapshots, {} skipped",
            class_label(c),
            k.messages,
            k.bytes,
            k.deltas,
            k.trades,
            k.snapshots,
            k.conflated,
            k.gap_notices,
            k.retransmit_requests,
            k.retransmitted,
            k.gaps_recovered,
            k.resnapshots,
            k.skipped
        );
    }
    let r = &m.reconciliation;
    let _ = writeln!(o, "{}", reconciliation_line(r));
    for p in &r.problems {
        let _ = writeln!(o, "  market data problem: {p}");
    }
    o
}

fn reconciliation_line(r: &Reconciliation) -> String {
    format!(
        "reconciliation [{}]: {}/{} books equal to the venue ({} levels, {} short, {} recovering), \
         {}/{} last sequences, {}/{} trade counts, fresh snapshot {}/{}; caught up in {:.2} s; \
         {} problems",
        if r.passed { "ok" } else { "FAILED" },
        r.books_equal,
        r.books,
        r.levels,
        r.books_short,
        r.books_recovering,
        r.seqs_equal,
        r.seqs_checked,
        r.trades_equal,
        r.trades_checked,
        r.fresh_equal,
        r.fresh_checked,
        r.catch_up_s,
        r.problem_count
    )
}

/// The HTML page's "market data" section.
pub fn html(m: &MdSummary, esc: impl Fn(&str) -> String) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<h2>Market data</h2><p>{} subscribers on loopback, one thread each. Latency: the \
         delta's venue time (a conflated snapshot's publisher time) to its receipt, same \
         host; staleness: the age of the newest state a subscriber held, sampled every 10 ms \
         during the flow (the fast class is the baseline).</p>",
        m.subscribers
    );
    o.push_str("<table><tr><th>µs</th><th>count</th><th>p50</th><th>p99</th><th>p99.9</th><th>max</th></tr>");
    for c in &m.classes {
        for (what, p) in [("latency", &c.latency), ("staleness", &c.staleness)] {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
                esc(&format!("{} {what}", class_label(c))),
                p.count,
                p.p50_us,
                p.p99_us,
                p.p999_us,
                p.max_us
            );
        }
    }
    o.push_str("</table><table><tr><th>class</th><th>messages</th><th>bytes</th><th>trades</th><th>conflated</th><th>gap notices</th><th>retransmitted</th><th>new snapshots</th></tr>");
    for c in &m.classes {
        let k = &c.counts;
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&class_label(c)),
            k.messages,
            k.bytes,
            k.trades,
            k.conflated,
            k.gap_notices,
            k.retransmitted,
            k.resnapshots
        );
    }
    o.push_str("</table>");
    let r = &m.reconciliation;
    let _ = write!(
        o,
        "<p class=\"{}\">{}</p>",
        if r.passed { "ok" } else { "bad" },
        esc(&reconciliation_line(r))
    );
    if !r.problems.is_empty() {
        o.push_str("<ul>");
        for p in &r.problems {
            let _ = write!(o, "<li>{}</li>", esc(p));
        }
        o.push_str("</ul>");
    }
    o
}
