//! Resend and rebuild: ResendRequest is answered with the application messages
//! (PossDupFlag, OrigSendingTime) and GapFills for the administrative ones, and a
//! session rebuilt from the login's stream plus its reported facts answers a
//! ResendRequest byte for byte like the one that lived through the day.

mod util;

use fix::session::{FactKind, Session, SessionFact};
use protocol::RejectCode;
use protocol::codec::{RequestKind, Sequenced};
use util::*;

#[test]
fn s8_resend_request_resends_application_messages_and_gap_fills_admin_ones() {
    let mut h = Harness::new(config());
    h.logon(); // our seq 1: Logon
    let mut stream = Vec::new();
    app(&mut h, &mut stream, accepted(1, 100)); // seq 2
    h.tick(30 * SEC); // seq 3: Heartbeat
    let hb = h.msg("0", "");
    h.send(&hb);
    app(&mut h, &mut stream, executed(1, 7, 15_000_000, 100, 100, 0)); // seq 4
    let resend = h.msg("2", "7=1|16=0");
    let out = h.send(&resend);
    let kinds: Vec<_> = out.iter().map(|m| (m.msg_type().to_owned(), m.seq())).collect();
    assert_eq!(kinds, [("4".into(), 1), ("8".into(), 2), ("4".into(), 3), ("8".into(), 4)]);
    assert!(out[0].has(123, "Y") && out[0].has(36, "2") && out[0].has(43, "Y"));
    assert!(out[1].has(43, "Y") && out[1].has(122, &ts(T0)) && out[1].has(150, "0"));
    assert!(out[2].has(36, "4"));
    assert!(out[3].has(150, "F") && out[3].has(43, "Y"));
}

#[test]
fn s8b_resend_request_with_end_seq_no_resends_only_the_range() {
    let mut h = Harness::new(config());
    h.logon();
    let mut stream = Vec::new();
    for i in 1..=5 {
        app(&mut h, &mut stream, accepted(i, 100));
    }
    let resend = h.msg("2", "7=3|16=4");
    let out = h.send(&resend);
    assert_eq!(out.iter().map(Out::seq).collect::<Vec<_>>(), [3, 4]);
    assert!(out.iter().all(|m| m.has(43, "Y")));
}

#[test]
fn s20_resend_request_while_our_own_is_outstanding_is_answered() {
    let mut h = Harness::new(config());
    h.logon();
    let mut stream = Vec::new();
    app(&mut h, &mut stream, accepted(1, 100));
    // The client skipped ahead (we ask for its gap) and asks us to resend at once.
    let resend = h.msg_seq("2", 4, "7=2|16=0");
    let out = h.send(&resend);
    let kinds: Vec<_> = out.iter().map(|m| m.msg_type().to_owned()).collect();
    assert_eq!(kinds, ["8", "2"]);
    assert!(out[0].has(43, "Y") && out[1].has(7, "2"));
}

#[test]
fn resend_from_before_the_retained_log_logs_out_rather_than_skipping() {
    let mut config = config();
    config.resend_capacity = 4;
    let mut h = Harness::new(config);
    h.logon();
    let mut stream = Vec::new();
    for i in 1..=6 {
        app(&mut h, &mut stream, accepted(i, 100));
    }
    let resend = h.msg("2", "7=1|16=0");
    let out = h.send(&resend);
    assert_eq!(out[0].msg_type(), "5");
    assert!(h.disconnected());
}

/// A trading day: two connections, orders, fills, a cancel reject, heartbeats,
/// a TestRequest, a status request, and a reset in the middle.
fn drive_day(h: &mut Harness, stream: &mut Vec<Sequenced>) {
    h.logon();
    for i in 1..=3 {
        let d = h.msg("D", &new_order_fields(i));
        h.send(&d);
        app(h, stream, accepted(i, 300));
    }
    app(h, stream, executed(1, 100, 15_000_000, 100, 100, 200));
    h.tick(30 * SEC);
    let test = h.msg("1", "112=ping");
    h.send(&test);
    let d = h.msg("D", &new_order_fields(4));
    h.send(&d);
    app(h, stream, rejected(4, RejectCode::INSUFFICIENT_FUNDS));
    app(h, stream, cancel_rejected(50, 9, RequestKind::Cancel));
    let status = h.msg("H", "11=1|1=A001|55=600519|54=1");
    h.send(&status);
    h.session.disconnected();
    // Messages while the client is away, then a reconnect that catches up.
    app(h, stream, executed(1, 101, 15_010_000, 200, 300, 0));
    app(h, stream, canceled(2, 60, 300, 0));
    h.session.connect(h.now_ns);
    h.logon();
    let resend = h.msg("2", "7=1|16=0");
    h.send(&resend);
    app(h, stream, replaced(61, 3, 14_990_000, 200, 200));
    h.tick(31 * SEC);
}

