//! The session rules driven with virtual time and no sockets: frames go in as
//! the bytes a client sends, the time is whatever the test says it is.

use std::net::{IpAddr, Ipv4Addr};

use protocol::codec::{
    AppMessage, BusinessReject, ClientMessage, Login, NewOrder, PROTOCOL_VERSION, Sequenced,
};
use protocol::query::{Query, QueryKind};
use protocol::{
    AccountId, CreditTag, Market, OrderType, Price, Qty, RejectCode, SecurityId, Side, TimeInForce,
    Token, Username,
};

use super::*;
use crate::outlog::OutLog;

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;

fn limits() -> SessionLimits {
    SessionLimits {
        max_sessions: 8,
        max_pending_logins: 4,
        max_pending_logins_per_address: 2,
        heartbeat_ns: S,
        dead_peer_ns: 5 * S,
        login_timeout_ns: 3 * S,
        backlog_limit_bytes: 1_000,
        rx_buffer_bytes: 4_096,
        socket_send_buffer_bytes: 0,
        max_login_failures: 3,
        login_failure_window_ns: 10 * S,
        login_lockout_ns: 60 * S,
        session_id: 20_241_008,
        max_failing_addresses: 2,
        unreleased_capacity: 16,
        max_queries_per_second: 2,
        max_queries_in_flight: 4,
    }
}

fn name(s: &str) -> Username {
    Username::new(s).unwrap()
}

fn token(b: u8) -> Token {
    Token([b; 32])
}

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
}

/// Two logins, `alice` (token 1) and `bob` (token 2), and the gate over them.
struct Desk {
    logins: Vec<LoginSlot>,
    gate: Gate,
    limits: SessionLimits,
}

impl Desk {
    fn new() -> Desk {
        let limits = limits();
        let logins = vec![
            LoginSlot::new(name("alice"), token(1), OutLog::new(1 << 16, 1 << 10)),
            LoginSlot::new(name("bob"), token(2), OutLog::new(1 << 16, 1 << 10)),
        ];
        let gate = Gate::new(&logins, &limits);
        Desk { logins, gate, limits }
    }

    fn admit(&mut self, now: u64, peer: IpAddr, request: Login) -> Result<Admitted, Refused> {
        self.gate.admit(&mut self.logins, &self.limits, now, peer, &request)
    }

    /// Appends `n` messages to `login`'s stream.
    fn stream(&mut self, login: usize, n: u64) {
        let log = &mut self.logins[login].log;
        for _ in 0..n {
            let seq = log.next_seq();
            let reject = BusinessReject {
                ref_msg_type: 0,
                code: RejectCode::UNEXPECTED_MESSAGE,
                ref_id: seq,
            };
            let msg = Sequenced { seq, ts_ns: seq, msg: AppMessage::BusinessReject(reject) };
            let mut buf = [0u8; 128];
            let len = msg.encode_to_slice(&mut buf).unwrap();
            log.append(seq, &buf[..len]);
        }
    }
}

fn login(user: &str, t: u8, version: u8, next_seq: u64) -> Login {
    Login { version, username: name(user), token: token(t), next_seq }
}

/// The frame a client sends, and what the session makes of it.
fn feed(session: &Session, msg: &ClientMessage) -> FrameAction {
    let mut frame = [0u8; 512];
    let len = msg.encode_to_slice(&mut frame).unwrap();
    session.on_frame(&frame[..len], ClientMessage::decode(&frame[..len]))
}

fn feed_bytes(session: &Session, frame: &[u8]) -> FrameAction {
    session.on_frame(frame, ClientMessage::decode(frame))
}

fn new_order(cl_ord_id: u64) -> ClientMessage {
    ClientMessage::NewOrder(NewOrder {
        cl_ord_id,
        account: AccountId::new("A001").unwrap(),
        security: SecurityId::new(Market::Sse, 600_519).unwrap(),
        side: Side::Buy,
        order_type: OrderType::Limit,
        tif: TimeInForce::Day,
        price: Price(14_000_000),
        qty: Qty(100),
        flags: 0,
        credit: CreditTag::Cash,
    })
}

/// A session logged in as `alice` at `now`, new messages only.
fn live(desk: &mut Desk, now: u64) -> Session {
    live_from(desk, now, 0)
}

