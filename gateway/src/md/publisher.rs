//! The publisher's core: a state machine fed the venue's events, clients' frames
//! and the time, which queues bytes per connection. It does no I/O and reads no
//! clock (the io loop in [`super::io`] moves the bytes), so its tests run on
//! virtual time without sockets. Nothing here allocates per event: images,
//! histories, sessions and queues are sized at start-up.
//!
//! Each event is applied to the image of its book, kept in its channel's history
//! and encoded once; each subscribed session gets a copy with `prev_seq` rewritten
//! to the last message it was sent for the security (so a Level-1 or conflated
//! stream, which skips messages, still chains). The rules for Level-1, conflation,
//! a subscriber that falls behind and a lost range from the engine are in
//! docs/marketdata.md, section 17.

use std::sync::Arc;

use protocol::marketdata::{
    Depth, FLAG_CONFLATED, GapReason, HEARTBEAT_CHANNELS_MAX, MdMessage, channel_of,
};
use protocol::{MAX_FRAME_LEN, SecurityId, Side, Token, Username};
use sim_exchange::{Level, MarketEvent, MarketEventKind, MarketSnapshot};

use super::history::History;
use super::image::{BookImage, L1_LEVELS, L1View};
use super::session::{Phase, Session};
use crate::md_feed::MdFeed;
use crate::metrics::MdMetrics;

/// Levels a side each image reserves at start-up; a deeper book grows it once.
pub const IMAGE_LEVELS_RESERVED: usize = 256;

/// What sizes the publisher.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connection slots.
    pub max_connections: usize,
    /// Subscriptions per session.
    pub max_subscriptions: usize,
    /// Bytes of market data queued per session before it counts as behind.
    pub queue_bytes: usize,
    /// Events each channel keeps for retransmission.
    pub history_messages: usize,
    /// Heartbeat interval.
    pub heartbeat_ns: u64,
    /// Time a connection has to log in.
    pub login_timeout_ns: u64,
}

/// One channel.
#[derive(Debug)]
pub(super) struct Chan {
    pub channel: u16,
    /// The last sequence applied.
    pub last_seq: u64,
    pub history: History,
    /// Its securities (indexes).
    pub secs: Vec<usize>,
}

/// A resync being read from the ring: the head, then its levels.
#[derive(Debug)]
struct Resync {
    /// Levels are still to come.
    open: bool,
    sec: usize,
    snapshot: MarketSnapshot,
    bids: Vec<Level>,
    asks: Vec<Level>,
}

/// A login the publisher accepts: the order-entry credentials and the deepest
/// book it may subscribe to (`[[logins]] market_data_depth`; `None`: no market
/// data, its Login is refused with NOT_ENTITLED).
#[derive(Clone, Copy, Debug)]
pub struct MdLogin {
    /// Name.
    pub username: Username,
    /// Secret.
    pub token: Token,
    /// The deepest subscription it may take.
    pub depth: Option<Depth>,
}

/// The publisher.
#[derive(Debug)]
pub struct Publisher {
    pub(super) limits: Limits,
    pub(super) session_id: u64,
    pub(super) logins: Vec<MdLogin>,
    /// Sorted (market, code) -> security index.
    index: Vec<((u8, u32), usize)>,
    pub(super) books: Vec<BookImage>,
    pub(super) chan_of_sec: Vec<usize>,
    /// Sorted by channel number.
    pub(super) chans: Vec<Chan>,
    pub(super) sessions: Vec<Session>,
    pub(super) metrics: Arc<MdMetrics>,
    resync: Option<Resync>,
    resync_levels: usize,
    /// One encoded frame (snapshots, answers).
    pub(super) frame: [u8; MAX_FRAME_LEN],
    /// The event being fanned out, encoded once.
    delta: [u8; MAX_FRAME_LEN],
}

fn key(s: SecurityId) -> (u8, u32) {
    (s.market.as_u8(), s.code)
}

/// Where a delta frame holds its `prev_seq`.
const PREV_SEQ_AT: usize = 13;

