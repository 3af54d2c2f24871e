//! Kill switches and order-entry state, and who is told what, driven through the
//! engine on virtual time (no sockets): the risk desk's state and the clients'
//! are kept apart, a kill switch reports each account's state, and a request's
//! id goes only to the login that made it.

use gateway::GatewayConfig;
use gateway::engine::{Engine, NoProbe};
use gateway::input::{AdminCommand, Input, LoginIdx, Output};
use gateway::pipeline::build_engine;
use protocol::codec::{
    AppMessage, CancelOrder, EntryState, MassCancel, MassCancelScope, NewOrder, OrderEntryControl,
    OrderEntryStatus, ReplaceOrder,
};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, RejectCode, SecurityId, Side, TimeInForce,
};

/// The demo's logins: trader1 trades A001 and A002, trader2 B001 and B002, and
/// algo B002 as well.
const TRADER1: LoginIdx = 0;
const TRADER2: LoginIdx = 1;
const ALGO: LoginIdx = 2;

const T0: u64 = 1_751_851_800_000_000_000;

struct Harness {
    engine: Engine,
    input_seq: u64,
    now_ns: u64,
}

impl Harness {
    fn new() -> Harness {
        let engine = build_engine(&GatewayConfig::demo()).expect("the demo engine builds");
        Harness { engine, input_seq: 0, now_ns: T0 }
    }

    /// One input, 200 ms after the last (past the duplicate-order window).
    fn send(&mut self, input: Input) -> Vec<Output> {
        self.input_seq += 1;
        self.now_ns += 200_000_000;
        let mut outs = Vec::new();
        let now = self.now_ns;
        self.engine.handle(self.input_seq, now, now, &input, &mut |o| outs.push(o), &mut NoProbe);
        outs
    }

    fn order(&mut self, login: LoginIdx, cl_ord_id: u64, account: &str, price: &str) -> AppMessage {
        let order = NewOrder {
            cl_ord_id,
            account: acct(account),
            security: SecurityId::new(Market::Sse, 600036).unwrap(),
            side: Side::Buy,
            order_type: OrderType::Limit,
            tif: TimeInForce::Day,
            price: Price::parse_cny(price).unwrap(),
            qty: Qty(100),
            flags: 0,
            credit: CreditTag::Cash,
        };
        let outs = self.send(Input::NewOrder { login, order });
        outs.into_iter().find(|o| o.login == login).map(|o| o.msg).expect("an answer to the order")
    }

    fn control(
        &mut self,
        login: LoginIdx,
        request_id: u64,
        account: &str,
        enable: bool,
    ) -> OrderEntryStatus {
        let control = OrderEntryControl { request_id, account: acct(account), enable };
        let outs = self.send(Input::EntryControl { login, control });
        assert_eq!(outs.len(), 1, "one answer: {outs:?}");
        match outs[0].msg {
            AppMessage::OrderEntryStatus(s) if outs[0].login == login => s,
            ref m => panic!("expected OrderEntryStatus, got {m:?}"),
        }
    }
}

fn acct(id: &str) -> AccountId {
    AccountId::new(id).unwrap()
}

fn accepted(msg: &AppMessage) -> bool {
    matches!(msg, AppMessage::OrderAccepted(_))
}

fn rejected_with(msg: &AppMessage) -> Option<RejectCode> {
    match msg {
        AppMessage::OrderRejected(r) => Some(r.code),
        _ => None,
    }
}

/// Before: an account the risk desk blocked answered a client's enable with state
/// `active`, code 0, and then traded.
#[test]
fn a_client_cannot_lift_the_risk_desks_block() {
    let mut h = Harness::new();
    h.send(Input::Admin(AdminCommand::AccountState(acct("A001"), EntryState::Blocked)));
    let status = h.control(TRADER1, 7, "A001", true);
    assert_eq!(
        (status.request_id, status.state, status.code),
        (7, EntryState::Blocked, RejectCode::ACCOUNT_HALTED)
    );
    assert_eq!(
        rejected_with(&h.order(TRADER1, 1, "A001", "41.00")),
        Some(RejectCode::ACCOUNT_HALTED)
    );
    // The desk's reducing-only is not the client's to lift either.
    h.send(Input::Admin(AdminCommand::AccountState(acct("A001"), EntryState::ReducingOnly)));
    let status = h.control(TRADER1, 8, "A001", true);
    assert_eq!((status.state, status.code), (EntryState::ReducingOnly, RejectCode::REDUCING_ONLY));
    assert_eq!(
        rejected_with(&h.order(TRADER1, 2, "A001", "41.01")),
        Some(RejectCode::REDUCING_ONLY)
    );
    // Only the desk lifts it.
    h.send(Input::Admin(AdminCommand::AccountState(acct("A001"), EntryState::Active)));
    assert!(accepted(&h.order(TRADER1, 3, "A001", "41.02")));
}

