//! Query answers: the preallocated answer buffers, their place after the
//! stream messages they reflect, and their release when a connection goes.

#[allow(clippy::wildcard_imports)]
use super::*;

const NO_SLOT: u32 = u32::MAX;

/// Where an answer buffer stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum SlotState {
    Free,
    /// The query is in the engine.
    Asked,
    /// The query is in the engine but its connection is gone: freed on the answer.
    Orphaned,
    /// The answer is encoded and waits to be written.
    Ready,
}

/// One preallocated answer buffer: an answer frame and where it goes.
#[derive(Debug)]
pub(super) struct AnswerSlot {
    state: SlotState,
    conn: usize,
    conn_id: u64,
    login: LoginIdx,
    /// Written once the stream up to this out-log offset is written, so the
    /// answer follows the messages it reflects; sent at once when the stream is
    /// not released that far (`sync` durability).
    after_off: u64,
    next: u32,
    len: usize,
    sent: usize,
    frame: Box<[u8; MAX_FRAME_LEN]>,
}

impl AnswerSlot {
    pub(super) fn new() -> AnswerSlot {
        AnswerSlot {
            state: SlotState::Free,
            conn: 0,
            conn_id: 0,
            login: 0,
            after_off: 0,
            next: NO_SLOT,
            len: 0,
            sent: 0,
            frame: Box::new([0u8; MAX_FRAME_LEN]),
        }
    }
}

/// A connection's answer buffers, a list through `AnswerSlot::next`.
#[derive(Clone, Copy, Debug)]
pub(super) struct AnswerList {
    pub(super) head: u32,
    pub(super) tail: u32,
    pub(super) len: u16,
}

impl AnswerList {
    pub(super) const EMPTY: AnswerList = AnswerList { head: NO_SLOT, tail: NO_SLOT, len: 0 };
}

impl<L: EngineLink> IoLoop<L> {
    /// A client's query: checked here (version, page size, account, rate), then
    /// handed to the engine, which answers between two inputs. A refusal is
    /// answered at once. Either way the answer waits in an answer buffer, taken
    /// here (take_frames reads no query without one free).
    pub(super) fn query(&mut self, i: usize, login: LoginIdx, query: Query, stamps: Stamps) {
        let now = self.clock.now_ns();
        let slot = &mut self.logins[login as usize];
        let code = Gate::check_query(slot, &self.limits, now, &query);
        let Some(s) = self.take_answer_slot(i, login) else { return };
        match code {
            Some(code) => {
                let answer = QueryAnswer::Rejected(QueryRejected {
                    query_id: query.query_id,
                    account: Some(query.account),
                    kind: query.kind.as_u8(),
                    code,
                });
                self.fill_answer(s, &answer, 0);
            }
            None => {
                let asker = Asker::Login { login, slot: s };
                self.offer(Arrival { input: Input::Query { asker, query }, stamps });
            }
        }
    }

    /// Takes a free answer buffer for connection `i` and appends it to the
    /// connection's list. `None` only if the caller did not check for room.
    pub(super) fn take_answer_slot(&mut self, i: usize, login: LoginIdx) -> Option<u32> {
        let conn = self.conns[i].as_mut()?;
        let s = self.free_answer_slots.pop()?;
        let slot = &mut self.answer_slots[s as usize];
        slot.state = SlotState::Asked;
        slot.conn = i;
        slot.conn_id = conn.id;
        slot.login = login;
        slot.after_off = 0;
        slot.next = NO_SLOT;
        slot.len = 0;
        slot.sent = 0;
        let list = &mut conn.answers;
        match list.tail {
            NO_SLOT => list.head = s,
            t => self.answer_slots[t as usize].next = s,
        }
        list.tail = s;
        list.len += 1;
        Some(s)
    }

