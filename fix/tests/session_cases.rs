//! One test per FIX session-level test case (the FIX Trading Community's
//! "FIX Session-level Test Cases and Expected Behaviors"), named after the case:
//! `s1` Logon, `s2` standard header, `s3` trailer, `s4`-`s6` heartbeats and test
//! requests, `s7` Reject, `s8` ResendRequest, `s10`/`s11` SequenceReset, `s13`
//! Logout, `s14` message validation, `s16` queued messages.

mod util;

use fix::session::{Action, DisconnectReason};
use util::*;

fn disconnect_reason(h: &Harness) -> Option<DisconnectReason> {
    h.actions.iter().find_map(|a| if let Action::Disconnect(r) = a { Some(*r) } else { None })
}

#[test]
fn s1a_valid_logon_is_answered_with_logon() {
    let mut h = Harness::new(config());
    let out = h.logon();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].msg_type(), "A");
    assert!(
        out[0].has(108, "30")
            && out[0].has(98, "0")
            && out[0].has(49, "BW")
            && out[0].has(56, "CLIENT")
    );
    assert_eq!(out[0].seq(), 1);
    assert!(h.actions.contains(&Action::LoggedOn));
    assert!(h.session.is_logged_on());
}

#[test]
fn s1b_logon_with_msg_seq_num_too_high_answers_logon_then_resend_request() {
    let mut h = Harness::new(config());
    let logon = h.msg_seq("A", 5, "98=0|108=30|553=alice|554=s3cret");
    let out = h.send(&logon);
    assert_eq!(out.iter().map(Out::msg_type).collect::<Vec<_>>(), ["A", "2"]);
    assert!(out[1].has(7, "1") && out[1].has(16, "0"));
}

#[test]
fn s1c_first_message_not_logon_disconnects_without_answer() {
    let mut h = Harness::new(config());
    let hb = h.msg("0", "");
    let out = h.send(&hb);
    assert!(out.is_empty());
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::NotLogon));
}

#[test]
fn s1d_logon_with_wrong_password_is_refused_with_logout() {
    let mut h = Harness::new(config());
    let logon = h.msg("A", "98=0|108=30|553=alice|554=wrong");
    let out = h.send(&logon);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(out[0].get(58), Some("Invalid credentials"));
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LogonRefused));
    assert!(!h.actions.contains(&Action::LoggedOn));
}

#[test]
fn s1e_logon_with_heart_bt_int_out_of_range_is_refused() {
    let mut h = Harness::new(config());
    let logon = h.msg("A", "98=0|108=100000|553=alice|554=s3cret");
    let out = h.send(&logon);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LogonRefused));
}

#[test]
fn s1f_logon_timeout_disconnects() {
    let mut h = Harness::new(config());
    h.tick(9 * SEC);
    assert!(!h.disconnected());
    h.tick(2 * SEC);
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LogonTimeout));
}

#[test]
fn s1g_logon_with_reset_seq_num_flag_resets_both_sequences() {
    let mut h = Harness::new(config());
    h.logon();
    let hb = h.msg("0", "");
    h.send(&hb);
    h.session.disconnected();
    h.session.connect(h.now_ns);
    h.client_seq = 1;
    let logon = h.msg("A", "98=0|108=30|141=Y|553=alice|554=s3cret");
    let out = h.send(&logon);
    assert_eq!(out[0].msg_type(), "A");
    assert!(out[0].has(141, "Y"));
    assert_eq!(out[0].seq(), 1);
    assert_eq!(h.session.next_in_seq(), 2);
}

#[test]
fn s2a_in_sequence_message_is_accepted() {
    let mut h = Harness::new(config());
    h.logon();
    let test = h.msg("1", "112=T1");
    let out = h.send(&test);
    assert_eq!(out[0].msg_type(), "0");
    assert!(out[0].has(112, "T1"));
    assert_eq!(h.session.next_in_seq(), 3);
}

