//! Simulated A-share matching engine (in progress).
#![forbid(unsafe_code)]
