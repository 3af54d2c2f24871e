//! A market-data subscriber for the tests: a TCP client of docs/marketdata.md that
//! keeps one `BookBuilder` per security and follows the sync procedure of
//! section 8 (retransmission on a gap, a new subscription when that fails).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use gateway::GatewayConfig;
use gateway::config::Topology;
use protocol::marketdata::{
    BookBuilder, DeltaBody, Depth, MdMessage, Mode, SyncAction, Target, WireLevel, decode_server,
};
use protocol::{SecurityId, Token, Username};
use sim_exchange::{Exchange, Level};

pub const WAIT: Duration = Duration::from_secs(10);

/// The demo configuration with the venue's feed and the publisher on, every port
/// on 127.0.0.1:0.
pub fn md_config() -> GatewayConfig {
    md_config_in(Topology::Auto)
}

/// [`md_config`] in a given topology.
pub fn md_config_in(topology: Topology) -> GatewayConfig {
    let mut c = crate::util::config(topology);
    c.exchange.market_data = true;
    c.marketdata.enabled = true;
    c.marketdata.listen = "127.0.0.1:0".parse().unwrap();
    c.marketdata.heartbeat_ms = 500;
    c.risk.limits.rate_limit_per_s = 0;
    c.risk.limits.daily_message_limit = 0;
    c.risk.limits.duplicate_window_ms = 0;
    c
}

/// A Login frame for a demo user (`user`, token `user-secret`).
pub fn login_msg(user: &str, secret: &str) -> MdMessage {
    MdMessage::Login {
        version: 1,
        username: Username::new(user).unwrap(),
        token: Token::from_text(secret).unwrap(),
    }
}

/// One TCP connection to the publisher.
pub struct MdClient {
    pub stream: TcpStream,
    buf: Vec<u8>,
    last_heartbeat: Instant,
}

impl MdClient {
    pub fn connect(addr: SocketAddr) -> MdClient {
        MdClient::connect_with_buffer(addr, 0)
    }

    /// Connects with SO_RCVBUF set before the handshake (0: the kernel's), so the
    /// window it advertises is that size from the start.
    pub fn connect_with_buffer(addr: SocketAddr, recv_buffer_bytes: usize) -> MdClient {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        if recv_buffer_bytes > 0 {
            socket.set_recv_buffer_size(recv_buffer_bytes).unwrap();
        }
        socket.connect(&addr.into()).expect("connect to the market-data port");
        let stream: TcpStream = socket.into();
        stream.set_nodelay(true).unwrap();
        MdClient { stream, buf: Vec::new(), last_heartbeat: Instant::now() }
    }

    /// Connects and logs in as a demo user; returns the client and the session id.
    pub fn login(addr: SocketAddr, user: &str) -> (MdClient, u64) {
        MdClient::login_with_buffer(addr, user, 0)
    }

    /// [`MdClient::login`] with SO_RCVBUF set before connecting.
    pub fn login_with_buffer(
        addr: SocketAddr,
        user: &str,
        recv_buffer_bytes: usize,
    ) -> (MdClient, u64) {
        let mut c = MdClient::connect_with_buffer(addr, recv_buffer_bytes);
        c.send(&login_msg(user, &format!("{user}-secret")));
        match c.recv(WAIT) {
            Some(MdMessage::LoginAccepted { session_id, .. }) => (c, session_id),
            other => panic!("login: {other:?}"),
        }
    }

    pub fn send(&mut self, msg: &MdMessage) {
        let mut frame = [0u8; 512];
        let n = msg.encode(&mut frame).unwrap();
        self.send_raw(&frame[..n]);
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// The next message within `timeout`; None on timeout or when the server closed.
    /// Sends a ClientHeartbeat now and then, as a live subscriber does.
    pub fn recv(&mut self, timeout: Duration) -> Option<MdMessage> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.last_heartbeat.elapsed() > Duration::from_millis(200) {
                self.last_heartbeat = Instant::now();
                let _ = self.stream.write_all(&[1, 0, b'R']);
            }
            if self.buf.len() >= 2 {
                let len = usize::from(u16::from_le_bytes([self.buf[0], self.buf[1]])) + 2;
                if self.buf.len() >= len {
                    let msg = decode_server(&self.buf[..len]).expect("the server's frames decode");
                    self.buf.drain(..len);
                    return Some(msg);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.stream.set_read_timeout(Some(left.min(Duration::from_millis(50)))).unwrap();
            let mut chunk = [0u8; 65536];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return None,
            }
        }
    }

    /// True when the server closed the connection (within `timeout`).
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            self.stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(_) => return true,
            }
        }
        false
    }
}

