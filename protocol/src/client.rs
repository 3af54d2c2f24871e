//! A blocking client for the Breakwater protocol over TCP.
//!
//! It logs in (resuming from the next sequence number it expects), sends messages,
//! returns typed server messages, sends heartbeats when the link is idle, checks that
//! the sequenced stream has no gaps, and reconnects with resume. One client is one
//! login; it is not thread-safe (use one per thread).

use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::codec::{
    ClientMessage, DecodeError, EndOfSession, Login, LoginAccepted, Sequenced, ServerMessage,
};
use crate::framing::FrameBuffer;
use crate::query::{Query, QueryAnswer};
use crate::reject::RejectCode;
use crate::types::{Seq, Token, Username};

/// Everything that can go wrong on the client side.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Socket error.
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    /// The server sent bytes that do not decode.
    #[error("undecodable frame from the server: {0}")]
    Decode(#[from] DecodeError),
    /// The server refused the login.
    #[error("login rejected: {0}")]
    LoginRejected(RejectCode),
    /// The server closed the connection.
    #[error("connection closed by the server")]
    Closed,
    /// The server ended the session (the reason is a session-range code).
    #[error("session ended by the server: {}", .0.reason)]
    Ended(EndOfSession),
    /// A sequenced message arrived out of order.
    #[error("sequence gap: expected {expected}, got {got}")]
    SequenceGap {
        /// The sequence number expected next.
        expected: Seq,
        /// The one that arrived.
        got: Seq,
    },
    /// No answer to the login within the timeout.
    #[error("timed out waiting for the server")]
    Timeout,
    /// The server answered the login with something else.
    #[error("unexpected message during login: {0:?}")]
    Unexpected(Box<ServerMessage>),
}

/// Connection settings.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Gateway address.
    pub addr: SocketAddr,
    /// Login name.
    pub username: Username,
    /// Login secret.
    pub token: Token,
    /// Send a heartbeat after this long without sending.
    pub heartbeat: Duration,
    /// How long to wait for LoginAccepted.
    pub login_timeout: Duration,
    /// The highest protocol version to ask for at login. 1 by default, so a
    /// program written for version 1 sees the stream it expects; 2 adds
    /// OrderPending, 3 ([`crate::codec::PROTOCOL_VERSION`]) the queries and FillFees.
    /// The day's first login of a username fixes its stream's version.
    pub version: u8,
}

impl ClientConfig {
    /// Settings with default timings (1 s heartbeat, 5 s login timeout).
    pub fn new(
        addr: impl ToSocketAddrs,
        username: Username,
        token: Token,
    ) -> io::Result<ClientConfig> {
        let addr = addr.to_socket_addrs()?.next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "address resolves to nothing")
        })?;
        Ok(ClientConfig {
            addr,
            username,
            token,
            heartbeat: Duration::from_secs(1),
            login_timeout: Duration::from_secs(5),
            version: 1,
        })
    }
}

/// A logged-in session.
#[derive(Debug)]
pub struct Client {
    config: ClientConfig,
    stream: TcpStream,
    rx: FrameBuffer,
    last_seq: Seq,
    last_sent: Instant,
    accepted: LoginAccepted,
}

impl Client {
    /// Connects and logs in, asking for the stream from `next_seq` (1: everything,
    /// 0: only new messages).
    pub fn connect(config: ClientConfig, next_seq: Seq) -> Result<Client, ClientError> {
        let (stream, rx, accepted) = Self::login(&config, next_seq)?;
        let last_seq = accepted.next_seq.saturating_sub(1);
        Ok(Client { config, stream, rx, last_seq, last_sent: Instant::now(), accepted })
    }

