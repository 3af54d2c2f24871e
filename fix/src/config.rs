//! Session configuration: who may log on, and every limit.
//!
//! Built once at start-up (it may allocate then); the session reads it and sizes
//! every buffer and table from it.

use protocol::AccountId;

/// One counterparty allowed to log on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginConfig {
    /// The counterparty's SenderCompID (49), which is our TargetCompID.
    pub comp_id: String,
    /// Username (553) the Logon must carry; `None`: not checked.
    pub username: Option<String>,
    /// Password (554) the Logon must carry; `None`: not checked.
    pub password: Option<String>,
    /// The accounts this login may trade for (checked by the engine's risk check 1).
    pub accounts: Vec<AccountId>,
}

/// One FIX session (one counterparty) and every limit it works within.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our CompID: the SenderCompID of what we send, the TargetCompID we expect.
    pub sender_comp_id: String,
    /// The counterparty.
    pub login: LoginConfig,
    /// Smallest HeartBtInt (108) accepted at Logon, in seconds.
    pub heartbeat_s_min: u64,
    /// Largest HeartBtInt (108) accepted at Logon, in seconds.
    pub heartbeat_s_max: u64,
    /// SendingTime (52) may differ from our clock by at most this much.
    pub sending_time_tolerance_ns: u64,
    /// Largest message accepted, in bytes (a longer one is garbled and dropped).
    pub max_message_len: usize,
    /// Most fields in one message.
    pub max_fields: usize,
    /// Outbound byte buffer; the io loop drains it with `take_outbound`.
    pub outbound_capacity: usize,
    /// Orders remembered for ExecutionReport fields the domain messages lack.
    pub order_cache_capacity: usize,
    /// Sent messages remembered for ResendRequest.
    pub resend_capacity: usize,
    /// A connection must log on within this time.
    pub logon_timeout_ns: u64,
    /// After our Logout, the peer has this long to answer before we disconnect.
    pub logout_timeout_ns: u64,
    /// Echo application messages back instead of handing them to the engine
    /// (the conformance-test application of FIX engines).
    pub reflector: bool,
}

impl SessionConfig {
    /// Defaults for everything but the identities.
    pub fn new(sender_comp_id: &str, login: LoginConfig) -> SessionConfig {
        SessionConfig {
            sender_comp_id: sender_comp_id.to_owned(),
            login,
            heartbeat_s_min: 1,
            heartbeat_s_max: 120,
            sending_time_tolerance_ns: 120_000_000_000,
            max_message_len: 4096,
            max_fields: 256,
            outbound_capacity: 1 << 20,
            order_cache_capacity: 65_536,
            resend_capacity: 262_144,
            logon_timeout_ns: 10_000_000_000,
            logout_timeout_ns: 5_000_000_000,
            reflector: false,
        }
    }

    /// The buffers this session commits at creation, in bytes, summed in one place.
    pub fn memory_bytes(&self) -> usize {
        let receive = 2 * self.max_message_len;
        let fields = self.max_fields * core::mem::size_of::<crate::message::FieldPos>();
        let orders = self.order_cache_capacity * crate::orders::BYTES_PER_ORDER;
        let resend = self.resend_capacity * core::mem::size_of::<crate::resend::Sent>();
        receive + fields + self.outbound_capacity + orders + resend
    }
}