pub fn subscribe(request_id: u32, target: Target, depth: Depth) -> MdMessage {
    MdMessage::Subscribe { request_id, target, depth, mode: Mode::RealTime, interval_ms: 0 }
}

/// A subscriber following the sync procedure for the securities it subscribes.
pub struct Subscriber {
    pub client: MdClient,
    pub session_id: u64,
    pub books: BTreeMap<(u8, u32), BookBuilder>,
    /// Every message received, in order.
    pub log: Vec<MdMessage>,
    levels: usize,
    depth: Depth,
    next_request: u32,
    /// The highest channel sequence seen per channel (deltas, snapshots, heartbeats).
    pub channel_seq: BTreeMap<u16, u64>,
    pub retransmit_requests: u32,
    pub resubscribes: u32,
}

fn key(s: SecurityId) -> (u8, u32) {
    (s.market.as_u8(), s.code)
}

impl Subscriber {
    pub fn login(addr: SocketAddr, user: &str, depth: Depth) -> Subscriber {
        Subscriber::login_with_buffer(addr, user, depth, 0)
    }

    /// [`Subscriber::login`] with SO_RCVBUF set before connecting.
    pub fn login_with_buffer(
        addr: SocketAddr,
        user: &str,
        depth: Depth,
        recv_buffer_bytes: usize,
    ) -> Subscriber {
        let (client, session_id) = MdClient::login_with_buffer(addr, user, recv_buffer_bytes);
        let levels = if depth == Depth::Level1 { 5 } else { 10_000 };
        Subscriber {
            client,
            session_id,
            books: BTreeMap::new(),
            log: Vec::new(),
            levels,
            depth,
            next_request: 1,
            channel_seq: BTreeMap::new(),
            retransmit_requests: 0,
            resubscribes: 0,
        }
    }

    /// Subscribes to securities (each gets a builder) in real time.
    pub fn subscribe(&mut self, target: Target, securities: &[SecurityId]) {
        for s in securities {
            self.books.insert(key(*s), BookBuilder::new(*s, self.levels));
        }
        let id = self.next_request;
        self.next_request += 1;
        self.client.send(&subscribe(id, target, self.depth));
    }

    /// Takes one message; follows what the builders ask for. Returns it.
    pub fn step(&mut self, timeout: Duration) -> Option<MdMessage> {
        let msg = self.client.recv(timeout)?;
        match msg {
            MdMessage::Delta(h, _) => self.see(h.channel, h.seq),
            MdMessage::Snapshot(s) => self.see(s.channel, s.seq),
            MdMessage::Heartbeat { count, channels, .. } => {
                for &(c, seq) in &channels[..usize::from(count)] {
                    self.see(c, seq);
                }
            }
            _ => {}
        }
        let keys: Vec<(u8, u32)> = self.books.keys().copied().collect();
        for k in keys {
            let action = self.books.get_mut(&k).unwrap().on_message(&msg);
            match action {
                SyncAction::Retransmit { channel, from_seq, count } => {
                    self.retransmit_requests += 1;
                    let request_id = self.next_request;
                    self.next_request += 1;
                    let req = MdMessage::RetransmitRequest { request_id, channel, from_seq, count };
                    self.client.send(&req);
                }
                SyncAction::Resnapshot => {
                    self.resubscribes += 1;
                    let security = security_of(k);
                    let id = self.next_request;
                    self.next_request += 1;
                    self.client.send(&subscribe(id, Target::Security(security), self.depth));
                }
                _ => {}
            }
        }
        self.log.push(msg);
        Some(msg)
    }

    fn see(&mut self, channel: u16, seq: u64) {
        let e = self.channel_seq.entry(channel).or_insert(0);
        *e = (*e).max(seq);
    }

    /// Reads until every channel listed in `targets` reached its sequence and every
    /// builder holds a book (synced, or waiting for a range that holds none of its
    /// messages); panics after [`WAIT`].
    pub fn catch_up(&mut self, targets: &[(u16, u64)]) {
        let deadline = Instant::now() + WAIT;
        loop {
            let done = targets
                .iter()
                .all(|(c, seq)| self.channel_seq.get(c).copied().unwrap_or(0) >= *seq)
                && self
                    .books
                    .values()
                    .all(|b| b.state() != protocol::marketdata::SyncState::Unsynced);
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "did not catch up to {targets:?}: {:?}",
                self.channel_seq
            );
            self.step(Duration::from_millis(100));
        }
    }
}

pub fn security_of(k: (u8, u32)) -> SecurityId {
    SecurityId::new(protocol::Market::from_u8(k.0).unwrap(), k.1).unwrap()
}

