//! A market-data subscriber over TCP (`docs/marketdata.md`): blocking
//! ([`MdClient::poll`]), or driven by the caller's readiness loop after
//! [`MdClient::set_nonblocking`] ([`MdClient::try_poll`], [`MdClient::keep_alive`]).
//!
//! It logs in with the order-entry credentials, subscribes, and turns the
//! server's frames into books: one [`BookBuilder`](crate::marketdata::BookBuilder)
//! per security, a bounded tape of recent trades, and counters. Recovery is its
//! own business: a gap is asked for again, a refused or too-wide range or a new
//! feed session subscribes again for a new snapshot, and heartbeats go out when
//! the link is idle. The rules live in [`Feed`] (no socket, no clock); this file
//! moves bytes. One client is one connection; it is not thread-safe.

mod feed;

pub use feed::{Feed, FeedCounters, FeedLimits, LEVEL1_LEVELS, MdEvent, SecurityBook, TradeTick};

use std::io::{self, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::codec::{DecodeError, MAX_FRAME_LEN};
use crate::framing::FrameBuffer;
use crate::marketdata::{Depth, MD_VERSION, MdMessage, MdReject, Mode, Target, decode_server};
use crate::types::{SecurityId, Token, Username};

/// Server heartbeat intervals without a byte after which the server is taken for
/// dead (the server allows a silent client as many).
pub const SILENT_INTERVALS_MAX: u32 = 3;

/// Everything that can go wrong on the subscriber's side.
#[derive(Debug, thiserror::Error)]
pub enum MdClientError {
    /// Socket error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The server sent bytes that do not decode; the connection is closed.
    #[error("malformed frame from the market-data server: {0}")]
    Malformed(#[from] DecodeError),
    /// The server refused the login.
    #[error("login rejected: {}", reject_words(.0))]
    LoginRejected(MdReject),
    /// The server closed the connection.
    #[error("connection closed by the market-data server")]
    Closed,
    /// No answer to the login within the timeout.
    #[error("timed out waiting for the market-data server")]
    Timeout,
    /// Nothing arrived for [`SILENT_INTERVALS_MAX`] heartbeat intervals.
    #[error("the market-data server sent nothing for {silent_ms} ms")]
    ServerSilent {
        /// How long it was silent.
        silent_ms: u64,
    },
    /// A message the server does not send at this point of the session.
    #[error("unexpected message type 0x{msg_type:02x} from the market-data server")]
    Unexpected {
        /// Its type byte.
        msg_type: u8,
    },
    /// A request the client will not send.
    #[error("invalid request: {0}")]
    InvalidRequest(&'static str),
    /// A snapshot or subscription would need one book more than the limit.
    #[error("more than {max} books")]
    TooManyBooks {
        /// [`FeedLimits::books_max`].
        max: usize,
    },
    /// One subscription more than the limit.
    #[error("more than {max} subscriptions")]
    TooManySubscriptions {
        /// [`FeedLimits::subscriptions_max`].
        max: usize,
    },
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct MdClientConfig {
    /// The market-data port.
    pub addr: SocketAddr,
    /// The order-entry username.
    pub username: Username,
    /// The order-entry token.
    pub token: Token,
    /// How long to wait for the connection and for LoginAccepted.
    pub login_timeout: Duration,
    /// Books, subscriptions and trades kept.
    pub limits: FeedLimits,
    /// Receive buffer in bytes (at least two frames).
    pub rx_buffer_bytes: usize,
}

impl MdClientConfig {
    /// Settings with defaults: 5 s login timeout, [`FeedLimits::default`], 64 KiB
    /// receive buffer.
    pub fn new(
        addr: impl ToSocketAddrs,
        username: Username,
        token: Token,
    ) -> io::Result<MdClientConfig> {
        let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "address resolves to nothing")
        })?;
        Ok(MdClientConfig {
            addr,
            username,
            token,
            login_timeout: Duration::from_secs(5),
            limits: FeedLimits::default(),
            rx_buffer_bytes: 64 * 1024,
        })
    }
}

/// What the last server message taken carried, for the application to time it
/// ([`MdClient::last_stamp`]): the flags and time of a sequenced message (a
/// Snapshot's time is the publisher's, a delta's the venue's), zeros otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct MessageStamp {
    /// The message's type byte.
    pub msg_type: u8,
    /// Its flags (conflated, retransmitted); 0 for an unsequenced message.
    pub flags: u8,
    /// Its `time_ns`; 0 for an unsequenced message.
    pub time_ns: u64,
}

