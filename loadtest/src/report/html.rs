//! The self-contained `report.html`: the summary's tables and inline SVG charts
//! (timeline, latency distribution beside the baseline, rejects).

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::*;

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const W: f64 = 960.0;
const PAD_L: f64 = 70.0;
const PAD_R: f64 = 70.0;
const PAD_T: f64 = 20.0;
const PAD_B: f64 = 40.0;

struct Axis {
    lo: f64,
    hi: f64,
    log: bool,
}

impl Axis {
    fn map(&self, v: f64, a: f64, b: f64) -> f64 {
        let (lo, hi, v) = if self.log {
            (self.lo.max(1e-9).log10(), self.hi.max(1e-9).log10(), v.max(self.lo).max(1e-9).log10())
        } else {
            (self.lo, self.hi, v)
        };
        let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
        a + (b - a) * f.clamp(0.0, 1.0)
    }
}

fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut t = Vec::new();
    let mut v = 10f64.powf(lo.max(1e-3).log10().floor());
    while v <= hi * 1.0001 {
        if v >= lo * 0.9999 {
            t.push(v);
        }
        v *= 10.0;
    }
    t
}

fn lin_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= n as f64)
        .unwrap_or(mag * 10.0);
    let mut t = Vec::new();
    let mut v = (lo / step).ceil() * step;
    while v <= hi + 1e-9 {
        t.push(v);
        v += step;
    }
    t
}

fn fmt_us(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.0} s", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0} ms", v / 1e3)
    } else {
        format!("{v:.0} µs")
    }
}

fn fmt_rate(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.0}k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

fn polyline(o: &mut String, pts: &[(f64, f64)], color: &str, width: f64, dash: &str) {
    if pts.is_empty() {
        return;
    }
    let d: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
    let _ = write!(
        o,
        "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"{width}\" stroke-dasharray=\"{dash}\" points=\"{}\"/>",
        d.join(" ")
    );
}

