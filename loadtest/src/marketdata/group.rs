//! One of the fleet's threads: it drives many subscribers over non-blocking
//! sockets with one `mio::Poll` (edge-triggered, so a subscriber is read until
//! its socket would block, or until it has taken its turn's share and the
//! others have had theirs).
//!
//! A subscriber over its byte budget is simply not read until it is under it
//! again; every [`POLL_MS`] each one samples its staleness (or checks the
//! reference while catching up) and heartbeats when idle. The loop is bounded
//! in time: each poll waits at most [`POLL_MS`], and the thread ends when the
//! fleet says stop or its run deadline passes.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};

use super::subscriber::{Outcome, PHASE_STOP, POLL_MS, Read, Shared, Subscriber};

/// Events one subscriber takes before the thread turns to the next.
const EVENTS_PER_TURN: usize = 256;
/// Readiness events taken from one poll.
const EVENTS_CAPACITY: usize = 1_024;

struct Entry {
    subscriber: Subscriber,
    /// Its socket may hold bytes (it has not reported WouldBlock since its
    /// last readiness event).
    ready: bool,
}

/// The thread's loop: takes the subscribers the fleet hands it on `incoming`
/// as they connect, reads them until the fleet says stop or `deadline`, and
/// returns each one's index and outcome.
pub fn run(
    mut poll: Poll,
    incoming: Receiver<Subscriber>,
    shared: Arc<Shared>,
    deadline: Instant,
) -> Vec<(usize, Outcome)> {
    let mut events = Events::with_capacity(EVENTS_CAPACITY);
    let mut entries: Vec<Entry> = Vec::new();
    let mut open = true;
    loop {
        let phase = shared.phase.load(Ordering::Acquire);
        let now = Instant::now();
        if phase == PHASE_STOP || now >= deadline {
            break;
        }
        if open {
            open = take_new(&poll, &incoming, &mut entries);
        }
        let mut wake_at = now + Duration::from_millis(POLL_MS);
        let mut busy = false;
        for e in &mut entries {
            // Read first: the tick's silence check then sees what has arrived.
            if e.ready {
                match e.subscriber.read(EVENTS_PER_TURN, phase) {
                    Read::WouldBlock | Read::Stopped => e.ready = false,
                    Read::More => busy = true,
                    Read::Throttled => {
                        let wait = e.subscriber.throttled_for(phase).unwrap_or_default();
                        wake_at = wake_at.min(now + wait);
                    }
                }
            }
            wake_at = wake_at.min(e.subscriber.tick(Instant::now(), phase, &shared));
        }
        let timeout =
            if busy { Duration::ZERO } else { wake_at.saturating_duration_since(Instant::now()) };
        if let Err(e) = poll.poll(&mut events, Some(timeout)) {
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            for entry in &mut entries {
                entry.subscriber.fail(format!("poll: {e}"));
            }
            break;
        }
        for event in events.iter() {
            if let Some(e) = entries.get_mut(event.token().0) {
                e.ready = true;
            }
        }
    }
    entries.into_iter().map(|e| (e.subscriber.index(), e.subscriber.finish())).collect()
}

/// Registers the subscribers that arrived; false once the fleet will send no more.
fn take_new(poll: &Poll, incoming: &Receiver<Subscriber>, entries: &mut Vec<Entry>) -> bool {
    loop {
        let mut subscriber = match incoming.try_recv() {
            Ok(s) => s,
            Err(TryRecvError::Empty) => return true,
            Err(TryRecvError::Disconnected) => return false,
        };
        let fd: RawFd = subscriber.raw_fd();
        let token = Token(entries.len());
        if let Err(e) = poll.registry().register(&mut SourceFd(&fd), token, Interest::READABLE) {
            subscriber.fail(format!("register with poll: {e}"));
        }
        // Read at once: bytes may have arrived before the registration.
        entries.push(Entry { subscriber, ready: true });
    }
}