impl Publisher {
    /// A publisher for the listed `securities`, session `session_id`, accepting the
    /// order-entry `logins`; its books are empty until [`Publisher::seed`].
    pub fn new(
        limits: Limits,
        session_id: u64,
        logins: Vec<MdLogin>,
        securities: &[SecurityId],
        resync_levels: usize,
        metrics: Arc<MdMetrics>,
    ) -> Publisher {
        let mut index: Vec<((u8, u32), usize)> =
            securities.iter().enumerate().map(|(i, s)| (key(*s), i)).collect();
        index.sort_unstable();
        let mut channels: Vec<u16> = securities.iter().map(|s| channel_of(*s)).collect();
        channels.sort_unstable();
        channels.dedup();
        let mut chans: Vec<Chan> = channels
            .iter()
            .map(|&channel| Chan {
                channel,
                last_seq: 0,
                history: History::new(limits.history_messages),
                secs: Vec::new(),
            })
            .collect();
        let mut chan_of_sec = Vec::with_capacity(securities.len());
        for (i, s) in securities.iter().enumerate() {
            let c = channels.binary_search(&channel_of(*s)).expect("every channel is listed");
            chans[c].secs.push(i);
            chan_of_sec.push(c);
        }
        let books = securities.iter().map(|s| BookImage::new(*s, IMAGE_LEVELS_RESERVED)).collect();
        let sessions = (0..limits.max_connections)
            .map(|_| {
                Session::new(
                    securities.len(),
                    chans.len(),
                    limits.queue_bytes,
                    limits.max_subscriptions,
                )
            })
            .collect();
        Publisher {
            limits,
            session_id,
            logins,
            index,
            books,
            chan_of_sec,
            chans,
            sessions,
            metrics,
            resync: None,
            resync_levels,
            frame: [0; MAX_FRAME_LEN],
            delta: [0; MAX_FRAME_LEN],
        }
    }

    /// The feed session.
    pub fn session_id(&self) -> u64 {
        self.session_id
    }

    /// The security's index.
    pub(super) fn sec_index(&self, s: SecurityId) -> Option<usize> {
        self.index.binary_search_by_key(&key(s), |e| e.0).ok().map(|i| self.index[i].1)
    }

    /// The channel's index.
    pub(super) fn chan_index(&self, channel: u16) -> Option<usize> {
        self.chans.binary_search_by_key(&channel, |c| c.channel).ok()
    }

    /// Sets one book from the venue (at start, before any event): its image and its
    /// channel's sequence.
    pub fn seed(
        &mut self,
        snapshot: &MarketSnapshot,
        security: SecurityId,
        bids: &[Level],
        asks: &[Level],
    ) {
        let Some(i) = self.sec_index(security) else { return };
        self.books[i].reset(snapshot, bids, asks);
        let chan = &mut self.chans[self.chan_of_sec[i]];
        chan.last_seq = chan.last_seq.max(snapshot.seq);
    }

    /// The image of one book (for tests and the admin view).
    pub fn book(&self, security: SecurityId) -> Option<&BookImage> {
        self.sec_index(security).map(|i| &self.books[i])
    }

    /// A channel's last sequence.
    pub fn channel_seq(&self, channel: u16) -> Option<u64> {
        self.chan_index(channel).map(|c| self.chans[c].last_seq)
    }

    /// Takes one item from the engine's ring.
    pub fn on_feed(&mut self, item: MdFeed, now_ns: u64) {
        match item {
            MdFeed::Event(ev) => self.on_event(&ev, now_ns),
            MdFeed::Resync { security, snapshot, .. } => {
                let Some(sec) = self.sec_index(security) else { return };
                let mut r = self.resync.take().unwrap_or_else(|| Resync {
                    open: true,
                    sec,
                    snapshot,
                    bids: Vec::with_capacity(self.resync_levels),
                    asks: Vec::with_capacity(self.resync_levels),
                });
                r.open = true;
                r.sec = sec;
                r.snapshot = snapshot;
                r.bids.clear();
                r.asks.clear();
                self.resync = Some(r);
                self.finish_resync(now_ns);
            }
            MdFeed::Level(side, level) => {
                if let Some(r) = self.resync.as_mut().filter(|r| r.open) {
                    match side {
                        Side::Buy => r.bids.push(level),
                        Side::Sell => r.asks.push(level),
                    }
                }
                self.finish_resync(now_ns);
            }
        }
    }