/// Latency percentiles over time (log scale) with intended and achieved rate.
fn chart_timeline(s: &SideSummary) -> String {
    let iv: Vec<&IntervalStats> = s
        .intervals
        .iter()
        .filter(|i| i.phase == "profile" || i.phase == "drain" || i.phase == "teardown")
        .collect();
    let h = 360.0;
    let mut o = format!("<svg viewBox=\"0 0 {W} {h}\" class=\"chart\" role=\"img\">");
    if iv.is_empty() {
        o.push_str("<text x=\"20\" y=\"40\">no intervals</text></svg>");
        return o;
    }
    let t0 = iv.first().map_or(0.0, |i| i.t_s);
    let t1 = iv.last().map_or(1.0, |i| i.t_s + i.dt_s).max(t0 + 1.0);
    let x = Axis { lo: t0, hi: t1, log: false };
    let max_lat = iv.iter().map(|i| i.max_us).fold(1.0, f64::max);
    let min_lat = iv.iter().filter(|i| i.p50_us > 0.0).map(|i| i.p50_us).fold(f64::MAX, f64::min);
    let ly = Axis { lo: (min_lat / 2.0).max(1.0).min(max_lat), hi: max_lat * 1.5, log: true };
    let max_rate =
        iv.iter().map(|i| i.intended_rate_per_s.max(i.achieved_rate_per_s)).fold(1.0, f64::max);
    let ry = Axis { lo: 0.0, hi: max_rate * 1.1, log: false };
    let (top, bottom) = (PAD_T, h - PAD_B);
    let (left, right) = (PAD_L, W - PAD_R);
    // Grid and axes.
    for t in log_ticks(ly.lo, ly.hi) {
        let y = ly.map(t, bottom, top);
        let _ = write!(
            o,
            "<line x1=\"{left}\" x2=\"{right}\" y1=\"{y:.1}\" y2=\"{y:.1}\" class=\"grid\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            y + 4.0,
            fmt_us(t)
        );
    }
    for t in lin_ticks(ry.lo, ry.hi, 5) {
        let y = ry.map(t, bottom, top);
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"ax rate\">{}/s</text>",
            right + 6.0,
            y + 4.0,
            fmt_rate(t)
        );
    }
    for t in lin_ticks(t0, t1, 10) {
        let xx = x.map(t, left, right);
        let _ = write!(
            o,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{top}\" y2=\"{bottom}\" class=\"grid\"/>\
             <text x=\"{xx:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"middle\">{:.0}s</text>",
            bottom + 16.0,
            t + 0.0
        );
    }
    // Events.
    for e in &s.events {
        let xx = x.map(e.t_s, left, right);
        let _ = write!(
            o,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{top}\" y2=\"{bottom}\" class=\"event\"><title>{}</title></line>",
            esc(&format!("t={:.1}s {} ({})", e.t_s, e.what, e.result))
        );
    }
    // Rates (area for intended, line for achieved).
    let mid = |i: &IntervalStats| x.map(i.t_s + i.dt_s / 2.0, left, right);
    let intended: Vec<(f64, f64)> =
        iv.iter().map(|i| (mid(i), ry.map(i.intended_rate_per_s, bottom, top))).collect();
    let achieved: Vec<(f64, f64)> =
        iv.iter().map(|i| (mid(i), ry.map(i.achieved_rate_per_s, bottom, top))).collect();
    polyline(&mut o, &intended, "#b8c7d9", 6.0, "");
    polyline(&mut o, &achieved, "#5b7aa0", 1.5, "4 3");
    for (q, color) in
        [("max", "#d62728"), ("p999", "#ff7f0e"), ("p99", "#9467bd"), ("p50", "#2ca02c")]
    {
        let pts: Vec<(f64, f64)> = iv
            .iter()
            .filter(|i| i.p50_us > 0.0)
            .map(|i| {
                let v = match q {
                    "max" => i.max_us,
                    "p999" => i.p999_us,
                    "p99" => i.p99_us,
                    _ => i.p50_us,
                };
                (mid(i), ly.map(v, bottom, top))
            })
            .collect();
        polyline(&mut o, &pts, color, 2.0, "");
    }
    let legend = [
        ("#2ca02c", "p50"),
        ("#9467bd", "p99"),
        ("#ff7f0e", "p99.9"),
        ("#d62728", "max"),
        ("#b8c7d9", "intended rate"),
        ("#5b7aa0", "achieved rate"),
    ];
    for (k, (c, name)) in legend.iter().enumerate() {
        let lx = left + 10.0 + k as f64 * 120.0;
        let _ = write!(
            o,
            "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{c}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\">{name}</text>",
            top + 4.0,
            lx + 18.0,
            top + 9.0
        );
    }
    o.push_str("</svg>");
    o
}

/// Latency by percentile on the "nines" axis, gateway against baseline.
fn chart_distribution(g: &Histogram<u64>, b: Option<&Histogram<u64>>) -> String {
    let h = 340.0;
    let mut o = format!("<svg viewBox=\"0 0 {W} {h}\" class=\"chart\" role=\"img\">");
    let (top, bottom, left, right) = (PAD_T, h - PAD_B, PAD_L, W - PAD_R);
    let series = |hist: &Histogram<u64>| -> Vec<(f64, f64)> {
        if hist.is_empty() {
            return Vec::new();
        }
        hist.iter_quantiles(4)
            .map(|v| {
                let q = v.quantile_iterated_to().min(0.999_999);
                (1.0 / (1.0 - q), v.value_iterated_to() as f64 / 1e3)
            })
            .collect()
    };
    let gs = series(g);
    let bs = b.map(series).unwrap_or_default();
    let max_v = gs.iter().chain(&bs).map(|p| p.1).fold(1.0, f64::max);
    let min_v = gs.iter().chain(&bs).map(|p| p.1).fold(f64::MAX, f64::min).max(0.5);
    let x = Axis { lo: 1.0, hi: 1e6, log: true };
    let y = Axis { lo: (min_v / 1.5).max(0.5), hi: max_v * 1.5, log: true };
    for (v, label) in [
        (1.0, "0%"),
        (10.0, "90%"),
        (100.0, "99%"),
        (1e3, "99.9%"),
        (1e4, "99.99%"),
        (1e5, "99.999%"),
        (1e6, "99.9999%"),
    ] {
        let xx = x.map(v, left, right);
        let _ = write!(
            o,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{top}\" y2=\"{bottom}\" class=\"grid\"/>\
             <text x=\"{xx:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"middle\">{label}</text>",
            bottom + 16.0
        );
    }
    for t in log_ticks(y.lo, y.hi) {
        let yy = y.map(t, bottom, top);
        let _ = write!(
            o,
            "<line x1=\"{left}\" x2=\"{right}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" class=\"grid\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"end\">{}</text>",
            left - 6.0,
            yy + 4.0,
            fmt_us(t)
        );
    }
    let map = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        pts.iter().map(|(q, v)| (x.map(*q, left, right), y.map(*v, bottom, top))).collect()
    };
    polyline(&mut o, &map(&bs), "#7f7f7f", 2.0, "5 4");
    polyline(&mut o, &map(&gs), "#1f77b4", 2.5, "");
    let _ = write!(
        o,
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"#1f77b4\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\">gateway</text>\
         <rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"#7f7f7f\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\">echo baseline (bare TCP floor)</text></svg>",
        left + 10.0,
        top + 4.0,
        left + 28.0,
        top + 9.0,
        left + 110.0,
        top + 4.0,
        left + 128.0,
        top + 9.0
    );
    o
}

