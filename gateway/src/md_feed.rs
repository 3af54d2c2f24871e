//! The engine's end of the market-data feed: the venue's events go into a bounded
//! SPSC ring to the publisher thread ([`crate::md`]), and the engine never waits.
//!
//! When the ring is full an event is not queued: the engine counts it
//! (`breakwater_md_ring_dropped_total`) and marks its security. After the venue's
//! events of the operation are all offered, the engine re-sends every marked
//! security as a [`MdFeed::Resync`] head followed by its levels (up to
//! `marketdata.resync_levels_per_side` a side), read from the venue at that point,
//! when the ring has room for all of it; until then the mark stays. The
//! publisher sees the lost events as a jump in the channel's sequence: it sends
//! the channel's subscribers a GapNotice for the range, drops the range from its
//! history, and replaces its image of each resynced book, sending a new snapshot
//! to its subscribers. Both topologies do the same: in the fused one the engine
//! runs on the io thread and feeds the same ring.
//!
//! The publisher thread sleeps in `mio::Poll` when the ring is empty; after an
//! operation that queued anything, the tap wakes it through a [`PollWakeup`]
//! (a syscall only when it sleeps; a fence and one load when it is awake).

use std::sync::Arc;

use protocol::{SecurityId, Side};
use sim_exchange::{Exchange, Level, MarketEvent, MarketSnapshot};

use crate::metrics::MdMetrics;
use crate::ring::Producer;
use crate::wait::PollWakeup;

/// One item of the engine -> publisher ring.
#[derive(Clone, Copy, Debug)]
pub enum MdFeed {
    /// A venue event, in venue order.
    Event(MarketEvent),
    /// A book re-sent after lost events: its state as of `snapshot.seq`; exactly
    /// `snapshot.bid_levels + snapshot.ask_levels` [`MdFeed::Level`] items follow.
    Resync {
        /// The security.
        security: SecurityId,
        /// The venue's snapshot (channel sequence, last message, top of book).
        snapshot: MarketSnapshot,
        /// Venue time of the resync.
        time_ns: u64,
    },
    /// One level of a resync: bids best first, then asks best first.
    Level(Side, Level),
}

/// The engine's producer end, with the marks of securities that need a resync.
#[derive(Debug)]
pub struct MarketTap {
    to_publisher: Producer<MdFeed>,
    /// Wakes the publisher thread when it sleeps.
    wakeup: Arc<PollWakeup>,
    /// Something was queued since the last wake.
    pushed: bool,
    /// Sorted listed securities; `marked[i]` is true when `securities[i]` lost an event.
    securities: Vec<SecurityId>,
    marked: Vec<bool>,
    marked_count: usize,
    bids: Vec<Level>,
    asks: Vec<Level>,
    metrics: Arc<MdMetrics>,
}

impl MarketTap {
    /// A tap over the ring's producer for the listed `securities`, re-sending up to
    /// `resync_levels` levels a side, waking the ring's consumer through `wakeup`.
    pub fn new(
        to_publisher: Producer<MdFeed>,
        wakeup: Arc<PollWakeup>,
        securities: &[SecurityId],
        resync_levels: usize,
        metrics: Arc<MdMetrics>,
    ) -> MarketTap {
        let mut sorted = securities.to_vec();
        sorted.sort_unstable_by_key(|s| (s.market.as_u8(), s.code));
        let n = sorted.len();
        MarketTap {
            to_publisher,
            wakeup,
            pushed: false,
            securities: sorted,
            marked: vec![false; n],
            marked_count: 0,
            bids: vec![Level::default(); resync_levels],
            asks: vec![Level::default(); resync_levels],
            metrics,
        }
    }

    /// Bytes it holds (the memory budget's resync row).
    pub fn scratch_bytes(resync_levels: usize) -> u64 {
        2 * resync_levels as u64 * std::mem::size_of::<Level>() as u64
    }

    fn index(&self, s: SecurityId) -> Option<usize> {
        self.securities
            .binary_search_by_key(&(s.market.as_u8(), s.code), |x| (x.market.as_u8(), x.code))
            .ok()
    }

    /// Offers one venue event; never waits.
    #[inline]
    pub fn offer(&mut self, event: MarketEvent) {
        if self.to_publisher.push(MdFeed::Event(event)).is_ok() {
            self.pushed = true;
        } else {
            self.metrics.ring_dropped.inc();
            if let Some(i) = self.index(event.security)
                && !self.marked[i]
            {
                self.marked[i] = true;
                self.marked_count += 1;
            }
        }
    }

    /// After an operation's events are all offered: re-sends the marked books that
    /// fit in the ring, then wakes the publisher if anything was queued.
    #[inline]
    pub fn finish_operation(&mut self, venue: &Exchange, now_ns: u64) {
        self.resync_marked(venue, now_ns);
        if self.pushed {
            self.pushed = false;
            self.wakeup.wake();
        }
    }

    /// Re-sends the marked books that fit in the ring.
    #[inline]
    fn resync_marked(&mut self, venue: &Exchange, now_ns: u64) {
        if self.marked_count == 0 {
            return;
        }
        for i in 0..self.securities.len() {
            if !self.marked[i] {
                continue;
            }
            if !self.resync_one(venue, self.securities[i], now_ns) {
                return;
            }
            self.marked[i] = false;
            self.marked_count -= 1;
        }
    }

    /// Sends one book when the ring has room for all of it; false when it has not.
    fn resync_one(&mut self, venue: &Exchange, security: SecurityId, now_ns: u64) -> bool {
        let Some(snapshot) = venue.market_snapshot(security, &mut self.bids, &mut self.asks) else {
            return true;
        };
        let items = 1 + snapshot.bid_levels + snapshot.ask_levels;
        // The producer's view of the depth is approximate (it reads the consumer's
        // head without ordering) and may exceed the capacity for a moment.
        let free = self.to_publisher.capacity().saturating_sub(self.to_publisher.len());
        if free < items {
            return false;
        }
        let head = MdFeed::Resync { security, snapshot, time_ns: now_ns };
        let levels = self.bids[..snapshot.bid_levels]
            .iter()
            .map(|l| MdFeed::Level(Side::Buy, *l))
            .chain(self.asks[..snapshot.ask_levels].iter().map(|l| MdFeed::Level(Side::Sell, *l)));
        for item in std::iter::once(head).chain(levels) {
            // Room was checked and this thread is the only producer.
            let pushed = self.to_publisher.push(item).is_ok();
            assert!(pushed, "the ring had room for the whole resync");
        }
        self.pushed = true;
        self.metrics.resyncs.inc();
        true
    }
}

impl order_engine::MarketSink for MarketTap {
    #[inline]
    fn offer(&mut self, event: sim_exchange::MarketEvent) {
        MarketTap::offer(self, event);
    }

    #[inline]
    fn operation_done(&mut self, venue: &Exchange, now_ns: u64) {
        self.finish_operation(venue, now_ns);
    }
}
