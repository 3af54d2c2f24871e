//! The gateway's FIX door (`[fix]`, docs/fix.md) over real TCP on loopback:
//! QuickFIX as the counterparty, then raw sockets for the connection rules
//! (second connection, unknown CompID, a first message that is not a Logon, no
//! Logon in time, too many connections), the Logout at shutdown, and the
//! configuration's refusals.

#[path = "../../fix/tests/util/mod.rs"]
mod fixutil;
#[path = "../../fix/tests/qf/mod.rs"]
mod qf;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use gateway::GatewayConfig;
use gateway::config::ConfigError;
use gateway::config::fix_door::FixDoorSettings;
use gateway::fix_door::FixDoor;

const FIX_SECTION: &str = r#"
[fix]
listen = "127.0.0.1:0"
sender_comp_id = "BW"
reflector = true
logon_timeout_ms = LOGON_TIMEOUT
max_pending_connections = 2

[[fix.sessions]]
comp_id = "CLIENT"
username = "alice"
password = "s3cret"
accounts = ["A001"]

[[fix.sessions]]
comp_id = "OTHER"
accounts = ["A002"]
"#;

fn config_text(fix: &str) -> String {
    // The demo's own listeners would clash between tests running at once.
    let demo = gateway::config::DEMO_TOML
        .replace("127.0.0.1:9100", "127.0.0.1:0")
        .replace("127.0.0.1:9180", "off");
    format!("{demo}\n{fix}")
}

fn settings(logon_timeout_ms: u64) -> FixDoorSettings {
    let text = config_text(&FIX_SECTION.replace("LOGON_TIMEOUT", &logon_timeout_ms.to_string()));
    let config = GatewayConfig::from_toml_str(&text, "<fix test>").expect("valid configuration");
    config.fix.expect("a [fix] section")
}

fn start(logon_timeout_ms: u64) -> (FixDoor, Arc<AtomicBool>) {
    let shutdown = Arc::new(AtomicBool::new(false));
    let s = settings(logon_timeout_ms);
    let door =
        FixDoor::start(&s, Arc::clone(&shutdown), None, FixDoor::fresh_sessions(&s)).expect("door");
    (door, shutdown)
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn logon(sender: &str, seq: u64, extra: &str) -> Vec<u8> {
    fixutil::fix_message(&format!(
        "35=A|49={sender}|56=BW|34={seq}|52={}|98=0|108=30|{extra}",
        fixutil::ts(now_ns())
    ))
}

fn connect(door: &FixDoor) -> TcpStream {
    let s = TcpStream::connect(door.addr()).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    s
}

/// Reads until the peer closes (true) or `within` passes (false); returns the bytes.
fn read_until_closed(s: &mut TcpStream, within: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + within;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (got, true),
        }
    }
    (got, false)
}

