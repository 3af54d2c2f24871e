//! One `loadtest run`: the echo baseline, then the gateway, on the same schedule in
//! the same process; then the reconciliation, the verdicts and the files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::driver::{self, FrontDoor, RunResult, RunSpec, Target};
use crate::echo::EchoServer;
use crate::live::{Live, LiveOutput};
use crate::marketdata::summary::{self as md_summary, MdSummary};
use crate::marketdata::{Fleet, MdOptions};
use crate::metrics::{Figures, MetricsServer};
use crate::operator::{Http, InProcess, Operator, OperatorThread};
use crate::report::{self, Machine, Percentiles, Ratios, SideSummary, Summary};
use crate::scenario::Scenario;
use crate::tracker::Kind;
use crate::universe::{self, Universe};

/// How to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Built-in scenario name or a TOML file.
    pub scenario: String,
    /// Multiplies every rate.
    pub rate_scale: f64,
    /// Multiplies every duration.
    pub time_scale: f64,
    /// A running gateway; `None` starts one in-process.
    pub gateway: Option<SocketAddr>,
    /// Its HTTP admin API.
    pub admin: Option<SocketAddr>,
    /// Bearer token for the admin API.
    pub admin_token: Option<String>,
    /// Gateway configuration file naming logins, accounts and instruments.
    pub logins: Option<PathBuf>,
    /// Run the echo baseline first.
    pub baseline: bool,
    /// Output directory; `None` for `reports/<scenario>-<timestamp>`.
    pub out: Option<PathBuf>,
    /// Write the report files.
    pub write_files: bool,
    /// Serve `/metrics` here.
    pub metrics_listen: Option<SocketAddr>,
    /// No progress lines.
    pub quiet: bool,
    /// Override the in-process gateway's topology.
    pub topology: Option<String>,
    /// Override the p99 objective, µs.
    pub p99_us: Option<f64>,
    /// Override the p50 objective, µs.
    pub p50_us: Option<f64>,
    /// Override the p99.99 objective, µs.
    pub p9999_us: Option<f64>,
    /// Pin the generator to the first core and the server (echo, or the in-process
    /// gateway's io thread) to the last, so they never share one.
    pub pin: bool,
    /// The in-process gateway's journal policy: none, async or sync.
    pub durability: Option<String>,
    /// Run the gateway without a journal first, on the same schedule.
    pub compare_durability: bool,
    /// The protocol version the harness logs in with: 1 (the default) or 2, whose
    /// broker answers (OrderPending) are timed beside the venue's.
    pub protocol_version: u8,
    /// The gateway's front door the sessions use (the echo baseline: binary).
    pub front_door: FrontDoor,
    /// Override the flow's share of queries among session actions.
    pub query_share: Option<f64>,
    /// Override the flow's funds-and-positions probe period, ms (0: off).
    pub query_every_ms: Option<u64>,
    /// Run the same schedule without the probe first (in-process gateway), and
    /// report the order answers of both side by side.
    pub compare_query_probe: bool,
    /// With `compare_query_probe`: run the side with the probe first.
    pub probe_first: bool,
    /// Market-data subscribers beside the flow (in-process gateway only).
    pub md: MdOptions,
    /// The command line, for the report.
    pub command: String,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            scenario: "smoke".into(),
            rate_scale: 1.0,
            time_scale: 1.0,
            gateway: None,
            admin: None,
            admin_token: None,
            logins: None,
            baseline: true,
            out: None,
            write_files: true,
            metrics_listen: None,
            quiet: false,
            topology: None,
            p99_us: None,
            p50_us: None,
            p9999_us: None,
            pin: false,
            durability: None,
            compare_durability: false,
            protocol_version: driver::LOGIN_VERSION,
            front_door: FrontDoor::Binary,
            query_share: None,
            query_every_ms: None,
            compare_query_probe: false,
            probe_first: false,
            md: MdOptions::new(),
            command: String::new(),
        }
    }
}

/// What a run produced.
#[derive(Debug)]
pub struct Outcome {
    /// Everything measured.
    pub summary: Summary,
    /// Where the files went.
    pub out_dir: Option<PathBuf>,
    /// The files.
    pub files: Vec<String>,
}

