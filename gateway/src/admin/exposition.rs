//! `GET /metrics`: the Prometheus text exposition format (version 0.0.4).
//!
//! Conventions: one prefix `breakwater_`, base units (`_seconds`, `_bytes`),
//! counters end in `_total`, every family has HELP and TYPE lines, and every label
//! value comes from a bounded set (stages, reject codes, configured logins, message
//! types, fixed outcome names). `docs/operations.md` lists every name.
//!
//! The text is written by [`Exposition`], the one writer of the format. The stage
//! histograms are the collector's cumulative HDR histograms (nanoseconds, three
//! significant digits) folded into Prometheus buckets by [`fold_buckets`]: a value
//! is counted in the first bucket at or above the upper end of its HDR bucket, so
//! a boundary can only make latency look worse, never better, by at most 0.1%.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use protocol::RejectCode;

use crate::journal::JournalProgress;
use crate::metrics::{IoMetrics, Stage, StageSet};
use crate::stats::EngineStats;

pub use super::prometheus::{Buckets, Exposition, fold_buckets};

/// Bucket upper bounds: (nanoseconds, the `le` label). Fine below 1 ms, with a
/// boundary exactly at the 50 ms objective.
pub const BUCKETS: [(u64, &str); 22] = [
    (100, "1e-07"),
    (250, "2.5e-07"),
    (500, "5e-07"),
    (1_000, "1e-06"),
    (2_500, "2.5e-06"),
    (5_000, "5e-06"),
    (10_000, "1e-05"),
    (25_000, "2.5e-05"),
    (50_000, "5e-05"),
    (100_000, "0.0001"),
    (250_000, "0.00025"),
    (500_000, "0.0005"),
    (1_000_000, "0.001"),
    (2_500_000, "0.0025"),
    (5_000_000, "0.005"),
    (10_000_000, "0.01"),
    (25_000_000, "0.025"),
    (50_000_000, "0.05"),
    (100_000_000, "0.1"),
    (250_000_000, "0.25"),
    (500_000_000, "0.5"),
    (1_000_000_000, "1"),
];

/// What does not change while the gateway runs.
#[derive(Clone, Debug)]
pub struct StaticInfo {
    /// Crate version.
    pub version: &'static str,
    /// `fused` or `pipelined`.
    pub topology: &'static str,
    /// The io thread's wait strategy kind.
    pub io_wait: &'static str,
    /// The engine thread's wait strategy kind.
    pub engine_wait: &'static str,
    /// `none`, `async` or `sync`.
    pub durability: &'static str,
    /// Whether stage latencies are recorded.
    pub stage_metrics: bool,
    /// Configured login names, in configuration order (the `login` label).
    pub logins: Vec<String>,
    /// Slots in the io → engine ring.
    pub in_ring_capacity: u64,
    /// Slots in the engine → io ring.
    pub out_ring_capacity: u64,
    /// Most connections at once.
    pub max_sessions: u64,
    /// Unsent bytes after which a client is cut off.
    pub backlog_limit_bytes: u64,
    /// When the admin endpoint started, Unix seconds.
    pub start_time_s: f64,
}

/// Everything `/metrics` reads.
#[derive(Debug)]
pub struct Sources {
    /// The io thread's counters and gauges.
    pub io: Arc<IoMetrics>,
    /// The engine's counters and gauges.
    pub engine: Arc<EngineStats>,
    /// The journal's positions, when durability is on.
    pub journal: Option<Arc<JournalProgress>>,
    /// Fixed facts.
    pub info: StaticInfo,
}

/// HTTP answers of the admin endpoint by status code (bounded: the codes it sends).
#[derive(Debug, Default)]
pub struct HttpCounts {
    counts: [u64; HttpCounts::CODES.len()],
}

impl HttpCounts {
    const CODES: [u16; 15] =
        [200, 202, 400, 401, 403, 404, 405, 408, 413, 431, 500, 501, 503, 505, 0];

    /// Counts one answer.
    pub fn count(&mut self, status: u16) {
        let i = HttpCounts::CODES.iter().position(|&c| c == status).unwrap_or(14);
        self.counts[i] += 1;
    }

    /// The count for one status code.
    pub fn get(&self, status: u16) -> u64 {
        HttpCounts::CODES.iter().position(|&c| c == status).map_or(0, |i| self.counts[i])
    }
}

