//! The subscriber's session without a socket: server messages in, books, a tape,
//! counters and the requests to send out. It reads no clock and does no I/O, so
//! every recovery rule of `docs/marketdata.md` section 8 is decided here and the
//! TCP edge ([`super::MdClient`]) only moves bytes.

use std::collections::VecDeque;

use super::MdClientError;
use crate::marketdata::{
    BookBuilder, DeltaBody, DeltaHeader, Depth, FLAG_CONFLATED, HEARTBEAT_CHANNELS_MAX,
    INTERVAL_MS_MAX, Indicative, MdMessage, MdReject, Mode, SNAPSHOT_LEVELS_MAX, SyncAction,
    SyncState, Target, WireLevel, channel_of,
};
use crate::types::{Price, Qty, SecurityId, Side, TradingPhase};

/// Levels a side a Level-1 subscription carries.
pub const LEVEL1_LEVELS: usize = 5;

/// How much a subscriber holds at most; everything is allocated once, from these.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FeedLimits {
    /// Books (securities) held at most.
    pub books_max: usize,
    /// Subscriptions held at most.
    pub subscriptions_max: usize,
    /// Recent trades kept per security (a ring: the oldest goes first).
    pub trades_kept: usize,
}

impl Default for FeedLimits {
    fn default() -> FeedLimits {
        FeedLimits { books_max: 64, subscriptions_max: 32, trades_kept: 32 }
    }
}

/// A trade as the tape keeps it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TradeTick {
    /// The channel sequence it came with.
    pub seq: u64,
    /// Venue time, ns since the Unix epoch.
    pub time_ns: u64,
    /// Trade id.
    pub exec_id: u64,
    /// Price.
    pub price: Price,
    /// Shares.
    pub qty: Qty,
    /// The incoming order's side; `None` in a call auction.
    pub aggressor: Option<Side>,
}

/// What the subscriber counts (every figure since connecting).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct FeedCounters {
    /// RetransmitRequests sent.
    pub retransmit_requests: u64,
    /// Books that left recovery with every missing delta applied.
    pub gaps_recovered: u64,
    /// Subscribes sent again to rebuild a book from a new snapshot.
    pub resnapshots: u64,
    /// Deltas applied that the server had conflated.
    pub conflated_updates: u64,
    /// Deltas already applied (retransmissions overlapping live traffic).
    pub duplicates: u64,
    /// GapNotices received.
    pub gap_notices: u64,
    /// RetransmitRejects received.
    pub retransmit_rejects: u64,
    /// Feed session ids that replaced the one the books were built in.
    pub session_changes: u64,
}

/// What one server message did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MdEvent {
    /// A subscription was accepted; its snapshots follow.
    Subscribed {
        /// The Subscribe's request id.
        request_id: u32,
        /// The channel its sequences count on.
        channel: u16,
    },
    /// A Subscribe or Unsubscribe was refused (`target`: the subscription dropped).
    SubscribeRejected {
        /// The request id.
        request_id: u32,
        /// The subscription it was, if it was one.
        target: Option<Target>,
        /// Why.
        code: MdReject,
    },
    /// A book was (re)built from a snapshot.
    Snapshot(SecurityId),
    /// A snapshot of a security no subscription covers (a late answer to an
    /// Unsubscribe): not kept.
    NotSubscribed(SecurityId),
    /// A delta was applied to its book.
    Applied(DeltaHeader, DeltaBody),
    /// A delta was not applied: a duplicate, a gap (recovery is under way), or
    /// no book is synced for it.
    Skipped(DeltaHeader),
    /// The server did not deliver this range of a channel.
    GapNotice {
        /// The channel.
        channel: u16,
        /// First sequence missed.
        first_seq: u64,
        /// Last sequence missed.
        last_seq: u64,
    },
    /// A retransmission was refused; the books waiting on it subscribe again.
    RetransmitRejected {
        /// The request id.
        request_id: u32,
        /// Why.
        code: MdReject,
    },
    /// The server is alive.
    Heartbeat {
        /// The feed session it names.
        session_id: u64,
    },
}

