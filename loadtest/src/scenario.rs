//! Scenarios: a rate profile of segments, the character of the order flow, operator
//! and client events at set times, and the objectives a run must meet.
//!
//! A scenario is a TOML file (see `docs/loadtest.md` and `loadtest/scenarios/`).
//! Reading it has two steps, as in the rest of the workspace: serde reads plain
//! records, then [`Scenario::from_toml_str`] checks every value and names the file
//! and the field of the first one that is wrong (`crash.toml: segments[2].to_x:
//! must be positive, got 0`). Times are seconds in the file and nanoseconds inside.

use serde::Deserialize;

use crate::clock::Rng;

/// The built-in scenarios: (name, TOML text).
pub const BUILT_IN: &[(&str, &str)] = &[
    ("smoke", include_str!("../scenarios/smoke.toml")),
    ("steady", include_str!("../scenarios/steady.toml")),
    ("record-second", include_str!("../scenarios/record-second.toml")),
    ("circuit-breaker-2016", include_str!("../scenarios/circuit-breaker-2016.toml")),
    ("venue-slowdown-2024-09-27", include_str!("../scenarios/venue-slowdown-2024-09-27.toml")),
    ("record-open-2024-10-08", include_str!("../scenarios/record-open-2024-10-08.toml")),
    ("reconnect-storm", include_str!("../scenarios/reconnect-storm.toml")),
    ("headroom-ladder", include_str!("../scenarios/headroom-ladder.toml")),
];

/// A scenario that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, a value of the wrong type, or an unknown key.
    #[error("{file}: {message}")]
    Syntax {
        /// The file.
        file: String,
        /// The parser's message (it names the line and key).
        message: String,
    },
    /// A value is present but wrong.
    #[error("{file}: {field}: {message}")]
    Invalid {
        /// The file.
        file: String,
        /// The field as a TOML path.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No built-in scenario has this name and no such file exists.
    #[error("no built-in scenario or file named {0:?} (try `loadtest list`)")]
    Unknown(String),
}

// ---- raw TOML ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: String,
    #[serde(default)]
    description: String,
    base_rate_per_s: f64,
    #[serde(default = "default_seed")]
    seed: u64,
    #[serde(default = "default_arrivals")]
    arrivals: String,
    #[serde(default = "default_warmup")]
    warmup_s: f64,
    #[serde(default = "default_drain")]
    drain_s: f64,
    #[serde(default)]
    flow: RawFlow,
    #[serde(default)]
    objectives: RawObjectives,
    #[serde(default)]
    segments: Vec<RawSegment>,
    #[serde(default)]
    events: Vec<RawEvent>,
}

fn default_seed() -> u64 {
    1
}
fn default_arrivals() -> String {
    "poisson".into()
}
fn default_warmup() -> f64 {
    1.0
}
fn default_drain() -> f64 {
    5.0
}

/// The character of the order flow; every field has a default.
#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RawFlow {
    /// TCP sessions (logins) for an in-process gateway; 0 sizes them from the peak rate.
    pub sessions: usize,
    /// Trading accounts per session for an in-process gateway; 0 sizes them from the peak rate.
    pub accounts_per_session: usize,
    /// Instruments for an in-process gateway.
    pub instruments: usize,
    /// Share of messages that cancel an open order.
    pub cancel_share: f64,
    /// Share of messages that replace an open limit order.
    pub replace_share: f64,
    /// Share of new orders built to fail a risk or suitability check.
    pub reject_share: f64,
    /// Share of new orders that need a suitability confirmation (sent without the flag,
    /// refused with CONFIRMATION_REQUIRED, then sent again with it).
    pub confirm_share: f64,
    /// Share of new orders that are limit IOC.
    pub ioc_share: f64,
    /// Share of new orders of the A-share market types.
    pub market_share: f64,
    /// Share of buys among new orders.
    pub buy_share: f64,
    /// Share of limit orders priced to cross the spread.
    pub aggressive_share: f64,
    /// Half-width of the band of passive prices, in ticks.
    pub spread_ticks: u32,
    /// Open orders a session keeps before it cancels instead of adding.
    pub max_open_per_session: usize,
    /// Wait before a suitability confirmation is sent, ms (a person reading the warning).
    pub confirm_delay_ms: f64,
    /// Gateway topology for an in-process gateway: "auto", "fused" or "pipelined".
    pub topology: String,
    /// Share of session actions that are queries (funds, positions, orders, fills;
    /// protocol version 3) instead of order messages.
    pub query_share: f64,
    /// Every session asks funds and positions every this many ms (0: never), on
    /// top of the schedule: the probe a trading screen runs.
    pub query_every_ms: u64,
}

