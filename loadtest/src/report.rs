//! The run's summary and its files: a table on the terminal, `summary.json`, HDR
//! percentile distributions (`.hgrm`), interval logs (`.hlog`) and one
//! self-contained `report.html` with inline SVG charts.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use protocol::RejectCode;
use serde::Serialize;

use crate::driver::{EventRecord, LadderStep};
use crate::live::IntervalStats;
use crate::queries::QueryCounts;
use crate::scenario::Objectives;
use crate::tracker::Counts;

pub use crate::percentiles::Percentiles;

mod html;
pub use html::html;

/// One side of the run (the gateway, or the echo baseline).
#[derive(Clone, Debug, Serialize)]
pub struct SideSummary {
    /// `gateway` or `echo baseline`.
    pub target: String,
    /// Every first answer.
    pub answer: Percentiles,
    /// OrderAccepted / OrderRejected.
    pub order_ack: Percentiles,
    /// Cancels.
    pub cancel: Percentiles,
    /// Replaces.
    pub replace: Percentiles,
    /// Intended send to the terminal state, for orders priced to trade at once.
    pub fill: Percentiles,
    /// Orders: intended send to the server's time stamp (way in and server work).
    pub to_stamp: Percentiles,
    /// Orders: the server's time stamp to arrival (way out).
    pub from_stamp: Percentiles,
    /// Orders on a version 2 stream: the broker's answer (OrderPending), before
    /// the venue's (`order_ack`). Empty with version 1.
    pub broker: Percentiles,
    /// Schedule lag.
    pub schedule_lag: Percentiles,
    /// Profile length, s.
    pub profile_s: f64,
    /// Scheduled messages per second over the profile.
    pub intended_rate_per_s: f64,
    /// Messages written per second over the profile.
    pub achieved_rate_per_s: f64,
    /// Highest one-second achieved rate.
    pub peak_rate_per_s: f64,
    /// Counts and reconciliation.
    pub counts: Counts,
    /// Messages the schedule produced that no session could take.
    pub dropped_no_session: u64,
    /// Times the gateway's socket was full.
    pub backpressure_events: u64,
    /// Reconnects.
    pub reconnects: u64,
    /// Problems found.
    pub problems: Vec<String>,
    /// First unanswered requests: (id, kind, session).
    pub unanswered_sample: Vec<(u64, String, u16)>,
    /// Per-interval figures.
    pub intervals: Vec<IntervalStats>,
    /// Timed events.
    pub events: Vec<EventRecord>,
    /// Headroom ladder steps.
    pub ladder: Vec<LadderStep>,
    /// The knee: highest ladder rate whose p99 met the objective.
    pub knee_rate_per_s: Option<f64>,
    /// Query answers (version 3): intended send to answer, every page.
    pub query: Percentiles,
    /// Queries sent and answered, and the reconciliation of their answers.
    pub queries: QueryCounts,
}

/// The machine.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cores: usize,
    /// CPU model from /proc/cpuinfo.
    pub cpu_model: String,
    /// 1-minute load average at the start.
    pub load_start: String,
    /// Kernel.
    pub kernel: String,
}

impl Machine {
    /// Reads /proc.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, m)| m.trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            cpu_model,
            load_start: load_average(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_default(),
        }
    }
}

/// The load averages from /proc/loadavg.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// An objective and whether it was met.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// What.
    pub objective: String,
    /// Limit.
    pub limit: String,
    /// Measured.
    pub measured: String,
    /// Met.
    pub met: bool,
}