/// Loads and scales the scenario with the options' overrides.
pub fn scenario(o: &Options) -> Result<Scenario, String> {
    if !(o.rate_scale > 0.0 && o.time_scale > 0.0) {
        return Err("--rate-scale and --time-scale must be positive".into());
    }
    let mut s =
        Scenario::load(&o.scenario).map_err(|e| e.to_string())?.scaled(o.rate_scale, o.time_scale);
    if let Some(t) = &o.topology {
        if !["auto", "fused", "pipelined"].contains(&t.as_str()) {
            return Err(format!("--topology: expected auto, fused or pipelined, got {t:?}"));
        }
        s.flow.topology = t.clone();
    }
    if o.p99_us.is_some() {
        s.objectives.p99_us = o.p99_us;
    }
    if o.p50_us.is_some() {
        s.objectives.p50_us = o.p50_us;
    }
    if o.p9999_us.is_some() {
        s.objectives.p9999_us = o.p9999_us;
    }
    if let Some(q) = o.query_share {
        if !(0.0..=1.0).contains(&q) {
            return Err(format!("--query-share: expected 0 to 1, got {q}"));
        }
        s.flow.query_share = q;
    }
    if let Some(ms) = o.query_every_ms {
        s.flow.query_every_ms = ms;
    }
    Ok(s)
}

/// The protocol version a run logs in with: queries need version 3.
fn login_version(o: &Options, s: &Scenario) -> u8 {
    let queries = s.flow.query_share > 0.0 || s.flow.query_every_ms > 0 || o.compare_query_probe;
    if queries {
        o.protocol_version.max(protocol::query::VERSION_QUERIES)
    } else {
        o.protocol_version
    }
}

fn last_core() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).saturating_sub(1)
}

fn run_tag() -> u16 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    ((t ^ (t >> 17) ^ u64::from(std::process::id())) as u16) | 1
}

fn capacity(s: &Scenario, sessions: usize) -> usize {
    let open = sessions * s.flow.max_open_per_session * 2;
    // Room for about three seconds of answers in flight (a venue pause, an ack delay).
    let in_flight = (s.peak_rate_per_s() * 3.0) as usize;
    (open + in_flight + 65_536).min((1 << crate::tracker::SLOT_BITS) - 1)
}

struct Side {
    result: RunResult,
    live: LiveOutput,
}

fn one_run(
    s: &Scenario,
    u: &Universe,
    addr: SocketAddr,
    target: Target,
    operator: Option<Box<dyn Operator>>,
    o: &Options,
    figures: Option<Arc<Mutex<Figures>>>,
) -> Result<Side, String> {
    let label = match target {
        Target::Gateway => "gateway",
        Target::Echo => "baseline",
    };
    if let Some(f) = &figures
        && let Ok(mut f) = f.lock()
    {
        f.restart(label);
    }
    let live = Live::start(label.to_owned(), o.quiet, figures.clone());
    let spec = RunSpec {
        scenario: s,
        universe: u,
        addr,
        target,
        operator: operator.map(OperatorThread::start),
        intervals: live.sender(),
        tag: run_tag(),
        capacity: capacity(s, u.logins.len()),
        pin_core: o.pin.then_some(0),
        protocol_version: match target {
            Target::Gateway => login_version(o, s),
            Target::Echo => driver::LOGIN_VERSION,
        },
        front_door: match target {
            Target::Gateway => o.front_door,
            Target::Echo => FrontDoor::Binary,
        },
    };
    let result = driver::run(spec).map_err(|e| format!("{label} run: {e}"));
    let live = live.finish();
    if let Some(f) = &figures
        && let Ok(mut f) = f.lock()
    {
        f.stopped();
    }
    Ok(Side { result: result?, live })
}