    fn login(
        config: &ClientConfig,
        next_seq: Seq,
    ) -> Result<(TcpStream, FrameBuffer, LoginAccepted), ClientError> {
        let mut stream = TcpStream::connect_timeout(&config.addr, config.login_timeout)?;
        stream.set_nodelay(true)?;
        let login = ClientMessage::Login(Login {
            version: config.version,
            username: config.username,
            token: config.token,
            next_seq,
        });
        let mut buf = [0u8; crate::codec::MAX_FRAME_LEN];
        let n = login.encode_to_slice(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
        stream.write_all(&buf[..n])?;
        let mut rx = FrameBuffer::new(64 * 1024);
        let deadline = Instant::now() + config.login_timeout;
        loop {
            if let Some(frame) = rx.next_frame()? {
                return match ServerMessage::decode(frame)? {
                    ServerMessage::LoginAccepted(a) => Ok((stream, rx, a)),
                    ServerMessage::LoginRejected(r) => Err(ClientError::LoginRejected(r.code)),
                    ServerMessage::EndOfSession(e) => Err(ClientError::Ended(e)),
                    other => Err(ClientError::Unexpected(Box::new(other))),
                };
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout);
            }
            stream.set_read_timeout(Some(left))?;
            match rx.read_from(&mut stream) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => return Err(ClientError::Timeout),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// What the server said at login.
    pub fn login_accepted(&self) -> &LoginAccepted {
        &self.accepted
    }

    /// The last sequence number received.
    pub fn last_seq(&self) -> Seq {
        self.last_seq
    }

    /// Sends one message.
    pub fn send(&mut self, msg: &ClientMessage) -> Result<(), ClientError> {
        let mut buf = [0u8; crate::codec::MAX_FRAME_LEN];
        let n = msg.encode_to_slice(&mut buf).map_err(|e| io::Error::other(e.to_string()))?;
        self.send_raw(&buf[..n])
    }

    /// Sends raw bytes as they are (for tests of malformed input).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes)?;
        self.last_sent = Instant::now();
        Ok(())
    }

    /// Waits up to `timeout` for the next message other than a heartbeat. Sends a
    /// heartbeat whenever the client has been silent for the heartbeat interval.
    /// Returns `Ok(None)` on timeout. Sequenced messages are checked for gaps.
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<ServerMessage>, ClientError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(frame) = self.rx.next_frame()? {
                let msg = ServerMessage::decode(frame)?;
                match msg {
                    ServerMessage::Heartbeat => continue,
                    ServerMessage::App(s) => {
                        if s.seq != self.last_seq + 1 {
                            return Err(ClientError::SequenceGap {
                                expected: self.last_seq + 1,
                                got: s.seq,
                            });
                        }
                        self.last_seq = s.seq;
                    }
                    _ => {}
                }
                return Ok(Some(msg));
            }
            self.heartbeat_if_idle()?;
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            let wait =
                (deadline - now).min(self.config.heartbeat / 2).max(Duration::from_millis(1));
            self.stream.set_read_timeout(Some(wait))?;
            match self.rx.read_from(&mut self.stream) {
                Ok(0) => return Err(ClientError::Closed),
                Ok(_) => {}
                Err(e) if is_timeout(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn heartbeat_if_idle(&mut self) -> Result<(), ClientError> {
        if self.last_sent.elapsed() >= self.config.heartbeat {
            self.send(&ClientMessage::Heartbeat)?;
        }
        Ok(())
    }

    /// Sends a query (version 3) without waiting: its answer comes back through
    /// [`Client::recv`] as `ServerMessage::Query`, among the stream's messages.
    pub fn send_query(&mut self, query: &Query) -> Result<(), ClientError> {
        self.send(&ClientMessage::Query(*query))
    }

    /// Sends a query and waits up to `timeout` for its answer. Stream messages
    /// that arrive meanwhile are appended to `stream`, in order, for the caller to
    /// process as it would have from `recv` (nothing is skipped or lost).
    ///
    /// The answer names the stream message it is consistent with (`as_of_seq`):
    /// under `sync` durability that message may arrive after the answer; see
    /// [`Client::recv_until`] to wait for it before joining the two.
    pub fn query(
        &mut self,
        query: &Query,
        timeout: Duration,
        stream: &mut Vec<Sequenced>,
    ) -> Result<QueryAnswer, ClientError> {
        self.send_query(query)?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout);
            }
            match self.recv(left)? {
                Some(ServerMessage::Query(a)) if a.query_id() == query.query_id => return Ok(a),
                Some(ServerMessage::App(s)) => stream.push(s),
                Some(ServerMessage::EndOfSession(e)) => return Err(ClientError::Ended(e)),
                Some(other) => return Err(ClientError::Unexpected(Box::new(other))),
                None => return Err(ClientError::Timeout),
            }
        }
    }

    /// Reads the stream until sequence number `seq` has been received (at once
    /// if it already has), appending what arrives to `stream`. For joining a
    /// query's answer with the stream at its `as_of_seq`.
    pub fn recv_until(
        &mut self,
        seq: Seq,
        timeout: Duration,
        stream: &mut Vec<Sequenced>,
    ) -> Result<(), ClientError> {
        let deadline = Instant::now() + timeout;
        while self.last_seq < seq {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left)? {
                Some(ServerMessage::App(s)) => stream.push(s),
                Some(ServerMessage::EndOfSession(e)) => return Err(ClientError::Ended(e)),
                Some(other) => return Err(ClientError::Unexpected(Box::new(other))),
                None => return Err(ClientError::Timeout),
            }
        }
        Ok(())
    }

    /// Drops the connection and logs in again, resuming after the last sequence
    /// number received: the server replays everything missed.
    pub fn reconnect(&mut self) -> Result<&LoginAccepted, ClientError> {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
        let (stream, rx, accepted) = Self::login(&self.config, self.last_seq + 1)?;
        self.stream = stream;
        self.rx = rx;
        self.accepted = accepted;
        self.last_sent = Instant::now();
        Ok(&self.accepted)
    }

    /// Logs out and waits for EndOfSession, returning messages that arrived before
    /// it (the server sends everything pending before ending the session).
    pub fn logout(
        mut self,
        timeout: Duration,
    ) -> Result<(EndOfSession, Vec<ServerMessage>), ClientError> {
        self.send(&ClientMessage::Logout)?;
        let mut before = Vec::new();
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout);
            }
            match self.recv(left)? {
                Some(ServerMessage::EndOfSession(e)) => return Ok((e, before)),
                Some(other) => before.push(other),
                None => return Err(ClientError::Timeout),
            }
        }
    }

    /// The underlying socket (to close it abruptly in tests).
    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}
