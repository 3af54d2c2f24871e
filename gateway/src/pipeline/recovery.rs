//! Recovery: the engine and every login's stream rebuilt from the journal (from
//! the newest snapshot that fits, when there is one), the snapshotter's replica,
//! and the FIX door's sessions rebuilt from their journaled facts.

use log::{info, warn};

use super::StartError;
use super::plan::build_engine;
use crate::config::{Durability, GatewayConfig};
use crate::engine::{Engine, NoProbe};
use crate::input::{Input, Output};
use crate::journal::{Fingerprint, TailPolicy};
use crate::outlog::OutLog;

/// What the gateway starts from: a fresh engine and empty streams without a
/// journal, else everything the journal holds, its damaged tail cut as
/// `journal.truncate_damaged_tail` says.
pub(super) fn starting_state(
    config: &GatewayConfig,
) -> Result<(Engine, Vec<OutLog>, crate::journal::Recovered), StartError> {
    if config.journal.durability == Durability::None {
        let engine = build_engine(config)?;
        return Ok((engine, empty_logs(config), crate::journal::Recovered::default()));
    }
    let policy = if config.journal.truncate_damaged_tail {
        TailPolicy::CutAnyDamage
    } else {
        TailPolicy::CutTornOnly
    };
    recover(config, policy)
}

/// One empty out log per configured login.
fn empty_logs(config: &GatewayConfig) -> Vec<OutLog> {
    config
        .logins
        .iter()
        .map(|_| {
            OutLog::new(config.outbound.log_bytes_per_login, config.outbound.log_messages_per_login)
        })
        .collect()
}

/// The engine and every login's stream rebuilt from the journal in
/// `config.journal.dir` (empty ones when there is no journal): the same
/// deterministic engine replays every input at its recorded time.
///
/// When the directory holds a snapshot (see [`crate::snapshot`]), the newest one
/// that loads is the starting point and only the journal after it is replayed;
/// a damaged snapshot is skipped for an older one, and a snapshot ahead of the
/// journal (whose tail was cut) for a replay from the journal's start.
///
/// Refused before anything is replayed or cut: a journal or snapshot written under
/// a configuration that decides differently ([`crate::journal::fingerprint`]).
/// Refused after reading: a journal that ends before its acknowledged high-water
/// mark ([`crate::journal::watermark`]).
pub fn recover(
    config: &GatewayConfig,
    policy: TailPolicy,
) -> Result<(Engine, Vec<OutLog>, crate::journal::Recovered), StartError> {
    recover_until(config, policy, u64::MAX, true).map(|r| (r.engine, r.logs, r.journal))
}

/// [`recover`] from the journal's start, ignoring snapshots (to check one against
/// the other).
pub fn recover_from_start(
    config: &GatewayConfig,
    policy: TailPolicy,
) -> Result<(Engine, Vec<OutLog>, crate::journal::Recovered), StartError> {
    recover_until(config, policy, u64::MAX, false).map(|r| (r.engine, r.logs, r.journal))
}

/// [`recover`] with the inputs up to `until` applied and none after: the state as
/// it stood after input `until` (an operator's view of the past). Returns the last
/// input applied, which is below `until` when the journal ends before it.
pub fn recover_to(
    config: &GatewayConfig,
    policy: TailPolicy,
    until: u64,
) -> Result<(Engine, crate::journal::Recovered, u64), StartError> {
    recover_until(config, policy, until, true).map(|r| (r.engine, r.journal, r.applied))
}

/// What [`recover_until`] rebuilt.
pub(crate) struct Rebuilt {
    pub engine: Engine,
    pub logs: Vec<OutLog>,
    /// What the journal read found (its last input, even past `until`).
    pub journal: crate::journal::Recovered,
    /// The last input applied to `engine`.
    pub applied: u64,
    /// Its engine time.
    pub applied_now_ns: u64,
}

/// The snapshotter's replica at input `target` ([`crate::snapshot::RebuildUntil`]).
pub(super) fn replica_until(
    config: &GatewayConfig,
    target: u64,
) -> Result<crate::snapshot::Replica, Box<dyn std::error::Error>> {
    let rebuilt = recover_until(config, TailPolicy::Follow, target, true)?;
    Ok(crate::snapshot::Replica {
        engine: rebuilt.engine,
        logs: rebuilt.logs,
        applied: rebuilt.applied,
        now_ns: rebuilt.applied_now_ns,
        session_id: rebuilt.journal.session_id.unwrap_or(0),
    })
}

