//! The books' part of an exchange snapshot: what [`FastMatcher::build`] cannot
//! derive from the configuration.
//!
//! Only occupied price levels and live order slots are written, so a snapshot's
//! size follows the orders resting, not the pools' capacity. The free-slot stack
//! is written as it is, so that later orders take the same slots; so is each
//! side's stack of free overflow levels, with the price of each occupied one. The
//! level bitsets, the sorted overflow lists, each side's best level and the id
//! index are rebuilt from the levels and the slots; free slots come back blank.

use serde::{Deserialize, Serialize};

use super::{FastMatcher, HalfBook, LevelQueue, NIL, Slot};

/// The books' state: per book, each side (bids, then asks); the live slots in
/// ascending slot order; the free-slot stack from bottom to top.
#[derive(Serialize, Deserialize)]
pub(crate) struct BooksState {
    books: Vec<[HalfState; 2]>,
    live: Vec<(u32, Slot)>,
    free: Vec<u32>,
}

/// One side: its occupied levels in ascending level order with their prices, and
/// its free overflow levels from the bottom of the stack to the top.
#[derive(Serialize, Deserialize)]
struct HalfState {
    levels: Vec<(u32, i64, LevelQueue)>,
    over_free: Vec<u32>,
}

fn half_state(half: &HalfBook) -> HalfState {
    HalfState {
        levels: half
            .levels
            .iter()
            .enumerate()
            .filter(|(_, lv)| lv.head != NIL)
            .map(|(li, lv)| (li as u32, half.price_of(li as u32), *lv))
            .collect(),
        over_free: half.over_free.clone(),
    }
}

impl FastMatcher {
    /// The state to snapshot.
    pub(crate) fn snapshot_state(&self) -> BooksState {
        BooksState {
            books: self.books.iter().map(|b| [half_state(&b.bids), half_state(&b.asks)]).collect(),
            live: (0u32..)
                .zip(&self.slots)
                .filter(|(_, slot)| slot.live)
                .map(|(s, slot)| (s, *slot))
                .collect(),
            free: self.free.clone(),
        }
    }

    /// Puts a snapshot's state into books fresh from [`FastMatcher::build`] with the
    /// snapshot's configuration. Checks that every index and link stays inside its
    /// array, so that [`Matcher::validate`](crate::Matcher::validate) (which the
    /// caller runs next) can check the rest without panicking.
    pub(crate) fn restore_state(&mut self, state: BooksState) -> Result<(), String> {
        let BooksState { books, live, free } = state;
        let slots = self.slots.len();
        if books.len() != self.books.len() {
            return Err(format!("{} books for {} instruments", books.len(), self.books.len()));
        }
        for (inst, (book, [bids, asks])) in self.books.iter_mut().zip(books).enumerate() {
            restore_half(&mut book.bids, &bids, slots)
                .map_err(|e| format!("book {inst} bids: {e}"))?;
            restore_half(&mut book.asks, &asks, slots)
                .map_err(|e| format!("book {inst} asks: {e}"))?;
        }
        let link = |l: u32| l == NIL || (l as usize) < slots;
        let mut last = None;
        for (s, slot) in live {
            if last.is_some_and(|l| s <= l) || s as usize >= slots {
                return Err(format!("live slot {s} out of order or range"));
            }
            last = Some(s);
            let levels = self.books.get(slot.inst as usize).map(|b| b.half(slot.side).levels.len());
            let placed = levels.is_some_and(|n| (slot.level as usize) < n);
            if !slot.live || !placed || !link(slot.prev) || !link(slot.next) {
                return Err(format!("live slot {s}: {slot:?}"));
            }
            if self.index.get(slot.order_id).is_some() {
                return Err(format!("order {} rests twice", slot.order_id));
            }
            self.index.insert(slot.order_id, s);
            self.slots[s as usize] = slot;
        }
        let live = slots - self.index.len();
        if free.len() != live {
            return Err(format!("{} free slots, {live} not live", free.len()));
        }
        // Each free entry must name a slot that is not live, once.
        let mut listed = vec![false; slots];
        for &s in &free {
            let ok = (s as usize) < slots && !self.slots[s as usize].live && !listed[s as usize];
            if !ok {
                return Err(format!("free slot {s} is out of range, live or listed twice"));
            }
            listed[s as usize] = true;
        }
        self.free.clear();
        self.free.extend_from_slice(&free);
        Ok(())
    }
}

/// Fills a side's levels, bitset, overflow lists and best level from its state.
fn restore_half(half: &mut HalfBook, state: &HalfState, slots: usize) -> Result<(), String> {
    let link = |l: u32| (l as usize) < slots;
    let pool = half.levels.len() - half.dense as usize;
    if state.over_free.len() > pool {
        return Err(format!("{} free overflow levels for a pool of {pool}", state.over_free.len()));
    }
    half.over_free.clear();
    half.over_free.extend_from_slice(&state.over_free);
    let mut last = None;
    for &(li, price, lv) in &state.levels {
        if last.is_some_and(|l| li <= l) || li as usize >= half.levels.len() {
            return Err(format!("level {li} out of order or range"));
        }
        last = Some(li);
        if !link(lv.head) || !link(lv.tail) {
            return Err(format!("level {li}: {lv:?}"));
        }
        half.levels[li as usize] = lv;
        if li < half.dense {
            if price != half.price_of(li) {
                return Err(format!("level {li} has price {price}"));
            }
            half.bits.set(li as usize);
        } else {
            // A price inside the array, or listed twice, is caught here or by
            // `validate` (which the caller runs next).
            let inside = price >= half.lower && price <= half.dense_upper();
            half.over_price[(li - half.dense) as usize] = price;
            let list = half.list_for(price);
            let Err(pos) = half.position(list, price) else {
                return Err(format!("overflow price {price} listed twice"));
            };
            if inside || half.above.len() + half.below.len() >= pool {
                return Err(format!("overflow level {li} at {price}"));
            }
            if price > half.dense_upper() {
                half.above.insert(pos, li);
            } else {
                half.below.insert(pos, li);
            }
        }
    }
    half.best = NIL;
    for &(li, _, _) in &state.levels {
        if half.best == NIL || half.better(li, half.best) {
            half.best = li;
        }
    }
    Ok(())
}