/// Everything about a run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// Command line.
    pub command: String,
    /// Unix time of the start, s.
    pub started_unix_s: u64,
    /// Base rate after scaling.
    pub base_rate_per_s: f64,
    /// Scales applied.
    pub rate_scale: f64,
    /// Time scale applied.
    pub time_scale: f64,
    /// The machine.
    pub machine: Machine,
    /// Gateway: in-process with its topology, or the address.
    pub gateway: String,
    /// Sessions, accounts, instruments.
    pub universe: String,
    /// The gateway run.
    pub gateway_run: SideSummary,
    /// The echo baseline, same schedule, same process.
    pub baseline_run: Option<SideSummary>,
    /// Gateway ÷ baseline, per percentile.
    pub ratio_to_baseline: Option<Ratios>,
    /// `--compare-durability`: the same schedule through a gateway without a
    /// journal (`durability = "none"`), run before the journaled one.
    pub no_journal_run: Option<SideSummary>,
    /// Journaled gateway ÷ the same without a journal, per percentile.
    pub ratio_to_no_journal: Option<Ratios>,
    /// `--compare-query-probe`: the same schedule through the same kind of gateway
    /// without the funds-and-positions probe, run before the probed one.
    pub no_probe_run: Option<SideSummary>,
    /// With the probe ÷ without it, order answers, per percentile.
    pub ratio_to_no_probe: Option<Ratios>,
    /// Objectives.
    pub objectives: Objectives,
    /// Verdicts.
    pub verdicts: Vec<Verdict>,
    /// All objectives met and no reconciliation problem.
    pub passed: bool,
    /// Market-data subscribers beside the flow (`--md-*`), and their reconciliation.
    pub market_data: Option<crate::marketdata::summary::MdSummary>,
    /// Load averages at the end.
    pub load_end: String,
}

/// Latency ratios, gateway over baseline.
#[derive(Clone, Debug, Serialize)]
pub struct Ratios {
    /// p50.
    pub p50: f64,
    /// p90.
    pub p90: f64,
    /// p99.
    pub p99: f64,
    /// p99.9.
    pub p999: f64,
}

impl Ratios {
    /// Gateway over baseline.
    pub fn of(g: &Percentiles, b: &Percentiles) -> Ratios {
        let r = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        Ratios {
            p50: r(g.p50_us, b.p50_us),
            p90: r(g.p90_us, b.p90_us),
            p99: r(g.p99_us, b.p99_us),
            p999: r(g.p999_us, b.p999_us),
        }
    }
}

/// Checks the objectives; returns the verdicts.
pub fn judge(o: &Objectives, g: &SideSummary) -> Vec<Verdict> {
    let mut v = Vec::new();
    let mut lat = |name: &str, limit: Option<f64>, got: f64| {
        if let Some(l) = limit {
            v.push(Verdict {
                objective: format!("{name} answer latency"),
                limit: format!("≤ {l} µs"),
                measured: format!("{got:.1} µs"),
                met: got <= l && g.answer.count > 0,
            });
        }
    };
    lat("p50", o.p50_us, g.answer.p50_us);
    lat("p99", o.p99_us, g.answer.p99_us);
    lat("p99.9", o.p999_us, g.answer.p999_us);
    lat("p99.99", o.p9999_us, g.answer.p9999_us);
    let mut count = |name: &str, limit: Option<u64>, got: u64| {
        if let Some(l) = limit {
            v.push(Verdict {
                objective: name.to_owned(),
                limit: format!("≤ {l}"),
                measured: got.to_string(),
                met: got <= l,
            });
        }
    };
    count("lost", o.max_lost, g.counts.lost);
    count("unanswered", o.max_unanswered, g.counts.unanswered);
    v.push(Verdict {
        objective: "reconciliation (duplicates, gaps, unknown ids, still open)".into(),
        limit: "none".into(),
        measured: if g.problems.is_empty() { "none".into() } else { g.problems.join("; ") },
        met: g.problems.is_empty(),
    });
    v
}

fn code_name(code: u16) -> String {
    format!("{code} {}", RejectCode(code).name().unwrap_or("undefined"))
}

