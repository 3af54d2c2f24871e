//! The `[fix]` section: the FIX 4.4 front door (docs/fix.md, section 1).
//!
//! ```toml
//! [fix]
//! listen = "127.0.0.1:9300"
//! sender_comp_id = "BREAKWATER"
//! reflector = true
//!
//! [[fix.sessions]]
//! comp_id = "CLIENT1"
//! username = "alice"
//! password = "s3cret"
//! login = "trader1"   # whose accounts, risk checks and stream it uses
//! ```

use std::net::SocketAddr;

use protocol::AccountId;
use serde::Deserialize;

use super::{ConfigError, Errors, at_most};

/// The door's one read buffer, bytes.
pub const READ_BUFFER_BYTES: usize = 64 * 1024;
/// Most FIX sessions one gateway serves.
const MAX_SESSIONS: usize = 1_024;
/// Largest FIX message the door accepts, bytes.
const MAX_MESSAGE_BYTES: usize = 1 << 20;
/// Largest outbound buffer per session, bytes.
const MAX_OUTBOUND_BYTES: usize = 1 << 30;
/// Most messages a session keeps for ResendRequest.
const MAX_RESEND: usize = 1 << 26;
/// Most orders a session remembers for ExecutionReport fields.
const MAX_ORDER_CACHE: usize = 1 << 24;

/// The FIX door's settings, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixDoorSettings {
    /// Where the door listens.
    pub listen: SocketAddr,
    /// One per counterparty, each fully sized (`fix::SessionConfig::memory_bytes`).
    pub sessions: Vec<fix::SessionConfig>,
    /// Connections open at once, logged on or not: each session's one connection
    /// plus those that have not sent their Logon yet.
    pub max_connections: usize,
    /// Echo application messages instead of handing them to the engine.
    pub reflector: bool,
    /// Per session: the `[[logins]]` entry (by index) whose accounts, risk checks
    /// and sequenced stream it uses (`None` only in reflector mode).
    pub logins: Vec<Option<usize>>,
    /// Messages waiting between the door and the io thread, per session and
    /// direction.
    pub queue_messages: usize,
}

