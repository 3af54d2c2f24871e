//! A journal damaged after a clean `sync` day, and a restart: acknowledged inputs
//! that went missing (a deleted or emptied segment, zeroed records, zeros in the
//! middle) refuse the start and fail `bw-journal verify` with the file, the offset
//! and how many inputs are gone; a torn final write that was never acknowledged is
//! still cut; a configuration that decides differently is refused, one that does
//! not is accepted. Every gateway here is started from the library on a loopback
//! port and fed over TCP by the protocol crate's client.

mod util;

use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway::GatewayConfig;
use gateway::config::{Durability, Topology};
use gateway::journal::{self, Entry, HEADER_LEN, TailPolicy};
use protocol::Side;
use protocol::codec::{AppMessage, ClientMessage};
use util::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bw-damage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn journaled(dir: &Path) -> GatewayConfig {
    let mut c = config(Topology::Fused);
    c.journal.durability = Durability::Sync;
    c.journal.dir = dir.to_path_buf();
    // Room for every order of these days to rest.
    c.risk.limits.open_orders_per_security = 10_000;
    c
}

/// A clean day: `n` buys from trader1, each answered (so each acknowledged), and a
/// graceful stop. Returns the journal's entries.
fn clean_day(config: &GatewayConfig, n: u64) -> Vec<Entry> {
    let gw = start(config);
    let mut c = login(gw.addr(), "trader1");
    for i in 1..=n {
        let price = format!("{}.{:02}", 40 + i / 100, i % 100);
        c.send(&ClientMessage::NewOrder(limit(i, "A001", 600036, Side::Buy, 100, &price))).unwrap();
        // In rounds of 20, each its own group commit (small segments rotate).
        if i % 20 == 0 || i == n {
            expect(&mut c, "the round's last answer", |m| match m {
                AppMessage::OrderAccepted(a) if a.cl_ord_id == i => Some(()),
                AppMessage::OrderRejected(r) if r.cl_ord_id == i => Some(()),
                _ => None,
            });
        }
    }
    c.logout(WAIT).unwrap();
    gw.shutdown().unwrap();
    entries(&config.journal.dir)
}

fn entries(dir: &Path) -> Vec<Entry> {
    let mut all = Vec::new();
    journal::read_journal(dir, TailPolicy::ReadOnly, |e| all.push(*e)).unwrap();
    all
}

/// Byte offset of each entry's record in its segment (segments of `entries` in
/// order: an entry starting a segment is at `HEADER_LEN`).
fn offsets(dir: &Path, entries: &[Entry]) -> Vec<(PathBuf, usize)> {
    let files = journal::segments(dir).unwrap();
    let first_of = |p: &PathBuf| -> u64 {
        let name = p.file_name().unwrap().to_str().unwrap();
        name["journal-".len()..name.len() - ".bwj".len()].parse().unwrap()
    };
    let mut out = Vec::new();
    let (mut file, mut at) = (0, HEADER_LEN);
    for e in entries {
        if file + 1 < files.len() && e.input_seq == first_of(&files[file + 1]) {
            (file, at) = (file + 1, HEADER_LEN);
        }
        out.push((files[file].clone(), at));
        let mut buf = Vec::new();
        journal::encode(e, &mut buf);
        at += buf.len();
    }
    out
}

/// The start-up error of `config`.
fn refused(config: &GatewayConfig) -> String {
    match gateway::start(config) {
        Ok(_) => panic!("the gateway started on a damaged journal"),
        Err(e) => e.to_string(),
    }
}

