//! The `[marketdata]` section: the market-data publisher, the third front door
//! (docs/marketdata.md, section 17).
//!
//! ```toml
//! [exchange]
//! market_data = true            # the venue's feed: required by the publisher
//!
//! [marketdata]
//! enabled = true
//! listen = "127.0.0.1:9400"
//! heartbeat_ms = 1000
//! history_messages = 65536      # per channel, for retransmission
//! queue_bytes = 1048576         # per subscriber
//! max_connections = 64
//! max_connections_per_address = 16
//! max_subscriptions = 32        # per session
//! ring_capacity = 65536         # engine -> publisher
//! resync_levels_per_side = 4096
//! login_timeout_ms = 5000
//! socket_send_buffer_bytes = 0  # 0: the kernel's default
//! ```

use std::net::SocketAddr;

use serde::Deserialize;

use super::{ConfigError, Errors, at_most};

/// Most connections the publisher serves.
const MAX_CONNECTIONS: usize = 4_096;
/// Most messages a channel's history keeps.
const MAX_HISTORY: usize = 1 << 24;
/// Largest queue per subscriber, bytes.
const MAX_QUEUE_BYTES: usize = 1 << 30;
/// Largest engine -> publisher ring.
const MAX_RING: usize = 1 << 24;
/// The smallest subscriber queue: a few full snapshots.
const MIN_QUEUE_BYTES: usize = 4_096;

/// The publisher's settings, validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MarketDataSettings {
    /// Serve market data (off: no thread, no port, no ring).
    pub enabled: bool,
    /// Where the publisher listens.
    pub listen: SocketAddr,
    /// Heartbeat interval; a silent client is dropped after three.
    pub heartbeat_ms: u64,
    /// Messages each channel keeps for retransmission.
    pub history_messages: usize,
    /// Bytes queued for one subscriber before it counts as behind.
    pub queue_bytes: usize,
    /// Connections at once, logged in or not.
    pub max_connections: usize,
    /// Connections at once from one IP address.
    pub max_connections_per_address: usize,
    /// Subscriptions one session may hold.
    pub max_subscriptions: usize,
    /// Slots in the engine -> publisher ring.
    pub ring_capacity: usize,
    /// Levels a side the engine re-sends for a book whose events the full ring lost.
    pub resync_levels_per_side: usize,
    /// A connection that has not logged in after this long is closed.
    pub login_timeout_ms: u64,
    /// SO_SNDBUF of each connection, bytes (0: the kernel's default).
    pub socket_send_buffer_bytes: usize,
}

