//! Durability in-process: a restart replays the journal into the same books,
//! accounts, idempotency tables and streams; a damaged journal is refused with a
//! clear error unless the operator asks to cut it.

mod util;

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gateway::config::{Durability, Topology};
use gateway::journal::TailPolicy;
use gateway::state;
use protocol::codec::{AppMessage, ClientMessage, answer_flags};
use protocol::{RejectCode, Side};
use util::*;

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bw-durability-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Compares two state dumps line by line and reports the first difference.
fn assert_same_state(expected: &str, actual: &str) {
    for (i, (e, a)) in expected.lines().zip(actual.lines()).enumerate() {
        assert_eq!(e, a, "state differs at line {i}");
    }
    assert_eq!(expected.lines().count(), actual.lines().count(), "state dumps differ in length");
}

fn journaled(
    topology: Topology,
    dir: &std::path::Path,
    durability: Durability,
) -> gateway::GatewayConfig {
    let mut c = config(topology);
    c.journal.durability = durability;
    c.journal.dir = dir.to_path_buf();
    c
}

/// Some trading: fills, resting orders, rejects, a cancel, a disconnect with
/// cancel-on-disconnect.
fn trade(addr: std::net::SocketAddr) {
    let mut seller = login(addr, "trader1");
    let mut buyer = login(addr, "trader2");
    let mut algo = login(addr, "algo");
    seller
        .send(&ClientMessage::NewOrder(limit(1, "A001", 600519, Side::Sell, 300, "1498.00")))
        .unwrap();
    seller.send(&ClientMessage::NewOrder(limit(2, "A001", 1, Side::Sell, 1_000, "11.60"))).unwrap();
    seller
        .send(&ClientMessage::NewOrder(limit(3, "A002", 600519, Side::Buy, 100, "1490.00")))
        .unwrap();
    buyer
        .send(&ClientMessage::NewOrder(limit(10, "B001", 600519, Side::Buy, 200, "1499.00")))
        .unwrap();
    buyer
        .send(&ClientMessage::NewOrder(limit(11, "B001", 601318, Side::Buy, 500, "52.00")))
        .unwrap();
    algo.send(&ClientMessage::NewOrder(limit(20, "B002", 600036, Side::Buy, 300, "41.90")))
        .unwrap();
    for c in [&mut seller, &mut buyer, &mut algo] {
        drain(c, Duration::from_millis(300));
    }
    let cancel =
        protocol::codec::CancelOrder { request_id: 5, orig_cl_ord_id: 11, account: acct("B001") };
    buyer.send(&ClientMessage::CancelOrder(cancel)).unwrap();
    drain(&mut buyer, Duration::from_millis(200));
    drop(algo); // cancel-on-disconnect
    seller.logout(WAIT).unwrap();
    buyer.logout(WAIT).unwrap();
}

/// Sends `n` resting buys for A001 (cl_ord_ids 1..=n, each a different quantity).
fn send_resting_buys(c: &mut protocol::client::Client, n: u64) {
    for i in 1..=n {
        c.send(&ClientMessage::NewOrder(limit(i, "A001", 600036, Side::Buy, 100 * i, "41.00")))
            .unwrap();
    }
}

