//! Session rules over real TCP on 127.0.0.1: the dead-peer EndOfSession, how an
//! ordinary close is logged, and the pre-login budget that keeps a flood of idle
//! connections from starving real logins (and the log).

mod util;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use gateway::config::Topology;
use protocol::codec::{AppMessage, ClientMessage, Login, ServerMessage};
use protocol::framing::FrameBuffer;
use protocol::{RejectCode, Side, Token, Username};
use util::*;

// ---------------------------------------------------------------------------
// A logger that keeps what the gateway writes, so tests can read it
// ---------------------------------------------------------------------------

/// At most this many lines are kept.
const KEPT_LINES_MAX: usize = 100_000;

struct Capture {
    lines: Mutex<Vec<String>>,
}

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) || !record.target().starts_with("gateway") {
            return;
        }
        let mut lines = self.lines.lock().unwrap();
        if lines.len() < KEPT_LINES_MAX {
            lines.push(format!("{} {}", record.level(), record.args()));
        }
    }
    fn flush(&self) {}
}

static CAPTURE: Capture = Capture { lines: Mutex::new(Vec::new()) };

fn capture_logs() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        log::set_logger(&CAPTURE).expect("the first logger of this test binary");
        log::set_max_level(log::LevelFilter::Info);
    });
}

/// Log lines kept so far that contain every one of `words`.
fn lines_with(words: &[&str]) -> Vec<String> {
    let lines = CAPTURE.lines.lock().unwrap();
    lines.iter().filter(|l| words.iter().all(|w| l.contains(w))).cloned().collect()
}

// ---------------------------------------------------------------------------
// A raw client: logs in and then says nothing
// ---------------------------------------------------------------------------

/// A version 1 Login, as the client library sends by default (a login's stream
/// keeps the version of its first login of the day).
fn login_frame(user: &str) -> Vec<u8> {
    let login = ClientMessage::Login(Login {
        version: 1,
        username: Username::new(user).unwrap(),
        token: Token::from_text(&format!("{user}-secret")).unwrap(),
        next_seq: 0,
    });
    let mut buf = [0u8; 512];
    let n = login.encode_to_slice(&mut buf).unwrap();
    buf[..n].to_vec()
}

/// Reads server messages until the connection ends or `limit` passes.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (Vec<ServerMessage>, bool) {
    let deadline = Instant::now() + limit;
    let mut rx = FrameBuffer::new(64 * 1024);
    let mut seen = Vec::new();
    loop {
        while let Some(frame) = rx.next_frame().unwrap() {
            seen.push(ServerMessage::decode(frame).unwrap());
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (seen, false);
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match rx.read_from(stream) {
            Ok(0) => return (seen, true),
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (seen, false);
            }
            Err(_) => return (seen, true),
        }
    }
}

/// Before: a logged-in client that went silent was closed at `dead_peer_ms` with
/// no EndOfSession, though §5.4 promises EndOfSession DEAD_PEER.
#[test]
fn a_silent_client_gets_end_of_session_dead_peer() {
    capture_logs();
    let mut config = config(Topology::Fused);
    config.server.heartbeat_ms = 100;
    config.server.dead_peer_ms = 400;
    let gw = start(&config);
    let mut s = TcpStream::connect(gw.addr()).unwrap();
    s.write_all(&login_frame("trader1")).unwrap();
    let started = Instant::now();
    let (seen, closed) = read_until_closed(&mut s, Duration::from_secs(5));
    assert!(closed, "closed within 5 s; seen {seen:?}");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before the timeout");
    assert!(matches!(seen.first(), Some(ServerMessage::LoginAccepted(_))), "{seen:?}");
    let heartbeats = seen.iter().filter(|m| matches!(m, ServerMessage::Heartbeat)).count();
    assert!(heartbeats >= 2, "the server kept sending heartbeats: {seen:?}");
    match seen.last() {
        Some(ServerMessage::EndOfSession(e)) => assert_eq!(e.reason, RejectCode::DEAD_PEER),
        other => panic!("expected EndOfSession DEAD_PEER last, got {other:?}"),
    }
    // The login is free again at once.
    let c = login(gw.addr(), "trader1");
    c.logout(WAIT).unwrap();
    gw.shutdown().unwrap();
}

