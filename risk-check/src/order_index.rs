//! The idempotency index: (account, cl_ord_id) → order-table slot.
//!
//! One open-addressing table of 4-byte slots, sized at start-up to four times the
//! order table (never more than a quarter full) and cleared at the day roll. A slot
//! holds a record index in its low bits and a few bits of the key's hash (the tag)
//! in the rest; a probe compares tags first and reads the record (which holds the
//! key) only when they match, so looking up a new cl_ord_id reads the table and,
//! but for a one-in-thousands tag collision, no record. Records are never removed
//! within a day, so there are no tombstones.
//!
//! Layout for locality: the sixteen cl_ord_ids `16k..16k+15` of one account share
//! one 64-byte line (placed by hashing the account and `k`; the id's low four bits
//! pick the slot). Clients mostly number an account's orders in sequence, so
//! fifteen of every sixteen new orders find their line already in cache. That
//! matters because the table outgrows the cache on a busy day (4 MB at the default
//! 262,144 orders) and a random read from memory, with its page walk, costs
//! 150-350 ns on a virtual machine: more than all the checks together. Ids in any
//! other pattern still spread evenly, one line each.
//!
//! Why not `HashMap<(u32, u64), u32>`: its buckets hold the 16-byte key with no
//! locality, so it is ~13 MB at the default size and every new order costs two
//! cache misses in it.

use crate::order::OrderRecord;

const EMPTY: u32 = u32::MAX;
const K1: u64 = 0x51_7c_c1_b7_27_22_0a_95;
const K2: u64 = 0x9e_37_79_b9_7f_4a_7c_15;
/// Slots per 64-byte line.
const GROUP: u64 = 16;

/// The index; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct OrderIndex {
    slots: Vec<u32>,
    mask: usize,
    /// Bits of a slot that hold the record index; the rest hold the tag.
    index_bits: u32,
    len: usize,
}

/// Where a key is, or where it would go.
pub(crate) enum Probe {
    /// The key's record.
    Found(u32),
    /// The empty slot the key would take.
    Vacant(usize),
}

/// The key's hash: the low 32 bits place it (its group's line, plus the id's low
/// bits for the slot), the high 32 bits give the tag.
#[inline]
fn hash(account_idx: u32, cl_ord_id: u64) -> u64 {
    let group = cl_ord_id / GROUP;
    let h = ((u64::from(account_idx).wrapping_mul(K1)).rotate_left(26) ^ group).wrapping_mul(K2);
    let h = h ^ (h >> 29);
    let low = cl_ord_id % GROUP;
    let place = (h as u32 as u64).wrapping_mul(GROUP) | low;
    // The id's low bits go into the tag too, so neighbours in a line never share one.
    let tag = (h >> 32).wrapping_add(low.wrapping_mul(K1 >> 32));
    (tag << 32) | (place & 0xffff_ffff)
}

impl OrderIndex {
    /// An index for up to `records` keys (fewer than 2^31).
    pub fn with_records(records: usize) -> OrderIndex {
        assert!(records < (1 << 31), "record indices must leave room for a tag bit");
        let slots = (records.max(GROUP as usize) * 4).next_power_of_two();
        // Enough bits for every record index and the EMPTY marker.
        let index_bits = (usize::BITS - records.leading_zeros()).max(1);
        OrderIndex { slots: vec![EMPTY; slots], mask: slots - 1, index_bits, len: 0 }
    }

    #[inline]
    fn tag_of(&self, h: u64) -> u32 {
        // The tag's top bit is cleared so that no tagged slot can equal EMPTY.
        (((h >> 32) as u32) << self.index_bits) & (u32::MAX >> 1)
    }

    /// Finds the key, or the slot it would take.
    #[inline]
    pub fn probe(&self, account_idx: u32, cl_ord_id: u64, records: &[OrderRecord]) -> Probe {
        self.probe_by(account_idx, cl_ord_id, |r| {
            let rec = &records[r as usize];
            (rec.account_idx, rec.cl_ord_id)
        })
    }

    /// [`OrderIndex::probe`] with the keys of the records already indexed given by
    /// `key_of` (record index to its key), for building the index away from the
    /// records.
    #[inline]
    pub fn probe_by(
        &self,
        account_idx: u32,
        cl_ord_id: u64,
        key_of: impl Fn(u32) -> (u32, u64),
    ) -> Probe {
        let h = hash(account_idx, cl_ord_id);
        let tag = self.tag_of(h);
        let tag_mask = !((1u32 << self.index_bits) - 1);
        let mut i = h as usize & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == EMPTY {
                return Probe::Vacant(i);
            }
            if slot & tag_mask == tag {
                let r = slot & !tag_mask;
                if key_of(r) == (account_idx, cl_ord_id) {
                    return Probe::Found(r);
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The key's record, if recorded.
    #[inline]
    pub fn get(&self, account_idx: u32, cl_ord_id: u64, records: &[OrderRecord]) -> Option<u32> {
        match self.probe(account_idx, cl_ord_id, records) {
            Probe::Found(r) => Some(r),
            Probe::Vacant(_) => None,
        }
    }

    /// Fills the vacant slot `at` (from [`OrderIndex::probe`] of the same key, with
    /// no insert in between) with record `r`.
    #[inline]
    pub fn insert_at(&mut self, at: usize, account_idx: u32, cl_ord_id: u64, r: u32) {
        debug_assert_eq!(self.slots[at], EMPTY, "insert_at a vacant slot only");
        debug_assert!(
            self.len < self.slots.len() / 4,
            "the index is sized at four times the table"
        );
        debug_assert!(r < (1 << self.index_bits), "record index fits its bits");
        self.slots[at] = self.tag_of(hash(account_idx, cl_ord_id)) | r;
        self.len += 1;
    }

    /// Keys recorded.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Empties the index (the day roll).
    pub fn clear(&mut self) {
        self.slots.fill(EMPTY);
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::OrderRecord;
    use protocol::codec::NewOrder;
    use protocol::{
        AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
    };

    fn record(slot: u32, account_idx: u32, cl_ord_id: u64) -> OrderRecord {
        let o = NewOrder {
            cl_ord_id,
            account: AccountId::new("A").unwrap(),
            security: SecurityId::new(Market::Sse, 600_000).unwrap(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Day,
            price: Price(100_000),
            qty: Qty(100),
            flags: 0,
            credit: CreditTag::Cash,
        };
        OrderRecord::from_new_order(slot, 0, account_idx, &o, 0)
    }

    #[test]
    fn finds_every_key_and_only_those() {
        let capacity = 5_000;
        let mut index = OrderIndex::with_records(capacity);
        let mut records = Vec::new();
        // Sequential per account, strided, and scattered ids, all mixed.
        let keys = (0..capacity as u64).map(|i| match i % 3 {
            0 => ((i % 7) as u32, i / 3),
            1 => ((i % 11) as u32, 1_000_000 + i * 16),
            _ => (3, i.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        });
        for (account, cl) in keys.clone() {
            let Probe::Vacant(at) = index.probe(account, cl, &records) else {
                panic!("dup {account} {cl}")
            };
            let r = records.len() as u32;
            records.push(record(r, account, cl));
            index.insert_at(at, account, cl, r);
        }
        for (r, (account, cl)) in keys.enumerate() {
            assert_eq!(index.get(account, cl, &records), Some(r as u32));
            assert_eq!(index.get(account + 100, cl, &records), None);
        }
        assert_eq!(index.len(), capacity);
        index.clear();
        assert_eq!(index.get(0, 0, &records), None);
    }
}
