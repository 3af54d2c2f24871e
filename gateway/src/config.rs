//! The gateway's configuration: one TOML file with the server, outbound stream,
//! pipeline, exchange, login, journal and admin sections, plus the risk engine's
//! `[limits]`, `[fees]`, `[[accounts]]` and `[[instruments]]` tables.
//!
//! Every limit is explicit. Errors name the file, the field and what is wrong, and
//! the gateway refuses to start on any of them. Without a file the built-in demo
//! configuration (`gateway/demo.toml`) is used.
//!
//! Every key that sizes memory has an upper bound (the `MAX_*` constants below),
//! far above any sensible setting: a digit too many is refused here, naming the
//! key, before anything is allocated. The whole budget is then compared with the
//! machine's memory by [`memory`] (the binary does it for `--check` and before
//! starting).

pub mod fix_door;
pub mod marketdata;
pub mod memory;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use protocol::{AccountId, Token, Username};
use risk_check::RiskConfig;
use serde::Deserialize;
use sim_exchange::{ExchangeConfig, InstrumentSpec, Schedule};

use crate::wait::WaitStrategy;

/// Most bytes of `server.rx_buffer_bytes` (16 MiB).
pub const MAX_RX_BUFFER_BYTES: usize = 16 << 20;
/// Most bytes of `outbound.log_bytes_per_login` (64 GiB).
pub const MAX_LOG_BYTES_PER_LOGIN: u64 = 64 << 30;
/// Most messages of `outbound.log_messages_per_login` (2^30).
pub const MAX_LOG_MESSAGES_PER_LOGIN: usize = 1 << 30;
/// Most slots of a ring: `pipeline.in_ring_capacity`, `pipeline.out_ring_capacity`,
/// `journal.ring_capacity` (2^24).
pub const MAX_RING_CAPACITY: usize = 1 << 24;
/// Most entries of `pipeline.admin_queue_capacity`, `pipeline.fused_outbox_capacity`,
/// `pipeline.unreleased_capacity` and `server.max_failing_addresses` (2^24).
pub const MAX_QUEUE_CAPACITY: usize = 1 << 24;
/// Most resting orders of `exchange.max_orders` (2^28).
pub const MAX_VENUE_ORDERS: usize = 1 << 28;
/// Most price levels of `exchange.max_levels_per_side` (2^24).
pub const MAX_LEVELS_PER_SIDE: usize = 1 << 24;
/// Most operations of `exchange.inbound_queue_capacity` (2^24).
pub const MAX_INBOUND_QUEUE_CAPACITY: usize = 1 << 24;
/// Most bytes of `journal.segment_bytes` (64 GiB).
pub const MAX_SEGMENT_BYTES: u64 = 64 << 30;
/// Most orders of `limits.max_orders_per_day` (2^30, about 290 GiB of tables).
pub const MAX_ORDERS_PER_DAY: u32 = 1 << 30;
/// Most slots of `limits.max_positions` (2^26).
pub const MAX_POSITIONS: u32 = 1 << 26;
/// Most bindings of `limits.max_login_bindings` (2^24).
pub const MAX_LOGIN_BINDINGS: u32 = 1 << 24;
/// Most fills of `limits.max_fills_per_day` (2^30, 112 GiB of table).
pub const MAX_FILLS_PER_DAY: u32 = 1 << 30;
/// Longest duration of the `[server]` `*_ms` keys: one day (larger values would
/// overflow their nanosecond forms).
pub const MAX_DURATION_MS: u64 = 86_400_000;
/// Longest `throttle_queue_us` of a login: one day.
pub const MAX_THROTTLE_QUEUE_US: u64 = 86_400_000_000;

/// Default of `[limits] max_queries_per_second`.
pub const DEFAULT_QUERIES_PER_SECOND: u32 = 50;
/// Most of `[limits] max_queries_per_second`.
pub const MAX_QUERIES_PER_SECOND: u32 = 100_000;
/// Most of `server.max_queries_in_flight` (each holds one 512-byte answer).
pub const MAX_QUERIES_IN_FLIGHT: usize = 65_536;

/// The built-in demo configuration.
pub const DEMO_TOML: &str = include_str!("../demo.toml");

/// A configuration the gateway cannot start with.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML, or a value of the wrong type, or an unknown key.
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
    /// The risk tables are wrong.
    #[error(transparent)]
    Risk(#[from] risk_check::ConfigError),
}

/// Which threads carry the pipeline.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// Pipelined when the machine has a core per stage (4 or more), else fused.
    Auto,
    /// One thread does io and the engine (no hop, no wake-up): best on small machines.
    Fused,
    /// An io thread and an engine thread joined by rings, each pinned and spinning
    /// when cores allow.
    Pipelined,
}

/// Settings of the `[server]` section.
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Most connections at once.
    pub max_sessions: usize,
    /// Most connections at once that have not logged in yet.
    pub max_pending_logins: usize,
    /// Most such connections from one address.
    pub max_pending_logins_per_address: usize,
    /// Heartbeat after this long without sending, ms.
    pub heartbeat_ms: u64,
    /// Dead-peer timeout, ms.
    pub dead_peer_ms: u64,
    /// Login timeout, ms.
    pub login_timeout_ms: u64,
    /// Failed logins allowed per username (or address) in the window.
    pub max_login_failures: u32,
    /// Window for counting failed logins, ms.
    pub login_failure_window_ms: u64,
    /// Lockout after too many failures, ms.
    pub login_lockout_ms: u64,
    /// Receive buffer per connection, bytes.
    pub rx_buffer_bytes: usize,
    /// Kernel send buffer per connection (SO_SNDBUF), bytes; 0 keeps the OS default.
    /// Smaller values make a non-reading client's backlog show up sooner.
    pub socket_send_buffer_bytes: usize,
    /// Most peer addresses tracked for failed logins with unknown usernames; past
    /// it, further unknown-name logins are refused as throttled until one expires.
    pub max_failing_addresses: usize,
    /// Queries (protocol version 3) answered or waiting to be sent at once, every
    /// connection together: the answer buffers are allocated once at this count.
    pub max_queries_in_flight: usize,
    /// `[limits] max_queries_per_second`: queries each login may send per second.
    pub max_queries_per_second: u32,
}

/// Settings of the `[outbound]` section.
#[derive(Clone, Copy, Debug)]
pub struct OutboundSettings {
    /// Bytes of sequenced stream retained per login for replay.
    pub log_bytes_per_login: usize,
    /// Messages retained per login (index slots).
    pub log_messages_per_login: usize,
    /// Unsent bytes after which a non-reading client is disconnected.
    pub backlog_limit_bytes: u64,
}

