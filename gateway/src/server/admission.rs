//! Taking connections: accept, the pre-login budget (per address and in all),
//! and who makes way when it is full.

#[allow(clippy::wildcard_imports)]
use super::*;

impl<L: EngineLink> IoLoop<L> {
    pub(super) fn accept(&mut self, listener: usize) {
        loop {
            let (stream, peer) = match self.listeners[listener].accept() {
                Ok(s) => s,
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => continue,
                Err(e) => {
                    limited!(self, warn, "accept failed", "accept failed: {e}");
                    return;
                }
            };
            let Some(slot) = self.slot_for_pending(peer.ip()) else {
                limited!(
                    self,
                    warn,
                    "no free session slot",
                    "refusing {peer}: all {} session slots in use",
                    self.limits.max_sessions
                );
                let mut stream = stream;
                let mut buf = [0u8; 8];
                let msg =
                    ServerMessage::LoginRejected(LoginRejected { code: RejectCode::SESSION_LIMIT });
                if let Ok(n) = msg.encode_to_slice(&mut buf) {
                    let _ = stream.write(&buf[..n]);
                }
                self.metrics.logins_refused.inc();
                continue;
            };
            if self.register(slot, stream, peer) {
                // A client sends its Login right after connecting: take it now, before
                // later connections can push this one out of the pre-login budget.
                self.read_conn(slot, false);
            }
        }
    }

    /// Sets up a new connection in `slot`; false (and the slot freed) if it fails.
    pub(super) fn register(&mut self, slot: usize, stream: TcpStream, peer: SocketAddr) -> bool {
        let _ = stream.set_nodelay(true);
        if self.limits.socket_send_buffer_bytes > 0 {
            let _ = socket2::SockRef::from(&stream)
                .set_send_buffer_size(self.limits.socket_send_buffer_bytes);
        }
        let now = self.clock.now_ns();
        self.next_conn_id += 1;
        let mut conn = Conn {
            id: self.next_conn_id,
            stream,
            peer,
            rx: FrameBuffer::new(self.limits.rx_buffer_bytes),
            session: Session::new(now, &self.limits),
            ctrl: ControlOut { buf: [0; 256], len: 0, sent: 0 },
            oldest_read_ns: 0,
            oldest_append_ns: 0,
            read_paused: false,
            dirty: false,
            closed: false,
            answers: AnswerList::EMPTY,
        };
        if let Err(e) = self.poll.registry().register(
            &mut conn.stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            limited!(self, warn, "register failed", "register {peer} failed: {e}");
            self.free.push(slot);
            return false;
        }
        self.metrics.connections_accepted.inc();
        self.pending.push((slot, conn.id));
        self.conns[slot] = Some(conn);
        true
    }

    /// A slot for a new connection from `ip`, which will wait for its Login.
    ///
    /// Connections that have not logged in have their own budget
    /// (`max_pending_logins`, and `max_pending_logins_per_address` from one
    /// address), and logged-in sessions are never dropped to make room. When a
    /// budget is full, or no slot is free, the oldest pending connection of the
    /// address with the most pending connections makes way (the new connection's
    /// own address, if that is the one at its limit). An address that floods the
    /// gateway with idle connections so pushes out only its own, and a client from
    /// elsewhere, or one that logs in at once, still gets in. `None` only when every
    /// slot holds a logged-in or ending session.
    pub(super) fn slot_for_pending(&mut self, ip: std::net::IpAddr) -> Option<usize> {
        // Bounded: each round either drops a connection or sees one log in.
        for _ in 0..=self.limits.max_pending_logins {
            let Some(victim) = self.pending_victim(ip) else { break };
            // Its Login may be waiting unread in the socket: take it first.
            self.read_conn(victim, false);
            let still_pending =
                self.conns[victim].as_ref().is_some_and(|c| c.session.awaiting_login());
            if still_pending {
                self.evict_pending(victim);
                break;
            }
        }
        self.free.pop()
    }

    /// The slot of the pending connection that must make way for a new one from
    /// `ip`, if one must (see [`IoLoop::slot_for_pending`]).
    pub(super) fn pending_victim(&mut self, ip: std::net::IpAddr) -> Option<usize> {
        let conns = &self.conns;
        self.pending.retain(|&(slot, id)| {
            conns[slot].as_ref().is_some_and(|c| c.id == id && c.session.awaiting_login())
        });
        let by_addr = &mut self.pending_by_addr;
        by_addr.clear();
        for (k, &(slot, _)) in self.pending.iter().enumerate() {
            if let Some(c) = conns[slot].as_ref() {
                by_addr.entry(c.peer.ip()).or_insert((0, k)).0 += 1;
            }
        }
        let own = by_addr.get(&ip).map_or(0, |&(n, _)| n as usize);
        let addr = if own >= self.limits.max_pending_logins_per_address {
            ip
        } else if self.pending.len() >= self.limits.max_pending_logins || self.free.is_empty() {
            // The busiest address; of equals, the one whose oldest connection is oldest.
            *by_addr.iter().max_by_key(|(_, (n, first))| (*n, std::cmp::Reverse(*first)))?.0
        } else {
            return None;
        };
        // `pending` is in accept order, so the first match is the oldest.
        let (slot, _) = *self
            .pending
            .iter()
            .find(|&&(slot, _)| conns[slot].as_ref().is_some_and(|c| c.peer.ip() == addr))?;
        Some(slot)
    }

    /// Drops a connection that has not logged in, to make room for a newer one:
    /// EndOfSession LOGIN_TIMEOUT (best effort; it has nothing else half-sent),
    /// then close.
    pub(super) fn evict_pending(&mut self, i: usize) {
        let Some(conn) = self.conns[i].as_mut() else { return };
        let eos = EndOfSession { reason: RejectCode::LOGIN_TIMEOUT, last_seq: 0 };
        conn.ctrl.push(&ServerMessage::EndOfSession(eos));
        let _ = conn.stream.write(conn.ctrl.pending());
        let _ = conn.stream.shutdown(std::net::Shutdown::Write);
        let why = "dropped to make room: the pre-login budget is full";
        self.close(i, Some(RejectCode::LOGIN_TIMEOUT), why);
    }
}
