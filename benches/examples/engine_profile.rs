//! Runs the engine alone on `benches::flow` (two accounts trading back and forth),
//! for profilers:
//! `cargo build --release -p benches --example engine_profile && perf record ... target/release/examples/engine_profile [inputs]`.

use benches::flow::{config, input};
use gateway::clock::Clock;
use gateway::input::{Arrival, Stamps};
use gateway::pipeline::{Sequencer, build_engine};

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2_000_000);
    let mut seq = Sequencer::new(build_engine(&config(n)).unwrap(), Clock::new());
    let start = std::time::Instant::now();
    let mut outputs = 0u64;
    for i in 0..n {
        let arrival = Arrival { input: input(i), stamps: Stamps { read_ns: 0, decoded_ns: 0 } };
        seq.process(&arrival, &mut |_| outputs += 1);
    }
    let elapsed = start.elapsed();
    println!(
        "{n} inputs, {outputs} outputs in {elapsed:?}: {:.0} inputs/s",
        n as f64 / elapsed.as_secs_f64()
    );
}