/// Rejects by code, horizontal bars.
fn chart_rejects(c: &Counts) -> String {
    let mut rows: Vec<(String, u64)> =
        c.rejected.iter().map(|(k, v)| (code_name(*k), *v)).collect();
    rows.extend(
        c.cancel_rejected.iter().map(|(k, v)| (format!("{} (cancel/replace)", code_name(*k)), *v)),
    );
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    if rows.is_empty() {
        return "<p>No rejects.</p>".into();
    }
    let bar_h = 22.0;
    let h = PAD_T + rows.len() as f64 * bar_h + 10.0;
    let max = rows.iter().map(|r| r.1).max().unwrap_or(1).max(1) as f64;
    let label_w = 360.0;
    let mut o = format!("<svg viewBox=\"0 0 {W} {h}\" class=\"chart\" role=\"img\">");
    for (k, (name, n)) in rows.iter().enumerate() {
        let y = PAD_T + k as f64 * bar_h;
        let w = (W - label_w - 120.0) * (*n as f64 / max);
        let color = if name.starts_with('4') {
            "#9467bd"
        } else if name.starts_with('5') {
            "#8c564b"
        } else {
            "#e377c2"
        };
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\" text-anchor=\"end\">{}</text>\
             <rect x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{color}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" class=\"ax\">{n}</text>",
            label_w - 8.0,
            y + 15.0,
            esc(name),
            y + 3.0,
            bar_h - 6.0,
            label_w + w + 6.0,
            y + 15.0
        );
    }
    o.push_str("</svg>");
    o
}

fn pct_row(name: &str, p: &Percentiles) -> String {
    format!(
        "<tr><td>{}</td><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td><td>{:.1}</td></tr>",
        esc(name),
        p.count,
        p.p50_us,
        p.p90_us,
        p.p99_us,
        p.p999_us,
        p.p9999_us,
        p.max_us
    )
}