/// Reads until one whole message has come; returns the messages read.
fn read_messages(s: &mut TcpStream, want: usize) -> Vec<fixutil::Out> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let msgs = complete_messages(&got);
        if msgs.len() >= want || Instant::now() > deadline {
            return msgs;
        }
        match s.read(&mut buf) {
            Ok(0) => return complete_messages(&got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
}

fn complete_messages(bytes: &[u8]) -> Vec<fixutil::Out> {
    let mut end = 0;
    while let fix::frame::Scan::Message { len, .. } = fix::frame::scan(&bytes[end..], 1 << 16) {
        end += len;
    }
    fixutil::split(&bytes[..end])
}

#[test]
fn quickfix_logs_on_trades_resumes_and_resets_through_the_door() {
    let (door, shutdown) = start(10_000);
    let store = qf::store_dir("door");
    let first = qf::run_initiator(door.addr().port(), &store, &["orders", "4"]);
    assert_eq!(qf::count(&first, "logon"), 1, "{first:#?}");
    assert_eq!(qf::count(&first, "app D "), 4, "each order echoed: {first:#?}");
    assert!(qf::summary(&first, "heartbeats") >= 2, "heartbeats at HeartBtInt 1: {first:#?}");
    assert_eq!(qf::count(&first, "admin 3"), 0, "no session-level Reject: {first:#?}");
    assert_eq!(qf::count(&first, "logout"), 1, "{first:#?}");

    // The session outlives the connection: QuickFIX comes back having lost our
    // numbers after the Logon, and the door fills the gap.
    qf::lower_stored_target_seq(&store, 2);
    let resumed = qf::run_initiator(door.addr().port(), &store, &["resume"]);
    assert!(qf::summary(&resumed, "gap-fills") >= 1, "{resumed:#?}");
    assert_eq!(qf::count(&resumed, "admin 3"), 0, "{resumed:#?}");

    let reset = qf::run_initiator(door.addr().port(), &store, &["reset"]);
    assert_eq!(qf::count(&reset, "app D clordid=QF1 seq=2 "), 1, "{reset:#?}");
    shutdown.store(true, Ordering::Release);
    door.join();
}

// ---------------------------------------------------------------------------
// Orders to the engine
// ---------------------------------------------------------------------------

const ENGINE_FIX_SECTION: &str = r#"
[fix]
listen = "127.0.0.1:0"
sender_comp_id = "BW"

[[fix.sessions]]
comp_id = "CLIENT"
username = "alice"
password = "s3cret"
login = "trader1"
"#;

fn engine_gateway(topology: gateway::config::Topology) -> gateway::Running {
    let text = config_text(ENGINE_FIX_SECTION);
    let mut config = GatewayConfig::from_toml_str(&text, "<fix engine test>").expect("valid");
    config.pipeline.topology = topology;
    let _ = env_logger::builder().is_test(true).try_init();
    gateway::start(&config).expect("gateway starts")
}

/// A FIX client on a raw socket, numbering its own messages.
struct RawFix {
    stream: TcpStream,
    seq: u64,
    got: Vec<u8>,
}

impl RawFix {
    fn logon(addr: std::net::SocketAddr, reset: bool) -> (RawFix, fixutil::Out) {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut c = RawFix { stream, seq: 1, got: Vec::new() };
        let reset = if reset { "141=Y|" } else { "" };
        let logon = logon("CLIENT", 1, &format!("553=alice|554=s3cret|{reset}"));
        c.stream.write_all(&logon).unwrap();
        c.seq = 2;
        let answer = c.next(|m| m.msg_type() == "A");
        (c, answer)
    }

    fn send(&mut self, msg_type: &str, fields: &str) {
        let msg = fixutil::fix_message(&format!(
            "35={msg_type}|49=CLIENT|56=BW|34={}|52={}|{fields}",
            self.seq,
            fixutil::ts(now_ns())
        ));
        self.seq += 1;
        self.stream.write_all(&msg).unwrap();
    }

    /// The next message that `want` accepts (others are skipped); panics after 10 s.
    fn next(&mut self, want: impl Fn(&fixutil::Out) -> bool) -> fixutil::Out {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        loop {
            while let fix::frame::Scan::Message { len, .. } = fix::frame::scan(&self.got, 1 << 16) {
                let msg = fixutil::split(&self.got[..len]).remove(0);
                self.got.drain(..len);
                if want(&msg) {
                    return msg;
                }
            }
            assert!(Instant::now() < deadline, "no matching message within 10 s");
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the door closed the connection"),
                Ok(n) => self.got.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    }

    fn report(&mut self, cl_ord_id: &str, exec_type: &str) -> fixutil::Out {
        self.next(|m| m.msg_type() == "8" && m.has(11, cl_ord_id) && m.has(150, exec_type))
    }
}

fn new_order_single(cl_ord_id: u64, account: &str, price: &str) -> String {
    format!(
        "11={cl_ord_id}|1={account}|55=600519|207=XSHG|54=1|60={}|38=100|40=2|44={price}|59=0|",
        fixutil::ts(now_ns())
    )
}

#[test]
fn fix_orders_reach_the_engine_and_come_back_as_execution_reports() {
    use gateway::config::Topology;
    for topology in [Topology::Fused, Topology::Pipelined] {
        let running = engine_gateway(topology);
        let fix_addr = running.fix_addr().expect("a FIX door");
        let (mut fix, _) = RawFix::logon(fix_addr, false);

        // New: accepted by the risk checks and the venue.
        fix.send("D", &new_order_single(1001, "A001", "1500.00"));
        let new = fix.report("1001", "0");
        assert!(new.has(39, "0") && new.has(1, "A001") && new.has(55, "600519"), "{new:?}");
        assert!(new.get(37).is_some_and(|id| !id.is_empty()), "an OrderID: {new:?}");

        // Rejected by the same rule as the binary door: an account the login does not own.
        fix.send("D", &new_order_single(1002, "B001", "1500.00"));
        let rejected = fix.report("1002", "8");
        let fix_code: u16 = rejected.get(5005).and_then(|c| c.parse().ok()).expect("5005 code");

        let mut binary = protocol::client::Client::connect(
            protocol::client::ClientConfig::new(
                running.addr(),
                protocol::Username::new("trader2").unwrap(),
                protocol::Token::from_text("trader2-secret").unwrap(),
            )
            .unwrap(),
            1,
        )
        .expect("binary login");
        let order = protocol::codec::NewOrder {
            cl_ord_id: 2002,
            account: protocol::AccountId::new("A001").unwrap(),
            security: protocol::SecurityId::new(protocol::Market::Sse, 600_519).unwrap(),
            side: protocol::Side::Buy,
            order_type: protocol::OrderType::Limit,
            tif: protocol::TimeInForce::Day,
            price: protocol::Price::parse_cny("1500.00").unwrap(),
            qty: protocol::Qty(100),
            flags: 0,
            credit: protocol::CreditTag::Cash,
        };
        binary.send(&protocol::codec::ClientMessage::NewOrder(order)).unwrap();
        let binary_code = loop {
            let msg = binary.recv(Duration::from_secs(10)).expect("binary stream");
            let msg = msg.expect("an answer within 10 s");
            if let protocol::codec::ServerMessage::App(s) = msg
                && let protocol::codec::AppMessage::OrderRejected(r) = s.msg
            {
                break r.code.0;
            }
        };
        assert_eq!(fix_code, binary_code, "the same risk check, the same code through both doors");

        // Cancel: the venue's answer, as ExecType 4.
        fix.send(
            "F",
            &format!(
                "11=1003|41=1001|1=A001|55=600519|207=XSHG|54=1|60={}|",
                fixutil::ts(now_ns())
            ),
        );
        let canceled = fix.report("1003", "4");
        assert!(canceled.has(41, "1001") && canceled.has(39, "4"), "{canceled:?}");

        // The login is taken while the FIX session is attached.
        let second = protocol::client::Client::connect(
            protocol::client::ClientConfig::new(
                running.addr(),
                protocol::Username::new("trader1").unwrap(),
                protocol::Token::from_text("trader1-secret").unwrap(),
            )
            .unwrap(),
            0,
        );
        assert!(second.is_err(), "a binary login for a login the FIX session holds is refused");

        // The door's metrics (served on /metrics as breakwater_fix_*).
        let m = &running.io_metrics.fix;
        assert_eq!(m.logons.get(), 1);
        assert_eq!(m.inputs.get(), 3, "two orders and a cancel");
        assert!(m.stream_messages.get() >= 3, "{}", m.stream_messages.get());
        assert!(m.bytes_received.get() > 0 && m.bytes_sent.get() > 0);
        let deadline = Instant::now() + Duration::from_secs(2);
        while m.sessions.get() != 1 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(m.sessions.get(), 1, "one session logged on now");

        running.shutdown().expect("clean stop");
    }
}

#[test]
fn quickfix_trades_cancels_replaces_and_gets_a_resend_from_the_engine() {
    let running = engine_gateway(gateway::config::Topology::Fused);
    let port = running.fix_addr().expect("a FIX door").port();
    let store = qf::store_dir("engine");
    let traded = qf::run_initiator(port, &store, &["trade", "5000"]);
    let report = |lines: &[String], id: &str, exec_type: &str| {
        lines.iter().any(|l| {
            l.starts_with(&format!("app 8 clordid={id} "))
                && l.contains(&format!(" exectype={exec_type} "))
                && l.contains("possdup=-")
        })
    };
    assert!(report(&traded, "5001", "0"), "5001 new: {traded:#?}");
    assert!(report(&traded, "5002", "8"), "5002 rejected: {traded:#?}");
    assert!(report(&traded, "5003", "4"), "cancel 5003 of 5001: {traded:#?}");
    assert!(report(&traded, "5004", "0"), "5004 new: {traded:#?}");
    assert!(report(&traded, "5005", "5"), "replace 5005 of 5004: {traded:#?}");
    assert_eq!(qf::count(&traded, "admin 3"), 0, "no session-level Reject: {traded:#?}");

    // QuickFIX comes back having lost everything after our Logon: the reports
    // are resent, flagged PossDup, and administrative messages gap-filled.
    qf::lower_stored_target_seq(&store, 2);
    let resumed = qf::run_initiator(port, &store, &["resume"]);
    let resent: Vec<&String> =
        resumed.iter().filter(|l| l.starts_with("app 8 ") && l.contains("possdup=Y")).collect();
    assert_eq!(resent.len(), 5, "every report resent once: {resumed:#?}");
    assert!(
        resent.iter().all(|l| l.contains("origsendingtime=set")),
        "resends carry OrigSendingTime: {resumed:#?}"
    );
    assert_eq!(qf::count(&resumed, "app 8 "), 5, "nothing else came as new: {resumed:#?}");
    running.shutdown().expect("clean stop");
}

#[test]
fn a_fix_session_gets_what_happened_while_it_was_away() {
    let running = engine_gateway(gateway::config::Topology::Fused);
    let fix_addr = running.fix_addr().expect("a FIX door");
    let (mut fix, _) = RawFix::logon(fix_addr, false);
    fix.send("D", &new_order_single(7001, "A001", "1500.00"));
    fix.report("7001", "0");
    let logout = fixutil::fix_message(&format!(
        "35=5|49=CLIENT|56=BW|34={}|52={}|",
        fix.seq,
        fixutil::ts(now_ns())
    ));
    fix.stream.write_all(&logout).unwrap();
    fix.next(|m| m.msg_type() == "5");
    let next_seq = fix.seq + 1;
    drop(fix);

    // While it is away, the operator cancels the account's orders: the Canceled
    // goes into trader1's stream.
    running
        .admin()
        .submit(gateway::input::AdminCommand::CancelAccount(
            protocol::AccountId::new("A001").unwrap(),
        ))
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));

    // Back with the next sequence number: the cancel arrives as a new
    // ExecutionReport after the Logon.
    let stream = TcpStream::connect(fix_addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut fix = RawFix { stream, seq: next_seq, got: Vec::new() };
    let logon = logon("CLIENT", next_seq, "553=alice|554=s3cret|");
    fix.stream.write_all(&logon).unwrap();
    fix.seq += 1;
    fix.next(|m| m.msg_type() == "A");
    let canceled = fix.next(|m| m.msg_type() == "8" && m.has(150, "4"));
    assert!(canceled.has(11, "7001") || canceled.has(41, "7001"), "{canceled:?}");
    running.shutdown().expect("clean stop");
}

#[test]
fn a_second_connection_for_a_live_session_is_closed_without_an_answer() {
    let (door, _shutdown) = start(10_000);
    let mut first = connect(&door);
    first.write_all(&logon("CLIENT", 1, "553=alice|554=s3cret|")).unwrap();
    let answer = read_messages(&mut first, 1);
    assert_eq!(answer.first().map(|m| m.msg_type()), Some("A"), "{answer:?}");

    let mut second = connect(&door);
    second.write_all(&logon("CLIENT", 2, "553=alice|554=s3cret|")).unwrap();
    let (bytes, closed) = read_until_closed(&mut second, Duration::from_secs(3));
    assert!(closed, "the second connection is closed");
    assert!(bytes.is_empty(), "and gets no answer: {:?}", String::from_utf8_lossy(&bytes));

    // The first is untouched: a TestRequest is answered with its id.
    let test_request = fixutil::fix_message(&format!(
        "35=1|49=CLIENT|56=BW|34=2|52={}|112=PING|",
        fixutil::ts(now_ns())
    ));
    first.write_all(&test_request).unwrap();
    let answer = read_messages(&mut first, 1);
    assert!(answer.iter().any(|m| m.msg_type() == "0" && m.has(112, "PING")), "{answer:?}");
    door.stop();
}

#[test]
fn unknown_comp_id_non_logon_and_late_logon_are_closed() {
    let (door, _shutdown) = start(300);
    let mut unknown = connect(&door);
    unknown.write_all(&logon("NOBODY", 1, "")).unwrap();
    let (bytes, closed) = read_until_closed(&mut unknown, Duration::from_secs(3));
    assert!(closed && bytes.is_empty(), "unknown SenderCompID: closed without an answer");

    let mut not_logon = connect(&door);
    let heartbeat =
        fixutil::fix_message(&format!("35=0|49=CLIENT|56=BW|34=1|52={}|", fixutil::ts(now_ns())));
    not_logon.write_all(&heartbeat).unwrap();
    let (bytes, closed) = read_until_closed(&mut not_logon, Duration::from_secs(3));
    assert!(closed && bytes.is_empty(), "a first message that is not a Logon: closed");

    let mut silent = connect(&door);
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut silent, Duration::from_secs(5));
    assert!(closed, "no Logon within logon_timeout_ms: closed");
    assert!(started.elapsed() >= Duration::from_millis(250), "not before the timeout");
    door.stop();
}