/// Renders every family into `out`.
pub fn render(
    out: &mut String,
    sources: &Sources,
    stages: &StageSet,
    http: &HttpCounts,
    ready: bool,
) {
    let mut w = Exposition::new(out);
    info(&mut w, &sources.info, ready);
    stage_histograms(&mut w, stages);
    engine_counters(&mut w, &sources.engine);
    engine_gauges(&mut w, &sources.engine);
    io_counters(&mut w, &sources.io);
    io_gauges(&mut w, &sources.io, &sources.info);
    if let Some(j) = &sources.journal {
        journal(&mut w, j, sources.engine.inputs.get());
    }
    let h = "Admin endpoint HTTP answers by status code.";
    w.head("breakwater_admin_http_requests_total", "counter", h);
    for code in HttpCounts::CODES.iter().filter(|&&c| c != 0) {
        let label = code.to_string();
        w.sample("breakwater_admin_http_requests_total", &[("code", &label)], http.get(*code));
    }
    w.sample("breakwater_admin_http_requests_total", &[("code", "other")], http.get(0));
    thread_cpu(&mut w);
}

fn info(w: &mut Exposition<'_>, i: &StaticInfo, ready: bool) {
    w.head(
        "breakwater_build_info",
        "gauge",
        "Version and run-time shape of this gateway (always 1).",
    );
    w.sample(
        "breakwater_build_info",
        &[
            ("version", i.version),
            ("topology", i.topology),
            ("io_wait", i.io_wait),
            ("engine_wait", i.engine_wait),
            ("durability", i.durability),
            ("stage_metrics", if i.stage_metrics { "on" } else { "off" }),
        ],
        1,
    );
    w.gauge(
        "breakwater_start_time_seconds",
        "When the gateway started, Unix seconds.",
        i.start_time_s,
    );
    w.gauge(
        "breakwater_ready",
        "1 while the gateway accepts logins (the same as GET /ready), 0 while it shuts down.",
        u8::from(ready),
    );
}

fn stage_histograms(w: &mut Exposition<'_>, stages: &StageSet) {
    let name = "breakwater_stage_latency_seconds";
    w.head(
        name,
        "histogram",
        "Latency of each stage of the order path, and socket read to answer written (end_to_end).",
    );
    for stage in Stage::ALL {
        let h = &stages.hist[stage as usize];
        w.histogram_series(name, &[("stage", stage.name())], h, &BUCKETS);
    }
}

fn engine_counters(w: &mut Exposition<'_>, e: &EngineStats) {
    w.counter(
        "breakwater_orders_received_total",
        "New orders sequenced by the engine.",
        e.orders_received.get(),
    );
    let c = [
        (
            "breakwater_orders_throttled_total",
            "Orders answered THROTTLED by the queue-time policy.",
            &e.throttled,
        ),
        (
            "breakwater_order_repeats_total",
            "Resent orders (same cl_ord_id) answered with their original outcome.",
            &e.repeats,
        ),
        ("breakwater_confirmations_total", "Suitability confirmations recorded.", &e.confirmations),
        ("breakwater_executions_total", "Executions (one per side of a trade).", &e.executions),
        ("breakwater_trades_total", "Trades at the venue.", &e.trades),
        ("breakwater_traded_shares_total", "Shares traded.", &e.traded_shares),
        ("breakwater_cancel_requests_total", "Cancel requests received.", &e.cancels_received),
        ("breakwater_cancels_total", "Orders cancelled, for any reason.", &e.cancels),
        (
            "breakwater_cancel_on_disconnect_total",
            "Orders cancelled because their login disconnected.",
            &e.cancel_on_disconnect,
        ),
        ("breakwater_replace_requests_total", "Replace requests received.", &e.replaces_received),
        ("breakwater_replaces_total", "Replaces that took effect.", &e.replaces),
        ("breakwater_mass_cancels_total", "Mass-cancel requests received.", &e.mass_cancels),
        (
            "breakwater_business_rejects_total",
            "Messages answered with a BusinessReject.",
            &e.business_rejects,
        ),
        (
            "breakwater_admin_commands_applied_total",
            "Operator commands applied by the engine.",
            &e.admin_commands,
        ),
    ];
    for (name, help, counter) in c {
        w.counter(name, help, counter.get());
    }
    let name = "breakwater_rejects_total";
    w.head(
        name,
        "counter",
        "Rejects of orders, cancels and replaces by code (risk, suitability, venue, session).",
    );
    for (code, counter) in RejectCode::ALL.iter().zip(e.rejects_by_code.iter()) {
        let number = code.0.to_string();
        let label = code.name().unwrap_or("unknown");
        w.sample(name, &[("code", &number), ("name", label)], counter.get());
    }
}