    /// Applies a resync once all its levels are in: the image is replaced, its
    /// subscribers get a conflated snapshot, and a jump in the channel's sequence
    /// is a lost range (snapshots first, so a subscriber's book is whole before
    /// the GapNotice names what it cannot have).
    fn finish_resync(&mut self, now_ns: u64) {
        let Some(r) = self.resync.as_mut().filter(|r| r.open) else { return };
        if r.bids.len() < r.snapshot.bid_levels || r.asks.len() < r.snapshot.ask_levels {
            return;
        }
        r.open = false;
        let (sec, seq) = (r.sec, r.snapshot.seq);
        self.books[sec].reset(&r.snapshot, &r.bids, &r.asks);
        let c = self.chan_of_sec[sec];
        for s in 0..self.sessions.len() {
            if self.sessions[s].phase == Phase::Live && self.sessions[s].secs[sec].depth != 0 {
                self.sessions[s].mark_stale(sec);
                self.sessions[s].behind = true;
            }
        }
        if seq > self.chans[c].last_seq {
            let first = self.chans[c].last_seq + 1;
            self.chans[c].last_seq = seq;
            self.feed_gap(c, first, seq, now_ns);
        }
        for s in 0..self.sessions.len() {
            if self.sessions[s].phase == Phase::Live && self.sessions[s].secs[sec].depth != 0 {
                self.catch_up(s, now_ns);
            }
        }
    }

    /// Events `first..=to_seq` of channel `c` never reached the publisher: its
    /// history cannot hold them, and every subscriber of the channel is told.
    fn feed_gap(&mut self, c: usize, first: u64, to_seq: u64, now_ns: u64) {
        self.metrics.feed_gaps.inc();
        self.chans[c].history.clear();
        for s in 0..self.sessions.len() {
            if self.sessions[s].phase != Phase::Live {
                continue;
            }
            if !self.sessions[s].on_channel(&self.chans[c].secs) {
                continue;
            }
            let w = &mut self.sessions[s].withheld[c];
            if w.first == 0 {
                w.first = first;
            }
            w.last = to_seq;
            w.lost_stream = true;
            self.sessions[s].behind = true;
            self.catch_up(s, now_ns);
        }
    }

    fn on_event(&mut self, ev: &MarketEvent, now_ns: u64) {
        let Some(sec) = self.sec_index(ev.security) else { return };
        let c = self.chan_of_sec[sec];
        if ev.seq <= self.chans[c].last_seq {
            return;
        }
        if ev.seq > self.chans[c].last_seq + 1 {
            let first = self.chans[c].last_seq + 1;
            self.feed_gap(c, first, ev.seq - 1, now_ns);
        }
        self.metrics.events.inc();
        self.chans[c].last_seq = ev.seq;
        self.chans[c].history.push(*ev);
        let view = self.books[sec].apply(ev);
        let len = match ev.to_wire().encode(&mut self.delta) {
            Ok(n) => n,
            Err(_) => return,
        };
        let conflatable = matches!(ev.kind, MarketEventKind::Level { .. });
        for s in 0..self.sessions.len() {
            let sub = self.sessions[s].secs[sec];
            if sub.depth == 0 || self.sessions[s].phase != Phase::Live {
                continue;
            }
            let level1 = sub.depth == 1;
            if level1 && view == L1View::Skip {
                continue;
            }
            if sub.conflate_ns > 0 && conflatable {
                self.sessions[s].secs[sec].dirty = true;
                continue;
            }
            if level1 && view == L1View::Refresh {
                self.send_snapshot(s, sec, ev.seq, 0, now_ns);
                continue;
            }
            self.send_delta(s, sec, c, ev.seq, len, conflatable, now_ns);
        }
    }

    /// Queues the delta in `self.frame[..len]` for session `s`, chained to what the
    /// session was last sent for the security; withheld when the session is behind.
    #[allow(clippy::too_many_arguments)]
    fn send_delta(
        &mut self,
        s: usize,
        sec: usize,
        c: usize,
        seq: u64,
        len: usize,
        conflatable: bool,
        now_ns: u64,
    ) {
        let session = &mut self.sessions[s];
        if session.behind || !session.has_room(len) {
            self.fall_behind(s, sec, c, seq, conflatable);
            return;
        }
        let prev = session.secs[sec].last_sent;
        self.delta[PREV_SEQ_AT..PREV_SEQ_AT + 8].copy_from_slice(&prev.to_le_bytes());
        session.push_data(&self.delta[..len], now_ns);
        session.secs[sec].last_sent = seq;
        self.metrics.messages_sent.inc();
    }