impl Default for RawFlow {
    fn default() -> Self {
        RawFlow {
            sessions: 0,
            accounts_per_session: 0,
            instruments: 8,
            cancel_share: 0.2,
            replace_share: 0.04,
            reject_share: 0.02,
            confirm_share: 0.01,
            ioc_share: 0.06,
            market_share: 0.06,
            buy_share: 0.5,
            aggressive_share: 0.25,
            spread_ticks: 12,
            max_open_per_session: 1_500,
            confirm_delay_ms: 2.0,
            topology: "auto".into(),
            query_share: 0.0,
            query_every_ms: 0,
        }
    }
}

#[derive(Deserialize, Default, Clone, Debug)]
#[serde(deny_unknown_fields)]
struct RawFlowOverride {
    buy_share: Option<f64>,
    cancel_share: Option<f64>,
    replace_share: Option<f64>,
    reject_share: Option<f64>,
    market_share: Option<f64>,
    aggressive_share: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawObjectives {
    p50_us: Option<f64>,
    p99_us: Option<f64>,
    p999_us: Option<f64>,
    p9999_us: Option<f64>,
    max_lost: Option<u64>,
    max_unanswered: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    #[serde(default)]
    name: String,
    #[serde(default = "default_kind")]
    kind: String,
    duration_s: Option<f64>,
    rate_x: Option<f64>,
    from_x: Option<f64>,
    to_x: Option<f64>,
    burst_x: Option<f64>,
    burst_s: Option<f64>,
    every_min_s: Option<f64>,
    every_max_s: Option<f64>,
    factor: Option<f64>,
    step_s: Option<f64>,
    stop_p99_us: Option<f64>,
    price_to_pct: Option<f64>,
    #[serde(default)]
    flow: RawFlowOverride,
}

fn default_kind() -> String {
    "steady".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvent {
    at_s: f64,
    action: String,
    security: Option<String>,
    auction_ms: Option<u64>,
    ms: Option<u64>,
    account: Option<String>,
    state: Option<String>,
    phase: Option<String>,
    name: Option<String>,
    value: Option<i64>,
    sessions_share: Option<f64>,
    over_ms: Option<u64>,
    down_ms: Option<u64>,
}

// ---- typed ----

/// How the rate varies within a segment (multipliers of the base rate).
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// A constant multiple.
    Steady {
        /// Multiple of the base rate.
        rate_x: f64,
    },
    /// Linear from one multiple to another.
    Ramp {
        /// At the segment's start.
        from_x: f64,
        /// At its end.
        to_x: f64,
    },
    /// A base multiple with bursts at fixed (seeded) times.
    Bursts {
        /// Between bursts.
        rate_x: f64,
        /// During a burst.
        burst_x: f64,
        /// Burst starts and ends, ns from the segment's start.
        bursts: Vec<(u64, u64)>,
    },
    /// Steps that multiply the rate until p99 passes the objective.
    Ladder {
        /// First step.
        from_x: f64,
        /// Each step is this times the previous.
        factor: f64,
        /// Length of one step, ns.
        step_ns: u64,
        /// Stop when a step's p99 exceeds this, ns.
        stop_p99_ns: u64,
    },
}

/// Per-segment changes to the flow.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FlowOverride {
    /// Share of buys.
    pub buy_share: Option<f64>,
    /// Share of cancels.
    pub cancel_share: Option<f64>,
    /// Share of replaces.
    pub replace_share: Option<f64>,
    /// Share of deliberate risk rejects.
    pub reject_share: Option<f64>,
    /// Share of market orders.
    pub market_share: Option<f64>,
    /// Share of crossing limit orders.
    pub aggressive_share: Option<f64>,
}