#[test]
fn connections_beyond_the_limit_are_refused_and_the_door_goes_on() {
    let (door, _shutdown) = start(10_000);
    // max_pending_connections = 2: two connections that have not logged on fill it.
    let mut held: Vec<TcpStream> = (0..2).map(|_| connect(&door)).collect();
    std::thread::sleep(Duration::from_millis(200)); // accepted
    let mut third = connect(&door);
    let (_, closed) = read_until_closed(&mut third, Duration::from_secs(3));
    assert!(closed, "a third connection without a Logon is refused");

    // A Logon on a held connection still works.
    held[0].write_all(&logon("OTHER", 1, "")).unwrap();
    let answer = read_messages(&mut held[0], 1);
    assert_eq!(answer.first().map(|m| m.msg_type()), Some("A"), "{answer:?}");
    door.stop();
}

#[test]
fn shutdown_logs_every_session_out() {
    let (door, shutdown) = start(10_000);
    let mut client = connect(&door);
    client.write_all(&logon("CLIENT", 1, "553=alice|554=s3cret|")).unwrap();
    assert_eq!(read_messages(&mut client, 1).first().map(|m| m.msg_type()), Some("A"));
    shutdown.store(true, Ordering::Release);
    let logout = read_messages(&mut client, 1);
    assert!(
        logout.iter().any(|m| m.msg_type() == "5"),
        "a Logout before the door stops: {logout:?}"
    );
    let answer =
        fixutil::fix_message(&format!("35=5|49=CLIENT|56=BW|34=2|52={}|", fixutil::ts(now_ns())));
    client.write_all(&answer).unwrap();
    let (_, closed) = read_until_closed(&mut client, Duration::from_secs(5));
    assert!(closed, "then the connection closes");
    door.join();
}