    fn fall_behind(&mut self, s: usize, sec: usize, c: usize, seq: u64, conflatable: bool) {
        let session = &mut self.sessions[s];
        if !session.behind {
            session.behind = true;
            self.metrics.slow_subscribers.inc();
        }
        session.withhold(sec, c, seq, conflatable);
    }

    /// Queues a snapshot of book `sec` for session `s` at the channel's `seq` (the
    /// security's last message is the image's), at the session's depth; `flags`
    /// on it. Returns false (and owes it) when the session has no room.
    pub(super) fn send_snapshot(
        &mut self,
        s: usize,
        sec: usize,
        seq: u64,
        flags: u8,
        now_ns: u64,
    ) -> bool {
        let depth = self.sessions[s].secs[sec].depth;
        let levels = if depth == 1 { L1_LEVELS } else { protocol::marketdata::SNAPSHOT_LEVELS_MAX };
        let book = &self.books[sec];
        let security_seq = book.security_seq.min(seq);
        let mut snap = book.snapshot(seq, security_seq, self.session_id, levels);
        snap.flags = flags;
        snap.time_ns = now_ns;
        let Ok(len) = MdMessage::Snapshot(snap).encode(&mut self.frame) else { return false };
        let session = &mut self.sessions[s];
        if session.behind || !session.has_room(len) {
            if !session.behind {
                session.behind = true;
                self.metrics.slow_subscribers.inc();
            }
            session.mark_stale(sec);
            return false;
        }
        session.push_data(&self.frame[..len], now_ns);
        session.secs[sec].last_sent = security_seq;
        self.metrics.messages_sent.inc();
        true
    }

    /// Queues an unsequenced answer.
    pub(super) fn send_control(&mut self, s: usize, msg: &MdMessage, now_ns: u64) {
        if let Ok(len) = msg.encode(&mut self.frame) {
            self.sessions[s].push_control(&self.frame[..len], now_ns);
        }
    }

    /// A behind session that drained to half its limit gets what it is owed: a
    /// conflated snapshot of every book whose messages were withheld, then a
    /// GapNotice for each channel where more than level updates were.
    pub(super) fn catch_up(&mut self, s: usize, now_ns: u64) {
        if !self.sessions[s].behind || !self.sessions[s].drained() {
            return;
        }
        self.sessions[s].behind = false;
        for sec in 0..self.books.len() {
            if self.sessions[s].stale_count == 0 {
                break;
            }
            let sub = self.sessions[s].secs[sec];
            if !sub.stale {
                continue;
            }
            if sub.depth != 0 {
                let seq = self.chans[self.chan_of_sec[sec]].last_seq;
                if !self.send_snapshot(s, sec, seq, FLAG_CONFLATED, now_ns) {
                    return;
                }
                self.metrics.conflations.inc();
            }
            self.sessions[s].secs[sec].stale = false;
            self.sessions[s].stale_count -= 1;
        }
        for c in 0..self.chans.len() {
            let w = self.sessions[s].withheld[c];
            if w.first == 0 {
                continue;
            }
            if w.lost_stream {
                let notice = MdMessage::GapNotice {
                    channel: self.chans[c].channel,
                    first_seq: w.first,
                    last_seq: w.last.max(w.first),
                    reason: GapReason::SlowConsumer,
                };
                let Ok(len) = notice.encode(&mut self.frame) else { continue };
                if !self.sessions[s].has_room(len) {
                    self.sessions[s].behind = true;
                    return;
                }
                self.sessions[s].push_data(&self.frame[..len], now_ns);
                self.metrics.gap_notices.inc();
            }
            self.sessions[s].withheld[c] = Default::default();
        }
    }

    /// Timers: login deadlines, dead peers, heartbeats, conflated updates.
    pub fn tick(&mut self, now_ns: u64) {
        let hb = self.limits.heartbeat_ns;
        for s in 0..self.sessions.len() {
            match self.sessions[s].phase {
                Phase::AwaitLogin { deadline_ns } if now_ns >= deadline_ns => {
                    self.sessions[s].phase = Phase::Closing;
                }
                Phase::Live => {
                    // A session over its queue limit is not read: its silence
                    // is ours, not its own.
                    if self.sessions[s].full() {
                        self.sessions[s].last_rx_ns = now_ns;
                    }
                    let silent = now_ns.saturating_sub(self.sessions[s].last_rx_ns) > 3 * hb;
                    if silent {
                        self.sessions[s].phase = Phase::Closing;
                        continue;
                    }
                    self.catch_up(s, now_ns);
                    self.flush_conflated(s, now_ns);
                    if now_ns.saturating_sub(self.sessions[s].last_tx_ns) >= hb {
                        self.heartbeat(s, now_ns);
                    }
                }
                _ => {}
            }
        }
    }

