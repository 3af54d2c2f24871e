//! Application mapping: NewOrderSingle and friends to domain inputs, and each
//! AppMessage to its ExecutionReport, OrderCancelReject or OrderMassCancelReport.

mod util;

use fix::inbound::Input;
use protocol::codec::{MassCancelScope, RequestKind, order_flags};
use protocol::{CreditTag, OrderType, Price, Qty, RejectCode, Side, TimeInForce};
use util::*;

fn logged_on() -> Harness {
    let mut h = Harness::new(config());
    h.logon();
    h.take_actions();
    h
}

fn one_input(h: &mut Harness, msg_type: &str, fields: &str) -> Input {
    let msg = h.msg(msg_type, fields);
    let out = h.send(&msg);
    assert!(out.is_empty(), "{out:?}");
    let inputs = h.inputs();
    assert_eq!(inputs.len(), 1);
    h.take_actions();
    inputs[0]
}

#[test]
fn new_order_single_maps_to_new_order() {
    let mut h = logged_on();
    let fields = format!("{}|5002=Y|5003=Y|5004=1", new_order_fields(42));
    let Input::NewOrder(order) = one_input(&mut h, "D", &fields) else { panic!("not a new order") };
    assert_eq!(order.cl_ord_id, 42);
    assert_eq!(order.account, account());
    assert_eq!(order.security, moutai());
    assert_eq!(order.side, Side::Buy);
    assert_eq!(order.order_type, OrderType::Limit);
    assert_eq!(order.tif, TimeInForce::Day);
    assert_eq!(order.price, Price(15_005_000));
    assert_eq!(order.qty, Qty(100));
    assert_eq!(order.flags, order_flags::SUITABILITY_CONFIRMED | order_flags::PROGRAMMATIC);
    assert_eq!(order.credit, CreditTag::MarginBuy);
}

#[test]
fn market_order_types_follow_the_documented_mapping() {
    let cases = [
        ("40=1|5001=O", OrderType::MarketBestOwn, TimeInForce::Day),
        ("40=1|5001=C", OrderType::MarketBestCounter, TimeInForce::Day),
        ("40=1|5001=5", OrderType::MarketBest5Cancel, TimeInForce::Ioc),
        ("40=1|59=3", OrderType::MarketIoc, TimeInForce::Ioc),
        ("40=1|59=4", OrderType::MarketFok, TimeInForce::Fok),
        ("40=1|5001=F", OrderType::MarketFok, TimeInForce::Fok),
    ];
    let mut h = logged_on();
    for (i, (fields, order_type, tif)) in cases.into_iter().enumerate() {
        let body = format!("11={i}|1=A001|55=000001|207=XSHE|54=2|60={}|38=100|{fields}", ts(T0));
        let Input::NewOrder(order) = one_input(&mut h, "D", &body) else { panic!() };
        assert_eq!((order.order_type, order.tif), (order_type, tif), "{fields}");
        assert_eq!(order.price, Price::ZERO);
        assert_eq!(order.security.code, 1);
    }
}

#[test]
fn cl_ord_id_that_is_not_a_decimal_u64_is_rejected() {
    let mut h = logged_on();
    for bad in ["ABC-1", "18446744073709551616"] {
        let fields =
            format!("11={bad}|1=A001|55=600519|207=XSHG|54=1|60={}|38=100|40=2|44=10", ts(T0));
        let msg = h.msg("D", &fields);
        let out = h.send(&msg);
        assert_eq!(out[0].msg_type(), "3");
        assert!(out[0].has(373, "5") && out[0].has(371, "11"), "{bad}");
    }
    assert!(h.inputs().is_empty());
}

#[test]
fn missing_account_or_exchange_is_rejected_as_required() {
    let mut h = logged_on();
    let no_account = format!("11=1|55=600519|207=XSHG|54=1|60={}|38=100|40=2|44=10", ts(T0));
    let msg = h.msg("D", &no_account);
    let out = h.send(&msg);
    assert!(out[0].has(373, "1") && out[0].has(371, "1"));
    let no_exchange = format!("11=1|1=A001|55=600519|54=1|60={}|38=100|40=2|44=10", ts(T0));
    let msg = h.msg("D", &no_exchange);
    let out = h.send(&msg);
    assert!(out[0].has(373, "1") && out[0].has(371, "207"));
}

#[test]
fn cancel_replace_and_mass_cancel_map_to_domain_inputs() {
    let mut h = logged_on();
    let f = format!("11=9|41=42|1=A001|55=600519|207=XSHG|54=1|60={}", ts(T0));
    let Input::CancelOrder(c) = one_input(&mut h, "F", &f) else { panic!() };
    assert_eq!((c.request_id, c.orig_cl_ord_id, c.account), (9, 42, account()));
    let g = format!("11=10|41=42|1=A001|55=600519|207=XSHG|54=1|60={}|40=2|38=200|44=1499", ts(T0));
    let Input::ReplaceOrder(r) = one_input(&mut h, "G", &g) else { panic!() };
    assert_eq!(
        (r.request_id, r.orig_cl_ord_id, r.price, r.qty),
        (10, 42, Price(14_990_000), Qty(200))
    );
    let q = format!("11=11|530=1|1=A001|55=600519|207=XSHG|60={}", ts(T0));
    let Input::MassCancel(m) = one_input(&mut h, "q", &q) else { panic!() };
    assert_eq!(m.scope, MassCancelScope::Security(account(), moutai()));
    let q = format!("11=12|530=7|60={}", ts(T0));
    let Input::MassCancel(m) = one_input(&mut h, "q", &q) else { panic!() };
    assert_eq!(m.scope, MassCancelScope::Login);
}

