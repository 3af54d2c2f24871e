//! The market-data protocol: channels, the wire messages, and a book builder.
//!
//! `docs/marketdata.md` at the repository root is the contract this module
//! implements; `protocol/tests/marketdata_doc.rs` holds the two together. The
//! framing is the order-entry protocol's (`u16 length`, `u8 type`, fixed
//! little-endian offsets, [`MAX_FRAME_LEN`]); decoding never panics and reuses its
//! [`DecodeError`]. Everything is `Copy` and fixed size: encoding and decoding
//! allocate nothing.

use crate::codec::{DecodeError, FRAME_HEADER_LEN, MAX_FRAME_LEN};
use crate::types::{Market, OrderId, Price, Qty, SecurityId, Side, Token, TradingPhase, Username};

mod book;
mod decode;
pub use book::{BookBuilder, SyncAction, SyncState, level_position};
pub use decode::{decode_client, decode_server};

/// The market-data protocol version a Login must name.
pub const MD_VERSION: u8 = 1;
/// Levels per side a snapshot carries at most (Level-2 depth).
pub const SNAPSHOT_LEVELS_MAX: usize = 10;
/// Channels one heartbeat lists at most.
pub const HEARTBEAT_CHANNELS_MAX: usize = 32;
/// Messages one retransmission request may ask for.
pub const RETRANSMIT_COUNT_MAX: u32 = 10_000;
/// The longest conflation interval a subscription may ask for.
pub const INTERVAL_MS_MAX: u32 = 60_000;
/// Delta flag: the publisher merged this security's earlier updates into this one.
pub const FLAG_CONFLATED: u8 = 0x01;
/// Delta flag: sent again in answer to a retransmission request.
pub const FLAG_RETRANSMIT: u8 = 0x02;

/// The channel of a security: `market × 100 + code / 10,000`, so each channel holds
/// the codes that share their first two digits on one market (SSE 600000–609999 is
/// channel 160, STAR 688xxx is 168, SZSE 000xxx is 200, ChiNext 300xxx is 230).
/// Sequence numbers count per channel.
pub const fn channel_of(security: SecurityId) -> u16 {
    security.market.as_u8() as u16 * 100 + (security.code / 10_000) as u16
}

