//! The bounded log of sent messages that answers ResendRequest.
//!
//! One entry per outbound sequence number, in order: either an application
//! message (its resolved [`Report`] and original SendingTime, so a resend repeats
//! it exactly with PossDupFlag and OrigSendingTime) or an administrative one, which
//! a resend replaces with SequenceReset-GapFill. The log keeps the last
//! `resend_capacity` entries.

use std::collections::VecDeque;

use crate::outbound::Report;

/// What was sent under one sequence number.
// Entries live inline in a ring allocated at creation; boxing the large variant
// would allocate on every ExecutionReport.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Sent {
    /// A session-level message, or an application message not from the engine's
    /// stream (a BusinessMessageReject, an order-status answer, a reflected echo).
    Admin,
    /// An application message from the engine's stream.
    App {
        /// SendingTime (52) it was first sent with.
        sending_time_ns: u64,
        /// Its fields.
        report: Report,
    },
}

/// The log.
#[derive(Debug)]
pub struct ResendLog {
    entries: VecDeque<Sent>,
    first_seq: u64,
    capacity: usize,
}

impl ResendLog {
    /// An empty log of at most `capacity` entries, starting at sequence number 1.
    pub fn new(capacity: usize) -> ResendLog {
        let capacity = capacity.max(1);
        ResendLog { entries: VecDeque::with_capacity(capacity), first_seq: 1, capacity }
    }

    /// The sequence number the next entry will have.
    pub fn next_seq(&self) -> u64 {
        self.first_seq + self.entries.len() as u64
    }

    /// The oldest sequence number still held.
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// Records what was sent under `seq`, which must be the next number.
    pub fn push(&mut self, seq: u64, sent: Sent) {
        assert_eq!(
            seq,
            self.next_seq(),
            "resend log: outbound sequence numbers must be contiguous"
        );
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
            self.first_seq += 1;
        }
        self.entries.push_back(sent);
    }

    /// What was sent under `seq`, if still held.
    pub fn get(&self, seq: u64) -> Option<&Sent> {
        let index = seq.checked_sub(self.first_seq)?;
        self.entries.get(usize::try_from(index).ok()?)
    }

    /// Forgets everything; the next entry will be `next_seq` (a sequence reset).
    pub fn reset(&mut self, next_seq: u64) {
        self.entries.clear();
        self.first_seq = next_seq;
    }
}
