//! The one home of what tests and benches share: a counting global allocator
//! ([`Counting`]) and a seeded generator ([`Rng`]).
//!
//! Pure: no I/O, no clock, no threads. The only `unsafe` is the allocator's
//! `GlobalAlloc` impl, which forwards every call to `System` unchanged.

#![deny(missing_docs)]

mod alloc;
mod rng;

pub use alloc::{Counting, thread_allocations};
pub use rng::Rng;
