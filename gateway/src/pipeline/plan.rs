//! What start-up decides before it starts anything: the topology and wait
//! strategies (`auto` resolved), the cores, every buffer's size summed in one
//! place, the engine built from the configuration, and the session limits.

use log::{info, warn};
use risk_check::RiskEngine;
use sim_exchange::Exchange;

use super::StartError;
use crate::config::{Durability, GatewayConfig, Topology};
use crate::engine::Engine;
use crate::input::{AdminCommand, Arrival, Output};
use crate::journal::Entry;
use crate::server::SessionLimits;
use crate::wait::WaitStrategy;

/// The topology and wait strategies actually used, after `auto` is resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Resolved {
    /// Fused or pipelined.
    pub topology: Topology,
    /// The io (or fused) thread's wait strategy.
    pub io_wait: WaitStrategy,
    /// The engine thread's wait strategy (pipelined).
    pub engine_wait: WaitStrategy,
    /// Core for the io thread.
    pub io_core: Option<usize>,
    /// Core for the engine thread.
    pub engine_core: Option<usize>,
}

/// Resolves `auto`: pipelined, pinned and spinning with four or more cores; fused
/// and spin-then-park below.
pub fn resolve(config: &GatewayConfig) -> Resolved {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let p = &config.pipeline;
    let topology = match p.topology {
        Topology::Auto if cores >= 4 => Topology::Pipelined,
        Topology::Auto => Topology::Fused,
        t => t,
    };
    let roomy = cores >= 4;
    let spin_or_park = if roomy { WaitStrategy::BusySpin } else { WaitStrategy::ADAPTIVE_PARK };
    let fused_default = WaitStrategy::SpinThenPark { spins: 64, yields: 0, park_us: 1_000 };
    let io_wait = p.io_wait.unwrap_or(if topology == Topology::Fused && !roomy {
        fused_default
    } else {
        spin_or_park
    });
    let engine_wait = p.engine_wait.unwrap_or(spin_or_park);
    let (io_core, engine_core) = match (p.io_core, p.engine_core) {
        (None, None) if roomy && p.topology == Topology::Auto => (Some(1), Some(2)),
        other => other,
    };
    Resolved { topology, io_wait, engine_wait, io_core, engine_core }
}

/// Pins the calling thread to `core`, when one is given; says whether it could.
pub(super) fn pin(core: Option<usize>, what: &str) {
    if let Some(id) = core {
        if core_affinity::set_for_current(core_affinity::CoreId { id }) {
            info!("{what} thread pinned to core {id}");
        } else {
            warn!("{what} thread could not be pinned to core {id}");
        }
    }
}

/// Every buffer the gateway allocates at start-up, summed in one place (name,
/// bytes). Nothing on the order path allocates beyond these; the per-connection
/// receive buffers are allocated when a connection is accepted.
pub fn memory_budget(config: &GatewayConfig, engine: &Engine) -> Vec<(&'static str, u64)> {
    memory_budget_for(config, engine.exchange().memory_bytes() as u64)
}