/// Defines a `u8` wire enum with `from_u8` and `as_u8`.
macro_rules! md_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
        #[repr(u8)]
        pub enum $name {
            $($(#[$vmeta])* $variant = $value,)+
        }

        impl $name {
            /// The value for a wire byte, `None` when undefined.
            pub const fn from_u8(value: u8) -> Option<$name> {
                match value {
                    $($value => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// The wire byte.
            pub const fn as_u8(self) -> u8 {
                self as u8
            }
        }
    };
}

md_enum! {
    /// How much of the book a subscription carries.
    Depth {
        /// Five levels, last trade, volume, turnover, phase; no order stream.
        Level1 = 1,
        /// Ten levels, and the tick-by-tick orders and trades.
        Level2 = 2,
    }
}

md_enum! {
    /// How updates are delivered.
    Mode {
        /// Every update as it happens.
        RealTime = 1,
        /// At most one book update per security per interval, the latest state.
        Conflated = 2,
    }
}

md_enum! {
    /// What a phase message reports.
    PhaseKind {
        /// A scheduled or manual phase change.
        PhaseChange = 1,
        /// Trading halted.
        Halt = 2,
        /// Trading resumed.
        Resume = 3,
    }
}

md_enum! {
    /// Why a gap notice was sent.
    GapReason {
        /// The subscriber read too slowly and its queue overflowed.
        SlowConsumer = 1,
        /// The publisher restarted the channel (a new session follows).
        Restart = 2,
    }
}

/// A market-data reject code (LoginRejected, SubscribeReject, RetransmitReject).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MdReject(pub u16);

impl MdReject {
    /// The first message was not a Login.
    pub const NOT_LOGGED_IN: MdReject = MdReject(1);
    /// Unknown username or wrong token.
    pub const BAD_CREDENTIALS: MdReject = MdReject(2);
    /// The Login named a version other than [`MD_VERSION`].
    pub const UNSUPPORTED_VERSION: MdReject = MdReject(3);
    /// The request did not decode (its `request_id` is 0 when it could not be read).
    pub const MALFORMED: MdReject = MdReject(4);
    /// The security is not listed.
    pub const UNKNOWN_SECURITY: MdReject = MdReject(5);
    /// No listed security is on the channel.
    pub const UNKNOWN_CHANNEL: MdReject = MdReject(6);
    /// The login is not entitled to that depth.
    pub const NOT_ENTITLED: MdReject = MdReject(7);
    /// The session holds the most subscriptions it may.
    pub const TOO_MANY_SUBSCRIPTIONS: MdReject = MdReject(8);
    /// Unsubscribe or retransmission for something not subscribed.
    pub const NOT_SUBSCRIBED: MdReject = MdReject(9);
    /// The range is no longer in the channel's history: take a new snapshot.
    pub const RANGE_UNAVAILABLE: MdReject = MdReject(10);
    /// The range goes beyond the channel's last sequence.
    pub const RANGE_AHEAD: MdReject = MdReject(11);

    /// Every code, in order, with its stable name and a sentence.
    pub const ALL: [(MdReject, &'static str, &'static str); 11] = [
        (Self::NOT_LOGGED_IN, "not_logged_in", "The first message must be a Login."),
        (Self::BAD_CREDENTIALS, "bad_credentials", "Unknown username or wrong token."),
        (
            Self::UNSUPPORTED_VERSION,
            "unsupported_version",
            "This market-data version is not spoken.",
        ),
        (Self::MALFORMED, "malformed", "The request does not decode."),
        (Self::UNKNOWN_SECURITY, "unknown_security", "The security is not listed."),
        (Self::UNKNOWN_CHANNEL, "unknown_channel", "No listed security is on this channel."),
        (
            Self::NOT_ENTITLED,
            "not_entitled",
            "The login may not take this depth (or, at Login, no market data at all).",
        ),
        (
            Self::TOO_MANY_SUBSCRIPTIONS,
            "too_many_subscriptions",
            "The session has the most subscriptions it may hold.",
        ),
        (Self::NOT_SUBSCRIBED, "not_subscribed", "Nothing is subscribed under this name."),
        (
            Self::RANGE_UNAVAILABLE,
            "range_unavailable",
            "The range is gone from the history; take a new snapshot.",
        ),
        (Self::RANGE_AHEAD, "range_ahead", "The range goes beyond the channel's last sequence."),
    ];

    /// The stable name, `None` for an undefined code.
    pub fn name(self) -> Option<&'static str> {
        Self::ALL.iter().find(|(c, _, _)| *c == self).map(|(_, n, _)| *n)
    }
}

/// What a subscription names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Target {
    /// One security.
    Security(SecurityId),
    /// Every security of a channel ([`channel_of`]).
    Channel(u16),
}

/// The header every sequenced delta starts with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeltaHeader {
    /// The channel.
    pub channel: u16,
    /// The channel sequence of this message.
    pub seq: u64,
    /// The channel sequence of the security's previous message (0: none this session).
    pub prev_seq: u64,
    /// The security.
    pub security: SecurityId,
    /// [`FLAG_CONFLATED`], [`FLAG_RETRANSMIT`].
    pub flags: u8,
    /// Venue time of the event, ns since the Unix epoch.
    pub time_ns: u64,
}

/// One price level on the wire.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct WireLevel {
    /// Price.
    pub price: Price,
    /// Open quantity.
    pub qty: Qty,
    /// Orders at the price.
    pub orders: u32,
}

/// A call-auction indicative result; `qty` 0 means none.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Indicative {
    /// Price.
    pub price: Price,
    /// Matched quantity.
    pub qty: Qty,
    /// Imbalance at that price.
    pub imbalance: u64,
}

