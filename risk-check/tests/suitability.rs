//! Suitability, cell by cell: client class C1-C5 against product level R1-R5, with
//! and without the confirmation flag, plus the lowest category and professionals.

mod util;

use protocol::codec::NewOrder;
use protocol::{Board, RejectCode, RejectDetail, Side};
use risk_check::{
    AccountConfig, BoardPermissions, ClientClass, NewOrderVerdict, PositionConfig, RiskConfig,
    RiskLevel,
};
use util::*;

fn product(level: RiskLevel) -> String {
    format!("60010{}.SH", level.as_u8())
}

fn client(id: &str, class: ClientClass) -> AccountConfig {
    let mut a = AccountConfig::new(acct(id), cny("1000000").0);
    a.class = class;
    a.boards = BoardPermissions::ALL;
    a
}

fn matrix_config() -> RiskConfig {
    let instruments = RiskLevel::ALL
        .iter()
        .map(|l| instrument(&product(*l), Board::SseMain, "10.00", *l))
        .collect();
    let mut accounts: Vec<AccountConfig> =
        ClientClass::ALL.iter().map(|c| client(&c.to_string(), *c)).collect();
    let mut lowest = client("LOW", ClientClass::C1);
    lowest.lowest_category = true;
    lowest.positions = vec![PositionConfig {
        security: sec(&product(RiskLevel::R5)),
        qty: 1_000,
        cost: cny("10"),
    }];
    let mut pro = client("PRO", ClientClass::C1);
    pro.professional = true;
    accounts.push(lowest);
    accounts.push(pro);
    RiskConfig { accounts, instruments, ..RiskConfig::default() }
}

fn buy(h: &mut Harness, account: &str, level: RiskLevel, confirm: bool) -> NewOrder {
    let mut o = h.limit(Side::Buy, &product(level), "10.00", 100);
    o.account = acct(account);
    if confirm { confirmed(o) } else { o }
}

#[test]
fn class_against_level_without_confirmation() {
    let mut h = Harness::new(matrix_config());
    for class in ClientClass::ALL {
        for level in RiskLevel::ALL {
            let o = buy(&mut h, &class.to_string(), level, false);
            let verdict = h.send(&o);
            if level.as_u8() <= class.as_u8() {
                assert!(
                    matches!(verdict, NewOrderVerdict::Pass { confirmation_recorded: false, .. }),
                    "{class} {level}: {verdict:?}"
                );
            } else {
                let NewOrderVerdict::Reject { order: Some(_), reject } = verdict else {
                    panic!("{class} {level}: {verdict:?}")
                };
                assert_eq!(reject.code, RejectCode::CONFIRMATION_REQUIRED, "{class} {level}");
                assert_eq!(
                    reject.detail,
                    RejectDetail::Suitability {
                        client_class: class.as_u8(),
                        product_level: level.as_u8()
                    }
                );
                let text = protocol::TextBuf::render(reject.code, &reject.detail);
                assert!(text.as_str().contains(&format!("you are C{}", class.as_u8())), "{text:?}");
            }
        }
    }
}

#[test]
fn class_against_level_with_confirmation() {
    let mut h = Harness::new(matrix_config());
    for class in ClientClass::ALL {
        for level in RiskLevel::ALL {
            let o = buy(&mut h, &class.to_string(), level, true);
            match h.send(&o) {
                NewOrderVerdict::Pass { order, confirmation_recorded } => {
                    let mismatch = level.as_u8() > class.as_u8();
                    assert_eq!(confirmation_recorded, mismatch, "{class} {level}");
                    assert_eq!(h.engine.order(order).confirmation_recorded, mismatch);
                }
                v => panic!("{class} {level} confirmed: {v:?}"),
            }
        }
    }
    // C1..C5 × R1..R5 above the diagonal: 4 + 3 + 2 + 1 = 10 confirmations.
    assert_eq!(h.engine.counters().confirmations_recorded, 10);
}

#[test]
fn lowest_category_is_refused_above_r1_even_when_confirmed() {
    let mut h = Harness::new(matrix_config());
    for confirm in [false, true] {
        for level in RiskLevel::ALL {
            let o = buy(&mut h, "LOW", level, confirm);
            let verdict = h.send(&o);
            if level == RiskLevel::R1 {
                assert!(matches!(verdict, NewOrderVerdict::Pass { .. }), "{level}: {verdict:?}");
            } else {
                let NewOrderVerdict::Reject { reject, .. } = verdict else {
                    panic!("{level}: {verdict:?}")
                };
                assert_eq!(reject.code, RejectCode::LOWEST_CATEGORY_REFUSED);
                assert_eq!(
                    reject.detail,
                    RejectDetail::Suitability { client_class: 1, product_level: level.as_u8() }
                );
            }
        }
    }
}

#[test]
fn professional_investors_pass_every_level_without_confirmation() {
    let mut h = Harness::new(matrix_config());
    for confirm in [false, true] {
        for level in RiskLevel::ALL {
            let o = buy(&mut h, "PRO", level, confirm);
            let verdict = h.send(&o);
            assert!(
                matches!(verdict, NewOrderVerdict::Pass { confirmation_recorded: false, .. }),
                "{level}: {verdict:?}"
            );
        }
    }
}

#[test]
fn confirmation_may_reuse_the_refused_cl_ord_id() {
    let mut h = Harness::new(matrix_config());
    let o = buy(&mut h, "C2", RiskLevel::R3, false);
    let NewOrderVerdict::Reject { order: Some(first), reject } = h.send(&o) else { panic!() };
    assert_eq!(reject.code, RejectCode::CONFIRMATION_REQUIRED);
    // The same order, same cl_ord_id, now confirmed: evaluated again in place.
    let yes = confirmed(o);
    assert_eq!(h.send(&yes), NewOrderVerdict::Pass { order: first, confirmation_recorded: true });
    assert!(h.engine.order(first).confirmation_recorded);
    // Both versions are now answered from the record.
    assert_eq!(h.send(&yes), NewOrderVerdict::Repeat { order: first });
    let NewOrderVerdict::Reject { reject, .. } = h.send(&o) else { panic!() };
    assert_eq!(reject.code, RejectCode::DUPLICATE_CL_ORD_ID);
}

#[test]
fn selling_a_holding_needs_no_suitability() {
    let mut h = Harness::new(matrix_config());
    let mut o = h.limit(Side::Sell, &product(RiskLevel::R5), "10.00", 1_000);
    o.account = acct("LOW");
    assert!(matches!(h.send(&o), NewOrderVerdict::Pass { .. }));
}