fn engine_gauges(w: &mut Exposition<'_>, e: &EngineStats) {
    w.gauge(
        "breakwater_input_sequence",
        "Sequence number of the last input the engine processed.",
        e.inputs.get(),
    );
    w.gauge(
        "breakwater_venue_open_orders",
        "Orders resting at the venue.",
        e.venue_open_orders.get(),
    );
    w.gauge(
        "breakwater_venue_queued_operations",
        "Operations queued at the venue (paused, delayed, or waiting for continuous trading).",
        e.venue_queued.get(),
    );
    w.gauge(
        "breakwater_orders_today",
        "Orders recorded in the risk engine's table today.",
        e.orders_today.get(),
    );
    w.gauge(
        "breakwater_orders_today_capacity",
        "Capacity of that table (orders per day).",
        e.orders_capacity.get(),
    );
    let flags = [
        ("high_rate", e.flags_high_rate.get()),
        ("high_daily", e.flags_high_daily.get()),
        ("rapid_cancel", e.flags_rapid_cancel.get()),
        ("rapid_orders", e.flags_rapid_orders.get()),
    ];
    w.labelled(
        "breakwater_risk_flags",
        "gauge",
        "Abnormal-trading flags raised today, by kind.",
        "flag",
        &flags,
    );
    w.gauge(
        "breakwater_venue_anomalies",
        "Venue events that did not fit an order's state (should stay 0).",
        e.venue_anomalies.get(),
    );
    w.gauge(
        "breakwater_firm_entry_state",
        "Firm-wide order entry: 0 active, 1 reducing only, 2 blocked (kill switch).",
        e.firm_state.get(),
    );
    w.gauge(
        "breakwater_accounts_restricted",
        "Accounts whose order entry is blocked or reducing only.",
        e.accounts_restricted.get(),
    );
}

fn io_counters(w: &mut Exposition<'_>, m: &IoMetrics) {
    let o = &m.outputs;
    w.labelled(
        "breakwater_orders_total",
        "counter",
        "Answers to new orders by outcome (OrderAccepted, OrderRejected; repeats included).",
        "outcome",
        &[("accepted", o.accepted.get()), ("rejected", o.rejected.get())],
    );
    let types = [
        ("order_accepted", o.accepted.get()),
        ("order_rejected", o.rejected.get()),
        ("executed", o.executed.get()),
        ("canceled", o.canceled.get()),
        ("cancel_rejected", o.cancel_rejected.get()),
        ("replaced", o.replaced.get()),
        ("system_event", o.system_events.get()),
        ("business_reject", o.business_rejects.get()),
        ("mass_cancel_ack", o.mass_cancel_acks.get()),
        ("order_entry_status", o.entry_status.get()),
        ("order_pending", o.pending.get()),
    ];
    w.labelled(
        "breakwater_stream_messages_total",
        "counter",
        "Sequenced messages appended to the logins' outbound streams, by type.",
        "type",
        &types,
    );
    w.labelled(
        "breakwater_logins_total",
        "counter",
        "Logins by result (refused includes bad credentials, throttling and the session limit).",
        "result",
        &[("accepted", m.logins_accepted.get()), ("refused", m.logins_refused.get())],
    );
    let c = [
        (
            "breakwater_connections_accepted_total",
            "TCP connections accepted.",
            &m.connections_accepted,
        ),
        ("breakwater_disconnects_total", "Connections closed.", &m.disconnects),
        (
            "breakwater_slow_consumer_disconnects_total",
            "Sessions cut off for not reading (backlog over the limit).",
            &m.slow_consumer_disconnects,
        ),
        ("breakwater_replays_total", "Logins that resumed with a replay.", &m.replays),
        (
            "breakwater_replayed_messages_total",
            "Messages replayed to resuming logins.",
            &m.replayed_messages,
        ),
        ("breakwater_received_bytes_total", "Bytes read from clients.", &m.bytes_received),
        ("breakwater_sent_bytes_total", "Bytes written to clients.", &m.bytes_sent),
        ("breakwater_frames_received_total", "Frames read from clients.", &m.frames_received),
        ("breakwater_malformed_frames_total", "Frames that did not decode.", &m.malformed_frames),
        (
            "breakwater_backpressure_pauses_total",
            "Times a session's reads paused because the engine ring was full.",
            &m.backpressure_pauses,
        ),
    ];
    for (name, help, counter) in c {
        w.counter(name, help, counter.get());
    }
    let f = &m.fix;
    let fix = [
        (
            "breakwater_fix_connections_accepted_total",
            "TCP connections accepted on the FIX port.",
            &f.connections_accepted,
        ),
        (
            "breakwater_fix_connections_refused_total",
            "FIX connections closed before a session took them (no room, unknown CompID, not a Logon, second connection, no Logon in time).",
            &f.connections_refused,
        ),
        ("breakwater_fix_logons_total", "FIX sessions logged on.", &f.logons),
        ("breakwater_fix_disconnects_total", "FIX session connections that ended.", &f.disconnects),
        (
            "breakwater_fix_received_bytes_total",
            "Bytes read from FIX connections.",
            &f.bytes_received,
        ),
        ("breakwater_fix_sent_bytes_total", "Bytes written to FIX connections.", &f.bytes_sent),
        (
            "breakwater_fix_inputs_total",
            "Orders, cancels, replaces and mass cancels from FIX sessions handed to the engine.",
            &f.inputs,
        ),
        (
            "breakwater_fix_stream_messages_total",
            "Stream messages the FIX sessions took (each at most one ExecutionReport or cancel reject).",
            &f.stream_messages,
        ),
    ];
    for (name, help, counter) in fix {
        w.counter(name, help, counter.get());
    }
    md_counters(w, &m.md);
}

