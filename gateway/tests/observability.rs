//! The admin endpoint over real TCP on 127.0.0.1: Prometheus scraping a live
//! gateway, the shipped Prometheus/Grafana files, the operator actions and their
//! effect on live sessions, health and readiness, and hostile HTTP.
//!
//! The tests that need the `prometheus` and `promtool` binaries (Debian package
//! `prometheus`) print a skip notice without them, unless
//! `BREAKWATER_REQUIRE_PROMETHEUS=1` (set by scripts/test.sh) makes that a failure.

mod obs;
mod util;

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gateway::config::Topology;
use obs::*;
use protocol::RejectCode;
use protocol::client::Client;
use protocol::codec::{AppMessage, ClientMessage, EntryState, SystemEventKind};
use protocol::{CancelReason, Side};
use util::*;

/// Sends one order and waits for its answer; returns the reject code, if any.
fn order_answer(
    c: &mut Client,
    cl_ord_id: u64,
    order: protocol::codec::NewOrder,
) -> Option<RejectCode> {
    c.send(&ClientMessage::NewOrder(order)).unwrap();
    expect(c, "order answer", |m| match m {
        AppMessage::OrderAccepted(a) if a.cl_ord_id == cl_ord_id => Some(None),
        AppMessage::OrderRejected(r) if r.cl_ord_id == cl_ord_id => Some(Some(r.code)),
        _ => None,
    })
}

fn rejected(msg: &AppMessage, cl_ord_id: u64) -> Option<RejectCode> {
    match msg {
        AppMessage::OrderRejected(r) if r.cl_ord_id == cl_ord_id => Some(r.code),
        AppMessage::OrderAccepted(a) if a.cl_ord_id == cl_ord_id => {
            panic!("order {cl_ord_id} was accepted: {a:?}")
        }
        _ => None,
    }
}

fn accepted(msg: &AppMessage, cl_ord_id: u64) -> Option<u64> {
    match msg {
        AppMessage::OrderAccepted(a) if a.cl_ord_id == cl_ord_id => Some(a.order_id),
        AppMessage::OrderRejected(r) if r.cl_ord_id == cl_ord_id => {
            panic!("order {cl_ord_id} rejected: {}", r.code)
        }
        _ => None,
    }
}

