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
        (Self::NOT_ENTITLED, "not_entitled", "The login may not take this depth."),
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

// ------------------------------------------------------------------ decoding

/// Reads fields one after another from a body whose length was checked.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn i64(&mut self) -> i64 {
        i64::from_le_bytes(self.take())
    }
    fn security(&mut self) -> Result<SecurityId, DecodeError> {
        let market = self.u8();
        let code = self.u32();
        let market = Market::from_u8(market)
            .ok_or(DecodeError::BadEnum { field: "market", value: u64::from(market) })?;
        SecurityId::new(market, code).ok_or(DecodeError::OutOfRange { field: "code" })
    }
    fn side(&mut self, field: &'static str) -> Result<Side, DecodeError> {
        let b = self.u8();
        Side::from_u8(b).ok_or(DecodeError::BadEnum { field, value: u64::from(b) })
    }
    fn level(&mut self) -> WireLevel {
        WireLevel { price: Price(self.i64()), qty: Qty(self.u64()), orders: self.u32() }
    }
}

fn bad_enum(field: &'static str, value: u8) -> DecodeError {
    DecodeError::BadEnum { field, value: u64::from(value) }
}

/// Decodes one whole frame sent by a client (a server receives these).
pub fn decode_client(frame: &[u8]) -> Result<MdMessage, DecodeError> {
    decode(frame, true)
}

/// Decodes one whole frame sent by the server (a subscriber receives these).
pub fn decode_server(frame: &[u8]) -> Result<MdMessage, DecodeError> {
    decode(frame, false)
}

fn decode(frame: &[u8], from_client: bool) -> Result<MdMessage, DecodeError> {
    if frame.len() < FRAME_HEADER_LEN {
        return Err(DecodeError::Truncated { needed: FRAME_HEADER_LEN, available: frame.len() });
    }
    let length = usize::from(u16::from_le_bytes([frame[0], frame[1]]));
    if length == 0 || length + 2 > MAX_FRAME_LEN {
        return Err(DecodeError::BadFrameLength { length, max: MAX_FRAME_LEN - 2 });
    }
    if frame.len() != length + 2 {
        return Err(DecodeError::Truncated { needed: length + 2, available: frame.len() });
    }
    let msg_type = frame[2];
    let body = &frame[FRAME_HEADER_LEN..];
    let (_, _, fixed, each, _) = MESSAGE_TYPES
        .iter()
        .copied()
        .find(|t| t.0 == msg_type && t.4 == from_client)
        .ok_or(DecodeError::UnknownType(msg_type))?;
    // A repeated part's count sits right after the fixed fields it follows.
    let entries = match msg_type {
        // Snapshot: bid_count and ask_count follow the header, the session id and the phase.
        b'w' => {
            let at = DELTA_HEADER_LEN + 9;
            usize::from(*body.get(at).unwrap_or(&0)) + usize::from(*body.get(at + 1).unwrap_or(&0))
        }
        b'h' => usize::from(*body.get(8).unwrap_or(&0)),
        _ => 0,
    };
    let expected = fixed + each * entries;
    if body.len() != expected {
        return Err(DecodeError::BadBodyLength { msg_type, expected, actual: body.len() });
    }
    let mut r = Reader { buf: body, pos: 0 };
    let msg = decode_body(msg_type, &mut r)?;
    debug_assert_eq!(r.pos, body.len(), "the layout reads the whole body");
    Ok(msg)
}

fn decode_target(scope: u8, market: u8, code: u32) -> Result<Target, DecodeError> {
    match scope {
        1 => {
            let m = Market::from_u8(market).ok_or(bad_enum("market", market))?;
            SecurityId::new(m, code)
                .map(Target::Security)
                .ok_or(DecodeError::OutOfRange { field: "code" })
        }
        2 if market != 0 => Err(bad_enum("market", market)),
        2 => u16::try_from(code)
            .map(Target::Channel)
            .map_err(|_| DecodeError::OutOfRange { field: "code" }),
        _ => Err(bad_enum("scope", scope)),
    }
}

