//! The FIX 4.4 session layer as a state machine: bytes and `now_ns` in, actions
//! and bytes to send out.
//!
//! One [`Session`] is one counterparty's FIX session for the trading day: its
//! sequence numbers, resend log and order cache outlive connections. The io loop
//! calls [`Session::connect`] when a connection for this counterparty opens,
//! [`Session::on_bytes`] with what it reads, [`Session::on_tick`] on a timer,
//! [`Session::on_app`] with every AppMessage of the login's stream, and sends what
//! [`Session::outbound`] holds. Every outbound buffer and table is sized from the
//! configuration at creation; the steady state allocates nothing.
//!
//! Durability: the session's state is rebuilt exactly from the login's stream of
//! AppMessages plus the [`SessionFact`]s it reported (see [`Session::rebuild`] and
//! `docs/fix.md`).

use protocol::Seq;
use protocol::codec::Sequenced;

use crate::config::SessionConfig;
use crate::dict::{self, Violation, reason};
use crate::encode::Encoder;
use crate::field;
use crate::frame::{self, Scan};
use crate::inbound::{self, Input};
use crate::message::{FieldPos, Message, ParseError, parse_into};
use crate::orders::OrderCache;
use crate::outbound;
use crate::resend::{ResendLog, Sent};
use crate::{BEGIN_STRING, tag};

/// Room one outbound message may take; the session stops reading input while the
/// outbound buffer has less than two of these free.
fn message_room(config: &SessionConfig) -> usize {
    config.max_message_len + 512
}

/// Something the io loop must do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Action {
    /// Hand this input to the engine (and journal it).
    Input(Input),
    /// Journal this fact: the session is rebuilt from these and the stream.
    Fact(SessionFact),
    /// The counterparty logged on: the login is live on this connection.
    LoggedOn,
    /// Close the connection (any Logout is already in the outbound buffer).
    Disconnect(DisconnectReason),
}

/// Why the session closes the connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DisconnectReason {
    /// The first message was not a Logon.
    NotLogon,
    /// The Logon was refused (credentials, CompIDs, HeartBtInt, sequence number).
    LogonRefused,
    /// No Logon within the logon timeout.
    LogonTimeout,
    /// BeginString is not FIX.4.4.
    WrongBeginString,
    /// MsgSeqNum lower than expected without PossDupFlag, or missing.
    SequenceError,
    /// SenderCompID or TargetCompID is wrong.
    CompIdProblem,
    /// SendingTime is outside the configured tolerance.
    SendingTimeAccuracy,
    /// No answer to a TestRequest.
    NoHeartbeat,
    /// The Logout handshake ended (or timed out).
    LoggedOut,
    /// A ResendRequest asked for messages older than the resend log holds.
    ResendUnavailable,
}

/// A change that the AppMessage stream does not explain, reported for the journal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SessionFact {
    /// The last stream sequence number the session had seen when this happened:
    /// a rebuild applies the fact after that stream message and before the next.
    pub after_stream_seq: Seq,
    /// What happened.
    pub kind: FactKind,
}

/// The kinds of [`SessionFact`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FactKind {
    /// Both sequence numbers were reset to 1 (Logon with ResetSeqNumFlag).
    Reset,
    /// An outbound message not from the stream took sequence number `seq`.
    AdminSent {
        /// Its MsgSeqNum.
        seq: u64,
    },
    /// The next inbound MsgSeqNum expected is now `seq`.
    InboundNext {
        /// The next expected MsgSeqNum.
        seq: u64,
    },
    /// An input was handed to the engine (the order cache learns from it).
    Input(Input),
    /// The session started following the stream at `seq` (not at 1): the
    /// messages before it were for an earlier process's session.
    StreamFrom {
        /// The first stream message the session takes.
        seq: Seq,
    },
}

/// Why `on_app` did not take a message.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum AppError {
    /// The outbound buffer is full or a resend is in progress: offer it again
    /// after the io loop has sent what is pending.
    #[error("outbound buffer full; retry after sending")]
    Full,
    /// The message's stream sequence number skips one.
    #[error("stream sequence gap: expected {expected}, got {got}")]
    StreamGap {
        /// The next stream sequence number the session expects.
        expected: Seq,
        /// The one offered.
        got: Seq,
    },
}

/// Why a rebuild failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum RebuildError {
    /// A fact names an outbound sequence number other than the next one.
    #[error("fact names outbound seq {fact}, the session is at {session}")]
    SeqMismatch {
        /// In the fact.
        fact: u64,
        /// In the session.
        session: u64,
    },
    /// The stream skips a sequence number.
    #[error(transparent)]
    App(#[from] AppError),
    /// A `StreamFrom` fact came after the session had taken stream messages.
    #[error("fact starts the stream at {seq}, the session is past {last}")]
    StreamFrom {
        /// In the fact.
        seq: Seq,
        /// The session's last stream message.
        last: Seq,
    },
}

/// The connection's state.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Conn {
    /// No connection.
    Down,
    /// Connected, waiting for Logon since the time given.
    AwaitingLogon(u64),
    /// Logged on.
    Active,
    /// We sent Logout at the time given and wait for the answer.
    LogoutSent(u64),
}

/// A ResendRequest being answered: the next sequence number to resend and the last.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Resend {
    next: u64,
    end: u64,
}

