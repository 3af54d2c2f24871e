//! What flows into the engine and out of it.
//!
//! Every input is sequenced (numbered, time-stamped) by the one thread that feeds the
//! engine, and the engine is deterministic in (sequence, time, input): replaying the
//! same inputs rebuilds the same state and the same outputs. That is what the journal
//! records and what recovery relies on.

use protocol::codec::{
    AppMessage, CancelOrder, EntryState, MassCancel, NewOrder, OrderEntryControl, ReplaceOrder,
};
use protocol::query::{Query, QueryAnswer};
use protocol::{AccountId, RejectCode, SecurityId, Seq, TradingPhase};

/// Index of a login in the configuration's `[[logins]]` table.
pub type LoginIdx = u32;

/// An instruction to the engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Input {
    /// A client's new order.
    NewOrder {
        /// The login it came from.
        login: LoginIdx,
        /// The order.
        order: NewOrder,
    },
    /// A client's cancel.
    Cancel {
        /// The login it came from.
        login: LoginIdx,
        /// The request.
        cancel: CancelOrder,
    },
    /// A client's replace.
    Replace {
        /// The login it came from.
        login: LoginIdx,
        /// The request.
        replace: ReplaceOrder,
    },
    /// A client's mass cancel.
    MassCancel {
        /// The login it came from.
        login: LoginIdx,
        /// The request.
        mass: MassCancel,
    },
    /// A client's order-entry control.
    EntryControl {
        /// The login it came from.
        login: LoginIdx,
        /// The request.
        control: OrderEntryControl,
    },
    /// A message that decoded as a frame but could not be processed: it is answered
    /// in the login's sequenced stream with a BusinessReject.
    Malformed {
        /// The login it came from.
        login: LoginIdx,
        /// The refused message's type byte.
        ref_msg_type: u8,
        /// Why.
        code: RejectCode,
        /// Its cl_ord_id or request id when readable, else 0.
        ref_id: u64,
    },
    /// A login's connection was accepted, speaking protocol `version`. The first
    /// of the trading day fixes the version of the login's stream (which messages
    /// it carries); the io thread refuses later logins that cannot read it.
    LoggedIn {
        /// The login.
        login: LoginIdx,
        /// The protocol version negotiated for the connection.
        version: u8,
    },
    /// A logged-in connection ended (cancel-on-disconnect applies if configured).
    Disconnected {
        /// The login whose connection ended.
        login: LoginIdx,
    },
    /// Time passed: run the venue's due work (phase changes, delayed operations).
    Tick,
    /// A FIX session's state changed in a way its login's stream does not explain
    /// (`fix::SessionFact`): journaled so that the session can be rebuilt after a
    /// restart; the engine does nothing with it.
    FixFact {
        /// The login the FIX session trades as.
        login: LoginIdx,
        /// What happened.
        fact: fix::SessionFact,
    },
    /// An operator command.
    Admin(AdminCommand),
    /// A query (funds, positions, orders, fills). Not sequenced and not journaled:
    /// it changes nothing, so it takes no input sequence number and a replay never
    /// sees it. The engine answers from its state between two inputs.
    Query {
        /// Who asked; the answer goes back to it.
        asker: Asker,
        /// The query.
        query: Query,
    },
}

impl Input {
    /// True for the inputs that are sequenced and journaled (all but queries).
    #[inline]
    pub const fn is_sequenced(&self) -> bool {
        !matches!(self, Input::Query { .. })
    }
}

/// Who asked a query, and which preallocated answer buffer waits for the answer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Asker {
    /// A client login, through its connection.
    Login {
        /// The login.
        login: LoginIdx,
        /// The io thread's answer buffer.
        slot: u32,
    },
    /// The risk desk, through the admin endpoint (any account).
    Desk {
        /// The admin exchange's request number.
        ticket: u64,
    },
}

/// The engine's answer to a query, on its way back to the asker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Reply {
    /// Who asked.
    pub asker: Asker,
    /// The answer.
    pub answer: QueryAnswer,
}

/// Operator commands, applied in sequence with client input.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AdminCommand {
    /// Firm-wide order-entry state (kill switch: `Blocked`).
    FirmState(EntryState),
    /// One account's order-entry state.
    AccountState(AccountId, EntryState),
    /// Cancel every open order of an account (the risk desk's kill switch).
    CancelAccount(AccountId),
    /// Halt one security, or the whole venue.
    Halt(Option<SecurityId>),
    /// Resume one security, or the whole venue.
    Resume(Option<SecurityId>),
    /// Resume through a call auction lasting `auction_ns`.
    ResumeWithAuction(Option<SecurityId>, u64),
    /// Force a trading phase.
    SetPhase(Option<SecurityId>, TradingPhase),
    /// Fault injection: the venue queues operations until this time.
    PauseMatching {
        /// Unix ns.
        until_ns: u64,
    },
    /// Fault injection: the venue processes each operation this much later.
    AckDelay {
        /// Delay in ns (0 turns it off).
        delay_ns: u64,
    },
    /// Change a risk limit at run time.
    SetLimit(LimitChange),
    /// Expire every resting order (end of the trading day).
    EndOfDay,
    /// Start a new trading day (T+1 roll, counters reset).
    StartOfDay,
}

/// A run-time risk limit change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LimitChange {
    /// Maximum notional per order, in 1/10000 CNY.
    MaxNotional(i64),
    /// Fat-finger collar in basis points.
    FatFingerBp(u32),
    /// Hard per-account message limit per second (0 disables).
    MaxMessagesPerSecond(u32),
    /// Open orders per security per account.
    MaxOpenOrdersPerSecurity(u32),
}

/// One message for one login's sequenced stream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Output {
    /// Whose stream.
    pub login: LoginIdx,
    /// Its sequence number in that stream.
    pub seq: Seq,
    /// Engine time of the input that produced it (Unix ns).
    pub ts_ns: u64,
    /// The sequence number of that input (for durability: release after it is on disk).
    pub input_seq: u64,
    /// When that input was read from its socket (Unix ns; 0 when no socket read
    /// caused it): for the end-to-end latency.
    pub read_ns: u64,
    /// The message.
    pub msg: AppMessage,
}

/// Stage timestamps carried with an input (Unix ns from the gateway clock).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Stamps {
    /// Bytes read from the socket.
    pub read_ns: u64,
    /// Frame decoded.
    pub decoded_ns: u64,
}

/// An input with its arrival stamps, as it travels from the io thread to the engine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Arrival {
    /// The instruction.
    pub input: Input,
    /// When it arrived.
    pub stamps: Stamps,
}
