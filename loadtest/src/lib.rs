//! Load-test harness (in progress).
#![forbid(unsafe_code)]
