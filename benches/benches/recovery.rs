//! Recovery time: how long a restart takes to replay a journal of N orders
//! (default 10,000,000; `RECOVERY_ORDERS` to change) into books, accounts,
//! idempotency tables and every login's stream.
//!
//! The journal is written first with the gateway's own writer (the inputs of
//! `benches::flow`: a buy rests, a sell crosses it, a buy rests and is cancelled;
//! about 1.33 inputs per order), then `pipeline::recover_from_start` is timed end to end:
//! building the engine (its tables are committed at start-up), reading and
//! checking every record, replaying it, and rebuilding the out logs. Baseline in
//! the same run: reading and checking the journal alone (no engine), the floor any
//! replay pays.
//!
//! The same run also writes a snapshot `RECOVERY_TAIL_ORDERS` orders (default
//! 750,000, about 1,000,000 inputs: `snapshot_every_inputs = 1000000`'s worst
//! case) before the end, and times recovery from it: loading the snapshot and
//! replaying the journal after it. Both recoveries must print the same state.
//!
//! Run: `cargo bench -p benches --bench recovery` (needs about 8 GB of memory and
//! 4 GB of disk in the temp directory).

use std::sync::Arc;
use std::time::Instant;

use benches::flow::{config, input, is_order};
use benches::run;
use gateway::GatewayConfig;
use gateway::config::Durability;
use gateway::journal::{Entry, Fingerprint, JournalProgress, TailPolicy, Writer, WriterSettings};

fn main() {
    if !run::under_cargo_bench("recovery") {
        return;
    }
    let orders = run::env_u64("RECOVERY_ORDERS", 10_000_000);
    let dir = run::scratch_dir("recovery");

    let mut config = config(orders);
    config.journal.durability = Durability::Sync;
    config.journal.dir = dir.clone();

    // Write the journal: `orders - tail` orders, a snapshot there (what a gateway
    // with `snapshot_every_inputs` keeps), then the last `tail` orders.
    let tail = run::env_u64("RECOVERY_TAIL_ORDERS", 750_000).min(orders);
    let started = Instant::now();
    let mut flow = Flow { seq: 0, placed: 0, now: 1_800_000_000_000_000_000 };
    flow.write(&dir, &config, orders - tail);
    let write_s = started.elapsed().as_secs_f64();
    let (engine, logs, rec) = gateway::pipeline::recover(&config, TailPolicy::ReadOnly).unwrap();
    let started = Instant::now();
    let at = gateway::snapshot::At {
        input_seq: rec.last_input_seq,
        now_ns: rec.last_now_ns,
        session_id: rec.session_id.unwrap_or(0),
        fingerprint: Fingerprint::of(&config),
    };
    let snapshot = gateway::snapshot::write(&dir, &engine, &logs, at).unwrap();
    let snapshot_s = started.elapsed().as_secs_f64();
    let snapshot_seq = rec.last_input_seq;
    let snapshot_bytes = std::fs::metadata(&snapshot).unwrap().len();
    drop((engine, logs));
    let started = Instant::now();
    flow.write(&dir, &config, orders);
    let write_s = write_s + started.elapsed().as_secs_f64();
    let (seq, placed) = (flow.seq, flow.placed);
    let bytes: u64 = gateway::journal::segments(&dir)
        .unwrap()
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    println!(
        "journal: {placed} orders, {seq} inputs, {:.1} MB, written in {write_s:.2} s",
        bytes as f64 / 1e6,
    );
    println!(
        "snapshot after input {snapshot_seq} ({} orders): {:.1} MB, written and synced in \
         {snapshot_s:.2} s",
        orders - tail,
        snapshot_bytes as f64 / 1e6
    );

    // Baseline: read and check every record, no engine.
    let started = Instant::now();
    let mut count = 0u64;
    let rec = gateway::journal::read_journal(&dir, TailPolicy::ReadOnly, |_| count += 1).unwrap();
    let read_s = started.elapsed().as_secs_f64();
    assert_eq!((count, rec.last_input_seq), (seq, seq));

    // Recovery from the journal's start: engine build + replay + out logs.
    let started = Instant::now();
    let (engine, logs, rec) =
        gateway::pipeline::recover_from_start(&config, TailPolicy::ReadOnly).unwrap();
    let full_s = started.elapsed().as_secs_f64();
    assert_eq!((rec.last_input_seq, rec.snapshot), (seq, None));
    let trades = engine.stats().trades.get();
    assert_eq!(trades, placed / 3, "every crossing sell traded");
    engine.risk().validate().unwrap();
    let messages: u64 = logs.iter().map(|l| l.last_seq()).sum();
    let full_state = gateway::state::dump(&engine);
    drop((engine, logs));

    // Recovery from the snapshot: load it, replay the journal after it.
    let started = Instant::now();
    let (engine, logs, rec) = gateway::pipeline::recover(&config, TailPolicy::ReadOnly).unwrap();
    let snap_s = started.elapsed().as_secs_f64();
    assert_eq!((rec.last_input_seq, rec.snapshot), (seq, Some(snapshot_seq)));
    engine.risk().validate().unwrap();
    assert_eq!(gateway::state::dump(&engine), full_state, "both recoveries agree");
    assert_eq!(logs.iter().map(|l| l.last_seq()).sum::<u64>(), messages);

    println!();
    println!("{:<44} {:>10} {:>16}", "step", "seconds", "inputs/s");
    let row = |name: &str, secs: f64| {
        println!("{name:<44} {secs:>10.3} {:>16.0}", seq as f64 / secs);
    };
    row("ReadAndCheckBaseline (no engine)", read_s);
    row("RecoverFromStart (engine + replay + logs)", full_s);
    row(&format!("RecoverFromSnapshot (+ {} inputs)", seq - snapshot_seq), snap_s);
    println!();
    println!(
        "recovered {placed} orders ({seq} inputs, {trades} trades, {messages} stream messages): \
         from the journal's start in {full_s:.2} s, from a snapshot {} inputs back in \
         {snap_s:.2} s; target <= 5 s",
        seq - snapshot_seq
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writes `benches::flow`'s inputs (input `i` of the flow is journal input `i + 1`).
struct Flow {
    /// Inputs written.
    seq: u64,
    /// Orders among them.
    placed: u64,
    now: u64,
}

impl Flow {
    /// Appends the flow's inputs to the journal in `dir` (a new segment), four at a
    /// time, until `until` orders are placed.
    fn write(&mut self, dir: &std::path::Path, config: &GatewayConfig, until: u64) {
        let settings = WriterSettings {
            dir: dir.to_path_buf(),
            segment_bytes: config.journal.segment_bytes,
            // Written once for the bench: zero-filling first would only double the writes.
            preallocate: false,
            sync: false,
            session_id: 1,
            first_input_seq: self.seq + 1,
            fingerprint: Fingerprint::of(config),
        };
        let mut writer = Writer::open(settings, Arc::new(JournalProgress::default())).unwrap();
        while self.placed < until {
            for _ in 0..4 {
                let i = self.seq;
                if is_order(i) {
                    self.placed += 1;
                }
                self.seq += 1;
                self.now += 1_000;
                let (seq, now) = (self.seq, self.now);
                let entry =
                    Entry { input_seq: seq, now_ns: now, arrival_ns: now - 500, input: input(i) };
                writer.add(&entry);
                if seq.is_multiple_of(4096) {
                    writer.commit(seq).unwrap();
                }
            }
        }
        writer.commit(self.seq).unwrap();
    }
}
