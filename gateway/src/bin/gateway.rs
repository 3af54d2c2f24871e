//! `gateway`: runs a Breakwater gateway with its embedded exchange.
//!
//! Without `--config` it starts the built-in demo (demo instruments, accounts and
//! logins) on 127.0.0.1:9100 and prints how to connect. SIGINT or SIGTERM stops it
//! gracefully: no new connections, every session drained and sent EndOfSession.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use gateway::GatewayConfig;
use gateway::config::{ConfigError, memory};

/// Breakwater order gateway.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML). Without it the built-in demo configuration is used.
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Listen on this address instead of the configured ones (e.g. 127.0.0.1:0).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Print the built-in demo configuration and exit.
    #[arg(long)]
    print_demo_config: bool,
    /// Check the configuration and exit.
    #[arg(long)]
    check: bool,
    /// Start the gateway's clock at this local exchange time (`YYYY-MM-DD
    /// HH:MM:SS`, Beijing unless `[exchange] utc_offset_s` says otherwise) instead
    /// of now: the test clock, for trying the trading day's phases. Same as
    /// `[clock] start_at`.
    #[arg(long, value_name = "LOCAL_TIME")]
    at: Option<String>,
    /// On a graceful stop, write a text dump of accounts, books and stream
    /// positions to this file (for comparing a recovery with a replay).
    #[arg(long)]
    dump_state: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    if args.print_demo_config {
        print!("{}", gateway::config::DEMO_TOML);
        return ExitCode::SUCCESS;
    }
    let mut config = match &args.config {
        Some(path) => match GatewayConfig::from_file(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        },
        None => GatewayConfig::demo(),
    };
    if let Some(addr) = args.listen {
        config.server.listen = vec![addr];
    }
    if let Some(at) = &args.at
        && let Err(e) = config.set_clock_start(at)
    {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    // The same checks for `--check` and before starting, so a configuration that
    // passes one never aborts in the other.
    let budget = match preflight(&config) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        println!("{}: configuration is valid; {budget}", config.origin);
        return ExitCode::SUCCESS;
    }
    let mut running = match gateway::start(&config) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let flag = running.shutdown_flag();
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(signal, std::sync::Arc::clone(&flag)) {
            eprintln!("error: cannot install the handler for signal {signal}: {e}");
            return ExitCode::from(1);
        }
    }
    print_banner(&config, &running);
    match running.join() {
        Ok(stopped) => {
            log::info!("gateway stopped");
            if let Some(path) = &args.dump_state {
                let dump = gateway::state::dump(stopped.sequencer.engine());
                if let Err(e) = std::fs::write(path, dump) {
                    eprintln!("error: cannot write {}: {e}", path.display());
                    return ExitCode::from(1);
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// What can be checked without starting: listeners that would collide (after
/// `--listen`), and the memory budget against this machine's memory. Returns a
/// line on the budget.
fn preflight(config: &GatewayConfig) -> Result<String, ConfigError> {
    config.check_listeners()?;
    let venue = memory::venue_bytes(&config.origin, &config.exchange)?;
    let budget = gateway::pipeline::memory_budget_for(config, venue);
    let total = budget.iter().map(|(_, b)| b).sum::<u64>();
    let Some(machine) = memory::machine_memory() else {
        log::warn!("cannot read this machine's memory: the budget is not checked");
        return Ok(format!("memory committed at start-up: {}", memory::human_bytes(total)));
    };
    memory::check(config, &budget, &machine)?;
    Ok(format!(
        "memory committed at start-up: {} of {} ({})",
        memory::human_bytes(total),
        memory::human_bytes(machine.bytes),
        machine.source
    ))
}

fn print_banner(config: &GatewayConfig, running: &gateway::Running) {
    let addr = running.addr();
    println!();
    println!("Breakwater gateway ({}) listening on {addr}", config.origin);
    println!(
        "  topology: {:?}, io wait: {:?}",
        running.resolved.topology, running.resolved.io_wait
    );
    if let Some(admin) = running.admin_addr() {
        println!("  admin:    http://{admin}/metrics  /health  /ready");
        if config.admin.token.is_some() {
            println!("            POST http://{admin}/admin/<action> (docs/operations.md)");
        } else {
            println!("            operator actions off: no [admin] token");
        }
    }
    if let (Some(addr), Some(fix)) = (running.fix_addr(), &config.fix) {
        let mode = if fix.reflector { "reflector mode" } else { "orders to the engine" };
        println!("  FIX 4.4:  {addr} ({mode}, docs/fix.md)");
    }
    if let Some(addr) = running.md_addr() {
        println!("  market data: {addr} (docs/marketdata.md)");
    }
    println!("  logins:");
    for login in &config.logins {
        let accounts: Vec<String> = login.accounts.iter().map(|a| a.to_string()).collect();
        println!("    {:<10} accounts {}", login.username, accounts.join(", "));
    }
    if config.origin == "<demo>" {
        println!();
        println!("Try it (demo credentials are built in):");
        println!(
            "  cargo run --release -p gateway --bin bw -- order --account A001 buy 600519 100 @ 1500.00"
        );
        println!("  cargo run --release -p gateway --bin bw -- watch");
    }
    println!("Stop with Ctrl-C.");
}