/// A session logged in as `alice` at `now`, resuming at `next_seq`.
fn live_from(desk: &mut Desk, now: u64, next_seq: u64) -> Session {
    let mut session = Session::new(now, &desk.limits);
    let FrameAction::Login(request) =
        feed(&session, &ClientMessage::Login(login("alice", 1, PROTOCOL_VERSION, next_seq)))
    else {
        panic!("a Login before login asks the gate")
    };
    let admitted = desk.admit(now, ip(1), request).unwrap();
    desk.logins[0].conn = Some(0);
    session.accept(&admitted, desk.logins[0].log.end_offset());
    session
}

#[test]
fn a_login_is_admitted_and_the_session_goes_live() {
    let mut desk = Desk::new();
    desk.stream(0, 4);
    let mut session = Session::new(0, &desk.limits);
    assert!(session.awaiting_login() && session.login().is_none());
    let action = feed(&session, &ClientMessage::Login(login("alice", 1, PROTOCOL_VERSION, 2)));
    let FrameAction::Login(request) = action else { panic!("{action:?}") };
    let admitted = desk.admit(10 * MS, ip(1), request).unwrap();
    assert_eq!(admitted.login, 0);
    assert_eq!(admitted.start_seq, 2);
    assert_eq!(admitted.replay, 3, "messages 2, 3 and 4 are replayed");
    assert!(admitted.first_today);
    assert_eq!(admitted.version, PROTOCOL_VERSION);
    assert_eq!(desk.logins[0].stream_version(), PROTOCOL_VERSION);
    assert_eq!(Some(admitted.cursor), desk.logins[0].log.offset_of(2));
    let accepted = admitted.accepted(&desk.limits);
    assert_eq!((accepted.heartbeat_ms, accepted.dead_peer_ms), (1_000, 5_000));
    assert_eq!((accepted.session_id, accepted.next_seq), (20_241_008, 2));
    session.accept(&admitted, desk.logins[0].log.end_offset());
    assert_eq!(session.login(), Some(0));
    assert!(session.reads());
    // A second login of the day keeps the stream's version and is no first.
    desk.logins[0].conn = None;
    let again = desk.admit(20 * MS, ip(1), login("alice", 1, PROTOCOL_VERSION, 0)).unwrap();
    assert!(!again.first_today);
    assert_eq!((again.start_seq, again.replay), (5, 0), "next_seq 0: new messages only");
}

#[test]
fn wrong_tokens_lock_the_login_out_until_the_lockout_passes() {
    let mut desk = Desk::new();
    for k in 0..3 {
        let refused = desk.admit(k * S, ip(1), login("alice", 9, 3, 0)).unwrap_err();
        assert_eq!(
            refused,
            Refused { code: RejectCode::INVALID_CREDENTIALS, why: Why::WrongToken }
        );
    }
    // The third failure started a 60 s lockout: even the right token waits.
    let refused = desk.admit(3 * S, ip(1), login("alice", 1, 3, 0)).unwrap_err();
    assert_eq!(refused, Refused { code: RejectCode::LOGIN_THROTTLED, why: Why::LockedOut });
    let refused = desk.admit(2 * S + 60 * S - 1, ip(2), login("alice", 1, 3, 0)).unwrap_err();
    assert_eq!(refused.code, RejectCode::LOGIN_THROTTLED, "from another address too");
    // Another login is not affected.
    assert!(desk.admit(3 * S, ip(1), login("bob", 2, 3, 0)).is_ok());
    assert!(desk.admit(2 * S + 60 * S, ip(1), login("alice", 1, 3, 0)).is_ok());
}

#[test]
fn failures_outside_the_window_do_not_add_up() {
    let mut desk = Desk::new();
    desk.admit(0, ip(1), login("alice", 9, 3, 0)).unwrap_err();
    desk.admit(S, ip(1), login("alice", 9, 3, 0)).unwrap_err();
    // 10 s later the window starts again: this is its first failure, not the third.
    desk.admit(12 * S, ip(1), login("alice", 9, 3, 0)).unwrap_err();
    assert!(desk.admit(12 * S + 1, ip(1), login("alice", 1, 3, 0)).is_ok());
}