fn side_summary(target: &str, side: &Side) -> SideSummary {
    let r = &side.result;
    let t = &r.tracker;
    let profile: Vec<_> = side.live.intervals.iter().filter(|i| i.phase == "profile").collect();
    let dt: f64 = profile.iter().map(|i| i.dt_s).sum();
    let sent: f64 = profile.iter().map(|i| i.achieved_rate_per_s * i.dt_s).sum();
    let knee = if r.ladder.iter().any(|st| !st.passed) {
        r.ladder
            .iter()
            .filter(|st| st.passed)
            .map(|st| st.rate_per_s)
            .fold(None, |a: Option<f64>, b| Some(a.map_or(b, |a| a.max(b))))
    } else {
        None
    };
    SideSummary {
        target: target.to_owned(),
        answer: Percentiles::of(&t.lat.answer),
        order_ack: Percentiles::of(&t.lat.order),
        cancel: Percentiles::of(&t.lat.cancel),
        replace: Percentiles::of(&t.lat.replace),
        fill: Percentiles::of(&t.lat.fill),
        to_stamp: Percentiles::of(&t.lat.to_stamp),
        broker: Percentiles::of(&t.lat.broker),
        from_stamp: Percentiles::of(&t.lat.from_stamp),
        schedule_lag: Percentiles::of(&r.lag),
        profile_s: r.profile_s,
        intended_rate_per_s: r.scheduled as f64 / r.profile_s.max(1e-9),
        achieved_rate_per_s: if dt > 0.0 { sent / dt } else { 0.0 },
        peak_rate_per_s: profile.iter().map(|i| i.achieved_rate_per_s).fold(0.0, f64::max),
        counts: t.counts.clone(),
        dropped_no_session: r.dropped_no_session,
        backpressure_events: r.backpressure_events,
        reconnects: r.reconnects,
        problems: r.problems.clone(),
        unanswered_sample: r
            .unanswered_sample
            .iter()
            .map(|(id, k, s)| {
                let k = match k {
                    Kind::Order => "order",
                    Kind::Cancel => "cancel",
                    Kind::Replace => "replace",
                    Kind::Mass => "mass cancel",
                };
                (*id, k.to_owned(), *s)
            })
            .collect(),
        intervals: side.live.intervals.clone(),
        events: r.events.clone(),
        ladder: r.ladder.clone(),
        knee_rate_per_s: knee,
        query: Percentiles::of(&r.query_latency),
        queries: r.queries.clone(),
    }
}

/// Runs an in-process gateway with `config` (its journal, if any, in a temporary
/// directory removed afterwards) through the scenario; with `md`, market-data
/// subscribers run beside the flow and are reconciled with the venue after it.
fn in_process(
    s: &Scenario,
    universe: &Universe,
    config: &gateway::GatewayConfig,
    o: &Options,
    figures: &Arc<Mutex<Figures>>,
    md: Option<&MdOptions>,
) -> Result<(String, Side, Option<MdSummary>), String> {
    let mut config = config.clone();
    let journal = (config.journal.durability != gateway::config::Durability::None).then(|| {
        std::env::temp_dir().join(format!("loadtest-journal-{}-{}", std::process::id(), run_tag()))
    });
    if let Some(dir) = &journal {
        config.journal.dir = dir.clone();
    }
    let running = gateway::start(&config).map_err(|e| format!("in-process gateway: {e}"))?;
    let mut desc = format!(
        "in-process, {:?} topology, io wait {:?}, engine wait {:?}, durability {:?}, {} door",
        running.resolved.topology,
        running.resolved.io_wait,
        running.resolved.engine_wait,
        config.journal.durability,
        if o.front_door == FrontDoor::Fix { "FIX" } else { "binary" }
    );
    let addr = match o.front_door {
        FrontDoor::Binary => running.addr(),
        FrontDoor::Fix => running.fix_addr().ok_or("the generated configuration has no [fix]")?,
    };
    let fleet = match md {
        Some(md) => {
            let md_addr =
                running.md_addr().ok_or("the generated configuration has no [marketdata]")?;
            // Each subscriber thread lives at most as long as the driver may (warm-up,
            // profile, three drain windows and 30 s), the catch-up, and a margin.
            let run_for =
                std::time::Duration::from_nanos(s.warmup_ns + s.duration_ns() + 3 * s.drain_ns)
                    + 2 * crate::marketdata::CATCH_UP_TIMEOUT
                    + std::time::Duration::from_secs(90);
            desc.push_str(&format!("; market data on {md_addr}"));
            Some(Fleet::start(md, md_addr, universe, run_for)?)
        }
        None => None,
    };
    let op: Box<dyn Operator> = Box::new(InProcess::new(running.admin()));
    let side = one_run(s, universe, addr, Target::Gateway, Some(op), o, Some(Arc::clone(figures)));
    let fleet = fleet.map(Fleet::finish);
    let syncs = running.journal_progress.syncs.load(std::sync::atomic::Ordering::Relaxed);
    let commits = running.journal_progress.commit_times.snapshot();
    let stopped = running.shutdown().map_err(|e| format!("in-process gateway shutdown: {e}"))?;
    // The venue as the gateway left it is the truth the books are held against.
    let md_run = fleet.map(|f| md_summary::summarize(f, stopped.sequencer.engine().exchange()));
    if let Some(dir) = &journal {
        // What the disk gave: the group commits the answers waited for.
        let us = |q: f64| commits.value_at_quantile(q) as f64 / 1e3;
        desc.push_str(&format!(
            "; journal: {syncs} group commits, commit (write + fdatasync) p50 {:.0} µs, \
             p99 {:.0} µs, p99.9 {:.0} µs, max {:.0} µs",
            us(0.5),
            us(0.99),
            us(0.999),
            commits.max() as f64 / 1e3
        ));
        if !o.quiet {
            eprintln!("journal: {syncs} group commits (fdatasync) in {}", dir.display());
        }
        let _ = std::fs::remove_dir_all(dir);
    }
    Ok((desc, side?, md_run))
}

