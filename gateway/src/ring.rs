//! A bounded single-producer single-consumer ring: the only way the gateway's
//! threads hand work to each other.
//!
//! Capacity is a power of two fixed at start-up. `push` never blocks and never
//! allocates: a full ring returns the value so the caller can apply back-pressure.
//! Each side caches the other side's index and only re-reads the shared atomic when
//! the cache says full/empty, so a hop costs one cache-line transfer in the steady
//! state (the LMAX / Rigtorp design).
//!
//! This module holds the gateway's `unsafe` code; each block says why it is sound.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

struct Shared<T> {
    slots: Box<[UnsafeCell<MaybeUninit<T>>]>,
    mask: usize,
    /// Next slot the consumer reads (monotonic, wraps via `mask`).
    head: CachePadded<AtomicUsize>,
    /// Next slot the producer writes (monotonic, wraps via `mask`).
    tail: CachePadded<AtomicUsize>,
}

// SAFETY: slots are handed from exactly one producer to exactly one consumer with
// release/acquire ordering on `tail` and `head`; a slot is never accessed by both
// sides at once (see push/pop). Values cross threads, hence `T: Send`.
unsafe impl<T: Send> Sync for Shared<T> {}
// SAFETY: as above; the shared state owns `T` values only while they are in flight.
unsafe impl<T: Send> Send for Shared<T> {}

impl<T> Drop for Shared<T> {
    fn drop(&mut self) {
        let head = *self.head.get_mut();
        let tail = *self.tail.get_mut();
        for i in head..tail {
            // SAFETY: slots in head..tail were written by push and not yet read by
            // pop; we have `&mut self`, so no other thread can touch them.
            unsafe { (*self.slots[i & self.mask].get()).assume_init_drop() };
        }
    }
}

/// The producing end of a ring.
pub struct Producer<T> {
    shared: Arc<Shared<T>>,
    tail: usize,
    cached_head: usize,
}

/// The consuming end of a ring.
pub struct Consumer<T> {
    shared: Arc<Shared<T>>,
    head: usize,
    cached_tail: usize,
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
    let slots: Box<[UnsafeCell<MaybeUninit<T>>]> =
        (0..capacity).map(|_| UnsafeCell::new(MaybeUninit::uninit())).collect();
    let shared = Arc::new(Shared {
        slots,
        mask: capacity - 1,
        head: CachePadded::new(AtomicUsize::new(0)),
        tail: CachePadded::new(AtomicUsize::new(0)),
    });
    (
        Producer { shared: Arc::clone(&shared), tail: 0, cached_head: 0 },
        Consumer { shared, head: 0, cached_tail: 0 },
    )
}

impl<T: Send> Producer<T> {
    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.shared.mask + 1
    }

    /// True when a push would succeed now.
    pub fn has_room(&mut self) -> bool {
        if self.tail - self.cached_head < self.capacity() {
            return true;
        }
        self.cached_head = self.shared.head.load(Ordering::Acquire);
        self.tail - self.cached_head < self.capacity()
    }

    /// Appends `value`, or gives it back when the ring is full.
    #[inline]
    pub fn push(&mut self, value: T) -> Result<(), T> {
        if !self.has_room() {
            return Err(value);
        }
        let slot = &self.shared.slots[self.tail & self.shared.mask];
        // SAFETY: `tail - head < capacity`, so the consumer has finished with this
        // slot (it published `head` past it with Release, which we Acquired), and no
        // other producer exists. The consumer will not read it until we publish
        // `tail + 1` below.
        unsafe { (*slot.get()).write(value) };
        self.tail += 1;
        self.shared.tail.store(self.tail, Ordering::Release);
        Ok(())
    }

    /// Items in flight (approximate while the consumer runs): for depth gauges.
    pub fn len(&self) -> usize {
        self.tail - self.shared.head.load(Ordering::Relaxed)
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
        if self.head != self.cached_tail {
            return true;
        }
        self.cached_tail = self.shared.tail.load(Ordering::Acquire);
        self.head != self.cached_tail
    }

    /// Takes the oldest value, if any.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if !self.has_items() {
            return None;
        }
        let slot = &self.shared.slots[self.head & self.shared.mask];
        // SAFETY: `head < tail` as published by the producer with Release (we
        // Acquired it), so the slot holds an initialised value that the producer no
        // longer touches; reading moves it out and the slot becomes free once we
        // publish `head + 1`.
        let value = unsafe { (*slot.get()).assume_init_read() };
        self.head += 1;
        self.shared.head.store(self.head, Ordering::Release);
        Some(value)
    }

    /// Items waiting (approximate while the producer runs): for depth gauges.
    pub fn len(&self) -> usize {
        self.shared.tail.load(Ordering::Relaxed) - self.head
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