/// One security's book, its recent trades and its recovery bookkeeping.
#[derive(Clone, Debug)]
pub struct SecurityBook {
    security: SecurityId,
    builder: BookBuilder,
    depth: Depth,
    /// Oldest first; at most `trades_kept`.
    trades: VecDeque<TradeTick>,
    trades_kept: usize,
    /// The RetransmitRequest this book waits on.
    retransmit_request: Option<u32>,
}

impl SecurityBook {
    fn new(security: SecurityId, depth: Depth, trades_kept: usize) -> SecurityBook {
        SecurityBook {
            security,
            builder: BookBuilder::new(security, levels_of(depth)),
            depth,
            trades: VecDeque::with_capacity(trades_kept),
            trades_kept,
            retransmit_request: None,
        }
    }

    /// The security.
    pub fn security(&self) -> SecurityId {
        self.security
    }

    /// The depth it is subscribed at.
    pub fn depth(&self) -> Depth {
        self.depth
    }

    /// Where its synchronisation stands.
    pub fn state(&self) -> SyncState {
        self.builder.state()
    }

    /// The channel sequence of the last message applied for the security.
    pub fn last_seq(&self) -> u64 {
        self.builder.last_seq()
    }

    /// Bid levels, best first.
    pub fn bids(&self) -> &[WireLevel] {
        self.builder.bids()
    }

    /// Ask levels, best first.
    pub fn asks(&self) -> &[WireLevel] {
        self.builder.asks()
    }

    /// Last trade price, else the previous close.
    pub fn last(&self) -> Price {
        self.builder.last
    }

    /// Shares traded today.
    pub fn volume(&self) -> u64 {
        self.builder.volume
    }

    /// Value traded today, 1/10000 CNY.
    pub fn turnover(&self) -> i64 {
        self.builder.turnover
    }

    /// Phase in force.
    pub fn phase(&self) -> TradingPhase {
        self.builder.phase
    }

    /// The indicative uncross (qty 0: none).
    pub fn indicative(&self) -> Indicative {
        self.builder.indicative
    }

    /// The RetransmitRequest this book waits on, while it is recovering.
    pub fn retransmit_request(&self) -> Option<u32> {
        self.retransmit_request
    }

    /// The recent trades applied, oldest first (at most [`FeedLimits::trades_kept`]).
    pub fn trades(&self) -> impl DoubleEndedIterator<Item = &TradeTick> + ExactSizeIterator {
        self.trades.iter()
    }

    fn record_trade(&mut self, h: &DeltaHeader, body: &DeltaBody) {
        let DeltaBody::Trade { exec_id, price, qty, aggressor, .. } = *body else { return };
        if self.trades_kept == 0 {
            return;
        }
        if self.trades.len() == self.trades_kept {
            self.trades.pop_front();
        }
        self.trades.push_back(TradeTick {
            seq: h.seq,
            time_ns: h.time_ns,
            exec_id,
            price,
            qty,
            aggressor,
        });
        debug_assert!(self.trades.len() <= self.trades_kept, "the tape is a bounded ring");
    }
}

fn levels_of(depth: Depth) -> usize {
    match depth {
        Depth::Level1 => LEVEL1_LEVELS,
        Depth::Level2 => SNAPSHOT_LEVELS_MAX,
    }
}

/// One subscription as the client asked for it.
#[derive(Clone, Copy, Debug)]
struct Subscription {
    target: Target,
    depth: Depth,
    mode: Mode,
    interval_ms: u32,
    /// The Subscribe in force (the latest sent for the target).
    request_id: u32,
    /// A Subscribe was sent again and its SubscribeAck has not come yet.
    resubscribing: bool,
}

impl Subscription {
    fn covers(&self, security: SecurityId) -> bool {
        match self.target {
            Target::Security(s) => s == security,
            Target::Channel(c) => c == channel_of(security),
        }
    }

    fn message(&self) -> MdMessage {
        MdMessage::Subscribe {
            request_id: self.request_id,
            target: self.target,
            depth: self.depth,
            mode: self.mode,
            interval_ms: self.interval_ms,
        }
    }
}