fn md_counters(w: &mut Exposition<'_>, d: &crate::metrics::MdMetrics) {
    let md = [
        (
            "breakwater_md_connections_accepted_total",
            "TCP connections accepted on the market-data port.",
            &d.connections_accepted,
        ),
        (
            "breakwater_md_connections_refused_total",
            "Market-data connections closed at accept (no room, too many from the address).",
            &d.connections_refused,
        ),
        ("breakwater_md_logins_total", "Market-data logins accepted.", &d.logins),
        ("breakwater_md_logins_refused_total", "Market-data logins refused.", &d.logins_refused),
        ("breakwater_md_disconnects_total", "Market-data connections that ended.", &d.disconnects),
        (
            "breakwater_md_messages_sent_total",
            "Snapshots and deltas queued to subscribers.",
            &d.messages_sent,
        ),
        ("breakwater_md_sent_bytes_total", "Bytes written to subscribers.", &d.bytes_sent),
        ("breakwater_md_events_total", "Venue events the publisher applied.", &d.events),
        (
            "breakwater_md_ring_dropped_total",
            "Venue events the engine could not queue to the publisher (its ring was full).",
            &d.ring_dropped,
        ),
        ("breakwater_md_resyncs_total", "Books the engine re-sent after lost events.", &d.resyncs),
        (
            "breakwater_md_feed_gaps_total",
            "Channel sequence ranges lost between the engine and the publisher.",
            &d.feed_gaps,
        ),
        (
            "breakwater_md_conflations_total",
            "Conflated snapshots sent (a subscriber behind, or a conflated subscription).",
            &d.conflations,
        ),
        ("breakwater_md_gap_notices_total", "Gap notices sent.", &d.gap_notices),
        (
            "breakwater_md_retransmitted_total",
            "Messages sent again in answer to retransmission requests.",
            &d.retransmitted,
        ),
        (
            "breakwater_md_retransmit_rejects_total",
            "Retransmission requests refused.",
            &d.retransmit_rejects,
        ),
        (
            "breakwater_md_subscribe_rejects_total",
            "Subscribe, Unsubscribe and malformed requests refused.",
            &d.subscribe_rejects,
        ),
        (
            "breakwater_md_slow_subscribers_total",
            "Times a subscriber's queue filled and it fell behind.",
            &d.slow_subscribers,
        ),
    ];
    for (name, help, counter) in md {
        w.counter(name, help, counter.get());
    }
    w.gauge("breakwater_md_sessions", "Market-data sessions logged in now.", d.sessions.get());
    w.gauge(
        "breakwater_md_subscriptions",
        "Market-data subscriptions held now.",
        d.subscriptions.get(),
    );
    w.gauge(
        "breakwater_md_ring_depth",
        "Events waiting in the engine -> publisher ring (the publisher's lag).",
        d.ring_depth.get(),
    );
    w.gauge(
        "breakwater_md_queued_bytes",
        "Bytes queued for subscribers, all sessions together.",
        d.queued_bytes.get(),
    );
    w.gauge(
        "breakwater_md_queued_bytes_max",
        "The most bytes queued for one subscriber.",
        d.queued_bytes_max.get(),
    );
}

