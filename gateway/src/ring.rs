//! A bounded single-producer single-consumer ring: the only way the gateway's
//! threads hand work to each other.
//!
//! Capacity is a power of two fixed at start-up. `push` never blocks and never
//! allocates: a full ring returns the value so the caller can apply back-pressure.
//!
//! Each slot carries its own sequence number beside the value (Vyukov's bounded
//! queue, specialised to one producer and one consumer): slot `i` holds position
//! `p` (with `p & mask == i`) when its sequence is `p + 1`, and is free for position
//! `p` when its sequence is `p`. The consumer polls the slot it will read next, so
//! a hand-over moves one cache line, the slot, instead of the published index and
//! then the slot; neither side reads an index the other writes. The head and tail
//! counters are published too, only for depth gauges and for dropping what is left
//! in flight.
//!
//! This module holds the gateway's `unsafe` code; each block says why it is sound.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

struct Slot<T> {
    /// `p` while free for position `p`; `p + 1` once it holds position `p`.
    seq: AtomicUsize,
    value: UnsafeCell<MaybeUninit<T>>,
}

struct Shared<T> {
    slots: Box<[Slot<T>]>,
    mask: usize,
    /// Positions consumed so far (published after each pop, for gauges).
    head: CachePadded<AtomicUsize>,
    /// Positions produced so far (published after each push, for gauges).
    tail: CachePadded<AtomicUsize>,
}

// SAFETY: a slot's value is handed from exactly one producer to exactly one
// consumer through the slot's `seq` with release/acquire ordering; a value is
// never accessed by both sides at once (see push/pop). Values cross threads,
// hence `T: Send`.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; the shared state owns `T` values only while they are in flight.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let head = *self.head.get_mut();
        let tail = *self.tail.get_mut();
        for p in head..tail {
            // SAFETY: positions head..tail were written by push and not yet read by
            // pop (both counters are published after the slot changes hands, and the
            // last `Arc` drop orders them before this); we have `&mut self`, so no
            // other thread can touch them.
            unsafe { (*self.slots[p & self.mask].value.get()).assume_init_drop() };
        }
    }
}

/// The producing end of a ring.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    tail: usize,
}

/// The consuming end of a ring.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    head: usize,
}

impl<T> std::fmt::Debug for Producer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &(self.shared.mask + 1))
            .field("tail", &self.tail)
            .finish()
    }
}

impl<T> std::fmt::Debug for Consumer<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &(self.shared.mask + 1))
            .field("head", &self.head)
            .finish()
    }
}

/// A ring of at least `capacity` slots (rounded up to a power of two, minimum 2).
pub fn ring<T: Send>(capacity: usize) -> (Producer<T>, Consumer<T>) {
    let capacity = capacity.max(2).next_power_of_two();
    let slots: Box<[Slot<T>]> = (0..capacity)
        .map(|i| Slot { seq: AtomicUsize::new(i), value: UnsafeCell::new(MaybeUninit::uninit()) })
        .collect();
    let shared = Arc::new(Shared {
        slots,
        mask: capacity - 1,
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
    });
    (Producer { shared: Arc::clone(&shared), tail: 0 }, Consumer { shared, head: 0 })
}

impl<T: Send> Producer<T> {
    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// True when a push would succeed now.
    #[inline]
    pub fn has_room(&mut self) -> bool {
        self.shared.slots[self.tail & self.shared.mask].seq.load(Ordering::Acquire) == self.tail
    }

