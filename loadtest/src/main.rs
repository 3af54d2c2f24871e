//! `loadtest`: run a scenario against an in-process or a running gateway.
//!
//! ```text
//! loadtest list
//! loadtest run record-open-2024-10-08 --rate-scale 0.5 --time-scale 0.5
//! loadtest run my-scenario.toml --gateway 127.0.0.1:9100 --admin 127.0.0.1:9180 --admin-token T
//! loadtest gateway-config steady > gw.toml    # the universe a scenario generates, for a real gateway
//! ```
//!
//! Exit status: 0 when every objective is met, 1 when one is missed, 2 on an error.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use loadtest::driver::FrontDoor;
use loadtest::harness::{self, Options};
use loadtest::scenario::{BUILT_IN, Scenario};

#[derive(Parser)]
#[command(name = "loadtest", about = "Breakwater's open-loop crash-burst replay harness")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the built-in scenarios.
    List,
    /// Run a scenario (built-in name or TOML file).
    Run(Box<RunArgs>),
    /// Print the gateway configuration generated for a scenario.
    GatewayConfig {
        /// Built-in scenario name or TOML file.
        scenario: String,
        /// Multiplies every rate.
        #[arg(long, default_value_t = 1.0)]
        rate_scale: f64,
        /// Multiplies every duration.
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Built-in scenario name (see `loadtest list`) or a scenario TOML file.
    scenario: String,
    /// Multiplies every rate of the scenario.
    #[arg(long, default_value_t = 1.0)]
    rate_scale: f64,
    /// Multiplies every duration and event time of the scenario.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// A running gateway (loopback); without it one is started in-process.
    #[arg(long)]
    gateway: Option<SocketAddr>,
    /// The running gateway's HTTP admin API, for operator events.
    #[arg(long)]
    admin: Option<SocketAddr>,
    /// Bearer token for the admin API.
    #[arg(long)]
    admin_token: Option<String>,
    /// Gateway configuration TOML naming the logins, accounts and instruments to use
    /// (default: the demo gateway's).
    #[arg(long)]
    logins: Option<PathBuf>,
    /// Skip the echo baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Output directory (default reports/<scenario>-<unix time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Serve the harness's own figures at http://ADDR/metrics.
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// In-process gateway topology: auto, fused or pipelined.
    #[arg(long)]
    topology: Option<String>,
    /// Override the p99 objective, µs.
    #[arg(long)]
    p99_us: Option<f64>,
    /// Override the p50 objective, µs.
    #[arg(long)]
    p50_us: Option<f64>,
    /// Override the p99.99 objective, µs.
    #[arg(long)]
    p9999_us: Option<f64>,
    /// Pin the generator to the first core and the server thread (echo, or the
    /// in-process gateway's io thread) to the last.
    #[arg(long)]
    pin: bool,
    /// In-process gateway journal: none, async or sync (journal in a temporary
    /// directory, removed after the run).
    #[arg(long)]
    durability: Option<String>,
    /// With --durability async or sync: also run the same schedule through the same
    /// gateway without a journal first, and report both side by side.
    #[arg(long)]
    compare_durability: bool,
    /// The order-entry protocol version to log in with: 1, 2 to also time the
    /// broker's immediate answer (OrderPending) beside the venue's, or 3 (queries
    /// and FillFees; chosen by itself when the run asks queries).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=3))]
    protocol_version: u8,
    /// The gateway's front door the sessions use: `binary` (docs/protocol.md) or
    /// `fix` (docs/fix.md: one FIX session per login, SenderCompID LT<n>; with
    /// --gateway, give the FIX port). The echo baseline always speaks binary.
    #[arg(long, default_value = "binary", value_parser = ["binary", "fix"])]
    front_door: String,
    /// Share of session actions that are queries (funds, positions, orders, fills);
    /// overrides the scenario's `query_share`. Queries log in with version 3.
    #[arg(long)]
    query_share: Option<f64>,
    /// Every session asks funds and positions every this many ms (the probe);
    /// overrides the scenario's `query_every_ms`.
    #[arg(long)]
    query_every_ms: Option<u64>,
    /// With --query-every-ms: also run the same schedule without the probe first,
    /// and report the order answers of both side by side.
    #[arg(long)]
    compare_query_probe: bool,
    /// With --compare-query-probe: run the side with the probe first (the side
    /// that runs first pays the process's warm-up).
    #[arg(long)]
    probe_first: bool,
    /// Market-data subscribers reading Level-2 of every channel in real time, as
    /// fast as they can (in-process gateway; many to a thread, see --md-threads).
    #[arg(long, default_value_t = 0)]
    md_fast: usize,
    /// Level-2 real-time subscribers that read at most --md-slow-read-bytes-per-s,
    /// so that they fall behind and are conflated or sent gap notices.
    #[arg(long, default_value_t = 0)]
    md_slow: usize,
    /// The slow subscribers' read rate, bytes a second.
    #[arg(long, default_value_t = 65_536)]
    md_slow_read_bytes_per_s: u64,
    /// Level-1 subscribers of every channel, conflated at --md-l1-interval-ms.
    #[arg(long, default_value_t = 0)]
    md_l1: usize,
    /// The Level-1 subscribers' conflation interval, ms.
    #[arg(long, default_value_t = 100)]
    md_l1_interval_ms: u32,
    /// The publisher's queue per subscriber, bytes ([marketdata] queue_bytes).
    #[arg(long, default_value_t = 1 << 20)]
    md_queue_bytes: usize,
    /// The publisher's socket send buffer per subscriber, bytes (0: the kernel's
    /// default; loopback's can hide a slow reader for megabytes).
    #[arg(long, default_value_t = 0)]
    md_send_buffer_bytes: usize,
    /// Threads the market-data subscribers run on, each driving many over
    /// non-blocking sockets (0: one per 64 subscribers; at most 64).
    #[arg(long, default_value_t = 0)]
    md_threads: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List => {
            for (name, text) in BUILT_IN {
                match Scenario::from_toml_str(text, name) {
                    Ok(s) => println!(
                        "{name:<28} {:>6.0} s  base {:>7.0}/s  peak {:>8.0}/s  {}",
                        s.duration_ns() as f64 / 1e9,
                        s.base_rate_per_s,
                        s.peak_rate_per_s(),
                        s.description.lines().next().unwrap_or("")
                    ),
                    Err(e) => println!("{name:<28} invalid: {e}"),
                }
            }
            ExitCode::SUCCESS
        }
        Command::GatewayConfig { scenario, rate_scale, time_scale } => {
            let o = Options { scenario, rate_scale, time_scale, ..Options::default() };
            match harness::scenario(&o) {
                Ok(s) => {
                    print!("{}", loadtest::universe::generate_gateway_toml(&s));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("loadtest: {e}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run(a) => {
            let a = *a;
            let o = Options {
                scenario: a.scenario,
                rate_scale: a.rate_scale,
                time_scale: a.time_scale,
                gateway: a.gateway,
                admin: a.admin,
                admin_token: a.admin_token,
                logins: a.logins,
                baseline: !a.no_baseline,
                out: a.out,
                write_files: true,
                metrics_listen: a.metrics_listen,
                quiet: a.quiet,
                topology: a.topology,
                p99_us: a.p99_us,
                p50_us: a.p50_us,
                p9999_us: a.p9999_us,
                pin: a.pin,
                durability: a.durability,
                compare_durability: a.compare_durability,
                protocol_version: a.protocol_version,
                front_door: if a.front_door == "fix" { FrontDoor::Fix } else { FrontDoor::Binary },
                query_share: a.query_share,
                query_every_ms: a.query_every_ms,
                compare_query_probe: a.compare_query_probe,
                probe_first: a.probe_first,
                md: loadtest::marketdata::MdOptions {
                    fast: a.md_fast,
                    slow: a.md_slow,
                    slow_read_bytes_per_s: a.md_slow_read_bytes_per_s,
                    l1: a.md_l1,
                    l1_interval_ms: a.md_l1_interval_ms,
                    queue_bytes: a.md_queue_bytes,
                    send_buffer_bytes: a.md_send_buffer_bytes,
                    threads: a.md_threads,
                },
                command: std::env::args().collect::<Vec<_>>().join(" "),
            };
            match harness::run(&o) {
                Ok(out) => {
                    print!("{}", loadtest::report::table(&out.summary));
                    if let Some(dir) = &out.out_dir {
                        println!("report: {}", dir.join("report.html").display());
                    }
                    if out.summary.passed { ExitCode::SUCCESS } else { ExitCode::from(1) }
                }
                Err(e) => {
                    eprintln!("loadtest: {e}");
                    ExitCode::from(2)
                }
            }
        }
    }
}