/// An account configured `blocked` in the risk configuration is the desk's block.
#[test]
fn a_configured_block_is_the_desks() {
    let text = gateway::config::DEMO_TOML
        .replace("id = \"A002\"\n", "id = \"A002\"\nstate = \"blocked\"\n");
    let config = GatewayConfig::from_toml_str(&text, "test.toml").expect("valid");
    let mut h = Harness { engine: build_engine(&config).unwrap(), input_seq: 0, now_ns: T0 };
    let status = h.control(TRADER1, 1, "A002", true);
    assert_eq!((status.state, status.code), (EntryState::Blocked, RejectCode::ACCOUNT_HALTED));
    let order = NewOrder {
        cl_ord_id: 1,
        account: acct("A002"),
        security: SecurityId::new(Market::Sse, 601398).unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price::parse_cny("7.05").unwrap(),
        qty: Qty(100),
        flags: 0,
        credit: CreditTag::Cash,
    };
    let outs = h.send(Input::NewOrder { login: TRADER1, order });
    assert_eq!(rejected_with(&outs[0].msg), Some(RejectCode::ACCOUNT_HALTED));
}

/// What a client set, the client lifts; the desk's state outlasts it, and the
/// client's outlasts the desk's.
#[test]
fn desk_and_client_states_are_kept_apart() {
    let mut h = Harness::new();
    let status = h.control(TRADER1, 1, "A001", false);
    assert_eq!((status.state, status.code), (EntryState::Blocked, RejectCode(0)));
    // The desk blocks and then lifts its block: the client's own block stays.
    h.send(Input::Admin(AdminCommand::AccountState(acct("A001"), EntryState::Blocked)));
    let outs = h.send(Input::Admin(AdminCommand::AccountState(acct("A001"), EntryState::Active)));
    match outs.as_slice() {
        [o] => match o.msg {
            AppMessage::OrderEntryStatus(s) => {
                assert_eq!((s.request_id, s.state), (0, EntryState::Blocked), "the state in force")
            }
            ref m => panic!("{m:?}"),
        },
        other => panic!("one status to trader1: {other:?}"),
    }
    assert_eq!(
        rejected_with(&h.order(TRADER1, 1, "A001", "41.00")),
        Some(RejectCode::ACCOUNT_HALTED)
    );
    let status = h.control(TRADER1, 2, "A001", true);
    assert_eq!((status.state, status.code), (EntryState::Active, RejectCode(0)));
    assert!(accepted(&h.order(TRADER1, 2, "A001", "41.01")));
    assert_eq!(h.engine.risk().desk_state(&acct("A001")), Some(EntryState::Active));
}

/// Before: a MassCancel with block_new sent no OrderEntryStatus at all (§9.5).
#[test]
fn a_kill_switch_reports_each_accounts_state_to_every_login_bound_to_it() {
    let mut h = Harness::new();
    assert!(accepted(&h.order(TRADER2, 1, "B002", "41.00")));
    assert!(accepted(&h.order(TRADER2, 2, "B001", "41.01")));
    let mass = MassCancel { request_id: 9, scope: MassCancelScope::Login, block_new: true };
    let outs = h.send(Input::MassCancel { login: TRADER2, mass });
    let statuses: Vec<(LoginIdx, AccountId, u64, EntryState)> = outs
        .iter()
        .filter_map(|o| match o.msg {
            AppMessage::OrderEntryStatus(s) => Some((o.login, s.account, s.request_id, s.state)),
            _ => None,
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (TRADER2, acct("B001"), 9, EntryState::Blocked),
            (TRADER2, acct("B002"), 9, EntryState::Blocked),
            (ALGO, acct("B002"), 0, EntryState::Blocked),
        ]
    );
    // The requester's stream: each Canceled, then the statuses, then the ack.
    let mine: Vec<&AppMessage> =
        outs.iter().filter(|o| o.login == TRADER2).map(|o| &o.msg).collect();
    assert!(
        matches!(mine.last(), Some(AppMessage::MassCancelAck(a)) if a.blocked && a.canceled_count == 2)
    );
    let first_status =
        mine.iter().position(|m| matches!(m, AppMessage::OrderEntryStatus(_))).unwrap();
    assert!(mine[..first_status].iter().all(|m| matches!(m, AppMessage::Canceled(_))));
    assert_eq!(first_status, 2);
    // The kill switch is the client's: the client lifts it.
    assert_eq!(h.control(TRADER2, 10, "B002", true).code, RejectCode(0));
    assert!(accepted(&h.order(ALGO, 3, "B002", "41.02")));
}