    fn flush_conflated(&mut self, s: usize, now_ns: u64) {
        for sec in 0..self.books.len() {
            let sub = self.sessions[s].secs[sec];
            if sub.conflate_ns == 0 || !sub.dirty || now_ns < sub.next_due_ns {
                continue;
            }
            let seq = self.chans[self.chan_of_sec[sec]].last_seq;
            if self.send_snapshot(s, sec, seq, FLAG_CONFLATED, now_ns) {
                let sub = &mut self.sessions[s].secs[sec];
                sub.dirty = false;
                sub.next_due_ns = now_ns + sub.conflate_ns;
                self.metrics.conflations.inc();
            }
        }
    }

    /// Heartbeats listing every channel the session takes with its last sequence,
    /// 32 channels a frame (a session on more gets several; one with none gets one
    /// empty Heartbeat).
    fn heartbeat(&mut self, s: usize, now_ns: u64) {
        let mut channels = [(0u16, 0u64); HEARTBEAT_CHANNELS_MAX];
        let mut count = 0;
        let mut sent = false;
        for c in 0..self.chans.len() {
            let chan = &self.chans[c];
            if !self.sessions[s].on_channel(&chan.secs) {
                continue;
            }
            channels[count] = (chan.channel, chan.last_seq);
            count += 1;
            if count == HEARTBEAT_CHANNELS_MAX {
                let msg = MdMessage::Heartbeat {
                    session_id: self.session_id,
                    count: count as u8,
                    channels,
                };
                self.send_control(s, &msg, now_ns);
                count = 0;
                sent = true;
            }
        }
        if count > 0 || !sent {
            let msg =
                MdMessage::Heartbeat { session_id: self.session_id, count: count as u8, channels };
            self.send_control(s, &msg, now_ns);
        }
    }

    /// A new connection in slot `s` (the io loop keeps slots and connections one to one).
    pub fn open(&mut self, s: usize, now_ns: u64) {
        self.sessions[s].open(now_ns, self.limits.login_timeout_ns);
    }

    /// The connection in slot `s` ended.
    pub fn close(&mut self, s: usize) {
        if self.sessions[s].phase == Phase::Live {
            self.metrics.sessions.set(self.metrics.sessions.get().saturating_sub(1));
            let subs = self.sessions[s].subs.len() as u64;
            self.metrics.subscriptions.set(self.metrics.subscriptions.get().saturating_sub(subs));
        }
        self.sessions[s].reset();
    }

    /// Bytes waiting for slot `s`'s socket.
    pub fn pending(&self, s: usize) -> &[u8] {
        self.sessions[s].pending()
    }

    /// The io loop wrote `n` bytes of slot `s`.
    pub fn written(&mut self, s: usize, n: usize, now_ns: u64) {
        self.sessions[s].written(n);
        self.metrics.bytes_sent.add(n as u64);
        self.catch_up(s, now_ns);
    }

    /// True when slot `s` should be read: it is not over its queue limit (a client
    /// that does not read is not read either).
    pub fn wants_input(&self, s: usize) -> bool {
        !self.sessions[s].full() && self.sessions[s].phase != Phase::Closing
    }

    /// True when slot `s` should be closed now: refused, silent, or failed, with
    /// its last answer written.
    pub fn wants_close(&self, s: usize) -> bool {
        self.sessions[s].phase == Phase::Closing && self.sessions[s].queued() == 0
    }

    /// Refreshes the queue gauges.
    pub fn publish_gauges(&self) {
        let (mut total, mut max) = (0u64, 0u64);
        for s in &self.sessions {
            let q = s.queued() as u64;
            total += q;
            max = max.max(q);
        }
        self.metrics.queued_bytes.set(total);
        self.metrics.queued_bytes_max.set(max);
    }
}
