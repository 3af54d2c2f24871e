//! Snapshots: [`RiskEngine::snapshot_to`] writes the engine's whole state, and
//! [`RiskEngine::restore_from`] reads it back into an engine that answers every
//! later input exactly as the original would.
//!
//! ```text
//! snapshot = "BWRISK01" | u32 version | u64 state_len | u32 state_crc | state | orders
//!            | "BWRISKOK"
//! state    = bincode (standard config) of everything but the order table
//! state_crc= CRC-32 of the state bytes
//! orders   = u64 count | u32 record_len | count × record            (little-endian)
//! ```
//!
//! The header, the state and the end marker are [`protocol::envelope`]'s section
//! and end marker, which every snapshot format shares. Every length is known
//! before it is read, so a snapshot can sit between other data in one stream and
//! reading never consumes a byte past its end. The state's checksum is checked
//! before it is decoded: the table capacities are in it, and a damaged capacity
//! would otherwise allocate whatever it says.
//!
//! The order table (224 bytes a record in memory, up to tens of millions of
//! records) is written by hand as fixed-size little-endian records, a chunk at a
//! time: through serde's per-field calls and varints the same table came to half
//! the bytes but took about 2.5 times as long to write and to read at 10M orders
//! (`examples/snapshot_speed.rs` measures both).
//!
//! Not written, because it is derived and rebuilt on restore: the idempotency
//! index (four slots per order-table slot, 256 MiB at 10M orders; rebuilt by
//! inserting the records in table order, which is how it was built, so it comes
//! back slot for slot, on a second thread while the first decodes the table),
//! the account, position and binding hash maps, and the instruments' index and
//! price bands. Every table comes back with the capacity [`RiskEngine::new`] gives
//! it, and the order and position tables are prefaulted as there, so nothing grows
//! or faults on the order path afterwards.
//!
//! Restoring checks what it reads: enum values, identifiers, limits and
//! instrument rules as a configuration would be checked, every table index and
//! link in range, keys unique, then the engine's own invariants
//! ([`RiskEngine::validate`]). A truncated or damaged snapshot is an error, never
//! a panic; damage that still decodes into a consistent engine (a changed cash
//! amount, say) is for the caller's checksum to catch.

use std::borrow::Cow;
use std::io::{self, Read, Write};
use std::sync::mpsc::{self, Receiver, SyncSender};

use protocol::codec::EntryState;
use protocol::envelope::{self, EnvelopeError, Section};
use protocol::rules::FeeSchedule;
use protocol::{
    AccountId, CreditTag, OrderType, Price, Qty, RejectCode, RejectDetail, SecurityId, Side,
    TimeInForce,
};
use serde::{Deserialize, Serialize};

use crate::config::{Capacity, Limits, validate_settings};
use crate::counters::RiskCounters;
use crate::engine::{AccountState, PositionState, RiskEngine, pair_key, prefault};
use crate::fills::FillRecord;
use crate::fxhash::{map_with_capacity, set_with_capacity};
use crate::instrument::InstrumentTable;
use crate::order::{LoginIdx, NIL, OrderRecord, OrderRef, OrderState, PendingChange};
use crate::order_index::{OrderIndex, Probe};
use crate::validate::Totals;

/// The state section: its magic, the format version (bumped whenever the layout
/// of anything written changes) and its largest length.
const STATE: Section = Section { magic: *b"BWRISK01", version: 3, max_len: STATE_BYTES_MAX as u64 };
const END: [u8; 8] = *b"BWRISKOK";
/// Largest state section (everything but the order table) a snapshot may have:
/// about 100 bytes a position, so room for millions. Reading refuses a larger
/// length before allocating for it, and so does bincode for any length inside.
const STATE_BYTES_MAX: usize = 1 << 30;
/// Bytes of one order record in the snapshot (see [`encode_record`]).
const RECORD_BYTES: usize = 196;
/// Records per write or read: 1.6 MB chunks, above the 1 MiB buffers the gateway
/// reads and writes snapshots through, which then pass them straight to the file
/// instead of copying them once more.
const CHUNK_RECORDS: usize = 8_192;

