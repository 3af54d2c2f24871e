//! Queries in the load (protocol version 3): which to ask, their answers timed as
//! a latency class of their own, and every funds and positions answer reconciled
//! with the [`Ledger`] at the stream position it names.
//!
//! An answer is unsequenced and names `as_of_seq`, the last stream message it
//! reflects. It is checked when the session's stream stands exactly there: at once
//! when it does on arrival, later (when the stream reaches it) when the answer
//! overtook stream messages, and never (counted as `stale`) when the stream had
//! already moved past it, which a gateway that keeps its answers in order with its
//! stream never causes. Answers are not replayed after a reconnect, so a query
//! whose session drops before its answer is counted apart, not as unanswered.

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;
use protocol::AccountId;
use protocol::query::{Query, QueryAnswer, QueryKind};
use serde::Serialize;

use crate::ledger::Ledger;
use crate::tracker::new_histogram;
use crate::universe::Universe;

/// Queries awaiting an answer, at most (a bound on the table; further queries wait
/// for room and are counted as skipped).
const MAX_PENDING: usize = 65_536;
/// Answers per session waiting for the stream to reach them, at most.
const MAX_DEFERRED: usize = 256;

/// What the queries did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueryCounts {
    /// Queries sent (pages included).
    pub sent: u64,
    /// Answered with a page.
    pub answered: u64,
    /// Refused, by reject code.
    pub refused: BTreeMap<u16, u64>,
    /// Still unanswered at the end of the run (while their session stayed up).
    pub unanswered: u64,
    /// Outstanding when their session dropped (answers are not replayed).
    pub lost_with_connection: u64,
    /// Answers to no outstanding query.
    pub unknown_answers: u64,
    /// Answers whose stream position had passed before they arrived (not checked).
    pub stale: u64,
    /// Not sent: the pending table was full.
    pub skipped: u64,
    /// Funds and positions reconciliation.
    pub checks: crate::ledger::QueryChecks,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    session: usize,
    intended_ns: u64,
    cursor: u32,
}

/// The queries of a run.
#[derive(Debug)]
pub struct Queries {
    ledger: Ledger,
    pending: HashMap<u64, Pending>,
    deferred: Vec<Vec<(AccountId, QueryAnswer, bool)>>,
    accounts: Vec<Vec<AccountId>>,
    turn: Vec<usize>,
    next_id: u64,
    /// Answers sent at or after this time are timed (warm-up excluded), ns.
    pub measure_from_ns: u64,
    /// Intended send to answer, every page.
    pub latency: Histogram<u64>,
    /// What happened.
    pub counts: QueryCounts,
    /// The probe: every session asks funds and positions every this many ns (0: off).
    pub probe_every_ns: u64,
    probe_next_ns: Vec<u64>,
}

impl Queries {
    /// Queries for the universe's logins; `tag` keeps ids apart across runs.
    pub fn new(u: &Universe, tag: u16, probe_every_ms: u64) -> Queries {
        let accounts: Vec<Vec<AccountId>> = u
            .logins
            .iter()
            .map(|l| l.accounts.iter().map(|&a| u.accounts[a].id).collect())
            .collect();
        let n = accounts.len();
        let probe_every_ns = probe_every_ms * 1_000_000;
        // Sessions probe staggered across the period, not all at once.
        let probe_next_ns = (0..n).map(|i| probe_every_ns * i as u64 / n.max(1) as u64).collect();
        Queries {
            ledger: Ledger::new(u),
            pending: HashMap::with_capacity(1024),
            deferred: vec![Vec::new(); n],
            accounts,
            turn: vec![0; n],
            next_id: u64::from(tag) << 48,
            measure_from_ns: 0,
            latency: new_histogram(),
            counts: QueryCounts::default(),
            probe_every_ns,
            probe_next_ns,
        }
    }

