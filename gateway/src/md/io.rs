//! The market-data thread: takes the engine's ring, runs the publisher, and moves
//! bytes with mio (the `examples/tcp_server.rs` shape: accept until WouldBlock,
//! read and write until WouldBlock). Each connection has its own bounded queue
//! in the publisher; a socket that does not drain only fills its own queue, and
//! is not read while its queue is over the limit, so a slow subscriber never
//! holds up another, the engine, or the order path.
//!
//! When the ring is empty the thread sleeps in poll until a socket is ready, the
//! next timer tick is due, or the engine wakes it ([`PollWakeup`]) after queuing
//! an operation's events; so a quote is taken from the ring as soon as the
//! engine queued it, and an idle thread wakes only for its timers.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use protocol::MAX_FRAME_LEN;

use super::publisher::Publisher;
use crate::clock::Clock;
use crate::config::marketdata::MarketDataSettings;
use crate::md_feed::MdFeed;
use crate::metrics::MdMetrics;
use crate::ring::Consumer;
use crate::wait::PollWakeup;

const LISTENER: Token = Token(usize::MAX);
/// The engine's wake-up after it queued events.
const WAKER: Token = Token(usize::MAX - 1);
/// Items taken from the ring between two polls of the sockets.
const FEED_BATCH: usize = 4_096;
/// Timers (heartbeats, conflation, deadlines) run at most this often; an idle
/// thread sleeps at most this long.
const TICK_NS: u64 = 1_000_000;

struct Conn {
    stream: TcpStream,
    ip: IpAddr,
    rx: Box<[u8; 2 * MAX_FRAME_LEN]>,
    rx_len: usize,
    /// Reads stopped while the publisher's queue for it was full.
    read_paused: bool,
}

/// The thread's state.
pub struct MdLoop {
    poll: Poll,
    listener: TcpListener,
    conns: Vec<Option<Conn>>,
    per_address: usize,
    send_buffer_bytes: usize,
    publisher: Publisher,
    from_engine: Consumer<MdFeed>,
    wakeup: Arc<PollWakeup>,
    clock: Clock,
    metrics: Arc<MdMetrics>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for MdLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MdLoop").field("connections", &self.conns.len()).finish()
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

fn interrupted(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted
}

impl MdLoop {
    /// A loop over a bound listener.
    pub fn new(
        listener: std::net::TcpListener,
        settings: &MarketDataSettings,
        publisher: Publisher,
        from_engine: Consumer<MdFeed>,
        clock: Clock,
        metrics: Arc<MdMetrics>,
        stop: Arc<AtomicBool>,
    ) -> io::Result<MdLoop> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        let wakeup = PollWakeup::new(poll.registry(), WAKER)?;
        Ok(MdLoop {
            poll,
            listener,
            conns: (0..settings.max_connections).map(|_| None).collect(),
            per_address: settings.max_connections_per_address,
            send_buffer_bytes: settings.socket_send_buffer_bytes,
            publisher,
            from_engine,
            wakeup,
            clock,
            metrics,
            stop,
        })
    }

    /// What the ring's producer wakes this thread with.
    pub fn wakeup(&self) -> Arc<PollWakeup> {
        Arc::clone(&self.wakeup)
    }