impl Default for MarketDataSettings {
    fn default() -> Self {
        MarketDataSettings {
            enabled: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 9400)),
            heartbeat_ms: 1_000,
            history_messages: 65_536,
            queue_bytes: 1 << 20,
            max_connections: 64,
            max_connections_per_address: 16,
            max_subscriptions: 32,
            ring_capacity: 1 << 16,
            resync_levels_per_side: 4_096,
            login_timeout_ms: 5_000,
            socket_send_buffer_bytes: 0,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMarketData {
    #[serde(default)]
    enabled: bool,
    listen: Option<String>,
    heartbeat_ms: Option<u64>,
    history_messages: Option<usize>,
    queue_bytes: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_address: Option<usize>,
    max_subscriptions: Option<usize>,
    ring_capacity: Option<usize>,
    resync_levels_per_side: Option<usize>,
    login_timeout_ms: Option<u64>,
    socket_send_buffer_bytes: Option<usize>,
}

fn at_least<T: PartialOrd + std::fmt::Display>(
    errors: &Errors<'_>,
    field: &str,
    v: T,
    min: T,
) -> Result<T, ConfigError> {
    if v >= min { Ok(v) } else { Err(errors.invalid(field, format!("at least {min}, got {v}"))) }
}

/// Validates `[marketdata]`; `venue_feed` is `[exchange] market_data`.
pub(super) fn market_data_settings(
    errors: &Errors<'_>,
    raw: Option<RawMarketData>,
    venue_feed: bool,
) -> Result<MarketDataSettings, ConfigError> {
    let d = MarketDataSettings::default();
    let Some(raw) = raw else { return Ok(d) };
    let listen = match raw.listen {
        Some(text) => text.parse().map_err(|_| {
            errors.invalid(
                "marketdata.listen",
                format!("expected an address like 127.0.0.1:9400, got {text:?}"),
            )
        })?,
        None => d.listen,
    };
    let heartbeat_ms = raw.heartbeat_ms.unwrap_or(d.heartbeat_ms);
    at_least(errors, "marketdata.heartbeat_ms", heartbeat_ms, 10)?;
    at_most(errors, "marketdata.heartbeat_ms", heartbeat_ms, 60_000)?;
    let history_messages = raw.history_messages.unwrap_or(d.history_messages);
    at_least(errors, "marketdata.history_messages", history_messages, 16)?;
    at_most(errors, "marketdata.history_messages", history_messages, MAX_HISTORY)?;
    let queue_bytes = raw.queue_bytes.unwrap_or(d.queue_bytes);
    at_least(errors, "marketdata.queue_bytes", queue_bytes, MIN_QUEUE_BYTES)?;
    at_most(errors, "marketdata.queue_bytes", queue_bytes, MAX_QUEUE_BYTES)?;
    let max_connections = raw.max_connections.unwrap_or(d.max_connections);
    at_least(errors, "marketdata.max_connections", max_connections, 1)?;
    at_most(errors, "marketdata.max_connections", max_connections, MAX_CONNECTIONS)?;
    let per_address = raw.max_connections_per_address.unwrap_or(d.max_connections_per_address);
    at_least(errors, "marketdata.max_connections_per_address", per_address, 1)?;
    let max_subscriptions = raw.max_subscriptions.unwrap_or(d.max_subscriptions);
    at_least(errors, "marketdata.max_subscriptions", max_subscriptions, 1)?;
    at_most(errors, "marketdata.max_subscriptions", max_subscriptions, 1_024)?;
    let ring_capacity = raw.ring_capacity.unwrap_or(d.ring_capacity);
    at_least(errors, "marketdata.ring_capacity", ring_capacity, 64)?;
    at_most(errors, "marketdata.ring_capacity", ring_capacity, MAX_RING)?;
    let resync = raw.resync_levels_per_side.unwrap_or(d.resync_levels_per_side);
    at_least(errors, "marketdata.resync_levels_per_side", resync, 10)?;
    if resync * 2 + 1 > ring_capacity {
        return Err(errors.invalid(
            "marketdata.resync_levels_per_side",
            "a resync (two sides and a head) must fit in marketdata.ring_capacity",
        ));
    }
    let login_timeout_ms = raw.login_timeout_ms.unwrap_or(d.login_timeout_ms);
    at_least(errors, "marketdata.login_timeout_ms", login_timeout_ms, 1)?;
    at_most(errors, "marketdata.login_timeout_ms", login_timeout_ms, 600_000)?;
    let send_buffer = raw.socket_send_buffer_bytes.unwrap_or(d.socket_send_buffer_bytes);
    at_most(errors, "marketdata.socket_send_buffer_bytes", send_buffer, 64 << 20)?;
    if raw.enabled && !venue_feed {
        return Err(errors.invalid(
            "marketdata.enabled",
            "the publisher needs the venue's feed: set [exchange] market_data = true",
        ));
    }
    Ok(MarketDataSettings {
        enabled: raw.enabled,
        listen,
        heartbeat_ms,
        history_messages,
        queue_bytes,
        max_connections,
        max_connections_per_address: per_address,
        max_subscriptions,
        ring_capacity,
        resync_levels_per_side: resync,
        login_timeout_ms,
        socket_send_buffer_bytes: send_buffer,
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{DEMO_TOML, GatewayConfig};

    fn with(from: &str, to: &str) -> Result<GatewayConfig, String> {
        assert!(DEMO_TOML.contains(from), "the demo has {from:?}");
        GatewayConfig::from_toml_str(&DEMO_TOML.replacen(from, to, 1), "t.toml")
            .map_err(|e| e.to_string())
    }

    #[test]
    fn off_by_default_and_refused_without_the_venue_feed() {
        let demo = GatewayConfig::demo();
        assert!(!demo.marketdata.enabled);
        let err =
            with("[marketdata]\nenabled = false", "[marketdata]\nenabled = true").unwrap_err();
        assert!(err.contains("marketdata.enabled") && err.contains("market_data = true"), "{err}");
        let both = DEMO_TOML
            .replacen("[marketdata]\nenabled = false", "[marketdata]\nenabled = true", 1)
            .replacen(
                "self_trade_prevention = false",
                "self_trade_prevention = false\nmarket_data = true",
                1,
            );
        let c = GatewayConfig::from_toml_str(&both, "t.toml").unwrap();
        assert!(c.marketdata.enabled && c.exchange.market_data);
    }

    #[test]
    fn bad_values_name_their_key() {
        for (from, to, key) in [
            ("queue_bytes = 1048576", "queue_bytes = 100", "marketdata.queue_bytes"),
            (
                "heartbeat_ms = 1000\nhistory",
                "heartbeat_ms = 0\nhistory",
                "marketdata.heartbeat_ms",
            ),
            ("max_connections = 64", "max_connections = 0", "marketdata.max_connections"),
            ("listen = \"127.0.0.1:9400\"", "listen = \"nowhere\"", "marketdata.listen"),
            ("max_subscriptions = 32", "max_subscriptions = 5000", "marketdata.max_subscriptions"),
        ] {
            let err = with(from, to).unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
    }
}