/// Why a snapshot could not be written or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The writer or reader failed; a snapshot cut short reads as
    /// [`io::ErrorKind::UnexpectedEof`].
    #[error("snapshot i/o: {0}")]
    Io(#[from] io::Error),
    /// The state could not be encoded.
    #[error("cannot encode the risk engine state: {0}")]
    Encode(#[from] bincode::error::EncodeError),
    /// The state section does not decode.
    #[error("cannot decode the risk engine state: {0}")]
    Decode(#[from] bincode::error::DecodeError),
    /// The bytes do not start (or end) like a risk engine snapshot.
    #[error("not a risk engine snapshot")]
    NotASnapshot,
    /// Written by a build with another snapshot format.
    #[error("risk engine snapshot format {found}, this build reads {expected}")]
    Version {
        /// The snapshot's format.
        found: u32,
        /// The format this build reads and writes.
        expected: u32,
    },
    /// The snapshot decodes but does not describe a consistent engine.
    #[error("inconsistent risk engine snapshot: {0}")]
    Inconsistent(String),
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
                SnapshotError::Inconsistent(format!("state section of {len} bytes"))
            }
            EnvelopeError::Crc => SnapshotError::Inconsistent("state checksum mismatch".into()),
        }
    }
}

fn inconsistent<T>(why: impl Into<String>) -> Result<T, SnapshotError> {
    Err(SnapshotError::Inconsistent(why.into()))
}

/// Everything but the order table and the derived tables. Borrowed when written,
/// owned when read.
#[derive(Serialize, Deserialize)]
struct EngineState<'a> {
    limits: Limits,
    capacity: Capacity,
    fees: FeeSchedule,
    firm_state: EntryState,
    accounts: Cow<'a, [AccountState]>,
    instruments: Cow<'a, InstrumentTable>,
    positions: Cow<'a, [PositionState]>,
    binding_list: Cow<'a, [(LoginIdx, u32)]>,
    counters: Cow<'a, RiskCounters>,
    day_start_ns: u64,
    /// Format 3: the day's fills table, what it could not record, and the last
    /// trade price per instrument.
    fills: Cow<'a, [FillRecord]>,
    fills_not_recorded: u64,
    last_prices: Cow<'a, [Price]>,
}

fn bincode_config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<STATE_BYTES_MAX>()
}

impl RiskEngine {
    /// Writes the engine's whole state to `w` (see the module docs for what that
    /// is). Writes in chunks of under 1 MiB; `w` needs no buffering of its own.
    pub fn snapshot_to(&self, w: &mut impl Write) -> Result<(), SnapshotError> {
        let state = EngineState {
            limits: self.limits,
            capacity: self.capacity,
            fees: self.fees,
            firm_state: self.firm_state,
            accounts: Cow::Borrowed(&self.accounts),
            instruments: Cow::Borrowed(&self.instruments),
            positions: Cow::Borrowed(&self.positions),
            binding_list: Cow::Borrowed(&self.binding_list),
            counters: Cow::Borrowed(&self.counters),
            day_start_ns: self.day_start_ns,
            fills: Cow::Borrowed(&self.fills),
            fills_not_recorded: self.fills_not_recorded,
            last_prices: Cow::Borrowed(&self.last_prices),
        };
        let bytes = bincode::serde::encode_to_vec(&state, bincode_config())?;
        STATE.write(w, &bytes)?;
        write_orders(&self.orders, w)?;
        envelope::write_end(w, END)?;
        Ok(())
    }

