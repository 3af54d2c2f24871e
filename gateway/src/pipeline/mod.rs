//! Wiring the threads: the sequencer, the two topologies, pinning and start-up.
//!
//! ```text
//! pipelined:  clients ─TCP─> [io thread] ─in ring─> [engine thread] ─out ring─> [io thread] ─TCP─> clients
//! fused:      clients ─TCP─> [io thread: decode → engine → out log] ─TCP─> clients
//! ```
//!
//! Both run the same `IoLoop` and the same `Engine`; only the `EngineLink` differs.
//! The fused topology is the default below four cores: with fewer cores than
//! spinning stages, a hop costs a context switch instead of a cache-line transfer,
//! so one thread doing everything is both faster and kinder to the machine.
//!
//! One file per concept, each using only those listed before it (and the
//! [`StartError`] below):
//!
//! * `sequencer`: numbers, times and journals every input, then runs the engine.
//! * `link`: the two `EngineLink`s (fused, ring) and the engine thread.
//! * `plan`: what start-up decides before it starts anything: the topology, the
//!   cores, the memory budget, the engine and the session limits.
//! * `recovery`: the engine, the streams and the FIX sessions rebuilt from the
//!   journal and its snapshots.
//! * `running`: the handle on a running gateway and its orderly stop.
//! * `start`: [`start_threads`], step by step.

mod link;
mod plan;
mod recovery;
mod running;
mod sequencer;
mod start;

pub use link::{FusedLink, RingLink};
pub use plan::{Resolved, build_engine, memory_budget, memory_budget_for, resolve};
pub use recovery::{recover, recover_from_start, recover_to};
pub use running::{AdminHandle, AdminQueueFull, Attachment, Running, Stopped};
pub use sequencer::Sequencer;
pub use start::start_threads;

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The risk tables could not build an engine.
    #[error("risk engine: {0}")]
    Risk(#[from] risk_check::ConfigError),
    /// The venue could not be built.
    #[error("exchange: {0}")]
    Exchange(#[from] sim_exchange::ConfigError),
    /// Binding or polling failed.
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    /// The journal could not be read or opened.
    #[error("journal: {0}")]
    Journal(#[from] crate::journal::JournalError),
}
