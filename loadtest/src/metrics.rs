//! The harness's own figures for Prometheus: `GET /metrics` in the text format.
//!
//! Metric names (the Grafana dashboard uses these; listed in `docs/loadtest.md`):
//!
//! | name | type | meaning |
//! |---|---|---|
//! | `breakwater_loadtest_intended_rate_per_second` | gauge | what the profile asks for now |
//! | `breakwater_loadtest_achieved_rate_per_second` | gauge | messages written in the last interval, per second |
//! | `breakwater_loadtest_answered_rate_per_second` | gauge | answers received in the last interval, per second |
//! | `breakwater_loadtest_in_flight` | gauge | requests sent and not answered |
//! | `breakwater_loadtest_open_orders` | gauge | orders accepted and not terminal |
//! | `breakwater_loadtest_sent_total` | counter | requests sent |
//! | `breakwater_loadtest_answered_total` | counter | answers measured |
//! | `breakwater_loadtest_latency_seconds` | histogram | intended send to answer |
//! | `breakwater_loadtest_schedule_lag_seconds` | histogram | actual minus intended send time |
//! | `breakwater_loadtest_interval_latency_seconds{quantile}` | gauge | last interval's answer latency quantiles |
//! | `breakwater_loadtest_interval_schedule_lag_seconds{quantile}` | gauge | last interval's lag quantiles |
//! | `breakwater_loadtest_run_info{scenario,target}` | gauge | 1 while a run is going |

//!
//! The text is written by the gateway's Prometheus writer
//! (`gateway::admin::prometheus::Exposition`: HELP and TYPE for every family,
//! escaped labels, histograms folded into buckets, `_sum` and `_count` as the
//! gateway folds its own) and served by the gateway's HTTP loop
//! (`gateway::admin::serve::serve_metrics`). The bucket bounds are the generator's
//! own ([`BUCKETS`], up to 10 s), their `le` labels written as before.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use gateway::admin::prometheus::Exposition;
use gateway::admin::serve::{HttpServer, serve_metrics};
use hdrhistogram::Histogram;

use crate::interval::{IntervalRecord, IntervalStats};
use crate::tracker::new_histogram;

/// Histogram bucket bounds (nanoseconds, `le` label): fine below 1 ms, with a
/// boundary at 0.05 s, up to 10 s.
pub const BUCKETS: [(u64, &str); 28] = [
    (5_000, "0.000005"),
    (10_000, "0.00001"),
    (15_000, "0.000015"),
    (20_000, "0.00002"),
    (25_000, "0.000025"),
    (30_000, "0.00003"),
    (40_000, "0.00004"),
    (50_000, "0.00005"),
    (75_000, "0.000075"),
    (100_000, "0.0001"),
    (150_000, "0.00015"),
    (200_000, "0.0002"),
    (300_000, "0.0003"),
    (500_000, "0.0005"),
    (750_000, "0.00075"),
    (1_000_000, "0.001"),
    (2_000_000, "0.002"),
    (5_000_000, "0.005"),
    (10_000_000, "0.01"),
    (20_000_000, "0.02"),
    (50_000_000, "0.05"),
    (100_000_000, "0.1"),
    (250_000_000, "0.25"),
    (500_000_000, "0.5"),
    (1_000_000_000, "1"),
    (2_500_000_000, "2.5"),
    (5_000_000_000, "5"),
    (10_000_000_000, "10"),
];

/// The latest figures.
#[derive(Debug)]
pub struct Figures {
    scenario: String,
    target: String,
    running: bool,
    intended: f64,
    achieved: f64,
    answered_rate: f64,
    in_flight: u64,
    open: u64,
    sent_total: u64,
    answered_total: u64,
    latency: Histogram<u64>,
    lag: Histogram<u64>,
    interval_lat: [f64; 4],
    interval_lag: [f64; 4],
}

