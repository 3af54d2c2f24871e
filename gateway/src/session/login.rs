//! Who may log in, and what a logged-in client may ask: the configured logins,
//! the failed-login windows and lockouts, the resume point in a login's stream,
//! the stream's version, and the query checks. Pure: the time is an argument and
//! the answer is a value; nothing here allocates once built.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;

use protocol::codec::{DecodeError, Login, LoginAccepted, PROTOCOL_VERSION};
use protocol::query::{Query, VERSION_QUERIES};
use protocol::{AccountId, RejectCode, Seq, Token as LoginToken, Username};
use subtle::ConstantTimeEq;

use super::SessionLimits;
use crate::input::LoginIdx;
use crate::outlog::OutLog;

/// A configured login and its out log.
#[derive(Debug)]
pub struct LoginSlot {
    /// Login name.
    pub username: Username,
    /// Secret.
    pub token: LoginToken,
    /// The sequenced stream.
    pub log: OutLog,
    /// How far the stream may be sent: the end of the log, or under `sync`
    /// durability the end of the last message whose input is on disk.
    pub(crate) released_off: u64,
    /// The protocol version of the login's stream (0 until its first login of the
    /// day); the engine holds the same value (`Input::LoggedIn`).
    pub(crate) stream_version: u8,
    /// The io loop's connection slot of its live binary session.
    pub(crate) conn: Option<usize>,
    /// A FIX session attached to this login (through the FIX door), in place of
    /// a connection: its index and its cursor into the log.
    pub(crate) fix: Option<FixCursor>,
    failures: FailureWindow,
    /// The accounts the login may query (and trade for).
    accounts: Vec<AccountId>,
    /// The query rate window: its start and the queries counted in it.
    query_window_ns: u64,
    queries_in_window: u32,
    /// Market data only: refused on the order-entry port (`[[logins]] market_data_only`).
    market_data_only: bool,
}

/// Where a FIX session attached to a login reads the login's stream.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FixCursor {
    pub(crate) session: usize,
    pub(crate) cursor: u64,
}

impl LoginSlot {
    /// A login with an empty stream.
    pub fn new(username: Username, token: LoginToken, log: OutLog) -> LoginSlot {
        let released_off = log.end_offset();
        LoginSlot {
            username,
            token,
            log,
            released_off,
            stream_version: 0,
            conn: None,
            fix: None,
            failures: FailureWindow::default(),
            accounts: Vec::new(),
            query_window_ns: 0,
            queries_in_window: 0,
            market_data_only: false,
        }
    }

    /// Sets the accounts the login may query.
    pub fn set_accounts(&mut self, accounts: Vec<AccountId>) {
        self.accounts = accounts;
    }

    /// Sets the version of the login's stream (restored after a recovery).
    pub fn set_stream_version(&mut self, version: u8) {
        self.stream_version = version;
    }

    /// Refuses the login on this port (it serves market data only).
    pub fn set_market_data_only(&mut self, only: bool) {
        self.market_data_only = only;
    }

    /// The version of the login's stream today (0: it has not logged in yet).
    pub fn stream_version(&self) -> u8 {
        self.stream_version
    }

    /// True while a binary or FIX session is attached.
    pub fn is_live(&self) -> bool {
        self.conn.is_some() || self.fix.is_some()
    }

    /// How far the stream may be sent (see `released_off`).
    pub fn released_off(&self) -> u64 {
        self.released_off
    }
}

/// Counts failed logins in a window and locks out after too many.
#[derive(Clone, Copy, Debug, Default)]
pub struct FailureWindow {
    window_start_ns: u64,
    failures: u32,
    locked_until_ns: u64,
}

impl FailureWindow {
    /// True while locked out.
    pub fn locked(&self, now_ns: u64) -> bool {
        now_ns < self.locked_until_ns
    }

    /// True while it still matters: locked out, or counting failures in an open window.
    pub fn active(&self, now_ns: u64, limits: &SessionLimits) -> bool {
        self.locked(now_ns)
            || (self.failures > 0
                && now_ns.saturating_sub(self.window_start_ns) <= limits.login_failure_window_ns)
    }

    /// Counts one failure; the last one the window allows starts a lockout.
    pub fn record_failure(&mut self, now_ns: u64, limits: &SessionLimits) {
        if now_ns.saturating_sub(self.window_start_ns) > limits.login_failure_window_ns {
            self.window_start_ns = now_ns;
            self.failures = 0;
        }
        self.failures += 1;
        if self.failures >= limits.max_login_failures {
            self.locked_until_ns = now_ns + limits.login_lockout_ns;
            self.failures = 0;
        }
    }
}

