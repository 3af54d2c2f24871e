//! The handle on a running gateway: its addresses and counters, operator
//! commands, what is attached to it, and its orderly stop (io, engine, market
//! data, attachments, snapshotter, journal, in that order).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use log::warn;

use super::plan::Resolved;
use super::sequencer::Sequencer;
use crate::clock::Clock;
use crate::input::AdminCommand;
use crate::journal::JournalProgress;
use crate::metrics::{IoMetrics, StageCollector, StageSide};
use crate::server::{Control, LoginSlot};
use crate::stats::EngineStats;

/// A running gateway.
#[derive(Debug)]
pub struct Running {
    /// The addresses the gateway listens on.
    pub addrs: Vec<SocketAddr>,
    /// What was resolved for threads.
    pub resolved: Resolved,
    /// The io thread's counters.
    pub io_metrics: Arc<IoMetrics>,
    /// The engine's counters.
    pub engine_stats: Arc<EngineStats>,
    pub(super) stage_sides: Option<Vec<StageSide>>,
    pub(super) control: Control,
    pub(super) io_thread: Option<JoinHandle<std::io::Result<IoFinal>>>,
    pub(super) engine_thread: Option<JoinHandle<Sequencer>>,
    pub(super) engine_stop: Arc<AtomicBool>,
    /// The gateway clock (the admin endpoint dates operator commands with it).
    pub clock: Clock,
    /// What was attached to the running gateway (the HTTP admin endpoint), when
    /// configured; dropped, so stopped, when the gateway stops.
    pub(super) attached: Option<Box<dyn Attachment>>,
    pub(super) fix_addr: Option<SocketAddr>,
    pub(super) journal_thread: Option<JoinHandle<Result<(), crate::journal::JournalError>>>,
    pub(super) journal_stop: Arc<AtomicBool>,
    pub(super) snapshot_thread: Option<JoinHandle<()>>,
    pub(super) snapshot_stop: Arc<AtomicBool>,
    /// The journal's written and durable positions (zeros without a journal).
    pub journal_progress: Arc<JournalProgress>,
    /// The market-data publisher, when `[marketdata] enabled`.
    pub(super) md: Option<crate::md::MdServer>,
}

/// What the io thread hands back when it stops.
pub(super) struct IoFinal {
    pub(super) logins: Vec<LoginSlot>,
    /// The sequencer, when the io thread ran it (fused).
    pub(super) sequencer: Option<Sequencer>,
}

/// The gateway's state after it stopped: for tests and tools that check that books,
/// accounts and streams balance.
#[derive(Debug)]
pub struct Stopped {
    /// The engine, with its risk engine and venue.
    pub sequencer: Sequencer,
    /// Every login with its out log.
    pub logins: Vec<LoginSlot>,
}

/// Something serving a running gateway from outside the pipeline (the admin
/// endpoint): it holds what it needs from [`Running`] and is stopped by drop.
/// Defined here so the pipeline knows nothing of what attaches to it.
pub trait Attachment: std::fmt::Debug + Send {
    /// The address it serves on.
    fn local_addr(&self) -> SocketAddr;
}

/// Sends operator commands into a running gateway; they are sequenced (and
/// journaled) with client input. Cheap to clone, usable from any thread.
#[derive(Debug, Clone)]
pub struct AdminHandle {
    queue: Arc<crossbeam_queue::ArrayQueue<AdminCommand>>,
}

/// The operator queue is full (`pipeline.admin_queue_capacity` commands not yet
/// taken by the io thread).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operator command queue is full; try again")]
pub struct AdminQueueFull;

impl AdminHandle {
    /// Queues a command; the io thread hands it to the engine within a loop turn.
    pub fn submit(&self, cmd: AdminCommand) -> Result<(), AdminQueueFull> {
        self.queue.push(cmd).map_err(|_| AdminQueueFull)
    }
}

impl Running {
    /// The stage-latency collector (once; `None` after the first call). Whoever
    /// takes it should call `collect` about once a second.
    pub fn take_stage_collector(&mut self) -> Option<StageCollector> {
        self.stage_sides.take().map(StageCollector::new)
    }

    /// A handle for operator commands (kill switches, halts, limits, fault injection).
    pub fn admin(&self) -> AdminHandle {
        AdminHandle { queue: Arc::clone(&self.control.admin) }
    }

    /// The flag that stops the gateway when set (for signal handlers).
    pub fn shutdown_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.control.shutdown)
    }

    /// The risk desk's query exchange with the engine (the admin endpoint's views).
    pub fn desk(&self) -> crate::server::DeskQueries {
        self.control.desk.clone()
    }

    /// The first listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// The FIX door's bound address, when `[fix]` is configured.
    pub fn fix_addr(&self) -> Option<SocketAddr> {
        self.fix_addr
    }

    /// The market-data publisher's bound address, when `[marketdata]` is enabled.
    pub fn md_addr(&self) -> Option<SocketAddr> {
        self.md.as_ref().map(|m| m.addr())
    }

    /// The admin endpoint's bound address, when it is configured.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.attached.as_ref().map(|a| a.local_addr())
    }

    /// Attaches an endpoint that serves this gateway until it stops.
    pub fn attach(&mut self, attachment: Box<dyn Attachment>) {
        self.attached = Some(attachment);
    }

    /// Stops accepting, ends every session, drains, and waits for the threads.
    /// Returns the final state.
    pub fn shutdown(mut self) -> std::io::Result<Stopped> {
        self.control.shutdown.store(true, Ordering::SeqCst);
        self.join()
    }

    /// Waits until the gateway stops (after something set the shutdown flag).
    pub fn join(&mut self) -> std::io::Result<Stopped> {
        let io_final = match self.io_thread.take() {
            Some(t) => {
                t.join().unwrap_or_else(|_| Err(std::io::Error::other("io thread panicked")))
            }
            None => Err(std::io::Error::other("already stopped")),
        };
        self.engine_stop.store(true, Ordering::SeqCst);
        let engine_sequencer = match self.engine_thread.take() {
            Some(t) => {
                t.thread().unpark();
                Some(t.join().map_err(|_| std::io::Error::other("engine thread panicked"))?)
            }
            None => None,
        };
        // The engine has stopped: nothing more reaches the publisher.
        if let Some(mut md) = self.md.take() {
            md.stop();
        }
        // The admin endpoint answered through the drain (ready: 503); stop it now.
        drop(self.attached.take());
        self.snapshot_stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.snapshot_thread.take()
            && t.join().is_err()
        {
            warn!("the snapshot thread panicked");
        }
        self.journal_stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.journal_thread.take() {
            t.thread().unpark();
            match t.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(std::io::Error::other(format!("journal: {e}"))),
                Err(_) => return Err(std::io::Error::other("journal thread panicked")),
            }
        }
        let io_final = io_final?;
        let sequencer = io_final
            .sequencer
            .or(engine_sequencer)
            .ok_or_else(|| std::io::Error::other("no engine state came back"))?;
        Ok(Stopped { sequencer, logins: io_final.logins })
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.io_thread.is_some() {
            self.control.shutdown.store(true, Ordering::SeqCst);
            let _ = self.join();
        }
    }
}