#[test]
fn s2b_msg_seq_num_too_high_sends_one_resend_request() {
    let mut h = Harness::new(config());
    h.logon();
    let a = h.msg_seq("0", 5, "");
    let b = h.msg_seq("0", 6, "");
    let out = h.send(&[a, b].concat());
    assert_eq!(out.len(), 1, "one ResendRequest for the gap, not one per message");
    assert_eq!(out[0].msg_type(), "2");
    assert!(out[0].has(7, "2") && out[0].has(16, "0"));
    assert_eq!(h.session.next_in_seq(), 2);
}

#[test]
fn s2c_msg_seq_num_too_low_without_poss_dup_logs_out() {
    let mut h = Harness::new(config());
    h.logon();
    let hb = h.msg("0", "");
    h.send(&hb);
    let low = h.msg_seq("0", 2, "");
    let out = h.send(&low);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(out[0].get(58), Some("MsgSeqNum too low, expecting 3 but received 2"));
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::SequenceError));
}

#[test]
fn s2d_garbled_message_is_ignored_and_not_counted() {
    let mut h = Harness::new(config());
    h.logon();
    let mut bad = h.msg_seq("1", 2, "112=X");
    let n = bad.len();
    bad[n - 3] = if bad[n - 3] == b'0' { b'1' } else { b'0' }; // checksum digit
    let out = h.send(&bad);
    assert!(out.is_empty());
    assert_eq!(h.session.next_in_seq(), 2);
    let good = h.msg_seq("1", 2, "112=Y");
    let out = h.send(&good);
    assert!(out[0].has(112, "Y"));
}

#[test]
fn s2e_poss_dup_below_expected_is_ignored() {
    let mut h = Harness::new(config());
    h.logon();
    let hb = h.msg("0", "");
    h.send(&hb);
    let dup = h.msg_seq("1", 2, &format!("43=Y|122={}|112=D", ts(T0 - SEC)));
    let out = h.send(&dup);
    assert!(out.is_empty());
    assert!(!h.disconnected());
}

#[test]
fn s2f_poss_dup_with_orig_sending_time_after_sending_time_is_rejected() {
    let mut h = Harness::new(config());
    h.logon();
    let seq = h.client_seq;
    h.client_seq += 1;
    let dup = h.msg_seq("1", seq, &format!("43=Y|122={}|112=D", ts(T0 + 10 * SEC)));
    let out = h.send(&dup);
    assert_eq!(out[0].msg_type(), "3");
    assert!(out[0].has(373, "10") && out[0].has(371, "122") && out[0].has(45, "2"));
    assert_eq!(h.session.next_in_seq(), 3);
}

#[test]
fn s2g_poss_dup_without_orig_sending_time_is_rejected() {
    let mut h = Harness::new(config());
    h.logon();
    let dup = h.msg("1", "43=Y|112=D");
    let out = h.send(&dup);
    assert_eq!(out[0].msg_type(), "3");
    assert!(out[0].has(373, "1") && out[0].has(371, "122"));
}

#[test]
fn s2h_wrong_begin_string_logs_out_and_disconnects() {
    let mut h = Harness::new(config());
    h.logon();
    let msg = fix_message_begin("FIX.4.2", &format!("35=0|49=CLIENT|56=BW|34=2|52={}|", ts(T0)));
    let out = h.send(&msg);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::WrongBeginString));
}

#[test]
fn s2i_comp_id_problem_rejects_logs_out_and_disconnects() {
    let mut h = Harness::new(config());
    h.logon();
    let msg = fix_message(&format!("35=0|49=INTRUDER|56=BW|34=2|52={}|", ts(T0)));
    let out = h.send(&msg);
    assert_eq!(out.iter().map(Out::msg_type).collect::<Vec<_>>(), ["3", "5"]);
    assert!(out[0].has(373, "9") && out[0].has(371, "49"));
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::CompIdProblem));
}