/// Why a login was refused or a connection is ended, for the log line. `Copy`:
/// the refusal path allocates nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Why {
    /// No such login.
    UnknownUsername,
    /// Every tracked address with failing unknown names is locked out.
    TooManyFailingAddresses,
    /// This address sent too many unknown names.
    AddressLockedOut,
    /// The login had too many failures.
    LockedOut,
    /// The token does not match.
    WrongToken,
    /// The login serves market data only.
    MarketDataOnly,
    /// The Login's version is 0.
    UnsupportedVersion,
    /// The Login frame carries a version this server cannot decode.
    BadVersion,
    /// The login already has a live session (binary or FIX).
    AlreadyLive,
    /// `next_seq` is beyond the stream.
    SequenceAhead,
    /// `next_seq` is before what the stream retains.
    SequenceUnavailable,
    /// Today's stream has a version the client does not speak.
    StreamVersion {
        /// The stream's version today.
        stream: u8,
        /// The highest version both sides speak.
        client: u8,
    },
    /// A frame that does not decode, before the Login.
    Malformed(DecodeError),
    /// Another message before the Login.
    BeforeLogin,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::UnknownUsername => f.write_str("unknown username"),
            Why::TooManyFailingAddresses => {
                f.write_str("unknown username, too many failing addresses")
            }
            Why::AddressLockedOut => f.write_str("unknown username, address locked out"),
            Why::LockedOut => f.write_str("too many failed logins"),
            Why::WrongToken => f.write_str("wrong token"),
            Why::MarketDataOnly => f.write_str("a market-data-only login"),
            Why::UnsupportedVersion => f.write_str("unsupported version"),
            Why::BadVersion => f.write_str("login with bad version"),
            Why::AlreadyLive => f.write_str("username already has a live session"),
            Why::SequenceAhead => f.write_str("requested sequence beyond the stream"),
            Why::SequenceUnavailable => f.write_str("requested sequence no longer retained"),
            Why::StreamVersion { stream, client } => write!(
                f,
                "this login's stream is version {stream} today, the client speaks {client}"
            ),
            Why::Malformed(e) => write!(f, "malformed frame before login: {e}"),
            Why::BeforeLogin => f.write_str("message before login"),
        }
    }
}

/// A refused login: the LoginRejected code and the reason for the log.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Refused {
    /// Sent in LoginRejected.
    pub code: RejectCode,
    /// Logged.
    pub why: Why,
}

const fn refused(code: RejectCode, why: Why) -> Refused {
    Refused { code, why }
}

/// An accepted login: where its session starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Admitted {
    /// The login.
    pub login: LoginIdx,
    /// The first sequence number sent (replay included).
    pub start_seq: Seq,
    /// The out-log offset of `start_seq`.
    pub cursor: u64,
    /// The stream's version (now recorded in the login).
    pub version: u8,
    /// The login's first session of the day: the engine must hear of its version.
    pub first_today: bool,
    /// Messages replayed (`start_seq` up to the stream's end).
    pub replay: u64,
}

impl Admitted {
    /// The LoginAccepted that starts the session.
    pub fn accepted(&self, limits: &SessionLimits) -> LoginAccepted {
        LoginAccepted {
            version: self.version,
            heartbeat_ms: (limits.heartbeat_ns / 1_000_000) as u32,
            dead_peer_ms: (limits.dead_peer_ns / 1_000_000) as u32,
            session_id: limits.session_id,
            next_seq: self.start_seq,
        }
    }
}

/// The login rules over every configured login.
#[derive(Debug)]
pub struct Gate {
    by_name: HashMap<Username, LoginIdx>,
    /// Failed logins with unknown usernames, per peer address (at most
    /// `max_failing_addresses`).
    unknown_failures: HashMap<IpAddr, FailureWindow>,
}

impl Gate {
    /// The gate for `logins`, its address table sized from `limits`.
    pub fn new(logins: &[LoginSlot], limits: &SessionLimits) -> Gate {
        Gate {
            by_name: logins.iter().enumerate().map(|(i, l)| (l.username, i as LoginIdx)).collect(),
            unknown_failures: HashMap::with_capacity(limits.max_failing_addresses),
        }
    }

    /// The login of `username`, if configured.
    pub fn find(&self, username: &Username) -> Option<LoginIdx> {
        self.by_name.get(username).copied()
    }