/// Before: the owner's copy of a Canceled (or Replaced) that another login of the
/// same account asked for carried the other login's request_id (§7).
#[test]
fn another_logins_request_id_stays_with_that_login() {
    let mut h = Harness::new();
    assert!(accepted(&h.order(ALGO, 1, "B002", "41.00")));
    let replace = ReplaceOrder {
        request_id: 55,
        orig_cl_ord_id: 1,
        account: acct("B002"),
        price: Price::parse_cny("41.05").unwrap(),
        qty: Qty(100),
    };
    let outs = h.send(Input::Replace { login: TRADER2, replace });
    let replaced: Vec<(LoginIdx, u64)> = outs
        .iter()
        .filter_map(|o| match o.msg {
            AppMessage::Replaced(r) => Some((o.login, r.request_id)),
            _ => None,
        })
        .collect();
    assert_eq!(replaced, vec![(ALGO, 0), (TRADER2, 55)]);
    let cancel = CancelOrder { request_id: 56, orig_cl_ord_id: 1, account: acct("B002") };
    let outs = h.send(Input::Cancel { login: TRADER2, cancel });
    let canceled: Vec<(LoginIdx, u64)> = outs
        .iter()
        .filter_map(|o| match o.msg {
            AppMessage::Canceled(c) => Some((o.login, c.request_id)),
            _ => None,
        })
        .collect();
    assert_eq!(canceled, vec![(ALGO, 0), (TRADER2, 56)]);
    // The owner's own cancel carries its own id, once.
    assert!(accepted(&h.order(ALGO, 2, "B002", "41.10")));
    let cancel = CancelOrder { request_id: 57, orig_cl_ord_id: 2, account: acct("B002") };
    let outs = h.send(Input::Cancel { login: ALGO, cancel });
    let canceled: Vec<(LoginIdx, u64)> = outs
        .iter()
        .filter_map(|o| match o.msg {
            AppMessage::Canceled(c) => Some((o.login, c.request_id)),
            _ => None,
        })
        .collect();
    assert_eq!(canceled, vec![(ALGO, 57)]);
}

/// A snapshot keeps both states: after a restore the desk's lift still leaves the
/// client's own block in force.
#[test]
fn a_snapshot_keeps_the_desks_and_the_clients_states() {
    let mut config = GatewayConfig::demo();
    config.outbound.log_bytes_per_login = 1 << 20;
    config.outbound.log_messages_per_login = 1 << 12;
    let mut h = Harness { engine: build_engine(&config).unwrap(), input_seq: 0, now_ns: T0 };
    h.control(TRADER1, 1, "A001", false);
    h.send(Input::Admin(AdminCommand::AccountState(acct("A001"), EntryState::Blocked)));
    h.send(Input::Admin(AdminCommand::AccountState(acct("A002"), EntryState::ReducingOnly)));
    let dir = std::env::temp_dir().join(format!("bw-kill-switch-{}", std::process::id()));
    let logs: Vec<gateway::outlog::OutLog> =
        config.logins.iter().map(|_| gateway::outlog::OutLog::new(1 << 20, 1 << 12)).collect();
    let at = gateway::snapshot::At {
        input_seq: h.input_seq,
        now_ns: h.now_ns,
        session_id: 1,
        fingerprint: gateway::journal::Fingerprint::of(&config),
    };
    let path = gateway::snapshot::write(&dir, &h.engine, &logs, at).unwrap();
    let (engine, _, _) = gateway::snapshot::load(&path, &config).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(gateway::state::dump(&engine), gateway::state::dump(&h.engine));
    let risk = engine.risk();
    assert_eq!(
        (risk.desk_state(&acct("A001")), risk.client_state(&acct("A001"))),
        (Some(EntryState::Blocked), Some(EntryState::Blocked))
    );
    assert_eq!(
        (risk.desk_state(&acct("A002")), risk.client_state(&acct("A002"))),
        (Some(EntryState::ReducingOnly), Some(EntryState::Active))
    );
    let mut restored = Harness { engine, input_seq: h.input_seq, now_ns: h.now_ns };
    restored.send(Input::Admin(AdminCommand::AccountState(acct("A001"), EntryState::Active)));
    let answer = restored.order(TRADER1, 1, "A001", "41.00");
    assert_eq!(rejected_with(&answer), Some(RejectCode::ACCOUNT_HALTED));
}