fn decode_body(msg_type: u8, r: &mut Reader<'_>) -> Result<MdMessage, DecodeError> {
    Ok(match msg_type {
        b'L' => {
            let version = r.u8();
            r.take::<3>();
            let username = Username::from_wire(r.take())
                .map_err(|_| DecodeError::BadIdentifier { field: "username" })?;
            let token = Token(r.take());
            if version != MD_VERSION {
                return Err(DecodeError::BadVersion(version));
            }
            MdMessage::Login { version, username, token }
        }
        b'R' => MdMessage::ClientHeartbeat,
        b'S' => decode_subscribe(r)?,
        b'U' => {
            let request_id = r.u32();
            let (scope, market, code) = (r.u8(), r.u8(), r.u32());
            MdMessage::Unsubscribe { request_id, target: decode_target(scope, market, code)? }
        }
        b'T' => {
            let (request_id, channel, from_seq, count) = (r.u32(), r.u16(), r.u64(), r.u32());
            if from_seq == 0 {
                return Err(DecodeError::OutOfRange { field: "from_seq" });
            }
            if count == 0 || count > RETRANSMIT_COUNT_MAX {
                return Err(DecodeError::OutOfRange { field: "count" });
            }
            MdMessage::RetransmitRequest { request_id, channel, from_seq, count }
        }
        b'A' => MdMessage::LoginAccepted { session_id: r.u64(), heartbeat_ms: r.u32() },
        b'J' => MdMessage::LoginRejected { code: MdReject(r.u16()) },
        b'K' => MdMessage::SubscribeAck { request_id: r.u32(), channel: r.u16() },
        b'Q' => MdMessage::SubscribeReject { request_id: r.u32(), code: MdReject(r.u16()) },
        b'V' => MdMessage::RetransmitReject {
            request_id: r.u32(),
            code: MdReject(r.u16()),
            channel: r.u16(),
            first_available: r.u64(),
        },
        b'w' => MdMessage::Snapshot(decode_snapshot(r)?),
        b'h' => {
            let session_id = r.u64();
            let count = r.u8();
            let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
            if usize::from(count) > HEARTBEAT_CHANNELS_MAX {
                return Err(DecodeError::OutOfRange { field: "count" });
            }
            for c in &mut channels[..usize::from(count)] {
                *c = (r.u16(), r.u64());
            }
            MdMessage::Heartbeat { session_id, count, channels }
        }
        b'n' => {
            let (channel, first_seq, last_seq, reason) = (r.u16(), r.u64(), r.u64(), r.u8());
            r.take::<5>();
            let reason = GapReason::from_u8(reason).ok_or(bad_enum("reason", reason))?;
            if first_seq == 0 || last_seq < first_seq {
                return Err(DecodeError::OutOfRange { field: "first_seq/last_seq" });
            }
            MdMessage::GapNotice { channel, first_seq, last_seq, reason }
        }
        _ => {
            let h = decode_header(r)?;
            MdMessage::Delta(h, decode_delta(msg_type, r)?)
        }
    })
}

fn decode_subscribe(r: &mut Reader<'_>) -> Result<MdMessage, DecodeError> {
    let request_id = r.u32();
    let (scope, depth, mode, market) = (r.u8(), r.u8(), r.u8(), r.u8());
    let (code, interval_ms) = (r.u32(), r.u32());
    let target = decode_target(scope, market, code)?;
    let depth = Depth::from_u8(depth).ok_or(bad_enum("depth", depth))?;
    let mode = Mode::from_u8(mode).ok_or(bad_enum("mode", mode))?;
    let interval_ok = match mode {
        Mode::RealTime => interval_ms == 0,
        Mode::Conflated => (1..=INTERVAL_MS_MAX).contains(&interval_ms),
    };
    if !interval_ok {
        return Err(DecodeError::OutOfRange { field: "interval_ms" });
    }
    Ok(MdMessage::Subscribe { request_id, target, depth, mode, interval_ms })
}

fn decode_header(r: &mut Reader<'_>) -> Result<DeltaHeader, DecodeError> {
    let (channel, seq, prev_seq) = (r.u16(), r.u64(), r.u64());
    let security = r.security()?;
    let (flags, time_ns) = (r.u8(), r.u64());
    if seq == 0 || prev_seq >= seq {
        return Err(DecodeError::OutOfRange { field: "seq/prev_seq" });
    }
    Ok(DeltaHeader { channel, seq, prev_seq, security, flags, time_ns })
}

