//! The harness's own book-keeping of what filled, to reconcile every query answer
//! against: per account, the shares held per security (the universe's holdings,
//! plus what it bought, less what it sold), the cash (its starting cash, less what
//! it paid for buys, plus what its sells brought, less every fee) and the fees
//! paid today by kind, from the Executed and FillFees messages on the streams.
//!
//! The cash the gateway reports is split into available, frozen and owed; only the
//! sum `available + frozen − debit` moves with fills, so that sum is what is
//! checked. The funds and positions a query answers must equal the ledger exactly
//! when the ledger has applied the stream up to the answer's `as_of_seq` and no
//! further (the caller arranges that); figures valued at market prices (market
//! value, P&L) are the gateway's to compute and are not checked.
//!
//! Valid for a gateway whose day began with this run (an in-process one): a
//! gateway that traded before would report fees and holdings the harness never saw.

use std::collections::HashMap;

use protocol::codec::Executed;
use protocol::query::{FillFees, FundsRow, PositionRow};
use protocol::{AccountId, SecurityId, Side};
use serde::Serialize;

use crate::universe::Universe;

/// Fees by kind, 1/10000 CNY.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Fees {
    commission: i64,
    stamp_duty: i64,
    transfer: i64,
}

/// One account's book.
#[derive(Clone, Debug)]
struct Book {
    cash: i64,
    fees: Fees,
    /// Shares per instrument (universe index).
    shares: Vec<i64>,
}

/// What reconciling answers found.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct QueryChecks {
    /// Funds answers checked.
    pub funds_checked: u64,
    /// Positions rows checked (one per security in the answer).
    pub position_rows_checked: u64,
    /// Figures that differed from the ledger.
    pub mismatches: u64,
    /// The first few mismatches, in words.
    pub mismatch_sample: Vec<String>,
}

/// Mismatches kept in words.
const SAMPLE_LIMIT: usize = 20;

impl QueryChecks {
    fn compare(&mut self, what: impl Fn() -> String, answered: i64, expected: i64) {
        if answered != expected {
            self.mismatches += 1;
            if self.mismatch_sample.len() < SAMPLE_LIMIT {
                self.mismatch_sample.push(format!(
                    "{}: answered {answered}, the harness counts {expected}",
                    what()
                ));
            }
        }
    }
}

/// Every account's book.
#[derive(Clone, Debug)]
pub struct Ledger {
    books: Vec<Book>,
    accounts: HashMap<AccountId, usize>,
    instruments: HashMap<SecurityId, usize>,
    /// What the checks found.
    pub checks: QueryChecks,
}

impl Ledger {
    /// Books opened with the universe's cash and holdings.
    pub fn new(u: &Universe) -> Ledger {
        let books = u
            .accounts
            .iter()
            .map(|a| {
                let mut shares = vec![0i64; u.instruments.len()];
                for &(instr, qty) in &a.positions {
                    shares[instr] += qty as i64;
                }
                Book { cash: a.cash, fees: Fees::default(), shares }
            })
            .collect();
        let accounts = u.accounts.iter().enumerate().map(|(i, a)| (a.id, i)).collect();
        let instruments =
            u.instruments.iter().enumerate().map(|(i, instr)| (instr.security, i)).collect();
        Ledger { books, accounts, instruments, checks: QueryChecks::default() }
    }

    /// A fill: shares and the value move.
    pub fn on_executed(&mut self, e: &Executed) {
        let (Some(&a), Some(&i)) =
            (self.accounts.get(&e.account), self.instruments.get(&e.security))
        else {
            return;
        };
        let value = e.price.0.saturating_mul(e.qty.0 as i64);
        let qty = e.qty.0 as i64;
        let book = &mut self.books[a];
        match e.side {
            Side::Buy => {
                book.cash -= value;
                book.shares[i] += qty;
            }
            Side::Sell => {
                book.cash += value;
                book.shares[i] -= qty;
            }
        }
    }

    /// A fill's fees.
    pub fn on_fill_fees(&mut self, f: &FillFees) {
        let Some(&a) = self.accounts.get(&f.account) else { return };
        let book = &mut self.books[a];
        book.cash -= f.total();
        book.fees.commission += f.commission;
        book.fees.stamp_duty += f.stamp_duty;
        book.fees.transfer += f.transfer_fee;
    }

    /// Checks a funds answer for `account` against the book.
    pub fn check_funds(&mut self, account: &AccountId, row: &FundsRow) {
        let Some(&a) = self.accounts.get(account) else { return };
        let book = &self.books[a];
        let checks = &mut self.checks;
        checks.funds_checked += 1;
        let cash = row.cash_available + row.cash_frozen - row.cash_debit;
        checks.compare(|| format!("{account} cash (available + frozen - debit)"), cash, book.cash);
        let fees = [
            ("commission", row.commission_today, book.fees.commission),
            ("stamp duty", row.stamp_duty_today, book.fees.stamp_duty),
            ("transfer fee", row.transfer_fee_today, book.fees.transfer),
        ];
        for (kind, answered, expected) in fees {
            checks.compare(|| format!("{account} {kind} today"), answered, expected);
        }
        let total = book.fees.commission + book.fees.stamp_duty + book.fees.transfer;
        checks.compare(|| format!("{account} fees today"), row.fees_today, total);
    }

