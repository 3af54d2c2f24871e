//! `bw-journal`: inspect a Breakwater journal without changing it.
//!
//! ```text
//! bw-journal verify DIR          check every segment and record (CRC, sequence, layout),
//!                                that the journal reaches its acknowledged high-water
//!                                mark, and every snapshot's CRC
//! bw-journal stats DIR           segments, records by kind, bytes, time span, input rate,
//!                                snapshots
//! bw-journal dump DIR [--from N] [--limit N]   one line per input
//! bw-journal replay --config FILE [--from-start]   rebuild the engine, print the state dump
//! bw-journal snapshot --config FILE            write a snapshot at the journal's end
//! bw-journal funds|positions|fills --config FILE --account A [--to N] [--json]
//! bw-journal orders --config FILE --account A [--open] [--to N] [--json]
//!                                an account's views after input N (default: the end)
//! ```
//!
//! Every command but `snapshot` reads only; a torn final record is reported, not cut.
//! `snapshot` adds a snapshot file beside the journal (atomically) and changes nothing
//! else.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gateway::GatewayConfig;
use gateway::answers::AnswerScratch;
use gateway::input::Input;
use gateway::journal::{self, TailPolicy};
use gateway::views::{self, AsOf, Format, Heading};
use protocol::AccountId;
use protocol::query::{Query, QueryAnswer, QueryKind, query_flags};
use risk_check::{OrderFilter, RiskEngine};

#[derive(Parser, Debug)]
#[command(version, about = "Inspect a Breakwater journal (read-only)")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check every segment and record, and every snapshot's CRC; exit 1 on damage.
    Verify {
        /// Journal directory.
        dir: PathBuf,
    },
    /// Counts, sizes and time span.
    Stats {
        /// Journal directory.
        dir: PathBuf,
    },
    /// One line per input.
    Dump {
        /// Journal directory.
        dir: PathBuf,
        /// First input sequence number to print.
        #[arg(long, default_value_t = 1)]
        from: u64,
        /// Most inputs to print.
        #[arg(long)]
        limit: Option<u64>,
    },
    /// Rebuild the engine of a gateway configuration's `[journal] dir` (from its
    /// newest snapshot and the journal after it) and print the resulting state
    /// (accounts, books, stream positions).
    Replay {
        /// The gateway configuration whose `[journal] dir` to replay.
        #[arg(long)]
        config: PathBuf,
        /// Ignore snapshots: replay every input from the journal's start.
        #[arg(long)]
        from_start: bool,
    },
    /// Rebuild the engine as `replay` does and write a snapshot at the journal's
    /// last input, so the next start replays only what comes after it.
    Snapshot {
        /// The gateway configuration whose `[journal] dir` to snapshot.
        #[arg(long)]
        config: PathBuf,
    },
    /// An account's funds after a replay (查询资金).
    Funds(ViewArgs),
    /// An account's holdings after a replay (查询持仓).
    Positions(ViewArgs),
    /// An account's orders of the day after a replay (查询委托).
    Orders {
        #[command(flatten)]
        view: ViewArgs,
        /// Only orders that may still trade.
        #[arg(long)]
        open: bool,
    },
    /// An account's fills of the day after a replay, fees by kind (查询成交).
    Fills(ViewArgs),
}