/// The self-contained HTML report.
pub fn html(s: &Summary, gateway: &Histogram<u64>, baseline: Option<&Histogram<u64>>) -> String {
    let g = &s.gateway_run;
    let mut o = String::with_capacity(256 * 1024);
    let _ = write!(
        o,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{name} — Breakwater load test</title>\
         <style>body{{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}}\
         h1{{font-size:22px;margin-bottom:4px}}h2{{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}}\
         table{{border-collapse:collapse;margin:8px 0}}td,th{{padding:3px 10px;border-bottom:1px solid #eee;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}.chart{{width:100%;height:auto;background:#fcfcfd;border:1px solid #eee}}\
         .grid{{stroke:#e6e6e6;stroke-width:1}}.ax{{font-size:11px;fill:#555}}.rate{{fill:#5b7aa0}}\
         .event{{stroke:#c00;stroke-width:1.5;stroke-dasharray:2 3}}.ok{{color:#1a7f37;font-weight:600}}\
         .bad{{color:#c00;font-weight:600}}.verdict{{font-size:20px}}.muted{{color:#777}}</style></head><body>",
        name = esc(&s.scenario)
    );
    let _ = write!(
        o,
        "<h1>{}</h1><p>{}</p><p class=\"verdict {}\">{}</p>",
        esc(&s.scenario),
        esc(&s.description),
        if s.passed { "ok" } else { "bad" },
        if s.passed {
            "PASS: every objective met, nothing lost"
        } else {
            "FAIL: see the objectives below"
        }
    );
    let _ = write!(
        o,
        "<p class=\"muted\">{} · {} cores, {} · load {} → {} · gateway: {} · {} · base rate {:.0}/s (rate ×{}, time ×{})</p>",
        esc(&s.command),
        s.machine.cores,
        esc(&s.machine.cpu_model),
        esc(&s.machine.load_start),
        esc(&s.load_end),
        esc(&s.gateway),
        esc(&s.universe),
        s.base_rate_per_s,
        s.rate_scale,
        s.time_scale
    );
    o.push_str("<h2>Latency over time</h2><p class=\"muted\">Answer latency per second from the intended send time (log scale, left) against the intended and achieved message rate (right). Red dashed lines mark operator events and reconnect storms; hover for details.</p>");
    o.push_str(&chart_timeline(g));
    o.push_str("<h2>Percentile distribution</h2>");
    o.push_str(&chart_distribution(gateway, baseline));
    o.push_str("<table><tr><th>latency (µs)</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>p99.99</th><th>max</th></tr>");
    o.push_str(&pct_row("gateway: any answer", &g.answer));
    o.push_str(&pct_row("order ack / reject", &g.order_ack));
    if g.broker.count > 0 {
        o.push_str(&pct_row("order: broker's answer (OrderPending, v2)", &g.broker));
    }
    o.push_str(&pct_row("cancel", &g.cancel));
    o.push_str(&pct_row("replace", &g.replace));
    o.push_str(&pct_row("marketable order to terminal state", &g.fill));
    o.push_str(&pct_row("order: send → gateway stamp", &g.to_stamp));
    o.push_str(&pct_row("order: gateway stamp → received", &g.from_stamp));
    o.push_str(&pct_row("schedule lag (generator)", &g.schedule_lag));
    if let Some(b) = &s.baseline_run {
        o.push_str(&pct_row("echo baseline: answer", &b.answer));
        o.push_str(&pct_row("echo: send → server stamp", &b.to_stamp));
        o.push_str(&pct_row("echo: server stamp → received", &b.from_stamp));
        o.push_str(&pct_row("echo baseline: schedule lag", &b.schedule_lag));
    }
    if g.queries.sent > 0 {
        o.push_str(&pct_row("query answer (funds, positions, orders, fills)", &g.query));
    }
    if let Some(n) = &s.no_journal_run {
        o.push_str(&pct_row("same gateway, no journal: answer", &n.answer));
        o.push_str(&pct_row("no journal: schedule lag", &n.schedule_lag));
    }
    if let Some(n) = &s.no_probe_run {
        o.push_str(&pct_row("same gateway, no query probe: answer", &n.answer));
        o.push_str(&pct_row("no query probe: schedule lag", &n.schedule_lag));
    }
    o.push_str("</table>");
    if let Some(r) = &s.ratio_to_baseline {
        let _ = write!(
            o,
            "<p>Gateway latency over the bare TCP floor measured in this run: p50 <b>{:.2}×</b>, p90 {:.2}×, p99 <b>{:.2}×</b>, p99.9 {:.2}×.</p>",
            r.p50, r.p90, r.p99, r.p999
        );
    }
    if let Some(r) = &s.ratio_to_no_journal {
        let _ = write!(
            o,
            "<p>Journaled gateway over the same gateway without a journal, same schedule, this run: p50 <b>{:.2}×</b>, p90 {:.2}×, p99 <b>{:.2}×</b>, p99.9 {:.2}×.</p>",
            r.p50, r.p90, r.p99, r.p999
        );
    }
    if let Some(r) = &s.ratio_to_no_probe {
        let _ = write!(
            o,
            "<p>Order answers with the query probe over the same schedule without it, this run: p50 <b>{:.2}×</b>, p90 {:.2}×, p99 <b>{:.2}×</b>, p99.9 {:.2}×.</p>",
            r.p50, r.p90, r.p99, r.p999
        );
    }
    if g.queries.sent > 0 {
        let _ = write!(o, "<h2>Queries</h2><p>{}</p>", esc(&queries_line(&g.queries)));
    }
    let c = &g.counts;
    let rejected: u64 = c.rejected.values().sum();
    let _ = write!(
        o,
        "<h2>Rate</h2><p>Intended {:.0}/s, achieved {:.0}/s, peak second {:.0}/s over {:.1} s. {} messages found no session; the gateway's socket was full {} times; {} reconnects.</p>",
        g.intended_rate_per_s,
        g.achieved_rate_per_s,
        g.peak_rate_per_s,
        g.profile_s,
        g.dropped_no_session,
        g.backpressure_events,
        g.reconnects
    );
    if !g.ladder.is_empty() {
        o.push_str("<h2>Headroom ladder</h2><table><tr><th>rate/s</th><th>answers</th><th>p99 µs</th><th></th></tr>");
        for st in &g.ladder {
            let _ = write!(
                o,
                "<tr><td>{:.0}</td><td>{}</td><td>{:.1}</td><td class=\"{}\">{}</td></tr>",
                st.rate_per_s,
                st.answers,
                st.p99_us,
                if st.passed { "ok" } else { "bad" },
                if st.passed { "ok" } else { "over" }
            );
        }
        let _ = write!(
            o,
            "</table><p>Knee: <b>{}</b></p>",
            g.knee_rate_per_s.map_or_else(
                || {
                    if g.ladder.iter().any(|st| !st.passed) {
                        "below the first step".to_owned()
                    } else {
                        "not reached within the ladder".to_owned()
                    }
                },
                |k| format!("{k:.0}/s"),
            )
        );
    }
    o.push_str("<h2>Rejects by code</h2>");
    o.push_str(&chart_rejects(c));
    let _ = write!(
        o,
        "<h2>Reconciliation</h2><table>\
         <tr><td>orders sent</td><td>{}</td></tr><tr><td>confirmations sent</td><td>{}</td></tr>\
         <tr><td>cancels / replaces / mass cancels sent</td><td>{} / {} / {}</td></tr>\
         <tr><td>resent after reconnect</td><td>{}</td></tr>\
         <tr><td>accepted (with confirmation)</td><td>{} ({})</td></tr><tr><td>rejected</td><td>{rejected}</td></tr>\
         <tr><td>filled / partially filled / executions</td><td>{} / {} / {}</td></tr>\
         <tr><td>canceled</td><td>{}</td></tr>\
         <tr><td>unanswered at the end of the drain window</td><td>{}</td></tr><tr><td><b>lost</b></td><td><b>{}</b></td></tr>\
         <tr><td>still open</td><td>{}</td></tr><tr><td>duplicate answers / terminals</td><td>{} / {}</td></tr>\
         <tr><td>sequence gaps</td><td>{}</td></tr><tr><td>REPEAT answers</td><td>{}</td></tr><tr><td>unknown ids</td><td>{}</td></tr></table>",
        c.orders_sent,
        c.confirmations_sent,
        c.cancels_sent,
        c.replaces_sent,
        c.mass_cancels_sent,
        c.resent,
        c.accepted,
        c.accepted_with_confirmation,
        c.filled,
        c.partially_filled,
        c.executions,
        c.canceled.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
        c.unanswered,
        c.lost,
        c.still_open,
        c.duplicate_answers,
        c.duplicate_terminals,
        c.seq_gaps,
        c.repeats,
        c.unknown_ids
    );
    if let Some(m) = &s.market_data {
        o.push_str(&crate::marketdata::summary::html(m, esc));
    }
    o.push_str("<h2>Objectives</h2><table><tr><th>objective</th><th>limit</th><th>measured</th><th></th></tr>");
    for v in &s.verdicts {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&v.objective),
            esc(&v.limit),
            esc(&v.measured),
            if v.met { "ok" } else { "bad" },
            if v.met { "met" } else { "missed" }
        );
    }
    o.push_str("</table>");
    if !g.events.is_empty() {
        o.push_str("<h2>Events</h2><table><tr><th>t (s)</th><th>what</th><th>result</th></tr>");
        for e in &g.events {
            let _ = write!(
                o,
                "<tr><td>{:.2}</td><td>{}</td><td>{}</td></tr>",
                e.t_s,
                esc(&e.what),
                esc(&e.result)
            );
        }
        o.push_str("</table>");
    }
    o.push_str("<p class=\"muted\">Files beside this one: summary.json, latency.hgrm / latency.hlog (gateway), baseline.hgrm / baseline.hlog (echo), summary.txt.</p></body></html>");
    o
}
