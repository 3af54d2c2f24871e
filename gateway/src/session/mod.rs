//! The binary protocol's session rules, without sockets: what a connection may
//! send in each state, what a Login is answered ([`Gate`]), when a heartbeat is
//! due, when a peer is dead or a login late, when a client that does not read is
//! cut off, and what an ending session sends last.
//!
//! ```text
//!   AwaitingLogin ──Login admitted──> Active ──Logout / error / shutdown──> Draining ──> closed
//!        │                              │                                      ▲
//!        └──refused, malformed, late────┴──────────────────────────────────────┘
//! ```
//!
//! Every rule takes the time as an argument and returns what to do; the io loop
//! (`crate::server`) does the socket calls, the log lines and the metrics, so the
//! rules are tested with virtual time and no sockets (`session/tests.rs`), and the
//! order path through them allocates nothing (`tests/no_alloc.rs`).

mod login;
#[cfg(test)]
mod tests;

pub(crate) use login::FixCursor;
pub use login::{Admitted, FailureWindow, Gate, LoginSlot, Refused, Why};

use protocol::codec::{ClientMessage, DecodeError, EndOfSession, Login, layout, msg_type};
use protocol::frame::{FRAME_HEADER_LEN, TYPE_AT};
use protocol::query::Query;
use protocol::{RejectCode, Seq};

use crate::input::{Input, LoginIdx};

/// Session limits and timings.
#[derive(Clone, Debug)]
pub struct SessionLimits {
    /// Most connections at once (logged in or not).
    pub max_sessions: usize,
    /// Most connections at once that have not logged in yet.
    pub max_pending_logins: usize,
    /// Most connections at once from one address that have not logged in yet.
    pub max_pending_logins_per_address: usize,
    /// Send a heartbeat after this long without sending.
    pub heartbeat_ns: u64,
    /// Disconnect a peer silent for this long.
    pub dead_peer_ns: u64,
    /// Disconnect a connection that has not logged in within this time.
    pub login_timeout_ns: u64,
    /// Disconnect a logged-in client whose unsent bytes exceed this.
    pub backlog_limit_bytes: u64,
    /// Receive buffer per connection.
    pub rx_buffer_bytes: usize,
    /// SO_SNDBUF per connection (0: OS default).
    pub socket_send_buffer_bytes: usize,
    /// Failed logins (per username, or per peer address for unknown names) allowed in the window.
    pub max_login_failures: u32,
    /// The window for counting failed logins.
    pub login_failure_window_ns: u64,
    /// How long further logins are refused once the failures are used up.
    pub login_lockout_ns: u64,
    /// Identifies this trading day's streams (sent in LoginAccepted).
    pub session_id: u64,
    /// Most peer addresses tracked for failed logins with unknown usernames.
    pub max_failing_addresses: usize,
    /// Under `sync` durability, most answers waiting for the journal (entries of
    /// login, input, end offset); when full, no client input is taken.
    pub unreleased_capacity: usize,
    /// Queries each login may send per second.
    pub max_queries_per_second: u32,
    /// Queries in the engine or waiting to be sent, every connection together.
    pub max_queries_in_flight: usize,
}

/// Where a connection stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConnState {
    /// Connected; its Login is due by `deadline_ns`.
    AwaitingLogin {
        /// When the connection is ended with LOGIN_TIMEOUT.
        deadline_ns: u64,
    },
    /// Logged in.
    Active {
        /// Its login.
        login: LoginIdx,
    },
    /// Send what is pending, then (if `send_eos`) EndOfSession with this reason,
    /// then close. Nothing more is read.
    Draining {
        /// The login whose stream is still sent, if it had logged in.
        login: Option<LoginIdx>,
        /// The session's end.
        reason: RejectCode,
        /// Whether EndOfSession is sent (a refused login gets LoginRejected only).
        send_eos: bool,
    },
}

/// What a received frame asks of the io loop.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FrameAction {
    /// A Login before login: decide it with the [`Gate`].
    Login(Login),
    /// Refuse the connection's login (LoginRejected, then close).
    Refuse(Refused),
    /// Hand this input to the engine.
    Input(Input),
    /// A logged-in client's frame that did not decode: the engine rejects it in
    /// the stream ([`FrameAction::malformed_input`]); `error` is for the log.
    Malformed {
        /// The login.
        login: LoginIdx,
        /// The frame's type byte (0 if it had none).
        ref_msg_type: u8,
        /// The frame's client id (cl_ord_id or request id) when it could be read.
        ref_id: u64,
        /// Why it did not decode.
        error: DecodeError,
    },
    /// A query: check it ([`Gate::check_query`]) and answer it unsequenced.
    Query(Query),
    /// The client logs out: end the session.
    Logout,
    /// Nothing to do (a heartbeat, or anything on a session that is ending).
    Nothing,
}

