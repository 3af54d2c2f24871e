//! The outbound streams: draining the engine's outputs into the out logs,
//! releasing them when durable, the backlog limit, and writing to the sockets
//! (ending a draining session once everything is out).

#[allow(clippy::wildcard_imports)]
use super::*;

impl<L: EngineLink> IoLoop<L> {
    pub(super) fn drain_outputs(&mut self) -> bool {
        let replies = self.take_replies();
        let outputs = self.drain_stream_outputs();
        if replies {
            self.place_answers();
        }
        replies || outputs
    }

    pub(super) fn drain_stream_outputs(&mut self) -> bool {
        let now = if self.recorder.enabled() { self.clock.now_ns() } else { 0 };
        let IoLoop {
            link,
            logins,
            conns,
            dirty,
            metrics,
            limits,
            recorder,
            durable,
            unreleased,
            ..
        } = self;
        let mut overflowed: Option<usize> = None;
        let n = link.drain(&mut |out: &Output| {
            recorder.record(Stage::ToLog, out.ts_ns, now);
            let slot = &mut logins[out.login as usize];
            slot.log.append_output(out);
            if let Some(progress) = durable {
                // Sent only once its input is on disk (see release_durable).
                let entry = (out.login, out.input_seq, slot.log.end_offset());
                let sessions = (&mut logins[..], &mut conns[..], &mut *dirty);
                hold_until_durable(
                    progress,
                    unreleased,
                    limits.unreleased_capacity,
                    sessions,
                    entry,
                );
                return;
            }
            slot.released_off = slot.log.end_offset();
            metrics.count_output(&out.msg);
            if let Some(ci) = slot.conn
                && let Some(conn) = conns[ci].as_mut()
            {
                if !conn.dirty {
                    conn.dirty = true;
                    dirty.push(ci);
                }
                if conn.oldest_append_ns == 0 {
                    conn.oldest_append_ns = now;
                    conn.oldest_read_ns = out.read_ns;
                }
                if conn.session.backlog(slot.released_off) > limits.backlog_limit_bytes {
                    overflowed = Some(ci);
                }
            }
        });
        if let Some(ci) = overflowed {
            // Checked again in flush for every dirty connection; this catches a
            // single burst that would otherwise outrun the log's retention.
            self.check_backlog(ci);
        }
        n > 0
    }

    /// Releases messages whose inputs the journal has made durable.
    pub(super) fn release_durable(&mut self) -> bool {
        let IoLoop { durable, unreleased, logins, conns, dirty, control, .. } = self;
        let Some(progress) = durable else { return false };
        if progress.failed.load(Ordering::Relaxed) && !control.shutdown.load(Ordering::Relaxed) {
            log::error!(
                "the journal failed: stopping the gateway (answers cannot be made durable)"
            );
            control.shutdown.store(true, Ordering::SeqCst);
        }
        release_durable_entries(progress, unreleased, logins, conns, dirty) > 0
    }

    pub(super) fn check_backlog(&mut self, i: usize) -> bool {
        let Some(conn) = self.conns[i].as_ref() else { return false };
        let Some(login) = conn.session.login() else { return true };
        let slot = &self.logins[login as usize];
        if conn.session.over_backlog(slot.released_off, slot.log.start_offset(), &self.limits) {
            self.metrics.slow_consumer_disconnects.inc();
            let why = format!(
                "client is not reading: {} bytes unsent, limit {}",
                conn.session.backlog(slot.released_off),
                self.limits.backlog_limit_bytes
            );
            self.close(i, Some(RejectCode::BACKLOG_EXCEEDED), &why);
            return false;
        }
        true
    }

    pub(super) fn flush_dirty(&mut self) {
        std::mem::swap(&mut self.dirty, &mut self.dirty_spare);
        let mut list = std::mem::take(&mut self.dirty_spare);
        for &i in &list {
            if let Some(conn) = self.conns[i].as_mut() {
                conn.dirty = false;
            }
            self.flush(i);
        }
        list.clear();
        self.dirty_spare = list;
    }