    /// Reads a snapshot written by [`RiskEngine::snapshot_to`], consuming exactly
    /// its bytes, and rebuilds the engine: same state, same table capacities,
    /// derived tables rebuilt, order and position tables prefaulted.
    pub fn restore_from(r: &mut impl Read) -> Result<RiskEngine, SnapshotError> {
        let bytes = STATE.read(r)?;
        let (state, used): (EngineState<'static>, usize) =
            bincode::serde::decode_from_slice(&bytes, bincode_config())?;
        if used != bytes.len() {
            return inconsistent("trailing bytes after the state");
        }
        drop(bytes);
        let mut engine = RiskEngine::from_state(state)?;
        let totals = read_orders(r, &mut engine)?;
        envelope::read_end(r, END)?;
        engine.check_links()?;
        engine.validate_totals(&totals).map_err(SnapshotError::Inconsistent)?;
        Ok(engine)
    }

    /// An engine with the state's tables, sized and indexed as [`RiskEngine::new`]
    /// sizes them, and an empty order table.
    fn from_state(state: EngineState<'static>) -> Result<RiskEngine, SnapshotError> {
        let EngineState {
            limits,
            capacity,
            fees,
            firm_state,
            accounts,
            instruments,
            positions,
            binding_list,
            counters,
            day_start_ns,
            fills,
            fills_not_recorded,
            last_prices,
        } = state;
        let instruments = instruments.into_owned();
        validate_settings("snapshot", &limits, &capacity, &fees, instruments.iter())
            .map_err(|e| SnapshotError::Inconsistent(e.to_string()))?;
        let accounts = accounts.into_owned();
        let max_orders = capacity.max_orders_per_day as usize;
        let max_positions = capacity.max_positions as usize;
        let max_bindings = capacity.max_login_bindings as usize;
        if positions.len() > max_positions || binding_list.len() > max_bindings {
            return inconsistent("more positions or bindings than their tables hold");
        }
        let mut orders = Vec::new();
        // An impossible capacity is an error here rather than an abort.
        orders.try_reserve_exact(max_orders).map_err(|e| {
            SnapshotError::Inconsistent(format!("order table of {max_orders} records: {e}"))
        })?;
        let max_fills = capacity.max_fills_per_day as usize;
        if fills.len() > max_fills {
            return inconsistent("more fills than the fills table holds");
        }
        if last_prices.len() != instruments.len() {
            return inconsistent("last trade prices do not match the instruments");
        }
        let mut fill_table = Vec::new();
        fill_table.try_reserve_exact(max_fills).map_err(|e| {
            SnapshotError::Inconsistent(format!("fills table of {max_fills} records: {e}"))
        })?;
        fill_table.extend_from_slice(&fills);
        let mut engine = RiskEngine {
            limits,
            capacity,
            fees,
            firm_state,
            account_index: map_with_capacity(accounts.len()),
            accounts: Vec::with_capacity(accounts.len()),
            instruments,
            positions: Vec::with_capacity(max_positions),
            position_index: map_with_capacity(max_positions),
            bindings: set_with_capacity(max_bindings),
            binding_list: Vec::with_capacity(max_bindings),
            orders,
            // Built while the order table is read (see `read_orders`).
            order_index: OrderIndex::with_records(0),
            counters: counters.into_owned(),
            day_start_ns,
            fills: fill_table,
            fills_not_recorded,
            last_prices: last_prices.into_owned(),
        };
        engine.restore_accounts(accounts, positions.len())?;
        engine.restore_positions(&positions)?;
        for &(login, idx) in binding_list.iter() {
            if idx as usize >= engine.accounts.len() {
                return inconsistent(format!("binding of login {login} to account slot {idx}"));
            }
            if !engine.bindings.insert(pair_key(login, idx)) {
                return inconsistent(format!("login {login} bound twice to account slot {idx}"));
            }
            engine.binding_list.push((login, idx));
        }
        prefault(&mut engine.positions);
        prefault(&mut engine.fills);
        Ok(engine)
    }

    fn restore_accounts(
        &mut self,
        accounts: Vec<AccountState>,
        positions: usize,
    ) -> Result<(), SnapshotError> {
        if accounts.len() >= NIL as usize {
            return inconsistent("too many accounts");
        }
        for (i, a) in accounts.into_iter().enumerate() {
            let linked = |slot: u32| slot == NIL || (slot as usize) < positions;
            if !linked(a.first_pos) || !linked(a.last_pos) {
                return inconsistent(format!("account {}: position chain out of range", a.id));
            }
            let windows_ok = a.messages.is_consistent() && a.new_orders.is_consistent();
            if !windows_ok || !a.fingerprints.is_consistent() {
                return inconsistent(format!("account {}: throttle window or ring", a.id));
            }
            if self.account_index.insert(a.id, i as u32).is_some() {
                return inconsistent(format!("account {} listed twice", a.id));
            }
            self.accounts.push(a);
        }
        Ok(())
    }

    fn restore_positions(&mut self, positions: &[PositionState]) -> Result<(), SnapshotError> {
        for (i, p) in positions.iter().enumerate() {
            let in_range = (p.account_idx as usize) < self.accounts.len()
                && (p.instr_idx as usize) < self.instruments.len()
                && (p.next_of_account == NIL || (p.next_of_account as usize) < positions.len());
            if !in_range {
                return inconsistent(format!("position {i}: account, instrument or link"));
            }
            if self.position_index.insert(pair_key(p.account_idx, p.instr_idx), i as u32).is_some()
            {
                return inconsistent(format!("position {i} duplicates another's key"));
            }
            self.positions.push(*p);
        }
        Ok(())
    }

    /// The links [`RiskEngine::validate`] follows must stay inside their tables
    /// for it to answer instead of panicking.
    fn check_links(&self) -> Result<(), SnapshotError> {
        let orders = self.orders.len();
        for (i, f) in self.fills.iter().enumerate() {
            let ok = (f.order.0 as usize) < orders
                && self.orders[f.order.0 as usize].account == f.account;
            if !ok {
                return inconsistent(format!(
                    "fill {i}: order {} not in the day's table",
                    f.order.0
                ));
            }
        }
        for (i, p) in self.positions.iter().enumerate() {
            if p.open_head != NIL && p.open_head as usize >= orders {
                return inconsistent(format!("position {i}: open list head {}", p.open_head));
            }
        }
        Ok(())
    }
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

fn write_orders(orders: &[OrderRecord], w: &mut impl Write) -> io::Result<()> {
    w.write_all(&(orders.len() as u64).to_le_bytes())?;
    w.write_all(&(RECORD_BYTES as u32).to_le_bytes())?;
    let mut buf = vec![0u8; CHUNK_RECORDS * RECORD_BYTES];
    for chunk in orders.chunks(CHUNK_RECORDS) {
        let bytes = &mut buf[..chunk.len() * RECORD_BYTES];
        for (rec, out) in chunk.iter().zip(bytes.chunks_exact_mut(RECORD_BYTES)) {
            encode_record(rec, out.try_into().expect("chunks of RECORD_BYTES"));
        }
        w.write_all(bytes)?;
    }
    Ok(())
}

/// Reads the order table into `engine` (whose order table is empty and reserved),
/// checking each record as [`RiskEngine::validate`] would while it is in cache,
/// and returns the records' totals for the rest of the checks.
///
/// The idempotency index is rebuilt at the same time on a second thread: this one
/// decodes and sends each chunk's keys over, that one inserts them in table order
/// (which rebuilds the index exactly as it was built) and finds any duplicate.
/// At 10M orders that takes its 256 MiB fill and 10M random probes (about 0.8 s)
/// off the decoding thread, whose own work is mostly writing the table into fresh
/// memory.
fn read_orders(r: &mut impl Read, engine: &mut RiskEngine) -> Result<Totals, SnapshotError> {
    let count = read_u64(r)?;
    let record_len = read_u32(r)?;
    if record_len as usize != RECORD_BYTES {
        return inconsistent(format!("order records of {record_len} bytes"));
    }
    if count > u64::from(engine.capacity.max_orders_per_day) {
        return inconsistent(format!(
            "{count} orders for a table of {}",
            engine.capacity.max_orders_per_day
        ));
    }
    let max_orders = engine.capacity.max_orders_per_day as usize;
    std::thread::scope(|s| {
        let (keys, chunks) = mpsc::sync_channel(4);
        let indexer = s.spawn(move || build_index(max_orders, chunks));
        let decoded = decode_orders(r, engine, count as usize, &keys);
        drop(keys);
        let index = indexer.join().expect("building the index does not panic");
        // A duplicate key stops the indexer, and with it the decoding: its error
        // is the one that explains.
        engine.order_index = index.map_err(SnapshotError::Inconsistent)?;
        let totals = decoded?;
        prefault(&mut engine.orders);
        Ok(totals)
    })
}

/// Decodes `count` records into `engine`'s order table and sends each chunk's keys
/// to the indexing thread.
fn decode_orders(
    r: &mut impl Read,
    engine: &mut RiskEngine,
    count: usize,
    keys: &SyncSender<Vec<(u32, u64)>>,
) -> Result<Totals, SnapshotError> {
    let mut totals = Totals::new(engine);
    let mut buf = vec![0u8; CHUNK_RECORDS.min(count) * RECORD_BYTES];
    while engine.orders.len() < count {
        let n = (count - engine.orders.len()).min(CHUNK_RECORDS);
        let bytes = &mut buf[..n * RECORD_BYTES];
        r.read_exact(bytes)?;
        let mut chunk = Vec::with_capacity(n);
        for b in bytes.chunks_exact(RECORD_BYTES) {
            let b = b.try_into().expect("chunks of RECORD_BYTES");
            let slot = engine.orders.len() as u32;
            let rec = decode_record(slot, b)
                .map_err(|why| SnapshotError::Inconsistent(format!("order {slot}: {why}")))?;
            engine.check_record(&rec, count)?;
            engine
                .validate_record(slot as usize, &rec, &mut totals)
                .map_err(SnapshotError::Inconsistent)?;
            chunk.push((rec.account_idx, rec.cl_ord_id));
            engine.orders.push(rec);
        }
        if keys.send(chunk).is_err() {
            return inconsistent("the index stopped early");
        }
    }
    Ok(totals)
}

/// The idempotency index of the keys that arrive, in table order; every chunk but
/// the last holds [`CHUNK_RECORDS`] keys.
fn build_index(max_orders: usize, chunks: Receiver<Vec<(u32, u64)>>) -> Result<OrderIndex, String> {
    let mut index = OrderIndex::with_records(max_orders);
    let mut seen: Vec<Vec<(u32, u64)>> = Vec::new();
    let mut slot = 0u32;
    let key_of = |seen: &[Vec<(u32, u64)>], r: u32| {
        seen[r as usize / CHUNK_RECORDS][r as usize % CHUNK_RECORDS]
    };
    for chunk in chunks {
        seen.push(chunk);
        let last = seen.len() - 1;
        for i in 0..seen[last].len() {
            let (account_idx, cl_ord_id) = seen[last][i];
            match index.probe_by(account_idx, cl_ord_id, |r| key_of(&seen, r)) {
                Probe::Vacant(at) => index.insert_at(at, account_idx, cl_ord_id, slot),
                Probe::Found(other) => {
                    return Err(format!(
                        "orders {other} and {slot} share account slot {account_idx} and \
                         cl_ord_id {cl_ord_id}"
                    ));
                }
            }
            slot += 1;
        }
    }
    Ok(index)
}

impl RiskEngine {
    /// A decoded record's table indices and links are in range, and its account
    /// slot holds its account.
    fn check_record(&self, rec: &OrderRecord, count: usize) -> Result<(), SnapshotError> {
        let slot = self.orders.len();
        let Some(account) = self.accounts.get(rec.account_idx as usize) else {
            return inconsistent(format!("order {slot}: account slot {}", rec.account_idx));
        };
        if account.id != rec.account {
            return inconsistent(format!("order {slot}: account slot holds {}", account.id));
        }
        let link = |l: u32| l == NIL || (l as usize) < count;
        let pos_ok = if rec.is_open() {
            (rec.pos_idx as usize) < self.positions.len()
        } else {
            rec.pos_idx == NIL || (rec.pos_idx as usize) < self.positions.len()
        };
        if !pos_ok || !link(rec.next) || !link(rec.prev) {
            return inconsistent(format!("order {slot}: position slot or list link"));
        }
        Ok(())
    }
}

/// Writes little-endian fields at a running offset. The offsets are constants once
/// inlined, and the array's length is known, so no write is bounds-checked.
struct Put<'a> {
    out: &'a mut [u8; RECORD_BYTES],
    at: usize,
}

impl Put<'_> {
    #[inline]
    fn bytes<const N: usize>(&mut self, b: [u8; N]) {
        self.out[self.at..self.at + N].copy_from_slice(&b);
        self.at += N;
    }
}