/// One part of the rate profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    /// Label for reports.
    pub name: String,
    /// Start, ns from the scenario's start (after warm-up).
    pub start_ns: u64,
    /// Length, ns.
    pub duration_ns: u64,
    /// The rate.
    pub shape: Shape,
    /// Target price at the segment's end, % from the previous close (the flow's
    /// prices walk there linearly from the previous segment's target).
    pub price_to_pct: f64,
    /// Flow changes.
    pub flow: FlowOverride,
}

/// Something that happens at a set time.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// An operator command (gateway admin).
    Operator(crate::operator::OperatorAction),
    /// Sessions drop their connections and log in again with their next sequence number.
    ReconnectStorm {
        /// Share of sessions that drop.
        sessions_share: f64,
        /// Drops are spread over this window, ns.
        over_ns: u64,
        /// A dropped session stays down this long before logging in, ns.
        down_ns: u64,
    },
}

/// An action at a time.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// When, ns from the scenario's start.
    pub at_ns: u64,
    /// What.
    pub action: Action,
}

/// What a run must meet; missing objectives are not checked.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Objectives {
    /// p50 answer latency, µs.
    pub p50_us: Option<f64>,
    /// p99 answer latency, µs.
    pub p99_us: Option<f64>,
    /// p99.9, µs.
    pub p999_us: Option<f64>,
    /// p99.99, µs.
    pub p9999_us: Option<f64>,
    /// Most lost requests allowed.
    pub max_lost: Option<u64>,
    /// Most unanswered requests allowed.
    pub max_unanswered: Option<u64>,
}

/// Inter-arrival law.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process): realistic clumping.
    Poisson,
    /// Even gaps.
    Uniform,
}

/// A validated scenario, already scaled.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Name.
    pub name: String,
    /// One paragraph for people.
    pub description: String,
    /// Normal-day rate (×1), messages per second.
    pub base_rate_per_s: f64,
    /// Seed of the flow and the bursts.
    pub seed: u64,
    /// Inter-arrival law.
    pub arrivals: Arrivals,
    /// Warm-up at the base rate before the profile starts (not measured), ns.
    pub warmup_ns: u64,
    /// After the profile: wait this long for answers, ns.
    pub drain_ns: u64,
    /// Flow character.
    pub flow: RawFlow,
    /// Objectives.
    pub objectives: Objectives,
    /// Rate profile.
    pub segments: Vec<Segment>,
    /// Events.
    pub events: Vec<Event>,
}

struct Check<'a> {
    file: &'a str,
}

impl Check<'_> {
    fn err(&self, field: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }
    fn positive(&self, field: &str, v: Option<f64>) -> Result<f64, ScenarioError> {
        match v {
            None => Err(self.err(field, "is required for this kind of segment")),
            Some(x) if x.is_finite() && x > 0.0 => Ok(x),
            Some(x) => Err(self.err(field, format!("must be positive, got {x}"))),
        }
    }
    fn non_negative(&self, field: &str, v: f64) -> Result<f64, ScenarioError> {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(self.err(field, format!("must be zero or more, got {v}")))
        }
    }
    fn share(&self, field: &str, v: f64) -> Result<f64, ScenarioError> {
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(self.err(field, format!("must be a share between 0 and 1, got {v}")))
        }
    }
}

fn secs_to_ns(s: f64) -> u64 {
    (s * 1e9).round() as u64
}