/// [`recover`], applying inputs up to `until` only, from a snapshot when
/// `use_snapshots` and one fits.
pub(crate) fn recover_until(
    config: &GatewayConfig,
    policy: TailPolicy,
    until: u64,
    use_snapshots: bool,
) -> Result<Rebuilt, StartError> {
    let started = std::time::Instant::now();
    let dir = &config.journal.dir;
    let fingerprint = Fingerprint::of(config);
    crate::journal::check_config(dir, &fingerprint)?;
    let paths = if use_snapshots { crate::snapshot::snapshots(dir) } else { Vec::new() };
    for found in crate::snapshot::loadable(paths, config) {
        let (mut engine, mut logs, meta) = found.map_err(|e| match e {
            crate::snapshot::SnapshotError::ConfigChanged { path, sections } => {
                crate::journal::JournalError::ConfigChanged { path, sections }
            }
            other => {
                crate::journal::JournalError::Layout { path: dir.clone(), why: other.to_string() }
            }
        })?;
        if meta.input_seq > until {
            continue;
        }
        let (mut applied, mut applied_now_ns) = (meta.input_seq, meta.now_ns);
        let mut fix_facts = Vec::new();
        let mut journal =
            crate::journal::read_journal_from(dir, meta.input_seq + 1, policy, |e| {
                if e.input_seq <= until {
                    if let Input::FixFact { login, fact } = e.input {
                        fix_facts.push((login, fact));
                    }
                    let append = &mut |o: Output| logs[o.login as usize].append_output(&o);
                    engine.handle(
                        e.input_seq,
                        e.now_ns,
                        e.arrival_ns,
                        &e.input,
                        append,
                        &mut NoProbe,
                    );
                    (applied, applied_now_ns) = (e.input_seq, e.now_ns);
                }
            })?;
        if journal.last_input_seq < meta.input_seq {
            warn!(
                "the snapshot after input {} is ahead of the journal, which ends at input {}; \
                 trying an older snapshot, else the journal from its start",
                meta.input_seq, journal.last_input_seq
            );
            continue;
        }
        journal.snapshot = Some(meta.input_seq);
        journal.fix_facts = fix_facts;
        info!(
            "recovered from the snapshot after input {} and {} later inputs in {:.3} s",
            meta.input_seq,
            applied - meta.input_seq,
            started.elapsed().as_secs_f64()
        );
        return Ok(Rebuilt { engine, logs, journal, applied, applied_now_ns });
    }
    let mut engine = build_engine(config)?;
    let mut logs = empty_logs(config);
    let (mut applied, mut applied_now_ns) = (0, 0);
    let mut fix_facts = Vec::new();
    let mut journal = crate::journal::read_journal(dir, policy, |e| {
        if e.input_seq <= until {
            if let Input::FixFact { login, fact } = e.input {
                fix_facts.push((login, fact));
            }
            let append = &mut |o: Output| logs[o.login as usize].append_output(&o);
            engine.handle(e.input_seq, e.now_ns, e.arrival_ns, &e.input, append, &mut NoProbe);
            (applied, applied_now_ns) = (e.input_seq, e.now_ns);
        }
    })?;
    journal.fix_facts = fix_facts;
    if journal.records > 0 {
        info!(
            "recovered {} inputs from {} journal segment(s) in {:.3} s",
            journal.records,
            journal.segments,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(Rebuilt { engine, logs, journal, applied, applied_now_ns })
}

/// The FIX door's sessions as they were: each rebuilt from its login's stream and
/// the facts it journaled (docs/fix.md, section 8), or new when it has none. A
/// session whose facts do not fit its stream (a snapshot cut them, or the stream
/// no longer holds its start) starts new, at the stream's end, with a warning.
pub(super) fn rebuild_fix_sessions(
    settings: &crate::config::fix_door::FixDoorSettings,
    facts: &[(u32, fix::SessionFact)],
    logs: &[OutLog],
) -> Vec<fix::Session> {
    let mut sessions = Vec::with_capacity(settings.sessions.len());
    for (config, login) in settings.sessions.iter().zip(&settings.logins) {
        let mine: Vec<fix::SessionFact> = match login {
            Some(l) => facts.iter().filter(|(f, _)| *f as usize == *l).map(|&(_, f)| f).collect(),
            None => Vec::new(),
        };
        let (Some(l), false) = (login, mine.is_empty()) else {
            sessions.push(fix::Session::new(config.clone()));
            continue;
        };
        let stream = logs[*l].messages();
        match fix::Session::rebuild(config.clone(), &mine, &stream) {
            Ok(session) => {
                info!(
                    "FIX session {}: rebuilt from {} facts and {} stream messages (next MsgSeqNum {})",
                    config.login.comp_id,
                    mine.len(),
                    stream.len(),
                    session.next_out_seq()
                );
                sessions.push(session);
            }
            Err(e) => {
                warn!(
                    "FIX session {}: cannot be rebuilt ({e}); it starts again at 1, following \
                     its login's stream from its end",
                    config.login.comp_id
                );
                sessions.push(fix::Session::new(config.clone()));
            }
        }
    }
    sessions
}