/// Prometheus scrapes a live gateway while orders flow over TCP; its counters match
/// what the client saw, and the end-to-end p99 is there and plausible.
#[test]
fn prometheus_scrapes_a_live_gateway_while_orders_flow() {
    let test = "prometheus_scrapes_a_live_gateway_while_orders_flow";
    let Some(binary) = required_binary("prometheus", test) else { return };
    let mut config = admin_config(Topology::Pipelined);
    config.risk.limits.open_orders_per_security = 0;
    let gw = start(&config);
    let admin = gw.admin_addr().expect("admin endpoint is on");
    let prom = Prometheus::start(&binary, "breakwater-gateway", &[admin]);
    prom.wait_for("up{job=\"breakwater-gateway\"}", WAIT, |v| v == 1.0);

    let mut c = login(gw.addr(), "trader1");
    let mut sent = 0u64;
    let mut accepted = 0u64;
    let mut rejects: HashMap<RejectCode, u64> = HashMap::new();
    let mut send = |c: &mut Client, i: u64| {
        // Distinct quantities (identical orders within 100 ms are duplicates); every
        // tenth order is priced outside today's limits and rejected.
        let qty = 100 * (1 + i % 20);
        let price = if i % 10 == 9 { "60.00" } else { "41.00" };
        match order_answer(c, i, limit(i, "A001", 600036, Side::Buy, qty, price)) {
            None => accepted += 1,
            Some(code) => *rejects.entry(code).or_default() += 1,
        }
        sent += 1;
    };
    for i in 1..=300 {
        send(&mut c, i);
    }
    // Each thread hands its latencies over once a second, on activity: keep a
    // trickle going until the end-to-end histogram reaches Prometheus.
    let e2e_count = "breakwater_stage_latency_seconds_count{stage=\"end_to_end\"}";
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut next = 301;
    while prom.scalar(e2e_count).unwrap_or(0.0) < 300.0 {
        assert!(Instant::now() < deadline, "no end-to-end latency reached Prometheus");
        std::thread::sleep(Duration::from_millis(300));
        send(&mut c, next);
        next += 1;
    }
    let (sent, accepted, rejects) = (sent, accepted, rejects);
    let rejected: u64 = rejects.values().sum();
    assert!(rejected >= 30 && accepted >= 100, "{accepted} accepted, {rejects:?}");

    // Counters: exactly what was sent and answered.
    let exact = |q: &str, want: u64| {
        prom.wait_for(q, WAIT, |v| v == want as f64);
    };
    exact("breakwater_orders_received_total", sent);
    exact("sum(breakwater_orders_total)", sent);
    exact("breakwater_orders_total{outcome=\"accepted\"}", accepted);
    exact("breakwater_orders_total{outcome=\"rejected\"}", rejected);
    for (code, n) in &rejects {
        exact(&format!("breakwater_rejects_total{{code=\"{}\"}}", code.0), *n);
        let name = code.name().unwrap();
        exact(&format!("breakwater_rejects_total{{name=\"{name}\"}}"), *n);
    }
    exact("breakwater_logins_total{result=\"accepted\"}", 1);
    exact("breakwater_sessions", 1);
    // Every order's answer is in trader1's stream (and perhaps a few events).
    prom.wait_for("breakwater_login_last_sequence{login=\"trader1\"}", WAIT, |v| v >= sent as f64);
    prom.wait_for("breakwater_frames_received_total", WAIT, |v| v > sent as f64);
    exact("count(breakwater_rejects_total)", RejectCode::ALL.len() as u64);
    exact("count(breakwater_build_info{topology=\"pipelined\",version=\"0.1.0\"})", 1);

    // Latency: every stage has samples; the p99 is positive and below a generous bound.
    let p99 = prom.scalar(
        "histogram_quantile(0.99, sum by (le) \
         (breakwater_stage_latency_seconds_bucket{stage=\"end_to_end\"}))",
    );
    let p99 = p99.expect("an end-to-end p99");
    assert!(p99 > 0.0 && p99 < 0.5, "end-to-end p99 {p99} s");
    let rate_p99 = prom.wait_for(
        "histogram_quantile(0.99, sum by (le) \
         (rate(breakwater_stage_latency_seconds_bucket{stage=\"end_to_end\"}[1m])))",
        WAIT,
        |v| v.is_finite(),
    );
    assert!(rate_p99 > 0.0 && rate_p99 < 0.5, "rate-window p99 {rate_p99} s");
    let stages = prom.query("breakwater_stage_latency_seconds_count > 0");
    let names: BTreeSet<String> =
        stages.iter().map(|(m, _)| m["stage"].as_str().unwrap().to_owned()).collect();
    for s in ["decode", "risk", "match", "engine", "end_to_end"] {
        assert!(names.contains(s), "stage {s} has samples in Prometheus: {names:?}");
    }
    let sum_over_count = prom
        .scalar(&format!(
            "breakwater_stage_latency_seconds_sum{{stage=\"end_to_end\"}} / {e2e_count}"
        ))
        .unwrap();
    assert!(sum_over_count > 0.0 && sum_over_count < 0.5, "mean {sum_over_count}");
    drop(prom);
    gw.shutdown().unwrap();
}

/// Every `breakwater_loadtest_*` name the dashboard and alerts may use, as the
/// harness documents them in docs/loadtest.md ("Prometheus").
const HARNESS_METRICS: &[&str] = &[
    "breakwater_loadtest_run_info",
    "breakwater_loadtest_intended_rate_per_second",
    "breakwater_loadtest_achieved_rate_per_second",
    "breakwater_loadtest_answered_rate_per_second",
    "breakwater_loadtest_in_flight",
    "breakwater_loadtest_open_orders",
    "breakwater_loadtest_sent_total",
    "breakwater_loadtest_answered_total",
    "breakwater_loadtest_latency_seconds",
    "breakwater_loadtest_schedule_lag_seconds",
    "breakwater_loadtest_interval_latency_seconds",
    "breakwater_loadtest_interval_schedule_lag_seconds",
];