impl Scenario {
    /// A built-in scenario by name, or a file by path.
    pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
        if let Some((name, text)) = BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            return Scenario::from_toml_str(text, &format!("<built-in {name}>"));
        }
        let path = std::path::Path::new(name_or_path);
        if !path.exists() {
            return Err(ScenarioError::Unknown(name_or_path.to_owned()));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Io { file: name_or_path.to_owned(), source })?;
        Scenario::from_toml_str(&text, name_or_path)
    }

    /// Parses and validates scenario text; `file` names it in errors.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        let raw: RawScenario = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let c = Check { file };
        if raw.name.trim().is_empty() {
            return Err(c.err("name", "must not be empty"));
        }
        let base_rate_per_s = c.positive("base_rate_per_s", Some(raw.base_rate_per_s))?;
        let arrivals = match raw.arrivals.as_str() {
            "poisson" => Arrivals::Poisson,
            "uniform" => Arrivals::Uniform,
            other => {
                return Err(c.err(
                    "arrivals",
                    format!("expected \"poisson\" or \"uniform\", got {other:?}"),
                ));
            }
        };
        let warmup_ns = secs_to_ns(c.non_negative("warmup_s", raw.warmup_s)?);
        let drain_ns = secs_to_ns(c.non_negative("drain_s", raw.drain_s)?);
        let flow = check_flow(&c, raw.flow)?;
        let o = raw.objectives;
        let objectives = Objectives {
            p50_us: o.p50_us,
            p99_us: o.p99_us,
            p999_us: o.p999_us,
            p9999_us: o.p9999_us,
            max_lost: o.max_lost,
            max_unanswered: o.max_unanswered,
        };
        if raw.segments.is_empty() {
            return Err(c.err("segments", "at least one [[segments]] entry is needed"));
        }
        let mut rng = Rng::new(raw.seed ^ 0x5EED_B0B5);
        let mut segments = Vec::with_capacity(raw.segments.len());
        let mut start_ns = 0u64;
        let mut price_pct = 0.0;
        for (i, s) in raw.segments.into_iter().enumerate() {
            let seg = check_segment(&c, i, s, start_ns, &mut price_pct, &mut rng)?;
            start_ns += seg.duration_ns;
            segments.push(seg);
        }
        let mut events = Vec::with_capacity(raw.events.len());
        for (i, e) in raw.events.into_iter().enumerate() {
            events.push(check_event(&c, i, e, start_ns)?);
        }
        events.sort_by_key(|e| e.at_ns);
        Ok(Scenario {
            name: raw.name,
            description: raw.description,
            base_rate_per_s,
            seed: raw.seed,
            arrivals,
            warmup_ns,
            drain_ns,
            flow,
            objectives,
            segments,
            events,
        })
    }

    /// Multiplies every rate by `rate_scale` and every duration and time by `time_scale`.
    pub fn scaled(mut self, rate_scale: f64, time_scale: f64) -> Scenario {
        assert!(rate_scale > 0.0 && time_scale > 0.0, "scales are checked by the caller");
        self.base_rate_per_s *= rate_scale;
        let t = |ns: u64| (ns as f64 * time_scale).round() as u64;
        for s in &mut self.segments {
            s.start_ns = t(s.start_ns);
            s.duration_ns = t(s.duration_ns).max(1);
            match &mut s.shape {
                Shape::Bursts { bursts, .. } => {
                    for b in bursts.iter_mut() {
                        *b = (t(b.0), t(b.1).max(t(b.0) + 1));
                    }
                }
                Shape::Ladder { step_ns, .. } => *step_ns = t(*step_ns).max(1),
                _ => {}
            }
        }
        for e in &mut self.events {
            e.at_ns = t(e.at_ns);
            if let Action::ReconnectStorm { over_ns, down_ns, .. } = &mut e.action {
                *over_ns = t(*over_ns);
                *down_ns = t(*down_ns);
            }
        }
        self
    }

    /// Length of the rate profile, ns (warm-up and drain excluded).
    pub fn duration_ns(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.start_ns + s.duration_ns)
    }

    /// The segment in force at `t_ns` (clamped to the last).
    pub fn segment_at(&self, t_ns: u64) -> usize {
        match self.segments.iter().position(|s| t_ns < s.start_ns + s.duration_ns) {
            Some(i) => i,
            None => self.segments.len() - 1,
        }
    }

    /// The rate multiple at `t_ns` in segment `i` (ladder steps are counted from the
    /// segment's start; a stopped ladder is the runner's business).
    pub fn rate_x_at(&self, i: usize, t_ns: u64) -> f64 {
        let s = &self.segments[i];
        let into = t_ns.saturating_sub(s.start_ns).min(s.duration_ns);
        match &s.shape {
            Shape::Steady { rate_x } => *rate_x,
            Shape::Ramp { from_x, to_x } => {
                from_x + (to_x - from_x) * (into as f64 / s.duration_ns.max(1) as f64)
            }
            Shape::Bursts { rate_x, burst_x, bursts } => {
                if bursts.iter().any(|&(a, b)| into >= a && into < b) { *burst_x } else { *rate_x }
            }
            Shape::Ladder { from_x, factor, step_ns, .. } => {
                from_x * factor.powi((into / step_ns.max(&1)) as i32)
            }
        }
    }

    /// Messages per second intended at `t_ns` (the profile, before any ladder stop).
    pub fn rate_at(&self, t_ns: u64) -> f64 {
        if t_ns >= self.duration_ns() {
            return 0.0;
        }
        self.base_rate_per_s * self.rate_x_at(self.segment_at(t_ns), t_ns)
    }

    /// The highest intended rate anywhere in the profile.
    pub fn peak_rate_per_s(&self) -> f64 {
        let peak_x = self
            .segments
            .iter()
            .map(|s| match &s.shape {
                Shape::Steady { rate_x } => *rate_x,
                Shape::Ramp { from_x, to_x } => from_x.max(*to_x),
                Shape::Bursts { rate_x, burst_x, .. } => rate_x.max(*burst_x),
                Shape::Ladder { from_x, factor, step_ns, .. } => {
                    let steps = s.duration_ns.div_ceil(*step_ns.max(&1)).max(1);
                    from_x * factor.powi(steps as i32 - 1)
                }
            })
            .fold(0.0, f64::max);
        self.base_rate_per_s * peak_x.max(1.0)
    }

    /// About how many messages the whole run sends (warm-up included).
    pub fn expected_messages(&self) -> f64 {
        let step = 10_000_000u64;
        let mut total = self.base_rate_per_s * self.warmup_ns as f64 / 1e9;
        let mut t = 0;
        while t < self.duration_ns() {
            total += self.rate_at(t) * step as f64 / 1e9;
            t += step;
        }
        total
    }

    /// The intended send time of the message after one intended at `t_ns` (clock
    /// time: the warm-up first, at the base rate, then the profile). A pure function
    /// of the scenario and the schedule's own random stream, so the baseline and the
    /// gateway runs send at the same times whatever the answers. A zero rate moves
    /// on a millisecond at a time without sending. After the profile: `u64::MAX`.
    pub fn next_send_ns(&self, t_ns: u64, rng: &mut Rng) -> u64 {
        let end = self.warmup_ns + self.duration_ns();
        let mut t = t_ns;
        // Bounded: a millisecond at a time, to the profile's end at most.
        while t < end {
            let rate = if t < self.warmup_ns {
                self.base_rate_per_s
            } else {
                self.rate_at(t - self.warmup_ns)
            };
            if rate > 0.0 {
                let gap_s = match self.arrivals {
                    Arrivals::Poisson => rng.exp1() / rate,
                    Arrivals::Uniform => 1.0 / rate,
                };
                return t + ((gap_s * 1e9) as u64).max(1);
            }
            t += 1_000_000;
        }
        u64::MAX
    }

    /// Target price move at `t_ns`, % of the previous close (linear within a segment).
    pub fn price_pct_at(&self, t_ns: u64) -> f64 {
        let i = self.segment_at(t_ns);
        let s = &self.segments[i];
        let from = if i == 0 { 0.0 } else { self.segments[i - 1].price_to_pct };
        let into = t_ns.saturating_sub(s.start_ns).min(s.duration_ns) as f64;
        from + (s.price_to_pct - from) * into / s.duration_ns.max(1) as f64
    }
}