fn decode_phase(b: u8) -> Result<TradingPhase, DecodeError> {
    TradingPhase::from_u8(b).ok_or(bad_enum("phase", b))
}

fn decode_snapshot(r: &mut Reader<'_>) -> Result<Snapshot, DecodeError> {
    let (channel, seq, security_seq) = (r.u16(), r.u64(), r.u64());
    let security = r.security()?;
    let (flags, time_ns, session_id) = (r.u8(), r.u64(), r.u64());
    let phase = decode_phase(r.u8())?;
    let (bid_count, ask_count, _) = (r.u8(), r.u8(), r.u8());
    if usize::from(bid_count) > SNAPSHOT_LEVELS_MAX || usize::from(ask_count) > SNAPSHOT_LEVELS_MAX
    {
        return Err(DecodeError::OutOfRange { field: "bid_count/ask_count" });
    }
    if security_seq > seq {
        return Err(DecodeError::OutOfRange { field: "security_seq" });
    }
    let (last, volume, turnover) = (Price(r.i64()), r.u64(), r.i64());
    let indicative = Indicative { price: Price(r.i64()), qty: Qty(r.u64()), imbalance: r.u64() };
    let mut bids = [WireLevel::default(); SNAPSHOT_LEVELS_MAX];
    let mut asks = [WireLevel::default(); SNAPSHOT_LEVELS_MAX];
    for l in &mut bids[..usize::from(bid_count)] {
        *l = r.level();
    }
    for l in &mut asks[..usize::from(ask_count)] {
        *l = r.level();
    }
    Ok(Snapshot {
        channel,
        seq,
        security_seq,
        security,
        flags,
        time_ns,
        session_id,
        phase,
        last,
        volume,
        turnover,
        indicative,
        bid_count,
        ask_count,
        bids,
        asks,
    })
}

fn decode_delta(msg_type: u8, r: &mut Reader<'_>) -> Result<DeltaBody, DecodeError> {
    Ok(match msg_type {
        b'l' => {
            let side = r.side("side")?;
            let orders = r.u32();
            let level = WireLevel { price: Price(r.i64()), qty: Qty(r.u64()), orders };
            if (level.qty.0 == 0) != (level.orders == 0) {
                return Err(DecodeError::OutOfRange { field: "qty/orders" });
            }
            DeltaBody::Level { side, level }
        }
        b't' => {
            let a = r.u8();
            let aggressor = match a {
                0 => None,
                _ => Some(Side::from_u8(a).ok_or(bad_enum("aggressor", a))?),
            };
            DeltaBody::Trade {
                exec_id: r.u64(),
                price: Price(r.i64()),
                qty: Qty(r.u64()),
                buy_order_id: r.u64(),
                sell_order_id: r.u64(),
                aggressor,
            }
        }
        b'o' => {
            let side = r.side("side")?;
            DeltaBody::OrderAdded {
                order_id: r.u64(),
                side,
                price: Price(r.i64()),
                qty: Qty(r.u64()),
            }
        }
        b'x' => {
            r.u8();
            DeltaBody::OrderRemoved { order_id: r.u64(), qty: Qty(r.u64()) }
        }
        b'f' => {
            let phase = decode_phase(r.u8())?;
            let k = r.u8();
            DeltaBody::Phase { phase, kind: PhaseKind::from_u8(k).ok_or(bad_enum("kind", k))? }
        }
        b'i' => DeltaBody::Indicative(Indicative {
            price: Price(r.i64()),
            qty: Qty(r.u64()),
            imbalance: r.u64(),
        }),
        other => return Err(DecodeError::UnknownType(other)),
    })
}

// ------------------------------------------------------------------ book builder

/// What a [`BookBuilder`] asks its owner to do after a message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SyncAction {
    /// Nothing (the message was not about this book, or changed nothing).
    None,
    /// The message was applied.
    Applied,
    /// Already applied (a retransmission overlapping what arrived live): ignored.
    Duplicate,
    /// A gap: send a [`MdMessage::RetransmitRequest`] for this range of the channel.
    Retransmit {
        /// The channel.
        channel: u16,
        /// First sequence missing.
        from_seq: u64,
        /// How many.
        count: u32,
    },
    /// The book cannot be recovered from deltas (no snapshot yet after a session
    /// change, or the range is gone): subscribe again for a new snapshot.
    Resnapshot,
    /// Not applied while a recovery is outstanding; the recovery covers it.
    Waiting,
}

