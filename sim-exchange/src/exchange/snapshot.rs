//! Snapshots of the venue: [`Exchange::snapshot_to`] writes its whole state and
//! [`Exchange::restore_from`] reads it back into an exchange that answers every
//! later call with the same events.
//!
//! ```text
//! snapshot = "BWVENU01" | u32 version | u64 state_len | u32 state_crc | state | "BWVENUOK"
//! state    = bincode (standard config) of ExchangeState
//! state_crc= CRC-32 of the state bytes
//! ```
//!
//! The header, the state and the end marker are [`protocol::envelope`]'s section
//! and end marker, which every snapshot format shares. Every length is known
//! before it is read, so a snapshot can sit between other data in one stream and
//! reading never consumes a byte past its end. The checksum is checked before anything is decoded: the pool sizes are in the
//! state, and a damaged size would otherwise allocate whatever it says.
//!
//! The state holds the configuration the exchange was built from, and restoring
//! builds a new exchange from it first, exactly as at start-up: the same checks,
//! the same pools, price arrays and queue, at the same capacities. Then it lays
//! the dynamic state over it: each instrument's phase, halt, reopening auction
//! and statistics, the inbound queue, the schedule's next boundary, the counters,
//! and the books (see `book::snapshot`). What is derived is not written but
//! rebuilt: the security lookup, the divisors, the next reopening time, the level
//! bitsets and best levels, and the id index. The restored exchange must pass
//! [`Exchange::validate`]; a truncated or damaged snapshot is an error, never a
//! panic.
//!
//! The market-data feed's sequences are not written: a restored exchange starts
//! every channel again at sequence 1, and its publisher announces a new session
//! id (`docs/marketdata.md`, "Restart").

use std::io::{self, Read, Write};

use protocol::TradingPhase;
use protocol::envelope::{self, EnvelopeError, Section};
use serde::{Deserialize, Serialize};

use super::{Exchange, NO_INST, Pending};
use crate::book::{BooksState, FastMatcher};
use crate::config::{ConfigError, ExchangeConfig, Schedule};
use crate::matcher::MarketStats;

/// The state section: its magic, the format version (bumped whenever the layout
/// of anything written changes) and its largest length.
const STATE: Section = Section { magic: *b"BWVENU01", version: 3, max_len: STATE_BYTES_MAX as u64 };
const END: [u8; 8] = *b"BWVENUOK";
/// Largest state a snapshot may have: enough for tens of millions of resting
/// orders. Reading refuses a larger length before allocating for it, and so does
/// bincode for any length inside.
const STATE_BYTES_MAX: usize = 1 << 31;

