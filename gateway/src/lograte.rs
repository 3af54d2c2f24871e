//! Rate-limited log lines for events a peer can cause at will (a connection
//! refused, a login that never came, a malformed frame).
//!
//! One line per site and window is written; the rest are counted, and the next
//! line written for that site says how many were held back:
//! "... (and 3,412 more like this in the last 10 s)". A flood of connections then
//! costs a few lines every ten seconds instead of one line each. Time comes in as
//! an argument, so the limiter is tested on virtual time.

use std::collections::HashMap;

/// How long a site's window lasts by default.
pub const WINDOW_NS: u64 = 10_000_000_000;

#[derive(Clone, Copy, Debug, Default)]
struct Site {
    window_start_ns: u64,
    written: bool,
    held_back: u64,
}

/// Counts log lines per site (a fixed `&'static str` naming the line) and admits
/// one per window.
#[derive(Debug)]
pub struct LogLimiter {
    window_ns: u64,
    sites: HashMap<&'static str, Site>,
}

impl LogLimiter {
    /// A limiter that writes one line per site every `window_ns`.
    pub fn new(window_ns: u64) -> LogLimiter {
        // The sites are string constants in the code: a few dozen at most.
        LogLimiter { window_ns, sites: HashMap::with_capacity(32) }
    }

    /// Whether a line for `site` is written now: `Some(suffix)` to append to it
    /// (empty, or the count held back since the last line), `None` to hold it back.
    pub fn admit(&mut self, site: &'static str, now_ns: u64) -> Option<String> {
        let window_ns = self.window_ns;
        let s = self.sites.entry(site).or_default();
        if s.written && now_ns.saturating_sub(s.window_start_ns) < window_ns {
            s.held_back += 1;
            return None;
        }
        let suffix = if s.held_back == 0 {
            String::new()
        } else {
            format!(" (and {})", held_back_text(s.held_back, window_ns))
        };
        *s = Site { window_start_ns: now_ns, written: true, held_back: 0 };
        Some(suffix)
    }

    /// Reports, through `write` (the site and "N more like this in the last 10 s"),
    /// each site whose window has ended with lines held back, so a flood that stops
    /// is still accounted for; the site starts afresh.
    pub fn flush(&mut self, now_ns: u64, mut write: impl FnMut(&'static str, &str)) {
        for (site, s) in &mut self.sites {
            if s.held_back > 0 && now_ns.saturating_sub(s.window_start_ns) >= self.window_ns {
                write(site, &held_back_text(s.held_back, self.window_ns));
                *s = Site::default();
            }
        }
    }
}

fn held_back_text(held_back: u64, window_ns: u64) -> String {
    let secs = window_ns / 1_000_000_000;
    format!("{} more like this in the last {secs} s", thousands(held_back))
}

/// `3412` as "3,412".
fn thousands(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn one_line_per_window_then_the_count_held_back() {
        let mut l = LogLimiter::new(10 * S);
        assert_eq!(l.admit("refused", 0).as_deref(), Some(""));
        for k in 1..=3_412 {
            assert_eq!(l.admit("refused", k * 1_000), None);
        }
        // Another site has its own window.
        assert_eq!(l.admit("timeout", 5).as_deref(), Some(""));
        assert_eq!(
            l.admit("refused", 10 * S).as_deref(),
            Some(" (and 3,412 more like this in the last 10 s)")
        );
        assert_eq!(l.admit("refused", 10 * S + 1), None);
    }

    #[test]
    fn a_flood_that_stops_is_still_reported() {
        let mut l = LogLimiter::new(10 * S);
        l.admit("refused", 0);
        l.admit("refused", 1);
        l.admit("refused", 2);
        let mut lines = Vec::new();
        l.flush(9 * S, |site, text| lines.push(format!("{site}: {text}")));
        assert!(lines.is_empty(), "the window is still open");
        l.flush(10 * S, |site, text| lines.push(format!("{site}: {text}")));
        assert_eq!(lines, ["refused: 2 more like this in the last 10 s"]);
        l.flush(30 * S, |site, text| lines.push(format!("{site}: {text}")));
        assert_eq!(lines.len(), 1, "reported once");
        assert_eq!(l.admit("refused", 30 * S).as_deref(), Some(""));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