#[test]
fn fills_carry_order_qty_and_avg_px_from_the_cache() {
    let mut h = logged_on();
    let mut stream = Vec::new();
    let d = h.msg("D", &new_order_fields(5));
    h.send(&d);
    let out = app(&mut h, &mut stream, accepted(5, 300));
    assert!(out[0].has(35, "8") && out[0].has(150, "0") && out[0].has(39, "0"));
    assert!(out[0].has(151, "300") && out[0].has(14, "0") && out[0].has(37, "50"));
    assert!(out[0].has(55, "600519") && out[0].has(207, "XSHG") && out[0].has(44, "1500.5"));
    let out = app(&mut h, &mut stream, executed(5, 900, 15_000_000, 100, 100, 200));
    assert!(out[0].has(150, "F") && out[0].has(39, "1") && out[0].has(17, "T900"));
    assert!(out[0].has(31, "1500") && out[0].has(32, "100") && out[0].has(151, "200"));
    assert!(out[0].has(14, "100") && out[0].has(38, "300") && out[0].has(6, "1500"));
    let out = app(&mut h, &mut stream, executed(5, 901, 15_010_000, 200, 300, 0));
    assert!(out[0].has(39, "2") && out[0].has(14, "300") && out[0].has(151, "0"));
    // (100 x 1500 + 200 x 1501) / 300 = 1500.6666...: rounded down to 1/10000 CNY.
    assert!(out[0].has(6, "1500.6666"), "{out:?}");
}

#[test]
fn reject_carries_ord_rej_reason_text_and_breakwater_code() {
    let mut h = logged_on();
    let mut stream = Vec::new();
    let d = h.msg("D", &new_order_fields(6));
    h.send(&d);
    let out = app(&mut h, &mut stream, rejected(6, RejectCode::UNKNOWN_SECURITY));
    let er = &out[0];
    assert!(er.has(150, "8") && er.has(39, "8") && er.has(103, "1") && er.has(5005, "3008"));
    assert_eq!(er.get(58), Some("The security is not known."));
    assert!(er.has(55, "600519") && er.has(54, "1"), "Symbol and Side from the order sent");
}

#[test]
fn cancel_replace_and_their_rejects_map_to_reports() {
    let mut h = logged_on();
    let mut stream = Vec::new();
    app(&mut h, &mut stream, accepted(5, 300));
    let out = app(&mut h, &mut stream, replaced(8, 5, 14_990_000, 200, 200));
    assert!(out[0].has(150, "5") && out[0].has(11, "8") && out[0].has(41, "5"));
    assert!(out[0].has(44, "1499") && out[0].has(38, "200") && out[0].has(151, "200"));
    let out = app(&mut h, &mut stream, cancel_rejected(9, 77, RequestKind::Cancel));
    assert!(
        out[0].has(35, "9")
            && out[0].has(434, "1")
            && out[0].has(102, "1")
            && out[0].has(37, "NONE")
    );
    let out = app(&mut h, &mut stream, cancel_rejected(10, 5, RequestKind::Replace));
    assert!(out[0].has(434, "2") && out[0].has(37, "50") && out[0].has(39, "0"));
    let out = app(&mut h, &mut stream, canceled(5, 11, 200, 0));
    assert!(
        out[0].has(150, "4") && out[0].has(39, "4") && out[0].has(11, "11") && out[0].has(41, "5")
    );
    assert!(out[0].has(151, "0") && out[0].has(14, "0"));
}

#[test]
fn mass_cancel_ack_maps_to_mass_cancel_report_with_the_request_type() {
    let mut h = logged_on();
    let mut stream = Vec::new();
    let q = h.msg("q", &format!("11=11|530=1|1=A001|55=600519|207=XSHG|60={}", ts(T0)));
    h.send(&q);
    let out = app(&mut h, &mut stream, mass_ack(11, 3));
    assert!(
        out[0].has(35, "r") && out[0].has(530, "1") && out[0].has(531, "1") && out[0].has(533, "3")
    );
}

#[test]
fn system_events_send_nothing_and_take_no_sequence_number() {
    use protocol::TradingPhase;
    use protocol::codec::{AppMessage, SystemEvent, SystemEventKind};
    let mut h = logged_on();
    let mut stream = Vec::new();
    let before = h.session.next_out_seq();
    let event = SystemEvent {
        kind: SystemEventKind::PhaseChange,
        phase: TradingPhase::Continuous,
        security: None,
    };
    assert!(app(&mut h, &mut stream, AppMessage::SystemEvent(event)).is_empty());
    assert_eq!(h.session.next_out_seq(), before);
}

#[test]
fn order_status_request_answers_from_the_cache() {
    let mut h = logged_on();
    let mut stream = Vec::new();
    app(&mut h, &mut stream, accepted(5, 300));
    app(&mut h, &mut stream, executed(5, 900, 15_000_000, 100, 100, 200));
    let req = h.msg("H", "11=5|1=A001|55=600519|207=XSHG|54=1");
    let out = h.send(&req);
    assert!(
        out[0].has(150, "I")
            && out[0].has(39, "1")
            && out[0].has(14, "100")
            && out[0].has(151, "200")
    );
    let req = h.msg("H", "11=999|1=A001|55=600519|54=1");
    let out = h.send(&req);
    assert!(out[0].has(150, "I") && out[0].has(39, "8") && out[0].has(103, "5"));
}

#[test]
fn reflector_echoes_application_messages() {
    let mut config = config();
    config.reflector = true;
    let mut h = Harness::new(config);
    h.logon();
    let d = h.msg("D", &new_order_fields(5));
    let out = h.send(&d);
    assert!(h.inputs().is_empty(), "nothing reaches the engine");
    assert_eq!(out[0].msg_type(), "D");
    assert!(out[0].has(11, "5") && out[0].has(44, "1500.5") && out[0].has(49, "BW"));
}