    /// Writes control frames, then the stream from the cursor, until done or the
    /// socket would block. Ends a draining session once everything is out.
    pub(super) fn flush(&mut self, i: usize) {
        if !self.check_backlog(i) {
            return;
        }
        let now = self.clock.now_ns();
        let IoLoop { conns, logins, metrics, recorder, .. } = self;
        let Some(conn) = conns[i].as_mut() else { return };
        let mut wrote = 0u64;
        let outcome = (|| -> io::Result<bool> {
            while !conn.ctrl.pending().is_empty() {
                let n = conn.stream.write(conn.ctrl.pending())?;
                conn.ctrl.sent += n;
                wrote += n as u64;
            }
            if let Some(login) = conn.session.login() {
                let slot = &logins[login as usize];
                loop {
                    let (a, b) = slot.log.pending_until(conn.session.cursor, slot.released_off);
                    if a.is_empty() {
                        break;
                    }
                    let n = if b.is_empty() {
                        conn.stream.write(a)?
                    } else {
                        conn.stream.write_vectored(&[io::IoSlice::new(a), io::IoSlice::new(b)])?
                    };
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "socket accepted nothing",
                        ));
                    }
                    conn.session.cursor += n as u64;
                    wrote += n as u64;
                }
            }
            Ok(true)
        })();
        if wrote > 0 {
            conn.session.sent(now);
            metrics.bytes_sent.add(wrote);
        }
        if outcome.is_ok() && conn.oldest_append_ns != 0 {
            recorder.record(Stage::Write, conn.oldest_append_ns, now);
            recorder.record(Stage::EndToEnd, conn.oldest_read_ns, now);
            conn.oldest_append_ns = 0;
            conn.oldest_read_ns = 0;
            recorder.maybe_swap(now);
        }
        let outcome = outcome.and_then(|_| {
            let wrote = self.write_answers(i)?;
            self.metrics.bytes_sent.add(wrote);
            Ok(())
        });
        match outcome {
            Ok(_) => {}
            Err(e) if would_block(&e) => return,
            Err(e) if interrupted(&e) => {
                self.mark_dirty(i);
                return;
            }
            Err(e) => {
                let why = format!("write error: {e}");
                self.close(i, None, &why);
                return;
            }
        }
        let Some(conn) = self.conns[i].as_mut() else { return };
        // Everything pending is written. A draining session first waits for the
        // engine's answers to what it sent, so they precede its EndOfSession.
        if let ConnState::Draining { .. } = conn.session.state {
            let target = conn.session.drain_after_input;
            let all_released = match conn.session.state {
                ConnState::Draining { login: Some(l), .. } => {
                    let slot = &self.logins[l as usize];
                    slot.released_off == slot.log.end_offset()
                }
                _ => true,
            };
            // A disconnect notice still waiting for room in the ring is not yet
            // counted in `target`: wait for it too.
            let waiting = !self.pending_session_events.is_empty();
            if waiting || !self.link.caught_up(target) || self.drain_outputs() || !all_released {
                self.mark_dirty(i);
                return;
            }
        }
        let IoLoop { conns, logins, .. } = self;
        let Some(conn) = conns[i].as_mut() else { return };
        if let ConnState::Draining { login, reason, .. } = conn.session.state {
            let last_seq = login.map(|l| logins[l as usize].log.last_seq()).unwrap_or(0);
            if let Some(eos) = conn.session.end_of_session(last_seq) {
                conn.ctrl.push(&ServerMessage::EndOfSession(eos));
                // Best effort: the peer gets it unless its window is full.
                let _ = conn.stream.write(conn.ctrl.pending());
            }
            let _ = conn.stream.shutdown(std::net::Shutdown::Write);
            self.close(i, Some(reason), "session ended");
        }
    }
}

/// Answers waiting for their input to be on disk, oldest first: (login, input
/// sequence, end offset in that login's out log). At most
/// `pipeline.unreleased_capacity` entries.
pub(super) type Unreleased = std::collections::VecDeque<(LoginIdx, u64, u64)>;

/// Queues one answer until its input is durable; the answers of one input to one
/// login share an entry. The io thread takes no client input while the queue is
/// full, but inputs already in the engine still answer: for those this waits for
/// the journal thread (which syncs on its own) to make the oldest entries durable,
/// so the queue never grows past its limit and no answer is dropped.
pub(super) fn hold_until_durable(
    progress: &JournalProgress,
    unreleased: &mut Unreleased,
    capacity: usize,
    sessions: (&mut [LoginSlot], &mut [Option<Conn>], &mut Vec<usize>),
    (login, input_seq, end_off): (LoginIdx, u64, u64),
) {
    if let Some(back) = unreleased.back_mut()
        && back.0 == login
        && back.1 == input_seq
    {
        back.2 = end_off;
        return;
    }
    let (logins, conns, dirty) = sessions;
    while unreleased.len() >= capacity {
        if release_durable_entries(progress, unreleased, logins, conns, dirty) > 0 {
            continue;
        }
        if progress.failed.load(Ordering::Relaxed) {
            // Nothing becomes durable any more: the gateway stops (release_durable)
            // and no answer is released, this one included.
            return;
        }
        std::thread::yield_now();
    }
    unreleased.push_back((login, input_seq, end_off));
    assert!(unreleased.len() <= capacity, "the unreleased queue stays within its limit");
}

/// Releases the answers whose inputs are on disk; returns how many entries.
fn release_durable_entries(
    progress: &JournalProgress,
    unreleased: &mut Unreleased,
    logins: &mut [LoginSlot],
    conns: &mut [Option<Conn>],
    dirty: &mut Vec<usize>,
) -> usize {
    let durable = progress.durable.load(Ordering::Acquire);
    let mut released = 0;
    while let Some(&(login, input_seq, end_off)) = unreleased.front() {
        if input_seq > durable {
            break;
        }
        unreleased.pop_front();
        let slot = &mut logins[login as usize];
        assert!(end_off >= slot.released_off, "a login's released offset never goes back");
        slot.released_off = end_off;
        if let Some(ci) = slot.conn
            && let Some(conn) = conns[ci].as_mut()
            && !conn.dirty
        {
            conn.dirty = true;
            dirty.push(ci);
        }
        released += 1;
    }
    released
}