/// Settings of the `[pipeline]` section.
#[derive(Clone, Copy, Debug)]
pub struct PipelineSettings {
    /// Thread layout.
    pub topology: Topology,
    /// Slots in the io → engine ring.
    pub in_ring_capacity: usize,
    /// Slots in the engine → io ring.
    pub out_ring_capacity: usize,
    /// Core for the io thread (pipelined), or the fused thread.
    pub io_core: Option<usize>,
    /// Core for the engine thread (pipelined).
    pub engine_core: Option<usize>,
    /// Wait strategy of the io thread; `None` picks by topology and cores.
    pub io_wait: Option<WaitStrategy>,
    /// Wait strategy of the engine thread; `None` picks by topology and cores.
    pub engine_wait: Option<WaitStrategy>,
    /// Operator commands waiting for the io thread to sequence them.
    pub admin_queue_capacity: usize,
    /// Outputs the fused io thread holds between running the engine and
    /// appending them to the out logs.
    pub fused_outbox_capacity: usize,
    /// Under `sync` durability, answers waiting for their input to be on disk
    /// (one entry per login per input); when full, the io thread takes no more
    /// client input until the journal catches up.
    pub unreleased_capacity: usize,
}

/// One login.
#[derive(Clone, Debug)]
pub struct LoginConfig {
    /// Name.
    pub username: Username,
    /// Secret.
    pub token: Token,
    /// Accounts it may trade for.
    pub accounts: Vec<AccountId>,
    /// Cancel its open orders when its connection ends (default on).
    pub cancel_on_disconnect: bool,
    /// Answer THROTTLED to an order that waited longer than this, µs (0: never).
    pub throttle_queue_us: u64,
    /// Market data only: accepted by the market-data publisher, refused on the
    /// order-entry port (docs/marketdata.md, section 5).
    pub market_data_only: bool,
    /// The deepest market data it may subscribe to (`None`: none; its market-data
    /// Login is refused with NOT_ENTITLED).
    pub market_data_depth: Option<protocol::marketdata::Depth>,
}

/// The whole configuration, typed and validated.
#[derive(Clone, Debug)]
pub struct GatewayConfig {
    /// Where it came from (a file name, or `<demo>`).
    pub origin: String,
    /// `[server]`.
    pub server: ServerSettings,
    /// `[outbound]`.
    pub outbound: OutboundSettings,
    /// `[pipeline]`.
    pub pipeline: PipelineSettings,
    /// `[exchange]`, with instruments from `[[instruments]]`.
    pub exchange: ExchangeConfig,
    /// `[[logins]]`.
    pub logins: Vec<LoginConfig>,
    /// `[limits]`, `[fees]`, `[[accounts]]`, `[[instruments]]`.
    pub risk: RiskConfig,
    /// `[journal]`.
    pub journal: JournalSettings,
    /// `[admin]`.
    pub admin: AdminSettings,
    /// `[fix]`: the FIX 4.4 door, when configured.
    pub fix: Option<fix_door::FixDoorSettings>,
    /// `[marketdata]`: the market-data publisher (off unless `enabled`).
    pub marketdata: marketdata::MarketDataSettings,
    /// `[clock] start_at`: the test clock. When set, the gateway's clock starts at
    /// this Unix-ns time instead of the wall clock's (then runs at real speed).
    pub clock_start_ns: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct RawClock {
    start_at: Option<String>,
}

/// How inputs are made durable.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Memory only: a crash loses the day.
    None,
    /// Written at once, synced in the background; answers do not wait.
    Async,
    /// An answer leaves only after its input is on disk.
    Sync,
}

/// Settings of the `[journal]` section.
#[derive(Clone, Debug)]
pub struct JournalSettings {
    /// Policy.
    pub durability: Durability,
    /// Directory for journal files and snapshots.
    pub dir: PathBuf,
    /// Rotate journal files at this size, bytes.
    pub segment_bytes: u64,
    /// Fill each segment with zeros before use, so that a commit overwrites
    /// allocated blocks and its fdatasync has no file-system metadata to write.
    pub preallocate: bool,
    /// Slots in the engine → journal ring.
    pub ring_capacity: usize,
    /// Write a snapshot every this many inputs (0: never).
    pub snapshot_every_inputs: u64,
    /// On a damaged journal tail: cut at the last good record instead of refusing to start.
    pub truncate_damaged_tail: bool,
}

/// Settings of the `[admin]` section.
#[derive(Clone, Debug)]
pub struct AdminSettings {
    /// Address of the HTTP admin endpoint (`/metrics`, `/health`, actions); `None` disables it.
    pub listen: Option<SocketAddr>,
    /// Bearer token for admin actions (metrics and health need none).
    pub token: Option<String>,
    /// Record per-stage latency histograms.
    pub stage_metrics: bool,
    /// Time the engine's stages (queue in, risk, match, engine) on one input in
    /// this many, chosen by sequence number (1: every input). Each stamp is a clock
    /// read; sampling keeps the engine's cost of metrics small.
    pub stage_sample_every: u32,
}