#[test]
fn unknown_names_lock_out_their_address_and_the_table_stays_bounded() {
    let mut desk = Desk::new();
    for k in 0..3 {
        let refused = desk.admit(k, ip(1), login("mallory", 1, 3, 0)).unwrap_err();
        assert_eq!(refused.why, Why::UnknownUsername);
    }
    let refused = desk.admit(10, ip(1), login("mallory", 1, 3, 0)).unwrap_err();
    assert_eq!(refused, Refused { code: RejectCode::LOGIN_THROTTLED, why: Why::AddressLockedOut });
    // A known login from that address is judged on its own merits.
    assert!(desk.admit(11, ip(1), login("bob", 2, 3, 0)).is_ok());
    // A second address fills the table (two addresses) and is locked out too.
    for k in 0..3 {
        desk.admit(20 + k, ip(2), login("eve", 1, 3, 0)).unwrap_err();
    }
    // A third address finds every tracked address still counting: it waits, and
    // its attempt resets nobody's count.
    let refused = desk.admit(30, ip(3), login("trudy", 1, 3, 0)).unwrap_err();
    assert_eq!(refused.why, Why::TooManyFailingAddresses);
    // Once the lockouts pass, the table makes room.
    let refused = desk.admit(61 * S, ip(3), login("trudy", 1, 3, 0)).unwrap_err();
    assert_eq!(refused.why, Why::UnknownUsername);
}

#[test]
fn a_live_login_a_market_data_login_and_a_zero_version_are_refused() {
    let mut desk = Desk::new();
    let _session = live(&mut desk, 0);
    let refused = desk.admit(S, ip(2), login("alice", 1, 3, 0)).unwrap_err();
    assert_eq!(refused, Refused { code: RejectCode::ALREADY_LOGGED_IN, why: Why::AlreadyLive });
    desk.logins[1].set_market_data_only(true);
    let refused = desk.admit(S, ip(2), login("bob", 2, 3, 0)).unwrap_err();
    assert_eq!(refused.why, Why::MarketDataOnly);
    desk.logins[1].set_market_data_only(false);
    let refused = desk.admit(S, ip(2), login("bob", 2, 0, 0)).unwrap_err();
    assert_eq!(refused.code, RejectCode::UNSUPPORTED_VERSION);
}

#[test]
fn a_resume_point_must_lie_within_the_stream() {
    let mut desk = Desk::new();
    desk.stream(1, 3);
    let refused = desk.admit(0, ip(1), login("bob", 2, 3, 5)).unwrap_err();
    assert_eq!(refused.why, Why::SequenceAhead, "the stream's next is 4");
    let at_end = desk.admit(0, ip(1), login("bob", 2, 3, 4)).unwrap();
    assert_eq!((at_end.start_seq, at_end.replay), (4, 0));
    desk.logins[1].conn = None;
    let whole = desk.admit(0, ip(1), login("bob", 2, 3, 1)).unwrap();
    assert_eq!((whole.start_seq, whole.replay, whole.cursor), (1, 3, 0));
}

#[test]
fn a_streams_version_is_fixed_by_its_first_login_of_the_day() {
    let mut desk = Desk::new();
    let first = desk.admit(0, ip(1), login("bob", 2, 2, 0)).unwrap();
    assert_eq!(first.version, 2);
    desk.logins[1].conn = None;
    // A newer client gets today's version; an older one is refused.
    assert_eq!(desk.admit(0, ip(1), login("bob", 2, 3, 0)).unwrap().version, 2);
    desk.logins[1].conn = None;
    let refused = desk.admit(0, ip(1), login("bob", 2, 1, 0)).unwrap_err();
    assert_eq!(refused.why, Why::StreamVersion { stream: 2, client: 1 });
    assert_eq!(
        refused.why.to_string(),
        "this login's stream is version 2 today, the client speaks 1"
    );
    // A client newer than the server speaks the server's version.
    let newer = desk.admit(0, ip(1), login("alice", 1, PROTOCOL_VERSION + 1, 0)).unwrap();
    assert_eq!(newer.version, PROTOCOL_VERSION);
}

#[test]
fn before_login_only_a_login_is_taken() {
    let session = Session::new(0, &limits());
    let action = feed(&session, &new_order(1));
    let want = Refused { code: RejectCode::NOT_LOGGED_IN, why: Why::BeforeLogin };
    assert_eq!(action, FrameAction::Refuse(want));
    assert_eq!(feed(&session, &ClientMessage::Heartbeat), FrameAction::Refuse(want));
    // A frame of an unknown type: refused with the decoder's code.
    let action = feed_bytes(&session, &[1, 0, 0xEE]);
    let FrameAction::Refuse(refused) = action else { panic!("{action:?}") };
    assert!(matches!(refused.why, Why::Malformed(_)), "{refused:?}");
    assert_ne!(refused.code, RejectCode::NOT_LOGGED_IN);
    // A Login of a version this server cannot decode.
    let mut frame = [0u8; 128];
    let len = ClientMessage::Login(login("alice", 1, 3, 0)).encode_to_slice(&mut frame).unwrap();
    let version_at = 3;
    frame[version_at] = 0;
    let decoded = ClientMessage::decode(&frame[..len]);
    assert_eq!(decoded, Err(protocol::codec::DecodeError::BadVersion(0)));
    let want = Refused { code: RejectCode::UNSUPPORTED_VERSION, why: Why::BadVersion };
    assert_eq!(session.on_frame(&frame[..len], decoded), FrameAction::Refuse(want));
}