fn io_gauges(w: &mut Exposition<'_>, m: &IoMetrics, i: &StaticInfo) {
    w.gauge("breakwater_fix_sessions", "FIX sessions logged on now.", m.fix.sessions.get());
    w.labelled(
        "breakwater_ring_depth",
        "gauge",
        "Items waiting in a pipeline ring (in: io to engine, out: engine to io; 0 when fused).",
        "ring",
        &[("in", m.in_ring_depth.get()), ("out", m.out_ring_depth.get())],
    );
    w.labelled(
        "breakwater_ring_capacity",
        "gauge",
        "Slots in each pipeline ring.",
        "ring",
        &[("in", i.in_ring_capacity), ("out", i.out_ring_capacity)],
    );
    w.gauge(
        "breakwater_open_connections",
        "Connections open now, logged in or not.",
        m.connections.get(),
    );
    w.gauge("breakwater_sessions", "Logins with a live session now.", m.sessions.get());
    w.gauge("breakwater_sessions_max", "Most connections allowed at once.", i.max_sessions);
    let backlog: Vec<(&str, u64)> = i
        .logins
        .iter()
        .zip(m.login_backlog_bytes.iter())
        .map(|(l, g)| (l.as_str(), g.get()))
        .collect();
    w.labelled(
        "breakwater_login_backlog_bytes",
        "gauge",
        "Bytes of a login's stream not yet written to its socket.",
        "login",
        &backlog,
    );
    w.gauge(
        "breakwater_login_backlog_limit_bytes",
        "Backlog after which a client that does not read is disconnected.",
        i.backlog_limit_bytes,
    );
    let seqs: Vec<(&str, u64)> =
        i.logins.iter().zip(m.login_last_seq.iter()).map(|(l, g)| (l.as_str(), g.get())).collect();
    w.labelled(
        "breakwater_login_last_sequence",
        "gauge",
        "Last sequence number of a login's outbound stream.",
        "login",
        &seqs,
    );
}

fn journal(w: &mut Exposition<'_>, j: &JournalProgress, inputs: u64) {
    let written = j.written.load(Ordering::Acquire);
    let durable = j.durable.load(Ordering::Acquire);
    w.gauge("breakwater_journal_written_sequence", "Last input written to the journal.", written);
    w.gauge("breakwater_journal_durable_sequence", "Last input known to be on disk.", durable);
    w.gauge(
        "breakwater_journal_lag_inputs",
        "Inputs the engine processed that are not yet on disk (engine position published a few times a second).",
        inputs.saturating_sub(durable),
    );
    w.gauge(
        "breakwater_journal_failed",
        "1 once the journal writer failed (the gateway then stops taking input).",
        u8::from(j.failed.load(Ordering::Acquire)),
    );
    w.head("breakwater_journal_written_bytes_total", "counter", "Bytes appended to the journal.");
    w.sample("breakwater_journal_written_bytes_total", &[], j.bytes.load(Ordering::Relaxed));
    w.head("breakwater_journal_syncs_total", "counter", "Group-commit fdatasync calls.");
    w.sample("breakwater_journal_syncs_total", &[], j.syncs.load(Ordering::Relaxed));
    let name = "breakwater_journal_commit_seconds";
    let help = "Time of each group commit: one write and one fdatasync.";
    w.histogram(name, help, &j.commit_times.snapshot(), &BUCKETS);
    w.gauge(
        "breakwater_snapshot_sequence",
        "Input the newest snapshot written since start-up ends at (0: none yet).",
        j.snapshot_seq.load(Ordering::Acquire),
    );
    w.head("breakwater_snapshots_total", "counter", "Snapshots written.");
    w.sample("breakwater_snapshots_total", &[], j.snapshots.load(Ordering::Relaxed));
    w.head("breakwater_snapshot_failures_total", "counter", "Snapshots that could not be taken.");
    w.sample(
        "breakwater_snapshot_failures_total",
        &[],
        j.snapshot_failures.load(Ordering::Relaxed),
    );
}