/// The terminal table.
pub fn table(s: &Summary) -> String {
    let mut o = String::new();
    let g = &s.gateway_run;
    let _ = writeln!(o, "\n== {} ==  {}", s.scenario, s.description);
    let _ = writeln!(
        o,
        "machine: {} cores, {}; load {} -> {}; gateway: {}",
        s.machine.cores, s.machine.cpu_model, s.machine.load_start, s.load_end, s.gateway
    );
    let _ = writeln!(o, "universe: {}", s.universe);
    let _ = writeln!(
        o,
        "\n{:<22} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "latency (µs)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max"
    );
    let mut row = |name: &str, p: &Percentiles| {
        let _ = writeln!(
            o,
            "{:<22} {:>10} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            name, p.count, p.p50_us, p.p90_us, p.p99_us, p.p999_us, p.p9999_us, p.max_us
        );
    };
    row("gateway: any answer", &g.answer);
    row("  order ack/reject", &g.order_ack);
    if g.broker.count > 0 {
        row("  order broker answer", &g.broker);
    }
    row("  cancel", &g.cancel);
    row("  replace", &g.replace);
    row("  marketable→terminal", &g.fill);
    row("  send→server stamp", &g.to_stamp);
    row("  server stamp→recv", &g.from_stamp);
    row("  schedule lag", &g.schedule_lag);
    if let Some(b) = &s.baseline_run {
        row("echo baseline: answer", &b.answer);
        row("  send→server stamp", &b.to_stamp);
        row("  server stamp→recv", &b.from_stamp);
        row("  schedule lag", &b.schedule_lag);
    }
    if g.queries.sent > 0 {
        row("  query answer", &g.query);
    }
    if let Some(n) = &s.no_journal_run {
        row("no journal: answer", &n.answer);
        row("  schedule lag", &n.schedule_lag);
    }
    if let Some(n) = &s.no_probe_run {
        row("no query probe: answer", &n.answer);
        row("  schedule lag", &n.schedule_lag);
    }
    if let Some(r) = &s.ratio_to_baseline {
        let _ = writeln!(
            o,
            "{:<22} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            "gateway / baseline", "", r.p50, r.p90, r.p99, r.p999
        );
    }
    if let Some(r) = &s.ratio_to_no_journal {
        let _ = writeln!(
            o,
            "{:<22} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            "gateway / no journal", "", r.p50, r.p90, r.p99, r.p999
        );
    }
    if let Some(r) = &s.ratio_to_no_probe {
        let _ = writeln!(
            o,
            "{:<22} {:>10} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            "probe / no probe", "", r.p50, r.p90, r.p99, r.p999
        );
    }
    if g.queries.sent > 0 {
        let _ = writeln!(o, "{}", queries_line(&g.queries));
    }
    let _ = writeln!(
        o,
        "\nrate: intended {:.0}/s, achieved {:.0}/s (peak second {:.0}/s) over {:.1} s",
        g.intended_rate_per_s, g.achieved_rate_per_s, g.peak_rate_per_s, g.profile_s
    );
    let c = &g.counts;
    let _ = writeln!(
        o,
        "sent: {} orders ({} confirmations, {} resent), {} cancels, {} replaces, {} mass cancels",
        c.orders_sent,
        c.confirmations_sent,
        c.resent,
        c.cancels_sent,
        c.replaces_sent,
        c.mass_cancels_sent
    );
    let rejected: u64 = c.rejected.values().sum();
    let _ = writeln!(
        o,
        "orders: {} accepted ({} with confirmation), {} rejected, {} filled, {} partially filled, {} executions",
        c.accepted,
        c.accepted_with_confirmation,
        rejected,
        c.filled,
        c.partially_filled,
        c.executions
    );
    for (code, n) in &c.rejected {
        let _ = writeln!(o, "  rejected {:<40} {n}", code_name(*code));
    }
    for (reason, n) in &c.canceled {
        let _ = writeln!(o, "  canceled {reason:<40} {n}");
    }
    for (code, n) in &c.cancel_rejected {
        let _ = writeln!(o, "  cancel/replace refused {:<25} {n}", code_name(*code));
    }
    let _ = writeln!(
        o,
        "reconciliation: unanswered {}, lost {}, still open {}, duplicates {}, gaps {}, repeats {}, unknown ids {}, reconnects {}",
        c.unanswered,
        c.lost,
        c.still_open,
        c.duplicate_answers + c.duplicate_terminals,
        c.seq_gaps,
        c.repeats,
        c.unknown_ids,
        g.reconnects
    );
    if !g.ladder.is_empty() {
        let _ = writeln!(o, "\nheadroom ladder:");
        for st in &g.ladder {
            let _ = writeln!(
                o,
                "  {:>10.0}/s  p99 {:>9.1} µs  {}",
                st.rate_per_s,
                st.p99_us,
                if st.passed { "ok" } else { "over the objective" }
            );
        }
        match g.knee_rate_per_s {
            Some(k) => {
                let _ = writeln!(o, "  knee: {k:.0}/s");
            }
            None if g.ladder.iter().any(|st| !st.passed) => {
                let _ = writeln!(o, "  knee: below the first step");
            }
            None => {
                let _ = writeln!(o, "  knee: not reached within the ladder");
            }
        }
    }
    for e in &g.events {
        let _ = writeln!(o, "event t={:>6.2}s {} -> {}", e.t_s, e.what, e.result);
    }
    if let Some(m) = &s.market_data {
        o.push_str(&crate::marketdata::summary::table(m));
    }
    let _ = writeln!(o, "\nobjectives:");
    for v in &s.verdicts {
        let _ = writeln!(
            o,
            "  [{}] {:<60} limit {:<12} measured {}",
            if v.met { "ok" } else { "MISSED" },
            v.objective,
            v.limit,
            v.measured
        );
    }
    let _ = writeln!(o, "result: {}", if s.passed { "PASS" } else { "FAIL" });
    o
}