fn check_flow(c: &Check<'_>, f: RawFlow) -> Result<RawFlow, ScenarioError> {
    for (field, v) in [
        ("flow.cancel_share", f.cancel_share),
        ("flow.replace_share", f.replace_share),
        ("flow.reject_share", f.reject_share),
        ("flow.confirm_share", f.confirm_share),
        ("flow.ioc_share", f.ioc_share),
        ("flow.market_share", f.market_share),
        ("flow.buy_share", f.buy_share),
        ("flow.aggressive_share", f.aggressive_share),
        ("flow.query_share", f.query_share),
    ] {
        c.share(field, v)?;
    }
    if f.cancel_share + f.replace_share > 0.9 {
        return Err(c.err("flow.cancel_share", "cancels and replaces together must stay below 0.9"));
    }
    if f.reject_share + f.confirm_share + f.ioc_share + f.market_share > 1.0 {
        return Err(c.err(
            "flow.market_share",
            "reject, confirm, ioc and market shares together must not exceed 1",
        ));
    }
    if f.instruments == 0 || f.instruments > 64 {
        return Err(c.err("flow.instruments", format!("expected 1..=64, got {}", f.instruments)));
    }
    if f.spread_ticks == 0 {
        return Err(c.err("flow.spread_ticks", "must be positive"));
    }
    if f.max_open_per_session == 0 {
        return Err(c.err("flow.max_open_per_session", "must be positive"));
    }
    c.non_negative("flow.confirm_delay_ms", f.confirm_delay_ms)?;
    if !["auto", "fused", "pipelined"].contains(&f.topology.as_str()) {
        return Err(c.err(
            "flow.topology",
            format!("expected \"auto\", \"fused\" or \"pipelined\", got {:?}", f.topology),
        ));
    }
    Ok(f)
}