    /// Encodes `answer` into buffer `s`, ready to send after stream offset `after_off`.
    pub(super) fn fill_answer(&mut self, s: u32, answer: &QueryAnswer, after_off: u64) {
        let slot = &mut self.answer_slots[s as usize];
        // Every answer fits one frame (protocol::query's page sizes).
        slot.len = answer.encode_to_slice(&mut slot.frame[..]).unwrap_or(0);
        slot.sent = 0;
        slot.after_off = after_off;
        slot.state = SlotState::Ready;
        let conn = slot.conn;
        self.mark_dirty(conn);
    }

    /// Takes the engine's answers. Called before the outputs are drained: every
    /// output that precedes an answer is then drained too, and `place_answers`
    /// sets each answer's place in the stream after them.
    pub(super) fn take_replies(&mut self) -> bool {
        let IoLoop { link, answer_slots, arrived, control, .. } = self;
        let n = link.drain_replies(&mut |r: &Reply| match r.asker {
            Asker::Login { slot, .. } => {
                let slot_ref = &mut answer_slots[slot as usize];
                if slot_ref.state == SlotState::Orphaned {
                    arrived.push(slot | ORPHAN_BIT);
                    return;
                }
                slot_ref.len = r.answer.encode_to_slice(&mut slot_ref.frame[..]).unwrap_or(0);
                slot_ref.sent = 0;
                arrived.push(slot);
            }
            Asker::Desk { .. } => {
                // The desk's queue has room for every desk query in flight.
                let _ = control.desk.answers.push(*r);
            }
        });
        n > 0
    }

    /// Gives each answer taken by `take_replies` its place after the stream
    /// messages drained with it, and frees the buffers of connections gone.
    pub(super) fn place_answers(&mut self) {
        let mut arrived = std::mem::take(&mut self.arrived);
        for &s in &arrived {
            if s & ORPHAN_BIT != 0 {
                self.free_answer(s & !ORPHAN_BIT);
                continue;
            }
            let slot = &mut self.answer_slots[s as usize];
            slot.after_off = self.logins[slot.login as usize].log.end_offset();
            slot.state = SlotState::Ready;
            let conn = slot.conn;
            self.mark_dirty(conn);
        }
        arrived.clear();
        self.arrived = arrived;
    }

    /// Returns a buffer to the free list and lets the connections that waited
    /// for one read again.
    pub(super) fn free_answer(&mut self, s: u32) {
        self.answer_slots[s as usize].state = SlotState::Free;
        self.free_answer_slots.push(s);
        for i in self.waiting_for_answers.drain(..) {
            self.paused.push(i);
        }
    }

    /// Writes the connection's ready answers whose stream messages are written
    /// (or not released yet), oldest first; stops at the first that must wait.
    pub(super) fn write_answers(&mut self, i: usize) -> io::Result<u64> {
        let mut wrote = 0u64;
        loop {
            let Some(conn) = self.conns[i].as_mut() else { return Ok(wrote) };
            let s = conn.answers.head;
            if s == NO_SLOT {
                return Ok(wrote);
            }
            let slot = &mut self.answer_slots[s as usize];
            let released = self.logins[slot.login as usize].released_off;
            let due = conn.session.cursor >= slot.after_off || released < slot.after_off;
            if slot.state != SlotState::Ready || !due {
                return Ok(wrote);
            }
            while slot.sent < slot.len {
                let n = conn.stream.write(&slot.frame[slot.sent..slot.len])?;
                slot.sent += n;
                wrote += n as u64;
            }
            conn.answers.head = slot.next;
            if conn.answers.head == NO_SLOT {
                conn.answers.tail = NO_SLOT;
            }
            conn.answers.len -= 1;
            self.free_answer(s);
        }
    }

    /// A connection is gone: its sent or unsent answers are dropped, and the
    /// buffers of queries still in the engine are freed when their answers come.
    pub(super) fn drop_answers(&mut self, answers: AnswerList) {
        let mut s = answers.head;
        while s != NO_SLOT {
            let next = self.answer_slots[s as usize].next;
            if self.answer_slots[s as usize].state == SlotState::Asked {
                self.answer_slots[s as usize].state = SlotState::Orphaned;
            } else {
                self.free_answer(s);
            }
            s = next;
        }
    }
}