#[test]
fn session_rebuilt_from_stream_and_facts_answers_resend_identically() {
    let mut lived = Harness::new(config());
    let mut stream = Vec::new();
    drive_day(&mut lived, &mut stream);
    assert!(lived.admin_facts() > 5, "the day sent administrative messages");
    assert!(lived.facts.iter().any(|f| matches!(f.kind, FactKind::Input(_))));
    // kill -9: all that is left is the journal.
    let mut rebuilt = Session::rebuild(config(), &lived.facts, &stream).expect("rebuild");
    assert_eq!(rebuilt.next_out_seq(), lived.session.next_out_seq());
    assert_eq!(rebuilt.next_in_seq(), lived.session.next_in_seq());
    assert_eq!(rebuilt.last_stream_seq(), stream.len() as u64);

    let now = lived.now_ns + SEC;
    lived.session.disconnected();
    let answers: Vec<Vec<u8>> = [&mut lived.session, &mut rebuilt]
        .into_iter()
        .map(|session| {
            session.connect(now);
            let client = Harness {
                session: Session::new(config()),
                actions: Vec::new(),
                facts: Vec::new(),
                now_ns: now,
                client_seq: 0,
                facts_from: 0,
            };
            let seq = session.next_in_seq();
            let logon = client.msg_seq("A", seq, "98=0|108=30|553=alice|554=s3cret");
            let resend = client.msg_seq("2", seq + 1, "7=1|16=0");
            let mut actions = Vec::new();
            session.on_bytes(&[logon, resend].concat(), now, &mut actions);
            let mut bytes = session.outbound().to_vec();
            // A long day's resend continues as the io loop drains the buffer.
            while !bytes.is_empty() {
                let n = session.outbound().len();
                session.consume_outbound(n);
                session.on_tick(now, &mut actions);
                if session.outbound().is_empty() {
                    break;
                }
                bytes.extend_from_slice(session.outbound());
            }
            bytes
        })
        .collect();
    let messages = split(&answers[0]);
    let reports = messages.iter().filter(|m| m.msg_type() == "8" && m.has(43, "Y")).count();
    let stream_reports = stream.len(); // every stream message of this day maps to a report
    assert_eq!(reports + messages.iter().filter(|m| m.msg_type() == "9").count(), stream_reports);
    assert!(messages.iter().filter(|m| m.msg_type() != "A").all(|m| m.has(43, "Y")));
    assert_eq!(
        answers[0], answers[1],
        "the rebuilt session resends exactly what the original does"
    );
}

#[test]
fn rebuild_refuses_facts_that_do_not_fit() {
    let mut lived = Harness::new(config());
    let mut stream = Vec::new();
    drive_day(&mut lived, &mut stream);
    let mut facts = lived.facts.clone();
    let first_admin =
        facts.iter().position(|f| matches!(f.kind, FactKind::AdminSent { .. })).unwrap();
    facts.remove(first_admin);
    assert!(Session::rebuild(config(), &facts, &stream).is_err());
}

#[test]
fn a_fresh_session_follows_the_stream_from_where_it_is_told() {
    let mut h = Harness::new(config());
    h.logon();
    // Messages 1..=4 went to a session of an earlier process.
    let mut actions = Vec::new();
    assert!(h.session.follow_stream_from(5, &mut actions));
    let fact = SessionFact { after_stream_seq: 0, kind: FactKind::StreamFrom { seq: 5 } };
    assert_eq!(actions, [fix::Action::Fact(fact)], "reported for the journal");
    let now_ns = h.now_ns;
    let msg = |seq| Sequenced { seq, ts_ns: now_ns, msg: accepted(seq, 100) };
    let gap = h.session.on_app(&msg(7));
    assert!(
        matches!(gap, Err(fix::session::AppError::StreamGap { expected: 5, got: 7 })),
        "{gap:?}"
    );
    h.session.on_app(&msg(5)).expect("the stream's next message");
    let out = h.collect();
    assert_eq!(out.len(), 1, "one ExecutionReport: {out:?}");
    assert!(out[0].has(150, "0") && out[0].has(11, "5"));
    assert!(!h.session.follow_stream_from(9, &mut actions), "only before any stream message");
    assert_eq!(h.session.last_stream_seq(), 5);

    // Rebuilt from the whole stream and that fact, the session skips 1..=4.
    let stream: Vec<Sequenced> = (1..=5).map(msg).collect();
    let rebuilt = Session::rebuild(config(), &[fact], &stream).expect("rebuild");
    assert_eq!(rebuilt.last_stream_seq(), 5);
    // Only message 5 took an outbound number (the Logon's fact is not given here).
    assert_eq!(rebuilt.next_out_seq(), 2, "one report, not five");
}
