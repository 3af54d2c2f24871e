//! Pre-trade risk and suitability engine (in progress).
#![forbid(unsafe_code)]