/// The HdrHistogram percentile distribution text (values in ms, as the plotters expect).
pub fn hgrm(h: &Histogram<u64>) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if h.is_empty() {
        return o;
    }
    for v in h.iter_quantiles(5) {
        let q = v.quantile_iterated_to();
        let inv = if q < 1.0 { format!("{:>14.2}", 1.0 / (1.0 - q)) } else { String::new() };
        let _ = writeln!(
            o,
            "{:>12.6} {:>2.12} {:>10} {}",
            v.value_iterated_to() as f64 / 1e6,
            q,
            v.count_since_last_iteration(),
            inv
        );
    }
    let _ = writeln!(
        o,
        "#[Mean    = {:>12.6}, StdDeviation   = {:>12.6}]",
        h.mean() / 1e6,
        h.stdev() / 1e6
    );
    let _ = writeln!(
        o,
        "#[Max     = {:>12.6}, Total count    = {:>12}]",
        h.max() as f64 / 1e6,
        h.len()
    );
    let _ = writeln!(
        o,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        h.distinct_values()
    );
    o
}

/// Writes every file into `dir`.
pub fn write_all(
    dir: &Path,
    s: &Summary,
    gateway: (&Histogram<u64>, &[u8]),
    baseline: Option<(&Histogram<u64>, &[u8])>,
) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> std::io::Result<()> {
        std::fs::write(dir.join(name), bytes)?;
        written.push(dir.join(name).display().to_string());
        Ok(())
    };
    put(
        "summary.json",
        serde_json::to_string_pretty(s).map_err(std::io::Error::other)?.as_bytes(),
    )?;
    put("latency.hgrm", hgrm(gateway.0).as_bytes())?;
    put("latency.hlog", gateway.1)?;
    let base = baseline.map(|(h, log)| (hgrm(h), log));
    if let Some((text, log)) = &base {
        put("baseline.hgrm", text.as_bytes())?;
        put("baseline.hlog", log)?;
    }
    put("summary.txt", table(s).as_bytes())?;
    put("report.html", html(s, gateway.0, baseline.map(|b| b.0)).as_bytes())?;
    Ok(written)
}

