//! The gateway's in-process pipeline without sockets, and the ring hop it is built on.
//!
//! ```text
//! OneToOneRingPipeline:   [io-sim thread] ──in ring──> [engine thread] ──out ring──> [io-sim thread]
//!                          decode-ready inputs          sequence, risk, match         drain answers
//! FusedBaseline:          [one thread] sequence, risk, match (no ring, no hop)
//! PingPongRingHop:        [A] ──ring──> [B] ──ring──> [A]     (round trip / 2 = one hop)
//! PingPongMpscBaseline:   the same over std::sync::mpsc::sync_channel
//! PingPongCacheLineFloor: the same with one bare atomic a side: the cost of moving
//!                         a cache line between the two cores, which no queue beats
//! ```
//!
//! The order flow (`benches::flow`): two accounts trade one security back and forth
//! (buys rest, sells cross them), with cancels of the rests; every order is answered. Latency is from
//! the moment the io-sim thread pushes an input to the moment it pops that order's
//! answer (OrderAccepted or OrderRejected), in an HDR histogram. Every run checks
//! that each order got exactly one answer, so a broken pipeline cannot look fast.
//!
//! Run: `cargo bench -p benches --bench pipeline` (about 20 s).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use benches::flow::{answered_id, config, input};
use gateway::clock::Clock;
use gateway::input::{Arrival, Output, Stamps};
use gateway::pipeline::{Sequencer, build_engine};
use gateway::ring::ring;
use hdrhistogram::Histogram;

const ORDERS: u64 = 2_000_000;
const WARMUP: u64 = 200_000;

struct Result {
    name: &'static str,
    orders_per_s: f64,
    latency: Histogram<u64>,
}

fn fused_baseline() -> Result {
    let mut seq = Sequencer::new(build_engine(&config(ORDERS + WARMUP)).unwrap(), Clock::new());
    let mut answers = vec![0u8; (ORDERS + WARMUP) as usize];
    let mut latency = Histogram::<u64>::new(3).unwrap();
    let clock = Clock::new();
    let mut start = Instant::now();
    for i in 0..ORDERS + WARMUP {
        if i == WARMUP {
            start = Instant::now();
            latency.reset();
        }
        let t0 = clock.now_ns();
        let arrival = Arrival { input: input(i), stamps: Stamps { read_ns: t0, decoded_ns: t0 } };
        let mut got = None;
        seq.process(&arrival, &mut |o| {
            if let Some(id) = answered_id(&o) {
                answers[id as usize] += 1;
                got = Some(id);
            }
        });
        if got == Some(i) {
            latency.record(clock.now_ns() - t0).unwrap();
        }
    }
    let elapsed = start.elapsed();
    assert!(answers.iter().all(|&n| n == 1), "every input answered exactly once");
    Result {
        name: "FusedBaseline (no hop)",
        orders_per_s: ORDERS as f64 / elapsed.as_secs_f64(),
        latency,
    }
}

fn ring_pipeline() -> Result {
    let (mut to_engine, mut from_io) = ring::<Arrival>(1 << 14);
    let (mut to_io, mut from_engine) = ring::<Output>(1 << 16);
    let stop = Arc::new(AtomicBool::new(false));
    let engine_stop = Arc::clone(&stop);
    let engine = std::thread::spawn(move || {
        let mut seq = Sequencer::new(build_engine(&config(ORDERS + WARMUP)).unwrap(), Clock::new());
        while !engine_stop.load(Ordering::Relaxed) || from_io.has_items() {
            match from_io.pop() {
                Some(arrival) => seq.process(&arrival, &mut |o| {
                    let mut o = o;
                    while let Err(back) = to_io.push(o) {
                        o = back;
                        std::hint::spin_loop();
                    }
                }),
                None => std::hint::spin_loop(),
            }
        }
    });
    let total = ORDERS + WARMUP;
    let clock = Clock::new();
    let mut sent_ns = vec![0u64; total as usize];
    let mut answers = vec![0u8; total as usize];
    let mut latency = Histogram::<u64>::new(3).unwrap();
    let mut next = 0u64;
    let mut answered = 0u64;
    let mut start = Instant::now();
    while answered < total {
        // Keep a bounded number in flight (a real io thread reads what the socket has).
        while next < total && next - answered < 4096 {
            let t0 = clock.now_ns();
            let arrival =
                Arrival { input: input(next), stamps: Stamps { read_ns: t0, decoded_ns: t0 } };
            if to_engine.push(arrival).is_err() {
                break;
            }
            sent_ns[next as usize] = t0;
            next += 1;
        }
        while let Some(o) = from_engine.pop() {
            if let Some(id) = answered_id(&o) {
                answers[id as usize] += 1;
                answered += 1;
                if id >= WARMUP {
                    latency.record(clock.now_ns() - sent_ns[id as usize]).unwrap();
                }
                if answered == WARMUP {
                    start = Instant::now();
                }
            }
        }
    }
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    engine.join().unwrap();
    assert!(answers.iter().all(|&n| n == 1), "every input answered exactly once");
    Result {
        name: "OneToOneRingPipeline",
        orders_per_s: ORDERS as f64 / elapsed.as_secs_f64(),
        latency,
    }
}