/// What the view commands share: which journal, whose view, as of which input.
#[derive(clap::Args, Debug)]
struct ViewArgs {
    /// The gateway configuration whose `[journal] dir` to replay (the engine is
    /// built from it, as the gateway's recovery builds it).
    #[arg(long)]
    config: PathBuf,
    /// The account.
    #[arg(long, short)]
    account: String,
    /// Replay inputs up to and including this one (default: the journal's end).
    #[arg(long)]
    to: Option<u64>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Which view to print.
#[derive(Clone, Copy, Debug)]
enum View {
    Funds,
    Positions,
    Orders(OrderFilter),
    Fills,
}

fn kind(input: &Input) -> &'static str {
    match input {
        Input::NewOrder { .. } => "new_order",
        Input::Cancel { .. } => "cancel",
        Input::Replace { .. } => "replace",
        Input::MassCancel { .. } => "mass_cancel",
        Input::EntryControl { .. } => "entry_control",
        Input::Malformed { .. } => "malformed",
        Input::LoggedIn { .. } => "logged_in",
        Input::Disconnected { .. } => "disconnected",
        Input::Tick => "tick",
        Input::Admin(_) => "admin",
        Input::FixFact { .. } => "fix_fact",
        // Never in a journal; named for completeness.
        Input::Query { .. } => "query",
    }
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<ExitCode, String> {
    match args.command {
        Command::Verify { dir } => {
            let rec = journal::read_journal(&dir, TailPolicy::ReadOnly, |_| {})
                .map_err(|e| e.to_string())?;
            let mark = rec.acknowledged.map_or("none".to_string(), |m| m.to_string());
            println!(
                "{}: OK: {} segment(s), {} inputs, last input {}, acknowledged up to {mark}",
                dir.display(),
                rec.segments,
                rec.records,
                rec.last_input_seq
            );
            let mut code = ExitCode::SUCCESS;
            for path in gateway::snapshot::snapshots(&dir) {
                match gateway::snapshot::verify(&path) {
                    Ok(meta) => println!(
                        "{}: OK: snapshot after input {}, {} bytes",
                        path.display(),
                        meta.input_seq,
                        meta.payload_len
                    ),
                    Err(e) => {
                        println!("{e}");
                        code = ExitCode::from(1);
                    }
                }
            }
            Ok(code)
        }
        Command::Stats { dir } => {
            let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
            let mut first_ns = None;
            let mut last_ns = 0;
            let rec = journal::read_journal(&dir, TailPolicy::ReadOnly, |e| {
                *kinds.entry(kind(&e.input)).or_default() += 1;
                first_ns.get_or_insert(e.now_ns);
                last_ns = e.now_ns;
            })
            .map_err(|e| e.to_string())?;
            let on_disk: u64 = journal::segments(&dir)
                .map_err(|e| e.to_string())?
                .iter()
                .filter_map(|p| std::fs::metadata(p).ok())
                .map(|m| m.len())
                .sum();
            let bytes = rec.record_bytes;
            println!("directory   {}", dir.display());
            println!("segments    {}", rec.segments);
            println!("inputs      {} (last {})", rec.records, rec.last_input_seq);
            println!(
                "bytes       {bytes} ({:.1} per input; {on_disk} on disk with preallocated space)",
                bytes as f64 / rec.records.max(1) as f64
            );
            if let Some(id) = rec.session_id {
                println!("session id  {id}");
            }
            if let Some(first) = first_ns {
                let span_s = (last_ns - first) as f64 / 1e9;
                println!(
                    "time span   {span_s:.3} s ({:.0} inputs/s)",
                    rec.records as f64 / span_s.max(1e-9)
                );
            }
            for (k, n) in kinds {
                println!("  {k:<14} {n}");
            }
            for path in gateway::snapshot::snapshots(&dir) {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("?");
                match gateway::snapshot::verify(&path) {
                    Ok(meta) => println!(
                        "snapshot    {name}: after input {}, {:.1} MB",
                        meta.input_seq,
                        size as f64 / 1e6
                    ),
                    Err(e) => println!("snapshot    {name}: unusable: {e}"),
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Dump { dir, from, limit } => {
            let mut printed = 0u64;
            let limit = limit.unwrap_or(u64::MAX);
            journal::read_journal(&dir, TailPolicy::ReadOnly, |e| {
                if e.input_seq >= from && printed < limit {
                    println!(
                        "{} t={} arrival={} {:?}",
                        e.input_seq, e.now_ns, e.arrival_ns, e.input
                    );
                    printed += 1;
                }
            })
            .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Replay { config, from_start } => {
            let config = GatewayConfig::from_file(&config).map_err(|e| e.to_string())?;
            let started = std::time::Instant::now();
            let recover = if from_start {
                gateway::pipeline::recover_from_start
            } else {
                gateway::pipeline::recover
            };
            let (engine, _logs, rec) =
                recover(&config, TailPolicy::ReadOnly).map_err(|e| e.to_string())?;
            eprintln!(
                "rebuilt the state at input {} in {:.3} s",
                rec.last_input_seq,
                started.elapsed().as_secs_f64()
            );
            print!("{}", gateway::state::dump(&engine));
            Ok(ExitCode::SUCCESS)
        }
        Command::Funds(args) => view(&args, View::Funds),
        Command::Positions(args) => view(&args, View::Positions),
        Command::Orders { view: args, open } => {
            let filter = if open { OrderFilter::OpenOnly } else { OrderFilter::All };
            view(&args, View::Orders(filter))
        }
        Command::Fills(args) => view(&args, View::Fills),
        Command::Snapshot { config } => {
            let config = GatewayConfig::from_file(&config).map_err(|e| e.to_string())?;
            let (engine, logs, rec) = gateway::pipeline::recover(&config, TailPolicy::ReadOnly)
                .map_err(|e| e.to_string())?;
            if rec.last_input_seq == 0 {
                return Err(format!("{}: no journal to snapshot", config.journal.dir.display()));
            }
            let at = gateway::snapshot::At {
                input_seq: rec.last_input_seq,
                now_ns: rec.last_now_ns,
                session_id: rec.session_id.unwrap_or(0),
                fingerprint: journal::Fingerprint::of(&config),
            };
            let path = gateway::snapshot::write(&config.journal.dir, &engine, &logs, at)
                .map_err(|e| e.to_string())?;
            println!("{}: snapshot after input {}", path.display(), rec.last_input_seq);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Replays the journal to `--to` with the gateway's own recovery and prints one
/// view of the account.
fn view(args: &ViewArgs, which: View) -> Result<ExitCode, String> {
    let account =
        AccountId::new(&args.account).map_err(|e| format!("account {:?}: {e}", args.account))?;
    let config = GatewayConfig::from_file(&args.config).map_err(|e| e.to_string())?;
    let until = args.to.unwrap_or(u64::MAX);
    let (engine, rec, applied) =
        gateway::pipeline::recover_to(&config, TailPolicy::ReadOnly, until)
            .map_err(|e| e.to_string())?;
    if let Some(to) = args.to
        && applied < to
    {
        return Err(format!("the journal ends at input {}, before input {to}", rec.last_input_seq));
    }
    let risk = engine.risk();
    if risk.funds(&account).is_none() {
        return Err(format!("account {account} is not in the configuration"));
    }
    let heading = Heading { account, as_of: AsOf::InputSeq(applied) };
    let format = if args.json { Format::Json } else { Format::Table };
    print!("{}", render(risk, &heading, which, format)?);
    Ok(ExitCode::SUCCESS)
}

/// One view of a known account: every page of the answer the gateway would send,
/// from the same code ([`gateway::answers::answer`]), asked of the replayed engine.
fn render(risk: &RiskEngine, h: &Heading, which: View, format: Format) -> Result<String, String> {
    let (kind, flags) = match which {
        View::Funds => (QueryKind::Funds, 0),
        View::Positions => (QueryKind::Positions, 0),
        View::Orders(OrderFilter::OpenOnly) => (QueryKind::Orders, query_flags::OPEN_ONLY),
        View::Orders(OrderFilter::All) => (QueryKind::Orders, 0),
        View::Fills => (QueryKind::Fills, 0),
    };
    let mut scratch = AnswerScratch::default();
    let mut answers = Vec::new();
    let mut cursor = 0;
    loop {
        let query_id = answers.len() as u64 + 1;
        let query = Query { query_id, kind, account: h.account, cursor, page_size: 0, flags };
        let answer = gateway::answers::answer(risk, &mut scratch, &query, kind.max_rows(), 0);
        if let QueryAnswer::Rejected(r) = answer {
            return Err(format!("the {kind} view of {} was refused: {}", h.account, r.code));
        }
        let next = answer.header().map_or(0, |a| a.next_cursor);
        answers.push(answer);
        if next == 0 {
            return Ok(views::of_answers(h, kind, &answers, format));
        }
        assert!(next > cursor, "a page's cursor moves forward ({cursor} then {next})");
        cursor = next;
    }
}