/// The queries' counts and their reconciliation in one sentence.
fn queries_line(q: &QueryCounts) -> String {
    let refused: u64 = q.refused.values().sum();
    let c = &q.checks;
    let mut line = format!(
        "queries: {} sent, {} answered, {refused} refused {:?}, {} unanswered, {} lost with their connection; \
         reconciled: {} funds answers and {} position rows, {} mismatches, {} stale",
        q.sent,
        q.answered,
        q.refused,
        q.unanswered,
        q.lost_with_connection,
        c.funds_checked,
        c.position_rows_checked,
        c.mismatches,
        q.stale
    );
    for m in &c.mismatch_sample {
        line.push_str("; ");
        line.push_str(m);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::new_histogram;

    fn side(h: &Histogram<u64>) -> SideSummary {
        let mut counts = Counts::default();
        counts.rejected.insert(3017, 12);
        counts.rejected.insert(4002, 3);
        counts.canceled.insert("client".into(), 7);
        SideSummary {
            target: "gateway".into(),
            answer: Percentiles::of(h),
            order_ack: Percentiles::of(h),
            cancel: Percentiles::default(),
            replace: Percentiles::default(),
            fill: Percentiles::default(),
            to_stamp: Percentiles::default(),
            from_stamp: Percentiles::default(),
            broker: Percentiles::default(),
            schedule_lag: Percentiles::default(),
            profile_s: 10.0,
            intended_rate_per_s: 1000.0,
            achieved_rate_per_s: 999.0,
            peak_rate_per_s: 1010.0,
            counts,
            dropped_no_session: 0,
            backpressure_events: 0,
            reconnects: 0,
            problems: vec![],
            unanswered_sample: vec![],
            intervals: (0..10)
                .map(|i| IntervalStats {
                    t_s: f64::from(i),
                    dt_s: 1.0,
                    intended_rate_per_s: 1000.0,
                    achieved_rate_per_s: 990.0 + f64::from(i),
                    answered_per_s: 990.0,
                    in_flight: 1,
                    open_orders: 10,
                    p50_us: 30.0,
                    p90_us: 40.0,
                    p99_us: 60.0,
                    p999_us: 90.0,
                    max_us: 200.0,
                    lag_p99_us: 2.0,
                    lag_max_us: 5.0,
                    phase: "profile".into(),
                })
                .collect(),
            events: vec![EventRecord { t_s: 3.0, what: "halt".into(), result: "ok".into() }],
            ladder: vec![],
            knee_rate_per_s: None,
            query: Percentiles::default(),
            queries: QueryCounts::default(),
        }
    }

    fn summary(h: &Histogram<u64>) -> Summary {
        let g = side(h);
        let objectives =
            Objectives { p99_us: Some(100.0), max_lost: Some(0), ..Objectives::default() };
        let verdicts = judge(&objectives, &g);
        Summary {
            scenario: "t<1>".into(),
            description: "a test".into(),
            command: "loadtest run t".into(),
            started_unix_s: 0,
            base_rate_per_s: 1000.0,
            rate_scale: 1.0,
            time_scale: 1.0,
            machine: Machine::detect(),
            gateway: "in-process".into(),
            universe: "u".into(),
            ratio_to_baseline: Some(Ratios::of(&g.answer, &g.answer)),
            no_journal_run: None,
            ratio_to_no_journal: None,
            no_probe_run: None,
            ratio_to_no_probe: None,
            baseline_run: Some(g.clone()),
            gateway_run: g,
            objectives,
            passed: verdicts.iter().all(|v| v.met),
            market_data: None,
            verdicts,
            load_end: String::new(),
        }
    }

    #[test]
    fn hgrm_has_the_standard_shape() {
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v * 1_000).unwrap();
        }
        let text = hgrm(&h);
        assert!(
            text.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"),
            "{text}"
        );
        assert!(
            text.contains("#[Max     =     1.000447, Total count    =         1000]"),
            "{text}"
        );
        let last_value: f64 = text
            .lines()
            .rfind(|l| !l.starts_with('#') && !l.trim().is_empty())
            .and_then(|l| l.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap();
        assert!((last_value - 1.0).abs() < 0.01, "{last_value}");
    }

    #[test]
    fn verdicts_and_ratios() {
        let mut h = new_histogram();
        for v in [10_000u64, 20_000, 30_000, 500_000] {
            h.record(v).unwrap();
        }
        let mut s = summary(&h);
        assert!(!s.passed, "p99 of 500 µs misses a 100 µs objective");
        s.gateway_run.counts.lost = 1;
        let v = judge(&s.objectives, &s.gateway_run);
        assert!(v.iter().any(|v| v.objective == "lost" && !v.met));
        let r = Ratios::of(
            &Percentiles { p50_us: 30.0, ..Default::default() },
            &Percentiles { p50_us: 20.0, ..Default::default() },
        );
        assert_eq!(r.p50, 1.5);
    }

    #[test]
    fn files_are_written_and_the_html_is_self_contained() {
        let mut h = new_histogram();
        for v in 1..=500u64 {
            h.record(v * 997).unwrap();
        }
        let s = summary(&h);
        let dir = std::env::temp_dir().join(format!("lt-report-{}", std::process::id()));
        let files = write_all(&dir, &s, (&h, b"#log\n"), Some((&h, b"#log\n"))).unwrap();
        assert_eq!(files.len(), 7);
        let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
        assert!(html.contains("<svg") && html.contains("t&lt;1&gt;"));
        assert!(
            !html.contains("<script") && !html.contains("http://") && !html.contains("https://")
        );
        assert!(html.contains("3017 price_limit"));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap())
                .unwrap();
        assert_eq!(json["gateway_run"]["counts"]["rejected"]["3017"], 12);
        let table = table(&s);
        assert!(table.contains("gateway / baseline") && table.contains("MISSED"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
