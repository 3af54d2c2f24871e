//! One interval of a run, as the generator hands it over ([`IntervalRecord`])
//! and as the report keeps it ([`IntervalStats`]). Below both the live reporter
//! (`live`) and the Prometheus figures (`metrics`), which each read them.

use hdrhistogram::Histogram;
use serde::Serialize;

/// One interval from the generator.
#[derive(Debug)]
pub struct IntervalRecord {
    /// Interval number.
    pub index: u64,
    /// Start, seconds from the profile's start (negative in the warm-up).
    pub start_s: f64,
    /// End.
    pub end_s: f64,
    /// What the profile asked for, messages per second.
    pub intended_rate_per_s: f64,
    /// Messages the schedule produced in the interval.
    pub scheduled: u64,
    /// Messages written.
    pub sent: u64,
    /// Answers received.
    pub answered: u64,
    /// Requests in flight at the end.
    pub in_flight: u64,
    /// Orders open at the end.
    pub open_orders: u64,
    /// Requests sent so far.
    pub sent_total: u64,
    /// Answers measured so far.
    pub answered_total: u64,
    /// Answer latencies in the interval, ns.
    pub latency: Histogram<u64>,
    /// Schedule lag in the interval, ns.
    pub lag: Histogram<u64>,
    /// Run phase.
    pub phase: &'static str,
}

/// Per-interval figures for the report.
#[derive(Clone, Debug, Serialize)]
pub struct IntervalStats {
    /// Interval start, s.
    pub t_s: f64,
    /// Length, s.
    pub dt_s: f64,
    /// Intended rate.
    pub intended_rate_per_s: f64,
    /// Achieved (written) rate.
    pub achieved_rate_per_s: f64,
    /// Answers per second.
    pub answered_per_s: f64,
    /// In flight at the end.
    pub in_flight: u64,
    /// Open orders at the end.
    pub open_orders: u64,
    /// Answer latency percentiles, µs (0 when no answers).
    pub p50_us: f64,
    /// p90.
    pub p90_us: f64,
    /// p99.
    pub p99_us: f64,
    /// p99.9.
    pub p999_us: f64,
    /// Max.
    pub max_us: f64,
    /// Schedule lag p99, µs.
    pub lag_p99_us: f64,
    /// Schedule lag max, µs.
    pub lag_max_us: f64,
    /// Phase.
    pub phase: String,
}