/// Where a builder stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SyncState {
    /// No snapshot yet (or the last one was abandoned): deltas are not applied.
    Unsynced,
    /// Every delta since the snapshot applied.
    Synced,
    /// A retransmission was asked for, up to and including this sequence.
    Recovering(u64),
}

/// One security's book as a subscriber rebuilds it: a snapshot, then deltas that
/// must each follow the previous one of the security (`prev_seq` equal to the last
/// applied sequence). A delta that does not is a gap; the builder asks for the
/// missing range once (a [`SyncAction::Retransmit`]), applies the retransmitted
/// deltas when they come, and asks for a new snapshot when the range is gone.
///
/// Levels are kept sorted, at most `levels_max` a side (the worst are dropped when a
/// deeper level arrives); the buffers are allocated once, in [`BookBuilder::new`].
#[derive(Clone, Debug)]
pub struct BookBuilder {
    security: SecurityId,
    channel: u16,
    session_id: Option<u64>,
    state: SyncState,
    /// The channel sequence of the last message applied for the security.
    last_seq: u64,
    /// The channel sequence through which the book is known complete: its
    /// snapshot's `seq`, or the last delta applied (which, following its
    /// predecessor, says the security had nothing in between). A GapNotice ending
    /// at or before it is already covered.
    complete_through: u64,
    levels_max: usize,
    /// Best first.
    bids: Vec<WireLevel>,
    asks: Vec<WireLevel>,
    /// Last trade price, volume, turnover, phase, indicative.
    pub last: Price,
    /// Shares traded today.
    pub volume: u64,
    /// Value traded today.
    pub turnover: i64,
    /// Phase in force.
    pub phase: TradingPhase,
    /// The indicative uncross (qty 0: none).
    pub indicative: Indicative,
}

impl BookBuilder {
    /// An unsynced builder for `security` keeping up to `levels_max` levels a side.
    pub fn new(security: SecurityId, levels_max: usize) -> BookBuilder {
        BookBuilder {
            security,
            channel: channel_of(security),
            session_id: None,
            state: SyncState::Unsynced,
            last_seq: 0,
            complete_through: 0,
            levels_max,
            bids: Vec::with_capacity(levels_max + 1),
            asks: Vec::with_capacity(levels_max + 1),
            last: Price::ZERO,
            volume: 0,
            turnover: 0,
            phase: TradingPhase::Closed,
            indicative: Indicative::default(),
        }
    }

    /// Where the builder stands.
    pub fn state(&self) -> SyncState {
        self.state
    }

    /// The channel sequence of the last message applied for the security.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The bid levels, best first.
    pub fn bids(&self) -> &[WireLevel] {
        &self.bids
    }

    /// The ask levels, best first.
    pub fn asks(&self) -> &[WireLevel] {
        &self.asks
    }

    /// Takes one message from the server.
    pub fn on_message(&mut self, msg: &MdMessage) -> SyncAction {
        match *msg {
            MdMessage::Snapshot(ref s) if s.security == self.security => self.on_snapshot(s),
            MdMessage::Delta(ref h, ref body) if h.security == self.security => {
                self.on_delta(h, body)
            }
            MdMessage::Heartbeat { session_id, .. } => self.on_session(session_id),
            MdMessage::GapNotice { channel, first_seq, last_seq, .. }
                if channel == self.channel =>
            {
                self.on_gap(first_seq, last_seq)
            }
            MdMessage::RetransmitReject { channel, .. } if channel == self.channel => {
                self.state = SyncState::Unsynced;
                SyncAction::Resnapshot
            }
            _ => SyncAction::None,
        }
    }