/// Reads little-endian fields at a running offset (as [`Put`], unchecked once inlined).
struct Get<'a> {
    b: &'a [u8; RECORD_BYTES],
    at: usize,
}

impl Get<'_> {
    #[inline]
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut v = [0u8; N];
        v.copy_from_slice(&self.b[self.at..self.at + N]);
        self.at += N;
        v
    }
    #[inline]
    fn u8(&mut self) -> u8 {
        self.bytes::<1>()[0]
    }
    #[inline]
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.bytes())
    }
    #[inline]
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes())
    }
    #[inline]
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.bytes())
    }
    #[inline]
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.bytes())
    }
}

/// Encodes a record into `out` (exactly [`RECORD_BYTES`]). The slot (`order`)
/// is not written: it is the record's position in the table.
///
/// ```text
/// login u32 | account [16] | cl_ord_id u64 | market u8 | code u32 | side u8 | order_type u8
/// | tif u8 | price i64 | qty u64 | sent_price i64 | sent_qty u64 | flags u8 | credit u8
/// | cum u64 | leaves u64 | cum_value i64 | fees_paid i64 | freeze_price i64 | frozen_cash i64
/// | frozen_shares u64 | state u8 | code u16 | detail kind u8 | detail [i64; 3]
/// | pending u8 | pending price i64 | pending qty u64 | confirmation_recorded u8
/// | entered_ns u64 | account_idx u32 | pos_idx u32 | next u32 | prev u32
/// ```
fn encode_record(r: &OrderRecord, out: &mut [u8; RECORD_BYTES]) {
    let mut p = Put { out, at: 0 };
    p.bytes(r.login.to_le_bytes());
    p.bytes(r.account.to_wire());
    p.bytes(r.cl_ord_id.to_le_bytes());
    p.bytes([r.security.market.as_u8()]);
    p.bytes(r.security.code.to_le_bytes());
    p.bytes([r.side.as_u8(), r.order_type.as_u8(), r.tif.as_u8()]);
    p.bytes(r.price.0.to_le_bytes());
    p.bytes(r.qty.0.to_le_bytes());
    p.bytes(r.sent_price.0.to_le_bytes());
    p.bytes(r.sent_qty.0.to_le_bytes());
    p.bytes([r.flags, r.credit.as_u8()]);
    p.bytes(r.cum.0.to_le_bytes());
    p.bytes(r.leaves.0.to_le_bytes());
    p.bytes(r.cum_value.to_le_bytes());
    p.bytes(r.fees_paid.to_le_bytes());
    p.bytes(r.freeze_price.0.to_le_bytes());
    p.bytes(r.frozen_cash.to_le_bytes());
    p.bytes(r.frozen_shares.to_le_bytes());
    let (state, code, detail) = match r.state {
        OrderState::Rejected { code, detail } => (0, code, detail),
        OrderState::PendingVenue => (1, RejectCode(0), RejectDetail::None),
        OrderState::Open => (2, RejectCode(0), RejectDetail::None),
        OrderState::Filled => (3, RejectCode(0), RejectDetail::None),
        OrderState::Canceled => (4, RejectCode(0), RejectDetail::None),
        OrderState::VenueRejected { code } => (5, code, RejectDetail::None),
    };
    p.bytes([state]);
    p.bytes(code.0.to_le_bytes());
    p.bytes([detail.kind()]);
    for v in detail.values() {
        p.bytes(v.to_le_bytes());
    }
    let (pending, price, qty) = match r.pending {
        PendingChange::None => (0, Price::ZERO, Qty::ZERO),
        PendingChange::Cancel => (1, Price::ZERO, Qty::ZERO),
        PendingChange::Replace { price, qty } => (2, price, qty),
    };
    p.bytes([pending]);
    p.bytes(price.0.to_le_bytes());
    p.bytes(qty.0.to_le_bytes());
    p.bytes([u8::from(r.confirmation_recorded)]);
    p.bytes(r.entered_ns.to_le_bytes());
    p.bytes(r.account_idx.to_le_bytes());
    p.bytes(r.pos_idx.to_le_bytes());
    p.bytes(r.next.to_le_bytes());
    p.bytes(r.prev.to_le_bytes());
    debug_assert_eq!(p.at, RECORD_BYTES, "the record layout fills its bytes exactly");
}

