//! A tiny FxHash-style hasher for the engine's start-up-sized hash maps.
//!
//! The keys are small integers and fixed-width ids chosen by trusted
//! configuration or by the engine itself (account indices, cl_ord_ids, security
//! codes), and every map is sized at start-up, so the engine does not need
//! SipHash's flooding resistance and cannot afford its ~20 ns per lookup. This is
//! the rotate-xor-multiply step used by rustc (`rustc-hash`), written out here so
//! the crate keeps its dependency list short.
//!
//! A client controls `cl_ord_id`, so a hostile client could in principle aim ids at
//! one bucket chain of its own account; the idempotency key mixes the account
//! index in and `finish` applies a final avalanche, and the map's capacity is a
//! hard limit, so the worst case is a slower reject, never a reallocation.

use core::hash::{BuildHasher, Hasher};
use std::collections::{HashMap, HashSet};

/// The multiplier from `rustc-hash` (derived from the golden ratio, odd).
const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// An FxHash-style hasher: for each word, `hash = (hash.rotl(5) ^ word) * SEED`.
#[derive(Clone, Copy, Default, Debug)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // hashbrown takes its control byte from the top 7 bits and the bucket from
        // the low bits; one fold spreads the multiply's high bits into both.
        self.hash ^ (self.hash >> 29)
    }
}

/// Builds [`FxHasher`]s; zero-sized, so maps carry no per-map random state.
#[derive(Clone, Copy, Default, Debug)]
pub struct FxBuildHasher;

impl BuildHasher for FxBuildHasher {
    type Hasher = FxHasher;

    #[inline]
    fn build_hasher(&self) -> FxHasher {
        FxHasher::default()
    }
}

/// A `HashMap` with the Fx hasher.
pub type FxHashMap<K, V> = HashMap<K, V, FxBuildHasher>;
/// A `HashSet` with the Fx hasher.
pub type FxHashSet<K> = HashSet<K, FxBuildHasher>;

/// A map with room for `capacity` entries reserved now, so inserts up to that many
/// never reallocate.
pub fn map_with_capacity<K, V>(capacity: usize) -> FxHashMap<K, V> {
    HashMap::with_capacity_and_hasher(capacity, FxBuildHasher)
}

/// A set with room for `capacity` entries reserved now.
pub fn set_with_capacity<K>(capacity: usize) -> FxHashSet<K> {
    HashSet::with_capacity_and_hasher(capacity, FxBuildHasher)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::hash::Hash;

    fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        FxBuildHasher.hash_one(value)
    }

    #[test]
    fn distinct_small_keys_hash_apart() {
        let mut seen = std::collections::BTreeSet::new();
        for account in 0u32..64 {
            for cl_ord_id in 0u64..64 {
                seen.insert(hash_of(&(account, cl_ord_id)));
            }
        }
        assert_eq!(seen.len(), 64 * 64);
    }

    #[test]
    fn byte_writes_cover_the_tail() {
        assert_ne!(hash_of(&[1u8; 9][..]), hash_of(&[1u8; 8][..]));
        assert_eq!(hash_of(&"A001"), hash_of(&"A001"));
    }

    #[test]
    fn reserved_map_keeps_its_capacity() {
        let mut map: FxHashMap<u64, u32> = map_with_capacity(1_000);
        let capacity = map.capacity();
        for i in 0..1_000 {
            map.insert(i, i as u32);
        }
        assert_eq!(map.capacity(), capacity, "inserts within the reservation must not grow");
    }
}