/// Why a snapshot could not be written or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The writer or reader failed; a snapshot cut short reads as
    /// [`io::ErrorKind::UnexpectedEof`].
    #[error("snapshot i/o: {0}")]
    Io(#[from] io::Error),
    /// The state could not be encoded.
    #[error("cannot encode the exchange state: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    /// The state does not decode.
    #[error("cannot decode the exchange state: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    /// The bytes do not start (or end) like an exchange snapshot.
    #[error("not an exchange snapshot")]
    NotASnapshot,
    /// Written by a build with another snapshot format.
    #[error("exchange snapshot format {found}, this build reads {expected}")]
    Version {
        /// The snapshot's format.
        found: u32,
        /// The format this build reads and writes.
        expected: u32,
    },
    /// The configuration inside the snapshot does not build an exchange.
    #[error("exchange snapshot configuration: {0}")]
    Config(#[from] ConfigError),
    /// The snapshot decodes but does not describe a consistent exchange.
    #[error("inconsistent exchange snapshot: {0}")]
    Inconsistent(String),
}

/// One instrument's state beyond its configuration.
#[derive(Serialize, Deserialize)]
struct InstrumentState {
    phase: TradingPhase,
    halted: bool,
    reopen_at_ns: u64,
    stats: MarketStats,
}

/// Everything a snapshot holds.
#[derive(Serialize, Deserialize)]
struct ExchangeState {
    config: ExchangeConfig,
    instruments: Vec<InstrumentState>,
    queue: Vec<Pending>,
    pause_until_ns: u64,
    ack_delay_ns: u64,
    last_release_ns: u64,
    next_boundary: Option<(u64, TradingPhase)>,
    next_exec_id: u64,
    books: BooksState,
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<STATE_BYTES_MAX>()
}

impl From<EnvelopeError> for SnapshotError {
    fn from(e: EnvelopeError) -> SnapshotError {
        match e {
            EnvelopeError::Io(e) => SnapshotError::Io(e),
            EnvelopeError::NotThis { .. } => SnapshotError::NotASnapshot,
            EnvelopeError::Version { found, expected } => {
                SnapshotError::Version { found, expected }
            }
            EnvelopeError::TooLong { len, .. } => {
                SnapshotError::Inconsistent(format!("state of {len} bytes"))
            }
            EnvelopeError::Crc => SnapshotError::Inconsistent("state checksum mismatch".into()),
        }
    }
}

fn inconsistent<T>(why: impl Into<String>) -> Result<T, SnapshotError> {
    Err(SnapshotError::Inconsistent(why.into()))
}

impl Exchange<FastMatcher> {
    /// Writes the exchange's whole state to `w` (see the module docs for what that
    /// is). The state is encoded in memory first and written with one call, so `w`
    /// needs no buffering of its own.
    pub fn snapshot_to(&self, w: &mut impl Write) -> Result<(), SnapshotError> {
        let state = ExchangeState {
            config: ExchangeConfig {
                instruments: self.instruments.iter().map(|i| i.spec).collect(),
                max_orders: self.max_orders,
                max_levels_per_side: self.max_levels_per_side,
                overflow_levels_per_side: self.overflow_levels_per_side,
                inbound_queue_capacity: self.queue_capacity,
                self_trade_prevention: self.self_trade_prevention,
                schedule: self.schedule,
                holidays: self.holiday_dates.clone(),
                limit_ioc_fok: self.limit_ioc_fok,
                market_data: self.feed.is_on(),
            },
            instruments: self
                .instruments
                .iter()
                .map(|i| InstrumentState {
                    phase: i.phase,
                    halted: i.halted,
                    reopen_at_ns: i.reopen_at_ns,
                    stats: i.stats,
                })
                .collect(),
            queue: self.queue.iter().copied().collect(),
            pause_until_ns: self.pause_until_ns,
            ack_delay_ns: self.ack_delay_ns,
            last_release_ns: self.last_release_ns,
            next_boundary: self.next_boundary,
            next_exec_id: self.next_exec_id,
            books: self.matcher.snapshot_state(),
        };
        let bytes = bincode::serde::encode_to_vec(&state, bincode_config())?;
        STATE.write(w, &bytes)?;
        envelope::write_end(w, END)?;
        Ok(())
    }

    /// Reads a snapshot written by [`Exchange::snapshot_to`], consuming exactly its
    /// bytes, and rebuilds the exchange (see the module docs).
    pub fn restore_from(r: &mut impl Read) -> Result<Exchange, SnapshotError> {
        let bytes = STATE.read(r)?;
        let (state, used): (ExchangeState, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode_config())?;
        if used != bytes.len() {
            return inconsistent("trailing bytes after the state");
        }
        drop(bytes);
        envelope::read_end(r, END)?;
        let exchange = Exchange::from_state(state)?;
        exchange.validate().map_err(SnapshotError::Inconsistent)?;
        Ok(exchange)
    }

    fn from_state(state: ExchangeState) -> Result<Exchange, SnapshotError> {
        let ExchangeState {
            config,
            instruments,
            queue,
            pause_until_ns,
            ack_delay_ns,
            last_release_ns,
            next_boundary,
            next_exec_id,
            books,
        } = state;
        let mut exchange = Exchange::new(config)?;
        if instruments.len() != exchange.instruments.len() {
            return inconsistent(format!(
                "{} instrument states for {} instruments",
                instruments.len(),
                exchange.instruments.len()
            ));
        }
        for (ins, s) in exchange.instruments.iter_mut().zip(instruments) {
            ins.phase = s.phase;
            ins.halted = s.halted;
            ins.reopen_at_ns = s.reopen_at_ns;
            ins.stats = s.stats;
        }
        exchange.refresh_reopen();
        if queue.len() > exchange.queue_capacity {
            return inconsistent(format!(
                "{} queued operations for a queue of {}",
                queue.len(),
                exchange.queue_capacity
            ));
        }
        let count = exchange.instruments.len();
        if let Some(p) = queue.iter().find(|p| p.inst != NO_INST && p.inst as usize >= count) {
            return inconsistent(format!("queued operation for instrument {}", p.inst));
        }
        exchange.queue.extend(queue);
        if next_boundary.is_some() && !matches!(exchange.schedule, Schedule::AShare { .. }) {
            return inconsistent("a scheduled boundary without a schedule");
        }
        exchange.pause_until_ns = pause_until_ns;
        exchange.ack_delay_ns = ack_delay_ns;
        exchange.last_release_ns = last_release_ns;
        exchange.next_boundary = next_boundary;

        exchange.next_exec_id = next_exec_id;
        exchange.matcher.restore_state(books).map_err(SnapshotError::Inconsistent)?;
        Ok(exchange)
    }
}