impl Figures {
    /// Empty figures for a run.
    pub fn new(scenario: &str, target: &str) -> Figures {
        Figures {
            scenario: scenario.to_owned(),
            target: target.to_owned(),
            running: true,
            intended: 0.0,
            achieved: 0.0,
            answered_rate: 0.0,
            in_flight: 0,
            open: 0,
            sent_total: 0,
            answered_total: 0,
            latency: new_histogram(),
            lag: new_histogram(),
            interval_lat: [0.0; 4],
            interval_lag: [0.0; 4],
        }
    }

    /// A new run (baseline, then gateway) in the same process.
    pub fn restart(&mut self, target: &str) {
        *self = Figures::new(&self.scenario.clone(), target);
    }

    /// The run ended.
    pub fn stopped(&mut self) {
        self.running = false;
    }

    /// Takes in one interval.
    pub fn update(&mut self, r: &IntervalRecord, s: &IntervalStats) {
        self.intended = s.intended_rate_per_s;
        self.achieved = s.achieved_rate_per_s;
        self.answered_rate = s.answered_per_s;
        self.in_flight = r.in_flight;
        self.open = r.open_orders;
        self.sent_total = r.sent_total;
        self.answered_total = r.answered_total;
        let _ = self.latency.add(&r.latency);
        let _ = self.lag.add(&r.lag);
        let q = |h: &Histogram<u64>, x: f64| {
            if h.is_empty() { 0.0 } else { h.value_at_quantile(x) as f64 / 1e9 }
        };
        for (k, x) in [0.5, 0.99, 0.999, 1.0].into_iter().enumerate() {
            self.interval_lat[k] = q(&r.latency, x);
            self.interval_lag[k] = q(&r.lag, x);
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(8 * 1024);
        self.render_into(&mut out);
        out
    }

    /// Appends the Prometheus text exposition to `out`.
    pub fn render_into(&self, out: &mut String) {
        let mut w = Exposition::new(out);
        let p = "breakwater_loadtest";
        let name = format!("{p}_run_info");
        w.head(&name, "gauge", "The run in progress (1 while it runs).");
        let labels = [("scenario", self.scenario.as_str()), ("target", self.target.as_str())];
        w.sample(&name, &labels, u8::from(self.running));
        let gauges = [
            (
                "intended_rate_per_second",
                "Messages per second the profile asks for now.",
                self.intended,
            ),
            (
                "achieved_rate_per_second",
                "Messages written per second in the last interval.",
                self.achieved,
            ),
            (
                "answered_rate_per_second",
                "Answers received per second in the last interval.",
                self.answered_rate,
            ),
            ("in_flight", "Requests sent and not yet answered.", self.in_flight as f64),
            ("open_orders", "Orders accepted and not yet terminal.", self.open as f64),
        ];
        for (name, help, v) in gauges {
            w.gauge(&format!("{p}_{name}"), help, v);
        }
        w.counter(&format!("{p}_sent_total"), "Requests sent.", self.sent_total);
        w.counter(&format!("{p}_answered_total"), "Answers measured.", self.answered_total);
        let help = "Intended send time to answer.";
        w.histogram(&format!("{p}_latency_seconds"), help, &self.latency, &BUCKETS);
        let help = "Actual minus intended send time (the generator's own lag).";
        w.histogram(&format!("{p}_schedule_lag_seconds"), help, &self.lag, &BUCKETS);
        for (name, vals, help) in [
            (
                "interval_latency_seconds",
                &self.interval_lat,
                "Answer latency quantiles in the last interval.",
            ),
            (
                "interval_schedule_lag_seconds",
                &self.interval_lag,
                "Schedule lag quantiles in the last interval.",
            ),
        ] {
            let name = format!("{p}_{name}");
            w.head(&name, "gauge", help);
            for (q, v) in ["0.5", "0.99", "0.999", "1"].iter().zip(vals.iter()) {
                w.sample(&name, &[("quantile", q)], v);
            }
        }
    }
}

/// The `/metrics` endpoint on its own thread (the gateway's HTTP loop); stops
/// when dropped.
#[derive(Debug)]
pub struct MetricsServer {
    server: HttpServer,
}

impl MetricsServer {
    /// Serves `figures` on `listen`.
    pub fn start(
        listen: SocketAddr,
        figures: Arc<Mutex<Figures>>,
    ) -> std::io::Result<MetricsServer> {
        let listener = std::net::TcpListener::bind(listen)?;
        let render = move |out: &mut String| {
            if let Ok(f) = figures.lock() {
                f.render_into(out);
            }
        };
        let server = serve_metrics(listener, "load generator metrics", "lt-metrics", render)?;
        Ok(MetricsServer { server })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn exposition_names_and_buckets() {
        let mut f = Figures::new("smoke", "gateway");
        let mut lat = new_histogram();
        lat.record(40_000).unwrap();
        lat.record(60_000_000).unwrap();
        let r = IntervalRecord {
            index: 0,
            start_s: 0.0,
            end_s: 1.0,
            intended_rate_per_s: 1000.0,
            scheduled: 1000,
            sent: 999,
            answered: 2,
            in_flight: 3,
            open_orders: 4,
            sent_total: 999,
            answered_total: 2,
            latency: lat,
            lag: new_histogram(),
            phase: "profile",
        };
        let s = IntervalStats {
            t_s: 0.0,
            dt_s: 1.0,
            intended_rate_per_s: 1000.0,
            achieved_rate_per_s: 999.0,
            answered_per_s: 2.0,
            in_flight: 3,
            open_orders: 4,
            p50_us: 40.0,
            p90_us: 0.0,
            p99_us: 0.0,
            p999_us: 0.0,
            max_us: 0.0,
            lag_p99_us: 0.0,
            lag_max_us: 0.0,
            phase: "profile".into(),
        };
        f.update(&r, &s);
        let text = f.render();
        for name in [
            "breakwater_loadtest_intended_rate_per_second 1000",
            "breakwater_loadtest_achieved_rate_per_second 999",
            "breakwater_loadtest_sent_total 999",
            "breakwater_loadtest_in_flight 3",
            "breakwater_loadtest_latency_seconds_bucket{le=\"0.00005\"} 1",
            "breakwater_loadtest_latency_seconds_bucket{le=\"0.05\"} 1",
            "breakwater_loadtest_latency_seconds_bucket{le=\"0.1\"} 2",
            "breakwater_loadtest_latency_seconds_count 2",
            "# TYPE breakwater_loadtest_schedule_lag_seconds histogram",
            "breakwater_loadtest_latency_seconds_bucket{le=\"+Inf\"} 2",
            "breakwater_loadtest_schedule_lag_seconds_sum 0\n",
            "breakwater_loadtest_interval_latency_seconds{quantile=\"0.5\"} 0.00004",
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
    }

    #[test]
    fn bucket_labels_match_their_bounds() {
        for (ns, le) in BUCKETS {
            let parsed: f64 = le.parse().unwrap();
            assert!((parsed * 1e9 - ns as f64).abs() < 1e-3, "{le} vs {ns}");
            // The label is what `{}` printed for the bound before: dashboards keep it.
            assert_eq!(format!("{parsed}"), le);
        }
        assert!(BUCKETS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn the_endpoint_serves_metrics() {
        let f = Arc::new(Mutex::new(Figures::new("smoke", "gateway")));
        let server = MetricsServer::start("127.0.0.1:0".parse().unwrap(), f).unwrap();
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 200"), "{body}");
        let content_type = gateway::admin::prometheus::CONTENT_TYPE;
        assert!(body.contains(&format!("Content-Type: {content_type}\r\n")), "{body}");
        assert!(body.contains("breakwater_loadtest_run_info{scenario=\"smoke\""));
    }
}
