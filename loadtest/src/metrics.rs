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

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::interval::{IntervalRecord, IntervalStats};
use crate::tracker::new_histogram;

/// Histogram bucket bounds in seconds: fine below 1 ms, with a boundary at 0.05.
pub const BUCKETS_S: &[f64] = &[
    0.000_005, 0.000_010, 0.000_015, 0.000_020, 0.000_025, 0.000_030, 0.000_040, 0.000_050,
    0.000_075, 0.000_100, 0.000_150, 0.000_200, 0.000_300, 0.000_500, 0.000_750, 0.001, 0.002,
    0.005, 0.010, 0.020, 0.050, 0.100, 0.250, 0.500, 1.0, 2.5, 5.0, 10.0,
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
        let mut o = String::with_capacity(8 * 1024);
        let p = "breakwater_loadtest";
        let gauge = |o: &mut String, name: &str, help: &str, v: f64| {
            let _ =
                writeln!(o, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} gauge\n{p}_{name} {v}");
        };
        let _ = writeln!(
            o,
            "# HELP {p}_run_info The run in progress (1 while it runs).\n# TYPE {p}_run_info gauge\n\
             {p}_run_info{{scenario=\"{}\",target=\"{}\"}} {}",
            self.scenario,
            self.target,
            u8::from(self.running)
        );
        gauge(
            &mut o,
            "intended_rate_per_second",
            "Messages per second the profile asks for now.",
            self.intended,
        );
        gauge(
            &mut o,
            "achieved_rate_per_second",
            "Messages written per second in the last interval.",
            self.achieved,
        );
        gauge(
            &mut o,
            "answered_rate_per_second",
            "Answers received per second in the last interval.",
            self.answered_rate,
        );
        gauge(&mut o, "in_flight", "Requests sent and not yet answered.", self.in_flight as f64);
        gauge(&mut o, "open_orders", "Orders accepted and not yet terminal.", self.open as f64);
        let _ = writeln!(
            o,
            "# HELP {p}_sent_total Requests sent.\n# TYPE {p}_sent_total counter\n{p}_sent_total {}",
            self.sent_total
        );
        let _ = writeln!(
            o,
            "# HELP {p}_answered_total Answers measured.\n# TYPE {p}_answered_total counter\n{p}_answered_total {}",
            self.answered_total
        );
        histogram(
            &mut o,
            &format!("{p}_latency_seconds"),
            "Intended send time to answer.",
            &self.latency,
        );
        histogram(
            &mut o,
            &format!("{p}_schedule_lag_seconds"),
            "Actual minus intended send time (the generator's own lag).",
            &self.lag,
        );
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
            let _ = writeln!(o, "# HELP {p}_{name} {help}\n# TYPE {p}_{name} gauge");
            for (q, v) in ["0.5", "0.99", "0.999", "1"].iter().zip(vals.iter()) {
                let _ = writeln!(o, "{p}_{name}{{quantile=\"{q}\"}} {v}");
            }
        }
        o
    }
}

fn histogram(o: &mut String, name: &str, help: &str, h: &Histogram<u64>) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} histogram");
    for &b in BUCKETS_S {
        let le_ns = (b * 1e9) as u64;
        let count = if h.is_empty() { 0 } else { h.count_between(0, le_ns) };
        let _ = writeln!(o, "{name}_bucket{{le=\"{b}\"}} {count}");
    }
    let _ = writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {}", h.len());
    let sum = h.mean() * h.len() as f64 / 1e9;
    let _ = writeln!(o, "{name}_sum {}", if sum.is_finite() { sum } else { 0.0 });
    let _ = writeln!(o, "{name}_count {}", h.len());
}

/// The `/metrics` endpoint on its own thread.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Serves `figures` on `listen`.
    pub fn start(
        listen: SocketAddr,
        figures: Arc<Mutex<Figures>>,
    ) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new().name("lt-metrics".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 2048];
                        let n = s.read(&mut buf).unwrap_or(0);
                        let req = String::from_utf8_lossy(&buf[..n]);
                        let (status, body) = if req.starts_with("GET /metrics") {
                            let body = figures.lock().map(|f| f.render()).unwrap_or_default();
                            ("200 OK", body)
                        } else {
                            ("404 Not Found", "try /metrics\n".to_owned())
                        };
                        let _ = write!(
                            s,
                            "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        })?;
        Ok(MetricsServer { addr, stop, thread: Some(thread) })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        ] {
            assert!(text.contains(name), "{name} missing in\n{text}");
        }
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
        assert!(body.contains("breakwater_loadtest_run_info{scenario=\"smoke\""));
    }
}
