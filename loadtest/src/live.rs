//! Once a second the generator hands its interval histograms to this thread, which
//! computes percentiles, prints the progress line, updates the Prometheus figures
//! and writes the HDR interval log. None of that work (percentiles over a 256 KiB
//! histogram, DEFLATE) runs on the generator's thread, so it cannot show up as lag.

use std::io::Write;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};

pub use crate::interval::{IntervalRecord, IntervalStats};
use crate::metrics::Figures;
use crate::tracker::new_histogram;

/// What the reporter thread hands back.
#[derive(Debug)]
pub struct LiveOutput {
    /// Interval figures.
    pub intervals: Vec<IntervalStats>,
    /// The HDR interval log (text).
    pub hlog: Vec<u8>,
}

/// The reporter thread.
#[derive(Debug)]
pub struct Live {
    tx: mpsc::Sender<IntervalRecord>,
    thread: std::thread::JoinHandle<LiveOutput>,
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

impl Live {
    /// Starts it; `label` prefixes progress lines; `figures` is updated for /metrics.
    pub fn start(label: String, quiet: bool, figures: Option<Arc<Mutex<Figures>>>) -> Live {
        let (tx, rx) = mpsc::channel::<IntervalRecord>();
        let thread = std::thread::Builder::new()
            .name("lt-live".into())
            .spawn(move || reporter(rx, &label, quiet, figures.as_deref()))
            .expect("spawn the reporter thread");
        Live { tx, thread }
    }

    /// Where the generator sends intervals.
    pub fn sender(&self) -> mpsc::Sender<IntervalRecord> {
        self.tx.clone()
    }

    /// Waits for the last interval and returns what was gathered.
    pub fn finish(self) -> LiveOutput {
        drop(self.tx);
        self.thread.join().expect("the reporter thread does not panic")
    }
}

fn reporter(
    rx: mpsc::Receiver<IntervalRecord>,
    label: &str,
    quiet: bool,
    figures: Option<&Mutex<Figures>>,
) -> LiveOutput {
    let mut intervals = Vec::new();
    let mut hlog = Vec::with_capacity(1 << 20);
    let mut cumulative = new_histogram();
    let start = SystemTime::now();
    {
        let mut ser = V2DeflateSerializer::new();
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment("Breakwater loadtest: answer latency (Tag=latency) and schedule lag (Tag=lag); values in ms")
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut hlog, &mut ser)
            .ok();
        let lat_tag = Tag::new("latency");
        let lag_tag = Tag::new("lag");
        for r in rx {
            let dt = (r.end_s - r.start_s).max(1e-9);
            let h = &r.latency;
            let q = |x: f64| if h.is_empty() { 0.0 } else { us(h.value_at_quantile(x)) };
            let stats = IntervalStats {
                t_s: r.start_s,
                dt_s: dt,
                intended_rate_per_s: r.intended_rate_per_s,
                achieved_rate_per_s: r.sent as f64 / dt,
                answered_per_s: r.answered as f64 / dt,
                in_flight: r.in_flight,
                open_orders: r.open_orders,
                p50_us: q(0.5),
                p90_us: q(0.9),
                p99_us: q(0.99),
                p999_us: q(0.999),
                max_us: if h.is_empty() { 0.0 } else { us(h.max()) },
                lag_p99_us: if r.lag.is_empty() { 0.0 } else { us(r.lag.value_at_quantile(0.99)) },
                lag_max_us: if r.lag.is_empty() { 0.0 } else { us(r.lag.max()) },
                phase: r.phase.to_owned(),
            };
            let _ = cumulative.add(h);
            if let Some(w) = writer.as_mut() {
                let from = Duration::from_secs_f64(r.start_s.max(0.0));
                let len = Duration::from_secs_f64(dt);
                let _ = w.write_histogram(h, from, len, lat_tag);
                let _ = w.write_histogram(&r.lag, from, len, lag_tag);
            }
            if !quiet {
                let p99_all = if cumulative.is_empty() {
                    0.0
                } else {
                    us(cumulative.value_at_quantile(0.99))
                };
                let mut err = std::io::stderr().lock();
                let _ = writeln!(
                    err,
                    "[{label}] t={:>6.1}s {:<8} rate {:>8.0}/{:<8.0}/s in-flight {:>6} open {:>6} p99 {:>8.1}us (run {:>8.1}us) lag p99 {:>7.1}us",
                    r.end_s,
                    r.phase,
                    stats.intended_rate_per_s,
                    stats.achieved_rate_per_s,
                    r.in_flight,
                    r.open_orders,
                    stats.p99_us,
                    p99_all,
                    stats.lag_p99_us
                );
            }
            if let Some(f) = figures
                && let Ok(mut f) = f.lock()
            {
                f.update(&r, &stats);
            }
            intervals.push(stats);
        }
    }
    LiveOutput { intervals, hlog }
}