#[test]
fn s2j_wrong_body_length_is_ignored() {
    let mut h = Harness::new(config());
    h.logon();
    let good = h.msg_seq("1", 2, "112=A");
    let text = String::from_utf8(good.clone()).unwrap();
    let len: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
    let bad = text.replacen(&format!("9={len}\x01"), &format!("9={}\x01", len + 3), 1);
    let out = h.send(bad.as_bytes());
    assert!(out.is_empty());
    let out = h.send(&good);
    assert!(out[0].has(112, "A"), "the stream resynchronises on the next message");
}

#[test]
fn s2k_sending_time_outside_tolerance_rejects_and_logs_out() {
    let mut h = Harness::new(config());
    h.logon();
    let msg = fix_message(&format!("35=0|49=CLIENT|56=BW|34=2|52={}|", ts(T0 - 600 * SEC)));
    let out = h.send(&msg);
    assert_eq!(out.iter().map(Out::msg_type).collect::<Vec<_>>(), ["3", "5"]);
    assert!(out[0].has(373, "10") && out[0].has(371, "52"));
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::SendingTimeAccuracy));
}

#[test]
fn s2l_undefined_msg_type_is_rejected_with_reason_11() {
    let mut h = Harness::new(config());
    h.logon();
    let msg = h.msg("ZZ", "");
    let out = h.send(&msg);
    assert_eq!(out[0].msg_type(), "3");
    assert!(out[0].has(373, "11") && out[0].has(372, "ZZ"));
    assert_eq!(h.session.next_in_seq(), 3);
}

#[test]
fn s2m_unsupported_application_type_gets_business_message_reject() {
    let mut h = Harness::new(config());
    h.logon();
    let msg = h.msg("R", "131=Q1"); // QuoteRequest: defined by FIX 4.4, not supported here
    let out = h.send(&msg);
    assert_eq!(out[0].msg_type(), "j");
    assert!(out[0].has(380, "3") && out[0].has(372, "R") && out[0].has(45, "2"));
}

#[test]
fn s2n_begin_string_body_length_msg_type_out_of_order_is_ignored() {
    let mut h = Harness::new(config());
    h.logon();
    let body = format!("49=CLIENT|35=0|56=BW|34=2|52={}|", ts(T0)).replace('|', "\x01");
    let mut msg = format!("8=FIX.4.4\x019={}\x01{body}", body.len()).into_bytes();
    let sum = msg.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    msg.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    assert!(h.send(&msg).is_empty());
    assert_eq!(h.session.next_in_seq(), 2);
}

#[test]
fn s3b_invalid_checksum_is_ignored() {
    let mut h = Harness::new(config());
    h.logon();
    let msg = h.msg_seq("0", 2, "");
    let text = String::from_utf8(msg).unwrap();
    let at = text.rfind("10=").unwrap();
    let bad = format!("{}10=000\x01", &text[..at]);
    assert!(h.send(bad.as_bytes()).is_empty());
    assert_eq!(h.session.next_in_seq(), 2);
}

#[test]
fn s4_heartbeat_sent_after_heart_bt_int_of_silence() {
    let mut h = Harness::new(config());
    h.logon();
    assert!(h.tick(29 * SEC).is_empty());
    let out = h.tick(SEC);
    assert_eq!(out[0].msg_type(), "0");
}

#[test]
fn s5_heartbeat_answering_test_request_clears_it() {
    let mut h = Harness::new(config());
    h.logon();
    let out = h.tick(37 * SEC);
    let test = out.iter().find(|m| m.msg_type() == "1").expect("TestRequest after silence");
    let id = test.get(112).unwrap().to_owned();
    let hb = h.msg("0", &format!("112={id}"));
    h.send(&hb);
    h.tick(29 * SEC);
    assert!(!h.disconnected());
}

#[test]
fn s6_test_request_unanswered_disconnects() {
    let mut h = Harness::new(config());
    h.logon();
    let out = h.tick(36 * SEC);
    assert!(out.iter().any(|m| m.msg_type() == "1"));
    h.tick(29 * SEC);
    assert!(!h.disconnected());
    h.tick(2 * SEC);
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::NoHeartbeat));
}

