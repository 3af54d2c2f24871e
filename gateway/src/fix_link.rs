//! Between the FIX door and the io loop: per FIX session a bounded queue each
//! way. The gateway serves the door on the io thread itself
//! (`IoLoop::attach_fix_door`), so both ends are on one thread and nobody needs
//! waking; a door on a thread of its own ([`crate::fix_door::FixDoor::start`])
//! uses the two wakers.
//!
//! The io loop owns the logins and their sequenced streams, so a FIX session
//! reaches the engine through it, exactly like a binary session: its orders go
//! into the same input stream (sequenced, journaled, risk-checked), and what the
//! engine answers is appended to the login's stream, which the io loop then
//! hands to the door message by message, from a cursor of its own. The door maps
//! those messages to ExecutionReports (`fix::Session::on_app`).
//!
//! Neither side ever drops or blocks: the io thread hands over stream messages
//! only while the queue has room (the stream keeps the rest, as it does for a
//! slow binary reader, under the same backlog limit), and keeps two slots for the
//! messages that answer and end an attachment; the door stops feeding a connection's bytes
//! to its session while messages for the io thread wait in its own bounded
//! spill (see `fix_door`).

use std::sync::{Arc, OnceLock};

use crossbeam_queue::ArrayQueue;
use mio::Waker;
use protocol::codec::Sequenced;
use protocol::{RejectCode, Seq};

use crate::config::fix_door::FixDoorSettings;
use crate::input::LoginIdx;

/// From the door to the io thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToIo {
    /// The session logged on: follow its login's stream from `from_seq` (`None`:
    /// from the next message), and count the login as logged in.
    Attach {
        /// The first stream message the session has not seen.
        from_seq: Option<Seq>,
    },
    /// An order, cancel, replace or mass cancel for the engine.
    Input(fix::inbound::Input),
    /// A session fact to journal (the session is rebuilt from these and the
    /// login's stream after a restart).
    Fact(fix::SessionFact),
    /// The session's connection ended: the login's disconnect (and its
    /// cancel-on-disconnect).
    Detach,
}

/// From the io thread to the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToDoor {
    /// The attachment holds: the stream follows from `next_seq`.
    Attached {
        /// The first stream message the door will receive.
        next_seq: Seq,
    },
    /// The next message of the login's stream.
    App(Sequenced),
    /// The session could not be attached (the login is busy, or the stream no
    /// longer holds what it asked for): log it out.
    Refused(RejectCode),
    /// The session fell behind its stream by more than the backlog limit: it is
    /// detached; log it out.
    Dropped,
}

/// One FIX session's two queues and the login it trades as.
#[derive(Debug)]
pub struct SessionLink {
    /// Door → io thread.
    pub to_io: ArrayQueue<ToIo>,
    /// Io thread → door.
    pub to_door: ArrayQueue<ToDoor>,
    /// The `[[logins]]` entry the session uses.
    pub login: LoginIdx,
}

/// Every FIX session's link, shared by the two threads.
#[derive(Debug)]
pub struct FixLink {
    /// By session, in configuration order.
    pub sessions: Vec<SessionLink>,
    /// Hand session facts over for the journal. Without a journal there is no
    /// rebuild to make from them, and each would cost the engine an input.
    pub journal_facts: bool,
    io_waker: Arc<OnceLock<Arc<Waker>>>,
    door_waker: OnceLock<Arc<Waker>>,
}

impl FixLink {
    /// What the queues commit (none in reflector mode), in bytes.
    pub fn memory_bytes(settings: &FixDoorSettings) -> u64 {
        if settings.reflector {
            return 0;
        }
        let slot = std::mem::size_of::<ToIo>() + std::mem::size_of::<ToDoor>();
        (settings.sessions.len() * settings.queue_messages * slot) as u64
    }

    /// Queues sized from the configuration; `None` in reflector mode. `io_waker`
    /// is filled in when the io loop exists; `journal_facts` when a journal keeps
    /// what the sessions are rebuilt from.
    pub fn new(
        settings: &FixDoorSettings,
        io_waker: Arc<OnceLock<Arc<Waker>>>,
        journal_facts: bool,
    ) -> Option<FixLink> {
        if settings.reflector {
            return None;
        }
        let sessions = settings
            .logins
            .iter()
            .map(|login| SessionLink {
                to_io: ArrayQueue::new(settings.queue_messages),
                to_door: ArrayQueue::new(settings.queue_messages),
                login: login.expect("a FIX session outside reflector mode has a login") as LoginIdx,
            })
            .collect();
        Some(FixLink { sessions, journal_facts, io_waker, door_waker: OnceLock::new() })
    }

    /// Called once by the door when its poll exists.
    pub fn set_door_waker(&self, waker: Arc<Waker>) {
        let _ = self.door_waker.set(waker);
    }

    /// Wakes the io thread (it has input, or room for more of the stream).
    pub fn wake_io(&self) {
        if let Some(w) = self.io_waker.get() {
            let _ = w.wake();
        }
    }

    /// Wakes the door (stream messages, or room for more input).
    pub fn wake_door(&self) {
        if let Some(w) = self.door_waker.get() {
            let _ = w.wake();
        }
    }
}