impl FrameAction {
    /// The engine input that rejects a malformed frame in the login's stream
    /// (`None` for any other action).
    pub fn malformed_input(&self) -> Option<Input> {
        match *self {
            FrameAction::Malformed { login, ref_msg_type, ref_id, error } => {
                Some(Input::Malformed { login, ref_msg_type, code: error.reject_code(), ref_id })
            }
            _ => None,
        }
    }
}

/// What the timer asks of the io loop for one connection.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerAction {
    /// Nothing due.
    Nothing,
    /// No Login in time: end with LOGIN_TIMEOUT (see [`Session::login_timed_out`]).
    LoginTimedOut,
    /// The peer has been silent for the dead-peer timeout: EndOfSession DEAD_PEER
    /// (best effort) and close.
    DeadPeer {
        /// How long it has been silent.
        silent_ns: u64,
    },
    /// Nothing sent for the heartbeat interval: send a Heartbeat.
    Heartbeat,
    /// An ending session's peer has not read the end for the dead-peer timeout:
    /// close it.
    DrainStalled,
}

/// One connection's session state: everything but the socket and its buffers.
#[derive(Clone, Copy, Debug)]
pub struct Session {
    /// Where it stands.
    pub state: ConnState,
    /// Byte offset into the login's out log of the next byte to send.
    pub cursor: u64,
    /// End of the log when the session logged in: bytes before it are replay,
    /// which a resuming client may take its time over; the backlog limit applies
    /// to what arrives after.
    pub replay_end: u64,
    /// A draining session ends only after the engine has answered every input this
    /// session sent before it began draining (inputs offered at that moment).
    pub drain_after_input: u64,
    /// Last time bytes arrived.
    pub last_rx_ns: u64,
    /// Last time bytes were written.
    pub last_tx_ns: u64,
}

impl Session {
    /// A connection accepted at `now`, waiting for its Login.
    pub fn new(now: u64, limits: &SessionLimits) -> Session {
        Session {
            state: ConnState::AwaitingLogin { deadline_ns: now + limits.login_timeout_ns },
            cursor: 0,
            replay_end: 0,
            drain_after_input: 0,
            last_rx_ns: now,
            last_tx_ns: now,
        }
    }

    /// The login whose stream this session sends (logged in, or ending after a login).
    pub fn login(&self) -> Option<LoginIdx> {
        match self.state {
            ConnState::Active { login } => Some(login),
            ConnState::Draining { login, .. } => login,
            ConnState::AwaitingLogin { .. } => None,
        }
    }

    /// True while frames are taken from it (not ending).
    pub fn reads(&self) -> bool {
        !matches!(self.state, ConnState::Draining { .. })
    }

    /// True while it waits for its Login.
    pub fn awaiting_login(&self) -> bool {
        matches!(self.state, ConnState::AwaitingLogin { .. })
    }

    /// Bytes arrived at `now`.
    pub fn received(&mut self, now: u64) {
        self.last_rx_ns = now;
    }

    /// Bytes were written at `now`.
    pub fn sent(&mut self, now: u64) {
        self.last_tx_ns = now;
    }

    /// What a frame asks for. `frame` is its bytes and `decoded` what they decode
    /// to; a frame that did not decode is answered by its type and client id.
    pub fn on_frame(
        &self,
        frame: &[u8],
        decoded: Result<ClientMessage, DecodeError>,
    ) -> FrameAction {
        match (self.state, decoded) {
            (ConnState::AwaitingLogin { .. }, Ok(ClientMessage::Login(login))) => {
                FrameAction::Login(login)
            }
            (ConnState::AwaitingLogin { .. }, Err(DecodeError::BadVersion(_))) => {
                FrameAction::Refuse(Refused {
                    code: RejectCode::UNSUPPORTED_VERSION,
                    why: Why::BadVersion,
                })
            }
            (ConnState::AwaitingLogin { .. }, Err(e)) => {
                FrameAction::Refuse(Refused { code: e.reject_code(), why: Why::Malformed(e) })
            }
            (ConnState::AwaitingLogin { .. }, Ok(_)) => FrameAction::Refuse(Refused {
                code: RejectCode::NOT_LOGGED_IN,
                why: Why::BeforeLogin,
            }),
            (ConnState::Active { login }, Ok(msg)) => on_message(login, msg),
            (ConnState::Active { login }, Err(error)) => {
                let ref_msg_type = frame.get(TYPE_AT).copied().unwrap_or(0);
                let ref_at = FRAME_HEADER_LEN + layout::REF_ID_AT;
                let ref_id = frame
                    .get(ref_at..ref_at + 8)
                    .filter(|_| ref_msg_type != msg_type::LOGIN)
                    .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
                    .unwrap_or(0);
                FrameAction::Malformed { login, ref_msg_type, ref_id, error }
            }
            (ConnState::Draining { .. }, _) => FrameAction::Nothing,
        }
    }