    /// Appends `value`, or gives it back when the ring is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        let slot = &self.shared.slots[self.tail & self.shared.mask];
        if slot.seq.load(Ordering::Acquire) != self.tail {
            return Err(value);
        }
        // SAFETY: the slot's sequence is `tail`: the consumer has finished with the
        // value it held a lap ago (it moved it out before publishing this sequence
        // with Release, which we Acquired), and no other producer exists. The
        // consumer will not read it until we publish `tail + 1` below.
        unsafe { (*slot.value.get()).write(value) };
        self.tail += 1;
        slot.seq.store(self.tail, Ordering::Release);
        self.shared.tail.store(self.tail, Ordering::Relaxed);
        Ok(())
    }

    /// Items in flight (approximate while the consumer runs): for depth gauges.
    pub fn len(&self) -> usize {
        self.tail.saturating_sub(self.shared.head.load(Ordering::Relaxed))
    }

    /// True when nothing is in flight (approximate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Send> Consumer<T> {
    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// True when a pop would return a value now.
    #[inline]
    pub fn has_items(&mut self) -> bool {
        self.shared.slots[self.head & self.shared.mask].seq.load(Ordering::Acquire) == self.head + 1
    }

    /// Takes the oldest value, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        let slot = &self.shared.slots[self.head & self.shared.mask];
        if slot.seq.load(Ordering::Acquire) != self.head + 1 {
            return None;
        }
        // SAFETY: the slot's sequence is `head + 1`: the producer wrote the value for
        // position `head` before publishing that with Release (we Acquired it) and
        // will not touch the slot again until we publish it free; reading moves the
        // value out, and the slot is free for the next lap once we publish
        // `head + capacity`.
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        slot.seq.store(self.head + self.shared.mask + 1, Ordering::Release);
        self.head += 1;
        self.shared.head.store(self.head, Ordering::Relaxed);
        Some(value)
    }

    /// Items waiting (approximate while the producer runs): for depth gauges.
    pub fn len(&self) -> usize {
        self.shared.tail.load(Ordering::Relaxed).saturating_sub(self.head)
    }

    /// True when nothing is waiting (approximate).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_and_full() {
        let (mut tx, mut rx) = ring::<u32>(3);
        assert_eq!(tx.capacity(), 4);
        for i in 0..4 {
            tx.push(i).unwrap();
        }
        assert_eq!(tx.push(9), Err(9));
        assert_eq!(rx.pop(), Some(0));
        tx.push(4).unwrap();
        let got: Vec<u32> = std::iter::from_fn(|| rx.pop()).collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
        assert_eq!(rx.pop(), None);
    }

    #[test]
    fn room_items_and_depth_over_many_laps() {
        let (mut tx, mut rx) = ring::<u64>(4);
        let mut next_in = 0;
        let mut next_out = 0;
        for round in 0..1_000u64 {
            // Fill by a varying amount, then drain by another, crossing laps.
            for _ in 0..(round % 5) {
                let room = tx.has_room();
                assert_eq!(room, tx.push(next_in).is_ok(), "has_room agrees with push");
                if room {
                    next_in += 1;
                }
            }
            assert_eq!(tx.len(), (next_in - next_out) as usize);
            assert_eq!(rx.len(), (next_in - next_out) as usize);
            for _ in 0..(round % 3) {
                let items = rx.has_items();
                match rx.pop() {
                    Some(v) => {
                        assert!(items);
                        assert_eq!(v, next_out);
                        next_out += 1;
                    }
                    None => assert!(!items),
                }
            }
        }
        assert!(next_in > 1_000, "many laps of four slots: {next_in}");
    }

    #[test]
    fn values_left_in_flight_are_dropped() {
        let marker = Arc::new(());
        {
            let (mut tx, _rx) = ring::<Arc<()>>(8);
            for _ in 0..5 {
                tx.push(Arc::clone(&marker)).unwrap();
            }
            assert_eq!(Arc::strong_count(&marker), 6);
        }
        assert_eq!(Arc::strong_count(&marker), 1);
    }

    #[test]
    fn values_left_in_flight_after_laps_in_two_threads_are_dropped() {
        let marker = Arc::new(());
        let (mut tx, mut rx) = ring::<Arc<()>>(8);
        let m = Arc::clone(&marker);
        let producer = std::thread::spawn(move || {
            for _ in 0..10_000 {
                let mut v = Arc::clone(&m);
                while let Err(back) = tx.push(v) {
                    v = back;
                    std::thread::yield_now();
                }
            }
            tx
        });
        let mut taken = 0;
        while taken < 9_995 {
            if rx.pop().is_some() {
                taken += 1;
            } else {
                std::thread::yield_now();
            }
        }
        let tx = producer.join().unwrap();
        // Five still in flight, plus the producer thread's clone gone with it.
        assert_eq!(Arc::strong_count(&marker), 1 + 5);
        drop((tx, rx));
        assert_eq!(Arc::strong_count(&marker), 1);
    }

    #[test]
    fn two_threads_see_every_value_once_in_order() {
        const N: u64 = 200_000;
        let (mut tx, mut rx) = ring::<u64>(64);
        let producer = std::thread::spawn(move || {
            for i in 0..N {
                let mut v = i;
                loop {
                    match tx.push(v) {
                        Ok(()) => break,
                        Err(back) => {
                            v = back;
                            std::thread::yield_now();
                        }
                    }
                }
            }
        });
        let mut expected = 0;
        while expected < N {
            match rx.pop() {
                Some(v) => {
                    assert_eq!(v, expected);
                    expected += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
        assert_eq!(rx.pop(), None);
    }
}