/// [`memory_budget`] before anything is allocated, with the venue's share given
/// (`config::memory::venue_bytes` estimates it): what `gateway --check` compares
/// with the machine's memory.
pub fn memory_budget_for(config: &GatewayConfig, venue_bytes: u64) -> Vec<(&'static str, u64)> {
    let logins = config.logins.len() as u64;
    let out = &config.outbound;
    let p = &config.pipeline;
    let orders = u64::from(config.risk.capacity.max_orders_per_day);
    let out_logs =
        logins * (out.log_bytes_per_login as u64 + out.log_messages_per_login as u64 * 8);
    let risk_orders = orders * std::mem::size_of::<risk_check::OrderRecord>() as u64;
    let risk_index = (orders * 4).next_power_of_two() * 4;
    let risk_fills = u64::from(config.risk.capacity.max_fills_per_day)
        * std::mem::size_of::<risk_check::FillRecord>() as u64;
    let requests = orders * 32;
    let mut budget = vec![
        ("out logs (stream bytes + index, per login)", out_logs),
        ("risk order table (idempotency, per order of the day)", risk_orders),
        ("risk order index", risk_index),
        ("risk fills table (per fill of the day)", risk_fills),
        ("engine requests in flight (per order of the day)", requests),
        ("venue books, order pool, id index, inbound queue", venue_bytes),
        (
            "receive buffers (per connection, at accept)",
            config.server.max_sessions as u64 * config.server.rx_buffer_bytes as u64,
        ),
        (
            "admin command queue",
            p.admin_queue_capacity as u64 * std::mem::size_of::<AdminCommand>() as u64,
        ),
        (
            "query answer buffers (protocol version 3)",
            // Each holds one answer frame and its bookkeeping.
            config.server.max_queries_in_flight as u64
                * (protocol::codec::MAX_FRAME_LEN as u64 + 64),
        ),
        (
            "failed-login addresses (unknown usernames)",
            // A hash map entry: the address, its window, and the table's overhead.
            config.server.max_failing_addresses as u64
                * (std::mem::size_of::<(std::net::IpAddr, [u64; 3])>() as u64 + 8),
        ),
    ];
    if config.marketdata.enabled {
        budget.extend(crate::md::memory_rows(config));
    }
    if let Some(fix) = &config.fix {
        budget.push((
            "FIX sessions and connections (buffers, order caches, resend logs, queues)",
            fix.memory_bytes() + crate::fix_link::FixLink::memory_bytes(fix),
        ));
    }
    match resolve(config).topology {
        Topology::Pipelined => {
            budget.push((
                "io -> engine ring",
                p.in_ring_capacity.next_power_of_two() as u64
                    * std::mem::size_of::<Arrival>() as u64,
            ));
            budget.push((
                "engine -> io ring",
                p.out_ring_capacity.next_power_of_two() as u64
                    * std::mem::size_of::<Output>() as u64,
            ));
        }
        _ => budget.push((
            "fused outbox (engine outputs before the out logs)",
            p.fused_outbox_capacity as u64 * std::mem::size_of::<Output>() as u64,
        )),
    }
    if config.journal.durability != Durability::None {
        let j = &config.journal;
        budget.push((
            "engine -> journal ring",
            j.ring_capacity.next_power_of_two() as u64 * std::mem::size_of::<Entry>() as u64,
        ));
        budget.push(("journal write batch", 4 << 20));
        if config.journal.durability == Durability::Sync {
            budget.push((
                "answers waiting for the journal (sync)",
                p.unreleased_capacity as u64 * std::mem::size_of::<(u32, u64, u64)>() as u64,
            ));
        }
        if config.journal.snapshot_every_inputs > 0 {
            // The snapshotter's replica: another engine and another set of out logs.
            let replica = out_logs + risk_orders + risk_index + risk_fills + requests + venue_bytes;
            budget.push(("snapshot replica (engine and out logs, once more)", replica));
        }
    }
    budget
}

/// Builds the engine from a configuration.
pub fn build_engine(config: &GatewayConfig) -> Result<Engine, StartError> {
    let risk = RiskEngine::new(config.risk.clone())?;
    let exchange = Exchange::new(config.exchange.clone())?;
    let policies = config.login_policies();
    let capacity = config.risk.capacity.max_orders_per_day as usize;
    Ok(Engine::new(risk, exchange, policies, capacity))
}

/// The io loop's limits on sessions, logins and queries, from the configuration.
pub(super) fn session_limits(config: &GatewayConfig, session_id: u64) -> SessionLimits {
    let s = &config.server;
    SessionLimits {
        max_sessions: s.max_sessions,
        max_pending_logins: s.max_pending_logins,
        max_pending_logins_per_address: s.max_pending_logins_per_address,
        heartbeat_ns: s.heartbeat_ms * 1_000_000,
        dead_peer_ns: s.dead_peer_ms * 1_000_000,
        login_timeout_ns: s.login_timeout_ms * 1_000_000,
        backlog_limit_bytes: config.outbound.backlog_limit_bytes,
        rx_buffer_bytes: s.rx_buffer_bytes,
        socket_send_buffer_bytes: s.socket_send_buffer_bytes,
        max_login_failures: s.max_login_failures,
        login_failure_window_ns: s.login_failure_window_ms * 1_000_000,
        login_lockout_ns: s.login_lockout_ms * 1_000_000,
        session_id,
        max_failing_addresses: s.max_failing_addresses,
        unreleased_capacity: config.pipeline.unreleased_capacity,
        max_queries_per_second: s.max_queries_per_second,
        max_queries_in_flight: s.max_queries_in_flight,
    }
}
