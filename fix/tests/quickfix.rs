//! The acceptor against a real FIX engine: QuickFIX (C++, the Debian package
//! `libquickfix-dev`, which `scripts/test.sh` installs) as the initiator, over TCP
//! on loopback, in reflector mode (the mode FIX engines' own conformance
//! applications use). The io loop here is the simplest one that moves bytes
//! between a socket and the session on the wall clock; the session layer is the
//! thing under test: Logon with credentials, heartbeats at a one-second
//! HeartBtInt, application messages echoed, the Logout handshake, a reconnect
//! where QuickFIX finds a gap and asks for it (ResendRequest answered with
//! SequenceReset-GapFill, as the echoes are administrative for resend), and a
//! Logon with ResetSeqNumFlag.
//!
//! `tests/qf/initiator.cpp` is compiled once per run with the system C++
//! compiler. Without QuickFIX installed the test fails and says how to get it.

mod qf;
mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fix::session::{Action, DisconnectReason};
use fix::{Session, SessionConfig};
use qf::{count, lower_stored_target_seq, run_initiator, store_dir, summary};

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64
}

/// What the acceptor side saw of one connection.
#[derive(Default, Debug)]
struct Seen {
    logged_on: usize,
    disconnects: Vec<DisconnectReason>,
    inputs: usize,
}

/// The acceptor: one session, one connection at a time, driven on the wall clock.
struct Acceptor {
    port: u16,
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Seen>>,
    thread: Option<JoinHandle<Session>>,
}

impl Acceptor {
    fn start(config: SessionConfig) -> Acceptor {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking listener");
        let port = listener.local_addr().expect("local addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || serve(listener, config, &stop2, &seen2));
        Acceptor { port, stop, seen, thread: Some(thread) }
    }

    fn finish(mut self) -> (Session, Seen) {
        self.stop.store(true, Ordering::Relaxed);
        let session = self.thread.take().expect("joined once").join().expect("acceptor thread");
        let seen = std::mem::take(&mut *self.seen.lock().unwrap());
        (session, seen)
    }
}

fn serve(
    listener: TcpListener,
    config: SessionConfig,
    stop: &AtomicBool,
    seen: &Mutex<Seen>,
) -> Session {
    let mut session = Session::new(config);
    let mut actions = Vec::with_capacity(64);
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => run_connection(stream, &mut session, &mut actions, stop, seen),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    session
}

fn run_connection(
    mut stream: TcpStream,
    session: &mut Session,
    actions: &mut Vec<Action>,
    stop: &AtomicBool,
    seen: &Mutex<Seen>,
) {
    stream.set_read_timeout(Some(Duration::from_millis(5))).expect("read timeout");
    stream.set_nodelay(true).expect("nodelay");
    session.connect(now_ns());
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut open = true;
    while open && !stop.load(Ordering::Relaxed) {
        match stream.read(&mut buf) {
            Ok(0) => open = false,
            Ok(n) => pending.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => open = false,
        }
        if !pending.is_empty() {
            let taken = session.on_bytes(&pending, now_ns(), actions);
            pending.drain(..taken);
        }
        session.on_tick(now_ns(), actions);
        let out = session.outbound().to_vec();
        if !out.is_empty() {
            if stream.write_all(&out).is_err() {
                open = false;
            }
            session.consume_outbound(out.len());
        }
        let mut seen = seen.lock().unwrap();
        for action in actions.drain(..) {
            match action {
                Action::LoggedOn => seen.logged_on += 1,
                Action::Input(_) => seen.inputs += 1,
                Action::Disconnect(why) => {
                    seen.disconnects.push(why);
                    open = false;
                }
                Action::Fact(_) => {}
            }
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    session.disconnected();
}

fn reflector_config() -> SessionConfig {
    let mut config = util::config();
    config.reflector = true;
    config
}

#[test]
fn quickfix_logs_on_trades_heartbeats_and_logs_out() {
    let acceptor = Acceptor::start(reflector_config());
    let store = store_dir("orders");
    let lines = run_initiator(acceptor.port, &store, &["orders", "5"]);
    let (session, seen) = acceptor.finish();

    assert_eq!(count(&lines, "logon"), 1, "{lines:#?}");
    let echoes: Vec<&String> = lines.iter().filter(|l| l.starts_with("app D ")).collect();
    assert_eq!(echoes.len(), 5, "every NewOrderSingle echoed: {lines:#?}");
    for (i, line) in echoes.iter().enumerate() {
        assert!(line.contains(&format!("clordid=QF{}", i + 1)), "in order: {line}");
        assert!(line.contains("possdup=-"), "first sends are not duplicates: {line}");
    }
    // 3.3 s of application silence at HeartBtInt=1: heartbeats from the acceptor.
    assert!(summary(&lines, "heartbeats") >= 2, "{lines:#?}");
    assert_eq!(count(&lines, "logout"), 1, "the Logout handshake completed: {lines:#?}");
    assert_eq!(count(&lines, "admin 3"), 0, "no session-level Reject: {lines:#?}");
    assert_eq!(seen.logged_on, 1);
    assert_eq!(seen.inputs, 0, "a reflector hands nothing to the engine");
    assert_eq!(seen.disconnects, vec![DisconnectReason::LoggedOut]);
    // QuickFIX sent Logon, 5 orders, heartbeats and Logout; the session took every one.
    let expected = lines
        .iter()
        .find_map(|l| l.strip_prefix("expected-target-seq "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<u64>().ok())
        .expect("initiator's expected target seq");
    assert_eq!(session.next_out_seq(), expected + 1, "the Logout answer took one more number");
}

#[test]
fn quickfix_recovers_a_gap_by_resend_request_and_resets_on_logon() {
    let acceptor = Acceptor::start(reflector_config());
    let store = store_dir("resume");
    let first = run_initiator(acceptor.port, &store, &["orders", "3"]);
    assert_eq!(count(&first, "app D "), 3, "{first:#?}");

    // QuickFIX forgets everything after our Logon (number 1): on the next Logon it
    // sees our higher MsgSeqNum and asks for 2.. with a ResendRequest.
    lower_stored_target_seq(&store, 2);
    let resumed = run_initiator(acceptor.port, &store, &["resume"]);
    assert_eq!(count(&resumed, "logon"), 1, "{resumed:#?}");
    assert!(
        summary(&resumed, "gap-fills") >= 1,
        "echoes and heartbeats are administrative for resend: SequenceReset-GapFill: {resumed:#?}"
    );
    assert_eq!(count(&resumed, "admin 3"), 0, "no session-level Reject: {resumed:#?}");
    assert_eq!(count(&resumed, "app "), 0, "no application message resent as new: {resumed:#?}");
    // After the gap is filled QuickFIX expects exactly our next number.
    let expected: u64 = resumed
        .iter()
        .find_map(|l| l.strip_prefix("expected-target-seq "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("initiator's expected target seq");

    let reset = run_initiator(acceptor.port, &store, &["reset"]);
    let (session, seen) = acceptor.finish();
    assert_eq!(count(&reset, "logon"), 1, "{reset:#?}");
    assert_eq!(
        count(&reset, "app D clordid=QF1 seq=2 "),
        1,
        "numbers restart at 1 after 141=Y: {reset:#?}"
    );
    assert_eq!(seen.logged_on, 3);
    assert!(expected > 3, "the resumed session was past the first day's numbers: {expected}");
    assert!(session.next_in_seq() >= 3, "the reset session took the initiator's messages");
    assert!(
        seen.disconnects.iter().all(|d| *d == DisconnectReason::LoggedOut),
        "every connection ended with the Logout handshake: {:?}",
        seen.disconnects
    );
}