/// One security's book and day, stamped with the channel sequence it reflects.
/// Level entries past `bid_count` / `ask_count` are not sent; decoding leaves them zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Snapshot {
    /// The channel.
    pub channel: u16,
    /// The channel sequence the snapshot reflects: every delta after it applies.
    pub seq: u64,
    /// The security's last sequence (at most `seq`): its next delta's `prev_seq`.
    pub security_seq: u64,
    /// The security.
    pub security: SecurityId,
    /// [`FLAG_CONFLATED`] when taken for a conflated subscription.
    pub flags: u8,
    /// Venue time of the snapshot.
    pub time_ns: u64,
    /// The feed's session: sequences restart with a new one.
    pub session_id: u64,
    /// Phase in force.
    pub phase: TradingPhase,
    /// Last trade price, else the previous close.
    pub last: Price,
    /// Shares traded today.
    pub volume: u64,
    /// Value traded today, 1/10000 CNY.
    pub turnover: i64,
    /// The indicative uncross (qty 0: none).
    pub indicative: Indicative,
    /// Bid levels used in `bids`.
    pub bid_count: u8,
    /// Ask levels used in `asks`.
    pub ask_count: u8,
    /// Best bids first.
    pub bids: [WireLevel; SNAPSHOT_LEVELS_MAX],
    /// Best asks first.
    pub asks: [WireLevel; SNAPSHOT_LEVELS_MAX],
}

/// What a delta reports.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DeltaBody {
    /// A level's new totals; `qty` 0 removes it.
    Level {
        /// Bid or ask.
        side: Side,
        /// The level.
        level: WireLevel,
    },
    /// A trade.
    Trade {
        /// Trade id.
        exec_id: u64,
        /// Price.
        price: Price,
        /// Quantity.
        qty: Qty,
        /// The buy order.
        buy_order_id: OrderId,
        /// The sell order.
        sell_order_id: OrderId,
        /// The incoming order's side; `None` for an auction.
        aggressor: Option<Side>,
    },
    /// An order came to rest.
    OrderAdded {
        /// The order.
        order_id: OrderId,
        /// Side.
        side: Side,
        /// Price.
        price: Price,
        /// Open quantity.
        qty: Qty,
    },
    /// A resting order left the book (`qty` 0) or was reduced in place to `qty`.
    OrderRemoved {
        /// The order.
        order_id: OrderId,
        /// Open quantity now.
        qty: Qty,
    },
    /// The phase in force.
    Phase {
        /// Phase.
        phase: TradingPhase,
        /// What happened.
        kind: PhaseKind,
    },
    /// The indicative uncross now (`qty` 0: none).
    Indicative(Indicative),
}