/// The venue's book of `security`: its best `levels` a side and its day.
pub fn venue_book(
    venue: &Exchange,
    security: SecurityId,
    levels: usize,
) -> (Vec<WireLevel>, Vec<WireLevel>, sim_exchange::MarketSnapshot) {
    let mut bids = vec![Level::default(); levels];
    let mut asks = vec![Level::default(); levels];
    let snap = venue.market_snapshot(security, &mut bids, &mut asks).unwrap();
    let wire = |l: &Level| WireLevel { price: l.price, qty: l.qty, orders: l.orders };
    (
        bids[..snap.bid_levels].iter().map(wire).collect(),
        asks[..snap.ask_levels].iter().map(wire).collect(),
        snap,
    )
}

/// Asserts that a subscriber's book equals the venue's (its levels up to `levels`).
pub fn assert_equal_to_venue(
    b: &BookBuilder,
    venue: &Exchange,
    security: SecurityId,
    levels: usize,
) {
    let (bids, asks, snap) = venue_book(venue, security, levels);
    let nb = b.bids().len().min(levels);
    assert_eq!(&b.bids()[..nb], &bids[..], "{security} bids");
    let na = b.asks().len().min(levels);
    assert_eq!(&b.asks()[..na], &asks[..], "{security} asks");
    assert_eq!(b.last, snap.l1.last, "{security} last");
    assert_eq!(b.volume, snap.l1.volume.0, "{security} volume");
    assert_eq!(b.turnover, snap.l1.turnover, "{security} turnover");
    assert_eq!(b.phase, snap.l1.phase, "{security} phase");
}

/// The trades (channel sequences) a subscriber received as deltas.
pub fn trade_seqs(log: &[MdMessage]) -> Vec<u64> {
    log.iter()
        .filter_map(|m| match m {
            MdMessage::Delta(h, DeltaBody::Trade { .. }) => Some(h.seq),
            _ => None,
        })
        .collect()
}

/// A small deterministic generator.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

/// Random order flow on 601318.SH and 600519.SH (channel 160): buys from A001
/// (trader1), sells from B001 (trader2), and cancels, each waited for.
pub fn random_flow(addr: SocketAddr, orders: u64, seed: u64) {
    use protocol::Side;
    use protocol::codec::{AppMessage, CancelOrder, ClientMessage};
    let mut buyer = crate::util::login(addr, "trader1");
    let mut seller = crate::util::login(addr, "trader2");
    let mut rng = Lcg(seed);
    let mut placed: Vec<(bool, u64)> = Vec::new();
    let base = seed * 100_000;
    for i in 0..orders {
        let id = base + i + 1;
        let r = rng.next();
        let roll = r % 100;
        let step = (rng.next() % 9) as i64 - 4;
        let (security, price) = if rng.next().is_multiple_of(4) {
            (600_519, format!("{}.00", 1498 + step))
        } else {
            (601_318, format!("52.{}", 30 + step))
        };
        let lots = 1 + rng.next() % 3;
        let (client, msg, buy) = if roll < 40 {
            let o = crate::util::limit(id, "A001", security, Side::Buy, 100 * lots, &price);
            (&mut buyer, ClientMessage::NewOrder(o), true)
        } else if roll < 70 || placed.is_empty() {
            let qty = if security == 600_519 { 100 } else { 100 * lots };
            let o = crate::util::limit(id, "B001", security, Side::Sell, qty, &price);
            (&mut seller, ClientMessage::NewOrder(o), false)
        } else {
            // The oldest first: it may have traded meanwhile, else it still rests.
            let (buy, orig) = placed.remove(0);
            let account = crate::util::acct(if buy { "A001" } else { "B001" });
            let c = CancelOrder { request_id: id, orig_cl_ord_id: orig, account };
            let client = if buy { &mut buyer } else { &mut seller };
            (client, ClientMessage::CancelOrder(c), buy)
        };
        client.send(&msg).unwrap();
        let is_new = matches!(msg, ClientMessage::NewOrder(_));
        let accepted = crate::util::expect(client, "an answer", |m| match m {
            AppMessage::OrderAccepted(a) if a.cl_ord_id == id => Some(true),
            AppMessage::OrderRejected(r) if r.cl_ord_id == id => Some(false),
            AppMessage::Canceled(c) if c.request_id == id => Some(false),
            AppMessage::CancelRejected(c) if c.request_id == id => Some(false),
            _ => None,
        });
        if is_new && accepted {
            placed.push((buy, id));
        }
    }
}