fn config_error(fix: &str) -> String {
    match GatewayConfig::from_toml_str(&config_text(fix), "<fix test>") {
        Err(e @ ConfigError::Invalid { .. }) => e.to_string(),
        Err(other) => panic!("expected an invalid-field error, got {other}"),
        Ok(_) => panic!("accepted: {fix}"),
    }
}

#[test]
fn the_configuration_refuses_what_the_door_cannot_serve() {
    let base = FIX_SECTION.replace("LOGON_TIMEOUT", "1000");
    // Outside reflector mode every session names the login it trades as.
    let engine_mode = base.replace("reflector = true", "reflector = false");
    let err = config_error(&engine_mode);
    assert!(err.contains("fix.sessions[0].login") && err.contains("required"), "{err}");
    let unknown_login = ENGINE_FIX_SECTION.replace("login = \"trader1\"", "login = \"nobody\"");
    assert!(config_error(&unknown_login).contains("not in [[logins]]"));
    let accounts_too = ENGINE_FIX_SECTION
        .replace("login = \"trader1\"", "login = \"trader1\"\naccounts = [\"A001\"]");
    assert!(config_error(&accounts_too).contains("comes from the login"));

    // The demo's own client port, taken again by the FIX door.
    let clash = format!(
        "{}\n{}",
        gateway::config::DEMO_TOML.replace("127.0.0.1:9180", "off"),
        base.replace("listen = \"127.0.0.1:0\"", "listen = \"127.0.0.1:9100\"")
    );
    let err = GatewayConfig::from_toml_str(&clash, "<fix test>").expect_err("clash");
    assert!(err.to_string().contains("fix.listen"), "{err}");

    let bad_comp = base.replace("comp_id = \"OTHER\"", "comp_id = \"A=B\"");
    assert!(
        config_error(&bad_comp).contains("fix.sessions[1].comp_id"),
        "{}",
        config_error(&bad_comp)
    );
    let taken = base.replace("comp_id = \"OTHER\"", "comp_id = \"CLIENT\"");
    assert!(config_error(&taken).contains("is taken"), "{}", config_error(&taken));
    let no_accounts = base.replace("accounts = [\"A002\"]", "accounts = []");
    assert!(config_error(&no_accounts).contains("at least one account"));
    let bad_heartbeat = base.replace("reflector = true", "reflector = true\nheartbeat_s_min = 0");
    assert!(config_error(&bad_heartbeat).contains("fix.heartbeat_s_min"));

    // And the memory it commits is in the start-up budget.
    let config = GatewayConfig::from_toml_str(&config_text(&base), "<fix test>").unwrap();
    let budget = gateway::pipeline::memory_budget_for(&config, 0);
    let row = budget.iter().find(|(name, _)| name.starts_with("FIX sessions")).expect("a FIX row");
    let fix = config.fix.as_ref().unwrap();
    assert_eq!(row.1, fix.memory_bytes() + gateway::fix_link::FixLink::memory_bytes(fix));
    assert!(row.1 > 2 * (1 << 20), "two sessions' outbound buffers at least");
    let keys = gateway::config::memory::part_keys(&config, row.0);
    assert!(keys.iter().any(|(k, v)| *k == "[[fix.sessions]] (count)" && *v == 2), "{keys:?}");
}