/// One counterparty's FIX session.
#[derive(Debug)]
pub struct Session {
    config: SessionConfig,
    conn: Conn,
    next_out_seq: u64,
    next_in_seq: u64,
    reported_in_seq: u64,
    last_stream_seq: Seq,
    heartbeat_ns: u64,
    last_recv_ns: u64,
    last_sent_ns: u64,
    test_request_at: Option<u64>,
    gap_requested_to: Option<u64>,
    resend: Option<Resend>,
    rx: Vec<u8>,
    fields: Vec<FieldPos>,
    out: Vec<u8>,
    log: ResendLog,
    orders: OrderCache,
}

impl Session {
    /// A session at the start of the day: sequence numbers at 1, nothing sent.
    pub fn new(config: SessionConfig) -> Session {
        dict::dictionary(); // Built now rather than on the first message.
        let room = message_room(&config);
        assert!(config.outbound_capacity >= 4 * room, "outbound_capacity must hold four messages");
        Session {
            conn: Conn::Down,
            next_out_seq: 1,
            next_in_seq: 1,
            reported_in_seq: 1,
            last_stream_seq: 0,
            heartbeat_ns: 30_000_000_000,
            last_recv_ns: 0,
            last_sent_ns: 0,
            test_request_at: None,
            gap_requested_to: None,
            resend: None,
            rx: Vec::with_capacity(2 * config.max_message_len),
            fields: Vec::with_capacity(config.max_fields),
            out: Vec::with_capacity(config.outbound_capacity),
            log: ResendLog::new(config.resend_capacity),
            orders: OrderCache::new(config.order_cache_capacity),
            config,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// True while a connection is attached (logging on, logged on or logging out):
    /// the gateway refuses a second connection for this counterparty meanwhile.
    pub fn is_connected(&self) -> bool {
        self.conn != Conn::Down
    }

    /// True once the counterparty is logged on.
    pub fn is_logged_on(&self) -> bool {
        matches!(self.conn, Conn::Active | Conn::LogoutSent(_))
    }

    /// The MsgSeqNum our next message will carry.
    pub fn next_out_seq(&self) -> u64 {
        self.next_out_seq
    }

    /// The MsgSeqNum we expect next from the counterparty.
    pub fn next_in_seq(&self) -> u64 {
        self.next_in_seq
    }

    /// The last stream sequence number taken by `on_app`.
    pub fn last_stream_seq(&self) -> Seq {
        self.last_stream_seq
    }

    /// The order cache (read-only).
    pub fn orders(&self) -> &OrderCache {
        &self.orders
    }

    /// Bytes waiting to be sent.
    pub fn outbound(&self) -> &[u8] {
        &self.out
    }

    /// Forgets the first `n` bytes of [`Self::outbound`] once they are written to
    /// the socket.
    pub fn consume_outbound(&mut self, n: usize) {
        let n = n.min(self.out.len());
        self.out.drain(..n);
    }

    /// A connection for this counterparty opened at `now_ns`.
    pub fn connect(&mut self, now_ns: u64) {
        self.conn = Conn::AwaitingLogon(now_ns);
        self.rx.clear();
        self.out.clear();
        self.resend = None;
        self.test_request_at = None;
        self.gap_requested_to = None;
        self.last_recv_ns = now_ns;
        self.last_sent_ns = now_ns;
    }

    /// The connection closed (the io loop saw it go, or acted on a Disconnect).
    pub fn disconnected(&mut self) {
        self.conn = Conn::Down;
        self.rx.clear();
        self.out.clear();
        self.resend = None;
    }

    fn disconnect(&mut self, why: DisconnectReason, actions: &mut Vec<Action>) {
        self.conn = Conn::Down;
        self.resend = None;
        self.rx.clear();
        actions.push(Action::Disconnect(why));
    }

    fn fact(&self, kind: FactKind, actions: &mut Vec<Action>) {
        actions.push(Action::Fact(SessionFact { after_stream_seq: self.last_stream_seq, kind }));
    }

    fn room_for_one(&self) -> bool {
        self.out.capacity() - self.out.len() >= message_room(&self.config)
    }

    /// Room for the answers to one more input message (at most two messages:
    /// Reject and Logout, Logon and ResendRequest, or a resend that stops with one
    /// room left and a ResendRequest).
    fn room_left(&self) -> bool {
        self.out.capacity() - self.out.len() >= 2 * message_room(&self.config)
    }

    // -----------------------------------------------------------------------
    // Input bytes
    // -----------------------------------------------------------------------

    /// Takes bytes read from the connection; returns how many it took. It takes
    /// fewer than offered only while the outbound buffer is too full to answer
    /// (back-pressure: send, then offer the rest again).
    pub fn on_bytes(&mut self, bytes: &[u8], now_ns: u64, actions: &mut Vec<Action>) -> usize {
        let mut taken = 0;
        loop {
            self.drain_frames(now_ns, actions);
            if taken == bytes.len() || self.conn == Conn::Down {
                break;
            }
            let free = self.rx.capacity() - self.rx.len();
            if free == 0 {
                break;
            }
            let n = free.min(bytes.len() - taken);
            self.rx.extend_from_slice(&bytes[taken..taken + n]);
            taken += n;
            self.last_recv_ns = now_ns;
        }
        self.report_inbound_seq(actions);
        if self.conn == Conn::Down { bytes.len() } else { taken }
    }

    fn report_inbound_seq(&mut self, actions: &mut Vec<Action>) {
        if self.reported_in_seq != self.next_in_seq {
            self.reported_in_seq = self.next_in_seq;
            self.fact(FactKind::InboundNext { seq: self.next_in_seq }, actions);
        }
    }

    fn drain_frames(&mut self, now_ns: u64, actions: &mut Vec<Action>) {
        let rx = core::mem::take(&mut self.rx);
        let mut start = 0;
        while self.conn != Conn::Down && self.room_left() && self.resend.is_none() {
            match frame::scan(&rx[start..], self.config.max_message_len) {
                Scan::Incomplete => break,
                // Garbled: ignored, no answer, MsgSeqNum not counted (FIX session spec).
                Scan::Garbled { skip, .. } => start += skip,
                Scan::Message { len, begin_string } => {
                    let msg = &rx[start..start + len];
                    let begin = &msg[begin_string.0..begin_string.1];
                    start += len;
                    self.on_message(msg, begin, now_ns, actions);
                }
            }
        }
        self.rx = rx;
        if self.conn == Conn::Down {
            self.rx.clear();
        } else {
            self.rx.drain(..start);
        }
    }

    fn on_message(&mut self, bytes: &[u8], begin: &[u8], now_ns: u64, actions: &mut Vec<Action>) {
        let mut fields = core::mem::take(&mut self.fields);
        let parsed = parse_into(bytes, &mut fields, self.config.max_fields);
        let msg = Message::new(bytes, &fields);
        match parsed {
            Ok(()) => self.on_parsed(&msg, begin, now_ns, actions),
            Err(ParseError::TooManyFields { .. }) => self.on_too_many_fields(&msg, now_ns, actions),
            // The framer ends every message with a SOH, so this does not happen.
            Err(ParseError::Field(_)) => {}
        }
        self.fields = fields;
    }

    fn on_too_many_fields(&mut self, msg: &Message<'_>, now_ns: u64, actions: &mut Vec<Action>) {
        let seq = msg.read(tag::MSG_SEQ_NUM, field::get_u64).ok().flatten();
        if self.is_logged_on() && seq == Some(self.next_in_seq) {
            let violation = Violation { reason: reason::OTHER, ref_tag: None };
            self.send_reject(msg, self.next_in_seq, violation, b"Too many fields", now_ns, actions);
            self.next_in_seq += 1;
        }
    }

    /// The checks every message goes through, in the order of the FIX session
    /// specification, then dispatch by MsgType.
    fn on_parsed(
        &mut self,
        msg: &Message<'_>,
        begin: &[u8],
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        let logon = msg.msg_type() == b"A";
        if begin != BEGIN_STRING {
            self.send_logout(b"Incorrect BeginString", now_ns, actions);
            return self.disconnect(DisconnectReason::WrongBeginString, actions);
        }
        if matches!(self.conn, Conn::AwaitingLogon(_)) && !logon {
            return self.disconnect(DisconnectReason::NotLogon, actions);
        }
        let Ok(Some(seq)) = msg.read(tag::MSG_SEQ_NUM, field::get_u64) else {
            if self.is_logged_on() {
                self.send_logout(b"MsgSeqNum(34) missing or malformed", now_ns, actions);
            }
            return self.disconnect(DisconnectReason::SequenceError, actions);
        };
        if !self.comp_ids_ok(msg) {
            return self.on_comp_id_problem(msg, seq, logon, now_ns, actions);
        }
        if !self.sending_time_ok(msg, now_ns) {
            return self.on_sending_time_problem(msg, seq, logon, now_ns, actions);
        }
        if logon {
            return self.on_logon(msg, seq, now_ns, actions);
        }
        if msg.msg_type() == b"4" && msg.get(tag::GAP_FILL_FLAG) != Some(b"Y") {
            return self.on_sequence_reset(msg, seq, now_ns, actions);
        }
        self.on_sequenced(msg, seq, now_ns, actions);
    }

    fn comp_ids_ok(&self, msg: &Message<'_>) -> bool {
        msg.get(tag::SENDER_COMP_ID) == Some(self.config.login.comp_id.as_bytes())
            && msg.get(tag::TARGET_COMP_ID) == Some(self.config.sender_comp_id.as_bytes())
    }

    fn on_comp_id_problem(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        logon: bool,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        if logon {
            return self.disconnect(DisconnectReason::LogonRefused, actions);
        }
        let ref_tag = if msg.get(tag::SENDER_COMP_ID) == Some(self.config.login.comp_id.as_bytes())
        {
            tag::TARGET_COMP_ID
        } else {
            tag::SENDER_COMP_ID
        };
        let violation = Violation { reason: reason::COMP_ID_PROBLEM, ref_tag: Some(ref_tag) };
        self.send_reject(msg, seq, violation, b"CompID problem", now_ns, actions);
        self.next_in_seq = self.next_in_seq.max(seq + 1);
        self.send_logout(b"CompID problem", now_ns, actions);
        self.disconnect(DisconnectReason::CompIdProblem, actions);
    }

    fn sending_time_ok(&self, msg: &Message<'_>, now_ns: u64) -> bool {
        match msg.read(tag::SENDING_TIME, field::get_utc_timestamp_ns) {
            Ok(Some(sent_ns)) => sent_ns.abs_diff(now_ns) <= self.config.sending_time_tolerance_ns,
            // Missing or malformed: validation rejects it with the right reason.
            _ => true,
        }
    }

    fn on_sending_time_problem(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        logon: bool,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        if logon {
            self.send_logout(b"SendingTime accuracy problem", now_ns, actions);
            return self.disconnect(DisconnectReason::LogonRefused, actions);
        }
        let violation =
            Violation { reason: reason::SENDING_TIME_ACCURACY, ref_tag: Some(tag::SENDING_TIME) };
        self.send_reject(msg, seq, violation, b"SendingTime accuracy problem", now_ns, actions);
        self.next_in_seq = self.next_in_seq.max(seq + 1);
        self.send_logout(b"SendingTime accuracy problem", now_ns, actions);
        self.disconnect(DisconnectReason::SendingTimeAccuracy, actions);
    }

    /// Sequence-number checks for everything but Logon and SequenceReset-Reset.
    fn on_sequenced(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        let poss_dup = msg.get(tag::POSS_DUP_FLAG) == Some(b"Y");
        if seq < self.next_in_seq {
            if poss_dup {
                return; // A duplicate already processed: ignored.
            }
            let mut text = [0u8; 96];
            let n = too_low_text(self.next_in_seq, seq, &mut text);
            self.send_logout(&text[..n], now_ns, actions);
            return self.disconnect(DisconnectReason::SequenceError, actions);
        }
        if seq > self.next_in_seq {
            return self.on_gap(msg, seq, now_ns, actions);
        }
        if poss_dup && let Some(violation) = orig_sending_time_violation(msg) {
            self.send_reject(msg, seq, violation, b"OrigSendingTime problem", now_ns, actions);
            self.next_in_seq += 1;
            return;
        }
        self.on_in_sequence(msg, seq, now_ns, actions);
    }

    /// MsgSeqNum higher than expected: ask for the gap once, and act on the few
    /// messages that must not wait (Logout, ResendRequest).
    fn on_gap(&mut self, msg: &Message<'_>, seq: u64, now_ns: u64, actions: &mut Vec<Action>) {
        match msg.msg_type() {
            b"5" => {
                self.send_logout(b"", now_ns, actions);
                return self.disconnect(DisconnectReason::LoggedOut, actions);
            }
            b"2" if dict::dictionary().validate(msg).is_ok() => {
                self.on_resend_request(msg, now_ns, actions)
            }
            _ => {}
        }
        self.request_gap(seq, now_ns, actions);
    }

    fn request_gap(&mut self, seq: u64, now_ns: u64, actions: &mut Vec<Action>) {
        if self.gap_requested_to.is_some_and(|to| to >= self.next_in_seq) {
            return; // Already asked; the messages after the gap come again in the resend.
        }
        self.gap_requested_to = Some(seq);
        let begin = self.next_in_seq;
        self.send_admin(b"2", now_ns, actions, |enc| {
            enc.u64(tag::BEGIN_SEQ_NO, begin);
            enc.u64(tag::END_SEQ_NO, 0);
        });
    }

    fn on_in_sequence(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        let msg_type = msg.msg_type();
        let Some(def) = dict::dictionary().message(msg_type) else {
            self.next_in_seq += 1;
            return self.on_unsupported(msg, seq, now_ns, actions);
        };
        if let Err(violation) = dict::dictionary().validate(msg) {
            self.send_reject(msg, seq, violation, b"", now_ns, actions);
            self.next_in_seq += 1;
            return;
        }
        if def.msg_type == "4" {
            return self.on_gap_fill(msg, seq, now_ns, actions);
        }
        self.next_in_seq += 1;
        match msg_type {
            b"0" => self.on_heartbeat(msg),
            b"1" => self.on_test_request(msg, now_ns, actions),
            b"2" => self.on_resend_request(msg, now_ns, actions),
            b"3" => {}
            b"5" => self.on_logout(now_ns, actions),
            b"H" => self.on_status_request(msg, seq, now_ns, actions),
            _ => self.on_application(msg, seq, now_ns, actions),
        }
    }

    fn on_unsupported(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        let msg_type = msg.msg_type();
        if !dict::is_defined_msg_type(msg_type) || is_admin_type(msg_type) {
            let violation =
                Violation { reason: reason::INVALID_MSG_TYPE, ref_tag: Some(tag::MSG_TYPE) };
            return self.send_reject(msg, seq, violation, b"Invalid MsgType", now_ns, actions);
        }
        self.send_admin(b"j", now_ns, actions, |enc| {
            enc.u64(tag::REF_SEQ_NUM, seq);
            enc.bytes(tag::REF_MSG_TYPE, msg_type);
            enc.u64(tag::BUSINESS_REJECT_REASON, 3);
            enc.bytes(tag::TEXT, b"Unsupported message type");
        });
    }

    // -----------------------------------------------------------------------
    // Session messages
    // -----------------------------------------------------------------------

    fn on_logon(&mut self, msg: &Message<'_>, seq: u64, now_ns: u64, actions: &mut Vec<Action>) {
        if self.is_logged_on() {
            self.send_logout(b"Logon received while logged on", now_ns, actions);
            return self.disconnect(DisconnectReason::LogonRefused, actions);
        }
        if let Err(text) = self.check_logon(msg) {
            self.send_logout(text, now_ns, actions);
            return self.disconnect(DisconnectReason::LogonRefused, actions);
        }
        let reset = msg.get(tag::RESET_SEQ_NUM_FLAG) == Some(b"Y");
        if reset {
            self.reset_sequences(actions);
        } else if seq < self.next_in_seq {
            let mut text = [0u8; 96];
            let n = too_low_text(self.next_in_seq, seq, &mut text);
            self.send_logout(&text[..n], now_ns, actions);
            return self.disconnect(DisconnectReason::SequenceError, actions);
        }
        let heartbeat_s = msg.read(tag::HEART_BT_INT, field::get_u64).ok().flatten().unwrap_or(30);
        self.heartbeat_ns = heartbeat_s * 1_000_000_000;
        self.conn = Conn::Active;
        self.send_admin(b"A", now_ns, actions, |enc| {
            enc.u64(tag::ENCRYPT_METHOD, 0);
            enc.u64(tag::HEART_BT_INT, heartbeat_s);
            if reset {
                enc.bool(tag::RESET_SEQ_NUM_FLAG, true);
            }
        });
        actions.push(Action::LoggedOn);
        if seq == self.next_in_seq {
            self.next_in_seq += 1;
        } else if seq > self.next_in_seq {
            self.request_gap(seq, now_ns, actions);
        }
    }

    /// Dictionary, EncryptMethod, HeartBtInt and credentials; the Logout text on failure.
    fn check_logon(&self, msg: &Message<'_>) -> Result<(), &'static [u8]> {
        if dict::dictionary().validate(msg).is_err() {
            return Err(b"Invalid Logon");
        }
        if msg.get(tag::ENCRYPT_METHOD) != Some(b"0") {
            return Err(b"EncryptMethod(98) must be 0");
        }
        let heartbeat_s =
            msg.read(tag::HEART_BT_INT, field::get_u64).ok().flatten().unwrap_or(u64::MAX);
        if !(self.config.heartbeat_s_min..=self.config.heartbeat_s_max).contains(&heartbeat_s) {
            return Err(b"HeartBtInt(108) out of range");
        }
        let login = &self.config.login;
        let matches = |expected: &Option<String>, tag| match expected {
            None => true,
            Some(e) => msg.get(tag).is_some_and(|v| constant_time_eq(v, e.as_bytes())),
        };
        if !matches(&login.username, tag::USERNAME) || !matches(&login.password, tag::PASSWORD) {
            return Err(b"Invalid credentials");
        }
        Ok(())
    }

    fn reset_sequences(&mut self, actions: &mut Vec<Action>) {
        self.next_out_seq = 1;
        self.next_in_seq = 1;
        self.log.reset(1);
        self.fact(FactKind::Reset, actions);
    }

    fn on_heartbeat(&mut self, msg: &Message<'_>) {
        if msg.get(tag::TEST_REQ_ID).is_some() {
            self.test_request_at = None;
        }
    }

    fn on_test_request(&mut self, msg: &Message<'_>, now_ns: u64, actions: &mut Vec<Action>) {
        let id = msg.get(tag::TEST_REQ_ID).unwrap_or(b"");
        self.send_admin(b"0", now_ns, actions, |enc| enc.bytes(tag::TEST_REQ_ID, id));
    }

    fn on_logout(&mut self, now_ns: u64, actions: &mut Vec<Action>) {
        if !matches!(self.conn, Conn::LogoutSent(_)) {
            self.send_logout(b"", now_ns, actions);
        }
        self.disconnect(DisconnectReason::LoggedOut, actions);
    }

    /// SequenceReset in Reset mode: MsgSeqNum is not checked; NewSeqNo may not go back.
    fn on_sequence_reset(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        if let Err(violation) = dict::dictionary().validate(msg) {
            return self.send_reject(msg, seq, violation, b"", now_ns, actions);
        }
        let new_seq = msg.read(tag::NEW_SEQ_NO, field::get_u64).ok().flatten().unwrap_or(0);
        if new_seq < self.next_in_seq {
            let violation =
                Violation { reason: reason::VALUE_OUT_OF_RANGE, ref_tag: Some(tag::NEW_SEQ_NO) };
            return self.send_reject(
                msg,
                seq,
                violation,
                b"NewSeqNo(36) is lower than expected",
                now_ns,
                actions,
            );
        }
        self.next_in_seq = new_seq;
    }

    /// SequenceReset-GapFill, in sequence: NewSeqNo must move forward.
    fn on_gap_fill(&mut self, msg: &Message<'_>, seq: u64, now_ns: u64, actions: &mut Vec<Action>) {
        let new_seq = msg.read(tag::NEW_SEQ_NO, field::get_u64).ok().flatten().unwrap_or(0);
        if new_seq <= seq {
            let violation =
                Violation { reason: reason::VALUE_OUT_OF_RANGE, ref_tag: Some(tag::NEW_SEQ_NO) };
            self.send_reject(
                msg,
                seq,
                violation,
                b"NewSeqNo(36) must be above MsgSeqNum",
                now_ns,
                actions,
            );
            self.next_in_seq += 1;
            return;
        }
        self.next_in_seq = new_seq;
    }

    fn on_resend_request(&mut self, msg: &Message<'_>, now_ns: u64, actions: &mut Vec<Action>) {
        let begin = msg.read(tag::BEGIN_SEQ_NO, field::get_u64).ok().flatten().unwrap_or(1).max(1);
        let end = msg.read(tag::END_SEQ_NO, field::get_u64).ok().flatten().unwrap_or(0);
        let last = self.next_out_seq - 1;
        let end = if end == 0 || end > last { last } else { end };
        if begin > end {
            return;
        }
        if begin < self.log.first_seq() {
            self.send_logout(b"Resend range is older than the retained messages", now_ns, actions);
            return self.disconnect(DisconnectReason::ResendUnavailable, actions);
        }
        self.resend = Some(Resend { next: begin, end });
        self.continue_resend(now_ns);
    }

    /// Resends what fits in the outbound buffer; the rest waits for `on_tick`.
    fn continue_resend(&mut self, now_ns: u64) {
        while let Some(Resend { next, end }) = self.resend {
            if next > end {
                self.resend = None;
                break;
            }
            if !self.room_left() {
                break;
            }
            let sent = self.log.get(next).copied();
            match sent {
                Some(Sent::App { sending_time_ns, report }) => {
                    self.write(report.msg_type(), next, now_ns, Some(sending_time_ns), |enc| {
                        outbound::encode_report(&report, enc)
                    });
                    self.resend = Some(Resend { next: next + 1, end });
                }
                _ => {
                    // A run of administrative messages becomes one GapFill.
                    let mut to = next;
                    while to < end && matches!(self.log.get(to + 1), Some(Sent::Admin)) {
                        to += 1;
                    }
                    self.write(b"4", next, now_ns, Some(now_ns), |enc| {
                        enc.bool(tag::GAP_FILL_FLAG, true);
                        enc.u64(tag::NEW_SEQ_NO, to + 1);
                    });
                    self.resend = Some(Resend { next: to + 1, end });
                }
            }
        }
    }

    // -----------------------------------------------------------------------
    // Application messages
    // -----------------------------------------------------------------------

    fn on_application(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        if self.config.reflector {
            return self.reflect(msg, now_ns, actions);
        }
        match inbound::map(msg) {
            None => self.on_unsupported(msg, seq, now_ns, actions),
            Some(Err(violation)) => self.send_reject(msg, seq, violation, b"", now_ns, actions),
            Some(Ok(input)) => {
                self.learn(&input);
                self.fact(FactKind::Input(input), actions);
                actions.push(Action::Input(input));
            }
        }
    }

    fn learn(&mut self, input: &Input) {
        match input {
            Input::NewOrder(order) => self.orders.entered(order),
            Input::MassCancel(m) => self.orders.mass_requested(m.request_id, m.scope),
            Input::CancelOrder(_) | Input::ReplaceOrder(_) => {}
        }
    }

    /// Reflector mode: the body comes back under our header, with the same MsgType.
    fn reflect(&mut self, msg: &Message<'_>, now_ns: u64, actions: &mut Vec<Action>) {
        self.send_admin(msg.msg_type(), now_ns, actions, |enc| {
            for pos in msg.fields().iter().filter(|f| !is_header_or_trailer(f.tag)) {
                enc.bytes(pos.tag, msg.value(pos));
            }
        });
    }

    /// OrderStatusRequest (H): an ExecutionReport with ExecType I from the cache.
    fn on_status_request(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        if self.config.reflector {
            return self.reflect(msg, now_ns, actions);
        }
        let key = inbound::get_cl_ord_id(msg.get(tag::CL_ORD_ID).unwrap_or(b""));
        let account = msg
            .get(tag::ACCOUNT)
            .and_then(|a| core::str::from_utf8(a).ok())
            .and_then(|a| a.parse().ok());
        let (Ok(cl_ord_id), Some(account)) = (key, account) else {
            let violation =
                Violation { reason: reason::VALUE_OUT_OF_RANGE, ref_tag: Some(tag::CL_ORD_ID) };
            return self.send_reject(
                msg,
                seq,
                violation,
                b"ClOrdID and Account identify the order",
                now_ns,
                actions,
            );
        };
        let report = outbound::status_report(&self.orders, account, cl_ord_id, now_ns);
        self.send_admin(b"8", now_ns, actions, |enc| outbound::encode_report(&report, enc));
    }

    // -----------------------------------------------------------------------
    // The engine's stream
    // -----------------------------------------------------------------------

    /// Starts following the login's stream at `seq` instead of at 1: the messages
    /// before it were delivered by an earlier process whose session state is
    /// gone (the gateway attaches a fresh session at the stream's end). Only for a
    /// session that has taken no stream message yet; false (and nothing changed)
    /// otherwise. Reports a `StreamFrom` fact when `seq` is above 1.
    pub fn follow_stream_from(&mut self, seq: Seq, actions: &mut Vec<Action>) -> bool {
        if self.last_stream_seq != 0 || seq == 0 {
            return false;
        }
        if seq > 1 {
            self.fact(FactKind::StreamFrom { seq }, actions);
            self.last_stream_seq = seq - 1;
        }
        true
    }

    /// Takes the next AppMessage of the login's stream: maps it, gives it the next
    /// MsgSeqNum, logs it for resend and, when logged on, sends it. A message
    /// already taken (stream seq not above the last) is ignored.
    pub fn on_app(&mut self, msg: &Sequenced) -> Result<(), AppError> {
        if msg.seq <= self.last_stream_seq {
            return Ok(());
        }
        if msg.seq != self.last_stream_seq + 1 {
            return Err(AppError::StreamGap { expected: self.last_stream_seq + 1, got: msg.seq });
        }
        let live = self.is_logged_on();
        if live && (self.resend.is_some() || !self.room_left()) {
            return Err(AppError::Full);
        }
        self.last_stream_seq = msg.seq;
        let Some(report) = outbound::map(msg, &mut self.orders) else { return Ok(()) };
        let seq = self.next_out_seq;
        self.next_out_seq += 1;
        self.log.push(seq, Sent::App { sending_time_ns: msg.ts_ns, report });
        if live {
            self.write(report.msg_type(), seq, msg.ts_ns, None, |enc| {
                outbound::encode_report(&report, enc)
            });
        }
        Ok(())
    }

    // -----------------------------------------------------------------------
    // Timers
    // -----------------------------------------------------------------------

    /// Heartbeats, TestRequest, the logon and logout timeouts, and a resend that
    /// waits for room.
    pub fn on_tick(&mut self, now_ns: u64, actions: &mut Vec<Action>) {
        match self.conn {
            Conn::Down => {}
            Conn::AwaitingLogon(since) => {
                if now_ns.saturating_sub(since) >= self.config.logon_timeout_ns {
                    self.disconnect(DisconnectReason::LogonTimeout, actions);
                }
            }
            Conn::LogoutSent(at) => {
                if now_ns.saturating_sub(at) >= self.config.logout_timeout_ns {
                    self.disconnect(DisconnectReason::LoggedOut, actions);
                }
            }
            Conn::Active => self.heartbeat_timers(now_ns, actions),
        }
        if self.resend.is_some() {
            self.continue_resend(now_ns);
            if self.resend.is_none() {
                // Input that waited behind the resend.
                self.drain_frames(now_ns, actions);
                self.report_inbound_seq(actions);
            }
        }
    }

    fn heartbeat_timers(&mut self, now_ns: u64, actions: &mut Vec<Action>) {
        if !self.room_for_one() {
            return; // Bytes are waiting to be sent: no need to prove we are alive.
        }
        let interval = self.heartbeat_ns;
        if let Some(at) = self.test_request_at {
            if now_ns.saturating_sub(at) >= interval {
                return self.disconnect(DisconnectReason::NoHeartbeat, actions);
            }
        } else if now_ns.saturating_sub(self.last_recv_ns) >= interval + interval / 5 {
            // Silent for HeartBtInt plus a fifth for transmission: ask.
            self.test_request_at = Some(now_ns);
            let id = self.next_out_seq;
            return self.send_admin(b"1", now_ns, actions, |enc| enc.u64(tag::TEST_REQ_ID, id));
        }
        if now_ns.saturating_sub(self.last_sent_ns) >= interval {
            self.send_admin(b"0", now_ns, actions, |_| {});
        }
    }

    /// Starts the Logout handshake (end of day, shutdown).
    pub fn logout(&mut self, text: &[u8], now_ns: u64, actions: &mut Vec<Action>) {
        if self.conn == Conn::Active && self.room_for_one() {
            self.send_logout(text, now_ns, actions);
        }
    }

    // -----------------------------------------------------------------------
    // Sending
    // -----------------------------------------------------------------------

    /// Writes one message with our header into the outbound buffer.
    fn write(
        &mut self,
        msg_type: &[u8],
        seq: u64,
        now_ns: u64,
        orig_ns: Option<u64>,
        body: impl FnOnce(&mut Encoder<'_>),
    ) {
        let start = self.out.len();
        let room = message_room(&self.config).min(self.out.capacity() - start);
        self.out.resize(start + room, 0);
        let mut enc = Encoder::new(&mut self.out[start..], msg_type);
        enc.bytes(tag::SENDER_COMP_ID, self.config.sender_comp_id.as_bytes());
        enc.bytes(tag::TARGET_COMP_ID, self.config.login.comp_id.as_bytes());
        enc.u64(tag::MSG_SEQ_NUM, seq);
        if orig_ns.is_some() {
            enc.bool(tag::POSS_DUP_FLAG, true);
        }
        enc.timestamp(tag::SENDING_TIME, now_ns);
        if let Some(orig) = orig_ns {
            enc.timestamp(tag::ORIG_SENDING_TIME, orig);
        }
        body(&mut enc);
        // Every message we build fits message_room (bounded fields; a reflected
        // body is at most max_message_len); if not, it is a bug, not input.
        let len = enc.finish().expect("an outbound message fits its reserved room");
        self.out.truncate(start + len);
        self.last_sent_ns = now_ns;
    }

    /// Sends a message that is not from the engine's stream: it takes the next
    /// MsgSeqNum, is logged as administrative (GapFill on resend) and reported.
    fn send_admin(
        &mut self,
        msg_type: &[u8],
        now_ns: u64,
        actions: &mut Vec<Action>,
        body: impl FnOnce(&mut Encoder<'_>),
    ) {
        let seq = self.next_out_seq;
        self.next_out_seq += 1;
        self.log.push(seq, Sent::Admin);
        self.fact(FactKind::AdminSent { seq }, actions);
        self.write(msg_type, seq, now_ns, None, body);
    }

    fn send_logout(&mut self, text: &[u8], now_ns: u64, actions: &mut Vec<Action>) {
        self.send_admin(b"5", now_ns, actions, |enc| {
            if !text.is_empty() {
                enc.bytes(tag::TEXT, text);
            }
        });
        self.conn = Conn::LogoutSent(now_ns);
    }

    fn send_reject(
        &mut self,
        msg: &Message<'_>,
        seq: u64,
        violation: Violation,
        text: &[u8],
        now_ns: u64,
        actions: &mut Vec<Action>,
    ) {
        let msg_type = msg.msg_type();
        self.send_admin(b"3", now_ns, actions, |enc| {
            enc.u64(tag::REF_SEQ_NUM, seq);
            if let Some(ref_tag) = violation.ref_tag {
                enc.u64(tag::REF_TAG_ID, u64::from(ref_tag));
            }
            if !msg_type.is_empty() {
                enc.bytes(tag::REF_MSG_TYPE, msg_type);
            }
            enc.u64(tag::SESSION_REJECT_REASON, u64::from(violation.reason));
            enc.bytes(
                tag::TEXT,
                if text.is_empty() { reason_text(violation.reason) } else { text },
            );
        });
    }

    // -----------------------------------------------------------------------
    // Durability
    // -----------------------------------------------------------------------

    /// Applies one journaled fact to a session being rebuilt (not connected).
    pub fn apply_fact(&mut self, fact: &SessionFact) -> Result<(), RebuildError> {
        match fact.kind {
            FactKind::Reset => {
                self.next_out_seq = 1;
                self.next_in_seq = 1;
                self.log.reset(1);
            }
            FactKind::AdminSent { seq } => {
                if seq != self.next_out_seq {
                    return Err(RebuildError::SeqMismatch {
                        fact: seq,
                        session: self.next_out_seq,
                    });
                }
                self.log.push(seq, Sent::Admin);
                self.next_out_seq += 1;
            }
            FactKind::InboundNext { seq } => {
                self.next_in_seq = seq;
                self.reported_in_seq = seq;
            }
            FactKind::Input(input) => self.learn(&input),
            FactKind::StreamFrom { seq } => {
                let last = self.last_stream_seq;
                if last != 0 {
                    return Err(RebuildError::StreamFrom { seq, last });
                }
                self.last_stream_seq = seq.saturating_sub(1);
            }
        }
        Ok(())
    }

    /// Rebuilds a session from the login's stream and the facts it reported, in
    /// the order they were reported: each fact goes after the stream message it
    /// names and before the next.
    pub fn rebuild(
        config: SessionConfig,
        facts: &[SessionFact],
        stream: &[Sequenced],
    ) -> Result<Session, RebuildError> {
        let mut session = Session::new(config);
        let mut facts = facts.iter().peekable();
        for msg in stream {
            while let Some(fact) = facts.next_if(|f| f.after_stream_seq < msg.seq) {
                session.apply_fact(fact)?;
            }
            session.on_app(msg)?;
        }
        for fact in facts {
            session.apply_fact(fact)?;
        }
        Ok(session)
    }
}

/// Header and trailer tags (not echoed by the reflector).
fn is_header_or_trailer(tag: u32) -> bool {
    tag == tag::CHECK_SUM
        || dict::HEADER.iter().any(|e| e.tag == tag)
        || dict::TRAILER.iter().any(|e| e.tag == tag)
}

/// Session-level message types.
fn is_admin_type(msg_type: &[u8]) -> bool {
    matches!(msg_type, b"0" | b"1" | b"2" | b"3" | b"4" | b"5" | b"A")
}

/// OrigSendingTime (122) of a PossDup message: required, and not after SendingTime.
fn orig_sending_time_violation(msg: &Message<'_>) -> Option<Violation> {
    let orig = msg.read(tag::ORIG_SENDING_TIME, field::get_utc_timestamp_ns);
    let sent = msg.read(tag::SENDING_TIME, field::get_utc_timestamp_ns);
    match (orig, sent) {
        (Ok(None), _) => Some(Violation {
            reason: reason::REQUIRED_TAG_MISSING,
            ref_tag: Some(tag::ORIG_SENDING_TIME),
        }),
        (Ok(Some(orig)), Ok(Some(sent))) if orig > sent => Some(Violation {
            reason: reason::SENDING_TIME_ACCURACY,
            ref_tag: Some(tag::ORIG_SENDING_TIME),
        }),
        _ => None,
    }
}

/// "MsgSeqNum too low, expecting X but received Y".
fn too_low_text(expected: u64, got: u64, out: &mut [u8; 96]) -> usize {
    let mut n = 0;
    let mut put = |bytes: &[u8]| {
        out[n..n + bytes.len()].copy_from_slice(bytes);
        n += bytes.len();
    };
    let mut digits = [0u8; 20];
    put(b"MsgSeqNum too low, expecting ");
    let d = crate::encode::write_u64(expected, &mut digits);
    put(&digits[..d]);
    put(b" but received ");
    let d = crate::encode::write_u64(got, &mut digits);
    put(&digits[..d]);
    n
}

/// The text of a SessionRejectReason.
fn reason_text(reason: u32) -> &'static [u8] {
    match reason {
        reason::INVALID_TAG_NUMBER => b"Invalid tag number",
        reason::REQUIRED_TAG_MISSING => b"Required tag missing",
        reason::TAG_NOT_DEFINED_FOR_MESSAGE => b"Tag not defined for this message type",
        reason::TAG_WITHOUT_VALUE => b"Tag specified without a value",
        reason::VALUE_OUT_OF_RANGE => b"Value is incorrect (out of range) for this tag",
        reason::INCORRECT_DATA_FORMAT => b"Incorrect data format for value",
        reason::COMP_ID_PROBLEM => b"CompID problem",
        reason::SENDING_TIME_ACCURACY => b"SendingTime accuracy problem",
        reason::INVALID_MSG_TYPE => b"Invalid MsgType",
        reason::TAG_APPEARS_MORE_THAN_ONCE => b"Tag appears more than once",
        reason::TAG_OUT_OF_ORDER => b"Tag specified out of required order",
        reason::GROUP_FIELDS_OUT_OF_ORDER => b"Repeating group fields out of order",
        reason::INCORRECT_NUM_IN_GROUP => b"Incorrect NumInGroup count for repeating group",
        _ => b"Other",
    }
}

/// Compares secrets in time that does not depend on where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The SenderCompID (49) of the first message in `bytes` when it is a whole Logon,
/// so that the io loop can pick the [`Session`] for a new connection, and refuse
/// it when that session [`Session::is_connected`] already.
pub fn logon_sender_comp_id(bytes: &[u8], max_message_len: usize) -> Option<&[u8]> {
    let Scan::Message { len, .. } = frame::scan(bytes, max_message_len) else { return None };
    let msg = &bytes[..len];
    let mut fields = crate::field::FieldIter::new(msg).filter_map(Result::ok).map(|(f, _)| f);
    let msg_type = fields.clone().find(|f| f.tag == tag::MSG_TYPE)?;
    if msg_type.value != b"A" {
        return None;
    }
    fields.find(|f| f.tag == tag::SENDER_COMP_ID).map(|f| f.value)
}
