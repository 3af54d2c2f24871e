//! Breakwater's load-test harness: the judge of every latency claim.
//!
//! An open-loop generator drives many sessions over real TCP from one mio event
//! loop, on a schedule built from a scenario's rate profile (crash and burst days,
//! time-compressed). Latency runs from each message's *intended* send time to its
//! answer, so a slow gateway can never hide behind a slowed generator (no
//! coordinated omission), and the generator reports its own schedule lag. Every
//! request is reconciled: one answer, one terminal state, gap-free streams.
//!
//! * [`scenario`]: the TOML scenarios and their rate profiles; the built-ins.
//! * [`universe`]: instruments, accounts and logins; the generated gateway configuration.
//! * [`flow`]: which message, for which account, at what price.
//! * [`driver`]: the event loop (schedule, sessions, reads, reconnects).
//! * [`tracker`]: the request table, latencies and the reconciliation.
//! * [`ledger`]: cash, holdings and fees from the fills, to check query answers against.
//! * [`queries`]: queries in the flow and the probe, timed and reconciled.
//! * [`echo`]: the bare-TCP baseline server.
//! * [`operator`]: operator commands, in-process or over the HTTP admin API.
//! * [`marketdata`]: market-data subscribers beside the flow, and their reconciliation.
//! * [`percentiles`]: a histogram's percentiles, the unit of every report row.
//! * [`interval`], [`live`], [`metrics`], [`report`]: one interval's figures, progress,
//!   Prometheus, and the report files.
//! * [`harness`]: one `loadtest run` end to end.
//!
//! `docs/loadtest.md` describes the command line, the scenario format and the
//! definitions (lost, unanswered) the verdicts use.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
pub mod driver;
pub mod echo;
pub mod fixwire;
pub mod flow;
pub mod harness;
pub mod interval;
pub mod ledger;
pub mod live;
pub mod marketdata;
pub mod metrics;
pub mod operator;
pub mod percentiles;
pub mod queries;
pub mod report;
pub mod scenario;
pub mod tracker;
pub mod universe;
