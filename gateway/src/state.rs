//! A deterministic text dump of the engine's state: accounts, books and stream
//! positions. Two engines that processed the same inputs print the same dump, so
//! recovery tests (and operators comparing a replay with a live gateway) can diff it.

use std::fmt::Write;

use sim_exchange::Level;

use crate::engine::Engine;

/// Price levels per side included in the dump.
pub const DUMP_LEVELS: usize = 20;

/// Dumps accounts (sorted by id), every instrument's phase, top of book and
/// `DUMP_LEVELS` levels per side, and every login's next sequence number.
pub fn dump(engine: &Engine) -> String {
    let mut out = String::new();
    let risk = engine.risk();
    let mut accounts: Vec<_> = risk.account_ids().collect();
    accounts.sort();
    for id in accounts {
        if let Some(snap) = risk.account_snapshot(&id) {
            let _ = writeln!(out, "account {snap:?}");
        }
    }
    let mut bids = [Level::default(); DUMP_LEVELS];
    let mut asks = [Level::default(); DUMP_LEVELS];
    for instrument in risk.instruments().iter() {
        let security = instrument.security;
        let exchange = engine.exchange();
        let _ = writeln!(
            out,
            "book {security} phase {:?} l1 {:?}",
            exchange.phase(security),
            exchange.l1(security)
        );
        if let Some((nb, na)) = exchange.l2(security, &mut bids, &mut asks) {
            let _ = writeln!(out, "  bids {:?}", &bids[..nb]);
            let _ = writeln!(out, "  asks {:?}", &asks[..na]);
        }
    }
    for (login, next) in engine.next_seqs().enumerate() {
        let _ = writeln!(out, "login {login} next_seq {next}");
    }
    let _ = writeln!(out, "orders_today {}", risk.orders_today());
    out
}
