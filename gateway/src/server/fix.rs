//! The io loop's side of the FIX door (`crate::fix_door`): serving the door's
//! sockets on this loop, attaching a FIX session to its login's stream, taking
//! its orders into the engine's input, and handing it the released stream
//! message by message (`crate::fix_link`).

use std::io;
use std::sync::Arc;

use log::{info, warn};
use mio::Interest;
use mio::net::TcpListener;
use protocol::codec::PROTOCOL_VERSION;
use protocol::{RejectCode, Seq};

use super::{EngineLink, FIX_CONN_BASE, FIX_LISTENER, FixCursor, IoLoop};
use crate::fix_link::{FixLink, ToDoor, ToIo};
use crate::input::{Arrival, Input, LoginIdx, Stamps};

impl<L: EngineLink> IoLoop<L> {
    /// Serves the FIX door on this loop: its listener (bound already) and
    /// connections join this loop's poll, so a FIX order reaches the engine and
    /// its ExecutionReport the socket within one turn of the loop, like a binary
    /// one. `link` is `None` in reflector mode.
    pub fn attach_fix_door(
        &mut self,
        settings: &crate::config::fix_door::FixDoorSettings,
        listener: std::net::TcpListener,
        link: Option<Arc<FixLink>>,
        sessions: Vec<fix::Session>,
    ) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        self.poll.registry().register(&mut listener, FIX_LISTENER, Interest::READABLE)?;
        let registry = self.poll.registry().try_clone()?;
        let sockets = crate::fix_door::DoorSockets {
            registry,
            listener,
            listener_token: FIX_LISTENER,
            token_base: FIX_CONN_BASE,
        };
        let metrics = Arc::clone(&self.metrics.fix);
        let door = crate::fix_door::Door::new(settings, sockets, link, sessions, metrics);
        self.fix_door = Some(door);
        Ok(())
    }

    /// Takes what the FIX door's sessions sent: attachments, orders, detachments,
    /// each in its session's order, while the engine has room.
    pub(super) fn offer_fix_inputs(&mut self) -> bool {
        let Some(link) = self.control.fix.clone() else { return false };
        let mut did = false;
        for (s, session) in link.sessions.iter().enumerate() {
            while self.pending_session_events.is_empty() && self.has_room() {
                let Some(msg) = session.to_io.pop() else { break };
                did = true;
                match msg {
                    ToIo::Attach { from_seq } => self.attach_fix(&link, s, from_seq),
                    ToIo::Input(input) => self.offer_fix_input(session.login, input),
                    ToIo::Fact(fact) => {
                        let now = self.clock.now_ns();
                        let input = Input::FixFact { login: session.login, fact };
                        let stamps = Stamps { read_ns: now, decoded_ns: now };
                        self.offer(Arrival { input, stamps });
                    }
                    ToIo::Detach => self.detach_fix(session.login),
                }
            }
        }
        if did {
            link.wake_door(); // room in its queues
        }
        did
    }

    fn attach_fix(&mut self, link: &FixLink, s: usize, from_seq: Option<Seq>) {
        let login = link.sessions[s].login;
        let slot = &mut self.logins[login as usize];
        let refuse = |code: RejectCode, why: &str| {
            warn!("FIX session {s} for login {}: not attached: {why}", slot.username);
            // The door sends nothing more after an Attach until it is answered or
            // logs out, so the slot kept for this always has room.
            let _ = link.sessions[s].to_door.push(ToDoor::Refused(code));
        };
        if slot.conn.is_some() || slot.fix.is_some() {
            return refuse(RejectCode::ALREADY_LOGGED_IN, "the login has a live session");
        }
        let start = from_seq.unwrap_or(slot.log.next_seq());
        if start > slot.log.next_seq() {
            return refuse(RejectCode::SEQUENCE_AHEAD, "asked beyond the stream");
        }
        let Some(cursor) = slot.log.offset_of(start) else {
            return refuse(
                RejectCode::SEQUENCE_UNAVAILABLE,
                "asked for what the stream no longer holds",
            );
        };
        if slot.stream_version == 0 {
            slot.stream_version = PROTOCOL_VERSION;
            self.pending_session_events.push(Input::LoggedIn { login, version: PROTOCOL_VERSION });
        }
        slot.fix = Some(FixCursor { session: s, cursor });
        let _ = link.sessions[s].to_door.push(ToDoor::Attached { next_seq: start });
        info!("login {}: FIX session attached (from stream seq {start})", slot.username);
        self.fix_logins.push(login);
        self.metrics.logins_accepted.inc();
    }

    fn offer_fix_input(&mut self, login: LoginIdx, input: fix::inbound::Input) {
        if self.logins[login as usize].fix.is_none() {
            // Sent between an Attach the io thread refused and the door's Logout.
            limited!(
                self,
                warn,
                "FIX input unattached",
                "login {}: FIX input while not attached: dropped",
                self.logins[login as usize].username
            );
            return;
        }
        let input = match input {
            fix::inbound::Input::NewOrder(order) => Input::NewOrder { login, order },
            fix::inbound::Input::CancelOrder(cancel) => Input::Cancel { login, cancel },
            fix::inbound::Input::ReplaceOrder(replace) => Input::Replace { login, replace },
            fix::inbound::Input::MassCancel(mass) => Input::MassCancel { login, mass },
        };
        let now = self.clock.now_ns();
        self.metrics.frames_received.inc();
        self.offer(Arrival { input, stamps: Stamps { read_ns: now, decoded_ns: now } });
    }

    fn detach_fix(&mut self, login: LoginIdx) {
        if self.logins[login as usize].fix.take().is_none() {
            return; // already detached (dropped for its backlog)
        }
        self.fix_logins.retain(|&l| l != login);
        info!("login {}: FIX session detached", self.logins[login as usize].username);
        self.notify_disconnect(login);
    }

    /// Hands each attached FIX session the released part of its login's stream,
    /// while its queue has room (two slots kept for `Attached`/`Refused` and `Dropped`).
    pub(super) fn feed_fix_sessions(&mut self) -> bool {
        let Some(link) = self.control.fix.clone() else { return false };
        let mut did = false;
        let mut k = 0;
        while k < self.fix_logins.len() {
            let login = self.fix_logins[k];
            let slot = &mut self.logins[login as usize];
            let Some(fix) = slot.fix.as_mut() else {
                k += 1;
                continue;
            };
            let queue = &link.sessions[fix.session].to_door;
            let behind = slot.released_off.saturating_sub(fix.cursor);
            if fix.cursor < slot.log.start_offset() || behind > self.limits.backlog_limit_bytes {
                warn!(
                    "login {}: FIX session {behind} bytes behind its stream: dropped",
                    slot.username
                );
                let _ = queue.push(ToDoor::Dropped);
                slot.fix = None;
                self.fix_logins.swap_remove(k);
                self.metrics.slow_consumer_disconnects.inc();
                self.notify_disconnect(login);
                did = true;
                continue;
            }
            while fix.cursor < slot.released_off && queue.len() + 2 < queue.capacity() {
                let Some((msg, len)) = slot.log.decode_at(fix.cursor) else { break };
                let _ = queue.push(ToDoor::App(msg));
                fix.cursor += len;
                did = true;
            }
            k += 1;
        }
        if did {
            link.wake_door();
        }
        did
    }
}