/// CPU time of the gateway's own threads (`bw-*`), from `/proc/self/task` (Linux;
/// nothing elsewhere). Several gateways in one process add up.
fn thread_cpu(w: &mut Exposition<'_>) {
    let mut rows: Vec<(String, u64)> = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return };
    for task in tasks.flatten() {
        let path = task.path();
        let Ok(comm) = std::fs::read_to_string(path.join("comm")) else { continue };
        let comm = comm.trim();
        if !comm.starts_with("bw-") {
            continue;
        }
        let Ok(sched) = std::fs::read_to_string(path.join("schedstat")) else { continue };
        let Some(ns) = sched.split_whitespace().next().and_then(|t| t.parse::<u64>().ok()) else {
            continue;
        };
        match rows.iter_mut().find(|(name, _)| name == comm) {
            Some((_, total)) => *total += ns,
            None => rows.push((comm.to_owned(), ns)),
        }
    }
    if rows.is_empty() {
        return;
    }
    rows.sort();
    let name = "breakwater_thread_cpu_seconds_total";
    w.head(name, "counter", "CPU time of each gateway thread (bw-io, bw-engine, bw-admin).");
    for (thread, ns) in &rows {
        w.sample(name, &[("thread", thread)], *ns as f64 / 1e9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;

    #[test]
    fn buckets_are_cumulative_and_honest_at_the_boundaries() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        h.record(50).unwrap(); // below the first bound
        h.record(800).unwrap(); // 1 µs bucket
        h.record(49_000_000).unwrap(); // just under 50 ms
        h.record(50_100_000).unwrap(); // just over 50 ms
        h.record(5_000_000_000).unwrap(); // beyond the last bound: only +Inf
        let (b, sum, n) = fold_buckets(&h, &BUCKETS);
        assert_eq!(n, 5);
        let at = |le: &str| b[BUCKETS.iter().position(|&(_, l)| l == le).unwrap()];
        assert_eq!(at("1e-07"), 1);
        assert_eq!(at("1e-06"), 2);
        assert_eq!(at("0.025"), 2);
        assert_eq!(at("0.05"), 3);
        assert_eq!(at("0.1"), 4);
        assert_eq!(at("1"), 4);
        assert!(b.windows(2).all(|w| w[0] <= w[1]), "cumulative: {b:?}");
        let exact = (50 + 800 + 49_000_000 + 50_100_000 + 5_000_000_000u64) as f64 / 1e9;
        assert!((sum - exact).abs() / exact < 0.001, "{sum} vs {exact}");
    }

    #[test]
    fn bucket_labels_match_their_bounds() {
        for (ns, le) in BUCKETS {
            let parsed: f64 = le.parse().unwrap();
            assert!((parsed * 1e9 - ns as f64).abs() < 1e-3, "{le} vs {ns}");
        }
        assert!(BUCKETS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn every_family_has_help_and_type_and_labels_are_escaped() {
        let sources = Sources {
            io: Arc::new(IoMetrics::new(2)),
            engine: Arc::new(EngineStats::default()),
            journal: Some(Arc::new(JournalProgress::default())),
            info: StaticInfo {
                version: "0.1.0",
                topology: "fused",
                io_wait: "spin-then-park",
                engine_wait: "spin-then-park",
                durability: "none",
                stage_metrics: true,
                logins: vec!["a\"b".into(), "c".into()],
                in_ring_capacity: 8,
                out_ring_capacity: 16,
                max_sessions: 4,
                backlog_limit_bytes: 1024,
                start_time_s: 1.5,
            },
        };
        let mut out = String::new();
        render(&mut out, &sources, &StageSet::new(), &HttpCounts::default(), true);
        assert!(out.contains("breakwater_login_backlog_bytes{login=\"a\\\"b\"} 0"), "{out}");
        let mut typed = std::collections::HashSet::new();
        for line in out.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let name = rest.split(' ').next().unwrap();
                assert!(typed.insert(name.to_owned()), "family {name} declared twice");
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(name.starts_with("breakwater_"), "{line}");
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
                .unwrap_or(name);
            assert!(typed.contains(family), "{name} has no TYPE line before it");
        }
        assert!(out.contains("breakwater_journal_lag_inputs 0"));
        assert!(out.contains(
            "breakwater_stage_latency_seconds_bucket{stage=\"end_to_end\",le=\"0.05\"} 0"
        ));
    }
}