/// The subscriber's session state: subscriptions, one book per security, and the
/// requests its recovery rules want sent. The owner takes them
/// ([`Feed::take_outgoing`]) after every call that may decide some; the queue
/// holds one message's worth.
#[derive(Debug)]
pub struct Feed {
    limits: FeedLimits,
    session_id: u64,
    subscriptions: Vec<Subscription>,
    books: Vec<SecurityBook>,
    next_request_id: u32,
    /// Requests decided and not yet taken by the connection; one message's worth
    /// at most (a resubscribe per subscription or a request per book).
    outgoing: Vec<MdMessage>,
    outgoing_max: usize,
    /// Each channel's last sequence as the latest Heartbeat that listed it said:
    /// (channel, last sequence). A session on more than 32 channels gets one
    /// Heartbeat per 32; at most `heartbeat_channels_max` are kept.
    heartbeat_channels: Vec<(u16, u64)>,
    heartbeat_channels_max: usize,
    counters: FeedCounters,
}

impl Feed {
    /// A feed for the session LoginAccepted named.
    pub fn new(session_id: u64, limits: FeedLimits) -> Feed {
        let outgoing_max = limits.books_max + limits.subscriptions_max;
        Feed {
            limits,
            session_id,
            subscriptions: Vec::with_capacity(limits.subscriptions_max),
            books: Vec::with_capacity(limits.books_max),
            next_request_id: 1,
            outgoing: Vec::with_capacity(outgoing_max),
            outgoing_max,
            heartbeat_channels: Vec::with_capacity(
                limits.subscriptions_max.max(HEARTBEAT_CHANNELS_MAX),
            ),
            heartbeat_channels_max: limits.subscriptions_max.max(HEARTBEAT_CHANNELS_MAX),
            counters: FeedCounters::default(),
        }
    }

    /// The feed session the books are built in.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// What was counted so far.
    pub fn counters(&self) -> FeedCounters {
        self.counters
    }

    /// The book of a security, once subscribed.
    pub fn book(&self, security: SecurityId) -> Option<&SecurityBook> {
        self.books.iter().find(|b| b.security == security)
    }

    /// Every book, in the order they were made.
    pub fn books(&self) -> &[SecurityBook] {
        &self.books
    }

    /// A channel's last sequence as the latest Heartbeat that listed it said.
    pub fn channel_last_seq(&self, channel: u16) -> Option<u64> {
        self.heartbeat_channels.iter().find(|c| c.0 == channel).map(|c| c.1)
    }

    /// Whether every book has been built from a snapshot and is not waiting on one.
    pub fn all_synced(&self) -> bool {
        !self.books.is_empty() && self.books.iter().all(|b| b.state() != SyncState::Unsynced)
    }