impl MessageStamp {
    fn of(msg: &MdMessage) -> MessageStamp {
        let (flags, time_ns) = match msg {
            MdMessage::Snapshot(s) => (s.flags, s.time_ns),
            MdMessage::Delta(h, _) => (h.flags, h.time_ns),
            _ => (0, 0),
        };
        MessageStamp { msg_type: msg.msg_type(), flags, time_ns }
    }
}

/// A logged-in market-data connection.
#[derive(Debug)]
pub struct MdClient {
    stream: TcpStream,
    rx: FrameBuffer,
    feed: Feed,
    /// 0: the server sends no heartbeats; the client neither sends nor expects them.
    heartbeat: Duration,
    last_sent: Instant,
    last_received: Instant,
    /// Bytes read from the socket since connecting (LoginAccepted included).
    bytes_received: u64,
    last_stamp: MessageStamp,
    /// Reads never wait; a write that would block finishes blocking, bounded by
    /// `write_timeout`.
    nonblocking: bool,
    write_timeout: Duration,
    /// The last non-blocking read found the socket empty: only then does
    /// [`MdClient::keep_alive`] count silence (a loop that has not come back to
    /// this client yet may have its bytes waiting).
    socket_empty: bool,
}

impl MdClient {
    /// Connects and logs in.
    pub fn connect(config: &MdClientConfig) -> Result<MdClient, MdClientError> {
        let mut stream = TcpStream::connect_timeout(&config.addr, config.login_timeout)?;
        stream.set_nodelay(true)?;
        let login = MdMessage::Login {
            version: MD_VERSION,
            username: config.username,
            token: config.token,
        };
        write_message(&mut stream, &login)?;
        let mut rx = FrameBuffer::new(config.rx_buffer_bytes);
        let deadline = Instant::now() + config.login_timeout;
        let mut rx_total = 0u64;
        loop {
            if let Some(frame) = rx.next_frame()? {
                return match decode_server(frame)? {
                    MdMessage::LoginAccepted { session_id, heartbeat_ms } => {
                        let now = Instant::now();
                        let bytes_received = rx_total;
                        Ok(MdClient {
                            stream,
                            rx,
                            feed: Feed::new(session_id, config.limits),
                            heartbeat: Duration::from_millis(u64::from(heartbeat_ms)),
                            last_sent: now,
                            last_received: now,
                            bytes_received,
                            last_stamp: MessageStamp::default(),
                            nonblocking: false,
                            write_timeout: config.login_timeout,
                            socket_empty: false,
                        })
                    }
                    MdMessage::LoginRejected { code } => Err(MdClientError::LoginRejected(code)),
                    other => Err(MdClientError::Unexpected { msg_type: other.msg_type() }),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(MdClientError::Timeout);
            }
            stream.set_read_timeout(Some(left))?;
            match rx.read_from(&mut stream) {
                Ok(0) => return Err(MdClientError::Closed),
                Ok(n) => rx_total += n as u64,
                Err(e) if is_timeout(&e) => return Err(MdClientError::Timeout),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The feed session LoginAccepted named (or the one that replaced it).
    pub fn session_id(&self) -> u64 {
        self.feed.session_id()
    }

    /// The heartbeat interval the server announced.
    pub fn heartbeat(&self) -> Duration {
        self.heartbeat
    }

    /// The books, counters and heartbeat figures.
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// A security's book, once subscribed.
    pub fn book(&self, security: SecurityId) -> Option<&SecurityBook> {
        self.feed.book(security)
    }

    /// What was counted so far.
    pub fn counters(&self) -> FeedCounters {
        self.feed.counters()
    }

    /// Bytes read from the server since connecting: what a reader that bounds its
    /// own read rate meters itself by.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// The flags and time of the message behind the last event [`MdClient::poll`]
    /// returned (a Snapshot's or a delta's; zeros for any other message).
    pub fn last_stamp(&self) -> MessageStamp {
        self.last_stamp
    }

    /// Subscribes to a security or a channel; `interval_ms` is 0 in real time and
    /// 1 to 60000 conflated. Subscribing again to a target replaces it and brings a
    /// new snapshot. Returns the request id the SubscribeAck will echo.
    pub fn subscribe(
        &mut self,
        target: Target,
        depth: Depth,
        mode: Mode,
        interval_ms: u32,
    ) -> Result<u32, MdClientError> {
        let id = self.feed.subscribe(target, depth, mode, interval_ms)?;
        self.flush()?;
        Ok(id)
    }

    /// Stops a subscription; its books go. Returns the request id.
    pub fn unsubscribe(&mut self, target: Target) -> Result<u32, MdClientError> {
        let id = self.feed.unsubscribe(target);
        self.flush()?;
        Ok(id)
    }

    /// Waits up to `timeout` for the next server message and returns what it did
    /// (`Ok(None)`: nothing came). Recovery requests and heartbeats go out on the
    /// way. An error leaves the connection closed.
    pub fn poll(&mut self, timeout: Duration) -> Result<Option<MdEvent>, MdClientError> {
        let result = self.poll_inner(timeout);
        if result.is_err() {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        result
    }

    /// Puts the socket in non-blocking mode (for [`MdClient::try_poll`] in a
    /// readiness loop), or back. [`MdClient::poll`] needs blocking mode.
    pub fn set_nonblocking(&mut self, nonblocking: bool) -> io::Result<()> {
        self.stream.set_nonblocking(nonblocking)?;
        self.nonblocking = nonblocking;
        Ok(())
    }

    /// In non-blocking mode: the next event from what is buffered or what the
    /// socket holds now, never waiting. `Ok(None)` means the socket would block:
    /// a loop over an edge-triggered poll waits for its next readiness only
    /// then. Recovery requests go out on the way. An error leaves the connection
    /// closed, except `InvalidRequest` for a client in blocking mode.
    pub fn try_poll(&mut self) -> Result<Option<MdEvent>, MdClientError> {
        if !self.nonblocking {
            return Err(MdClientError::InvalidRequest("try_poll needs non-blocking mode"));
        }
        let result = self.try_poll_inner();
        if result.is_err() {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        result
    }

    fn try_poll_inner(&mut self) -> Result<Option<MdEvent>, MdClientError> {
        // Each read either fills what the buffer has room for (then a frame is
        // whole: the buffer holds two) or ends at WouldBlock, so this ends.
        loop {
            if let Some(event) = self.next_buffered()? {
                return Ok(Some(event));
            }
            match self.rx.read_from(&mut self.stream) {
                Ok(0) => return Err(MdClientError::Closed),
                Ok(n) => {
                    self.bytes_received += n as u64;
                    self.last_received = Instant::now();
                    self.socket_empty = false;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => {
                    self.socket_empty = true;
                    return Ok(None);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// For a loop that calls [`MdClient::try_poll`]: sends a heartbeat when the
    /// link has been idle for an interval, and fails with
    /// [`MdClientError::ServerSilent`] when nothing arrived for
    /// [`SILENT_INTERVALS_MAX`] intervals and the last read found the socket
    /// empty (silence counts only while the socket is empty, as in
    /// [`MdClient::poll`]). Call it at least twice an interval.
    pub fn keep_alive(&mut self) -> Result<(), MdClientError> {
        let result = self.heartbeat_if_idle().and_then(|()| {
            let silent = Instant::now().saturating_duration_since(self.last_received);
            let limit = self.heartbeat * SILENT_INTERVALS_MAX;
            if !self.heartbeat.is_zero() && self.socket_empty && silent > limit {
                let silent_ms = silent.as_millis() as u64;
                return Err(MdClientError::ServerSilent { silent_ms });
            }
            Ok(())
        });
        if result.is_err() {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        result
    }

    fn poll_inner(&mut self, timeout: Duration) -> Result<Option<MdEvent>, MdClientError> {
        let deadline = Instant::now() + timeout;
        // A reader busy with a backlog still heartbeats: the server takes a client
        // that sends nothing for three intervals for dead, even while it sends.
        self.heartbeat_if_idle()?;
        loop {
            if let Some(event) = self.next_buffered()? {
                return Ok(Some(event));
            }
            self.heartbeat_if_idle()?;
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let mut wait = deadline - now;
            if !self.heartbeat.is_zero() {
                wait = wait.min(self.heartbeat / 2);
            }
            self.stream.set_read_timeout(Some(wait.max(Duration::from_millis(1))))?;
            match self.rx.read_from(&mut self.stream) {
                Ok(0) => return Err(MdClientError::Closed),
                Ok(n) => {
                    self.bytes_received += n as u64;
                    self.last_received = Instant::now();
                }
                Err(e) if is_timeout(&e) => {
                    // Silence counts only while the socket is empty: a reader that
                    // was slow to come back finds the server's bytes waiting.
                    let silent = Instant::now().saturating_duration_since(self.last_received);
                    if !self.heartbeat.is_zero() && silent > self.heartbeat * SILENT_INTERVALS_MAX {
                        let silent_ms = silent.as_millis() as u64;
                        return Err(MdClientError::ServerSilent { silent_ms });
                    }
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Decodes and takes one buffered frame, then sends what it asked for.
    fn next_buffered(&mut self) -> Result<Option<MdEvent>, MdClientError> {
        let msg = match self.rx.next_frame()? {
            None => return Ok(None),
            Some(frame) => decode_server(frame)?,
        };
        self.last_stamp = MessageStamp::of(&msg);
        let event = self.feed.on_message(&msg)?;
        self.flush()?;
        Ok(Some(event))
    }

    fn flush(&mut self) -> Result<(), MdClientError> {
        for msg in self.feed.take_outgoing() {
            send(&mut self.stream, self.nonblocking, self.write_timeout, &msg)?;
            self.last_sent = Instant::now();
        }
        Ok(())
    }

    fn heartbeat_if_idle(&mut self) -> Result<(), MdClientError> {
        if !self.heartbeat.is_zero() && self.last_sent.elapsed() >= self.heartbeat {
            let heartbeat = MdMessage::ClientHeartbeat;
            send(&mut self.stream, self.nonblocking, self.write_timeout, &heartbeat)?;
            self.last_sent = Instant::now();
        }
        Ok(())
    }
}

#[cfg(unix)]
impl std::os::fd::AsRawFd for MdClient {
    /// The socket, to register with a readiness loop (`mio::unix::SourceFd`).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.stream.as_raw_fd()
    }
}

/// Writes one message whole. In non-blocking mode a write that would block (the
/// server is not reading) finishes in blocking mode, bounded by `timeout`:
/// requests are small and rare.
fn send(
    stream: &mut TcpStream,
    nonblocking: bool,
    timeout: Duration,
    msg: &MdMessage,
) -> Result<(), MdClientError> {
    if !nonblocking {
        return write_message(stream, msg);
    }
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = msg.encode(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    let mut sent = 0;
    while sent < n {
        match stream.write(&buf[sent..n]) {
            Ok(0) => return Err(MdClientError::Closed),
            Ok(k) => sent += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                stream.set_nonblocking(false)?;
                stream.set_write_timeout(Some(timeout))?;
                let written = stream.write_all(&buf[sent..n]);
                stream.set_nonblocking(true)?;
                written?;
                sent = n;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn write_message(stream: &mut TcpStream, msg: &MdMessage) -> Result<(), MdClientError> {
    let mut buf = [0u8; MAX_FRAME_LEN];
    let n = msg.encode(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
    stream.write_all(&buf[..n])?;
    Ok(())
}

/// `2 bad_credentials`: the code and its stable name.
fn reject_words(code: &MdReject) -> String {
    format!("{} {}", code.0, code.name().unwrap_or("undefined_code"))
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}