#[test]
fn s7_received_reject_increments_inbound_seq() {
    let mut h = Harness::new(config());
    h.logon();
    let reject = h.msg("3", "45=1|58=test");
    assert!(h.send(&reject).is_empty());
    assert_eq!(h.session.next_in_seq(), 3);
}

#[test]
fn s10a_gap_fill_moves_inbound_seq_forward() {
    let mut h = Harness::new(config());
    h.logon();
    let gap = h.msg_seq("4", 2, "123=Y|36=10");
    assert!(h.send(&gap).is_empty());
    assert_eq!(h.session.next_in_seq(), 10);
}

#[test]
fn s10b_gap_fill_with_msg_seq_num_too_high_requests_resend() {
    let mut h = Harness::new(config());
    h.logon();
    let gap = h.msg_seq("4", 5, "123=Y|36=10");
    let out = h.send(&gap);
    assert_eq!(out[0].msg_type(), "2");
    assert_eq!(h.session.next_in_seq(), 2);
}

#[test]
fn s10c_gap_fill_below_expected_with_poss_dup_is_ignored() {
    let mut h = Harness::new(config());
    h.logon();
    let hb = h.msg("0", "");
    h.send(&hb);
    let gap = h.msg_seq("4", 2, &format!("43=Y|122={}|123=Y|36=3", ts(T0)));
    assert!(h.send(&gap).is_empty());
    assert!(!h.disconnected());
}

#[test]
fn s10d_gap_fill_below_expected_without_poss_dup_logs_out() {
    let mut h = Harness::new(config());
    h.logon();
    let hb = h.msg("0", "");
    h.send(&hb);
    let gap = h.msg_seq("4", 2, "123=Y|36=3");
    let out = h.send(&gap);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::SequenceError));
}

#[test]
fn s10e_gap_fill_with_new_seq_no_not_above_msg_seq_num_is_rejected() {
    let mut h = Harness::new(config());
    h.logon();
    let gap = h.msg_seq("4", 2, "123=Y|36=2");
    let out = h.send(&gap);
    assert_eq!(out[0].msg_type(), "3");
    assert!(out[0].has(373, "5") && out[0].has(371, "36"));
}

#[test]
fn s11a_sequence_reset_moves_inbound_seq_regardless_of_msg_seq_num() {
    let mut h = Harness::new(config());
    h.logon();
    let reset = h.msg_seq("4", 99, "36=50");
    assert!(h.send(&reset).is_empty());
    assert_eq!(h.session.next_in_seq(), 50);
}

#[test]
fn s11c_sequence_reset_backwards_is_rejected() {
    let mut h = Harness::new(config());
    h.logon();
    let reset = h.msg_seq("4", 2, "36=1");
    let out = h.send(&reset);
    assert_eq!(out[0].msg_type(), "3");
    assert!(out[0].has(373, "5") && out[0].has(371, "36"));
    assert_eq!(h.session.next_in_seq(), 2);
}

#[test]
fn s12_logout_initiated_here_waits_for_answer() {
    let mut h = Harness::new(config());
    h.logon();
    let mut actions = Vec::new();
    h.session.logout(b"End of day", h.now_ns, &mut actions);
    let out = h.collect();
    assert_eq!(out[0].msg_type(), "5");
    let answer = h.msg("5", "");
    assert!(h.send(&answer).is_empty());
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LoggedOut));
}

#[test]
fn s12b_logout_unanswered_times_out() {
    let mut h = Harness::new(config());
    h.logon();
    let mut actions = Vec::new();
    h.session.logout(b"End of day", h.now_ns, &mut actions);
    h.tick(6 * SEC);
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LoggedOut));
}

#[test]
fn s13b_logout_from_counterparty_is_answered_then_disconnects() {
    let mut h = Harness::new(config());
    h.logon();
    let logout = h.msg("5", "");
    let out = h.send(&logout);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LoggedOut));
}