    /// Takes the requests to send, in the order they were decided.
    pub fn take_outgoing(&mut self) -> std::vec::Drain<'_, MdMessage> {
        self.outgoing.drain(..)
    }

    fn push(&mut self, msg: MdMessage) {
        assert!(
            self.outgoing.len() < self.outgoing_max,
            "the connection drains after each message"
        );
        self.outgoing.push(msg);
    }

    fn request_id(&mut self) -> u32 {
        let id = self.next_request_id;
        self.next_request_id = self.next_request_id.wrapping_add(1).max(1);
        id
    }

    /// Subscribes (or replaces the subscription to the same target); returns the
    /// request id. A security's book is made at once; a channel's books as their
    /// snapshots arrive.
    pub fn subscribe(
        &mut self,
        target: Target,
        depth: Depth,
        mode: Mode,
        interval_ms: u32,
    ) -> Result<u32, MdClientError> {
        let interval_ok = match mode {
            Mode::RealTime => interval_ms == 0,
            Mode::Conflated => (1..=INTERVAL_MS_MAX).contains(&interval_ms),
        };
        if !interval_ok {
            return Err(MdClientError::InvalidRequest(
                "interval_ms: 0 in real time, 1 to 60000 conflated",
            ));
        }
        let existing = self.subscriptions.iter().position(|s| s.target == target);
        if existing.is_none() && self.subscriptions.len() == self.limits.subscriptions_max {
            return Err(MdClientError::TooManySubscriptions { max: self.limits.subscriptions_max });
        }
        if let Target::Security(security) = target {
            self.ensure_book(security, depth)?;
        }
        let request_id = self.request_id();
        let sub =
            Subscription { target, depth, mode, interval_ms, request_id, resubscribing: false };
        match existing {
            Some(i) => self.subscriptions[i] = sub,
            None => self.subscriptions.push(sub),
        }
        self.push(sub.message());
        Ok(request_id)
    }

    /// Stops a subscription and drops the books only it covered; returns the
    /// request id.
    pub fn unsubscribe(&mut self, target: Target) -> u32 {
        self.subscriptions.retain(|s| s.target != target);
        let subs = &self.subscriptions;
        self.books.retain(|b| subs.iter().any(|s| s.covers(b.security)));
        let request_id = self.request_id();
        self.push(MdMessage::Unsubscribe { request_id, target });
        request_id
    }

    /// The book of `security` at `depth`, made when missing (a book at another
    /// depth is made again: its level limit changes).
    fn ensure_book(&mut self, security: SecurityId, depth: Depth) -> Result<usize, MdClientError> {
        if let Some(i) = self.books.iter().position(|b| b.security == security) {
            if self.books[i].depth != depth {
                self.books[i] = SecurityBook::new(security, depth, self.limits.trades_kept);
            }
            return Ok(i);
        }
        if self.books.len() == self.limits.books_max {
            return Err(MdClientError::TooManyBooks { max: self.limits.books_max });
        }
        self.books.push(SecurityBook::new(security, depth, self.limits.trades_kept));
        Ok(self.books.len() - 1)
    }

    /// Takes one message from the server.
    pub fn on_message(&mut self, msg: &MdMessage) -> Result<MdEvent, MdClientError> {
        let event = match *msg {
            MdMessage::SubscribeAck { request_id, channel } => {
                if let Some(s) = self.subscriptions.iter_mut().find(|s| s.request_id == request_id)
                {
                    s.resubscribing = false;
                }
                MdEvent::Subscribed { request_id, channel }
            }
            MdMessage::SubscribeReject { request_id, code } => {
                self.on_subscribe_reject(request_id, code)
            }
            MdMessage::Snapshot(ref s) => return self.on_snapshot(msg, s.security, s.session_id),
            MdMessage::Delta(ref h, ref body) => self.on_delta(msg, h, body),
            MdMessage::Heartbeat { session_id, count, ref channels } => {
                if session_id != self.session_id {
                    self.heartbeat_channels.clear();
                }
                for &(channel, last_seq) in &channels[..usize::from(count)] {
                    let known = &mut self.heartbeat_channels;
                    if let Some(c) = known.iter_mut().find(|c| c.0 == channel) {
                        c.1 = last_seq;
                    } else if known.len() < self.heartbeat_channels_max {
                        known.push((channel, last_seq));
                    }
                }
                if session_id != self.session_id {
                    self.new_session(session_id, None);
                }
                MdEvent::Heartbeat { session_id }
            }
            MdMessage::GapNotice { channel, first_seq, last_seq, .. } => {
                self.counters.gap_notices += 1;
                self.on_gap_notice(msg, channel);
                MdEvent::GapNotice { channel, first_seq, last_seq }
            }
            MdMessage::RetransmitReject { request_id, code, .. } => {
                self.counters.retransmit_rejects += 1;
                for i in 0..self.books.len() {
                    if self.books[i].retransmit_request == Some(request_id) {
                        self.books[i].retransmit_request = None;
                        let action = self.books[i].builder.on_message(msg);
                        self.act(i, action);
                    }
                }
                MdEvent::RetransmitRejected { request_id, code }
            }
            _ => return Err(MdClientError::Unexpected { msg_type: msg.msg_type() }),
        };
        Ok(event)
    }

    fn on_subscribe_reject(&mut self, request_id: u32, code: MdReject) -> MdEvent {
        let target =
            self.subscriptions.iter().find(|s| s.request_id == request_id).map(|s| s.target);
        if let Some(target) = target {
            // Nothing will come for it: drop it with the books only it covered.
            self.subscriptions.retain(|s| s.target != target);
            let subs = &self.subscriptions;
            self.books.retain(|b| subs.iter().any(|s| s.covers(b.security)));
        }
        MdEvent::SubscribeRejected { request_id, target, code }
    }

    fn on_snapshot(
        &mut self,
        msg: &MdMessage,
        security: SecurityId,
        session_id: u64,
    ) -> Result<MdEvent, MdClientError> {
        let Some(sub) = self.subscriptions.iter().find(|s| s.covers(security)).copied() else {
            return Ok(MdEvent::NotSubscribed(security));
        };
        if session_id != self.session_id {
            self.new_session(session_id, Some(sub.target));
        }
        let i = self.ensure_book(security, sub.depth)?;
        let book = &mut self.books[i];
        book.retransmit_request = None;
        let action = book.builder.on_message(msg);
        debug_assert_eq!(action, SyncAction::Applied, "a snapshot of the book's security applies");
        Ok(MdEvent::Snapshot(security))
    }

    fn on_delta(&mut self, msg: &MdMessage, h: &DeltaHeader, body: &DeltaBody) -> MdEvent {
        let Some(i) = self.books.iter().position(|b| b.security == h.security) else {
            return MdEvent::Skipped(*h);
        };
        let before = self.books[i].builder.state();
        let action = self.books[i].builder.on_message(msg);
        if action != SyncAction::Applied {
            self.act(i, action);
            return MdEvent::Skipped(*h);
        }
        let book = &mut self.books[i];
        book.record_trade(h, body);
        if h.flags & FLAG_CONFLATED != 0 {
            self.counters.conflated_updates += 1;
        }
        if matches!(before, SyncState::Recovering(_)) && book.builder.state() == SyncState::Synced {
            book.retransmit_request = None;
            self.counters.gaps_recovered += 1;
        }
        MdEvent::Applied(*h, *body)
    }

    /// Every book of the channel looks at the notice; identical requests from
    /// several books of one channel subscription go out once.
    fn on_gap_notice(&mut self, msg: &MdMessage, channel: u16) {
        let mut sent: Option<(u64, u32, u32)> = None;
        for i in 0..self.books.len() {
            if channel_of(self.books[i].security) != channel {
                continue;
            }
            match self.books[i].builder.on_message(msg) {
                SyncAction::Retransmit { from_seq, count, .. }
                    if sent.is_some_and(|(f, c, _)| f == from_seq && c == count) =>
                {
                    self.books[i].retransmit_request = sent.map(|s| s.2);
                }
                action => {
                    self.act(i, action);
                    if let (SyncAction::Retransmit { from_seq, count, .. }, Some(id)) =
                        (action, self.books[i].retransmit_request)
                    {
                        sent = Some((from_seq, count, id));
                    }
                }
            }
        }
    }

    /// Carries out what book `i`'s builder asked for.
    fn act(&mut self, i: usize, action: SyncAction) {
        match action {
            SyncAction::Retransmit { channel, from_seq, count } => {
                let request_id = self.request_id();
                self.books[i].retransmit_request = Some(request_id);
                self.counters.retransmit_requests += 1;
                self.push(MdMessage::RetransmitRequest { request_id, channel, from_seq, count });
            }
            SyncAction::Resnapshot => {
                self.books[i].retransmit_request = None;
                let security = self.books[i].security;
                if let Some(j) = self.subscriptions.iter().position(|s| s.covers(security)) {
                    self.resubscribe(j);
                }
            }
            SyncAction::Duplicate => self.counters.duplicates += 1,
            SyncAction::None | SyncAction::Applied | SyncAction::Waiting => {}
        }
    }

    /// Sends subscription `j` again for new snapshots, once until it is acknowledged.
    fn resubscribe(&mut self, j: usize) {
        if self.subscriptions[j].resubscribing {
            return;
        }
        let request_id = self.request_id();
        let sub = &mut self.subscriptions[j];
        sub.request_id = request_id;
        sub.resubscribing = true;
        let msg = sub.message();
        self.counters.resnapshots += 1;
        self.push(msg);
    }

    /// The channels restarted: every book is stale. Subscribe again to everything
    /// except `keep`, whose snapshot in the new session is arriving now.
    fn new_session(&mut self, session_id: u64, keep: Option<Target>) {
        self.session_id = session_id;
        self.counters.session_changes += 1;
        let restart = MdMessage::Heartbeat {
            session_id,
            count: 0,
            channels: [(0, 0); HEARTBEAT_CHANNELS_MAX],
        };
        for book in &mut self.books {
            // A book of the old session becomes unsynced; its requests are void.
            book.builder.on_message(&restart);
            book.retransmit_request = None;
        }
        for j in 0..self.subscriptions.len() {
            if Some(self.subscriptions[j].target) != keep {
                self.resubscribe(j);
            }
        }
    }
}
