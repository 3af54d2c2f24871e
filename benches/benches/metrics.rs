//! What per-stage latency metrics cost the order path: the same order flow through
//! the sequencer with the stage recorder off and on, alternated in one run.
//!
//! ```text
//! FusedStagesOff:    [one thread] sequence → risk → match    (one clock read per input)
//! FusedStagesOn:     the gateway as configured by default: engine stages stamped on
//!                    one input in 16 (`[admin] stage_sample_every`)
//! EveryInput:        the gateway's sequencer stamping every input (+3 clock reads, +4 records)
//! TscStamps:         stages stamped from the CPU's time-stamp counter instead of Clock
//! Sampled16:         stages stamped for one input in 16 (Clock)
//! TscSampled16:      both
//! ClockRead:         Clock::now_ns() alone                    (what one stamp costs)
//! TscRead:           the time-stamp counter alone             (the cheaper clock source)
//! HdrRecord:         StageRecorder::record alone              (what one sample costs)
//! ```
//!
//! `FusedStagesOff` and `FusedStagesOn` run the gateway's own `Sequencer`. The three
//! alternatives are what the sequencer's stage path could become; they run a copy
//! of that path (`Sequencer::process` with its `ClockProbe`) here, over the same
//! public `Engine::handle`, so their cost can be weighed before the sequencer
//! changes. `docs/operations.md` records the figures.
//!
//! The flow is `benches::flow` (as in `pipeline.rs`): two accounts trade one
//! security back and forth (buys rest, sells cross them) with cancels of the rests; every input's answer is
//! checked to arrive exactly once, so a broken engine cannot look fast. Each round
//! runs off and on on fresh engines (the order in a round alternates, so drift
//! hurts both alike); the report is the median of the rounds and the cost is
//! on's time per input over off's.
//!
//! The io thread's stages (decode, to_log, write, end_to_end) are stamped per read
//! or per write batch, not per input, so this bench measures the part that scales
//! with the order rate: the engine's.
//!
//! Run: `cargo bench -p benches --bench metrics` (about 30 s).

use std::hint::black_box;
use std::time::Instant;

use benches::flow::{answered_id, config, input};
use gateway::GatewayConfig;
use gateway::clock::Clock;
use gateway::engine::{Engine, NoProbe, Probe};
use gateway::input::{Arrival, Output, Stamps};
use gateway::metrics::{Stage, StageRecorder};
use gateway::pipeline::{Sequencer, build_engine};

const ORDERS: u64 = 600_000;
const WARMUP: u64 = 100_000;
const ROUNDS: usize = 9;

/// Where stage stamps come from.
trait StampClock {
    fn now_ns(&self) -> u64;
}

impl StampClock for Clock {
    #[inline]
    fn now_ns(&self) -> u64 {
        Clock::now_ns(self)
    }
}

/// Unix nanoseconds from the time-stamp counter: one multiply on top of RDTSC,
/// calibrated against the gateway clock at start. (Valid where the counter is
/// invariant and synchronised across cores: `constant_tsc` and `nonstop_tsc`.)
#[derive(Clone, Copy)]
struct TscClock {
    base_unix_ns: u64,
    base_ticks: u64,
    ns_per_tick_q32: u64,
}

impl TscClock {
    fn calibrate(clock: &Clock) -> TscClock {
        let (t0, c0) = (clock.now_ns(), tsc());
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (t1, c1) = (clock.now_ns(), tsc());
        let ns_per_tick_q32 = (((t1 - t0) as u128) << 32) / u128::from((c1 - c0).max(1));
        TscClock { base_unix_ns: t1, base_ticks: c1, ns_per_tick_q32: ns_per_tick_q32 as u64 }
    }
}

impl StampClock for TscClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        let ticks = tsc().wrapping_sub(self.base_ticks);
        self.base_unix_ns + ((u128::from(ticks) * u128::from(self.ns_per_tick_q32)) >> 32) as u64
    }
}

/// `pipeline::sequencer::ClockProbe`, over any stamp clock.
struct StageProbe<'a, C: StampClock> {
    clock: &'a C,
    recorder: &'a mut StageRecorder,
    engine_in_ns: u64,
    risk_done_ns: u64,
}