fn reject_of(h: &mut Harness, msg_type: &str, fields: &str) -> Out {
    let msg = h.msg(msg_type, fields);
    let out = h.send(&msg);
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!(out[0].msg_type(), "3", "{out:?}");
    out[0].clone()
}

#[test]
fn s14a_undefined_tag_is_rejected_with_reason_0() {
    let mut h = Harness::new(config());
    h.logon();
    let out = reject_of(&mut h, "1", "112=A|4999=x");
    assert!(out.has(373, "0") && out.has(371, "4999"));
}

#[test]
fn s14b_required_tag_missing_is_rejected_with_reason_1() {
    let mut h = Harness::new(config());
    h.logon();
    let out = reject_of(&mut h, "1", "");
    assert!(out.has(373, "1") && out.has(371, "112") && out.has(372, "1"));
}

#[test]
fn s14c_tag_not_defined_for_message_type_is_rejected_with_reason_2() {
    let mut h = Harness::new(config());
    h.logon();
    let out = reject_of(&mut h, "1", "112=A|44=10");
    assert!(out.has(373, "2") && out.has(371, "44"));
}

#[test]
fn s14d_tag_without_value_is_rejected_with_reason_4() {
    let mut h = Harness::new(config());
    h.logon();
    let out = reject_of(&mut h, "1", "112=");
    assert!(out.has(373, "4") && out.has(371, "112"));
}

#[test]
fn s14e_value_out_of_range_is_rejected_with_reason_5() {
    let mut h = Harness::new(config());
    h.logon();
    let fields = format!("11=1|1=A001|55=600519|207=XSHG|54=Z|60={}|38=100|40=2|44=10", ts(T0));
    let out = reject_of(&mut h, "D", &fields);
    assert!(out.has(373, "5") && out.has(371, "54"));
}

#[test]
fn s14f_incorrect_data_format_is_rejected_with_reason_6() {
    let mut h = Harness::new(config());
    h.logon();
    let fields = format!("11=1|1=A001|55=600519|207=XSHG|54=1|60={}|38=abc|40=2|44=10", ts(T0));
    let out = reject_of(&mut h, "D", &fields);
    assert!(out.has(373, "6") && out.has(371, "38"));
}

#[test]
fn s14g_header_field_after_body_is_rejected_with_reason_14() {
    let mut h = Harness::new(config());
    h.logon();
    let out = reject_of(&mut h, "1", "112=A|43=N");
    assert!(out.has(373, "14") && out.has(371, "43"));
}

#[test]
fn s14h_repeated_tag_is_rejected_with_reason_13() {
    let mut h = Harness::new(config());
    h.logon();
    let out = reject_of(&mut h, "1", "112=A|112=B");
    assert!(out.has(373, "13") && out.has(371, "112"));
}

#[test]
fn s14j_num_in_group_mismatch_is_rejected_with_reason_16() {
    let mut h = Harness::new(config());
    h.logon();
    let fields = format!(
        "11=1|1=A001|453=2|448=P1|447=D|452=1|55=600519|207=XSHG|54=1|60={}|38=100|40=2|44=10",
        ts(T0)
    );
    let out = reject_of(&mut h, "D", &fields);
    assert!(out.has(373, "16") && out.has(371, "453"));
}

#[test]
fn s14j_matching_group_is_accepted() {
    let mut h = Harness::new(config());
    h.logon();
    let fields = format!(
        "11=1|1=A001|453=2|448=P1|447=D|452=1|448=P2|447=D|452=3|55=600519|207=XSHG|54=1|60={}|38=100|40=2|44=10",
        ts(T0)
    );
    let msg = h.msg("D", &fields);
    assert!(h.send(&msg).is_empty());
    assert_eq!(h.inputs().len(), 1);
}