// ---- raw TOML ----

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    outbound: RawOutbound,
    #[serde(default)]
    pipeline: RawPipeline,
    #[serde(default)]
    exchange: RawExchange,
    #[serde(default)]
    logins: Vec<RawLogin>,
    #[serde(default)]
    journal: RawJournal,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    clock: RawClock,
    #[serde(default)]
    fix: Option<fix_door::RawFixDoor>,
    #[serde(default)]
    marketdata: Option<marketdata::RawMarketData>,
    // The risk tables, read by risk-check from the same text.
    #[serde(default, rename = "limits")]
    _limits: Option<toml::Value>,
    #[serde(default, rename = "fees")]
    _fees: Option<toml::Value>,
    #[serde(default, rename = "accounts")]
    _accounts: Option<toml::Value>,
    #[serde(default, rename = "instruments")]
    _instruments: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawServer {
    listen: Vec<String>,
    max_sessions: usize,
    max_pending_logins: usize,
    max_pending_logins_per_address: usize,
    heartbeat_ms: u64,
    dead_peer_ms: u64,
    login_timeout_ms: u64,
    max_login_failures: u32,
    login_failure_window_ms: u64,
    login_lockout_ms: u64,
    rx_buffer_bytes: usize,
    socket_send_buffer_bytes: usize,
    max_failing_addresses: usize,
    max_queries_in_flight: usize,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: vec!["127.0.0.1:9100".into()],
            max_sessions: 256,
            max_pending_logins: 64,
            max_pending_logins_per_address: 8,
            heartbeat_ms: 1_000,
            dead_peer_ms: 15_000,
            login_timeout_ms: 5_000,
            max_login_failures: 5,
            login_failure_window_ms: 60_000,
            login_lockout_ms: 30_000,
            rx_buffer_bytes: 64 * 1024,
            socket_send_buffer_bytes: 0,
            max_failing_addresses: 4_096,
            max_queries_in_flight: 64,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawOutbound {
    log_bytes_per_login: usize,
    log_messages_per_login: usize,
    backlog_limit_bytes: u64,
}

impl Default for RawOutbound {
    fn default() -> Self {
        RawOutbound {
            log_bytes_per_login: 32 << 20,
            log_messages_per_login: 1 << 19,
            backlog_limit_bytes: 8 << 20,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawPipeline {
    topology: Topology,
    in_ring_capacity: usize,
    out_ring_capacity: usize,
    io_core: Option<usize>,
    engine_core: Option<usize>,
    io_wait: Option<WaitStrategy>,
    engine_wait: Option<WaitStrategy>,
    admin_queue_capacity: usize,
    fused_outbox_capacity: usize,
    unreleased_capacity: usize,
}

impl Default for RawPipeline {
    fn default() -> Self {
        RawPipeline {
            topology: Topology::Auto,
            in_ring_capacity: 1 << 16,
            out_ring_capacity: 1 << 17,
            io_core: None,
            engine_core: None,
            io_wait: None,
            engine_wait: None,
            admin_queue_capacity: 1_024,
            fused_outbox_capacity: 8_192,
            unreleased_capacity: 1 << 16,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawExchange {
    schedule: String,
    utc_offset_s: i32,
    max_orders: usize,
    max_levels_per_side: usize,
    overflow_levels_per_side: usize,
    inbound_queue_capacity: usize,
    self_trade_prevention: bool,
    holidays: Vec<String>,
    limit_ioc_fok: bool,
    market_data: bool,
}

impl Default for RawExchange {
    fn default() -> Self {
        RawExchange {
            schedule: "always-continuous".into(),
            utc_offset_s: 8 * 3600,
            max_orders: 1 << 20,
            max_levels_per_side: 4_096,
            overflow_levels_per_side: 1_024,
            inbound_queue_capacity: 1 << 16,
            self_trade_prevention: false,
            holidays: Vec::new(),
            limit_ioc_fok: false,
            market_data: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogin {
    username: String,
    token: String,
    accounts: Vec<String>,
    #[serde(default = "default_true")]
    cancel_on_disconnect: bool,
    #[serde(default)]
    throttle_queue_us: u64,
    #[serde(default)]
    market_data_only: bool,
    #[serde(default = "default_market_data_depth")]
    market_data_depth: String,
}

fn default_market_data_depth() -> String {
    "level2".into()
}

fn default_true() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawJournal {
    durability: Durability,
    dir: String,
    segment_bytes: u64,
    preallocate: bool,
    ring_capacity: usize,
    snapshot_every_inputs: u64,
    truncate_damaged_tail: bool,
}

impl Default for RawJournal {
    fn default() -> Self {
        RawJournal {
            durability: Durability::None,
            dir: "breakwater-journal".into(),
            segment_bytes: 64 << 20,
            preallocate: true,
            ring_capacity: 1 << 16,
            snapshot_every_inputs: 0,
            truncate_damaged_tail: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawAdmin {
    listen: Option<String>,
    token: Option<String>,
    stage_metrics: bool,
    stage_sample_every: u32,
}

impl Default for RawAdmin {
    fn default() -> Self {
        RawAdmin {
            listen: Some("127.0.0.1:9180".into()),
            token: None,
            stage_metrics: true,
            stage_sample_every: 16,
        }
    }
}

struct Errors<'a> {
    file: &'a str,
}

impl Errors<'_> {
    fn invalid(&self, field: impl std::fmt::Display, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            field: field.to_string(),
            message: message.into(),
        }
    }
}

impl GatewayConfig {
    /// The engine's view of the configured logins.
    pub fn login_policies(&self) -> Vec<crate::engine::LoginPolicy> {
        self.logins
            .iter()
            .map(|l| crate::engine::LoginPolicy {
                cancel_on_disconnect: l.cancel_on_disconnect,
                throttle_queue_ns: l.throttle_queue_us * 1_000,
                accounts: l.accounts.clone(),
            })
            .collect()
    }

    /// The built-in demo configuration.
    pub fn demo() -> GatewayConfig {
        GatewayConfig::from_toml_str(DEMO_TOML, "<demo>")
            .expect("the built-in demo configuration is valid")
    }

    /// Reads a configuration file.
    pub fn from_file(path: &Path) -> Result<GatewayConfig, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { file: file.clone(), source })?;
        GatewayConfig::from_toml_str(&text, &file)
    }

    /// Parses and validates configuration text; `file` names it in errors.
    pub fn from_toml_str(text: &str, file: &str) -> Result<GatewayConfig, ConfigError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            file: file.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let risk = RiskConfig::from_toml_str_embedded(text, file)?;
        let errors = Errors { file };
        let mut server = server_settings(&errors, raw.server)?;
        server.max_queries_per_second = queries_per_second(&errors, raw._limits.as_ref())?;
        let outbound = outbound_settings(&errors, raw.outbound)?;
        let pipeline = pipeline_settings(&errors, raw.pipeline)?;
        let exchange = exchange_config(&errors, raw.exchange, &risk)?;
        let logins = login_configs(&errors, raw.logins, &risk)?;
        let journal = journal_settings(&errors, raw.journal)?;
        let admin = admin_settings(&errors, raw.admin)?;
        let fix = fix_door::fix_door_settings(&errors, raw.fix, &logins)?;
        let marketdata =
            marketdata::market_data_settings(&errors, raw.marketdata, exchange.market_data)?;
        let clock_start_ns =
            clock_start(&errors, raw.clock, exchange_utc_offset_s(&exchange.schedule))?;
        capacity_bounds(&errors, &risk.capacity)?;
        listeners_apart(
            &errors,
            &server.listen,
            admin.listen,
            fix.as_ref().map(|f| f.listen),
            marketdata.enabled.then_some(marketdata.listen),
        )?;
        Ok(GatewayConfig {
            origin: file.to_owned(),
            server,
            outbound,
            pipeline,
            exchange,
            logins,
            risk,
            journal,
            admin,
            fix,
            marketdata,
            clock_start_ns,
        })
    }

    /// Starts the gateway's clock at a local time of the exchange's time zone
    /// (`YYYY-MM-DD HH:MM:SS`): the test clock, as `[clock] start_at` does.
    pub fn set_clock_start(&mut self, local_time: &str) -> Result<(), ConfigError> {
        let offset = exchange_utc_offset_s(&self.exchange.schedule);
        let errors = Errors { file: &self.origin };
        let raw = RawClock { start_at: Some(local_time.to_owned()) };
        self.clock_start_ns = clock_start(&errors, raw, offset)?;
        Ok(())
    }

    /// Refuses two listeners (client listeners, the admin endpoint) that would take
    /// the same port, which would otherwise fail at start with a bare "Address
    /// already in use". Run again after a command line changes an address.
    pub fn check_listeners(&self) -> Result<(), ConfigError> {
        listeners_apart(
            &Errors { file: &self.origin },
            &self.server.listen,
            self.admin.listen,
            self.fix.as_ref().map(|f| f.listen),
            self.marketdata.enabled.then_some(self.marketdata.listen),
        )
    }
}

/// The exchange's time zone: the schedule's, else Beijing's.
fn exchange_utc_offset_s(schedule: &Schedule) -> i32 {
    match schedule {
        Schedule::AShare { utc_offset_s } => *utc_offset_s,
        _ => 8 * 3600,
    }
}

fn clock_start(
    errors: &Errors<'_>,
    raw: RawClock,
    utc_offset_s: i32,
) -> Result<Option<u64>, ConfigError> {
    raw.start_at
        .map(|text| {
            crate::clock::parse_local_time(&text, utc_offset_s)
                .map_err(|message| errors.invalid("clock.start_at", message))
        })
        .transpose()
}

/// Whether a listener bound to `wild` takes `other`'s address on the same port: a
/// wildcard takes its family's every address, and `[::]` (dual-stack by default on
/// Linux) IPv4's as well.
fn covers(wild: IpAddr, other: IpAddr) -> bool {
    wild.is_unspecified() && (wild.is_ipv6() || other.is_ipv4())
}

/// Whether two listeners would collide. Port 0 picks a fresh port each time.
fn clash(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() != 0
        && a.port() == b.port()
        && (a.ip() == b.ip() || covers(a.ip(), b.ip()) || covers(b.ip(), a.ip()))
}

fn listeners_apart(
    errors: &Errors<'_>,
    clients: &[SocketAddr],
    admin: Option<SocketAddr>,
    fix: Option<SocketAddr>,
    marketdata: Option<SocketAddr>,
) -> Result<(), ConfigError> {
    let named: Vec<(String, SocketAddr)> = clients
        .iter()
        .enumerate()
        .map(|(i, a)| (format!("server.listen[{i}]"), *a))
        .chain(admin.map(|a| ("admin.listen".to_owned(), a)))
        .chain(fix.map(|a| ("fix.listen".to_owned(), a)))
        .chain(marketdata.map(|a| ("marketdata.listen".to_owned(), a)))
        .collect();
    for (j, (field, addr)) in named.iter().enumerate() {
        if let Some((other, taken)) = named[..j].iter().find(|(_, b)| clash(*addr, *b)) {
            return Err(errors.invalid(
                field,
                format!(
                    "{addr} takes the port of {other} ({taken}): every listener needs an \
                     address of its own"
                ),
            ));
        }
    }
    Ok(())
}

fn at_most<T: PartialOrd + std::fmt::Display>(
    errors: &Errors<'_>,
    field: &str,
    v: T,
    max: T,
) -> Result<T, ConfigError> {
    if v <= max {
        Ok(v)
    } else {
        Err(errors
            .invalid(field, format!("at most {max} (bounds: docs/configuration.md), got {v}")))
    }
}

/// The risk engine's start-up tables (read by risk-check, bounded here with the
/// gateway's other sizes).
fn capacity_bounds(errors: &Errors<'_>, c: &risk_check::Capacity) -> Result<(), ConfigError> {
    at_most(errors, "limits.max_orders_per_day", c.max_orders_per_day, MAX_ORDERS_PER_DAY)?;
    at_most(errors, "limits.max_positions", c.max_positions, MAX_POSITIONS)?;
    at_most(errors, "limits.max_login_bindings", c.max_login_bindings, MAX_LOGIN_BINDINGS)?;
    at_most(errors, "limits.max_fills_per_day", c.max_fills_per_day, MAX_FILLS_PER_DAY)?;
    Ok(())
}

fn parse_addr(errors: &Errors<'_>, field: &str, text: &str) -> Result<SocketAddr, ConfigError> {
    text.parse().map_err(|_| {
        errors.invalid(field, format!("expected an address like 127.0.0.1:9100, got {text:?}"))
    })
}

fn positive<T: PartialOrd + Default + std::fmt::Display>(
    errors: &Errors<'_>,
    field: &str,
    v: T,
) -> Result<T, ConfigError> {
    if v > T::default() {
        Ok(v)
    } else {
        Err(errors.invalid(field, format!("must be positive, got {v}")))
    }
}

fn server_settings(errors: &Errors<'_>, raw: RawServer) -> Result<ServerSettings, ConfigError> {
    if raw.listen.is_empty() {
        return Err(errors.invalid("server.listen", "needs at least one address"));
    }
    let listen = raw
        .listen
        .iter()
        .enumerate()
        .map(|(i, a)| parse_addr(errors, &format!("server.listen[{i}]"), a))
        .collect::<Result<Vec<_>, _>>()?;
    positive(errors, "server.max_sessions", raw.max_sessions)?;
    if raw.max_sessions > 60_000 {
        return Err(errors.invalid("server.max_sessions", "at most 60000"));
    }
    positive(errors, "server.max_pending_logins", raw.max_pending_logins)?;
    positive(errors, "server.max_pending_logins_per_address", raw.max_pending_logins_per_address)?;
    if raw.max_pending_logins_per_address > raw.max_pending_logins {
        return Err(errors.invalid(
            "server.max_pending_logins_per_address",
            format!(
                "at most max_pending_logins ({}), got {}",
                raw.max_pending_logins, raw.max_pending_logins_per_address
            ),
        ));
    }
    positive(errors, "server.heartbeat_ms", raw.heartbeat_ms)?;
    for (field, ms) in [
        ("server.heartbeat_ms", raw.heartbeat_ms),
        ("server.dead_peer_ms", raw.dead_peer_ms),
        ("server.login_timeout_ms", raw.login_timeout_ms),
        ("server.login_failure_window_ms", raw.login_failure_window_ms),
        ("server.login_lockout_ms", raw.login_lockout_ms),
    ] {
        at_most(errors, field, ms, MAX_DURATION_MS)?;
    }
    if raw.dead_peer_ms <= raw.heartbeat_ms {
        return Err(errors.invalid(
            "server.dead_peer_ms",
            format!("must exceed heartbeat_ms ({}), got {}", raw.heartbeat_ms, raw.dead_peer_ms),
        ));
    }
    positive(errors, "server.login_timeout_ms", raw.login_timeout_ms)?;
    positive(errors, "server.max_login_failures", raw.max_login_failures)?;
    if raw.rx_buffer_bytes < 2 * protocol::MAX_FRAME_LEN {
        return Err(errors.invalid(
            "server.rx_buffer_bytes",
            format!("must hold two maximum frames ({} bytes)", 2 * protocol::MAX_FRAME_LEN),
        ));
    }
    at_most(errors, "server.rx_buffer_bytes", raw.rx_buffer_bytes, MAX_RX_BUFFER_BYTES)?;
    positive(errors, "server.max_failing_addresses", raw.max_failing_addresses)?;
    at_most(errors, "server.max_failing_addresses", raw.max_failing_addresses, MAX_QUEUE_CAPACITY)?;
    Ok(ServerSettings {
        listen,
        max_sessions: raw.max_sessions,
        max_pending_logins: raw.max_pending_logins,
        max_pending_logins_per_address: raw.max_pending_logins_per_address,
        heartbeat_ms: raw.heartbeat_ms,
        dead_peer_ms: raw.dead_peer_ms,
        login_timeout_ms: raw.login_timeout_ms,
        max_login_failures: raw.max_login_failures,
        login_failure_window_ms: raw.login_failure_window_ms,
        login_lockout_ms: raw.login_lockout_ms,
        rx_buffer_bytes: raw.rx_buffer_bytes,
        socket_send_buffer_bytes: raw.socket_send_buffer_bytes,
        max_failing_addresses: raw.max_failing_addresses,
        max_queries_in_flight: query_buffers(errors, raw.max_queries_in_flight)?,
        max_queries_per_second: DEFAULT_QUERIES_PER_SECOND,
    })
}

/// `server.max_queries_in_flight`: 1 to [`MAX_QUERIES_IN_FLIGHT`] answer buffers.
fn query_buffers(errors: &Errors<'_>, n: usize) -> Result<usize, ConfigError> {
    positive(errors, "server.max_queries_in_flight", n)?;
    at_most(errors, "server.max_queries_in_flight", n, MAX_QUERIES_IN_FLIGHT)
}

/// `[limits] max_queries_per_second` (the rest of `[limits]` is risk-check's): 1 to
/// [`MAX_QUERIES_PER_SECOND`], default [`DEFAULT_QUERIES_PER_SECOND`].
fn queries_per_second(
    errors: &Errors<'_>,
    limits: Option<&toml::Value>,
) -> Result<u32, ConfigError> {
    const FIELD: &str = "limits.max_queries_per_second";
    let Some(value) = limits.and_then(|l| l.get("max_queries_per_second")) else {
        return Ok(DEFAULT_QUERIES_PER_SECOND);
    };
    let n = value
        .as_integer()
        .ok_or_else(|| errors.invalid(FIELD, format!("must be an integer, got {value}")))?;
    if n < 1 {
        return Err(errors.invalid(FIELD, format!("must be at least 1, got {n}")));
    }
    at_most(errors, FIELD, n, i64::from(MAX_QUERIES_PER_SECOND)).map(|n| n as u32)
}

fn outbound_settings(
    errors: &Errors<'_>,
    raw: RawOutbound,
) -> Result<OutboundSettings, ConfigError> {
    positive(errors, "outbound.backlog_limit_bytes", raw.backlog_limit_bytes)?;
    let log_bytes = raw.log_bytes_per_login as u64;
    at_most(errors, "outbound.log_bytes_per_login", log_bytes, MAX_LOG_BYTES_PER_LOGIN)?;
    at_most(
        errors,
        "outbound.log_messages_per_login",
        raw.log_messages_per_login,
        MAX_LOG_MESSAGES_PER_LOGIN,
    )?;
    if log_bytes < raw.backlog_limit_bytes.saturating_mul(2) {
        return Err(errors.invalid(
            "outbound.log_bytes_per_login",
            format!(
                "must be at least twice backlog_limit_bytes ({}), so a connected client's unsent bytes are never evicted; got {}",
                raw.backlog_limit_bytes, raw.log_bytes_per_login
            ),
        ));
    }
    if raw.log_messages_per_login < 1_024 {
        return Err(errors.invalid("outbound.log_messages_per_login", "at least 1024"));
    }
    Ok(OutboundSettings {
        log_bytes_per_login: raw.log_bytes_per_login,
        log_messages_per_login: raw.log_messages_per_login,
        backlog_limit_bytes: raw.backlog_limit_bytes,
    })
}

fn pipeline_settings(
    errors: &Errors<'_>,
    raw: RawPipeline,
) -> Result<PipelineSettings, ConfigError> {
    positive(errors, "pipeline.in_ring_capacity", raw.in_ring_capacity)?;
    positive(errors, "pipeline.out_ring_capacity", raw.out_ring_capacity)?;
    at_most(errors, "pipeline.in_ring_capacity", raw.in_ring_capacity, MAX_RING_CAPACITY)?;
    at_most(errors, "pipeline.out_ring_capacity", raw.out_ring_capacity, MAX_RING_CAPACITY)?;
    for (field, capacity) in [
        ("pipeline.admin_queue_capacity", raw.admin_queue_capacity),
        ("pipeline.fused_outbox_capacity", raw.fused_outbox_capacity),
        ("pipeline.unreleased_capacity", raw.unreleased_capacity),
    ] {
        positive(errors, field, capacity)?;
        at_most(errors, field, capacity, MAX_QUEUE_CAPACITY)?;
    }
    let cores = core_affinity::get_core_ids().map(|c| c.len()).unwrap_or(0);
    for (field, core) in
        [("pipeline.io_core", raw.io_core), ("pipeline.engine_core", raw.engine_core)]
    {
        if let Some(core) = core
            && core >= cores.max(1)
        {
            return Err(errors
                .invalid(field, format!("core {core} does not exist (this machine has {cores})")));
        }
    }
    Ok(PipelineSettings {
        topology: raw.topology,
        in_ring_capacity: raw.in_ring_capacity,
        out_ring_capacity: raw.out_ring_capacity,
        io_core: raw.io_core,
        engine_core: raw.engine_core,
        io_wait: raw.io_wait,
        engine_wait: raw.engine_wait,
        admin_queue_capacity: raw.admin_queue_capacity,
        fused_outbox_capacity: raw.fused_outbox_capacity,
        unreleased_capacity: raw.unreleased_capacity,
    })
}

fn exchange_config(
    errors: &Errors<'_>,
    raw: RawExchange,
    risk: &RiskConfig,
) -> Result<ExchangeConfig, ConfigError> {
    let schedule = match raw.schedule.as_str() {
        "always-continuous" => Schedule::AlwaysContinuous,
        "a-share" => Schedule::AShare { utc_offset_s: raw.utc_offset_s },
        other => {
            return Err(errors.invalid(
                "exchange.schedule",
                format!("expected \"always-continuous\" or \"a-share\", got {other:?}"),
            ));
        }
    };
    positive(errors, "exchange.max_orders", raw.max_orders)?;
    positive(errors, "exchange.inbound_queue_capacity", raw.inbound_queue_capacity)?;
    at_most(errors, "exchange.max_orders", raw.max_orders, MAX_VENUE_ORDERS)?;
    at_most(errors, "exchange.max_levels_per_side", raw.max_levels_per_side, MAX_LEVELS_PER_SIDE)?;
    at_most(
        errors,
        "exchange.inbound_queue_capacity",
        raw.inbound_queue_capacity,
        MAX_INBOUND_QUEUE_CAPACITY,
    )?;
    let mut holidays = Vec::with_capacity(raw.holidays.len());
    for (i, text) in raw.holidays.iter().enumerate() {
        let date = sim_exchange::schedule::parse_date(text).ok_or_else(|| {
            errors.invalid(
                format!("exchange.holidays[{i}]"),
                format!("expected a date \"yyyy-mm-dd\", got {text:?}"),
            )
        })?;
        holidays.push(date);
    }
    let instruments = risk
        .instruments
        .iter()
        .map(|i| InstrumentSpec {
            security: i.security,
            board: i.board,
            prev_close: i.prev_close,
            rules: i.rules,
            is_st: i.st,
            no_price_limit: i.no_price_limit,
            suspended: i.suspended,
        })
        .collect();
    Ok(ExchangeConfig {
        instruments,
        max_orders: raw.max_orders,
        max_levels_per_side: raw.max_levels_per_side,
        overflow_levels_per_side: raw.overflow_levels_per_side,
        inbound_queue_capacity: raw.inbound_queue_capacity,
        self_trade_prevention: raw.self_trade_prevention,
        schedule,
        holidays,
        limit_ioc_fok: raw.limit_ioc_fok,
        market_data: raw.market_data,
    })
}

fn login_configs(
    errors: &Errors<'_>,
    raw: Vec<RawLogin>,
    risk: &RiskConfig,
) -> Result<Vec<LoginConfig>, ConfigError> {
    if raw.is_empty() {
        return Err(errors.invalid("logins", "at least one [[logins]] entry is needed"));
    }
    let mut out: Vec<LoginConfig> = Vec::with_capacity(raw.len());
    for (i, l) in raw.into_iter().enumerate() {
        let username = Username::new(&l.username).map_err(|e| {
            errors.invalid(format!("logins[{i}].username"), format!("{e}: {:?}", l.username))
        })?;
        if out.iter().any(|o| o.username == username) {
            return Err(errors.invalid(
                format!("logins[{i}].username"),
                format!("duplicate username {username}"),
            ));
        }
        if l.token.len() < 8 {
            return Err(errors.invalid(format!("logins[{i}].token"), "must be 8 to 32 bytes"));
        }
        let token = Token::from_text(&l.token)
            .ok_or_else(|| errors.invalid(format!("logins[{i}].token"), "must be 8 to 32 bytes"))?;
        at_most(
            errors,
            &format!("logins[{i}].throttle_queue_us"),
            l.throttle_queue_us,
            MAX_THROTTLE_QUEUE_US,
        )?;
        if l.accounts.is_empty() && !l.market_data_only {
            return Err(errors.invalid(format!("logins[{i}].accounts"), "at least one account"));
        }
        let mut accounts = Vec::with_capacity(l.accounts.len());
        for (j, a) in l.accounts.iter().enumerate() {
            let field = format!("logins[{i}].accounts[{j}]");
            let id =
                AccountId::new(a).map_err(|e| errors.invalid(&field, format!("{e}: {a:?}")))?;
            if !risk.accounts.iter().any(|acc| acc.id == id) {
                return Err(errors.invalid(&field, format!("account {a} is not in [[accounts]]")));
            }
            accounts.push(id);
        }
        use protocol::marketdata::Depth;
        let market_data_depth = match l.market_data_depth.as_str() {
            "none" => None,
            "level1" => Some(Depth::Level1),
            "level2" => Some(Depth::Level2),
            other => {
                let field = format!("logins[{i}].market_data_depth");
                let why = format!("{other:?}: one of \"none\", \"level1\", \"level2\"");
                return Err(errors.invalid(field, why));
            }
        };
        if l.market_data_only && market_data_depth.is_none() {
            let field = format!("logins[{i}].market_data_depth");
            return Err(errors.invalid(field, "\"none\" leaves a market_data_only login nothing"));
        }
        out.push(LoginConfig {
            username,
            token,
            accounts,
            cancel_on_disconnect: l.cancel_on_disconnect,
            throttle_queue_us: l.throttle_queue_us,
            market_data_only: l.market_data_only,
            market_data_depth,
        });
    }
    Ok(out)
}

fn journal_settings(errors: &Errors<'_>, raw: RawJournal) -> Result<JournalSettings, ConfigError> {
    if raw.segment_bytes < (1 << 20) {
        return Err(errors.invalid("journal.segment_bytes", "at least 1 MiB"));
    }
    at_most(errors, "journal.segment_bytes", raw.segment_bytes, MAX_SEGMENT_BYTES)?;
    positive(errors, "journal.ring_capacity", raw.ring_capacity)?;
    at_most(errors, "journal.ring_capacity", raw.ring_capacity, MAX_RING_CAPACITY)?;
    if raw.dir.is_empty() {
        return Err(errors.invalid("journal.dir", "must name a directory"));
    }
    if raw.snapshot_every_inputs > 0 && raw.durability == Durability::None {
        return Err(errors.invalid(
            "journal.snapshot_every_inputs",
            "snapshots follow the journal: set durability to \"async\" or \"sync\", or this to 0",
        ));
    }
    Ok(JournalSettings {
        durability: raw.durability,
        dir: PathBuf::from(raw.dir),
        segment_bytes: raw.segment_bytes,
        preallocate: raw.preallocate,
        ring_capacity: raw.ring_capacity,
        snapshot_every_inputs: raw.snapshot_every_inputs,
        truncate_damaged_tail: raw.truncate_damaged_tail,
    })
}

fn admin_settings(errors: &Errors<'_>, raw: RawAdmin) -> Result<AdminSettings, ConfigError> {
    let listen = match raw.listen.as_deref() {
        None | Some("") | Some("off") => None,
        Some(text) => Some(parse_addr(errors, "admin.listen", text)?),
    };
    if let Some(token) = &raw.token
        && token.len() < 8
    {
        return Err(errors.invalid("admin.token", "must be at least 8 bytes"));
    }
    positive(errors, "admin.stage_sample_every", raw.stage_sample_every)?;
    Ok(AdminSettings {
        listen,
        token: raw.token,
        stage_metrics: raw.stage_metrics,
        stage_sample_every: raw.stage_sample_every,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_is_valid() {
        let config = GatewayConfig::demo();
        assert!(!config.logins.is_empty());
        assert!(config.risk.instruments.len() >= 8);
        assert_eq!(config.exchange.instruments.len(), config.risk.instruments.len());
    }

    fn err(text: &str) -> String {
        let base = DEMO_TOML.to_owned();
        GatewayConfig::from_toml_str(&(base + text), "test.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_and_field() {
        let e = GatewayConfig::from_toml_str("[server]\nmax_sessions = 0\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("gw.toml: "), "{e}");
        let e = GatewayConfig::from_toml_str("[server]\nlisten = [\"nowhere\"]\n", "gw.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("server.listen[0]"), "{e}");
        let e = GatewayConfig::from_toml_str(
            "[server]\nmax_pending_logins = 4\nmax_pending_logins_per_address = 5\n",
            "gw.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("server.max_pending_logins_per_address"), "{e}");
        let e =
            GatewayConfig::from_toml_str("[bogus]\nx = 1\n", "gw.toml").unwrap_err().to_string();
        assert!(e.contains("bogus"), "{e}");
        let e =
            err("\n[[logins]]\nusername = \"x1\"\ntoken = \"longenough\"\naccounts = [\"NOPE\"]\n");
        assert!(e.contains("accounts[0]") && e.contains("NOPE"), "{e}");
    }

    #[test]
    fn a_logins_market_data_depth_is_level2_unless_set() {
        let config = GatewayConfig::demo();
        assert!(
            config
                .logins
                .iter()
                .all(|l| l.market_data_depth == Some(protocol::marketdata::Depth::Level2))
        );
        let login = "\n[[logins]]\nusername = \"screen9\"\ntoken = \"longenough\"\naccounts = []\n\
                     market_data_only = true\n";
        let text = format!("{DEMO_TOML}{login}market_data_depth = \"level1\"\n");
        let config = GatewayConfig::from_toml_str(&text, "gw.toml").unwrap();
        let screen = config.logins.iter().find(|l| l.username.as_str() == "screen9").unwrap();
        assert_eq!(screen.market_data_depth, Some(protocol::marketdata::Depth::Level1));
        let e = err(&format!("{login}market_data_depth = \"level3\"\n"));
        assert!(e.contains("market_data_depth") && e.contains("level3"), "{e}");
        let e = err(&format!("{login}market_data_depth = \"none\"\n"));
        assert!(e.contains("market_data_depth") && e.contains("nothing"), "{e}");
    }

    fn demo_with(from: &str, to: &str) -> Result<GatewayConfig, String> {
        let text = DEMO_TOML.replacen(from, to, 1);
        assert_ne!(text, DEMO_TOML, "{from:?} is in the demo configuration");
        GatewayConfig::from_toml_str(&text, "gw.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn sizes_past_their_bound_are_refused_naming_the_key() {
        for (from, to, field) in [
            (
                "[limits]\n",
                "[limits]\nmax_orders_per_day = 4000000000\n",
                "limits.max_orders_per_day",
            ),
            ("[limits]\n", "[limits]\nmax_positions = 100000000\n", "limits.max_positions"),
            (
                "[limits]\n",
                "[limits]\nmax_login_bindings = 20000000\n",
                "limits.max_login_bindings",
            ),
            (
                "[limits]\n",
                "[limits]\nmax_fills_per_day = 2000000000\n",
                "limits.max_fills_per_day",
            ),
            (
                "log_bytes_per_login = 33554432",
                "log_bytes_per_login = 1000000000000",
                "outbound.log_bytes_per_login",
            ),
            (
                "log_messages_per_login = 524288",
                "log_messages_per_login = 2000000000",
                "outbound.log_messages_per_login",
            ),
            (
                "[pipeline]\n",
                "[pipeline]\nin_ring_capacity = 100000000\n",
                "pipeline.in_ring_capacity",
            ),
            (
                "[pipeline]\n",
                "[pipeline]\nout_ring_capacity = 100000000\n",
                "pipeline.out_ring_capacity",
            ),
            ("max_orders = 1048576", "max_orders = 1000000000", "exchange.max_orders"),
            (
                "[exchange]\n",
                "[exchange]\nmax_levels_per_side = 100000000\n",
                "exchange.max_levels_per_side",
            ),
            (
                "inbound_queue_capacity = 65536",
                "inbound_queue_capacity = 100000000",
                "exchange.inbound_queue_capacity",
            ),
            ("[journal]\n", "[journal]\nring_capacity = 100000000\n", "journal.ring_capacity"),
            ("[journal]\n", "[journal]\nsegment_bytes = 100000000000\n", "journal.segment_bytes"),
            ("[server]\n", "[server]\nrx_buffer_bytes = 100000000\n", "server.rx_buffer_bytes"),
            ("heartbeat_ms = 1000", "heartbeat_ms = 100000000", "server.heartbeat_ms"),
            ("dead_peer_ms = 15000", "dead_peer_ms = 18446744073709551615", "server.dead_peer_ms"),
            ("login_lockout_ms = 30000", "login_lockout_ms = 90000000", "server.login_lockout_ms"),
            (
                "[server]\n",
                "[server]\nmax_failing_addresses = 100000000\n",
                "server.max_failing_addresses",
            ),
            (
                "[pipeline]\n",
                "[pipeline]\nadmin_queue_capacity = 100000000\n",
                "pipeline.admin_queue_capacity",
            ),
            (
                "[pipeline]\n",
                "[pipeline]\nfused_outbox_capacity = 100000000\n",
                "pipeline.fused_outbox_capacity",
            ),
            (
                "[pipeline]\n",
                "[pipeline]\nunreleased_capacity = 100000000\n",
                "pipeline.unreleased_capacity",
            ),
        ] {
            let e = demo_with(from, to).unwrap_err();
            assert!(e.starts_with(&format!("gw.toml: {field}: at most ")), "{to}: {e}");
        }
        // The bounds themselves are accepted.
        let at = format!("[limits]\nmax_orders_per_day = {MAX_ORDERS_PER_DAY}\n");
        assert_eq!(demo_with("[limits]\n", &at).unwrap().risk.capacity.max_orders_per_day, 1 << 30);
        let at = format!("log_bytes_per_login = {MAX_LOG_BYTES_PER_LOGIN}");
        assert!(demo_with("log_bytes_per_login = 33554432", &at).is_ok());
    }

    /// The queues that used to be sized in code default to those sizes, and a
    /// zero is refused naming the key.
    #[test]
    fn queue_capacities_default_to_their_old_sizes_and_must_be_positive() {
        let c = GatewayConfig::from_toml_str(DEMO_TOML, "gw.toml").unwrap();
        assert_eq!(c.pipeline.admin_queue_capacity, 1_024);
        assert_eq!(c.pipeline.fused_outbox_capacity, 8_192);
        assert_eq!(c.pipeline.unreleased_capacity, 1 << 16);
        assert_eq!(c.server.max_failing_addresses, 4_096);
        for (section, key) in [
            ("[pipeline]", "admin_queue_capacity"),
            ("[pipeline]", "fused_outbox_capacity"),
            ("[pipeline]", "unreleased_capacity"),
            ("[server]", "max_failing_addresses"),
        ] {
            let e =
                demo_with(&format!("{section}\n"), &format!("{section}\n{key} = 0\n")).unwrap_err();
            assert!(e.contains(key) && e.contains("must be positive"), "{e}");
        }
    }

    /// A backlog limit so large that twice it overflows is refused, not wrapped.
    #[test]
    fn a_huge_backlog_limit_does_not_wrap() {
        let e =
            demo_with("backlog_limit_bytes = 8388608", "backlog_limit_bytes = 9223372036854775809")
                .unwrap_err();
        assert!(e.contains("outbound.log_bytes_per_login: must be at least twice"), "{e}");
    }

    fn listeners(clients: &[&str], admin: &str) -> Result<GatewayConfig, String> {
        let list: Vec<String> = clients.iter().map(|a| format!("\"{a}\"")).collect();
        let text = DEMO_TOML
            .replace("listen = [\"127.0.0.1:9100\"]", &format!("listen = [{}]", list.join(", ")))
            .replace("listen = \"127.0.0.1:9180\"", &format!("listen = \"{admin}\""));
        GatewayConfig::from_toml_str(&text, "gw.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn listeners_that_would_share_a_port_are_refused() {
        for (clients, admin, field, other) in [
            (
                &["127.0.0.1:9100", "127.0.0.1:9100"][..],
                "off",
                "server.listen[1]",
                "server.listen[0]",
            ),
            (&["127.0.0.1:9100"], "127.0.0.1:9100", "admin.listen", "server.listen[0]"),
            (&["127.0.0.1:9100", "0.0.0.0:9100"], "off", "server.listen[1]", "server.listen[0]"),
            (&["0.0.0.0:9101"], "127.0.0.1:9101", "admin.listen", "server.listen[0]"),
            (&["127.0.0.1:9100", "[::]:9100"], "off", "server.listen[1]", "server.listen[0]"),
            (
                &["[::1]:9100", "127.0.0.1:9102", "[::1]:9100"],
                "off",
                "server.listen[2]",
                "server.listen[0]",
            ),
        ] {
            let e = listeners(clients, admin).unwrap_err();
            assert!(e.starts_with(&format!("gw.toml: {field}: ")), "{clients:?} {admin}: {e}");
            assert!(e.contains(other) && e.contains("address of its own"), "{e}");
        }
        for (clients, admin) in [
            (&["127.0.0.1:0", "127.0.0.1:0"][..], "127.0.0.1:0"),
            (&["127.0.0.1:9100", "127.0.0.2:9100"], "127.0.0.1:9180"),
            (&["0.0.0.0:9100", "[::1]:9100"], "off"),
            (&["127.0.0.1:9100"], "127.0.0.1:9101"),
        ] {
            assert!(listeners(clients, admin).is_ok(), "{clients:?} {admin}");
        }
        // After a command line changes an address.
        let mut c = GatewayConfig::demo();
        c.server.listen = vec![c.admin.listen.unwrap()];
        let e = c.check_listeners().unwrap_err().to_string();
        assert!(e.starts_with("<demo>: admin.listen: 127.0.0.1:9180 takes the port of"), "{e}");
        assert!(GatewayConfig::demo().check_listeners().is_ok());
    }

    #[test]
    fn exchange_holidays_are_dates_and_limit_ioc_is_off_by_default() {
        let c = GatewayConfig::demo();
        assert!(!c.exchange.limit_ioc_fok);
        assert!(c.exchange.holidays.is_empty());
        let text = DEMO_TOML.replace(
            "self_trade_prevention = false",
            "self_trade_prevention = false\nholidays = [\"2026-10-01\", \"2026-10-02\"]\nlimit_ioc_fok = true",
        );
        assert_ne!(text, DEMO_TOML);
        let c = GatewayConfig::from_toml_str(&text, "gw.toml").unwrap();
        assert_eq!(c.exchange.holidays, vec![20261001, 20261002]);
        assert!(c.exchange.limit_ioc_fok);
        let bad = DEMO_TOML.replace(
            "self_trade_prevention = false",
            "self_trade_prevention = false\nholidays = [\"2026-02-30\"]",
        );
        let e = GatewayConfig::from_toml_str(&bad, "gw.toml").unwrap_err().to_string();
        assert!(e.contains("exchange.holidays[0]") && e.contains("2026-02-30"), "{e}");
    }

    #[test]
    fn snapshots_need_a_journal() {
        let snapshots = DEMO_TOML
            .replace("dir = \"breakwater-journal\"", "dir = \"j\"\nsnapshot_every_inputs = 1000");
        assert_ne!(snapshots, DEMO_TOML);
        let e = GatewayConfig::from_toml_str(&snapshots, "gw.toml").unwrap_err().to_string();
        assert!(e.contains("journal.snapshot_every_inputs") && e.contains("durability"), "{e}");
        let text = snapshots.replace("durability = \"none\"", "durability = \"async\"");
        let c = GatewayConfig::from_toml_str(&text, "gw.toml").unwrap();
        assert_eq!(c.journal.snapshot_every_inputs, 1000);
    }
}