const PINGS: u64 = 1_000_000;

fn ping_pong_ring() -> Histogram<u64> {
    let (mut ping_tx, mut ping_rx) = ring::<u64>(64);
    let (mut pong_tx, mut pong_rx) = ring::<u64>(64);
    let echo = std::thread::spawn(move || {
        let mut seen = 0;
        while seen < PINGS {
            if let Some(v) = ping_rx.pop() {
                while pong_tx.push(v).is_err() {}
                seen += 1;
            }
        }
    });
    let mut hop = Histogram::<u64>::new(3).unwrap();
    for i in 0..PINGS {
        let t0 = Instant::now();
        ping_tx.push(i).unwrap();
        let v = loop {
            if let Some(v) = pong_rx.pop() {
                break v;
            }
            std::hint::spin_loop();
        };
        assert_eq!(v, i);
        hop.record(t0.elapsed().as_nanos() as u64 / 2).unwrap();
    }
    echo.join().unwrap();
    hop
}

fn ping_pong_mpsc() -> Histogram<u64> {
    let (ping_tx, ping_rx) = std::sync::mpsc::sync_channel::<u64>(64);
    let (pong_tx, pong_rx) = std::sync::mpsc::sync_channel::<u64>(64);
    let echo = std::thread::spawn(move || {
        for v in ping_rx.iter().take(PINGS as usize) {
            pong_tx.send(v).unwrap();
        }
    });
    let mut hop = Histogram::<u64>::new(3).unwrap();
    for i in 0..PINGS {
        let t0 = Instant::now();
        ping_tx.send(i).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), i);
        hop.record(t0.elapsed().as_nanos() as u64 / 2).unwrap();
    }
    echo.join().unwrap();
    hop
}

/// The machine's floor for one hop: each side spins on its own cache-padded atomic
/// until the other stores the next value, timed the same way as the rings.
fn ping_pong_floor() -> Histogram<u64> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    /// One atomic alone on its cache lines (and the adjacent-line prefetch pair).
    #[repr(align(128))]
    struct Padded(AtomicU64);
    impl std::ops::Deref for Padded {
        type Target = AtomicU64;
        fn deref(&self) -> &AtomicU64 {
            &self.0
        }
    }
    let ping = Arc::new(Padded(AtomicU64::new(0)));
    let pong = Arc::new(Padded(AtomicU64::new(0)));
    let (ping2, pong2) = (Arc::clone(&ping), Arc::clone(&pong));
    let echo = std::thread::spawn(move || {
        for i in 1..=PINGS {
            while ping2.load(Ordering::Acquire) != i {
                std::hint::spin_loop();
            }
            pong2.store(i, Ordering::Release);
        }
    });
    let mut hop = Histogram::<u64>::new(3).unwrap();
    for i in 1..=PINGS {
        let t0 = Instant::now();
        ping.store(i, Ordering::Release);
        while pong.load(Ordering::Acquire) != i {
            std::hint::spin_loop();
        }
        hop.record(t0.elapsed().as_nanos() as u64 / 2).unwrap();
    }
    echo.join().unwrap();
    hop
}

fn percentiles(h: &Histogram<u64>) -> String {
    format!(
        "p50 {:>7} p90 {:>7} p99 {:>7} p99.9 {:>8} max {:>9}",
        h.value_at_quantile(0.50),
        h.value_at_quantile(0.90),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max()
    )
}

fn main() {
    if !benches::run::under_cargo_bench("pipeline") {
        return;
    }
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("pipeline bench: {ORDERS} orders after {WARMUP} warm-up, {cores} cores");
    let fused = fused_baseline();
    let piped = ring_pipeline();
    println!();
    println!("{:<26} {:>14}   latency ns (push → answer popped)", "topology", "orders/s");
    for r in [&fused, &piped] {
        println!("{:<26} {:>14.0}   {}", r.name, r.orders_per_s, percentiles(&r.latency));
    }
    let ring_hop = ping_pong_ring();
    let mpsc_hop = ping_pong_mpsc();
    let floor_hop = ping_pong_floor();
    println!();
    println!("{:<26} one hop ns (ping-pong round trip / 2)", "queue");
    println!("{:<26} {}", "PingPongRingHop", percentiles(&ring_hop));
    println!("{:<26} {}", "PingPongMpscBaseline", percentiles(&mpsc_hop));
    println!("{:<26} {}", "PingPongCacheLineFloor", percentiles(&floor_hop));
    println!();
    println!(
        "ring hop median {} ns vs mpsc {} ns ({:.1}x) and the cache-line floor {} ns; \
         pipeline {:.2} M orders/s vs fused {:.2} M orders/s",
        ring_hop.value_at_quantile(0.5),
        mpsc_hop.value_at_quantile(0.5),
        mpsc_hop.value_at_quantile(0.5) as f64 / ring_hop.value_at_quantile(0.5).max(1) as f64,
        floor_hop.value_at_quantile(0.5),
        piped.orders_per_s / 1e6,
        fused.orders_per_s / 1e6
    );
    let _ = Duration::ZERO;
}