    /// Checks one page of a positions answer for `account`. With `complete` (the
    /// answer's only page), a holding the book has and the answer lacks is a
    /// mismatch too.
    pub fn check_positions(&mut self, account: &AccountId, rows: &[PositionRow], complete: bool) {
        let Some(&a) = self.accounts.get(account) else { return };
        let book = &self.books[a];
        let checks = &mut self.checks;
        for row in rows {
            checks.position_rows_checked += 1;
            let expected = self.instruments.get(&row.security).map_or(0, |&i| book.shares[i]);
            checks.compare(
                || format!("{account} {} shares", row.security),
                row.qty as i64,
                expected,
            );
        }
        if !complete {
            return;
        }
        for (security, &i) in &self.instruments {
            if book.shares[i] != 0 && !rows.iter().any(|r| r.security == *security) {
                checks.compare(
                    || format!("{account} {security} shares (no row)"),
                    0,
                    book.shares[i],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Price, Qty};

    fn universe() -> Universe {
        let s = crate::scenario::Scenario::load("smoke").unwrap();
        let text = crate::universe::generate_gateway_toml(&s);
        Universe::from_gateway_toml(&text, "<smoke>").unwrap()
    }

    fn fill(
        u: &Universe,
        account: usize,
        instr: usize,
        side: Side,
        price: i64,
        qty: u64,
    ) -> Executed {
        Executed {
            cl_ord_id: 1,
            order_id: 1,
            exec_id: 1,
            account: u.accounts[account].id,
            security: u.instruments[instr].security,
            side,
            liquidity: protocol::Liquidity::Removed,
            price: Price(price),
            qty: Qty(qty),
            leaves: Qty(0),
            cum: Qty(qty),
        }
    }

    fn fees(u: &Universe, account: usize, commission: i64, stamp_duty: i64) -> FillFees {
        FillFees {
            cl_ord_id: 1,
            order_id: 1,
            exec_id: 1,
            account: u.accounts[account].id,
            commission,
            stamp_duty,
            transfer_fee: 100,
        }
    }

    #[test]
    fn funds_and_positions_follow_the_fills() {
        let u = universe();
        let mut l = Ledger::new(&u);
        let id = u.accounts[0].id;
        let start_cash = u.accounts[0].cash;
        let held = u.accounts[0].positions.iter().find(|p| p.0 == 0).map_or(0, |p| p.1) as i64;
        l.on_executed(&fill(&u, 0, 0, Side::Buy, 100_000, 300));
        l.on_fill_fees(&fees(&u, 0, 50_000, 0));
        l.on_executed(&fill(&u, 0, 0, Side::Sell, 110_000, 100));
        l.on_fill_fees(&fees(&u, 0, 50_000, 5_500));
        let cash = start_cash - 30_000_000 - 50_100 + 11_000_000 - 55_600;
        let row = FundsRow {
            cash_available: cash - 1_000,
            cash_frozen: 1_000,
            commission_today: 100_000,
            stamp_duty_today: 5_500,
            transfer_fee_today: 200,
            fees_today: 105_700,
            ..FundsRow::default()
        };
        l.check_funds(&id, &row);
        let position = PositionRow {
            security: u.instruments[0].security,
            qty: (held + 200) as u64,
            ..PositionRow::EMPTY
        };
        l.check_positions(&id, &[position], false);
        assert_eq!(l.checks.mismatches, 0, "{:?}", l.checks.mismatch_sample);
        assert_eq!((l.checks.funds_checked, l.checks.position_rows_checked), (1, 1));

        // One fen of cash and one share off, each a mismatch in words.
        l.check_funds(&id, &FundsRow { cash_available: row.cash_available - 100, ..row });
        l.check_positions(&id, &[PositionRow { qty: position.qty - 1, ..position }], false);
        assert_eq!(l.checks.mismatches, 2);
        assert!(l.checks.mismatch_sample[0].contains("cash"), "{:?}", l.checks.mismatch_sample);
        assert!(l.checks.mismatch_sample[1].contains("shares"), "{:?}", l.checks.mismatch_sample);
    }

    #[test]
    fn a_complete_answer_must_list_every_holding() {
        let u = universe();
        let mut l = Ledger::new(&u);
        let (a, instr) = (1, 1);
        l.on_executed(&fill(&u, a, instr, Side::Buy, 100_000, 100));
        l.check_positions(&u.accounts[a].id, &[], true);
        assert!(l.checks.mismatches >= 1, "the bought holding is missing from the answer");
        assert!(
            l.checks.mismatch_sample.iter().any(|m| m.contains("(no row)")),
            "{:?}",
            l.checks.mismatch_sample
        );
    }
}
