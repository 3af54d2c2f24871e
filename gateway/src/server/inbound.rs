//! The inbound side of a binary session: reading the socket, taking whole
//! frames while the engine has room, and acting on what the session rules
//! (`crate::session`) make of each: a login decided by the gate, an input for
//! the engine, a query, a logout.

#[allow(clippy::wildcard_imports)]
use super::*;

impl<L: EngineLink> IoLoop<L> {
    /// Reads and handles frames until the socket is empty (WouldBlock, or with
    /// `short_read_ends` a read that did not fill the buffer), the peer closed,
    /// or the engine is full.
    pub(super) fn read_conn(&mut self, i: usize, short_read_ends: bool) {
        let mut drained = false;
        loop {
            if !self.take_frames(i) {
                return; // paused (engine full) or closed
            }
            if drained {
                // A short read emptied the socket: epoll (edge-triggered) reports
                // anything that arrives later, so no `recv` just to see WouldBlock.
                return;
            }
            let Some(conn) = self.conns[i].as_mut() else { return };
            if conn.closed {
                return;
            }
            match conn.rx.read_from(&mut conn.stream) {
                Ok(0) => {
                    // Every whole frame was taken above, so the buffer has room and
                    // a zero-byte read is the end of the stream.
                    self.close(i, None, "closed by the peer");
                    return;
                }
                Ok(n) => {
                    conn.session.received(self.clock.now_ns());
                    self.metrics.bytes_received.add(n as u64);
                    drained = short_read_ends && conn.rx.drained();
                }
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => continue,
                Err(e) => {
                    let reason = format!("read error: {e}");
                    self.close(i, None, &reason);
                    return;
                }
            }
        }
    }

    /// Handles buffered frames. Returns false when reading must stop (paused or closed).
    pub(super) fn take_frames(&mut self, i: usize) -> bool {
        loop {
            let Some(conn) = self.conns[i].as_mut() else { return false };
            if conn.closed || !conn.session.reads() {
                // Nothing more is read from a session that is ending.
                return false;
            }
            let is_active = matches!(conn.session.state, ConnState::Active { .. });
            // A session event still waiting for room goes first: its login's first
            // order must find the stream's version already recorded.
            let unreleased_full =
                self.durable.is_some() && self.unreleased.len() >= self.limits.unreleased_capacity;
            let blocked =
                !self.pending_session_events.is_empty() || unreleased_full || !self.link.has_room();
            if is_active && blocked {
                if !conn.read_paused {
                    conn.read_paused = true;
                    self.paused.push(i);
                    self.metrics.backpressure_pauses.inc();
                }
                return false;
            }
            if is_active
                && (self.free_answer_slots.is_empty() || conn.answers.len >= QUERIES_PER_CONNECTION)
                && conn.rx.peek_type() == Some(msg_type::QUERY)
            {
                // No answer buffer for it: read on once one frees (see free_answer).
                if !conn.read_paused {
                    conn.read_paused = true;
                    self.waiting_for_answers.push(i);
                }
                return false;
            }
            let read_ns = conn.session.last_rx_ns;
            let frame = match conn.rx.next_frame() {
                Ok(Some(frame)) => frame,
                Ok(None) => return true,
                Err(e) => {
                    let reason = format!("unframeable stream: {e}");
                    self.drain_and_close(i, RejectCode::MALFORMED_STREAM, &reason);
                    return false;
                }
            };
            let len = frame.len();
            self.scratch[..len].copy_from_slice(frame);
            let decoded = ClientMessage::decode(&self.scratch[..len]);
            let stamps = Stamps { read_ns, decoded_ns: self.clock.now_ns() };
            self.recorder.record(Stage::Decode, read_ns, stamps.decoded_ns);
            self.metrics.frames_received.inc();
            self.handle_frame(i, decoded, len, stamps);
        }
    }

    pub(super) fn handle_frame(
        &mut self,
        i: usize,
        decoded: Result<ClientMessage, protocol::codec::DecodeError>,
        len: usize,
        stamps: Stamps,
    ) {
        let Some(conn) = self.conns[i].as_ref() else { return };
        let login = conn.session.login();
        match conn.session.on_frame(&self.scratch[..len], decoded) {
            FrameAction::Login(request) => self.login(i, &request),
            FrameAction::Refuse(refused) => self.refuse_login(i, refused),
            FrameAction::Input(input) => self.offer(Arrival { input, stamps }),
            action @ FrameAction::Malformed { ref_msg_type, error, .. } => {
                let code = error.reject_code();
                limited!(
                    self,
                    warn,
                    "malformed frame",
                    "login {} ({}): malformed frame type 0x{ref_msg_type:02x}: {error} (code {code})",
                    login.map(|l| self.logins[l as usize].username.to_string()).unwrap_or_default(),
                    self.conns[i].as_ref().map(|c| c.peer.to_string()).unwrap_or_default(),
                );
                self.metrics.malformed_frames.inc();
                if let Some(input) = action.malformed_input() {
                    self.offer(Arrival { input, stamps });
                }
            }
            FrameAction::Query(query) => {
                if let Some(login) = login {
                    self.query(i, login, query, stamps);
                }
            }
            FrameAction::Logout => {
                if let Some(login) = login {
                    info!("login {}: logged out", self.logins[login as usize].username);
                    self.end_active(i, RejectCode::LOGGED_OUT);
                }
            }
            FrameAction::Nothing => {}
        }
    }

    pub(super) fn login(&mut self, i: usize, request: &Login) {
        let now = self.clock.now_ns();
        let Some(peer) = self.conns[i].as_ref().map(|c| c.peer) else { return };
        let admitted =
            match self.gate.admit(&mut self.logins, &self.limits, now, peer.ip(), request) {
                Ok(admitted) => admitted,
                Err(refused) => return self.refuse_login(i, refused),
            };
        let login = admitted.login;
        let slot = &mut self.logins[login as usize];
        slot.conn = Some(i);
        let log_end = slot.log.end_offset();
        if admitted.first_today {
            self.pending_session_events.push(Input::LoggedIn { login, version: admitted.version });
        }
        let accepted = ServerMessage::LoginAccepted(admitted.accepted(&self.limits));
        let Some(conn) = self.conns[i].as_mut() else { return };
        conn.session.accept(&admitted, log_end);
        conn.ctrl.push(&accepted);
        info!(
            "login {} from {peer} (resume at {}, replaying {})",
            request.username, admitted.start_seq, admitted.replay
        );
        self.metrics.logins_accepted.inc();
        if admitted.replay > 0 {
            self.metrics.replays.inc();
            self.metrics.replayed_messages.add(admitted.replay);
        }
        self.mark_dirty(i);
    }

    pub(super) fn refuse_login(&mut self, i: usize, refused: Refused) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let Refused { code, why } = refused;
        limited!(
            self,
            warn,
            "login refused",
            "refusing login from {}: {why} (code {code})",
            conn.peer
        );
        conn.ctrl.push(&ServerMessage::LoginRejected(LoginRejected { code }));
        conn.session.refuse(code);
        self.metrics.logins_refused.inc();
        self.mark_dirty(i);
    }
}