/// Every market-data message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MdMessage {
    /// `L`, client: log in.
    Login {
        /// [`MD_VERSION`].
        version: u8,
        /// The same username as order entry.
        username: Username,
        /// The same token.
        token: Token,
    },
    /// `R`, client: I am alive.
    ClientHeartbeat,
    /// `S`, client: subscribe.
    Subscribe {
        /// Echoed in the answer.
        request_id: u32,
        /// A security or a channel.
        target: Target,
        /// Level-1 or Level-2.
        depth: Depth,
        /// Real time or conflated.
        mode: Mode,
        /// Conflation interval (1..=[`INTERVAL_MS_MAX`]); 0 in real time.
        interval_ms: u32,
    },
    /// `U`, client: unsubscribe.
    Unsubscribe {
        /// Echoed in a reject.
        request_id: u32,
        /// What to stop.
        target: Target,
    },
    /// `T`, client: send a channel's messages `from_seq .. from_seq + count` again.
    RetransmitRequest {
        /// Echoed in a reject.
        request_id: u32,
        /// The channel.
        channel: u16,
        /// First sequence wanted (positive).
        from_seq: u64,
        /// How many (1..=[`RETRANSMIT_COUNT_MAX`]).
        count: u32,
    },
    /// `A`, server: logged in.
    LoginAccepted {
        /// The feed's session; sequences restart with a new one.
        session_id: u64,
        /// Heartbeat interval.
        heartbeat_ms: u32,
    },
    /// `J`, server: refused; the connection closes.
    LoginRejected {
        /// Why.
        code: MdReject,
    },
    /// `K`, server: subscribed; the snapshots follow.
    SubscribeAck {
        /// The request.
        request_id: u32,
        /// The channel whose sequence the snapshots and deltas carry.
        channel: u16,
    },
    /// `Q`, server: a Subscribe or Unsubscribe refused.
    SubscribeReject {
        /// The request.
        request_id: u32,
        /// Why.
        code: MdReject,
    },
    /// `V`, server: a retransmission refused.
    RetransmitReject {
        /// The request.
        request_id: u32,
        /// Why.
        code: MdReject,
        /// The channel.
        channel: u16,
        /// The oldest sequence the history still holds.
        first_available: u64,
    },
    /// `w`, server: a snapshot.
    Snapshot(Snapshot),
    /// `l t o x f i`, server: a sequenced delta.
    Delta(DeltaHeader, DeltaBody),
    /// `h`, server: alive, with each subscribed channel's last sequence.
    Heartbeat {
        /// The feed's session.
        session_id: u64,
        /// Channels listed.
        count: u8,
        /// (channel, last sequence).
        channels: [(u16, u64); HEARTBEAT_CHANNELS_MAX],
    },
    /// `n`, server: the subscriber missed these messages of a channel.
    GapNotice {
        /// The channel.
        channel: u16,
        /// First sequence missed.
        first_seq: u64,
        /// Last sequence missed.
        last_seq: u64,
        /// Why.
        reason: GapReason,
    },
}

/// Message types: (type byte, name, fixed body bytes, bytes per repeated entry,
/// sent by the client). The table in `docs/marketdata.md` section 4 is held to it.
pub const MESSAGE_TYPES: [(u8, &str, usize, usize, bool); 19] = [
    (b'L', "Login", 52, 0, true),
    (b'R', "ClientHeartbeat", 0, 0, true),
    (b'S', "Subscribe", 16, 0, true),
    (b'U', "Unsubscribe", 10, 0, true),
    (b'T', "RetransmitRequest", 18, 0, true),
    (b'A', "LoginAccepted", 12, 0, false),
    (b'J', "LoginRejected", 2, 0, false),
    (b'K', "SubscribeAck", 6, 0, false),
    (b'Q', "SubscribeReject", 6, 0, false),
    (b'V', "RetransmitReject", 16, 0, false),
    (b'w', "Snapshot", 92, 20, false),
    (b'l', "LevelUpdate", 53, 0, false),
    (b't', "Trade", 73, 0, false),
    (b'o', "OrderAdded", 57, 0, false),
    (b'x', "OrderRemoved", 49, 0, false),
    (b'f', "Phase", 34, 0, false),
    (b'i', "IndicativeUncross", 56, 0, false),
    (b'h', "Heartbeat", 9, 10, false),
    (b'n', "GapNotice", 24, 0, false),
];

/// Bytes of the header every delta and snapshot body starts with (channel, seq,
/// prev_seq, security, flags, time).
pub const DELTA_HEADER_LEN: usize = 32;

/// Why a message could not be encoded.
#[derive(Clone, Copy, PartialEq, Eq, Debug, thiserror::Error)]
pub enum MdEncodeError {
    /// The output buffer is shorter than the frame.
    #[error("the frame needs {needed} bytes")]
    BufferTooSmall {
        /// The frame's length.
        needed: usize,
    },
    /// A repeated-entry count above its maximum.
    #[error("field {0} is out of range")]
    OutOfRange(&'static str),
}

// ------------------------------------------------------------------ encoding

/// Writes fields one after another into a frame.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    fn security(&mut self, s: SecurityId) {
        self.u8(s.market.as_u8());
        self.u32(s.code);
    }
    fn level(&mut self, l: &WireLevel) {
        self.i64(l.price.0);
        self.u64(l.qty.0);
        self.u32(l.orders);
    }
}

fn side_byte(side: Option<Side>) -> u8 {
    side.map_or(0, Side::as_u8)
}