/// The reconciliation's counts, which the SLO row and the alerts use and
/// docs/operations.md asks the harness to export (not in docs/loadtest.md yet).
const HARNESS_RECONCILIATION_METRICS: &[&str] =
    &["breakwater_loadtest_lost", "breakwater_loadtest_unanswered"];

fn harness_name(name: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|s| name.strip_suffix(s))
        .filter(|b| HARNESS_METRICS.contains(b))
        .unwrap_or(name);
    HARNESS_METRICS.contains(&base) || HARNESS_RECONCILIATION_METRICS.contains(&base)
}

fn all_exprs(panels: &[serde_json::Value], out: &mut Vec<(String, String)>) {
    for p in panels {
        let title = p["title"].as_str().unwrap_or("?").to_owned();
        if let Some(targets) = p["targets"].as_array() {
            for t in targets {
                let expr =
                    t["expr"].as_str().unwrap_or_else(|| panic!("{title}: target without expr"));
                out.push((title.clone(), expr.to_owned()));
            }
        }
        if let Some(inner) = p["panels"].as_array() {
            all_exprs(inner, out);
        }
    }
}

/// The dashboard parses and every query (and every alert) names a metric that a
/// live gateway exports, or one the harness documents.
#[test]
fn dashboard_and_alerts_use_only_exported_metrics() {
    // With a journal, so that its figures are exported too.
    let journal = TempDir::new("journal");
    let mut config = admin_config(Topology::Fused);
    config.journal.durability = gateway::config::Durability::Async;
    config.journal.dir = journal.0.clone();
    let gw = start(&config);
    let scrape = get(gw.admin_addr().unwrap(), "/metrics");
    assert_eq!(scrape.status, 200);
    let exported = exported_names(&scrape.body);

    let text = std::fs::read_to_string(workspace().join("deploy/grafana/breakwater.json")).unwrap();
    let dash: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is valid JSON");
    assert_eq!(dash["uid"], "breakwater-gateway");
    let panels = dash["panels"].as_array().expect("panels");
    let mut exprs = Vec::new();
    all_exprs(panels, &mut exprs);
    for v in dash["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["query"]["query"].as_str() {
            exprs.push((format!("variable {}", v["name"]), q.to_owned()));
        }
    }
    assert!(exprs.len() > 40, "{} queries", exprs.len());
    let titles: Vec<&str> = panels.iter().filter_map(|p| p["title"].as_str()).collect();
    for stage in gateway::metrics::Stage::ALL {
        assert!(
            titles.contains(&format!("RED: {}", stage.name()).as_str()),
            "RED row for {stage:?}"
        );
    }
    assert!(titles.iter().any(|t| t.starts_with("SLO")), "an SLO row");
    assert!(titles.iter().any(|t| t.starts_with("USE")), "a USE row");
    assert!(panels.iter().any(|p| p["type"] == "heatmap"), "a heatmap");

    let alerts = std::fs::read_to_string(workspace().join("deploy/prometheus/alerts.yml")).unwrap();
    let alert_exprs: Vec<(String, String)> = vec![(
        "alerts.yml".to_owned(),
        alerts.lines().filter(|l| !l.trim_start().starts_with('#')).collect(),
    )];

    let mut used = BTreeSet::new();
    for (title, expr) in exprs.iter().chain(&alert_exprs) {
        let names = metric_names_in(expr);
        assert!(
            !names.is_empty() || title == "alerts.yml",
            "{title}: no breakwater metric in {expr}"
        );
        for name in names {
            assert!(
                exported.contains(&name) || harness_name(&name),
                "{title}: {name} is neither exported by the gateway nor documented by the harness"
            );
            used.insert(name);
        }
    }
    // The harness names are the ones docs/loadtest.md documents.
    let doc = std::fs::read_to_string(workspace().join("docs/loadtest.md")).unwrap();
    for name in HARNESS_METRICS {
        assert!(doc.contains(&format!("`{name}")), "{name} is not in docs/loadtest.md");
    }
    // And docs/operations.md explains every name the dashboard uses.
    let ops = std::fs::read_to_string(workspace().join("docs/operations.md")).unwrap();
    for name in &used {
        let base =
            ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        assert!(ops.contains(base), "docs/operations.md does not mention {base}");
    }
    gw.shutdown().unwrap();
}

