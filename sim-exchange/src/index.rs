//! Order id → pool slot, an open-addressing table sized once at start-up.
//!
//! Linear probing over a power-of-two table kept at most half full, the id's low
//! bits as its home bucket (ids are dense and increasing), and backward-shift deletion (no tombstones, so
//! probe lengths do not decay over a long day).

use protocol::OrderId;

const EMPTY: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Entry {
    key: OrderId,
    slot: u32,
}

/// The id index.
#[derive(Clone, Debug)]
pub(crate) struct IdIndex {
    entries: Vec<Entry>,
    mask: usize,
    len: usize,
}

impl IdIndex {
    /// A table for up to `capacity` ids.
    pub(crate) fn with_capacity(capacity: usize) -> IdIndex {
        let size = (capacity.max(8) * 2).next_power_of_two();
        IdIndex { entries: vec![Entry { key: 0, slot: EMPTY }; size], mask: size - 1, len: 0 }
    }

    /// The key's home bucket: the id's low bits. The gateway hands out dense,
    /// increasing ids, so live orders land in neighbouring buckets (cache lines
    /// shared by orders entered together) and never collide until the table wraps;
    /// a multiplicative hash would scatter them over the whole table, one cache
    /// miss per lookup once the table outgrows the cache.
    #[inline]
    fn home(&self, key: OrderId) -> usize {
        key as usize & self.mask
    }

    /// The slot of `key`.
    #[inline]
    pub(crate) fn get(&self, key: OrderId) -> Option<u32> {
        let mut i = self.home(key);
        loop {
            let e = self.entries[i];
            if e.slot == EMPTY {
                return None;
            }
            if e.key == key {
                return Some(e.slot);
            }
            i = (i + 1) & self.mask;
        }
    }

    /// Adds `key` (not present; the table has room by construction).
    #[inline]
    pub(crate) fn insert(&mut self, key: OrderId, slot: u32) {
        debug_assert!(self.len * 2 < self.entries.len(), "id index sized for max_orders");
        let mut i = self.home(key);
        while self.entries[i].slot != EMPTY {
            debug_assert!(self.entries[i].key != key, "order id already indexed");
            i = (i + 1) & self.mask;
        }
        self.entries[i] = Entry { key, slot };
        self.len += 1;
    }

    /// Removes `key`, which must be present.
    #[inline]
    pub(crate) fn remove(&mut self, key: OrderId) {
        let mut i = self.home(key);
        loop {
            let e = self.entries[i];
            assert!(e.slot != EMPTY, "removing an order id that is not indexed");
            if e.key == key {
                break;
            }
            i = (i + 1) & self.mask;
        }
        // Backward shift: pull later entries of the probe run into the hole.
        let mut hole = i;
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            let e = self.entries[j];
            if e.slot == EMPTY {
                break;
            }
            let home = self.home(e.key);
            // `e` may move into the hole when its home is not cyclically in (hole, j].
            let dist_home = j.wrapping_sub(home) & self.mask;
            let dist_hole = j.wrapping_sub(hole) & self.mask;
            if dist_home >= dist_hole {
                self.entries[hole] = e;
                hole = j;
            }
        }
        self.entries[hole].slot = EMPTY;
        self.len -= 1;
    }

    /// Ids indexed.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every (id, slot) pair, for validation.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (OrderId, u32)> + '_ {
        self.entries.iter().filter(|e| e.slot != EMPTY).map(|e| (e.key, e.slot))
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.entries.len() * core::mem::size_of::<Entry>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn agrees_with_a_hash_map_under_churn() {
        let mut index = IdIndex::with_capacity(512);
        let mut model = HashMap::new();
        let mut rng = testkit::Rng::new(7);
        for step in 0..200_000u32 {
            let x = rng.next_u64();
            // Ids drawn from a small space so inserts and removes collide often.
            let key = x % 700;
            if let Some(slot) = model.remove(&key) {
                assert_eq!(index.get(key), Some(slot));
                index.remove(key);
            } else if model.len() < 512 {
                index.insert(key, step);
                model.insert(key, step);
            }
            assert_eq!(index.get(key), model.get(&key).copied());
        }
        assert_eq!(index.len(), model.len());
        for (k, v) in &model {
            assert_eq!(index.get(*k), Some(*v));
        }
    }
}