fn target_fields(target: Target) -> (u8, u8, u32) {
    match target {
        Target::Security(s) => (1, s.market.as_u8(), s.code),
        Target::Channel(c) => (2, 0, u32::from(c)),
    }
}

impl MdMessage {
    /// The type byte.
    pub const fn msg_type(&self) -> u8 {
        match self {
            MdMessage::Login { .. } => b'L',
            MdMessage::ClientHeartbeat => b'R',
            MdMessage::Subscribe { .. } => b'S',
            MdMessage::Unsubscribe { .. } => b'U',
            MdMessage::RetransmitRequest { .. } => b'T',
            MdMessage::LoginAccepted { .. } => b'A',
            MdMessage::LoginRejected { .. } => b'J',
            MdMessage::SubscribeAck { .. } => b'K',
            MdMessage::SubscribeReject { .. } => b'Q',
            MdMessage::RetransmitReject { .. } => b'V',
            MdMessage::Snapshot(_) => b'w',
            MdMessage::Delta(_, body) => match body {
                DeltaBody::Level { .. } => b'l',
                DeltaBody::Trade { .. } => b't',
                DeltaBody::OrderAdded { .. } => b'o',
                DeltaBody::OrderRemoved { .. } => b'x',
                DeltaBody::Phase { .. } => b'f',
                DeltaBody::Indicative(_) => b'i',
            },
            MdMessage::Heartbeat { .. } => b'h',
            MdMessage::GapNotice { .. } => b'n',
        }
    }

    /// The whole frame's length in bytes.
    pub fn frame_len(&self) -> usize {
        let (_, _, fixed, each, _) = MESSAGE_TYPES
            .iter()
            .copied()
            .find(|t| t.0 == self.msg_type())
            .expect("every message type is in MESSAGE_TYPES");
        let entries = match self {
            MdMessage::Snapshot(s) => usize::from(s.bid_count) + usize::from(s.ask_count),
            MdMessage::Heartbeat { count, .. } => usize::from(*count),
            _ => 0,
        };
        FRAME_HEADER_LEN + fixed + each * entries
    }

    /// Encodes the frame into `out`; returns its length.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, MdEncodeError> {
        match self {
            MdMessage::Snapshot(s)
                if usize::from(s.bid_count) > SNAPSHOT_LEVELS_MAX
                    || usize::from(s.ask_count) > SNAPSHOT_LEVELS_MAX =>
            {
                return Err(MdEncodeError::OutOfRange("bid_count/ask_count"));
            }
            MdMessage::Heartbeat { count, .. } if usize::from(*count) > HEARTBEAT_CHANNELS_MAX => {
                return Err(MdEncodeError::OutOfRange("count"));
            }
            _ => {}
        }
        let len = self.frame_len();
        if out.len() < len {
            return Err(MdEncodeError::BufferTooSmall { needed: len });
        }
        let mut w = Writer { buf: &mut out[..len], pos: 0 };
        w.u16((len - 2) as u16);
        w.u8(self.msg_type());
        self.encode_body(&mut w);
        debug_assert_eq!(w.pos, len, "the layout fills the frame");
        Ok(len)
    }

    fn encode_body(&self, w: &mut Writer<'_>) {
        match *self {
            MdMessage::Login { version, username, token } => {
                w.u8(version);
                w.bytes(&[0; 3]);
                w.bytes(&username.to_wire());
                w.bytes(&token.0);
            }
            MdMessage::ClientHeartbeat => {}
            MdMessage::Subscribe { request_id, target, depth, mode, interval_ms } => {
                let (scope, market, code) = target_fields(target);
                w.u32(request_id);
                w.u8(scope);
                w.u8(depth.as_u8());
                w.u8(mode.as_u8());
                w.u8(market);
                w.u32(code);
                w.u32(interval_ms);
            }
            MdMessage::Unsubscribe { request_id, target } => {
                let (scope, market, code) = target_fields(target);
                w.u32(request_id);
                w.u8(scope);
                w.u8(market);
                w.u32(code);
            }
            MdMessage::RetransmitRequest { request_id, channel, from_seq, count } => {
                w.u32(request_id);
                w.u16(channel);
                w.u64(from_seq);
                w.u32(count);
            }
            MdMessage::LoginAccepted { session_id, heartbeat_ms } => {
                w.u64(session_id);
                w.u32(heartbeat_ms);
            }
            MdMessage::LoginRejected { code } => w.u16(code.0),
            MdMessage::SubscribeAck { request_id, channel } => {
                w.u32(request_id);
                w.u16(channel);
            }
            MdMessage::SubscribeReject { request_id, code } => {
                w.u32(request_id);
                w.u16(code.0);
            }
            MdMessage::RetransmitReject { request_id, code, channel, first_available } => {
                w.u32(request_id);
                w.u16(code.0);
                w.u16(channel);
                w.u64(first_available);
            }
            MdMessage::Snapshot(ref s) => encode_snapshot(w, s),
            MdMessage::Delta(ref h, ref body) => {
                encode_header(w, h);
                encode_delta(w, body);
            }
            MdMessage::Heartbeat { session_id, count, ref channels } => {
                w.u64(session_id);
                w.u8(count);
                for &(channel, seq) in &channels[..usize::from(count)] {
                    w.u16(channel);
                    w.u64(seq);
                }
            }
            MdMessage::GapNotice { channel, first_seq, last_seq, reason } => {
                w.u16(channel);
                w.u64(first_seq);
                w.u64(last_seq);
                w.u8(reason.as_u8());
                w.bytes(&[0; 5]);
            }
        }
    }
}