/// Before: a client that closed its connection was logged as `dead_peer`.
#[test]
fn an_ordinary_close_is_logged_as_one() {
    capture_logs();
    let gw = start(&config(Topology::Fused));
    let c = login(gw.addr(), "pro");
    let local = c.stream().local_addr().unwrap().to_string();
    drop(c);
    let deadline = Instant::now() + WAIT;
    while lines_with(&[&local]).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let closed = lines_with(&["login pro", &local, "closed by the peer"]);
    assert_eq!(closed.len(), 1, "{:#?}", lines_with(&[&local]));
    assert!(!closed[0].contains("1021") && !closed[0].starts_with("WARN"), "{closed:?}");
    gw.shutdown().unwrap();
}

// ---------------------------------------------------------------------------
// A flood of idle connections
// ---------------------------------------------------------------------------

/// Opens connections to `addr` from `source` as fast as it can and keeps the
/// newest `keep` open, sending nothing, until `stop`; returns how many it opened.
fn flood(
    addr: SocketAddr,
    source: &str,
    keep: usize,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    let source: SocketAddr = format!("{source}:0").parse().unwrap();
    std::thread::spawn(move || {
        let mut open = VecDeque::with_capacity(keep + 1);
        let mut opened = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("a socket");
            socket.bind(&source.into()).expect("bind the flood's source address");
            if socket.connect_timeout(&addr.into(), Duration::from_millis(200)).is_ok() {
                opened += 1;
                open.push_back(TcpStream::from(socket));
                if open.len() > keep {
                    open.pop_front();
                }
            }
        }
        opened
    })
}

/// Logs in and trades `rounds` times while a flood runs. Every login must get
/// in within `tries` connections: a connection from the flooding address itself
/// may be pushed out as that address's oldest idle one when its Login has not
/// arrived yet (a client thread descheduled between connect and send on a busy
/// machine), and is told so with LOGIN_TIMEOUT; any other refusal fails.
fn log_in_and_trade(addr: SocketAddr, rounds: u64, tries: u32) {
    for round in 0..rounds {
        let mut attempt = 1;
        let mut c = loop {
            match protocol::client::Client::connect(client_config(addr, "trader1"), 0) {
                Ok(c) => break c,
                Err(e) if attempt < tries && e.to_string().contains("login_timeout") => {
                    attempt += 1;
                }
                Err(e) => panic!("login {round} refused during the flood (try {attempt}): {e}"),
            }
        };
        let price = format!("41.{:02}", round);
        c.send(&ClientMessage::NewOrder(limit(
            100 + round,
            "A001",
            600036,
            Side::Buy,
            100,
            &price,
        )))
        .unwrap();
        expect(&mut c, "accepted", |m| match m {
            AppMessage::OrderAccepted(a) if a.cl_ord_id == 100 + round => Some(()),
            AppMessage::OrderRejected(r) if r.cl_ord_id == 100 + round => {
                panic!("rejected: {}", r.code)
            }
            _ => None,
        });
        c.logout(WAIT).unwrap();
    }
}

fn flood_config() -> gateway::GatewayConfig {
    let mut config = config(Topology::Fused);
    config.server.max_sessions = 32;
    config.server.max_pending_logins = 16;
    config.server.max_pending_logins_per_address = 8;
    config
}

/// Before: idle connections that never logged in held every session slot, so
/// real logins were refused (SESSION_LIMIT), and each wrote its own log lines.
#[test]
fn idle_connections_from_one_address_do_not_starve_logins_or_flood_the_log() {
    capture_logs();
    let gw = start(&flood_config());
    let mut resident = login(gw.addr(), "trader2");
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = flood(gw.addr(), "127.0.0.1", 64, Arc::clone(&stop));
    std::thread::sleep(Duration::from_millis(300));
    let lines_before = CAPTURE.lines.lock().unwrap().len();
    log_in_and_trade(gw.addr(), 10, 3);
    // A session that was logged in before the flood trades on.
    resident
        .send(&ClientMessage::NewOrder(limit(1, "B002", 600036, Side::Buy, 100, "40.50")))
        .unwrap();
    expect(&mut resident, "accepted", |m| match m {
        AppMessage::OrderAccepted(a) if a.cl_ord_id == 1 => Some(()),
        _ => None,
    });
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let opened = flooder.join().unwrap();
    // The lines about connections from 127.0.0.1 other than the logins' own (tests
    // running beside this one flood from 127.0.0.2 or log in as other users).
    let lines: Vec<String> = CAPTURE.lines.lock().unwrap()[lines_before..]
        .iter()
        .filter(|l| l.contains("127.0.0.1") && !l.contains("trader"))
        .cloned()
        .collect();
    assert!(opened >= 100, "the flood opened {opened} connections");
    // One line per kind of event and window (this test is far shorter than 10 s),
    // plus a few from the tests beside it.
    assert!(
        lines.len() < 20,
        "{} log lines for {opened} flood connections: {:#?}",
        lines.len(),
        &lines[..lines.len().min(20)]
    );
    resident.logout(WAIT).unwrap();
    gw.shutdown().unwrap();
}