/// Decodes the record of table slot `slot` from [`encode_record`]'s bytes,
/// checking every enum, identifier and flag.
fn decode_record(slot: u32, b: &[u8; RECORD_BYTES]) -> Result<OrderRecord, String> {
    let mut g = Get { b, at: 0 };
    let login = g.u32();
    let account = AccountId::from_wire(g.bytes()).map_err(|e| format!("account: {e}"))?;
    let cl_ord_id = g.u64();
    let market = g.u8();
    let code = g.u32();
    let security = protocol::Market::from_u8(market)
        .and_then(|m| SecurityId::new(m, code))
        .ok_or_else(|| format!("security {market}/{code}"))?;
    let [side, order_type, tif] = g.bytes();
    let side = Side::from_u8(side).ok_or("side")?;
    let order_type = OrderType::from_u8(order_type).ok_or("order type")?;
    let tif = TimeInForce::from_u8(tif).ok_or("time in force")?;
    let price = Price(g.i64());
    let qty = Qty(g.u64());
    let sent_price = Price(g.i64());
    let sent_qty = Qty(g.u64());
    let [flags, credit] = g.bytes();
    let credit = CreditTag::from_u8(credit).ok_or("credit tag")?;
    let cum = Qty(g.u64());
    let leaves = Qty(g.u64());
    let cum_value = g.i64();
    let fees_paid = g.i64();
    let freeze_price = Price(g.i64());
    let frozen_cash = g.i64();
    let frozen_shares = g.u64();
    let state = g.u8();
    let reject_code = RejectCode(g.u16());
    let kind = g.u8();
    let values = [g.i64(), g.i64(), g.i64()];
    let detail = RejectDetail::from_wire(kind, values).ok_or("reject detail")?;
    let state = match state {
        0 => OrderState::Rejected { code: reject_code, detail },
        1 => OrderState::PendingVenue,
        2 => OrderState::Open,
        3 => OrderState::Filled,
        4 => OrderState::Canceled,
        5 => OrderState::VenueRejected { code: reject_code },
        _ => return Err(format!("state {state}")),
    };
    let pending_tag = g.u8();
    let pending_price = Price(g.i64());
    let pending_qty = Qty(g.u64());
    let pending = match pending_tag {
        0 => PendingChange::None,
        1 => PendingChange::Cancel,
        2 => PendingChange::Replace { price: pending_price, qty: pending_qty },
        _ => return Err(format!("pending change {pending_tag}")),
    };
    let confirmation_recorded = match g.u8() {
        0 => false,
        1 => true,
        other => return Err(format!("confirmation flag {other}")),
    };
    let entered_ns = g.u64();
    let (account_idx, pos_idx, next, prev) = (g.u32(), g.u32(), g.u32(), g.u32());
    debug_assert_eq!(g.at, RECORD_BYTES, "the record layout fills its bytes exactly");
    Ok(OrderRecord {
        order: OrderRef(slot),
        login,
        account,
        cl_ord_id,
        security,
        side,
        order_type,
        tif,
        price,
        qty,
        sent_price,
        sent_qty,
        flags,
        credit,
        cum,
        leaves,
        cum_value,
        fees_paid,
        freeze_price,
        frozen_cash,
        frozen_shares,
        state,
        pending,
        confirmation_recorded,
        entered_ns,
        account_idx,
        pos_idx,
        next,
        prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::Market;

    fn record(state: OrderState, pending: PendingChange) -> OrderRecord {
        OrderRecord {
            order: OrderRef(7),
            login: 3,
            account: AccountId::new("A-001").unwrap(),
            cl_ord_id: u64::MAX - 5,
            security: SecurityId::new(Market::Szse, 300_750).unwrap(),
            side: Side::Sell,
            order_type: OrderType::MarketBest5Cancel,
            tif: TimeInForce::Ioc,
            price: Price(-1),
            qty: Qty(u64::MAX),
            sent_price: Price(i64::MIN),
            sent_qty: Qty(12_345),
            flags: 0x03,
            credit: CreditTag::ShortSell,
            cum: Qty(100),
            leaves: Qty(200),
            cum_value: 1 << 50,
            fees_paid: 51_000,
            freeze_price: Price(2_000_000),
            frozen_cash: -3,
            frozen_shares: 400,
            state,
            pending,
            confirmation_recorded: true,
            entered_ns: 1_728_351_000_000_000_000,
            account_idx: 9,
            pos_idx: NIL,
            next: 11,
            prev: NIL,
        }
    }

    #[test]
    fn every_record_shape_round_trips() {
        let detail = RejectDetail::PriceBand { price: Price(5), lower: Price(1), upper: Price(4) };
        let states = [
            OrderState::Rejected { code: RejectCode(3007), detail },
            OrderState::Rejected { code: RejectCode(4001), detail: RejectDetail::None },
            OrderState::PendingVenue,
            OrderState::Open,
            OrderState::Filled,
            OrderState::Canceled,
            OrderState::VenueRejected { code: RejectCode(5003) },
        ];
        let pendings = [
            PendingChange::None,
            PendingChange::Cancel,
            PendingChange::Replace { price: Price(99_900), qty: Qty(700) },
        ];
        for state in states {
            for pending in pendings {
                let r = record(state, pending);
                let mut bytes = [0u8; RECORD_BYTES];
                encode_record(&r, &mut bytes);
                assert_eq!(decode_record(7, &bytes), Ok(r));
            }
        }
    }

    #[test]
    fn bad_enum_bytes_are_refused() {
        let r = record(OrderState::Open, PendingChange::None);
        let mut good = [0u8; RECORD_BYTES];
        encode_record(&r, &mut good);
        // Market, side, state and pending tags, and the confirmation flag.
        for (at, value) in [(28, 9), (33, 0), (33, 3), (126, 6), (154, 3), (171, 2)] {
            let mut bad = good;
            bad[at] = value;
            assert!(decode_record(7, &bad).is_err(), "byte {at} = {value}");
        }
        let mut bad = good;
        bad[4..20].fill(0);
        assert!(decode_record(7, &bad).is_err(), "an empty account id");
    }
}