/// `bw-journal verify DIR`: (success, stdout, stderr).
fn verify(dir: &Path) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bw-journal"))
        .args(["verify", dir.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that both the gateway and the tool refuse the journal, naming `file`,
/// `offset` and `missing` inputs.
fn assert_missing(config: &GatewayConfig, file: &Path, offset: usize, missing: u64) {
    let wanted = [
        file.display().to_string(),
        format!("{missing} acknowledged input(s) are missing"),
        format!("ends at byte {offset} "),
        "truncate_damaged_tail".to_string(),
    ];
    let err = refused(config);
    for w in &wanted {
        assert!(err.contains(w.as_str()), "{w:?} not in: {err}");
    }
    let (ok, stdout, stderr) = verify(&config.journal.dir);
    assert!(!ok, "verify passed: {stdout}");
    for w in &wanted {
        assert!(stderr.contains(w.as_str()), "{w:?} not in: {stderr}");
    }
    // Refusing changed nothing: the same answer twice.
    assert_eq!(refused(config), err);
}

#[test]
fn a_deleted_last_segment_is_refused() {
    let dir = temp_dir("deleted");
    let mut config = journaled(&dir);
    config.journal.segment_bytes = 4096;
    let all = clean_day(&config, 120);
    let at = offsets(&dir, &all);
    let files = journal::segments(&dir).unwrap();
    // A segment the stop left with no record in it yet goes first (a restart
    // would drop it too): the last segment deleted is one that holds inputs.
    let (with_records, empty): (Vec<_>, Vec<_>) =
        files.into_iter().partition(|f| at.iter().any(|(p, _)| p == f));
    empty.iter().for_each(|f| std::fs::remove_file(f).unwrap());
    assert!(with_records.len() >= 3, "{with_records:?}");
    let last = with_records.last().unwrap();
    let first_lost = at.iter().position(|(p, _)| p == last).unwrap();
    let (before, end) = {
        let prev = &at[first_lost - 1];
        let mut buf = Vec::new();
        journal::encode(&all[first_lost - 1], &mut buf);
        (prev.0.clone(), prev.1 + buf.len())
    };
    std::fs::remove_file(last).unwrap();
    assert_missing(&config, &before, end, (all.len() - first_lost) as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_segment_truncated_to_zero_is_refused() {
    let dir = temp_dir("emptied");
    let config = journaled(&dir);
    let all = clean_day(&config, 30);
    let segment = journal::segments(&dir).unwrap().pop().unwrap();
    std::fs::OpenOptions::new().write(true).open(&segment).unwrap().set_len(0).unwrap();
    assert_missing(&config, &segment, 0, all.len() as u64);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zeroed_last_records_of_the_same_length_are_refused() {
    let dir = temp_dir("zeroed");
    let config = journaled(&dir);
    let all = clean_day(&config, 30);
    let at = offsets(&dir, &all);
    let (segment, from) = at[all.len() - 5].clone();
    let mut bytes = std::fs::read(&segment).unwrap();
    let len = bytes.len();
    bytes[from..].fill(0);
    std::fs::write(&segment, &bytes).unwrap();
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len as u64);
    assert_missing(&config, &segment, from, 5);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn zeros_in_the_middle_with_records_after_them_are_refused() {
    let dir = temp_dir("middle");
    let config = journaled(&dir);
    let all = clean_day(&config, 200);
    let at = offsets(&dir, &all);
    let (segment, from) = at[60].clone();
    let mut bytes = std::fs::read(&segment).unwrap();
    assert!(bytes.len() > from + 4096 + 1000, "valid records follow the zeros");
    bytes[from..from + 4096].fill(0);
    std::fs::write(&segment, &bytes).unwrap();
    assert_missing(&config, &segment, from, all.len() as u64 - 60);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_torn_final_write_never_acknowledged_is_still_cut() {
    let dir = temp_dir("torn");
    let config = journaled(&dir);
    let all = clean_day(&config, 20);
    // The batch after the last acknowledged one was being written when the power
    // went: half of its first record reached the file, and the mark never covered it.
    let segment = journal::segments(&dir).unwrap().pop().unwrap();
    let next = Entry { input_seq: all.len() as u64 + 1, ..*all.last().unwrap() };
    let mut record = Vec::new();
    journal::encode(&next, &mut record);
    let mut bytes = std::fs::read(&segment).unwrap();
    let clean_len = bytes.len();
    bytes.extend_from_slice(&record[..record.len() / 2]);
    std::fs::write(&segment, &bytes).unwrap();
    let (ok, stdout, stderr) = verify(&dir);
    assert!(ok, "{stdout} {stderr}");
    let gw = start(&config);
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), clean_len as u64, "cut");
    let mut c = login(gw.addr(), "trader1");
    let answers = drain(&mut c, Duration::from_millis(300));
    let orders = answers
        .iter()
        .filter(|m| matches!(m, AppMessage::OrderAccepted(_) | AppMessage::OrderRejected(_)))
        .count();
    assert_eq!(orders, 20, "every acknowledged order survives");
    drop(c);
    gw.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_high_water_mark_is_refused() {
    let dir = temp_dir("nomark");
    let config = journaled(&dir);
    clean_day(&config, 5);
    std::fs::remove_file(dir.join(journal::watermark::WATERMARK_NAME)).unwrap();
    let err = refused(&config);
    assert!(err.contains("high-water mark is missing"), "{err}");
    let (ok, _, stderr) = verify(&dir);
    assert!(!ok && stderr.contains("high-water mark is missing"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_decision_changing_configuration_is_refused() {
    let dir = temp_dir("config");
    let config = journaled(&dir);
    clean_day(&config, 12);
    let (engine, logs, rec) = gateway::pipeline::recover(&config, TailPolicy::ReadOnly).unwrap();
    let at = gateway::snapshot::At {
        input_seq: rec.last_input_seq,
        now_ns: rec.last_now_ns,
        session_id: rec.session_id.unwrap(),
        fingerprint: journal::Fingerprint::of(&config),
    };
    let snapshot = gateway::snapshot::write(&dir, &engine, &logs, at).unwrap();
    let mut changed = config.clone();
    changed.risk.limits.duplicate_window_ms += 100;
    let err = refused(&changed);
    for w in ["journal-", "[limits] changed", "Restore the configuration", "move the journal"] {
        assert!(err.contains(w), "{w:?} not in: {err}");
    }
    let mut changed = config.clone();
    changed.logins[0].accounts.pop();
    changed.exchange.self_trade_prevention = !changed.exchange.self_trade_prevention;
    let err = refused(&changed);
    assert!(err.contains("[exchange], [[logins]] changed"), "{err}");
    // Snapshots are checked the same way.
    assert!(gateway::snapshot::load(&snapshot, &config).is_ok());
    let load = gateway::snapshot::load(&snapshot, &changed);
    assert!(
        matches!(load, Err(gateway::snapshot::SnapshotError::ConfigChanged { .. })),
        "{:?}",
        load.err()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_harmless_configuration_change_is_accepted() {
    let dir = temp_dir("harmless");
    let config = journaled(&dir);
    let all = clean_day(&config, 10);
    let mut changed = config.clone();
    changed.server.heartbeat_ms += 500;
    changed.server.dead_peer_ms += 500;
    changed.server.max_sessions -= 1;
    changed.pipeline.topology = Topology::Pipelined;
    changed.outbound.log_messages_per_login /= 2;
    changed.journal.durability = Durability::Async;
    changed.journal.preallocate = false;
    changed.logins[1].token = protocol::Token::from_text("rotated-secret").unwrap();
    let gw = start(&changed);
    let mut c = login(gw.addr(), "trader1");
    let answers = drain(&mut c, Duration::from_millis(300));
    assert!(answers.len() >= 10, "the day is replayed: {} messages", answers.len());
    drop(c);
    gw.shutdown().unwrap();
    assert!(entries(&dir).len() > all.len());
    let _ = std::fs::remove_dir_all(&dir);
}