/// A flood from another address pushes out only its own connections.
#[test]
fn idle_connections_from_another_address_do_not_starve_logins() {
    capture_logs();
    let gw = start(&flood_config());
    let stop = Arc::new(AtomicBool::new(false));
    let flooder = flood(gw.addr(), "127.0.0.2", 64, Arc::clone(&stop));
    std::thread::sleep(Duration::from_millis(300));
    // From another address: every login gets in at the first try.
    log_in_and_trade(gw.addr(), 10, 1);
    stop.store(true, Ordering::Relaxed);
    let opened = flooder.join().unwrap();
    assert!(opened >= 100, "the flood opened {opened} connections");
    gw.shutdown().unwrap();
}

/// A connection dropped to make room is told so (EndOfSession LOGIN_TIMEOUT).
#[test]
fn a_pending_connection_pushed_out_gets_login_timeout() {
    capture_logs();
    let gw = start(&flood_config());
    let per_address = flood_config().server.max_pending_logins_per_address;
    let mut first = TcpStream::connect(gw.addr()).unwrap();
    // As many more from the same address as it may have waiting: the last one
    // pushes out the first.
    let others: Vec<TcpStream> =
        (0..per_address).map(|_| TcpStream::connect(gw.addr()).unwrap()).collect();
    let (seen, closed) = read_until_closed(&mut first, WAIT);
    assert!(closed, "{seen:?}");
    match seen.as_slice() {
        [ServerMessage::EndOfSession(e)] => {
            assert_eq!((e.reason, e.last_seq), (RejectCode::LOGIN_TIMEOUT, 0))
        }
        other => panic!("expected EndOfSession LOGIN_TIMEOUT, got {other:?}"),
    }
    let mut buf = [0u8; 16];
    let mut newest = others.into_iter().last().unwrap();
    newest.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    assert!(newest.read(&mut buf).is_err(), "the newest is still waiting for its login");
    gw.shutdown().unwrap();
}

/// Before: the table of addresses failing with unknown usernames was cleared of
/// unlocked entries at a size fixed in code and then grew anyway. Now it holds
/// at most `server.max_failing_addresses`: with room for one, while the first
/// address is locked out a second address's unknown-name login is refused as
/// throttled instead of growing the table.
#[test]
fn failing_addresses_are_tracked_up_to_their_limit() {
    let mut config = config(Topology::Fused);
    config.server.max_failing_addresses = 1;
    config.server.max_login_failures = 1;
    let gw = start(&config);
    let refused = |source: &str| -> RejectCode {
        let source: SocketAddr = format!("{source}:0").parse().unwrap();
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        socket.bind(&source.into()).expect("bind the source address");
        socket.connect_timeout(&gw.addr().into(), Duration::from_secs(5)).expect("connect");
        let mut s = TcpStream::from(socket);
        s.write_all(&login_frame("nobody")).unwrap();
        let (seen, _) = read_until_closed(&mut s, Duration::from_secs(5));
        match seen.first() {
            Some(ServerMessage::LoginRejected(r)) => r.code,
            other => panic!("expected LoginRejected, got {other:?}"),
        }
    };
    assert_eq!(refused("127.0.0.1"), RejectCode::INVALID_CREDENTIALS);
    // 127.0.0.1 is locked out now and fills the table.
    assert_eq!(refused("127.0.0.2"), RejectCode::LOGIN_THROTTLED);
    assert_eq!(refused("127.0.0.1"), RejectCode::LOGIN_THROTTLED);
}