fn check_segment(
    c: &Check<'_>,
    i: usize,
    s: RawSegment,
    start_ns: u64,
    price_pct: &mut f64,
    rng: &mut Rng,
) -> Result<Segment, ScenarioError> {
    let f = |name: &str| format!("segments[{i}].{name}");
    let duration_s = c.positive(&f("duration_s"), s.duration_s)?;
    let duration_ns = secs_to_ns(duration_s);
    let shape = match s.kind.as_str() {
        "steady" => {
            Shape::Steady { rate_x: c.non_negative(&f("rate_x"), s.rate_x.unwrap_or(1.0))? }
        }
        "ramp" => Shape::Ramp {
            from_x: c.non_negative(&f("from_x"), s.from_x.unwrap_or(1.0))?,
            to_x: c.positive(&f("to_x"), s.to_x)?,
        },
        "bursts" => {
            let rate_x = c.non_negative(&f("rate_x"), s.rate_x.unwrap_or(1.0))?;
            let burst_x = c.positive(&f("burst_x"), s.burst_x)?;
            let burst_ns = secs_to_ns(c.positive(&f("burst_s"), s.burst_s.or(Some(1.0)))?);
            let lo = c.positive(&f("every_min_s"), s.every_min_s)?;
            let hi = c.positive(&f("every_max_s"), s.every_max_s)?;
            if hi < lo {
                return Err(c.err(f("every_max_s"), format!("must be at least every_min_s ({lo})")));
            }
            let mut bursts = Vec::new();
            let mut t = secs_to_ns(lo + (hi - lo) * rng.unit());
            while t + burst_ns <= duration_ns {
                bursts.push((t, t + burst_ns));
                t += burst_ns + secs_to_ns(lo + (hi - lo) * rng.unit());
            }
            Shape::Bursts { rate_x, burst_x, bursts }
        }
        "ladder" => {
            let from_x = c.positive(&f("from_x"), s.from_x)?;
            let factor = c.positive(&f("factor"), s.factor)?;
            if factor <= 1.0 {
                return Err(c.err(f("factor"), format!("must be above 1, got {factor}")));
            }
            let step_ns = secs_to_ns(c.positive(&f("step_s"), s.step_s)?);
            let stop_p99_ns = (c.positive(&f("stop_p99_us"), s.stop_p99_us)? * 1e3) as u64;
            Shape::Ladder { from_x, factor, step_ns, stop_p99_ns }
        }
        other => {
            return Err(c.err(
                f("kind"),
                format!("expected \"steady\", \"ramp\", \"bursts\" or \"ladder\", got {other:?}"),
            ));
        }
    };
    if let Some(p) = s.price_to_pct
        && !(-30.0..=30.0).contains(&p)
    {
        return Err(c.err(f("price_to_pct"), format!("expected -30..=30, got {p}")));
    }
    *price_pct = s.price_to_pct.unwrap_or(*price_pct);
    let o = s.flow;
    for (name, v) in [
        ("flow.buy_share", o.buy_share),
        ("flow.cancel_share", o.cancel_share),
        ("flow.replace_share", o.replace_share),
        ("flow.reject_share", o.reject_share),
        ("flow.market_share", o.market_share),
        ("flow.aggressive_share", o.aggressive_share),
    ] {
        if let Some(v) = v {
            c.share(&f(name), v)?;
        }
    }
    Ok(Segment {
        name: if s.name.is_empty() { format!("segment {i}") } else { s.name },
        start_ns,
        duration_ns,
        shape,
        price_to_pct: *price_pct,
        flow: FlowOverride {
            buy_share: o.buy_share,
            cancel_share: o.cancel_share,
            replace_share: o.replace_share,
            reject_share: o.reject_share,
            market_share: o.market_share,
            aggressive_share: o.aggressive_share,
        },
    })
}