// ---------------------------------------------------------------------------
// kill -9 under `sync`
// ---------------------------------------------------------------------------

struct Spawned {
    child: std::process::Child,
    fix_port: u16,
}

fn spawn_gateway(config: &std::path::Path) -> Spawned {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the gateway binary");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = std::io::BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    let fix_port = loop {
        assert!(Instant::now() < deadline, "the gateway did not print its FIX address");
        let line = lines.next().expect("gateway stdout ended").expect("a line");
        if let Some(rest) = line.trim().strip_prefix("FIX 4.4:") {
            let addr: std::net::SocketAddr =
                rest.split_whitespace().next().expect("an address").parse().expect("parses");
            break addr.port();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Spawned { child, fix_port }
}

#[test]
fn after_kill_9_under_sync_a_resend_request_gets_every_report_exactly_once() {
    let dir = std::env::temp_dir().join(format!("bw-fix-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let text = config_text(ENGINE_FIX_SECTION)
        .replace(r#"durability = "none""#, r#"durability = "sync""#)
        .replace(
            r#"dir = "breakwater-journal""#,
            &format!("dir = {:?}", journal.display().to_string()),
        );
    let config = dir.join("gateway.toml");
    std::fs::write(&config, text).unwrap();

    let mut first = spawn_gateway(&config);
    let store = qf::store_dir("crash");
    let traded = qf::run_initiator(first.fix_port, &store, &["trade", "8000"]);
    assert_eq!(qf::count(&traded, "app 8 "), 5, "{traded:#?}");
    // The Logout answer's number reaches the journal within one commit (docs/fix.md,
    // section 8: administrative messages are not held back for it).
    std::thread::sleep(Duration::from_millis(500));
    first.child.kill().expect("SIGKILL the gateway");
    let _ = first.child.wait();

    let mut second = spawn_gateway(&config);
    qf::lower_stored_target_seq(&store, 2);
    let resumed = qf::run_initiator(second.fix_port, &store, &["resume"]);
    assert_eq!(
        qf::count(&resumed, "logon"),
        1,
        "the rebuilt session takes the Logon: {resumed:#?}"
    );
    assert_eq!(qf::count(&resumed, "admin 5 text=MsgSeqNum"), 0, "no sequence error: {resumed:#?}");
    let resent: Vec<&String> = resumed.iter().filter(|l| l.starts_with("app 8 ")).collect();
    assert_eq!(resent.len(), 5, "every report once: {resumed:#?}");
    for (line, (id, exec_type)) in resent.iter().zip([
        ("8001", "0"),
        ("8002", "8"),
        ("8003", "4"),
        ("8004", "0"),
        ("8005", "5"),
    ]) {
        assert!(
            line.contains(&format!("clordid={id} "))
                && line.contains(&format!("exectype={exec_type} ")),
            "in order: {line}"
        );
        assert!(line.contains("possdup=Y") && line.contains("origsendingtime=set"), "{line}");
    }
    let _ = second.child.kill();
    let _ = second.child.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// Malformed messages over the gateway's socket, one class each
// ---------------------------------------------------------------------------

/// A raw FIX message with our header at `seq` and the current SendingTime.
fn raw(msg_type: &str, seq: u64, fields: &str) -> Vec<u8> {
    let sep = if fields.is_empty() { "" } else { "|" };
    fixutil::fix_message(&format!(
        "35={msg_type}|49=CLIENT|56=BW|34={seq}|52={}{sep}{fields}|",
        fixutil::ts(now_ns())
    ))
}

#[test]
fn each_malformed_message_class_gets_its_session_level_answer_over_tcp() {
    let running = engine_gateway(gateway::config::Topology::Fused);
    let addr = running.fix_addr().expect("a FIX door");
    let (mut fix, _) = RawFix::logon(addr, true);
    let ts = fixutil::ts(now_ns());
    // (what, MsgType, body, SessionRejectReason 373, RefTagID 371)
    let rejects: [(&str, &str, String, &str, &str); 9] = [
        ("undefined tag", "1", "112=A|4999=x".into(), "0", "4999"),
        ("required tag missing", "1", String::new(), "1", "112"),
        ("tag not defined for the message type", "1", "112=A|44=10".into(), "2", "44"),
        ("tag without a value", "1", "112=".into(), "4", "112"),
        (
            "value out of range",
            "D",
            format!("11=1|1=A001|55=600519|207=XSHG|54=Z|60={ts}|38=100|40=2|44=10"),
            "5",
            "54",
        ),
        (
            "incorrect data format",
            "D",
            format!("11=1|1=A001|55=600519|207=XSHG|54=1|60={ts}|38=abc|40=2|44=10"),
            "6",
            "38",
        ),
        ("header field after the body", "1", "112=A|43=N".into(), "14", "43"),
        ("repeated tag", "1", "112=A|112=B".into(), "13", "112"),
        (
            "repeating-group count mismatch",
            "D",
            format!(
                "11=1|1=A001|453=2|448=P1|447=D|452=1|55=600519|207=XSHG|54=1|60={ts}|38=100|40=2|44=10"
            ),
            "16",
            "453",
        ),
    ];
    for (what, msg_type, body, reason, ref_tag) in rejects {
        let seq = fix.seq;
        fix.stream.write_all(&raw(msg_type, seq, &body)).unwrap();
        fix.seq += 1;
        let reject = fix.next(|m| m.msg_type() == "3");
        assert!(
            reject.has(45, &seq.to_string()) && reject.has(373, reason) && reject.has(371, ref_tag),
            "{what}: {reject:?}"
        );
    }

    // Undefined MsgType: Reject 373=11; a defined one we do not take: BusinessMessageReject.
    let seq = fix.seq;
    fix.stream.write_all(&raw("ZZ", seq, "")).unwrap();
    fix.seq += 1;
    let reject = fix.next(|m| m.msg_type() == "3");
    assert!(reject.has(373, "11") && reject.has(372, "ZZ"), "{reject:?}");
    let seq = fix.seq;
    fix.stream.write_all(&raw("R", seq, "131=Q1|146=1|55=600519")).unwrap();
    fix.seq += 1;
    let bmr = fix.next(|m| m.msg_type() == "j");
    assert!(bmr.has(372, "R") && bmr.has(380, "3"), "{bmr:?}");

    // A garbled checksum and a wrong BodyLength are ignored, and do not take a
    // number: the next good message with the same MsgSeqNum is answered.
    let mut garbled = raw("1", fix.seq, "112=GARBLED");
    let n = garbled.len();
    garbled[n - 3] = if garbled[n - 3] == b'0' { b'1' } else { b'0' };
    fix.stream.write_all(&garbled).unwrap();
    let good = raw("1", fix.seq, "112=AFTER-GARBLED");
    let text = String::from_utf8(good.clone()).unwrap();
    let len: usize = text.split('\x01').nth(1).unwrap()[2..].parse().unwrap();
    let bad_length = text.replacen(&format!("9={len}\x01"), &format!("9={}\x01", len + 3), 1);
    fix.stream.write_all(bad_length.as_bytes()).unwrap();
    fix.stream.write_all(&good).unwrap();
    fix.seq += 1;
    let heartbeat = fix.next(|m| m.msg_type() == "0" && m.get(112).is_some());
    assert!(heartbeat.has(112, "AFTER-GARBLED"), "{heartbeat:?}");

    // SendingTime outside the tolerance: Reject 373=10, then Logout and close.
    let old = fixutil::fix_message(&format!(
        "35=0|49=CLIENT|56=BW|34={}|52={}|",
        fix.seq,
        fixutil::ts(now_ns() - 600_000_000_000)
    ));
    fix.stream.write_all(&old).unwrap();
    let reject = fix.next(|m| m.msg_type() == "3");
    assert!(reject.has(373, "10") && reject.has(371, "52"), "{reject:?}");
    fix.next(|m| m.msg_type() == "5");
    let (_, closed) = read_until_closed(&mut fix.stream, Duration::from_secs(5));
    assert!(closed, "then the door closes the connection");

    // A CompID problem: Reject 373=9, Logout, close.
    let (mut fix, _) = RawFix::logon(addr, true);
    let intruder = fixutil::fix_message(&format!(
        "35=0|49=INTRUDER|56=BW|34={}|52={}|",
        fix.seq,
        fixutil::ts(now_ns())
    ));
    fix.stream.write_all(&intruder).unwrap();
    let reject = fix.next(|m| m.msg_type() == "3");
    assert!(reject.has(373, "9") && reject.has(371, "49"), "{reject:?}");
    fix.next(|m| m.msg_type() == "5");

    // Wrong BeginString: Logout and close.
    let (mut fix, _) = RawFix::logon(addr, true);
    let wrong = fixutil::fix_message_begin(
        "FIX.4.2",
        &format!("35=0|49=CLIENT|56=BW|34={}|52={}|", fix.seq, fixutil::ts(now_ns())),
    );
    fix.stream.write_all(&wrong).unwrap();
    fix.next(|m| m.msg_type() == "5");
    let (_, closed) = read_until_closed(&mut fix.stream, Duration::from_secs(5));
    assert!(closed, "wrong BeginString: closed");
    running.shutdown().expect("clean stop");
}
