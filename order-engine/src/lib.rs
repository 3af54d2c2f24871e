//! The order engine: Breakwater's deterministic core.
//!
//! One [`Engine`] owns the broker's pre-trade risk engine (`risk-check`) and the
//! venue (`sim-exchange`) and turns each sequenced [`input::Input`] into the
//! [`input::Output`]s of the logins' streams, a pure function of its state, the
//! input, its sequence number and its time stamp. Queries are answered between
//! two inputs ([`answers`]); [`record`] is how an input is journaled. No I/O, no clock, no threads, no `unsafe`: the
//! gateway around it numbers, times and journals the inputs, moves them over
//! rings and sockets, and replays the journal into it on recovery. Market events
//! leave through a [`MarketSink`] the gateway attaches.

#![forbid(unsafe_code)]

pub mod answers;
pub mod counters;
pub mod engine;
pub mod input;
pub mod record;
pub mod stats;

pub use engine::{Engine, MarketSink};