    /// Decides a Login from `peer` at `now`. On success the login's stream version
    /// is recorded; the caller attaches the session (`LoginSlot::conn`). Failures
    /// count towards the login's (or, for unknown names, the address's) lockout.
    pub fn admit(
        &mut self,
        logins: &mut [LoginSlot],
        limits: &SessionLimits,
        now: u64,
        peer: IpAddr,
        request: &Login,
    ) -> Result<Admitted, Refused> {
        let Some(login) = self.find(&request.username) else {
            // Compare anyway so an unknown name costs the same time as a wrong token.
            let _ = LoginToken([0; 32]).0.ct_eq(&request.token.0);
            return Err(self.unknown(limits, now, peer));
        };
        let slot = &mut logins[login as usize];
        if slot.failures.locked(now) {
            return Err(refused(RejectCode::LOGIN_THROTTLED, Why::LockedOut));
        }
        if !bool::from(slot.token.0.ct_eq(&request.token.0)) {
            slot.failures.record_failure(now, limits);
            return Err(refused(RejectCode::INVALID_CREDENTIALS, Why::WrongToken));
        }
        if slot.market_data_only {
            return Err(refused(RejectCode::INVALID_CREDENTIALS, Why::MarketDataOnly));
        }
        if request.version < 1 {
            return Err(refused(RejectCode::UNSUPPORTED_VERSION, Why::UnsupportedVersion));
        }
        if slot.is_live() {
            return Err(refused(RejectCode::ALREADY_LOGGED_IN, Why::AlreadyLive));
        }
        let next = slot.log.next_seq();
        let start_seq = if request.next_seq == 0 { next } else { request.next_seq };
        if start_seq > next {
            return Err(refused(RejectCode::SEQUENCE_AHEAD, Why::SequenceAhead));
        }
        let Some(cursor) = slot.log.offset_of(start_seq) else {
            return Err(refused(RejectCode::SEQUENCE_UNAVAILABLE, Why::SequenceUnavailable));
        };
        let offered = request.version.min(PROTOCOL_VERSION);
        let version = match slot.stream_version {
            0 => offered,
            v if offered >= v => v,
            v => {
                let why = Why::StreamVersion { stream: v, client: offered };
                return Err(refused(RejectCode::UNSUPPORTED_VERSION, why));
            }
        };
        let first_today = slot.stream_version == 0;
        slot.stream_version = version;
        Ok(Admitted { login, start_seq, cursor, version, first_today, replay: next - start_seq })
    }

    /// An unknown name from `peer`: counted against the address, whose table
    /// stays bounded. When it is full, the addresses whose lockout and window have
    /// passed make room; an address still counting keeps its count (so others'
    /// failures cannot reset it), and when every tracked address still matters a
    /// new one waits.
    fn unknown(&mut self, limits: &SessionLimits, now: u64, peer: IpAddr) -> Refused {
        let table = &mut self.unknown_failures;
        if table.len() >= limits.max_failing_addresses {
            table.retain(|_, w| w.active(now, limits));
        }
        if table.len() >= limits.max_failing_addresses && !table.contains_key(&peer) {
            return refused(RejectCode::LOGIN_THROTTLED, Why::TooManyFailingAddresses);
        }
        let window = table.entry(peer).or_default();
        if window.locked(now) {
            return refused(RejectCode::LOGIN_THROTTLED, Why::AddressLockedOut);
        }
        window.record_failure(now, limits);
        refused(RejectCode::INVALID_CREDENTIALS, Why::UnknownUsername)
    }

    /// Checks a logged-in client's query (version, page size, account, rate) and
    /// counts it in the login's rate window; `Some(code)` refuses it.
    pub fn check_query(
        slot: &mut LoginSlot,
        limits: &SessionLimits,
        now: u64,
        query: &Query,
    ) -> Option<RejectCode> {
        if slot.stream_version < VERSION_QUERIES {
            return Some(RejectCode::QUERY_NEEDS_VERSION_3);
        }
        if query.rows_wanted().is_none() {
            return Some(RejectCode::BAD_PAGE_SIZE);
        }
        if !slot.accounts.contains(&query.account) {
            return Some(RejectCode::ACCOUNT_NOT_PERMITTED);
        }
        if now.saturating_sub(slot.query_window_ns) >= 1_000_000_000 {
            slot.query_window_ns = now;
            slot.queries_in_window = 0;
        }
        slot.queries_in_window += 1;
        (slot.queries_in_window > limits.max_queries_per_second)
            .then_some(RejectCode::QUERY_RATE_LIMITED)
    }
}