    /// The login was admitted: the session is live from `admitted.cursor`, and
    /// the log ended at `log_end` (what is before it is replay).
    pub fn accept(&mut self, admitted: &Admitted, log_end: u64) {
        self.state = ConnState::Active { login: admitted.login };
        self.cursor = admitted.cursor;
        self.replay_end = log_end;
    }

    /// The login was refused: LoginRejected goes out, then the connection closes.
    pub fn refuse(&mut self, code: RejectCode) {
        self.state = ConnState::Draining { login: None, reason: code, send_eos: false };
    }

    /// Ends the session for `reason` once the engine has answered the first
    /// `offered` inputs and everything pending is sent; returns the login that
    /// was live (whose disconnect the engine must hear of). A session already
    /// ending is left as it is.
    pub fn end(&mut self, reason: RejectCode, offered: u64) -> Option<LoginIdx> {
        let (login, was_live) = match self.state {
            ConnState::Active { login } => (Some(login), Some(login)),
            ConnState::AwaitingLogin { .. } => (None, None),
            ConnState::Draining { .. } => return None,
        };
        self.state = ConnState::Draining { login, reason, send_eos: true };
        self.drain_after_input = offered;
        was_live
    }

    /// No Login in time: the session ends with LOGIN_TIMEOUT.
    pub fn login_timed_out(&mut self) {
        self.state =
            ConnState::Draining { login: None, reason: RejectCode::LOGIN_TIMEOUT, send_eos: true };
    }

    /// What is due at `now` (the io loop asks every few milliseconds).
    pub fn on_timer(&self, now: u64, limits: &SessionLimits) -> TimerAction {
        match self.state {
            ConnState::AwaitingLogin { deadline_ns } if now >= deadline_ns => {
                TimerAction::LoginTimedOut
            }
            ConnState::AwaitingLogin { .. } => TimerAction::Nothing,
            ConnState::Active { .. } => {
                let silent_ns = now.saturating_sub(self.last_rx_ns);
                if silent_ns >= limits.dead_peer_ns {
                    TimerAction::DeadPeer { silent_ns }
                } else if now.saturating_sub(self.last_tx_ns) >= limits.heartbeat_ns {
                    TimerAction::Heartbeat
                } else {
                    TimerAction::Nothing
                }
            }
            // A peer that does not read what we drain is cut off after the
            // dead-peer timeout.
            ConnState::Draining { .. }
                if now.saturating_sub(self.last_tx_ns) >= limits.dead_peer_ns =>
            {
                TimerAction::DrainStalled
            }
            ConnState::Draining { .. } => TimerAction::Nothing,
        }
    }

    /// Bytes of the stream released but not written, not counting the replay.
    pub fn backlog(&self, released_off: u64) -> u64 {
        released_off.saturating_sub(self.cursor.max(self.replay_end))
    }

    /// True when the client is cut off for not reading: its backlog is over the
    /// limit, or the log no longer holds its cursor.
    pub fn over_backlog(&self, released_off: u64, log_start: u64, limits: &SessionLimits) -> bool {
        self.backlog(released_off) > limits.backlog_limit_bytes || self.cursor < log_start
    }

    /// The EndOfSession an ending session sends last (`None`: it sends none),
    /// with the last sequence of its login's stream.
    pub fn end_of_session(&self, last_seq: Seq) -> Option<EndOfSession> {
        match self.state {
            ConnState::Draining { reason, send_eos: true, login } => {
                Some(EndOfSession { reason, last_seq: if login.is_some() { last_seq } else { 0 } })
            }
            _ => None,
        }
    }
}

/// A logged-in client's message.
fn on_message(login: LoginIdx, msg: ClientMessage) -> FrameAction {
    let input = match msg {
        ClientMessage::Heartbeat => return FrameAction::Nothing,
        ClientMessage::Logout => return FrameAction::Logout,
        ClientMessage::Query(query) => return FrameAction::Query(query),
        ClientMessage::Login(_) => Input::Malformed {
            login,
            ref_msg_type: msg_type::LOGIN,
            code: RejectCode::UNEXPECTED_MESSAGE,
            ref_id: 0,
        },
        ClientMessage::NewOrder(order) => Input::NewOrder { login, order },
        ClientMessage::CancelOrder(cancel) => Input::Cancel { login, cancel },
        ClientMessage::ReplaceOrder(replace) => Input::Replace { login, replace },
        ClientMessage::MassCancel(mass) => Input::MassCancel { login, mass },
        ClientMessage::OrderEntryControl(control) => Input::EntryControl { login, control },
    };
    FrameAction::Input(input)
}
