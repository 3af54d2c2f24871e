//! The Prometheus text exposition format (version 0.0.4), written one way for
//! every exporter: the gateway's `/metrics` ([`super::exposition`]) and the load
//! generator's. Every family gets its HELP and TYPE lines, label values are
//! escaped, and an HDR histogram in nanoseconds is folded into buckets, `_sum` and
//! `_count` by [`fold_buckets`].

use std::fmt::{Display, Write as _};

use hdrhistogram::Histogram;

/// The `Content-Type` of an exposition.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Histogram bucket upper bounds, ascending: (nanoseconds, the `le` label as
/// written). The labels are written as given, so an exporter keeps the label text
/// its dashboards and alerts name.
pub type Buckets = [(u64, &'static str)];

/// Prometheus buckets of an HDR histogram in nanoseconds: cumulative counts for
/// each of `buckets`, the sum in seconds, and the total count.
///
/// A value is counted in the first bucket at or above the upper end of its HDR
/// bucket, so a boundary can only make latency look worse, never better (by at
/// most the histogram's precision, 0.1% at three significant digits). The sum
/// adds each HDR bucket's middle value.
pub fn fold_buckets(h: &Histogram<u64>, buckets: &Buckets) -> (Vec<u64>, f64, u64) {
    let mut per_bucket = vec![0u64; buckets.len()];
    let mut sum_ns = 0f64;
    for v in h.iter_recorded() {
        let n = v.count_at_value();
        let top = v.value_iterated_to();
        sum_ns += h.median_equivalent(top) as f64 * n as f64;
        if let Some(i) = buckets.iter().position(|&(b, _)| top <= b) {
            per_bucket[i] += n;
        }
    }
    let mut running = 0;
    for c in &mut per_bucket {
        running += *c;
        *c = running;
    }
    (per_bucket, sum_ns / 1e9, h.len())
}

/// Writes families, each with its HELP and TYPE lines, into a string.
#[derive(Debug)]
pub struct Exposition<'a>(&'a mut String);

impl<'a> Exposition<'a> {
    /// Appends to `out`.
    pub fn new(out: &'a mut String) -> Exposition<'a> {
        Exposition(out)
    }

    /// A family's HELP and TYPE lines (`kind`: counter, gauge, histogram).
    pub fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample line of the family last headed.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.sample_le(name, labels, None, value);
    }

    fn sample_le(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        le: Option<&str>,
        v: impl Display,
    ) {
        self.0.push_str(name);
        if !labels.is_empty() || le.is_some() {
            self.0.push('{');
            for (i, (k, v)) in
                labels.iter().chain(le.as_ref().map(|le| ("le", *le)).iter()).enumerate()
            {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"");
                escape_label(self.0, v);
                self.0.push('"');
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {v}");
    }

    /// A counter family of one sample.
    pub fn counter(&mut self, name: &str, help: &str, v: impl Display) {
        self.head(name, "counter", help);
        self.sample(name, &[], v);
    }

    /// A gauge family of one sample.
    pub fn gauge(&mut self, name: &str, help: &str, v: impl Display) {
        self.head(name, "gauge", help);
        self.sample(name, &[], v);
    }

    /// A family with one label, a sample per row.
    pub fn labelled(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        rows: &[(&str, u64)],
    ) {
        self.head(name, kind, help);
        for (value, v) in rows {
            self.sample(name, &[(label, value)], v);
        }
    }

    /// A histogram family of one series: HELP, TYPE, then [`Self::histogram_series`].
    pub fn histogram(&mut self, name: &str, help: &str, h: &Histogram<u64>, buckets: &Buckets) {
        self.head(name, "histogram", help);
        self.histogram_series(name, &[], h, buckets);
    }

    /// One series of a histogram family already headed: `_bucket` per bound and
    /// `+Inf`, `_sum` in seconds, `_count`, each with `labels` (`le` last).
    pub fn histogram_series(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        h: &Histogram<u64>,
        buckets: &Buckets,
    ) {
        let (cumulative, sum_s, n) = fold_buckets(h, buckets);
        let bucket = format!("{name}_bucket");
        for ((_, le), c) in buckets.iter().zip(cumulative) {
            self.sample_le(&bucket, labels, Some(le), c);
        }
        self.sample_le(&bucket, labels, Some("+Inf"), n);
        self.sample(&format!("{name}_sum"), labels, sum_s);
        self.sample(&format!("{name}_count"), labels, n);
    }
}

fn escape_label(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO: [(u64, &str); 2] = [(1_000, "1e-06"), (1_000_000, "0.001")];

    #[test]
    fn a_histogram_is_headed_folded_and_labelled() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        h.record(500).unwrap();
        h.record(2_000_000).unwrap();
        let mut out = String::new();
        let mut w = Exposition::new(&mut out);
        w.histogram("t_seconds", "Test.", &h, &TWO);
        w.head("t_by_stage_seconds", "histogram", "By stage.");
        w.histogram_series("t_by_stage_seconds", &[("stage", "a\"b")], &h, &TWO);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..7],
            [
                "# HELP t_seconds Test.",
                "# TYPE t_seconds histogram",
                "t_seconds_bucket{le=\"1e-06\"} 1",
                "t_seconds_bucket{le=\"0.001\"} 1",
                "t_seconds_bucket{le=\"+Inf\"} 2",
                // 500 ns exactly, 2 ms at its HDR bucket's middle (2,000,384 ns).
                "t_seconds_sum 0.002000884",
                "t_seconds_count 2",
            ]
        );
        assert_eq!(lines[9], "t_by_stage_seconds_bucket{stage=\"a\\\"b\",le=\"1e-06\"} 1");
        assert_eq!(lines[13], "t_by_stage_seconds_count{stage=\"a\\\"b\"} 2");
    }

    #[test]
    fn an_empty_histogram_is_all_zero() {
        let h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        assert_eq!(fold_buckets(&h, &TWO), (vec![0, 0], 0.0, 0));
        let mut out = String::new();
        Exposition::new(&mut out).gauge("t_up", "Up.", 1);
        assert_eq!(out, "# HELP t_up Up.\n# TYPE t_up gauge\nt_up 1\n");
    }
}