fn encode_header(w: &mut Writer<'_>, h: &DeltaHeader) {
    w.u16(h.channel);
    w.u64(h.seq);
    w.u64(h.prev_seq);
    w.security(h.security);
    w.u8(h.flags);
    w.u64(h.time_ns);
}

fn encode_snapshot(w: &mut Writer<'_>, s: &Snapshot) {
    let h = DeltaHeader {
        channel: s.channel,
        seq: s.seq,
        prev_seq: s.security_seq,
        security: s.security,
        flags: s.flags,
        time_ns: s.time_ns,
    };
    encode_header(w, &h);
    w.u64(s.session_id);
    w.u8(s.phase.as_u8());
    w.u8(s.bid_count);
    w.u8(s.ask_count);
    w.u8(0);
    w.i64(s.last.0);
    w.u64(s.volume);
    w.i64(s.turnover);
    w.i64(s.indicative.price.0);
    w.u64(s.indicative.qty.0);
    w.u64(s.indicative.imbalance);
    for l in &s.bids[..usize::from(s.bid_count)] {
        w.level(l);
    }
    for l in &s.asks[..usize::from(s.ask_count)] {
        w.level(l);
    }
}

fn encode_delta(w: &mut Writer<'_>, body: &DeltaBody) {
    match *body {
        DeltaBody::Level { side, ref level } => {
            w.u8(side.as_u8());
            w.u32(level.orders);
            w.i64(level.price.0);
            w.u64(level.qty.0);
        }
        DeltaBody::Trade { exec_id, price, qty, buy_order_id, sell_order_id, aggressor } => {
            w.u8(side_byte(aggressor));
            w.u64(exec_id);
            w.i64(price.0);
            w.u64(qty.0);
            w.u64(buy_order_id);
            w.u64(sell_order_id);
        }
        DeltaBody::OrderAdded { order_id, side, price, qty } => {
            w.u8(side.as_u8());
            w.u64(order_id);
            w.i64(price.0);
            w.u64(qty.0);
        }
        DeltaBody::OrderRemoved { order_id, qty } => {
            w.u8(0);
            w.u64(order_id);
            w.u64(qty.0);
        }
        DeltaBody::Phase { phase, kind } => {
            w.u8(phase.as_u8());
            w.u8(kind.as_u8());
        }
        DeltaBody::Indicative(ref i) => {
            w.i64(i.price.0);
            w.u64(i.qty.0);
            w.u64(i.imbalance);
        }
    }
}
