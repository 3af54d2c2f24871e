//! The market-data publisher, the gateway's third front door
//! (docs/marketdata.md, section 17).
//!
//! ```text
//! [engine] ──MarketTap──ring (MdFeed)──> [bw-md thread: Publisher + mio] ──TCP──> subscribers
//! ```
//!
//! * [`publisher`]: the sans-IO core (images, histories, subscriptions, queues).
//! * [`image`], [`history`], [`session`]: its parts.
//! * [`io`]: the thread's event loop.
//!
//! The publisher is built and seeded from the venue before the engine's first
//! event reaches the ring (after any recovery), so its images equal the venue's.

pub mod history;
pub mod image;
pub mod io;
pub mod publisher;
mod requests;
pub mod session;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use log::{info, warn};
use protocol::SecurityId;
use sim_exchange::{Exchange, Level};

pub use publisher::{Limits, MdLogin, Publisher};

use crate::clock::Clock;
use crate::config::marketdata::MarketDataSettings;
use crate::md_feed::MdFeed;
use crate::metrics::MdMetrics;
use crate::ring::Consumer;
use crate::wait::PollWakeup;

/// The publisher's limits from its configuration.
pub fn limits(s: &MarketDataSettings) -> Limits {
    Limits {
        max_connections: s.max_connections,
        max_subscriptions: s.max_subscriptions,
        queue_bytes: s.queue_bytes,
        history_messages: s.history_messages,
        heartbeat_ns: s.heartbeat_ms * 1_000_000,
        login_timeout_ns: s.login_timeout_ms * 1_000_000,
    }
}

/// A publisher whose every book is the venue's now (full depth), with the
/// channels' sequences where the venue's stand.
pub fn seeded(
    publisher: Publisher,
    securities: &[SecurityId],
    venue: &Exchange,
    max_levels: usize,
) -> Publisher {
    let mut publisher = publisher;
    let mut bids = vec![Level::default(); max_levels];
    let mut asks = vec![Level::default(); max_levels];
    for &security in securities {
        if let Some(snap) = venue.market_snapshot(security, &mut bids, &mut asks) {
            publisher.seed(&snap, security, &bids[..snap.bid_levels], &asks[..snap.ask_levels]);
        }
    }
    publisher
}

/// The running market-data thread.
#[derive(Debug)]
pub struct MdServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    wakeup: Arc<PollWakeup>,
    thread: Option<JoinHandle<()>>,
}

impl MdServer {
    /// Binds `settings.listen` and starts the thread.
    pub fn start(
        settings: &MarketDataSettings,
        publisher: Publisher,
        from_engine: Consumer<MdFeed>,
        clock: Clock,
        metrics: Arc<MdMetrics>,
    ) -> std::io::Result<MdServer> {
        let listener = std::net::TcpListener::bind(settings.listen).map_err(|e| {
            let why = format!("marketdata.listen on {}: {e}", settings.listen);
            std::io::Error::new(e.kind(), why)
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let session_id = publisher.session_id();
        let mut md = io::MdLoop::new(
            listener,
            settings,
            publisher,
            from_engine,
            clock,
            metrics,
            Arc::clone(&stop),
        )?;
        let addr = md.local_addr()?;
        let wakeup = md.wakeup();
        info!("market data on {addr}: feed session {session_id}");
        let thread = std::thread::Builder::new().name("bw-md".into()).spawn(move || {
            if let Err(e) = md.run() {
                warn!("the market-data thread stopped: {e}");
            }
        })?;
        Ok(MdServer { addr, stop, wakeup, thread: Some(thread) })
    }

    /// What the engine's [`crate::md_feed::MarketTap`] wakes the thread with.
    pub fn wakeup(&self) -> Arc<PollWakeup> {
        Arc::clone(&self.wakeup)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            warn!("the market-data thread panicked");
        }
    }
}

impl Drop for MdServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The publisher's rows of the memory budget (`pipeline::memory_budget`), each
/// named by its keys in `config::memory::part_keys`.
pub fn memory_rows(config: &crate::config::GatewayConfig) -> Vec<(&'static str, u64)> {
    let md = &config.marketdata;
    let securities: Vec<SecurityId> =
        config.exchange.instruments.iter().map(|i| i.security).collect();
    let mut channels: Vec<u16> =
        securities.iter().map(|s| protocol::marketdata::channel_of(*s)).collect();
    channels.sort_unstable();
    channels.dedup();
    let images = securities.len() as u64
        * (2 * publisher::IMAGE_LEVELS_RESERVED as u64 * 20
            + std::mem::size_of::<image::BookImage>() as u64);
    let histories = channels.len() as u64 * history::History::bytes(md.history_messages);
    let sessions = md.max_connections as u64
        * (session::Session::bytes(
            securities.len(),
            channels.len(),
            md.queue_bytes,
            md.max_subscriptions,
        ) + 2 * protocol::MAX_FRAME_LEN as u64);
    vec![
        (
            "market-data engine -> publisher ring",
            md.ring_capacity.next_power_of_two() as u64 * std::mem::size_of::<MdFeed>() as u64,
        ),
        (
            "market-data resync buffers (engine and publisher)",
            2 * crate::md_feed::MarketTap::scratch_bytes(md.resync_levels_per_side),
        ),
        ("market-data history (per channel)", histories),
        ("market-data subscriber queues and tables (per connection)", sessions),
        ("market-data book images (per security)", images),
    ]
}
