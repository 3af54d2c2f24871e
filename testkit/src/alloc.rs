//! A global allocator that counts, so a test can prove a path allocates nothing.
//!
//! A test binary declares it itself (the allocator is per binary):
//!
//! ```text
//! #[global_allocator]
//! static A: testkit::Counting = testkit::Counting::new();
//! ```
//!
//! Two counts: every thread's ([`Counting::allocations`], for a path that crosses
//! threads) and the calling thread's ([`thread_allocations`], which the test
//! harness's own threads cannot disturb).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

thread_local! {
    /// Allocations made by this thread. A const-initialised Cell needs no lazy
    /// set-up or destructor, so touching it inside the allocator cannot recurse.
    static THREAD_ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// Counts allocations and reallocations, then defers to the system allocator.
#[derive(Debug)]
pub struct Counting {
    total: AtomicU64,
}

impl Counting {
    /// A counter at zero (for a `static`).
    pub const fn new() -> Counting {
        Counting { total: AtomicU64::new(0) }
    }

    /// Allocations and reallocations by every thread since start.
    pub fn allocations(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    fn count(&self) {
        self.total.fetch_add(1, Ordering::Relaxed);
        // try_with: a thread being torn down has no slot left; its count is lost,
        // which only matters to that thread.
        let _ = THREAD_ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }
}

impl Default for Counting {
    fn default() -> Self {
        Counting::new()
    }
}

/// Allocations and reallocations made by the calling thread since it started
/// (counted only while a [`Counting`] is the global allocator).
pub fn thread_allocations() -> u64 {
    THREAD_ALLOCATIONS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's own arguments, so
// the allocator contract is `System`'s; counting touches only an atomic and a
// const-initialised thread-local Cell, neither of which allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        self.count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (so from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}
