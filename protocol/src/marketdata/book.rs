//! A subscriber's book: a snapshot, then every delta that follows it, with the
//! sequence checks and recovery requests of `docs/marketdata.md` section 8.

use super::*;

/// Where `price` stands among one side's levels, kept best first (bids by falling
/// price, asks by rising price): `Ok(rank)` when a level has it, else
/// `Err(rank)` where it would go. One ordering for every book kept from the feed.
pub fn level_position(levels: &[WireLevel], side: Side, price: Price) -> Result<usize, usize> {
    levels.binary_search_by(|l| match side {
        Side::Buy => price.cmp(&l.price),
        Side::Sell => l.price.cmp(&price),
    })
}

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
        match (level_position(levels, side, level.price), level.qty.0) {
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