impl<C: StampClock> Probe for StageProbe<'_, C> {
    #[inline]
    fn risk_done(&mut self) {
        let t = self.clock.now_ns();
        self.recorder.record(Stage::Risk, self.engine_in_ns, t);
        self.risk_done_ns = t;
    }

    #[inline]
    fn matched(&mut self) {
        let t = self.clock.now_ns();
        self.recorder.record(Stage::Match, self.risk_done_ns, t);
    }
}

/// `Sequencer::process` with stamps from `stamps`, on one input in `every`.
struct Variant<C: StampClock> {
    engine: Engine,
    clock: Clock,
    stamps: C,
    every: u64,
    recorder: StageRecorder,
    seq: u64,
    last_now_ns: u64,
}

impl<C: StampClock> Variant<C> {
    #[inline]
    fn process(&mut self, arrival: &Arrival, out: &mut impl FnMut(Output)) {
        let now = self.clock.now_ns().max(self.last_now_ns);
        self.last_now_ns = now;
        self.seq += 1;
        let seq = self.seq;
        if !seq.is_multiple_of(self.every) {
            self.engine.handle(seq, now, arrival.stamps.read_ns, &arrival.input, out, &mut NoProbe);
        } else {
            let engine_in = self.stamps.now_ns();
            self.recorder.record(Stage::QueueIn, arrival.stamps.decoded_ns, engine_in);
            let mut probe = StageProbe {
                clock: &self.stamps,
                recorder: &mut self.recorder,
                engine_in_ns: engine_in,
                risk_done_ns: engine_in,
            };
            let input = &arrival.input;
            self.engine.handle(seq, now, arrival.stamps.read_ns, input, out, &mut probe);
            let end = self.stamps.now_ns();
            self.recorder.record(Stage::Engine, engine_in, end);
            self.recorder.maybe_swap(end);
        }
        if seq.is_multiple_of(4096) {
            self.engine.publish_gauges(seq);
        }
    }
}

/// What a run measures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    FusedStagesOff,
    FusedStagesOn,
    EveryInput,
    TscStamps,
    Sampled16,
    TscSampled16,
}

const KINDS: [Kind; 6] = [
    Kind::FusedStagesOff,
    Kind::FusedStagesOn,
    Kind::EveryInput,
    Kind::TscStamps,
    Kind::Sampled16,
    Kind::TscSampled16,
];

/// Runs every input through `process`; returns nanoseconds per input after the
/// warm-up, having checked that every input was answered exactly once.
fn drive(inputs: &[Arrival], mut process: impl FnMut(&Arrival, &mut dyn FnMut(Output))) -> f64 {
    let mut answers = vec![0u8; inputs.len()];
    let mut start = Instant::now();
    for (i, arrival) in inputs.iter().enumerate() {
        if i as u64 == WARMUP {
            start = Instant::now();
        }
        process(arrival, &mut |o| {
            if let Some(id) = answered_id(&o) {
                answers[id as usize] += 1;
            }
        });
    }
    let elapsed = start.elapsed();
    assert!(answers.iter().all(|&n| n == 1), "every input answered exactly once");
    elapsed.as_nanos() as f64 / ORDERS as f64
}

