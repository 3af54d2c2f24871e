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
//! `tests/quickfix/initiator.cpp` is compiled once per run with the system C++
//! compiler. Without QuickFIX installed the test fails and says how to get it.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fix::session::{Action, DisconnectReason};
use fix::{Session, SessionConfig};

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_nanos() as u64
}

/// Compiles the QuickFIX initiator (once per test binary).
fn initiator() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/quickfix/initiator.cpp");
    let out =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("qf_initiator_{}", std::process::id()));
    let compiled = Command::new("c++")
        .args(["-std=gnu++14", "-O1", "-w"])
        .arg(&source)
        .arg("-o")
        .arg(&out)
        .args(["-lquickfix", "-lpthread"])
        .output()
        .expect("a C++ compiler (c++) is needed to build the QuickFIX initiator");
    assert!(
        compiled.status.success(),
        "building the QuickFIX initiator failed (install libquickfix-dev, as scripts/test.sh does):\n{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    *built = Some(out.clone());
    out
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

/// Runs the initiator; returns its printed lines (asserting it exited 0).
fn run_initiator(port: u16, store: &Path, mode: &[&str]) -> Vec<String> {
    let binary = initiator();
    let mut child = Command::new(&binary)
        .arg("127.0.0.1")
        .arg(port.to_string())
        .arg(store)
        .args(mode)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the QuickFIX initiator");
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        if child.try_wait().expect("poll initiator").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the QuickFIX initiator ran past 40 s in mode {mode:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("initiator output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "QuickFIX initiator in mode {mode:?} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

fn count(lines: &[String], prefix: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(prefix)).count()
}

/// The summary line's figure after `name`.
fn summary(lines: &[String], name: &str) -> u64 {
    let line = lines.iter().find(|l| l.starts_with("heartbeats ")).expect("summary line");
    let words: Vec<&str> = line.split(' ').collect();
    let at = words.iter().position(|w| *w == name).expect("figure in summary");
    words[at + 1].parse().expect("a number")
}

fn store_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("quickfix-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("store dir");
    dir
}

/// Sets QuickFIX's stored next incoming MsgSeqNum (the `.seqnums` file holds
/// "sender : target").
fn lower_stored_target_seq(store: &Path, target: u64) {
    let file = std::fs::read_dir(store)
        .expect("store dir")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "seqnums"))
        .expect("QuickFIX wrote its sequence numbers");
    let text = std::fs::read_to_string(&file).expect("seqnums");
    let (sender, _) = text.split_once(':').expect("sender : target");
    std::fs::write(&file, format!("{} : {:010}", sender.trim(), target)).expect("rewrite seqnums");
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