    /// Runs until the stop flag is set.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let mut last_tick_ns = 0;
        while !self.stop.load(Ordering::Acquire) {
            let taken = self.drain_feed();
            let timeout = if taken > 0 { Duration::ZERO } else { self.sleep_timeout(last_tick_ns) };
            let polled = self.poll.poll(&mut events, Some(timeout));
            self.wakeup.announce_awake();
            if let Err(e) = polled {
                if interrupted(&e) {
                    continue;
                }
                return Err(e);
            }
            for event in events.iter() {
                match event.token() {
                    LISTENER => self.accept(),
                    // The ring is drained at the top of the loop.
                    WAKER => {}
                    Token(slot) => self.read(slot),
                }
            }
            let now = self.clock.now_ns();
            if now.saturating_sub(last_tick_ns) >= TICK_NS {
                last_tick_ns = now;
                self.publisher.tick(now);
                self.publisher.publish_gauges();
            }
            self.flush_all();
        }
        Ok(())
    }

    /// How long to sleep in poll with the ring found empty: until the next timer
    /// tick, or not at all when the engine queued something since. The sleep is
    /// announced before the ring is looked at again, so the engine either sees
    /// the announcement and wakes this thread, or queued before the look.
    fn sleep_timeout(&mut self, last_tick_ns: u64) -> Duration {
        let since_tick_ns = self.clock.now_ns().saturating_sub(last_tick_ns);
        let until_tick_ns = TICK_NS.saturating_sub(since_tick_ns);
        if until_tick_ns == 0 {
            return Duration::ZERO;
        }
        self.wakeup.announce_sleep();
        if self.from_engine.has_items() {
            return Duration::ZERO;
        }
        Duration::from_nanos(until_tick_ns)
    }

    /// Applies what the engine queued (a batch at most); returns how many.
    fn drain_feed(&mut self) -> usize {
        let mut taken = 0;
        while taken < FEED_BATCH {
            let Some(item) = self.from_engine.pop() else { break };
            self.publisher.on_feed(item, self.clock.now_ns());
            taken += 1;
        }
        self.metrics.ring_depth.set(self.from_engine.len() as u64);
        taken
    }

    fn accept(&mut self) {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(x) => x,
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => continue,
                Err(_) => return,
            };
            self.metrics.connections_accepted.inc();
            let from_peer = self.conns.iter().flatten().filter(|c| c.ip == peer.ip()).count();
            let free = self.conns.iter().position(Option::is_none);
            let Some(slot) = free.filter(|_| from_peer < self.per_address) else {
                // No room: closed at once (dropping the stream closes it).
                self.metrics.connections_refused.inc();
                continue;
            };
            let _ = stream.set_nodelay(true);
            if self.send_buffer_bytes > 0 {
                let _ =
                    socket2::SockRef::from(&stream).set_send_buffer_size(self.send_buffer_bytes);
            }
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self.poll.registry().register(&mut stream, Token(slot), interest).is_err() {
                continue;
            }
            self.conns[slot] = Some(Conn {
                stream,
                ip: peer.ip(),
                rx: Box::new([0; 2 * MAX_FRAME_LEN]),
                rx_len: 0,
                read_paused: false,
            });
            self.publisher.open(slot, self.clock.now_ns());
        }
    }

    /// Reads what the socket has, handing whole frames to the publisher; stops
    /// while the publisher's queue for the connection is full.
    ///
    /// A Subscribe or RetransmitRequest is applied after every event the engine
    /// had queued when it is taken (so a snapshot it asks for reflects every order
    /// answer the client could already have seen): exactly the ring's length at
    /// that moment, never more, so the wait is bounded by one ring's worth even
    /// while the engine queues faster than this thread applies. Other requests
    /// (heartbeats, logins, unsubscribes) need no such wait and take none: under a
    /// crash-day burst with many subscribers, heartbeats arrive all the time, and a
    /// drain before each of them kept this thread from ever writing.
    fn read(&mut self, slot: usize) {
        loop {
            loop {
                let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                    return;
                };
                if conn.rx_len < 2 {
                    break;
                }
                if !self.publisher.wants_input(slot) {
                    conn.read_paused = true;
                    return;
                }
                let length = usize::from(u16::from_le_bytes([conn.rx[0], conn.rx[1]]));
                if length == 0 || length + 2 > MAX_FRAME_LEN {
                    // A broken length prefix: the stream cannot be framed again.
                    return self.close(slot);
                }
                if conn.rx_len < length + 2 {
                    break;
                }
                if matches!(conn.rx[2], b'S' | b'T') {
                    self.drain_queued();
                }
                let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                    return;
                };
                let now = self.clock.now_ns();
                self.publisher.on_frame(slot, &conn.rx[..length + 2], now);
                conn.rx.copy_within(length + 2..conn.rx_len, 0);
                conn.rx_len -= length + 2;
            }
            let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else { return };
            if !self.publisher.wants_input(slot) {
                conn.read_paused = true;
                return;
            }
            conn.read_paused = false;
            match conn.stream.read(&mut conn.rx[conn.rx_len..]) {
                Ok(0) => return self.close(slot),
                Ok(n) => conn.rx_len += n,
                Err(e) if would_block(&e) => return,
                Err(e) if interrupted(&e) => continue,
                Err(_) => return self.close(slot),
            }
        }
    }

    /// Applies exactly the events queued now (the ring's length when called).
    fn drain_queued(&mut self) {
        let mut left = self.from_engine.len();
        while left > 0 {
            let Some(item) = self.from_engine.pop() else { break };
            self.publisher.on_feed(item, self.clock.now_ns());
            left -= 1;
        }
        self.metrics.ring_depth.set(self.from_engine.len() as u64);
    }

    /// Writes every connection's queue until its socket would block; closes the
    /// ones the publisher is done with; resumes reads that were paused.
    fn flush_all(&mut self) {
        for slot in 0..self.conns.len() {
            let Some(conn) = self.conns[slot].as_mut() else { continue };
            let mut failed = false;
            loop {
                let pending = self.publisher.pending(slot);
                if pending.is_empty() {
                    break;
                }
                match conn.stream.write(pending) {
                    Ok(0) => {
                        failed = true;
                        break;
                    }
                    Ok(n) => self.publisher.written(slot, n, self.clock.now_ns()),
                    Err(e) if would_block(&e) => break,
                    Err(e) if interrupted(&e) => continue,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            let paused = conn.read_paused;
            if failed || self.publisher.wants_close(slot) {
                self.close(slot);
            } else if paused && self.publisher.wants_input(slot) {
                self.read(slot);
            }
        }
    }

    fn close(&mut self, slot: usize) {
        if let Some(mut conn) = self.conns[slot].take() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
            self.metrics.disconnects.inc();
        }
        self.publisher.close(slot);
    }

    /// The listener's address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}
