//! One channel's recent events, kept for retransmission: a ring of the last
//! `capacity` sequences, allocated at start-up. Sequences in it are contiguous;
//! a jump (events the publisher never received) empties it.

use sim_exchange::MarketEvent;

/// A channel's bounded history.
#[derive(Debug)]
pub struct History {
    events: Vec<MarketEvent>,
    capacity: usize,
    /// The sequence of the oldest event kept (meaningful when `len` > 0).
    first_seq: u64,
    /// Where the oldest event sits in `events`.
    start: usize,
    len: usize,
}

impl History {
    /// An empty history of `capacity` events.
    pub fn new(capacity: usize) -> History {
        assert!(capacity > 0, "a history keeps at least one event");
        History { events: Vec::with_capacity(capacity), capacity, first_seq: 0, start: 0, len: 0 }
    }

    /// Bytes it commits.
    pub fn bytes(capacity: usize) -> u64 {
        capacity as u64 * std::mem::size_of::<MarketEvent>() as u64
    }

    /// Keeps `ev`, which must follow the last one kept (the caller empties the
    /// history at a jump), dropping the oldest when full.
    pub fn push(&mut self, ev: MarketEvent) {
        if self.len > 0 {
            assert_eq!(ev.seq, self.first_seq + self.len as u64, "a history is contiguous");
        } else {
            self.first_seq = ev.seq;
        }
        let at = (self.start + self.len) % self.capacity;
        if at == self.events.len() {
            self.events.push(ev);
        } else {
            self.events[at] = ev;
        }
        if self.len == self.capacity {
            self.start = (self.start + 1) % self.capacity;
            self.first_seq += 1;
        } else {
            self.len += 1;
        }
    }

    /// Forgets everything; the next event kept starts it again.
    pub fn clear(&mut self) {
        self.len = 0;
        self.start = 0;
    }

    /// The oldest sequence kept; `next_seq` (the channel's next) when empty.
    pub fn first_available(&self, next_seq: u64) -> u64 {
        if self.len == 0 { next_seq } else { self.first_seq }
    }

    /// The event with sequence `seq`, if kept.
    pub fn get(&self, seq: u64) -> Option<&MarketEvent> {
        if self.len == 0 || seq < self.first_seq || seq >= self.first_seq + self.len as u64 {
            return None;
        }
        let i = (self.start + (seq - self.first_seq) as usize) % self.capacity;
        self.events.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{Market, SecurityId};
    use sim_exchange::MarketEventKind;

    fn ev(seq: u64) -> MarketEvent {
        MarketEvent {
            channel: 160,
            seq,
            prev_seq: seq - 1,
            security: SecurityId { market: Market::Sse, code: 600_519 },
            time_ns: seq,
            kind: MarketEventKind::OrderRemoved { order_id: seq },
        }
    }

    #[test]
    fn keeps_the_last_capacity_events_in_order() {
        let mut h = History::new(4);
        assert_eq!(h.first_available(1), 1);
        for s in 1..=10 {
            h.push(ev(s));
        }
        assert_eq!(h.first_available(11), 7);
        assert!(h.get(6).is_none());
        for s in 7..=10 {
            assert_eq!(h.get(s).map(|e| e.seq), Some(s));
        }
        assert!(h.get(11).is_none());
        h.clear();
        assert_eq!(h.first_available(11), 11);
        h.push(ev(20));
        assert_eq!(h.get(20).map(|e| e.seq), Some(20));
        assert_eq!(h.first_available(21), 20);
    }
}