#[test]
fn a_live_sessions_frames_become_inputs() {
    let mut desk = Desk::new();
    let session = live(&mut desk, 0);
    let action = feed(&session, &new_order(7));
    let FrameAction::Input(Input::NewOrder { login: who, order }) = action else {
        panic!("{action:?}")
    };
    assert_eq!((who, order.cl_ord_id), (0, 7));
    assert_eq!(feed(&session, &ClientMessage::Heartbeat), FrameAction::Nothing);
    assert_eq!(feed(&session, &ClientMessage::Logout), FrameAction::Logout);
    // A second Login is rejected in the stream, not by ending the session.
    let action = feed(&session, &ClientMessage::Login(login("alice", 1, 3, 0)));
    let want = Input::Malformed {
        login: 0,
        ref_msg_type: protocol::codec::msg_type::LOGIN,
        code: RejectCode::UNEXPECTED_MESSAGE,
        ref_id: 0,
    };
    assert_eq!(action, FrameAction::Input(want));
    // A NewOrder cut short: rejected in the stream with its client id.
    let mut frame = [0u8; 512];
    let len = new_order(0x0102_0304).encode_to_slice(&mut frame).unwrap();
    let short = len - 4;
    frame[..2].copy_from_slice(&((short - 2) as u16).to_le_bytes());
    let action = feed_bytes(&session, &frame[..short]);
    let FrameAction::Malformed { login: who, ref_msg_type, ref_id, error } = action else {
        panic!("{action:?}")
    };
    assert_eq!((who, ref_msg_type), (0, protocol::codec::msg_type::NEW_ORDER));
    assert_eq!(ref_id, 0x0102_0304);
    let Some(Input::Malformed { code, .. }) = action.malformed_input() else {
        panic!("a malformed frame is rejected in the stream")
    };
    assert_eq!(code, error.reject_code());
    assert_eq!(FrameAction::Logout.malformed_input(), None);
    // A query goes to its own checks.
    let account = AccountId::new("A001").unwrap();
    let query =
        Query { query_id: 1, kind: QueryKind::Funds, account, cursor: 0, page_size: 0, flags: 0 };
    assert_eq!(feed(&session, &ClientMessage::Query(query)), FrameAction::Query(query));
}

#[test]
fn a_heartbeat_falls_due_after_a_second_without_sending() {
    let mut desk = Desk::new();
    let mut session = live(&mut desk, 0);
    let l = desk.limits.clone();
    session.received(900 * MS);
    assert_eq!(session.on_timer(S - 1, &l), TimerAction::Nothing);
    assert_eq!(session.on_timer(S, &l), TimerAction::Heartbeat);
    // Sending anything (a message or the heartbeat) moves it a second on.
    session.sent(S);
    session.received(1_900 * MS);
    assert_eq!(session.on_timer(2 * S - 1, &l), TimerAction::Nothing);
    assert_eq!(session.on_timer(2 * S, &l), TimerAction::Heartbeat);
}

#[test]
fn a_silent_peer_is_dead_after_the_timeout_whatever_we_send() {
    let mut desk = Desk::new();
    let mut session = live(&mut desk, 0);
    let l = desk.limits.clone();
    session.received(S);
    for t in (S..6 * S).step_by(S as usize / 2) {
        session.sent(t);
        assert_eq!(session.on_timer(t, &l), TimerAction::Nothing, "at {t} ns");
    }
    assert_eq!(session.on_timer(6 * S, &l), TimerAction::DeadPeer { silent_ns: 5 * S });
    // What the client sends keeps it alive.
    session.received(6 * S);
    assert_eq!(session.on_timer(6 * S, &l), TimerAction::Nothing);
}

