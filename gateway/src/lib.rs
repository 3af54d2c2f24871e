//! The Breakwater gateway: sessions over TCP, the pre-trade risk engine and the
//! simulated exchange, joined by a lock-free pipeline.
//!
//! * [`config`]: the TOML configuration and the built-in demo.
//! * [`server`]: the io thread (mio event loop, sessions, out logs).
//! * [`engine`]: the deterministic business logic (risk + venue + sequencing).
//! * [`pipeline`]: threads, rings, pinning, wait strategies; `start` and `shutdown`.
//! * [`md`], [`md_feed`]: the market-data publisher and the engine's feed to it.
//! * [`admin`]: the HTTP admin endpoint (Prometheus metrics, health, operator actions).
//! * [`views`]: the funds, positions, orders and fills views as tables and JSON.
//! * [`quotes`]: the quote screen of the market-data feed (ladder, trades, ticks).
//! * [`ring`], [`wait`]: the SPSC ring and the idle policies (the only `unsafe` is in `ring`).

#![deny(missing_docs)]

pub mod admin;
pub use order_engine::{answers, engine, input, stats};
pub mod clock;
pub mod config;
pub mod fix_door;
pub mod fix_link;
pub mod journal;
pub mod lograte;
pub mod md;
pub mod md_feed;
pub mod metrics;
pub mod outlog;
pub mod pipeline;
pub mod quotes;
pub mod ring;
pub mod server;
pub mod session;
pub mod snapshot;
pub mod state;
pub mod views;
pub mod wait;

pub use config::GatewayConfig;
pub use pipeline::{Running, StartError, Stopped};

/// Starts the gateway: its threads ([`pipeline::start_threads`]), then the admin
/// endpoint when configured ([`admin::attach`]); returns once it is listening.
pub fn start(config: &GatewayConfig) -> Result<Running, StartError> {
    admin::attach(config, pipeline::start_threads(config)?)
}