#[test]
fn s16_messages_queued_while_disconnected_are_resent_after_logon() {
    use protocol::codec::{AppMessage, OrderAccepted, Sequenced};
    use protocol::{
        AccountId, CreditTag, Market, OrderType, Price, Qty, SecurityId, Side, TimeInForce,
    };
    let mut h = Harness::new(config());
    h.logon();
    h.session.disconnected();
    let accepted = OrderAccepted {
        cl_ord_id: 7,
        order_id: 70,
        account: AccountId::new("A001").unwrap(),
        security: SecurityId::new(Market::Sse, 600_519).unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(15_000_000),
        qty: Qty(100),
        flags: 0,
        credit: CreditTag::Cash,
    };
    h.session
        .on_app(&Sequenced { seq: 1, ts_ns: T0, msg: AppMessage::OrderAccepted(accepted) })
        .unwrap();
    assert!(h.session.outbound().is_empty(), "nothing is sent while disconnected");
    h.session.connect(h.now_ns);
    let out = h.logon();
    assert_eq!(out[0].seq(), 3, "our Logon tells the client it missed seq 2");
    let resend = h.msg("2", "7=2|16=0");
    let out = h.send(&resend);
    assert_eq!(out[0].msg_type(), "8");
    assert!(out[0].has(34, "2") && out[0].has(43, "Y") && out[0].get(122).is_some());
    assert!(out[0].has(11, "7") && out[0].has(150, "0"));
}

#[test]
fn s19_second_logon_on_a_live_session_is_refused() {
    let mut h = Harness::new(config());
    h.logon();
    let again = h.msg("A", "98=0|108=30|553=alice|554=s3cret");
    let out = h.send(&again);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LogonRefused));
}

#[test]
fn second_connection_is_identified_before_it_is_answered() {
    let h = Harness::new(config());
    let logon = h.msg_seq("A", 1, "98=0|108=30");
    let comp_id = fix::session::logon_sender_comp_id(&logon, 4096);
    assert_eq!(comp_id, Some(&b"CLIENT"[..]));
    assert!(h.session.is_connected(), "the gateway refuses a second connection while this holds");
    let hb = h.msg_seq("0", 1, "");
    assert_eq!(fix::session::logon_sender_comp_id(&hb, 4096), None);
}

#[test]
fn s2q_msg_seq_num_missing_logs_out_and_disconnects() {
    let mut h = Harness::new(config());
    h.logon();
    let msg = fix_message(&format!("35=0|49=CLIENT|56=BW|52={}|", ts(T0)));
    let out = h.send(&msg);
    assert_eq!(out[0].msg_type(), "5");
    assert_eq!(out[0].get(58), Some("MsgSeqNum(34) missing or malformed"));
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::SequenceError));
}

#[test]
fn s1h_logon_from_an_unknown_comp_id_is_closed_without_answer() {
    let mut h = Harness::new(config());
    let logon = fix_message(&format!("35=A|49=STRANGER|56=BW|34=1|52={}|98=0|108=30|", ts(T0)));
    assert!(h.send(&logon).is_empty());
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LogonRefused));
}

#[test]
fn s1i_logon_with_encryption_is_refused() {
    let mut h = Harness::new(config());
    let logon = h.msg("A", "98=1|108=30|553=alice|554=s3cret");
    let out = h.send(&logon);
    assert_eq!(out[0].get(58), Some("EncryptMethod(98) must be 0"));
    assert_eq!(disconnect_reason(&h), Some(DisconnectReason::LogonRefused));
}

#[test]
fn inbound_sequence_number_is_reported_as_a_fact_once_per_batch() {
    use fix::session::FactKind;
    let mut h = Harness::new(config());
    h.logon();
    let a = h.msg("0", "");
    let b = h.msg("0", "");
    h.send(&[a, b].concat());
    let inbound: Vec<_> = h
        .facts
        .iter()
        .filter_map(|f| if let FactKind::InboundNext { seq } = f.kind { Some(seq) } else { None })
        .collect();
    assert_eq!(inbound, [2, 4]);
}
