//! Group commit: how long one journal commit (write the batch, fdatasync it) takes
//! on this machine's disk, appending to a growing file against overwriting a
//! segment that was zero-filled beforehand (`[journal] preallocate`).
//!
//! Each commit carries 25 inputs of `benches::flow` (about 2.3 KB), what one
//! fdatasync gathers at 100,000 inputs/s on a disk that syncs in a quarter of a
//! millisecond. The two writers take turns, one round of 4,000 commits each, three
//! rounds, so both see the same disk. Segments are 16 MiB (`JOURNAL_SEGMENT_MIB`),
//! so every round rotates at least once and the preallocated writer zero-fills its
//! next segment in the background while it commits: what a running gateway pays.
//!
//! Run: `cargo bench -p benches --bench journal` (about 150 MB in the temp directory).

use std::sync::Arc;
use std::time::Instant;

use benches::flow::input;
use benches::run;
use gateway::journal::{Entry, Fingerprint, JournalProgress, Writer, WriterSettings};
use hdrhistogram::Histogram;

const PER_COMMIT: u64 = 25;
const COMMITS: u64 = 4_000;
const ROUNDS: usize = 3;

fn main() {
    if !run::under_cargo_bench("journal") {
        return;
    }
    let segment_mib = run::env_u64("JOURNAL_SEGMENT_MIB", 16);
    let root = run::scratch_dir("journal");
    let modes = [("append", false), ("preallocated", true)];
    let mut hists: Vec<Histogram<u64>> =
        modes.iter().map(|_| Histogram::new_with_bounds(1, 10_000_000_000, 3).unwrap()).collect();
    let mut seconds = [0f64; 2];
    for round in 0..ROUNDS {
        for (m, &(name, preallocate)) in modes.iter().enumerate() {
            let dir = root.join(format!("{name}-{round}"));
            let settings = WriterSettings {
                dir: dir.clone(),
                segment_bytes: segment_mib << 20,
                preallocate,
                sync: true,
                session_id: 1,
                first_input_seq: 1,
                fingerprint: Fingerprint::default(),
            };
            let mut writer = Writer::open(settings, Arc::new(JournalProgress::default())).unwrap();
            let mut seq = 0u64;
            let started = Instant::now();
            for _ in 0..COMMITS {
                for _ in 0..PER_COMMIT {
                    seq += 1;
                    let now = 1_800_000_000_000_000_000 + seq * 10_000;
                    let entry = Entry {
                        input_seq: seq,
                        now_ns: now,
                        arrival_ns: now - 500,
                        input: input(seq),
                    };
                    writer.add(&entry);
                }
                let t = Instant::now();
                writer.commit(seq).unwrap();
                hists[m].record(t.elapsed().as_nanos() as u64).unwrap();
            }
            seconds[m] += started.elapsed().as_secs_f64();
            writer.finish().unwrap();
            drop(writer);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
    let _ = std::fs::remove_dir_all(&root);
    println!(
        "journal commit ({PER_COMMIT} inputs, write + fdatasync), {ROUNDS} rounds x {COMMITS} commits \
         per writer, {segment_mib} MiB segments, µs:"
    );
    println!(
        "{:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "writer", "p50", "p90", "p99", "p99.9", "max", "commits/s"
    );
    for (m, (name, _)) in modes.iter().enumerate() {
        let h = &hists[m];
        let us = |q: f64| h.value_at_quantile(q) as f64 / 1e3;
        println!(
            "{:<14} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>10.0}",
            name,
            us(0.5),
            us(0.9),
            us(0.99),
            us(0.999),
            h.max() as f64 / 1e3,
            h.len() as f64 / seconds[m]
        );
    }
    let ratio =
        |q: f64| hists[1].value_at_quantile(q) as f64 / hists[0].value_at_quantile(q) as f64;
    println!(
        "preallocated / append: p50 {:.2}x, p99 {:.2}x, p99.9 {:.2}x",
        ratio(0.5),
        ratio(0.99),
        ratio(0.999)
    );
}