/// One run on a fresh engine.
fn run(config: &GatewayConfig, inputs: &[Arrival], kind: Kind, tsc_clock: TscClock) -> f64 {
    // One-second intervals, as the gateway uses; the collector side stays alive.
    let on = kind != Kind::FusedStagesOff;
    let (recorder, _collector_side) = StageRecorder::new(on, 1_000_000_000);
    let engine = build_engine(config).unwrap();
    let clock = Clock::new();
    match kind {
        Kind::FusedStagesOff | Kind::FusedStagesOn | Kind::EveryInput => {
            let mut seq = Sequencer::with_recorder(engine, clock, recorder);
            if kind == Kind::FusedStagesOn {
                seq.sample_stages_every(config.admin.stage_sample_every);
            }
            drive(inputs, |a, out| seq.process(a, &mut |o| out(o)))
        }
        Kind::TscStamps | Kind::TscSampled16 => {
            let every = if kind == Kind::TscStamps { 1 } else { 16 };
            let stamps = tsc_clock;
            let mut v = Variant { engine, clock, stamps, every, recorder, seq: 0, last_now_ns: 0 };
            drive(inputs, |a, out| v.process(a, &mut |o| out(o)))
        }
        Kind::Sampled16 => {
            let stamps = clock;
            let mut v =
                Variant { engine, clock, stamps, every: 16, recorder, seq: 0, last_now_ns: 0 };
            drive(inputs, |a, out| v.process(a, &mut |o| out(o)))
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Nanoseconds per call of `f`, the median of five batches.
fn per_call(mut f: impl FnMut(u64) -> u64) -> f64 {
    const N: u64 = 5_000_000;
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let t0 = Instant::now();
            let mut acc = 0u64;
            for i in 0..N {
                acc = acc.wrapping_add(f(black_box(i)));
            }
            black_box(acc);
            t0.elapsed().as_nanos() as f64 / N as f64
        })
        .collect();
    median(&mut runs)
}

#[cfg(target_arch = "x86_64")]
fn tsc() -> u64 {
    // SAFETY: RDTSC has no preconditions; every x86-64 CPU has it.
    unsafe { core::arch::x86_64::_rdtsc() }
}

#[cfg(not(target_arch = "x86_64"))]
fn tsc() -> u64 {
    0
}

fn main() {
    if !benches::run::under_cargo_bench("metrics") {
        return;
    }
    let config = config(ORDERS + WARMUP);
    let stamp = Stamps { read_ns: 1, decoded_ns: 1 };
    let inputs: Vec<Arrival> =
        (0..ORDERS + WARMUP).map(|i| Arrival { input: input(i), stamps: stamp }).collect();
    println!(
        "metrics bench: {ORDERS} inputs after {WARMUP} warm-up, {ROUNDS} rounds of every variant, fused, ns/input"
    );
    let tsc_clock = TscClock::calibrate(&Clock::new());
    let mut ns: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); KINDS.len()];
    for round in 0..ROUNDS {
        // Rotate which goes first, so drift (thermal, noisy neighbours) hits all alike.
        let mut line = format!("  round {round}:");
        for k in 0..KINDS.len() {
            let i = (k + round) % KINDS.len();
            ns[i].push(run(&config, &inputs, KINDS[i], tsc_clock));
        }
        for (i, kind) in KINDS.iter().enumerate() {
            line += &format!(" {kind:?} {:.1}", ns[i][round]);
        }
        println!("{line}");
    }
    let medians: Vec<f64> = ns.iter_mut().map(|v| median(v)).collect();
    let (off_ns, on_ns) = (medians[0], medians[1]);
    let cost = (on_ns / off_ns - 1.0) * 100.0;

    let clock = Clock::new();
    let clock_ns = per_call(|_| clock.now_ns());
    let tsc_ns = per_call(|_| tsc());
    let (mut recorder, _side) = StageRecorder::new(true, u64::MAX);
    let record_ns = per_call(|i| {
        // Latencies spread over 100 ns .. 26 µs, like the engine stages.
        recorder.record(Stage::Risk, 1, 100 + (i.wrapping_mul(2_654_435_761) & 0x3fff) * 16 / 10);
        0
    });

    println!();
    println!("{:<18} {:>12} {:>14} {:>12}", "run", "ns/input", "M inputs/s", "cost");
    for (kind, m) in KINDS.iter().zip(&medians) {
        let c = (m / off_ns - 1.0) * 100.0;
        println!("{:<18} {m:>12.1} {:>14.2} {c:>+11.1}%", format!("{kind:?}"), 1e3 / m);
    }
    println!();
    println!("{:<18} {:>12}", "primitive", "ns/call");
    println!("{:<18} {:>12.1}", "ClockRead", clock_ns);
    println!("{:<18} {:>12.1}", "HdrRecord", record_ns);
    println!("{:<18} {:>12.1}", "TscRead", tsc_ns);
    println!();
    println!(
        "stage metrics cost {cost:+.1}% per input ({:+.1} ns; budget 5%); \
         from primitives alone: 3 clock reads + 4 records = {:.1} ns (the rest: the \
         histograms' cache footprint)",
        on_ns - off_ns,
        3.0 * clock_ns + 4.0 * record_ns
    );
}