    fn on_snapshot(&mut self, s: &Snapshot) -> SyncAction {
        self.session_id = Some(s.session_id);
        self.last_seq = s.security_seq;
        self.complete_through = s.seq;
        self.state = SyncState::Synced;
        self.bids.clear();
        self.asks.clear();
        let n = self.levels_max.min(SNAPSHOT_LEVELS_MAX);
        self.bids.extend_from_slice(&s.bids[..usize::from(s.bid_count).min(n)]);
        self.asks.extend_from_slice(&s.asks[..usize::from(s.ask_count).min(n)]);
        self.last = s.last;
        self.volume = s.volume;
        self.turnover = s.turnover;
        self.phase = s.phase;
        self.indicative = s.indicative;
        SyncAction::Applied
    }

    /// A heartbeat of another session: sequences restarted, the book is stale.
    fn on_session(&mut self, session_id: u64) -> SyncAction {
        match self.session_id {
            Some(current) if current != session_id => {
                self.state = SyncState::Unsynced;
                SyncAction::Resnapshot
            }
            _ => SyncAction::None,
        }
    }

    fn on_gap(&mut self, first_seq: u64, last_seq: u64) -> SyncAction {
        if self.state == SyncState::Unsynced || last_seq <= self.complete_through {
            return SyncAction::None;
        }
        self.request(first_seq.max(self.complete_through + 1), last_seq)
    }

    /// Asks for `from..=to` unless a recovery is already outstanding: one request at
    /// a time, so a burst of live deltas after a gap does not become a burst of
    /// requests. What is dropped meanwhile is asked for once the recovery ends (the
    /// next delta that does not follow shows it), or comes with the retransmission.
    fn request(&mut self, from_seq: u64, to_seq: u64) -> SyncAction {
        if let SyncState::Recovering(_) = self.state {
            return SyncAction::Waiting;
        }
        let count = (to_seq - from_seq + 1).min(u64::from(RETRANSMIT_COUNT_MAX));
        // A gap wider than one request can ask for is cheaper to resnapshot.
        if to_seq - from_seq + 1 > u64::from(RETRANSMIT_COUNT_MAX) {
            self.state = SyncState::Unsynced;
            return SyncAction::Resnapshot;
        }
        self.state = SyncState::Recovering(to_seq);
        SyncAction::Retransmit { channel: self.channel, from_seq, count: count as u32 }
    }

    fn on_delta(&mut self, h: &DeltaHeader, body: &DeltaBody) -> SyncAction {
        if self.state == SyncState::Unsynced {
            return SyncAction::None;
        }
        if h.seq <= self.last_seq {
            return SyncAction::Duplicate;
        }
        if h.prev_seq != self.last_seq {
            // Something of this security between the last applied and this one is
            // missing: ask for all of it, this delta included (it is not kept).
            return self.request(self.last_seq + 1, h.seq);
        }
        self.apply(body);
        self.last_seq = h.seq;
        self.complete_through = self.complete_through.max(h.seq);
        if let SyncState::Recovering(until) = self.state
            && self.last_seq >= until
        {
            self.state = SyncState::Synced;
        }
        SyncAction::Applied
    }

    fn apply(&mut self, body: &DeltaBody) {
        match *body {
            DeltaBody::Level { side, level } => self.set_level(side, level),
            DeltaBody::Trade { price, qty, .. } => {
                self.last = price;
                self.volume += qty.0;
                self.turnover = self.turnover.saturating_add(price.0.saturating_mul(qty.0 as i64));
            }
            DeltaBody::Phase { phase, .. } => self.phase = phase,
            DeltaBody::Indicative(i) => self.indicative = i,
            // The order stream is for order-by-order books; levels carry their totals.
            DeltaBody::OrderAdded { .. } | DeltaBody::OrderRemoved { .. } => {}
        }
    }

    fn set_level(&mut self, side: Side, level: WireLevel) {
        let levels = match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        };
        // Best first: bids by falling price, asks by rising price.
        let pos = levels.binary_search_by(|l| match side {
            Side::Buy => level.price.cmp(&l.price),
            Side::Sell => l.price.cmp(&level.price),
        });
        match (pos, level.qty.0) {
            (Ok(i), 0) => {
                levels.remove(i);
            }
            (Ok(i), _) => levels[i] = level,
            (Err(_), 0) => {}
            (Err(i), _) if i < self.levels_max => {
                levels.insert(i, level);
                levels.truncate(self.levels_max);
            }
            (Err(_), _) => {}
        }
    }
}