/// promtool accepts the shipped configuration and rules, the rules' unit tests
/// pass, and a live scrape passes its lint.
#[test]
fn promtool_accepts_the_shipped_files_and_a_live_scrape() {
    let Some(promtool) =
        required_binary("promtool", "promtool_accepts_the_shipped_files_and_a_live_scrape")
    else {
        return;
    };
    let dir = workspace().join("deploy/prometheus");
    for args in [
        vec!["check", "config", "prometheus.yml"],
        vec!["check", "rules", "alerts.yml"],
        vec!["test", "rules", "alerts_test.yml"],
    ] {
        let out = Command::new(&promtool).args(&args).current_dir(&dir).output().unwrap();
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let gw = start(&admin_config(Topology::Fused));
    let mut c = login(gw.addr(), "trader1");
    order_answer(&mut c, 1, limit(1, "A001", 600036, Side::Buy, 100, "41.00"));
    let scrape = get(gw.admin_addr().unwrap(), "/metrics");
    assert_eq!(scrape.status, 200);
    assert!(scrape.head.contains("text/plain; version=0.0.4"), "{}", scrape.head);
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(scrape.body.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && report.trim().is_empty(), "promtool check metrics:\n{report}");
    gw.shutdown().unwrap();
}

/// Actions need the configured bearer token; without a configured token they are
/// refused outright; bad parameters and unknown actions are answered clearly, and
/// nothing refused reaches the engine.
#[test]
fn admin_actions_are_refused_without_the_token_or_with_bad_parameters() {
    let gw = start(&admin_config(Topology::Fused));
    let admin = gw.admin_addr().unwrap();
    let halt = "/admin/halt?security=600519.SH";
    let a = request(admin, "POST", halt, None);
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a.head.contains("WWW-Authenticate: Bearer"), "{}", a.head);
    assert!(a.body.contains("missing Authorization"), "{}", a.body);
    let a = request(admin, "POST", halt, Some("not-the-token"));
    assert_eq!((a.status, a.body.contains("wrong admin token")), (401, true), "{a:?}");
    let a = request(admin, "POST", halt, Some(&format!("{TOKEN}x")));
    assert_eq!(a.status, 401);
    let basic = format!(
        "POST {halt} HTTP/1.1\r\nAuthorization: Basic {TOKEN}\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(raw(admin, basic.as_bytes()).status, 401);

    for (action, why) in [
        ("halt?security=600519", "600519.SH"),
        ("halt?security=999999.SH", "not configured"),
        ("halt?securty=600519.SH", "unknown parameter securty"),
        ("resume?security=600519.SH&auction_ms=soon", "non-negative integer"),
        ("venue/pause", "ms is required"),
        ("venue/ack-delay?ms=-5", "non-negative integer"),
        ("account?account=A001&state=frozen", "reducing-only"),
        ("account?account=ZZZ9&state=blocked", "not configured"),
        ("firm", "state is required"),
        ("cancel-account", "account is required"),
        ("phase?security=600519.SH&phase=lunch", "continuous"),
        ("limit?name=max_orders&value=5", "max_notional"),
        ("limit?name=fat_finger_bp", "value is required"),
        ("halt?security=600519.SH&security=000001.SZ", "twice"),
    ] {
        let a = post(admin, action);
        assert_eq!(a.status, 400, "{action}: {a:?}");
        let v: serde_json::Value = serde_json::from_str(&a.body).expect("JSON error body");
        let message = v["error"].as_str().unwrap();
        assert!(message.contains(why), "{action}: {message}");
    }
    let a = post(admin, "reboot");
    assert_eq!(a.status, 404);
    assert!(a.body.contains("cancel-account"), "{}", a.body);
    let a = request(admin, "GET", halt, Some(TOKEN));
    assert_eq!(a.status, 405);
    assert!(a.head.contains("Allow: POST"));
    assert_eq!(request(admin, "POST", "/metrics", None).status, 405);
    assert_eq!(get(admin, "/nowhere").status, 404);

    // Nothing refused was queued.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(gw.engine_stats.admin_commands.get(), 0);
    let m = get(admin, "/metrics").body;
    assert_eq!(sample(&m, "breakwater_admin_commands_applied_total"), Some(0.0));
    assert_eq!(sample(&m, "breakwater_admin_http_requests_total{code=\"401\"}"), Some(4.0));
    assert_eq!(sample(&m, "breakwater_admin_http_requests_total{code=\"400\"}"), Some(14.0));

    // A correct one is queued and applied.
    let a = post(admin, "limit?name=max_notional&value=6000000");
    assert_eq!(a.status, 202, "{a:?}");
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!((v["status"].as_str(), v["action"].as_str()), (Some("queued"), Some("limit")));
    let deadline = Instant::now() + WAIT;
    while gw.engine_stats.admin_commands.get() != 1 {
        assert!(Instant::now() < deadline, "the command was not applied");
        std::thread::sleep(Duration::from_millis(10));
    }
    gw.shutdown().unwrap();

    // Without a configured token every action is refused, even with a header.
    let mut config = admin_config(Topology::Fused);
    config.admin.token = None;
    let gw = start(&config);
    let a =
        request(gw.admin_addr().unwrap(), "POST", "/admin/firm?state=blocked", Some("anything"));
    assert_eq!(a.status, 403, "{a:?}");
    assert!(a.body.contains("no [admin] token is configured"), "{}", a.body);
    assert_eq!(get(gw.admin_addr().unwrap(), "/metrics").status, 200, "metrics need no token");
    gw.shutdown().unwrap();
}

/// Halts and kill switches sent over HTTP take effect on live sessions.
#[test]
fn halt_and_kill_switches_over_http_reach_live_sessions() {
    let gw = start(&admin_config(Topology::Pipelined));
    let admin = gw.admin_addr().unwrap();
    let mut c = login(gw.addr(), "trader1");

    // Halt one security: the client sees the event, and its next order there is refused.
    assert_eq!(post(admin, "halt?security=600036.SH").status, 202);
    let event = expect(&mut c, "halt event", |m| match m {
        AppMessage::SystemEvent(e) => Some(*e),
        _ => None,
    });
    assert_eq!((event.kind, event.security), (SystemEventKind::Halt, Some(sec(600036))));
    c.send(&ClientMessage::NewOrder(limit(1, "A001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    assert_eq!(expect(&mut c, "halted", |m| rejected(m, 1)), RejectCode::SECURITY_HALTED);
    assert_eq!(post(admin, "resume?security=600036.SH").status, 202);
    expect(&mut c, "resume event", |m| match m {
        AppMessage::SystemEvent(e) if e.kind == SystemEventKind::Resume => Some(()),
        _ => None,
    });

    // The risk desk's kill switch: cancel an account's open orders, then block it.
    c.send(&ClientMessage::NewOrder(limit(2, "A002", 601398, Side::Buy, 100, "7.00"))).unwrap();
    let resting = expect(&mut c, "resting order", |m| accepted(m, 2));
    assert_eq!(post(admin, "cancel-account?account=A002").status, 202);
    let canceled = expect(&mut c, "cancel-account", |m| match m {
        AppMessage::Canceled(x) if x.order_id == resting => Some(*x),
        _ => None,
    });
    assert_eq!(canceled.reason, CancelReason::KillSwitch, "{canceled:?}");
    assert_eq!(post(admin, "account?account=A001&state=blocked").status, 202);
    let status = expect(&mut c, "account blocked", |m| match m {
        AppMessage::OrderEntryStatus(s) => Some(*s),
        _ => None,
    });
    assert_eq!((status.account, status.state), (acct("A001"), EntryState::Blocked));
    c.send(&ClientMessage::NewOrder(limit(3, "A001", 600036, Side::Buy, 100, "41.00"))).unwrap();
    assert_eq!(expect(&mut c, "blocked", |m| rejected(m, 3)), RejectCode::ACCOUNT_HALTED);
    c.send(&ClientMessage::NewOrder(limit(4, "A002", 601398, Side::Buy, 100, "7.05"))).unwrap();
    expect(&mut c, "the other account trades on", |m| accepted(m, 4));

    // The firm-wide switch stops everyone; the gauges show both switches.
    assert_eq!(post(admin, "firm?state=blocked").status, 202);
    let deadline = Instant::now() + WAIT;
    let mut n = 5;
    loop {
        // Distinct quantities: identical orders within 100 ms are duplicates.
        let qty = 100 * (n % 10 + 2);
        c.send(&ClientMessage::NewOrder(limit(n, "A002", 601398, Side::Buy, qty, "7.05"))).unwrap();
        let code = expect(&mut c, "firm blocked", |m| match m {
            AppMessage::OrderRejected(r) if r.cl_ord_id == n => Some(Some(r.code)),
            AppMessage::OrderAccepted(a) if a.cl_ord_id == n => Some(None),
            _ => None,
        });
        if code == Some(RejectCode::FIRM_HALTED) {
            break;
        }
        assert!(Instant::now() < deadline, "firm kill switch never applied: {code:?}");
        n += 1;
    }
    let deadline = Instant::now() + WAIT;
    loop {
        let m = get(admin, "/metrics").body;
        if sample(&m, "breakwater_firm_entry_state") == Some(2.0)
            && sample(&m, "breakwater_accounts_restricted") == Some(1.0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "kill-switch gauges never showed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(post(admin, "firm?state=active").status, 202);
    assert_eq!(post(admin, "account?account=A001&state=active").status, 202);
    // 202 means queued: an order sent right after may be sequenced first.
    let deadline = Instant::now() + WAIT;
    loop {
        n += 1;
        let order = limit(n, "A001", 601398, Side::Buy, 100 * (n % 10 + 2), "7.05");
        if order_answer(&mut c, n, order).is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "order entry never reopened");
        std::thread::sleep(Duration::from_millis(10));
    }
    gw.shutdown().unwrap();
}

/// `/health` answers while the process runs; `/ready` turns 503 once shutdown
/// begins, while the drain is still served.
#[test]
fn health_and_ready_follow_the_gateway() {
    let mut gw = start(&admin_config(Topology::Fused));
    let admin = gw.admin_addr().unwrap();
    let a = get(admin, "/health");
    assert_eq!((a.status, a.body.as_str()), (200, "ok\n"));
    assert_eq!(get(admin, "/ready").status, 200);
    assert_eq!(sample(&get(admin, "/metrics").body, "breakwater_ready"), Some(1.0));
    gw.shutdown_flag().store(true, std::sync::atomic::Ordering::SeqCst);
    let a = get(admin, "/ready");
    assert_eq!((a.status, a.body.as_str()), (503, "shutting down\n"));
    assert_eq!(get(admin, "/health").status, 200);
    assert_eq!(sample(&get(admin, "/metrics").body, "breakwater_ready"), Some(0.0));
    gw.join().unwrap();
    assert!(
        TcpStream::connect_timeout(&admin, Duration::from_millis(500)).is_err(),
        "admin closed"
    );
}

/// Garbage, oversized, slow and abandoned requests are refused without stalling the
/// endpoint or harming the gateway.
#[test]
fn malformed_http_is_refused_without_harm() {
    let gw = start(&admin_config(Topology::Fused));
    let admin = gw.admin_addr().unwrap();
    // A client that connects and sends nothing, and one that stops mid-request,
    // do not hold up anyone else.
    let idle = TcpStream::connect(admin).unwrap();
    let mut partial = TcpStream::connect(admin).unwrap();
    partial.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
    let t0 = Instant::now();
    assert_eq!(get(admin, "/health").status, 200);
    assert!(t0.elapsed() < Duration::from_secs(2), "served past idle clients");

    let cases: &[(&[u8], u16)] = &[
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", 400),
        (b"HELLO\r\n\r\n", 400),
        (b"GET /metrics HTTP/9.9\r\n\r\n", 505),
        (b"GET metrics HTTP/1.1\r\n\r\n", 400),
        (b"GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n", 400),
        (b"GET /\xff\xfe HTTP/1.1\r\n\r\n", 400),
        (b"POST /admin/halt HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 501),
        (b"POST /admin/halt HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n", 413),
        (b"POST /admin/halt?security=%ZZ HTTP/1.1\r\nAuthorization: Bearer test-admin-token\r\n\r\n", 400),
    ];
    for (bytes, status) in cases {
        assert_eq!(raw(admin, bytes).status, *status, "{:?}", String::from_utf8_lossy(bytes));
    }
    // Headers beyond 8 KiB.
    let mut big = b"GET /metrics HTTP/1.1\r\n".to_vec();
    while big.len() < 16 * 1024 {
        big.extend_from_slice(b"X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    big.extend_from_slice(b"\r\n");
    let mut s = TcpStream::connect(admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(&big); // the server may close before taking it all
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431 "), "{answer:?}");
    // A client that asks for /metrics and never reads it.
    let mut unread = TcpStream::connect(admin).unwrap();
    unread.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();

    // Every slot taken by clients that send nothing: a newcomer takes the slot of
    // the oldest unfinished request, which is told 503, and nothing hangs.
    let first = TcpStream::connect(admin).unwrap();
    let hogs: Vec<TcpStream> =
        (0..gateway::admin::MAX_CONNECTIONS).map(|_| TcpStream::connect(admin).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(get(admin, "/health").status, 200);
    let mut cut = first;
    cut.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = cut.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "the oldest idle client: {answer:?}");
    drop(hogs);
    drop((idle, partial, unread));
    let deadline = Instant::now() + WAIT;
    while get(admin, "/health").status != 200 {
        assert!(Instant::now() < deadline, "slots were not freed");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The endpoint and the gateway carry on.
    let m = get(admin, "/metrics");
    assert_eq!(m.status, 200);
    assert!(sample(&m.body, "breakwater_admin_http_requests_total{code=\"400\"}").unwrap() >= 5.0);
    let mut c = login(gw.addr(), "trader1");
    assert_eq!(order_answer(&mut c, 1, limit(1, "A001", 600036, Side::Buy, 100, "41.00")), None);
    gw.shutdown().unwrap();
}

/// A flood of slow clients past the connection limit, from the monitor's own
/// address: clients that connect and send nothing, stop mid-request, or send a
/// request one byte at a time and never finish it. `/health` and `/metrics` are
/// answered 200 throughout, and the clients cut off to make room are told 503.
#[test]
fn health_and_metrics_get_through_a_flood_of_slow_clients() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let gw = start(&admin_config(Topology::Fused));
    let admin = gw.admin_addr().unwrap();
    let limit = gateway::admin::MAX_CONNECTIONS;
    let total = 4 * limit;
    let stop = Arc::new(AtomicBool::new(false));
    let opened = Arc::new(AtomicUsize::new(0));
    let flood = {
        let (stop, opened) = (Arc::clone(&stop), Arc::clone(&opened));
        std::thread::spawn(move || {
            let request = b"GET /health HTTP/1.1\r\nHost: flood\r\n\r\n";
            let mut held: Vec<(TcpStream, usize)> = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(20);
            while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                if held.len() < total {
                    let mut s = TcpStream::connect(admin).expect("flood connect");
                    // One in three stops mid-request.
                    let mut sent = 0;
                    if held.len() % 3 == 1 {
                        sent = 1 + held.len() % 30;
                        s.write_all(&request[..sent]).expect("partial request");
                    }
                    held.push((s, sent));
                    opened.store(held.len(), Ordering::SeqCst);
                }
                // The tricklers: one more byte each turn, never the last one. Writes
                // to a client already cut off may fail.
                for (i, (s, sent)) in held.iter_mut().enumerate() {
                    if i % 3 == 2
                        && *sent + 1 < request.len()
                        && s.write_all(&request[*sent..=*sent]).is_ok()
                    {
                        *sent += 1;
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            held
        })
    };
    let deadline = Instant::now() + WAIT;
    while opened.load(Ordering::SeqCst) < 2 * limit {
        assert!(Instant::now() < deadline, "the flood did not get going");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Monitoring while the flood goes on past the limit.
    for round in 0..8 {
        let health = get(admin, "/health");
        assert_eq!((health.status, health.body.as_str()), (200, "ok\n"), "round {round}");
        let metrics = get(admin, "/metrics");
        assert_eq!(metrics.status, 200, "round {round}: {}", metrics.body);
        assert!(metrics.body.contains("breakwater_build_info"), "round {round}");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let held = flood.join().unwrap();
    assert!(held.len() > 2 * limit, "the flood passed the limit: {}", held.len());
    // The first client of the flood (silent) was cut off first, and told so.
    let mut first = held[0].0.try_clone().unwrap();
    first.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = String::new();
    let _ = first.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer:?}");
    let m = get(admin, "/metrics").body;
    let busy = sample(&m, "breakwater_admin_http_requests_total{code=\"503\"}").unwrap();
    assert!(busy >= (held.len() - limit) as f64, "{busy} clients cut off of {}", held.len());
    drop(held);
    gw.shutdown().unwrap();
}

/// The `Bearer` scheme is case-insensitive; a request with two `Authorization`
/// headers is refused with 400 (even when both carry the token) and queues nothing.
#[test]
fn bearer_is_case_insensitive_and_authorization_comes_once() {
    let gw = start(&admin_config(Topology::Fused));
    let admin = gw.admin_addr().unwrap();
    let send = |headers: &str| {
        let head = format!(
            "POST /admin/limit?name=max_notional&value=6000000 HTTP/1.1\r\nHost: x\r\n\
             {headers}Content-Length: 0\r\n\r\n"
        );
        raw(admin, head.as_bytes())
    };
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let a = send(&format!("Authorization: {scheme} {TOKEN}\r\n"));
        assert_eq!(a.status, 202, "{scheme}: {a:?}");
    }
    for twice in [
        format!("Authorization: Bearer {TOKEN}\r\nAuthorization: Bearer {TOKEN}\r\n"),
        format!("Authorization: Bearer wrong-token\r\nauthorization: bearer {TOKEN}\r\n"),
        format!("authorization: Bearer {TOKEN}\r\nX-Other: 1\r\nAUTHORIZATION: Basic eA==\r\n"),
    ] {
        let a = send(&twice);
        assert_eq!(a.status, 400, "{twice:?}: {a:?}");
        assert!(a.body.contains("more than one Authorization header"), "{a:?}");
    }
    assert_eq!(send("Authorization: Basic dGVzdA==\r\n").status, 401);
    // Exactly the four accepted commands were applied.
    let deadline = Instant::now() + WAIT;
    while gw.engine_stats.admin_commands.get() < 4 {
        assert!(Instant::now() < deadline, "the commands were not applied");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(gw.engine_stats.admin_commands.get(), 4);
    gw.shutdown().unwrap();
}

/// A request that never completes is timed out with 408.
#[test]
fn a_request_that_never_completes_times_out() {
    let gw = start(&admin_config(Topology::Fused));
    let admin: SocketAddr = gw.admin_addr().unwrap();
    let mut s = TcpStream::connect(admin).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\n").unwrap();
    s.set_read_timeout(Some(gateway::admin::REQUEST_TIMEOUT + Duration::from_secs(5))).unwrap();
    let t0 = Instant::now();
    let mut answer = String::new();
    let _ = s.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer:?}");
    assert!(t0.elapsed() >= gateway::admin::REQUEST_TIMEOUT - Duration::from_millis(500));
    gw.shutdown().unwrap();
}