/// Waits until the running gateway's snapshotter has written `n` snapshots.
fn wait_for_snapshots(gw: &gateway::Running, n: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while gw.journal_progress.snapshots.load(Ordering::Acquire) < n {
        assert!(std::time::Instant::now() < deadline, "no snapshot was written");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn restart_rebuilds_everything(topology: Topology, snapshot_every_inputs: u64) {
    let dir = temp_dir(&format!("restart-{topology:?}-{snapshot_every_inputs}"));
    let mut config = journaled(topology, &dir, Durability::Sync);
    config.journal.snapshot_every_inputs = snapshot_every_inputs;
    // What a crash in the middle of writing a snapshot leaves: removed at start.
    let unfinished = dir.join("snapshot-00000000000000000001.bws.tmp");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&unfinished, b"half a snapshot").unwrap();
    let gw = start(&config);
    trade(gw.addr());
    std::thread::sleep(Duration::from_millis(200));
    if snapshot_every_inputs > 0 {
        wait_for_snapshots(&gw, 1);
    }
    let stopped = gw.shutdown().unwrap();
    let snapshots = gateway::snapshot::snapshots(&dir);
    if snapshot_every_inputs > 0 {
        // The restart below starts from the newest one.
        assert!(
            (1..=gateway::snapshot::KEEP).contains(&snapshots.len()),
            "{snapshots:?} (older ones are pruned)"
        );
        let (_, _, rec) = gateway::pipeline::recover(&config, TailPolicy::ReadOnly).unwrap();
        let newest = gateway::snapshot::verify(&snapshots[0]).unwrap();
        assert_eq!(rec.snapshot, Some(newest.input_seq));
        assert!(!unfinished.exists(), "the unfinished snapshot was removed");
    } else {
        assert!(snapshots.is_empty());
    }
    let before = state::dump(stopped.sequencer.engine());
    let streams_before: Vec<_> = stopped.logins.iter().map(|l| l.log.messages()).collect();
    assert!(streams_before.iter().any(|s| s.len() > 3), "the day produced streams");
    drop(stopped);

    let gw = start(&config);
    // A client resuming from 1 gets its whole day again, message for message.
    let mut c = login(gw.addr(), "trader1");
    let replayed: Vec<_> =
        (0..streams_before[0].len()).map(|_| expect(&mut c, "replay", |m| Some(*m))).collect();
    let original: Vec<_> = streams_before[0].iter().map(|s| s.msg).collect();
    assert_eq!(replayed, original);
    // A resent order is recognised across the restart: its original answer, flagged.
    c.send(&ClientMessage::NewOrder(limit(1, "A001", 600519, Side::Sell, 300, "1498.00"))).unwrap();
    let repeat = expect(&mut c, "repeat", |m| match m {
        AppMessage::OrderAccepted(a) if a.cl_ord_id == 1 => Some(a.flags),
        _ => None,
    });
    assert_ne!(repeat & answer_flags::REPEAT, 0);
    c.logout(WAIT).unwrap();
    let stopped = gw.shutdown().unwrap();
    let after = state::dump(stopped.sequencer.engine());
    // The restart added its start-up tick (no effect) and trader1's repeat, which
    // added one message to trader1's stream and nothing else.
    let expected = before.replace(
        &format!("login 0 next_seq {}", streams_before[0].len() + 1),
        &format!("login 0 next_seq {}", streams_before[0].len() + 2),
    );
    assert_same_state(&expected, &after);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn restart_rebuilds_everything_fused() {
    restart_rebuilds_everything(Topology::Fused, 0);
}

#[test]
fn restart_rebuilds_everything_pipelined() {
    restart_rebuilds_everything(Topology::Pipelined, 0);
}

#[test]
fn restart_from_a_snapshot_rebuilds_everything() {
    restart_rebuilds_everything(Topology::Fused, 4);
}

/// State dump and every stream of a recovery.
fn rebuilt(
    config: &gateway::GatewayConfig,
    from_start: bool,
) -> (String, Vec<Vec<protocol::codec::Sequenced>>, gateway::journal::Recovered) {
    let recover =
        if from_start { gateway::pipeline::recover_from_start } else { gateway::pipeline::recover };
    let (engine, logs, rec) = recover(config, TailPolicy::ReadOnly).unwrap();
    (state::dump(&engine), logs.iter().map(|l| l.messages()).collect(), rec)
}

#[test]
fn snapshots_equal_a_full_replay_and_damaged_ones_are_skipped() {
    let dir = temp_dir("snapshots");
    let mut config = journaled(Topology::Fused, &dir, Durability::Sync);
    config.journal.snapshot_every_inputs = 3;
    let gw = start(&config);
    trade(gw.addr());
    wait_for_snapshots(&gw, 2);
    // Trading after the newest snapshot, so recovery replays a journal tail too.
    let mut c = login(gw.addr(), "trader2");
    c.send(&ClientMessage::NewOrder(limit(50, "B001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    expect(&mut c, "answer", |m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
    c.logout(WAIT).unwrap();
    let stopped = gw.shutdown().unwrap();
    let live = state::dump(stopped.sequencer.engine());
    let live_streams: Vec<_> = stopped.logins.iter().map(|l| l.log.messages()).collect();
    drop(stopped);

    let (full, full_streams, full_rec) = rebuilt(&config, true);
    assert_eq!(full_rec.snapshot, None);
    assert_same_state(&live, &full);
    assert_eq!(full_streams, live_streams);

    let snapshots = gateway::snapshot::snapshots(&dir);
    assert_eq!(snapshots.len(), gateway::snapshot::KEEP, "{snapshots:?}");
    let newest = gateway::snapshot::verify(&snapshots[0]).unwrap().input_seq;
    let older = gateway::snapshot::verify(&snapshots[1]).unwrap().input_seq;
    assert!(older < newest && newest < full_rec.last_input_seq, "{older} {newest}");
    let (from_snapshot, streams, rec) = rebuilt(&config, false);
    assert_eq!(rec.snapshot, Some(newest));
    assert_same_state(&full, &from_snapshot);
    assert_eq!(streams, full_streams);

    // A flipped bit in the newest snapshot: skipped for the older one.
    let mut bytes = std::fs::read(&snapshots[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(&snapshots[0], &bytes).unwrap();
    let (from_older, streams, rec) = rebuilt(&config, false);
    assert_eq!(rec.snapshot, Some(older));
    assert_same_state(&full, &from_older);
    assert_eq!(streams, full_streams);

    // Both damaged (the older one cut short): the journal from its start.
    let len = std::fs::metadata(&snapshots[1]).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&snapshots[1]).unwrap().set_len(len / 2).unwrap();
    let (from_journal, streams, rec) = rebuilt(&config, false);
    assert_eq!(rec.snapshot, None);
    assert_same_state(&full, &from_journal);
    assert_eq!(streams, full_streams);

    // The gateway starts on the damaged snapshots too, with the whole day.
    let gw = start(&config);
    let mut c = login(gw.addr(), "trader1");
    let replayed: Vec<_> =
        (0..full_streams[0].len()).map(|_| expect(&mut c, "replay", |m| Some(*m))).collect();
    let original: Vec<_> = full_streams[0].iter().map(|s| s.msg).collect();
    assert_eq!(replayed, original);
    c.logout(WAIT).unwrap();
    gw.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_snapshot_ahead_of_the_journal_is_not_used() {
    let dir = temp_dir("snapshot-ahead");
    let config = journaled(Topology::Fused, &dir, Durability::Sync);
    let gw = start(&config);
    trade(gw.addr());
    gw.shutdown().unwrap();
    let (_, _, full_rec) = rebuilt(&config, true);
    let (engine, logs, rec) = gateway::pipeline::recover(&config, TailPolicy::ReadOnly).unwrap();
    let at = gateway::snapshot::At {
        input_seq: rec.last_input_seq,
        now_ns: rec.last_now_ns,
        session_id: 1,
        fingerprint: gateway::journal::Fingerprint::of(&config),
    };
    gateway::snapshot::write(&dir, &engine, &logs, at).unwrap();
    drop((engine, logs));
    // The journal loses its last input and an operator accepts the loss (cut as
    // `truncate_damaged_tail` does): the snapshot holds an input the journal no
    // longer has, so recovery must not start from it.
    let segment = gateway::journal::segments(&dir).unwrap().pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&segment).unwrap().set_len(len - 5).unwrap();
    gateway::journal::read_journal(&dir, TailPolicy::CutAnyDamage, |_| {}).unwrap();
    let (cut, cut_streams, cut_rec) = rebuilt(&config, false);
    assert_eq!(cut_rec.snapshot, None);
    assert_eq!(cut_rec.last_input_seq, full_rec.last_input_seq - 1);
    let (cut_full, cut_full_streams, _) = rebuilt(&config, true);
    assert_same_state(&cut_full, &cut);
    assert_eq!(cut_streams, cut_full_streams);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under `sync`, answers wait for the journal in a bounded queue. With room for
/// only two, a burst of orders fills it at once: the io thread stops reading
/// (back-pressure) until the journal catches up, and every order is answered.
#[test]
fn a_full_unreleased_queue_pushes_back_and_loses_nothing() {
    const ORDERS: u64 = 300;
    for topology in [Topology::Fused, Topology::Pipelined] {
        let dir = temp_dir(&format!("unreleased-{topology:?}"));
        let mut config = journaled(topology, &dir, Durability::Sync);
        config.pipeline.unreleased_capacity = 2;
        let gw = start(&config);
        let mut c = login(gw.addr(), "trader1");
        send_resting_buys(&mut c, ORDERS);
        let mut answered = std::collections::BTreeSet::new();
        while (answered.len() as u64) < ORDERS {
            let id = expect(&mut c, "an answer to every order", |m| match m {
                AppMessage::OrderAccepted(a) => Some(a.cl_ord_id),
                AppMessage::OrderRejected(r) => Some(r.cl_ord_id),
                _ => None,
            });
            assert!(answered.insert(id), "{topology:?}: order {id} answered twice");
        }
        assert_eq!(answered, (1..=ORDERS).collect(), "{topology:?}");
        assert!(
            gw.io_metrics.backpressure_pauses.get() > 0,
            "{topology:?}: the full queue paused reading"
        );
        drop(c);
        gw.shutdown().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn async_and_none_policies_answer_too() {
    for durability in [Durability::Async, Durability::None] {
        let dir = temp_dir(&format!("policy-{durability:?}"));
        let gw = start(&journaled(Topology::Fused, &dir, durability));
        let mut c = login(gw.addr(), "trader1");
        c.send(&ClientMessage::NewOrder(limit(1, "A001", 600036, Side::Buy, 100, "41.00")))
            .unwrap();
        expect(&mut c, "answer", |m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
        drop(c);
        gw.shutdown().unwrap();
        let files = gateway::journal::segments(&dir).unwrap();
        assert_eq!(files.is_empty(), durability == Durability::None, "{durability:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn a_damaged_journal_is_refused_unless_cut() {
    let dir = temp_dir("damaged");
    let mut config = journaled(Topology::Fused, &dir, Durability::Sync);
    let gw = start(&config);
    let mut c = login(gw.addr(), "trader1");
    send_resting_buys(&mut c, 50);
    drain(&mut c, Duration::from_millis(300));
    drop(c);
    gw.shutdown().unwrap();
    let segment = gateway::journal::segments(&dir).unwrap().remove(0);
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&segment, &bytes).unwrap();
    let err = gateway::start(&config).unwrap_err().to_string();
    assert!(err.contains("damaged record") && err.contains("truncate_damaged_tail"), "{err}");
    config.journal.truncate_damaged_tail = true;
    let gw = start(&config);
    let mut c = login(gw.addr(), "trader1");
    // The stream holds what the journal kept: a prefix of the day, in order.
    let kept = drain(&mut c, Duration::from_millis(300));
    assert!(!kept.is_empty() && kept.len() < 50, "a prefix survives: {} answers", kept.len());
    c.send(&ClientMessage::NewOrder(limit(1_000, "A001", 600036, Side::Buy, 100, "41.05")))
        .unwrap();
    expect(&mut c, "trading goes on", |m| matches!(m, AppMessage::OrderAccepted(_)).then_some(()));
    drop(c);
    gw.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = RejectCode::ORDER_CLOSED;
}

#[test]
fn a_cut_acknowledged_record_is_refused_and_an_unacknowledged_one_is_cut() {
    let dir = temp_dir("torn");
    let config = journaled(Topology::Fused, &dir, Durability::Sync);
    let gw = start(&config);
    let mut c = login(gw.addr(), "trader1");
    send_resting_buys(&mut c, 10);
    drain(&mut c, Duration::from_millis(300));
    drop(c);
    gw.shutdown().unwrap();
    let segment = gateway::journal::segments(&dir).unwrap().pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    // The last record, acknowledged, loses its last bytes: not a torn write.
    let bytes = std::fs::read(&segment).unwrap();
    std::fs::OpenOptions::new().write(true).open(&segment).unwrap().set_len(len - 5).unwrap();
    let err = gateway::start(&config).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("1 acknowledged input(s) are missing"), "{err}");
    // The same bytes after the last acknowledged record (a batch that never
    // reached the mark) are a torn write: cut.
    let mut torn = bytes.clone();
    torn.extend_from_slice(&100u32.to_le_bytes());
    torn.extend_from_slice(&[0x5a; 30]);
    std::fs::write(&segment, &torn).unwrap();
    let gw = start(&config);
    let mut c = login(gw.addr(), "trader1");
    let kept = drain(&mut c, Duration::from_millis(300));
    assert!(kept.len() >= 10, "every acknowledged input survives: {}", kept.len());
    assert_eq!(std::fs::metadata(&segment).unwrap().len(), len, "the torn write was cut");
    drop(c);
    gw.shutdown().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_journal_tool_verifies_counts_and_dumps() {
    let tool = env!("CARGO_BIN_EXE_bw-journal");
    let dir = temp_dir("tool");
    let gw = start(&journaled(Topology::Fused, &dir, Durability::Sync));
    let mut c = login(gw.addr(), "trader1");
    send_resting_buys(&mut c, 20);
    drain(&mut c, Duration::from_millis(300));
    drop(c);
    gw.shutdown().unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(tool).args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let d = dir.to_str().unwrap();
    let (ok, stdout, _) = run(&["verify", d]);
    assert!(ok && stdout.contains("OK"), "{stdout}");
    let (ok, stdout, _) = run(&["stats", d]);
    assert!(ok && stdout.contains("new_order      20"), "{stdout}");
    let (ok, stdout, _) = run(&["dump", d, "--limit", "3"]);
    assert!(ok && stdout.lines().count() == 3, "{stdout}");
    // A snapshot from the tool; replay from it prints what a replay from the start does.
    let config_file = dir.join("gateway.toml");
    let toml = gateway::config::DEMO_TOML
        .replace("dir = \"breakwater-journal\"", &format!("dir = {:?}", d));
    assert_ne!(toml, gateway::config::DEMO_TOML);
    std::fs::write(&config_file, toml).unwrap();
    let c = config_file.to_str().unwrap();
    let (ok, stdout, stderr) = run(&["snapshot", "--config", c]);
    assert!(ok && stdout.contains("snapshot after input"), "{stdout} {stderr}");
    let (ok, from_snapshot, _) = run(&["replay", "--config", c]);
    assert!(ok && from_snapshot.contains("orders_today 20"), "{from_snapshot}");
    let (ok, from_start, _) = run(&["replay", "--config", c, "--from-start"]);
    assert!(ok);
    assert_eq!(from_snapshot, from_start);
    let (ok, stdout, _) = run(&["verify", d]);
    assert!(ok && stdout.contains("OK: snapshot after input"), "{stdout}");
    let (ok, stdout, _) = run(&["stats", d]);
    assert!(ok && stdout.contains("snapshot    snapshot-"), "{stdout}");
    let snapshot = gateway::snapshot::snapshots(&dir).remove(0);
    let mut bytes = std::fs::read(&snapshot).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&snapshot, &bytes).unwrap();
    let (ok, stdout, _) = run(&["verify", d]);
    assert!(!ok && stdout.contains("CRC mismatch"), "{stdout}");
    std::fs::remove_file(&snapshot).unwrap();
    let segment = gateway::journal::segments(&dir).unwrap().remove(0);
    let mut bytes = std::fs::read(&segment).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&segment, &bytes).unwrap();
    let (ok, _, stderr) = run(&["verify", d]);
    assert!(!ok && stderr.contains("damaged record"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