fn check_event(
    c: &Check<'_>,
    i: usize,
    e: RawEvent,
    duration_ns: u64,
) -> Result<Event, ScenarioError> {
    let f = |name: &str| format!("events[{i}].{name}");
    let at_s = c.non_negative(&f("at_s"), e.at_s)?;
    let at_ns = secs_to_ns(at_s);
    if at_ns > duration_ns {
        return Err(c.err(
            f("at_s"),
            format!("{at_s} s is after the profile's end ({} s)", duration_ns as f64 / 1e9),
        ));
    }
    let action = if e.action == "reconnect-storm" {
        let share = e.sessions_share.unwrap_or(0.5);
        c.share(&f("sessions_share"), share)?;
        Action::ReconnectStorm {
            sessions_share: share,
            over_ns: e.over_ms.unwrap_or(1_000) * 1_000_000,
            down_ns: e.down_ms.unwrap_or(100) * 1_000_000,
        }
    } else {
        let params = crate::operator::ActionParams {
            security: e.security,
            auction_ms: e.auction_ms,
            ms: e.ms,
            account: e.account,
            state: e.state,
            phase: e.phase,
            name: e.name,
            value: e.value,
        };
        let action = crate::operator::OperatorAction::parse(&e.action, &params)
            .map_err(|(field, message)| c.err(f(field), message))?;
        Action::Operator(action)
    };
    Ok(Event { at_ns, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "name = \"t\"\nbase_rate_per_s = 1000\n[[segments]]\nduration_s = 2\n";

    #[test]
    fn every_built_in_parses() {
        for (name, text) in BUILT_IN {
            let s = Scenario::from_toml_str(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(&s.name, name);
            assert!(s.duration_ns() > 0);
            assert!(s.peak_rate_per_s() >= s.base_rate_per_s);
        }
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let bad = MINIMAL.replace("duration_s = 2", "duration_s = 0");
        let e = Scenario::from_toml_str(&bad, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml: segments[0].duration_s: must be positive"), "{e}");

        let bad = format!("{MINIMAL}kind = \"zigzag\"\n");
        let e = Scenario::from_toml_str(&bad, "x.toml").unwrap_err().to_string();
        assert!(e.contains("segments[0].kind") && e.contains("zigzag"), "{e}");

        let bad = format!("{MINIMAL}[flow]\ncancel_share = 1.5\n");
        let e = Scenario::from_toml_str(&bad, "y.toml").unwrap_err().to_string();
        assert!(e.starts_with("y.toml: flow.cancel_share"), "{e}");

        let bad = format!("{MINIMAL}[[events]]\nat_s = 1\naction = \"explode\"\n");
        let e = Scenario::from_toml_str(&bad, "z.toml").unwrap_err().to_string();
        assert!(e.contains("events[0].action") && e.contains("explode"), "{e}");

        let bad = format!("{MINIMAL}[[events]]\nat_s = 9\naction = \"halt\"\n");
        let e = Scenario::from_toml_str(&bad, "z.toml").unwrap_err().to_string();
        assert!(e.contains("events[0].at_s"), "{e}");

        let bad = format!("{MINIMAL}bogus = 1\n");
        let e = Scenario::from_toml_str(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.starts_with("w.toml: ") && e.contains("bogus"), "{e}");

        let bad = format!("{MINIMAL}[[events]]\nat_s = 1\naction = \"venue/ack-delay\"\n");
        let e = Scenario::from_toml_str(&bad, "v.toml").unwrap_err().to_string();
        assert!(e.contains("events[0].ms"), "{e}");
    }

    #[test]
    fn rates_follow_the_profile_and_scale() {
        let text = "name = \"t\"\nbase_rate_per_s = 1000\n\
            [[segments]]\nduration_s = 1\nrate_x = 2\n\
            [[segments]]\nkind = \"ramp\"\nduration_s = 2\nfrom_x = 2\nto_x = 6\nprice_to_pct = -4\n";
        let s = Scenario::from_toml_str(text, "t").unwrap();
        assert_eq!(s.duration_ns(), 3_000_000_000);
        assert_eq!(s.rate_at(500_000_000), 2000.0);
        assert_eq!(s.rate_at(2_000_000_000), 4000.0);
        assert_eq!(s.rate_at(3_000_000_000), 0.0);
        assert_eq!(s.price_pct_at(2_000_000_000), -2.0);
        assert_eq!(s.peak_rate_per_s(), 6000.0);
        let s = s.scaled(0.5, 2.0);
        assert_eq!(s.duration_ns(), 6_000_000_000);
        assert_eq!(s.rate_at(1_000_000_000), 1000.0);
        assert_eq!(s.rate_at(4_000_000_000), 2000.0);
        let expected = s.expected_messages();
        // warm-up 1 s at 500/s, 2 s at 1000/s, 4 s ramping 1000 -> 3000.
        assert!((expected - (500.0 + 2000.0 + 8000.0)).abs() < 50.0, "{expected}");
    }

    fn sends_in(s: &Scenario, from_ns: u64, to_ns: u64) -> u64 {
        let mut rng = Rng::new(s.seed);
        let (mut t, mut n) = (0u64, 0u64);
        while t < to_ns {
            if t >= from_ns {
                assert!(n < 1_000_000, "bounded");
                n += 1;
            }
            t = s.next_send_ns(t, &mut rng);
        }
        n
    }

    #[test]
    fn the_open_loop_schedule_follows_the_rate() {
        let text = "name = \"t\"\nbase_rate_per_s = 1000\narrivals = \"uniform\"\nwarmup_s = 1\n\
            [[segments]]\nduration_s = 2\nrate_x = 2\n\
            [[segments]]\nduration_s = 1\nrate_x = 0\n\
            [[segments]]\nduration_s = 1\nrate_x = 5\n";
        let s = Scenario::from_toml_str(text, "t").unwrap();
        // Uniform: exactly the rate, segment by segment (clock time includes the warm-up).
        let sec = 1_000_000_000;
        assert!((999..=1001).contains(&sends_in(&s, 0, sec)));
        assert!((3_998..=4_002).contains(&sends_in(&s, sec, 3 * sec)));
        assert_eq!(sends_in(&s, 3 * sec + 1_000_000, 4 * sec), 0, "a zero rate sends nothing");
        assert!((4_990..=5_001).contains(&sends_in(&s, 4 * sec, 5 * sec)));
        assert_eq!(sends_in(&s, 5 * sec + 1_000_000, 9 * sec), 0, "nothing after the profile");
        // Poisson: the same mean, and the same times for the same seed.
        let p = Scenario::from_toml_str(&text.replace("uniform", "poisson"), "t").unwrap();
        let n = sends_in(&p, sec, 3 * sec);
        assert!((3_800..=4_200).contains(&n), "{n}");
        assert_eq!(sends_in(&p, 0, 5 * sec), sends_in(&p, 0, 5 * sec));
        let mut a = Rng::new(5);
        let mut b = Rng::new(5);
        let mut t = 0;
        for _ in 0..1000 {
            let next = p.next_send_ns(t, &mut a);
            assert_eq!(next, p.next_send_ns(t, &mut b));
            assert!(next > t);
            t = next;
        }
    }

    #[test]
    fn bursts_and_ladders() {
        let text = "name = \"t\"\nbase_rate_per_s = 100\n\
            [[segments]]\nkind = \"bursts\"\nduration_s = 60\nburst_x = 15.6\nburst_s = 1\nevery_min_s = 10\nevery_max_s = 30\n\
            [[segments]]\nkind = \"ladder\"\nduration_s = 40\nfrom_x = 1\nfactor = 2\nstep_s = 10\nstop_p99_us = 1000\n";
        let s = Scenario::from_toml_str(text, "t").unwrap();
        let Shape::Bursts { bursts, .. } = &s.segments[0].shape else { panic!() };
        assert!((2..=6).contains(&bursts.len()), "{bursts:?}");
        for w in bursts.windows(2) {
            let gap = w[1].0 - w[0].1;
            assert!((10_000_000_000..=30_000_000_000).contains(&gap), "{gap}");
        }
        let (a, _) = bursts[0];
        assert_eq!(s.rate_at(a), 1560.0);
        assert_eq!(s.rate_at(60_000_000_000 + 25_000_000_000), 400.0);
        assert_eq!(s.peak_rate_per_s(), 1560.0);
    }
}