    /// The ledger the answers are checked against (fed the stream's fills).
    pub fn ledger(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// The next query of the flow for `session`: its accounts and the four kinds
    /// in turn. `None` when the session trades no account or the table is full.
    pub fn next_flow_query(&mut self, session: usize, intended_ns: u64) -> Option<Query> {
        const KINDS: [QueryKind; 4] =
            [QueryKind::Funds, QueryKind::Positions, QueryKind::Orders, QueryKind::Fills];
        let accounts = &self.accounts[session];
        if accounts.is_empty() {
            return None;
        }
        let t = self.turn[session];
        self.turn[session] = t.wrapping_add(1);
        let account = accounts[(t / KINDS.len()) % accounts.len()];
        self.ask(session, account, KINDS[t % KINDS.len()], 0, intended_ns)
    }

    /// The probe's queries due by `now`: (session, query) pairs, funds then
    /// positions of the session's accounts in turn.
    pub fn due_probes(&mut self, now: u64, active: impl Fn(usize) -> bool) -> Vec<(usize, Query)> {
        let mut out = Vec::new();
        if self.probe_every_ns == 0 {
            return out;
        }
        for session in 0..self.probe_next_ns.len() {
            let due = self.probe_next_ns[session];
            if due > now || self.accounts[session].is_empty() {
                continue;
            }
            self.probe_next_ns[session] = due + self.probe_every_ns;
            if !active(session) {
                continue;
            }
            let t = self.turn[session];
            self.turn[session] = t.wrapping_add(1);
            let account = self.accounts[session][t % self.accounts[session].len()];
            for kind in [QueryKind::Funds, QueryKind::Positions] {
                if let Some(q) = self.ask(session, account, kind, 0, due) {
                    out.push((session, q));
                }
            }
        }
        out
    }

    /// When the next probe is due (`u64::MAX` without a probe).
    pub fn next_probe_ns(&self) -> u64 {
        if self.probe_every_ns == 0 {
            return u64::MAX;
        }
        self.probe_next_ns.iter().copied().min().unwrap_or(u64::MAX)
    }

    fn ask(
        &mut self,
        session: usize,
        account: AccountId,
        kind: QueryKind,
        cursor: u32,
        intended_ns: u64,
    ) -> Option<Query> {
        if self.pending.len() >= MAX_PENDING {
            self.counts.skipped += 1;
            return None;
        }
        self.next_id += 1;
        let query_id = self.next_id;
        self.pending.insert(query_id, Pending { session, intended_ns, cursor });
        self.counts.sent += 1;
        Some(Query { query_id, kind, account, cursor, page_size: 0, flags: 0 })
    }

    /// An answer on `session`, whose stream stands at `last_seq`. Returns the query
    /// for the next page of a positions answer (the holdings check wants them all).
    pub fn on_answer(
        &mut self,
        session: usize,
        a: &QueryAnswer,
        last_seq: u64,
        now: u64,
    ) -> Option<Query> {
        let Some(p) = self.pending.remove(&a.query_id()) else {
            self.counts.unknown_answers += 1;
            return None;
        };
        if p.intended_ns >= self.measure_from_ns {
            let _ = self.latency.record(now.saturating_sub(p.intended_ns).max(1));
        }
        let Some(h) = a.header() else {
            if let QueryAnswer::Rejected(r) = a {
                *self.counts.refused.entry(r.code.0).or_default() += 1;
            }
            return None;
        };
        self.counts.answered += 1;
        let complete = p.cursor == 0 && h.next_cursor == 0;
        match h.as_of_seq.cmp(&last_seq) {
            std::cmp::Ordering::Equal => self.check(&h.account, a, complete),
            std::cmp::Ordering::Greater if self.deferred[session].len() < MAX_DEFERRED => {
                self.deferred[session].push((h.account, *a, complete));
            }
            _ => self.counts.stale += 1,
        }
        match a {
            QueryAnswer::Positions(_) if h.next_cursor != 0 => {
                self.ask(session, h.account, QueryKind::Positions, h.next_cursor, now)
            }
            _ => None,
        }
    }

    /// The session's stream moved to `last_seq`: checks the answers that waited for it.
    pub fn on_stream(&mut self, session: usize, last_seq: u64) {
        if self.deferred[session].is_empty() {
            return;
        }
        let waiting = std::mem::take(&mut self.deferred[session]);
        for (account, a, complete) in waiting {
            let as_of = a.header().map_or(0, |h| h.as_of_seq);
            if as_of == last_seq {
                self.check(&account, &a, complete);
            } else if as_of > last_seq {
                self.deferred[session].push((account, a, complete));
            } else {
                self.counts.stale += 1;
            }
        }
    }

    /// The session dropped: its outstanding queries will not be answered.
    pub fn on_disconnect(&mut self, session: usize) {
        let before = self.pending.len();
        self.pending.retain(|_, p| p.session != session);
        self.counts.lost_with_connection += (before - self.pending.len()) as u64;
        self.counts.stale += self.deferred[session].len() as u64;
        self.deferred[session].clear();
    }

    fn check(&mut self, account: &AccountId, a: &QueryAnswer, complete: bool) {
        match a {
            QueryAnswer::Funds(f) => self.ledger.check_funds(account, &f.funds),
            QueryAnswer::Positions(p) => {
                self.ledger.check_positions(account, p.rows.as_slice(), complete);
            }
            _ => {}
        }
    }

    /// The counts at the end of the run.
    pub fn finish(&mut self) -> QueryCounts {
        self.counts.unanswered = self.pending.len() as u64;
        self.counts.checks = self.ledger.checks.clone();
        self.counts.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::query::{
        AnswerHeader, FundsAnswer, FundsRow, PositionRow, PositionsAnswer, Rows,
    };

    fn universe() -> Universe {
        let s = crate::scenario::Scenario::load("smoke").unwrap();
        let text = crate::universe::generate_gateway_toml(&s);
        Universe::from_gateway_toml(&text, "<smoke>").unwrap()
    }

    fn funds(q: &Query, as_of_seq: u64, cash: i64) -> QueryAnswer {
        let header = AnswerHeader {
            query_id: q.query_id,
            as_of_seq,
            account: q.account,
            next_cursor: 0,
            flags: 0,
        };
        QueryAnswer::Funds(FundsAnswer {
            header,
            funds: FundsRow { cash_available: cash, ..FundsRow::default() },
        })
    }

    fn starting_cash(u: &Universe, account: AccountId) -> i64 {
        u.accounts.iter().find(|a| a.id == account).unwrap().cash
    }

    #[test]
    fn answers_are_checked_at_the_stream_position_they_name() {
        let u = universe();
        let mut q = Queries::new(&u, 1, 0);
        let ask = q.next_flow_query(0, 0).unwrap();
        assert_eq!(ask.kind, QueryKind::Funds);
        let cash = starting_cash(&u, ask.account);
        // At the stream's position: checked at once, and right.
        assert_eq!(q.on_answer(0, &funds(&ask, 5, cash), 5, 1_000), None);
        assert_eq!(q.ledger.checks.funds_checked, 1);
        // Ahead of the stream: checked when the stream gets there.
        let ask = q.ask(0, ask.account, QueryKind::Funds, 0, 0).unwrap();
        q.on_answer(0, &funds(&ask, 7, cash - 1), 5, 1_000);
        q.on_stream(0, 6);
        assert_eq!(q.ledger.checks.funds_checked, 1);
        q.on_stream(0, 7);
        assert_eq!((q.ledger.checks.funds_checked, q.ledger.checks.mismatches), (2, 1));
        // Behind the stream: not comparable.
        let ask = q.ask(0, ask.account, QueryKind::Funds, 0, 0).unwrap();
        q.on_answer(0, &funds(&ask, 3, cash), 7, 1_000);
        assert_eq!(q.counts.stale, 1);
        // An answer nobody asked for; a query whose session dropped.
        q.on_answer(0, &funds(&ask, 7, cash), 7, 1_000);
        q.ask(1, ask.account, QueryKind::Funds, 0, 0).unwrap();
        q.on_disconnect(1);
        let counts = q.finish();
        assert_eq!((counts.unknown_answers, counts.lost_with_connection), (1, 1));
        assert_eq!((counts.sent, counts.answered, counts.unanswered), (4, 3, 0));
        assert_eq!(counts.checks.mismatches, 1);
        assert_eq!(q.latency.len(), 3, "every answer timed");
    }

    #[test]
    fn positions_pages_are_followed_and_the_probe_staggers_sessions() {
        let u = universe();
        let mut q = Queries::new(&u, 1, 100);
        let sessions = u.logins.len();
        let probes = q.due_probes(0, |_| true);
        assert_eq!(probes.len(), 2, "session 0 is due at 0: funds and positions");
        assert_eq!(probes[0].1.kind, QueryKind::Funds);
        assert_eq!(probes[1].1.kind, QueryKind::Positions);
        assert_eq!(q.due_probes(0, |_| true).len(), 0, "not again before its period");
        assert_eq!(q.due_probes(100_000_000, |_| true).len(), 2 * sessions);
        assert!(q.next_probe_ns() > 100_000_000);
        let ask = probes[1].1;
        let mut rows = Rows::new(PositionRow::EMPTY);
        rows.push(PositionRow::EMPTY);
        let header = AnswerHeader {
            query_id: ask.query_id,
            as_of_seq: 0,
            account: ask.account,
            next_cursor: 9,
            flags: 0,
        };
        let page = QueryAnswer::Positions(PositionsAnswer { header, rows });
        let next = q.on_answer(probes[1].0, &page, 0, 1).expect("the next page is asked");
        assert_eq!((next.kind, next.cursor, next.account), (QueryKind::Positions, 9, ask.account));
    }
}