#[test]
fn a_connection_without_a_login_in_time_is_ended() {
    let l = limits();
    let mut session = Session::new(5 * S, &l);
    assert_eq!(session.on_timer(8 * S - 1, &l), TimerAction::Nothing);
    assert_eq!(session.on_timer(8 * S, &l), TimerAction::LoginTimedOut);
    session.login_timed_out();
    assert!(!session.reads());
    let eos = session.end_of_session(99).unwrap();
    assert_eq!((eos.reason, eos.last_seq), (RejectCode::LOGIN_TIMEOUT, 0));
}

#[test]
fn an_ending_session_reads_nothing_and_ends_with_its_last_sequence() {
    let mut desk = Desk::new();
    let mut session = live(&mut desk, 0);
    let l = desk.limits.clone();
    assert_eq!(session.end(RejectCode::LOGGED_OUT, 7), Some(0), "the engine hears of alice");
    assert_eq!(session.drain_after_input, 7);
    assert!(!session.reads());
    assert_eq!(session.login(), Some(0), "its stream is still sent");
    assert_eq!(feed(&session, &new_order(8)), FrameAction::Nothing);
    let eos = session.end_of_session(42).unwrap();
    assert_eq!((eos.reason, eos.last_seq), (RejectCode::LOGGED_OUT, 42));
    // Ending again changes nothing.
    assert_eq!(session.end(RejectCode::SHUTTING_DOWN, 9), None);
    assert_eq!(session.end_of_session(42).unwrap().reason, RejectCode::LOGGED_OUT);
    // A peer that does not read its end is cut off after the dead-peer timeout.
    session.sent(S);
    assert_eq!(session.on_timer(6 * S - 1, &l), TimerAction::Nothing);
    assert_eq!(session.on_timer(6 * S, &l), TimerAction::DrainStalled);
    // A refused login sends LoginRejected only.
    let mut refused = Session::new(0, &l);
    refused.refuse(RejectCode::INVALID_CREDENTIALS);
    assert!(refused.end_of_session(0).is_none());
    assert!(!refused.reads());
}

#[test]
fn a_client_that_does_not_read_is_cut_off_past_the_backlog_limit() {
    let mut desk = Desk::new();
    desk.stream(0, 50);
    let replay_end = desk.logins[0].log.end_offset();
    let mut session = live_from(&mut desk, 0, 1);
    let l = desk.limits.clone();
    // It resumed at 1: the replay does not count against the limit.
    assert_eq!(session.cursor, 0);
    assert_eq!(session.replay_end, replay_end);
    assert!(!session.over_backlog(replay_end, 0, &l));
    assert!(!session.over_backlog(replay_end + 1_000, 0, &l));
    assert!(session.over_backlog(replay_end + 1_001, 0, &l));
    // Past the replay, what it has not read counts.
    session.cursor = replay_end + 500;
    assert_eq!(session.backlog(replay_end + 1_501), 1_001);
    assert!(session.over_backlog(replay_end + 1_501, 0, &l));
    assert!(!session.over_backlog(replay_end + 1_500, 0, &l));
    // A cursor the log no longer holds is cut off whatever the backlog.
    assert!(session.over_backlog(replay_end + 500, replay_end + 501, &l));
}

#[test]
fn queries_are_checked_for_version_account_page_and_rate() {
    let mut desk = Desk::new();
    let l = desk.limits.clone();
    let account = AccountId::new("A001").unwrap();
    let funds =
        Query { query_id: 1, kind: QueryKind::Funds, account, cursor: 0, page_size: 0, flags: 0 };
    let slot = &mut desk.logins[0];
    slot.set_stream_version(2);
    assert_eq!(Gate::check_query(slot, &l, 0, &funds), Some(RejectCode::QUERY_NEEDS_VERSION_3));
    slot.set_stream_version(3);
    assert_eq!(Gate::check_query(slot, &l, 0, &funds), Some(RejectCode::ACCOUNT_NOT_PERMITTED));
    slot.set_accounts(vec![account]);
    assert_eq!(Gate::check_query(slot, &l, 0, &funds), None);
    assert_eq!(Gate::check_query(slot, &l, 10 * MS, &funds), None);
    assert_eq!(
        Gate::check_query(slot, &l, 20 * MS, &funds),
        Some(RejectCode::QUERY_RATE_LIMITED),
        "two a second"
    );
    assert_eq!(Gate::check_query(slot, &l, S, &funds), None, "a new second");
    let too_big = Query { kind: QueryKind::Orders, page_size: u8::MAX, ..funds };
    assert_eq!(Gate::check_query(slot, &l, 2 * S, &too_big), Some(RejectCode::BAD_PAGE_SIZE));
}