/// Runs the scenario (baseline first, then the gateway) and writes the report.
pub fn run(o: &Options) -> Result<Outcome, String> {
    let s = scenario(o)?;
    let machine = Machine::detect();
    let started_unix_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // The universe: generated for an in-process gateway, read for a running one.
    let (universe, config) = match o.gateway {
        None => {
            let mut text = universe::generate_gateway_toml_pinned(&s, o.pin.then(last_core));
            if o.md.total() > 0 {
                text = o.md.enable_in(&text);
            }
            if o.front_door == FrontDoor::Fix {
                text.push_str(&crate::fixwire::fix_section(&universe::login_names(&s)));
            }
            // One parse, by the gateway's own parser: the gateway starts from this
            // value and the flow's universe is read from it.
            let config = gateway::GatewayConfig::from_toml_str(&text, "<generated>")
                .map_err(|e| format!("generated gateway configuration: {e}"))?;
            (Universe::from_config(&config)?, Some(config))
        }
        Some(_) => {
            let (text, file) = match &o.logins {
                Some(p) => (
                    std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
                    p.display().to_string(),
                ),
                None => (gateway::config::DEMO_TOML.to_owned(), "<demo>".to_owned()),
            };
            (Universe::from_gateway_toml(&text, &file)?, None)
        }
    };
    let figures = Arc::new(Mutex::new(Figures::new(&s.name, "starting")));
    let _metrics = match o.metrics_listen {
        Some(addr) => {
            let m = MetricsServer::start(addr, Arc::clone(&figures))
                .map_err(|e| format!("--metrics-listen {addr}: {e}"))?;
            if !o.quiet {
                eprintln!("metrics on http://{}/metrics", m.addr());
            }
            Some(m)
        }
        None => None,
    };
    let baseline = if o.baseline {
        let echo =
            EchoServer::start(o.pin.then(last_core)).map_err(|e| format!("echo server: {e}"))?;
        let side =
            one_run(&s, &universe, echo.addr(), Target::Echo, None, o, Some(Arc::clone(&figures)))?;
        echo.stop().map_err(|e| format!("echo server: {e}"))?;
        Some(side)
    } else {
        None
    };
    let mut no_journal = None;
    let mut no_probe = None;
    if o.probe_first && !o.compare_query_probe {
        return Err("--probe-first only orders the two sides of --compare-query-probe".into());
    }
    if o.compare_query_probe && (o.gateway.is_some() || s.flow.query_every_ms == 0) {
        return Err("--compare-query-probe needs --query-every-ms (or a scenario's \
                    query_every_ms) and an in-process gateway"
            .into());
    }
    let config = match (config, &o.durability) {
        (Some(mut config), Some(d)) => {
            config.journal.durability = match d.as_str() {
                "none" => gateway::config::Durability::None,
                "async" => gateway::config::Durability::Async,
                "sync" => gateway::config::Durability::Sync,
                _ => return Err(format!("--durability: expected none, async or sync, got {d:?}")),
            };
            Some(config)
        }
        (config, _) => config,
    };
    if o.compare_durability
        && config.as_ref().is_none_or(|c| c.journal.durability == gateway::config::Durability::None)
    {
        return Err("--compare-durability needs --durability async or sync and an in-process \
                    gateway"
            .into());
    }
    let md = (o.md.total() > 0).then_some(&o.md);
    if let Some(md) = md {
        md.validate()?;
        if o.gateway.is_some() {
            return Err("--md-fast, --md-slow and --md-l1 need an in-process gateway".into());
        }
    }
    let (gateway_desc, side, market_data) = match (o.gateway, config) {
        (None, Some(config)) => {
            if o.compare_durability {
                let mut plain = config.clone();
                plain.journal.durability = gateway::config::Durability::None;
                no_journal = Some(in_process(&s, &universe, &plain, o, &figures, None)?.1);
            }
            if o.compare_query_probe {
                let mut unprobed = s.clone();
                unprobed.flow.query_every_ms = 0;
                // Whichever side runs first pays the process's warm-up (page faults,
                // cold caches, the allocator's first arenas); --probe-first swaps the
                // order so that a reader can see how much of a ratio that is.
                if o.probe_first {
                    let probed = in_process(&s, &universe, &config, o, &figures, md)?;
                    no_probe =
                        Some(in_process(&unprobed, &universe, &config, o, &figures, None)?.1);
                    probed
                } else {
                    no_probe =
                        Some(in_process(&unprobed, &universe, &config, o, &figures, None)?.1);
                    in_process(&s, &universe, &config, o, &figures, md)?
                }
            } else {
                in_process(&s, &universe, &config, o, &figures, md)?
            }
        }
        (Some(addr), _) => {
            let op: Option<Box<dyn Operator>> = o.admin.map(|a| {
                Box::new(Http::new(a, o.admin_token.clone().unwrap_or_default()))
                    as Box<dyn Operator>
            });
            let desc = match o.admin {
                Some(a) => format!("running gateway at {addr}, admin API at {a}"),
                None => {
                    format!("running gateway at {addr} (no admin API: operator events skipped)")
                }
            };
            (
                desc,
                one_run(&s, &universe, addr, Target::Gateway, op, o, Some(Arc::clone(&figures)))?,
                None,
            )
        }
        (None, None) => unreachable!("a configuration is generated when no gateway is given"),
    };
    let gateway_run = side_summary("gateway", &side);
    let baseline_run = baseline.as_ref().map(|b| side_summary("echo baseline", b));
    let ratio_to_baseline =
        baseline_run.as_ref().map(|b| Ratios::of(&gateway_run.answer, &b.answer));
    let no_journal_run = no_journal.as_ref().map(|n| side_summary("gateway, no journal", n));
    let ratio_to_no_journal =
        no_journal_run.as_ref().map(|n| Ratios::of(&gateway_run.answer, &n.answer));
    let no_probe_run = no_probe.as_ref().map(|n| side_summary("gateway, no query probe", n));
    let ratio_to_no_probe =
        no_probe_run.as_ref().map(|n| Ratios::of(&gateway_run.order_ack, &n.order_ack));
    let mut verdicts = report::judge(&s.objectives, &gateway_run);
    if let Some(m) = &market_data {
        let r = &m.reconciliation;
        verdicts.push(report::Verdict {
            objective: "market data: every rebuilt book equals the venue's".into(),
            limit: "0 problems".into(),
            measured: format!("{} problems", r.problem_count),
            met: r.passed,
        });
    }
    let passed = verdicts.iter().all(|v| v.met);
    let (sessions, per) = universe::sizing(&s);
    let universe_desc = match o.gateway {
        None => format!(
            "{sessions} sessions × {per} trading accounts (+2 special each); {}",
            universe::describe(&universe)
        ),
        Some(_) => universe::describe(&universe),
    };
    let summary = Summary {
        scenario: s.name.clone(),
        description: s.description.clone(),
        command: o.command.clone(),
        started_unix_s,
        base_rate_per_s: s.base_rate_per_s,
        rate_scale: o.rate_scale,
        time_scale: o.time_scale,
        machine,
        gateway: gateway_desc,
        universe: universe_desc,
        gateway_run,
        baseline_run,
        ratio_to_baseline,
        no_journal_run,
        ratio_to_no_journal,
        no_probe_run,
        ratio_to_no_probe,
        objectives: s.objectives,
        verdicts,
        passed,
        market_data,
        load_end: report::load_average(),
    };
    let mut out_dir = None;
    let mut files = Vec::new();
    if o.write_files {
        let dir = o.out.clone().unwrap_or_else(|| {
            PathBuf::from("reports").join(format!("{}-{}", s.name, started_unix_s))
        });
        files = report::write_all(
            &dir,
            &summary,
            (&side.result.tracker.lat.answer, &side.live.hlog),
            baseline.as_ref().map(|b| (&b.result.tracker.lat.answer, b.live.hlog.as_slice())),
        )
        .map_err(|e| format!("{}: {e}", dir.display()))?;
        out_dir = Some(dir);
    }
    Ok(Outcome { summary, out_dir, files })
}