impl FixDoorSettings {
    /// What the door commits: every session's buffers and tables (at start-up),
    /// a receive buffer of two messages per connection (at accept) and the
    /// 64 KiB read buffer (the queues to the io loop: `FixLink::memory_bytes`).
    pub fn memory_bytes(&self) -> u64 {
        let sessions: u64 = self.sessions.iter().map(|s| s.memory_bytes() as u64).sum();
        let largest = self.sessions.iter().map(|s| s.max_message_len).max().unwrap_or(0) as u64;
        sessions + self.max_connections as u64 * 2 * largest + READ_BUFFER_BYTES as u64
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFixDoor {
    listen: String,
    sender_comp_id: String,
    #[serde(default)]
    reflector: bool,
    #[serde(default = "default_heartbeat_s_min")]
    heartbeat_s_min: u64,
    #[serde(default = "default_heartbeat_s_max")]
    heartbeat_s_max: u64,
    #[serde(default = "default_sending_time_tolerance_ms")]
    sending_time_tolerance_ms: u64,
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: usize,
    #[serde(default = "default_outbound_bytes")]
    outbound_bytes: usize,
    #[serde(default = "default_resend_capacity")]
    resend_capacity: usize,
    #[serde(default = "default_order_cache_capacity")]
    order_cache_capacity: usize,
    #[serde(default = "default_logon_timeout_ms")]
    logon_timeout_ms: u64,
    #[serde(default)]
    max_pending_connections: Option<usize>,
    #[serde(default = "default_queue_messages")]
    queue_messages: usize,
    #[serde(default)]
    sessions: Vec<RawFixSession>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFixSession {
    comp_id: String,
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    login: Option<String>,
    #[serde(default)]
    accounts: Vec<String>,
}

fn default_heartbeat_s_min() -> u64 {
    1
}
fn default_heartbeat_s_max() -> u64 {
    120
}
fn default_sending_time_tolerance_ms() -> u64 {
    120_000
}
fn default_max_message_bytes() -> usize {
    4_096
}
fn default_outbound_bytes() -> usize {
    1 << 20
}
fn default_resend_capacity() -> usize {
    65_536
}
fn default_order_cache_capacity() -> usize {
    65_536
}
fn default_logon_timeout_ms() -> u64 {
    10_000
}
fn default_queue_messages() -> usize {
    4_096
}

/// A CompID: 1 to 32 printable ASCII characters other than `=` (it is written
/// into every message header).
fn comp_id(errors: &Errors<'_>, field: &str, text: &str) -> Result<String, ConfigError> {
    let printable = text.bytes().all(|b| b.is_ascii_graphic() && b != b'=');
    if text.is_empty() || text.len() > 32 || !printable {
        return Err(errors.invalid(field, "1 to 32 printable ASCII characters other than '='"));
    }
    Ok(text.to_owned())
}

fn credential(
    errors: &Errors<'_>,
    field: &str,
    text: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match text {
        Some(t) if t.is_empty() || t.len() > 64 || t.bytes().any(|b| b == 0x01) => {
            Err(errors.invalid(field, "1 to 64 bytes without SOH"))
        }
        other => Ok(other),
    }
}

pub(super) fn fix_door_settings(
    errors: &Errors<'_>,
    raw: Option<RawFixDoor>,
    logins: &[super::LoginConfig],
) -> Result<Option<FixDoorSettings>, ConfigError> {
    let Some(raw) = raw else { return Ok(None) };
    let listen: SocketAddr = raw
        .listen
        .parse()
        .map_err(|_| errors.invalid("fix.listen", format!("'{}' is not an address", raw.listen)))?;
    let sender = comp_id(errors, "fix.sender_comp_id", &raw.sender_comp_id)?;
    if raw.sessions.is_empty() {
        return Err(errors.invalid("fix.sessions", "at least one [[fix.sessions]]"));
    }
    at_most(errors, "fix.sessions", raw.sessions.len(), MAX_SESSIONS)?;
    if raw.heartbeat_s_min == 0 || raw.heartbeat_s_min > raw.heartbeat_s_max {
        return Err(errors.invalid("fix.heartbeat_s_min", "1 to heartbeat_s_max"));
    }
    at_most(errors, "fix.heartbeat_s_max", raw.heartbeat_s_max, 3_600)?;
    if raw.max_message_bytes < 256 {
        return Err(errors.invalid("fix.max_message_bytes", "at least 256"));
    }
    at_most(errors, "fix.max_message_bytes", raw.max_message_bytes, MAX_MESSAGE_BYTES)?;
    if raw.outbound_bytes < 4 * (raw.max_message_bytes + 512) {
        return Err(errors.invalid(
            "fix.outbound_bytes",
            "at least four messages of max_message_bytes (plus 512 bytes of header each)",
        ));
    }
    at_most(errors, "fix.outbound_bytes", raw.outbound_bytes, MAX_OUTBOUND_BYTES)?;
    if raw.resend_capacity == 0 || raw.order_cache_capacity == 0 {
        return Err(errors
            .invalid("fix.resend_capacity", "resend and order cache capacities are at least 1"));
    }
    at_most(errors, "fix.resend_capacity", raw.resend_capacity, MAX_RESEND)?;
    at_most(errors, "fix.order_cache_capacity", raw.order_cache_capacity, MAX_ORDER_CACHE)?;
    if raw.logon_timeout_ms == 0 {
        return Err(errors.invalid("fix.logon_timeout_ms", "at least 1"));
    }
    at_most(errors, "fix.logon_timeout_ms", raw.logon_timeout_ms, 600_000)?;
    at_most(errors, "fix.sending_time_tolerance_ms", raw.sending_time_tolerance_ms, 86_400_000)?;
    let pending = raw.max_pending_connections.unwrap_or(raw.sessions.len().max(8));
    if pending == 0 {
        return Err(errors.invalid("fix.max_pending_connections", "at least 1"));
    }
    at_most(errors, "fix.max_pending_connections", pending, MAX_SESSIONS)?;
    if raw.queue_messages < 16 {
        return Err(errors.invalid("fix.queue_messages", "at least 16"));
    }
    at_most(errors, "fix.queue_messages", raw.queue_messages, 1 << 20)?;

    let mut sessions: Vec<fix::SessionConfig> = Vec::with_capacity(raw.sessions.len());
    let mut session_logins: Vec<Option<usize>> = Vec::with_capacity(raw.sessions.len());
    for (i, s) in raw.sessions.into_iter().enumerate() {
        let field = |name: &str| format!("fix.sessions[{i}].{name}");
        let comp = comp_id(errors, &field("comp_id"), &s.comp_id)?;
        if comp == sender || sessions.iter().any(|o| o.login.comp_id == comp) {
            return Err(errors.invalid(field("comp_id"), format!("'{comp}' is taken")));
        }
        let login = match &s.login {
            Some(name) => {
                let found = logins.iter().position(|l| l.username.to_string() == *name);
                let Some(at) = found else {
                    return Err(
                        errors.invalid(field("login"), format!("'{name}' is not in [[logins]]"))
                    );
                };
                if session_logins.contains(&Some(at)) {
                    return Err(errors
                        .invalid(field("login"), format!("'{name}' has a FIX session already")));
                }
                Some(at)
            }
            None if raw.reflector => None,
            None => {
                return Err(errors.invalid(
                    field("login"),
                    "required unless reflector = true: the [[logins]] entry whose accounts and stream the session uses",
                ));
            }
        };
        let accounts = match login {
            // The engine checks orders against the login's accounts.
            Some(at) if s.accounts.is_empty() => logins[at].accounts.clone(),
            Some(_) => {
                return Err(errors.invalid(field("accounts"), "comes from the login: leave it out"));
            }
            None if s.accounts.is_empty() => {
                return Err(errors.invalid(field("accounts"), "at least one account"));
            }
            None => s
                .accounts
                .iter()
                .map(|a| {
                    AccountId::new(a)
                        .map_err(|e| errors.invalid(field("accounts"), format!("'{a}': {e}")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        session_logins.push(login);
        let fix_login = fix::LoginConfig {
            comp_id: comp,
            username: credential(errors, &field("username"), s.username)?,
            password: credential(errors, &field("password"), s.password)?,
            accounts,
        };
        let mut config = fix::SessionConfig::new(&sender, fix_login);
        config.reflector = raw.reflector;
        config.heartbeat_s_min = raw.heartbeat_s_min;
        config.heartbeat_s_max = raw.heartbeat_s_max;
        config.sending_time_tolerance_ns = raw.sending_time_tolerance_ms * 1_000_000;
        config.max_message_len = raw.max_message_bytes;
        config.outbound_capacity = raw.outbound_bytes;
        config.resend_capacity = raw.resend_capacity;
        config.order_cache_capacity = raw.order_cache_capacity;
        config.logon_timeout_ns = raw.logon_timeout_ms * 1_000_000;
        sessions.push(config);
    }
    let max_connections = sessions.len() + pending;
    Ok(Some(FixDoorSettings {
        listen,
        sessions,
        max_connections,
        reflector: raw.reflector,
        logins: session_logins,
        queue_messages: raw.queue_messages,
    }))
}
